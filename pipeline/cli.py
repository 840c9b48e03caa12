"""The `koord` command line: one subcommand per stage, errors for people, not stack traces."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# One BLAS thread: our linear algebra is many small products (IRLS, Newton steps), where
# OpenBLAS threads only contend with DuckDB's and each other (a 4 763 x 73 Poisson fit ran 20x
# slower threaded on 2 busy cores). Set before numpy is imported; an evaluator may override.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from koord import __version__
from koord.errors import KoordError

# Each subcommand lives in pipeline/commands/<name>.py and exposes `register(subparsers)`,
# which adds its parser and sets `func` to the function that runs it (module check_truth: `koord check-truth`).
COMMANDS = ("synth", "ingest", "build", "analyse", "report", "check_truth", "validate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="koord",
        description=(
            "Evaluation pipeline for Lag (2019:1297) om koordineringsinsatser för sjukskrivna "
            "patienter: synthetic deliveries, ingestion into DuckDB, cohort build, analyses "
            "and disclosure-checked reports."
        ),
    )
    parser.add_argument("--version", action="version", version=f"koord {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"pipeline.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"pipeline.commands.{name}":
                continue  # stage not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KoordError as exc:
        print(f"koord {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"koord {args.command}: interrupted; the warehouse is left as it was.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
