"""`koord check-truth`: do the analyses of a synthetic delivery recover the effect planted in it?"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from koord.progress import thousands
from koord.errors import KoordError


HELP_MAX_TRIAL_ENTRIES = 2_000_000  # = recovery.DEFAULT_MAX_TRIAL_ENTRIES (a test holds them equal)


def register(subparsers) -> None:
    # the parser is built on every `koord` call: importing the generator here would slow them all
    p = subparsers.add_parser(
        "check-truth",
        help="check the analyses of a synthetic delivery against its planted truth (PASS/FAIL per check)",
        description=(
            "Compare the results of `koord analyse` on a warehouse built from a `koord synth` delivery with the "
            "truth planted in it (truth.json): the time-varying Cox and Poisson models must recover the planted "
            "hazard ratios of coordination per diagnosis chapter group, and overall (everyone, women, men) the "
            "pooled model's pseudo-true hazard ratio: the value the common-effect model converges to when each "
            "chapter group's effect is exactly the planted one (computed with tv_poisson's model on its "
            "aggregated person-time, the rest of the model as estimated from the data); the emulated trials the true "
            "risk differences (simulated with the generator's own model from the eligible trial entries), for "
            "everyone, women, men and each chapter group, and the naive 'ever coordinated' comparison must miss "
            "the truth. When the study ran the region analyses (region_variation, region_uptake, region_rtw), "
            "their region variances, rankings and funnel outliers are checked against the planted region "
            "effects too. The latent spells are re-simulated from truth.json's persons and seed. Prints one line "
            "per check and writes OUT/truth_check.csv and OUT/truth_check.json. Exit 0 if every check passes, "
            "1 if any fails. Needs the results of the analyses tv_cox, tv_poisson, target_trial and naive_ever; a "
            "delivery written without --faults."
        ),
        epilog="example: koord check-truth --warehouse data/bench/p100000/warehouse.duckdb "
               "--truth data/bench/p100000/truth.json --out data/bench/p100000/out",
    )
    p.add_argument("--warehouse", required=True, type=Path, metavar="FILE",
                   help="the DuckDB warehouse, built and analysed (`koord build`, `koord analyse`)")
    p.add_argument("--truth", required=True, type=Path, metavar="FILE", help="the delivery's truth.json from `koord synth`")
    p.add_argument("--out", type=Path, metavar="DIR", help="folder for truth_check.csv and .json (default: the warehouse's folder)")
    p.add_argument("--max-trial-entries", type=int, default=HELP_MAX_TRIAL_ENTRIES, metavar="N",
                   help="trial entries simulated for the true risk differences at most; with more eligible entries "
                        f"a uniform random sample of them (default {thousands(HELP_MAX_TRIAL_ENTRIES)})")
    p.set_defaults(func=run)


def _read_truth(path: Path) -> dict:
    if not path.is_file():
        raise KoordError(f"no truth file at {path}: `koord synth --truth FILE` writes it")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KoordError(f"{path} is not a JSON truth file from `koord synth`: {exc}") from None


def _read_warehouse(path: Path):
    """The results tables the checks need, the spells, their link keys, tv_poisson's person-time cells (read only)."""
    import duckdb

    from analyses.designs.run import load_spells
    from analyses.designs.time_varying import aggregate_person_time, needed_covariates
    from pipeline.commands.recovery import (
        CATALOGUE,
        REGION_RESULTS,
        REQUIRED_RESULTS,
        TIMING_RESULTS,
        COLLABORATION_RESULTS,
        SURVEY_RESULTS,
        pooled_model_parameters,
    )
    from pipeline.commands.recovery_negative_controls import NEGATIVE_CONTROL_RESULTS  # issue 14
    from pipeline.commands.recovery_relapse import RELAPSE_RESULTS  # issue 14
    from pipeline.commands.recovery_scenarios import SCENARIO_RESULTS  # issue 15

    if not path.is_file():
        raise KoordError(f"no warehouse at {path}: run `koord ingest`, `koord build` and `koord analyse` first")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise KoordError(f"cannot open the warehouse {path} (is another koord command writing it?): {exc}") from None
    try:
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'results'").fetchall()}
        have_spells = con.execute("select count(*) from information_schema.tables "
                                  "where table_schema = 'main' and table_name = 'spells'").fetchall()[0][0]
        if not have_spells:
            raise KoordError(f"{path} has no table spells: run `koord build --warehouse {path}` first")
        missing = [t for t in (*REQUIRED_RESULTS, CATALOGUE) if t not in present]
        if missing:
            raise KoordError(f"{path} has no results table(s) {', '.join(missing)}: run `koord analyse --warehouse "
                             f"{path} --out DIR --only {' '.join(REQUIRED_RESULTS)}` first")
        # the region, timing and need tables (rules e-m) only when the study ran them
        from pipeline.commands.recovery_its import ITS_RESULTS

        wanted = (*REQUIRED_RESULTS, CATALOGUE, *(t for t in (*REGION_RESULTS, *TIMING_RESULTS, *COLLABORATION_RESULTS, *SURVEY_RESULTS,
                                                           *NEGATIVE_CONTROL_RESULTS, *ITS_RESULTS, *RELAPSE_RESULTS,
                                                           *SCENARIO_RESULTS)
                                                  if t in present))
        results = {t: con.execute(f'select * from results."{t}"').df() for t in wanted}
        spells = load_spells(con)
        if any(t in present for t in COLLABORATION_RESULTS):  # issue 13's checks read the collaboration columns
            from analyses.designs.collaboration import load_collaboration

            extra = load_collaboration(con)[0]
            spells = spells.merge(extra[["spell_id", *(c for c in extra.columns if c not in spells.columns)]],
                                  on="spell_id", how="left", validate="1:1")
        built = con.execute("select spell_id, person_id, spell_start_date from spells").df()
        # rule b's truth refits tv_poisson's model: its person-time aggregated exactly as it was
        pooled = pooled_model_parameters(results[CATALOGUE])
        cells = aggregate_person_time(con, needed_covariates(pooled.confounders), tuple(pooled.band_cuts),
                                      pooled.entry_day)
    except duckdb.Error as exc:
        raise KoordError(f"cannot read the warehouse {path}: {exc}") from None
    finally:
        con.close()
    return results, spells, built, cells




