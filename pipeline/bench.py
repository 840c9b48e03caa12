"""`make bench`: wall time and peak memory of each stage at 100 000 and 1 000 000 persons.

Each stage runs as its own `koord` process so its peak resident memory (from `wait4`'s
rusage) is its own. Figures are printed as a table and written to `data/bench/bench.json`.
Stages are added to `STAGES` as the pipeline grows; a stage runs only if its command exists.
The last stage, `koord check-truth`, checks at each size that the analyses recover the effect
planted in the synthetic delivery (mandate question 1): its exit code and the counts of checks
passed (from OUT/truth_check.json) are in the table, and the scenario stage's own checks (rules
w-x: each scenario's estimate, planted truth and z, from OUT/truth_check.csv) in a row of their own.

The scenario stage (issue 15, the g-formula) runs with `SCENARIO_BOOTSTRAP` person-bootstrap
replicates instead of the study's 200 (each refits three hazard models: about 3 s a replicate
at 100 000 persons, 30 s at 1 000 000), from a copy of the study file with that one change
(DIR/bench_study.toml): its time is that of the point estimate and those replicates, and its
truth check's SEs rest on them (measured at 100 000 persons, seed 1: 43 s, 0.69 GB; uptake
0.00178 against the truth 0.00183, z = -0.7; earlier z = -0.4; natural course z = -0.4).

Usage: python -m pipeline.bench [--sizes 100000 1000000] [--seed 1] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.commands.internal_folder import internal_dir
from pipeline.cli import build_parser

BENCH_DIR = Path("data/bench")
BENCH_STUDY = "bench_study.toml"  # in each size's folder: the study with the scenario stage's bootstrap
SCENARIO_BOOTSTRAP = 10


@dataclass(frozen=True)
class Stage:
    name: str  # the row's name: the koord subcommand (args[0]) or a part of one
    args: tuple[str, ...]  # formatted with {dir}, {persons}, {seed}
    goal_seconds: float | None = 300.0
    goal_peak_gb: float | None = 8.0


STAGES: tuple[Stage, ...] = (
    Stage("synth", ("synth", "--out", "{dir}/delivery", "--persons", "{persons}", "--seed", "{seed}", "--truth", "{dir}/truth.json")),
    Stage("ingest", ("ingest", "--delivery", "{dir}/delivery", "--warehouse", "{dir}/warehouse.duckdb", "--replace")),
    Stage("build", ("build", "--warehouse", "{dir}/warehouse.duckdb")),
    # The analyses check-truth compares with the planted truth (landmark, heterogeneity and the
    # E-value add nothing to it), plus the Poisson-vs-lifelines comparison (--bench).
    Stage("analyse", ("analyse", "--warehouse", "{dir}/warehouse.duckdb", "--out", "{dir}/out",
                      "--only", "tv_cox", "tv_poisson", "target_trial", "naive_ever", "--bench"),
          goal_seconds=None, goal_peak_gb=None),
    # The regional analyses (issue 11's goal: under 2 minutes and 4 GB at 1 000 000 persons).
    Stage("regions", ("analyse", "--warehouse", "{dir}/warehouse.duckdb", "--out", "{dir}/out",
                      "--only", "region_uptake", "region_rtw", "region_variation"), goal_seconds=120.0, goal_peak_gb=4.0),
    # Timing, need and the timing strategies (issue 12's goal: under 5 minutes and 6 GB at 1 000 000 persons).
    Stage("timing", ("analyse", "--warehouse", "{dir}/warehouse.duckdb", "--out", "{dir}/out",
                     "--only", "coordination_timing", "coordination_need", "coordination_timing_strategies"),
          goal_seconds=300.0, goal_peak_gb=6.0),
    # Collaboration with FK, AF and employers (issue 13; goal: under 2 minutes and 4 GB at 1 000 000 persons).
    Stage("collaboration", ("analyse", "--warehouse", "{dir}/warehouse.duckdb", "--out", "{dir}/out",
                            "--only", "collaboration"), goal_seconds=120.0, goal_peak_gb=4.0),
    # The survey and the time series before and after the law (issues 13, 14): small inputs, no goal of their own.
    Stage("context", ("analyse", "--warehouse", "{dir}/warehouse.duckdb", "--out", "{dir}/out",
                      "--only", "survey", "interrupted_time_series"), goal_seconds=None, goal_peak_gb=None),
    # Negative controls and calibration (issue 14): nine outcomes through tv_cox and tv_poisson, and the
    # calibration of their main estimates (which are rerun here, so the stage's time includes them).
    Stage("negative_controls", ("analyse", "--warehouse", "{dir}/warehouse.duckdb", "--out", "{dir}/out",
                                "--only", "tv_cox", "tv_poisson", "negative_controls", "calibration"),
          goal_seconds=None, goal_peak_gb=None),
    # Grounds for proposals (issue 15): the g-formula scenarios with SCENARIO_BOOTSTRAP replicates; no goal of their own.
    Stage("scenarios", ("analyse", "--warehouse", "{dir}/warehouse.duckdb", "--out", "{dir}/out",
                        "--study", "{dir}/" + BENCH_STUDY, "--only", "scenarios"), goal_seconds=None, goal_peak_gb=None),
    Stage("check-truth", ("check-truth", "--warehouse", "{dir}/warehouse.duckdb", "--truth", "{dir}/truth.json",
                          "--out", "{dir}/out"), goal_seconds=None, goal_peak_gb=None),
)


def available_commands() -> set[str]:
    parser = build_parser()
    for action in parser._subparsers._group_actions:  # noqa: SLF001 - argparse keeps them here
        return set(action.choices)
    return set()


def run_stage(stage: Stage, directory: Path, persons: int, seed: int) -> dict:
    argv = [a.format(dir=directory, persons=persons, seed=seed) for a in stage.args]
    cmd = [sys.executable, "-m", "pipeline.cli", *argv]
    print(f"\n$ koord {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, rusage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    peak_gb = rusage.ru_maxrss / 1024 / 1024  # ru_maxrss is in KiB on Linux
    return {"stage": stage.name, "persons": persons, "seconds": round(seconds, 1), "peak_gb": round(peak_gb, 2), "exit_code": code,
            "goal_seconds": stage.goal_seconds, "goal_peak_gb": stage.goal_peak_gb}


def write_bench_study(directory: Path, replicates: int = SCENARIO_BOOTSTRAP) -> Path:
    """The documented study with the scenarios' bootstrap replicates set to ``replicates`` (its [analyses] table is last)."""
    from data_schemas.study import DEFAULT_STUDY_FILE

    text = DEFAULT_STUDY_FILE.read_text(encoding="utf-8")
    path = directory / BENCH_STUDY
    path.write_text(f"{text.rstrip()}\n\n[analyses.scenarios]  # make bench only\nbootstrap_replicates = {int(replicates)}\n",
                    encoding="utf-8")
    return path


