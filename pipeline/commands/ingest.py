"""`koord ingest`: load a register delivery into the raw layer of the DuckDB warehouse."""

from __future__ import annotations

import argparse

from pipeline.ingest.load import DEFAULT_MEMORY_LIMIT

DESCRIPTION = """\
Load a delivery folder (CSV, Parquet or SAS files named after their extracts, and an optional
manifest.toml) into schema `raw` of a DuckDB warehouse: one typed table per extract, rows that
break their contract in raw._quarantine (with file, line and reason), data features in
raw._warnings, and the bookkeeping tables raw._delivery, raw._manifest and raw._load_log.

The load is all or nothing: the warehouse is only replaced when every file has loaded. A
delivery holding personal identity numbers is refused and nothing is written. Loading the same
delivery again changes nothing; loading another delivery into a warehouse that holds one needs
--replace.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="load a delivery folder into the raw layer of the warehouse",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--delivery", required=True, metavar="DIR", help="the delivery folder")
    p.add_argument("--warehouse", required=True, metavar="FILE.duckdb", help="DuckDB warehouse (created if absent)")
    p.add_argument("--replace", action="store_true",
                   help="replace the raw layer when the warehouse holds another delivery")
    p.add_argument("--memory-limit", default=DEFAULT_MEMORY_LIMIT, metavar="SIZE",
                   help=f"DuckDB memory limit; beyond it DuckDB spills to disk beside the warehouse (default {DEFAULT_MEMORY_LIMIT})")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="DuckDB threads (default: all cores)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.ingest.load import ingest_delivery
    from pipeline.ingest.report import render_summary

    summary = ingest_delivery(args.delivery, args.warehouse, replace=args.replace,
                              memory_limit=args.memory_limit, threads=args.threads)
    print(render_summary(summary))
    print(completeness_text(args.warehouse))
    return 0


def completeness_text(warehouse) -> str:
    """The delivery's completeness per extract, read back from the warehouse's raw layer."""
    import duckdb

    from data_schemas.completeness import delivery_completeness, render_completeness

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        files = con.execute("select file, extract, year, rows_in from raw._manifest").df()
        quarantined = dict(con.execute("select file, count(*) from raw._quarantine group by 1").fetchall())
    finally:
        con.close()
    return render_completeness(delivery_completeness(files, quarantined))