def _number(x: float, scale: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:+.4f}" if scale == "difference" else f"{x:.3f}"


def format_checks(checks) -> list[str]:
    """One line per check: verdict, analysis, check, population, estimate [interval], truth."""
    wa = max([12, *(len(str(a)) for a in checks["analysis_id"])])
    wc = max([28, *(len(str(c)) for c in checks["check"])])
    lines = [f"  {'':4} {'analysis':<{wa}} {'check':<{wc}} {'population':<54} {'estimate':>8}  "
             f"{'interval':<19}  {'truth':>8}"]
    for _, r in checks.iterrows():
        verdict = "PASS" if r["passed"] else "FAIL"
        if r["check"] == "no_other_outliers_beyond_chance":  # a count of regions against the count allowed
            population = f"regions flagged: {r['level']} @ {r['term']}"
            lines.append(f"  {verdict} {r['analysis_id']:<{wa}} {r['check']:<{wc}} {population:<54} "
                         f"{int(r['estimate']):>8}  {'':<19}  {int(r['truth']):>8}")
            continue
        scale = "difference" if r["check"].endswith("risk_difference") else "ratio"
        population = f"{r['sex']} / {r['subgroup']}" + ("" if r["level"] in ("all", r["sex"]) else f" = {r['level']}")
        population += "" if r["term"] in ("is_coordinated", "ever_coordinated") else f" @ {r['term']}"
        interval = f"[{_number(r['conf_low'], scale)}, {_number(r['conf_high'], scale)}]"
        lines.append(f"  {verdict} {r['analysis_id']:<{wa}} {r['check']:<{wc}} {population:<54} "
                     f"{_number(r['estimate'], scale):>8}  {interval:<19}  {_number(r['truth'], scale):>8}")
    return lines


def _label(r) -> str:
    return f"{r['analysis_id']} {r['check']} {r['sex']}/{r['subgroup']}={r['level']} {r['term']}"


def run(args: argparse.Namespace) -> int:
    from koord.progress import say, step
    from pipeline.commands.recovery import check_recovery, check_truth_file, simulate_from_truth

    t0 = time.perf_counter()
    if args.max_trial_entries < 1:
        raise KoordError(f"--max-trial-entries must be at least 1, got {args.max_trial_entries}")
    truth = _read_truth(args.truth)
    check_truth_file(truth, str(args.truth))
    with step("reading results, spells, person-time cells"):
        results, spells, built, cells = _read_warehouse(args.warehouse)
    with step(f"re-simulating the latent spells of {thousands(truth['n_persons'])} persons (seed {truth['seed']})"):
        ground_truth = simulate_from_truth(truth)
    with step("checks against the planted truth"):
        checks = check_recovery(results, spells, built, truth, cells=cells, ground_truth=ground_truth,
                                max_trial_entries=args.max_trial_entries, say=say)
    seconds = time.perf_counter() - t0
    failed = checks[~checks["passed"]]
    out: Path = args.out or args.warehouse.parent
    out.mkdir(parents=True, exist_ok=True)
    checks.to_csv(out / "truth_check.csv", index=False)
    summary = {"warehouse": str(args.warehouse), "truth": str(args.truth), "persons": int(truth["n_persons"]),
               "n_checks": int(len(checks)), "n_passed": int(checks["passed"].sum()),
               "failures": [_label(r) for _, r in failed.iterrows()], "seconds": round(seconds, 1),
               **checks.attrs.get("trial_truth", {}), "notes": list(checks.attrs.get("notes", []))}
    (out / "truth_check.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"koord check-truth: {summary['n_passed']} of {summary['n_checks']} checks passed "
          f"({thousands(summary['persons'])} persons, {seconds:.1f} s)")
    print("\n".join(format_checks(checks)))
    print(f"  trial truth simulated for {thousands(summary['n_simulated_trial_entries'])} of "
          f"{thousands(summary['n_eligible_trial_entries'])} eligible entries; written: {out / 'truth_check.csv'}, "
          f"{out / 'truth_check.json'}")
    for note in summary["notes"]:
        print(f"  note: {note}")
    if len(failed):
        print(f"koord check-truth: {len(failed)} check(s) FAILED: " + "; ".join(summary["failures"]))
        return 1
    return 0