def scenario_check_rows(path: Path, persons: int) -> list[dict]:
    """Rules w-x of `koord check-truth` (OUT/truth_check.csv, analysis 'scenarios') for everyone: estimate, truth, z."""
    if not path.exists():
        return []
    import pandas as pd

    checks = pd.read_csv(path)
    mine = checks[(checks["analysis_id"] == "scenarios") & (checks["sex"] == "all")]
    if mine.empty:
        return []
    z = lambda r: (r["estimate"] - r["truth"]) / r["std_error"] if r["std_error"] > 0 else float("nan")  # noqa: E731
    return [{"stage": "truth_check:scenarios", "persons": persons, "n_passed": int(mine["passed"].sum()),
             "n_checks": int(len(mine)),
             "checks": {r["term"]: {"estimate": round(float(r["estimate"]), 5), "truth": round(float(r["truth"]), 5),
                                    "std_error": round(float(r["std_error"]), 5), "z": round(float(z(r)), 2),
                                    "passed": bool(r["passed"])} for _, r in mine.iterrows()}}]


def truth_check_rows(path: Path, persons: int) -> list[dict]:
    """The result of `koord check-truth` (its OUT/truth_check.json) as a row of the table; none if it did not run."""
    if not path.exists():
        return []
    summary = json.loads(path.read_text())
    return [{"stage": "truth_check", "persons": persons, "n_passed": summary["n_passed"], "n_checks": summary["n_checks"],
             "failures": summary["failures"], "n_simulated_trial_entries": summary.get("n_simulated_trial_entries")}]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stages", nargs="+", help="only these stages")
    ap.add_argument("--keep", action="store_true", help="keep the generated data")
    args = ap.parse_args(argv)

    have = available_commands()
    stages = [s for s in STAGES if s.args[0] in have and (not args.stages or s.name in args.stages)]
    rows = []
    for persons in args.sizes:
        directory = BENCH_DIR / f"p{persons}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        write_bench_study(directory)
        for stage in stages:
            row = run_stage(stage, directory, persons, args.seed)
            rows.append(row)
            if row["exit_code"] != 0:
                print(f"stage {stage.name} failed at {persons} persons; later stages skipped", file=sys.stderr)
                break
        extra = internal_dir(directory / "out") / "bench_extra.json"  # written by `koord analyse --bench`
        if extra.exists():
            rows.extend(json.loads(extra.read_text()))
        rows.extend(truth_check_rows(directory / "out" / "truth_check.json", persons))
        rows.extend(scenario_check_rows(directory / "out" / "truth_check.csv", persons))
        if not args.keep:
            shutil.rmtree(directory / "delivery", ignore_errors=True)

    print("\n stage         persons     seconds  peak GB  goal")
    for r in rows:
        if "seconds" not in r:
            print(f" {r.get('stage', '?'):<12} {r.get('persons', ''):>9}  {json.dumps({k: v for k, v in r.items() if k not in ('stage', 'persons')})}")
            continue
        if r.get("goal_seconds"):
            met = r["exit_code"] == 0 and r["seconds"] < r["goal_seconds"] and r["peak_gb"] < r["goal_peak_gb"]
            ok = f"< {r['goal_seconds']:.0f} s, < {r['goal_peak_gb']:.0f} GB: {'met' if met else 'NOT MET'}"
        else:
            ok = "exit 0" if r["exit_code"] == 0 else f"FAILED (exit {r['exit_code']})"
        persons = f"{r['persons']:>9,}".replace(",", " ")
        print(f" {r['stage']:<12} {persons}  {r['seconds']:>9.1f}  {r['peak_gb']:>7.2f}  {ok}")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / "bench.json").write_text(json.dumps(rows, indent=2))
    return 0 if all(r.get("exit_code", 0) == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
