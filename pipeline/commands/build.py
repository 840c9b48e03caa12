"""`koord build`: the cohort build from an ingested warehouse, with a summary for people."""

from __future__ import annotations

import argparse
from pathlib import Path

from data_schemas.tables import END_REASONS, SEXES
from koord.errors import KoordError
from koord.progress import thousands

DEFAULT_MEMORY_LIMIT = "6GB"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "build",
        help="build spells, persons, person-time and attrition from an ingested warehouse",
        description=(
            "Turn the raw layer of a warehouse (written by `koord ingest`) into the analysis tables "
            "main.spells, main.persons, main.person_time and main.attrition, through the schemas "
            "staging and intermediate. The study file states the choices (study period, ages, minimum "
            "spell length, gap rule, benefits counted, relapse window, return-to-work definition, time "
            "bands). The build runs in one transaction and checks every table's contract before it "
            "commits: a failure leaves the previous build intact, and re-running gives identical tables."
        ),
        epilog="example: koord build --warehouse data/demo/warehouse.duckdb --study study.toml",
    )
    p.add_argument("--warehouse", required=True, type=Path, metavar="FILE", help="the DuckDB warehouse written by `koord ingest`")
    p.add_argument(
        "--study",
        type=Path,
        metavar="FILE",
        help="study definition (TOML); default: the repository's documented study.toml",
    )
    p.add_argument(
        "--memory-limit",
        default=DEFAULT_MEMORY_LIMIT,
        metavar="SIZE",
        help=f"DuckDB memory limit; larger steps spill to disk beside the warehouse (default {DEFAULT_MEMORY_LIMIT})",
    )
    p.add_argument(
        "--write-sql",
        type=Path,
        metavar="DIR",
        help=(
            "build nothing: write every model's SQL, rendered for the study and the warehouse's delivery, "
            "to DIR/<layer>/<model>.sql (plain DuckDB selects to read, lint or run in the DuckDB CLI)"
        ),
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import duckdb

    from data_schemas.study import load_study
    from pipeline.warehouse_models import build_warehouse, write_model_sql

    study = load_study(args.study)
    path: Path = args.warehouse
    if not path.is_file():
        raise KoordError(f"no warehouse at {path}: run `koord ingest --warehouse {path}` first")
    try:
        con = duckdb.connect(str(path), read_only=args.write_sql is not None)
    except duckdb.IOException as exc:
        raise KoordError(f"cannot open the warehouse {path} (is another koord command using it?): {exc}") from None
    if args.write_sql is not None:
        try:
            written = write_model_sql(con, study, args.write_sql)
        finally:
            con.close()
        print(f"koord build: the SQL of {len(written)} models written to {args.write_sql} (nothing built)")
        return 0
    try:
        con.execute(f"set memory_limit = '{args.memory_limit}'")
        con.execute(f"set temp_directory = '{path.with_suffix('.tmp')}'")
        summary = build_warehouse(con, study)
    except duckdb.Error as exc:
        raise KoordError(f"the build failed and was rolled back; the previous build is intact: {exc}") from None
    finally:
        con.close()
    print(format_summary(summary))
    return 0


def format_summary(summary) -> str:
    """A short table: spells, coordinated spells and end reasons, for all, women and men."""
    cols = ("all", *SEXES)

    def line(label: str, values: list[str]) -> str:
        return f"  {label:<24}" + "".join(f"{v:>18}" for v in values)

    def pct(n: int, d: int) -> str:
        return f"{thousands(n)} ({100 * n / d:.1f} %)" if d else "0"

    out = [
        f"koord build: {thousands(summary.n_spells)} spells of {thousands(summary.n_persons)} persons, follow-up to "
        f"{summary.extraction_date}, {summary.seconds:.1f} s",
        line("", list(cols)),
        line("spells", [thousands(summary.spells_by_sex[c]) for c in cols]),
        line("coordinated (GC001)", [pct(summary.coordinated_by_sex[c], summary.spells_by_sex[c]) for c in cols]),
        "  end reason:",
    ]
    for reason in END_REASONS:
        out.append(line("  " + reason, [pct(summary.end_reasons[c][reason], summary.spells_by_sex[c]) for c in cols]))
    return "\n".join(out)
