"""`koord analyse`: the study's analyses of coordination and return to work, results to the warehouse and files."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from pipeline.commands.internal_folder import FIGURES_DIR, INTERNAL_DIR, README_NAME, RESULTS_DIR, internal_dir
from koord.errors import KoordError

_INTERNAL = f"OUT/{INTERNAL_DIR}"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyse",
        help=f"run the study's analyses of coordination and return to work; write tidy results and figures "
             f"(unchecked, to {_INTERNAL}/, which must not leave the secure environment)",
        description=(
            "Run the analyses named in the study file's [analyses] table on the analysis tables of a "
            "warehouse built by `koord build`: the adjusted as-treated Cox and Poisson models with "
            "coordination as a time-varying exposure, the sequential target-trial emulation over the "
            "first weeks of the spell, landmark analyses, the naive 'ever coordinated' comparison (to show "
            "its immortal-time bias), heterogeneity by sex, age, diagnosis and region, and the E-value. "
            "Every result is computed for everyone and for women and men. Results go to the warehouse "
            "schema `results` (one table per analysis id, plus cif_curves, balance and the catalogue "
            f"_analyses; the schema is rewritten) and to {_INTERNAL}/{RESULTS_DIR}/<id>.csv; figures to "
            f"{_INTERNAL}/{FIGURES_DIR}/. Everything under {_INTERNAL}/ is working material before disclosure "
            f"control and must not leave the secure environment ({_INTERNAL}/{README_NAME} says so); only "
            "OUT/report/, written by `koord report` after disclosure control, is meant to leave. "
            "Without --study the documented defaults run (see analyses/designs/specs.py)."
        ),
        epilog="example: koord analyse --warehouse data/demo/warehouse.duckdb --out data/demo/out --study study.toml",
    )
    p.add_argument("--warehouse", required=True, type=Path, metavar="FILE", help="the DuckDB warehouse built by `koord build`")
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help=f"output folder; results/*.csv and figures/*.png go to DIR/{INTERNAL_DIR}/ "
                        "(unchecked: must not leave the secure environment)")
    p.add_argument("--study", type=Path, metavar="FILE",
                   help="study definition (TOML) whose [analyses] table names the analyses; default: the repository's study.toml")
    p.add_argument("--only", nargs="+", metavar="ID",
                   help="run only these analysis ids of the study (an E-value's source is added when needed); "
                        "their results replace the earlier ones, the other results stay")
    p.add_argument("--bench", action="store_true",
                   help="also time the Poisson on aggregated person-time against lifelines' Cox on the same data "
                        f"and write {_INTERNAL}/bench_extra.json (used by `make bench`)")
    p.set_defaults(func=run)


def _select(specs, only: list[str] | None):
    if not only:
        return specs
    known = {s.id for s in specs}
    unknown = [i for i in only if i not in known]
    if unknown:
        raise KoordError(f"--only names analyses the study does not run: {', '.join(unknown)} "
                         f"(the study runs: {', '.join(s.id for s in specs)})")
    wanted = set(only)
    for s in specs:
        if s.id in wanted and s.design == "e_value":
            wanted.add(s.parameters.source)
    return tuple(s for s in specs if s.id in wanted)


def run(args: argparse.Namespace) -> int:
    import duckdb

    from analyses.designs.run import run_analyses
    from pipeline.commands.results_store import write_results
    from analyses.designs.specs import specs_from_table
    from koord.progress import say
    from data_schemas.study import load_study

    study = load_study(args.study)
    specs = _select(specs_from_table(study.analyses, source=study.source or "study.toml"), args.only)
    path: Path = args.warehouse
    if not path.is_file():
        raise KoordError(f"no warehouse at {path}: run `koord ingest` and `koord build` first")
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        raise KoordError(f"cannot open the warehouse {path} (is another koord command using it?): {exc}") from None
    t0 = time.perf_counter()
    try:
        resolved, results = run_analyses(con, specs, study.min_spell_days, say=lambda m: say(f"  {m}"))
        written = write_results(con, resolved, results, args.out, replace_all=not args.only)
        if args.bench:
            from analyses.designs.bench import poisson_vs_cox

            say("  bench: Poisson on aggregated person-time vs lifelines CoxTimeVaryingFitter …")
            row = poisson_vs_cox(con, study.min_spell_days)
            row["persons"] = int(con.execute("select count(distinct person_id) from spells").fetchall()[0][0])
            internal_dir(args.out).mkdir(parents=True, exist_ok=True)
            (internal_dir(args.out) / "bench_extra.json").write_text(json.dumps([row], indent=2))
            say(f"  bench: HR Poisson {row['hr_poisson']:.4f} vs Cox {row['hr_cox_lifelines']:.4f} "
                f"({100 * row['relative_difference']:+.2f} %), {row['poisson_seconds']:.1f} s vs "
                f"{row['cox_seconds']:.1f} s (× {row['speedup']:.0f})")
    except duckdb.Error as exc:
        raise KoordError(f"the analyses failed; the results schema is unchanged: {exc}") from None
    finally:
        con.close()
    print(format_summary(resolved, results, time.perf_counter() - t0, args.out, written))
    legacy = [p for p in (args.out / RESULTS_DIR, args.out / FIGURES_DIR) if p.is_dir()]
    if legacy:
        say(f"  warning: {' and '.join(str(p) for p in legacy)} (written by an earlier koord beside report/) "
            f"hold unchecked results and must not leave the secure environment: delete them, or move them into "
            f"{internal_dir(args.out)}")
    return 0


def format_summary(specs, results, seconds: float, out: Path, written: dict) -> str:
    """The main estimate of each analysis for everyone, women and men, and where the files are."""
    lines = [f"koord analyse: {len(specs)} analyses in {seconds:.1f} s"]
    for spec in specs:
        s = results[spec.id].summary
        main = s[s["subgroup"].isin(["all", "sex"])]
        if spec.design == "target_trial":
            main = main[main["estimand"].eq("risk_difference")]
        elif spec.design == "heterogeneity":
            main = s[s["estimand"].eq("heterogeneity_wald_chi2") & s["sex"].eq("all")]
        elif spec.design in ("region_uptake", "region_rtw"):  # the national shares of the whole period
            main = s[s["level"].eq("all") & s["start_year"].eq("all") & s["estimand"].eq("observed_share")]
        elif spec.design == "region_variation":
            main = s[s["start_year"].eq("all") & s["estimand"].isin(["median_odds_ratio", "median_rate_ratio"])]
        elif spec.design == "coordination_timing":  # the first GC001 by day 90, and its median day
            main = main[(main["measure"].eq("cif_first_gc001") & pd.to_numeric(main["day"]).eq(90))
                        | main["measure"].eq("median_day_first_gc001")]
        elif spec.design == "coordination_need":
            main = main[main["estimand"].isin(["auc", "concentration_index"]) & ~main["term"].eq("need_180")
                        | (main["measure"].eq("unmet_need") & main["estimand"].eq("share"))]
        elif spec.design == "coordination_timing_strategies":
            main = main[main["measure"].eq("strategy_contrast") & main["estimand"].eq("risk_difference")]
        elif spec.design == "interrupted_time_series":  # the level change at the law (the months are a long table)
            main = main[main["term"].eq("law_level") & main["adjustment"].eq("case_mix")]
        elif spec.design == "negative_controls":  # everyone's estimates; women and men are in the table
            main = main[main["sex"].eq("all")]
        lines.append(f"  {spec.id} ({spec.design})")
        for _, r in main.iterrows():
            flags = json.loads(r["diagnostics"]) if isinstance(r["diagnostics"], str) else {}
            verdict = "" if "passes" not in flags else ("  diagnostics pass" if flags["passes"] else "  diagnostics FAIL")
            who = r.get("sex", r["level"])
            what = r["term"]
            if r["estimand"] == "heterogeneity_wald_chi2":
                lines.append(f"    {r['subgroup']:<27} chi2 {r['estimate']:.2f} ({r['df']:.0f} df), p = {r['p_value']:.3g}")
                continue
            if r["estimand"] == "e_value":
                lines.append(f"    {str(who):<6} {what:<20} {r['estimate']:.3f}")
                continue
            if "measure" in r and isinstance(r["measure"], str) and spec.design != "region_variation":
                what = r["measure"]
            interval = "" if pd.isna(r["conf_low"]) else f" ({r['conf_low']:.3f}-{r['conf_high']:.3f})"
            lines.append(f"    {str(who):<6} {what:<20} {r['estimand']:<16} {r['estimate']:.3f}{interval}{verdict}")
    internal = internal_dir(out)
    n_results = sum(1 for k in written if k.startswith(f"{RESULTS_DIR}/"))
    n_figures = sum(1 for k in written if k.startswith(f"{FIGURES_DIR}/"))
    lines.append(f"  results: warehouse schema results; unchecked, internal only: {internal / RESULTS_DIR} "
                 f"({n_results} files), {internal / FIGURES_DIR} ({n_figures} files)")
    lines.append(f"  {internal} must NOT leave the secure environment (see {README_NAME}); only "
                 f"{out / 'report'}, after `koord report`'s disclosure control, is meant to leave")
    return "\n".join(lines)
