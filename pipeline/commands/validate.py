"""`koord validate`: the simulation study of the designs (synth -> ingest -> build -> analyse -> check-truth, R seeds)."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from koord.errors import KoordError

DEFAULT_PERSONS = 20_000
DEFAULT_REPLICATES = 50


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate",
        help="simulation study: R synthetic deliveries through the whole pipeline; bias, SE and coverage per check",
        description=(
            "Run R replicates of synth -> ingest -> build -> analyse -> check-truth with the seeds SEED+1 .. SEED+R, "
            "each in OUT/replicates/seed_<s>/, and summarise every check of `koord check-truth` over them "
            "(Morris, White & Crowther 2019): bias with its Monte Carlo SE, the empirical SE against the mean "
            "model SE, the coverage of the NOMINAL (unwidened) 95 % interval with its MC SE and the "
            "bias-eliminated coverage; checks that are not interval estimates (signs, ranks, counts) as a pass "
            "rate. Writes OUT/simulation_study.csv, .md and simulation_study_coverage.png and prints the table; "
            "estimands whose coverage is below 90 % or outside 95 % ± 2 MC SE are flagged. Resumable: a replicate "
            "whose truth_check.csv exists is not run again, so an interrupted study continues where it stopped. "
            "A replicate that fails is recorded with its message (OUT/replicates/seed_<s>/failed.txt) and the study "
            "goes on. Two configurations of the issue: R = 50 at 20 000 persons (`make validate`), and R = 10 at "
            "200 000 persons (make validate VALIDATE_PERSONS=200000 VALIDATE_REPLICATES=10)."
        ),
        epilog="example: koord validate --out data/validate --persons 20000 --replicates 50 --jobs 2",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="the study's folder (created if missing)")
    p.add_argument("--persons", type=int, default=DEFAULT_PERSONS, metavar="N",
                   help=f"persons per synthetic delivery (default {DEFAULT_PERSONS})")
    p.add_argument("--replicates", type=int, default=DEFAULT_REPLICATES, metavar="R",
                   help=f"replicates (deliveries) R (default {DEFAULT_REPLICATES})")
    p.add_argument("--seed", type=int, default=0, metavar="SEED0", help="the replicates' seeds are SEED0+1 .. SEED0+R (default 0)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="replicates run in parallel processes (default 1)")
    p.add_argument("--study", type=Path, metavar="FILE",
                   help="study file for build and analyse (e.g. a study.toml with a shorter [analyses] run list); "
                        "default: the documented default study")
    p.add_argument("--analyses", nargs="+", metavar="ID",
                   help="run only these analyses of the study (check-truth needs tv_cox, tv_poisson, target_trial, "
                        "naive_ever; the other checks run for the analyses present)")
    p.add_argument("--keep", action="store_true", help="keep each replicate's delivery, warehouse and analysis output (default: deleted; "
                        "its truth_check.csv, .json and log.txt stay)")
    p.set_defaults(func=run)


# --- one replicate ---------------------------------------------------------------------------------


def replicate_dir(out: Path, seed: int) -> Path:
    return out / "replicates" / f"seed_{seed}"


def run_replicate(folder: str, persons: int, seed: int, study: str | None, analyses: list[str] | None,
                  keep: bool) -> dict:
    """synth -> ingest -> build -> analyse -> check-truth in ``folder``; its output in folder/log.txt.

    Returns {'seed', 'ok', 'seconds', 'message', 'n_checks', 'n_passed'}; never raises (a
    failure is returned with its message and written to folder/failed.txt).
    """
    import contextlib
    import traceback

    from pipeline.cli import main as koord

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    (d / "failed.txt").unlink(missing_ok=True)
    delivery, warehouse, truth, out = d / "delivery", d / "warehouse.duckdb", d / "truth.json", d / "out"
    study_args = ["--study", study] if study else []
    steps = [
        ("synth", ["synth", "--out", str(delivery), "--persons", str(persons), "--seed", str(seed), "--truth", str(truth)]),
        ("ingest", ["ingest", "--delivery", str(delivery), "--warehouse", str(warehouse), "--replace"]),
        ("build", ["build", "--warehouse", str(warehouse), *study_args]),
        ("analyse", ["analyse", "--warehouse", str(warehouse), "--out", str(out), *study_args,
                     *(["--only", *analyses] if analyses else [])]),
        # exit 1 = some check failed as run: a result of the study, not a failure of the replicate
        ("check-truth", ["check-truth", "--warehouse", str(warehouse), "--truth", str(truth), "--out", str(d)]),
    ]
    t0 = time.perf_counter()
    message = ""
    with open(d / "log.txt", "w", encoding="utf-8") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        for name, argv in steps:
            try:
                code = koord(argv)
            except Exception as exc:  # noqa: BLE001 - one replicate's crash must not stop the study
                traceback.print_exc()
                message = f"{name}: {type(exc).__name__}: {exc}"
                break
            except SystemExit as exc:  # argparse
                message = f"{name}: exited with {exc.code}"
                break
            if code not in (0, 1) or (code == 1 and name != "check-truth"):
                message = f"{name}: exit code {code}"
                break
    if message:
        # the command's own error line (`koord <stage>: error: ...`), if it printed one
        said = [line.strip() for line in (d / "log.txt").read_text(encoding="utf-8", errors="replace").splitlines()
                if line.startswith("koord ") and ": error: " in line]
        if said:
            message += f" ({said[-1]})"
    seconds = time.perf_counter() - t0
    if not keep:
        shutil.rmtree(delivery, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)  # the analyses' tables and report material
        for f in (warehouse, Path(str(warehouse) + ".wal"), d / "truth_spells.parquet"):
            f.unlink(missing_ok=True)
    result = {"seed": seed, "ok": not message and (d / "truth_check.csv").is_file(), "seconds": round(seconds, 1),
              "message": message or ("" if (d / "truth_check.csv").is_file() else "no truth_check.csv written")}
    if result["ok"]:
        summary = json.loads((d / "truth_check.json").read_text(encoding="utf-8"))
        result.update(n_checks=summary["n_checks"], n_passed=summary["n_passed"])
    else:
        (d / "failed.txt").write_text(result["message"] + "\n", encoding="utf-8")
    return result


# --- the study -------------------------------------------------------------------------------------


def run_study(out: Path, *, persons: int, replicates: int, seed0: int = 0, jobs: int = 1, study: Path | None = None,
              analyses: list[str] | None = None, keep: bool = False) -> dict:
    """Run (or resume) the replicates and write the study's outputs; returns a summary dict."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from koord.progress import say, thousands
    from pipeline.commands import simulation_study as V

    if replicates < 1:
        raise KoordError(f"--replicates must be at least 1, got {replicates}")
    if persons < 100:
        raise KoordError(f"--persons must be at least 100, got {persons}")
    if jobs < 1:
        raise KoordError(f"--jobs must be at least 1, got {jobs}")
    if study is not None and not study.is_file():
        raise KoordError(f"no study file at {study}")
    out.mkdir(parents=True, exist_ok=True)
    seeds = [seed0 + i for i in range(1, replicates + 1)]
    done = [s for s in seeds if (replicate_dir(out, s) / "truth_check.csv").is_file()]
    todo = [s for s in seeds if s not in done]
    say(f"koord validate: {replicates} replicates of {thousands(persons)} persons (seeds {seeds[0]}-{seeds[-1]}); "
        f"{len(done)} done before, {len(todo)} to run, {jobs} at a time")
    results: dict[int, dict] = {}
    t0 = time.perf_counter()
    study_arg = str(study.resolve()) if study else None

    def report(i: int, r: dict) -> None:
        state = (f"{r['n_passed']} of {r['n_checks']} checks passed" if r["ok"] else f"FAILED: {r['message']}")
        say(f"  [{i}/{len(todo)}] seed {r['seed']}: {state} ({r['seconds']:.0f} s; {time.perf_counter() - t0:.0f} s in all)")

    if todo:
        # one fresh process per replicate (spawn: no threads of DuckDB or BLAS carried over a fork)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                 max_tasks_per_child=1) as pool:
            futures = {pool.submit(run_replicate, str(replicate_dir(out, s)), persons, s, study_arg, analyses, keep): s
                       for s in todo}
            for i, future in enumerate(as_completed(futures), 1):
                s = futures[future]
                try:
                    r = future.result()
                except Exception as exc:  # noqa: BLE001 - the worker process died
                    r = {"seed": s, "ok": False, "seconds": float("nan"), "message": f"{type(exc).__name__}: {exc}"}
                    replicate_dir(out, s).mkdir(parents=True, exist_ok=True)
                    (replicate_dir(out, s) / "failed.txt").write_text(r["message"] + "\n", encoding="utf-8")
                results[s] = r
                report(i, r)
    ok = [s for s in seeds if (replicate_dir(out, s) / "truth_check.csv").is_file()]
    failed = {s: results.get(s, {}).get("message") or _failure(out, s) for s in seeds if s not in ok}
    checks = V.read_replicates((s, replicate_dir(out, s) / "truth_check.csv") for s in ok)
    measures = V.performance_measures(checks, n_failed_replicates=len(failed))
    measures.to_csv(out / "simulation_study.csv", index=False)
    title = f"R = {len(ok)} replicates of {thousands(persons)} persons (seeds {seeds[0]}-{seeds[-1]})"
    V.coverage_figure(measures, out / "simulation_study_coverage.png", title=title)
    flagged = V.flagged(measures)
    md = [f"# Simulation study: {title}", "",
          "Performance measures per check of `koord check-truth` (Morris, White & Crowther 2019, Table 6); "
          "coverage is that of the nominal (unwidened) 95 % interval on the check's scale; MC SE in brackets. "
          "Main estimands first.", ""]
    md += ["## Coverage per analysis", "", *(f"- {line}" for line in V.headline_lines(measures)), "",
           "## Every check", ""]
    md += V.table_lines(measures, markdown=True)
    md += ["", f"Replicates used: {len(ok)}; failed: {len(failed)}."]
    md += [f"- seed {s}: {m}" for s, m in failed.items()]
    md += ["", f"Flagged (coverage < 90 % or outside 95 % ± 2 MC SE): {len(flagged)}"]
    md += [f"- {V._label(r)}: coverage {100 * r['coverage']:.1f} % ({r['flag']})" for _, r in flagged.iterrows()]
    biased = V.flagged(measures, "bias_flag")
    md += ["", f"Flagged for bias (|bias| > 3 MC SE): {len(biased)}"]
    md += [f"- {V._label(r)}: bias {r['bias']:+.4f} (MC SE {r['bias_mcse']:.4f}; relative {r['relative_bias_pct']:+.0f} %)"
           for _, r in biased.iterrows()]
    (out / "simulation_study.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    summary = {"persons": persons, "replicates": replicates, "seeds": seeds, "n_ok": len(ok), "failed": failed,
               "n_flagged": int(len(flagged)), "n_bias_flagged": int(len(biased)), "seconds_this_run": round(time.perf_counter() - t0, 1),
               "study": study_arg, "analyses": analyses}
    (out / "simulation_study.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"koord validate: {title}; {len(failed)} failed")
    print("\n".join(V.table_lines(measures)))
    print("coverage of the nominal 95 % interval per analysis:")
    print("\n".join(f"  {line}" for line in V.headline_lines(measures)))
    for _, r in flagged.iterrows():
        print(f"  FLAG {V._label(r)}: coverage {100 * r['coverage']:.1f} % ({r['flag']})")
    for _, r in biased.iterrows():
        print(f"  BIAS {V._label(r)}: {r['bias']:+.4f} (MC SE {r['bias_mcse']:.4f}; relative {r['relative_bias_pct']:+.0f} %)")
    for s, m in failed.items():
        print(f"  replicate seed {s} failed: {m}")
    print(f"written: {out / 'simulation_study.csv'}, {out / 'simulation_study.md'}, "
          f"{out / 'simulation_study_coverage.png'}")
    return summary


def _failure(out: Path, seed: int) -> str:
    f = replicate_dir(out, seed) / "failed.txt"
    return f.read_text(encoding="utf-8").strip() if f.is_file() else "not run"


def run(args: argparse.Namespace) -> int:
    summary = run_study(args.out, persons=args.persons, replicates=args.replicates, seed0=args.seed, jobs=args.jobs,
                        study=args.study, analyses=args.analyses, keep=args.keep)
    if summary["n_ok"] == 0:
        raise KoordError(f"every replicate failed (first: {next(iter(summary['failed'].values()), '')})")
    return 0
