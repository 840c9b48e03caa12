"""`koord report`: the disclosure-checked report in Swedish (HTML and PDF) and its output-check log."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="write the disclosure-checked report (HTML and PDF, Swedish) and its output-check log",
        description=(
            "Build the report for the ministry from a warehouse: summary, the mandate's question, data and "
            "definitions with the inclusion flow, the study population by sex, return to work by coordination "
            "(curves, emulated trials, hazard ratios) for women and men, subgroups, diagnostics, limitations and "
            "an appendix with the data dictionary and provenance. Every table, curve, figure and number passes "
            "disclosure control first (minimum cell count, disclosive zeros, secondary suppression across "
            "margins and linked tables, dominance and p-percent rules, minimum events and residual degrees of "
            "freedom, curve steps, optional rounding); the result for each output is logged in "
            "DIR/report/utdatakontroll.csv and .html for the human output checker. Sections whose inputs are "
            "missing say which command to run. Thresholds come from the study file's optional [disclosure] table."
        ),
        epilog="example: koord report --warehouse data/demo/warehouse.duckdb --out data/demo/out",
    )
    p.add_argument("--warehouse", required=True, type=Path, metavar="FILE", help="the DuckDB warehouse (read only)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="output folder; the report is written to DIR/report/ (rapport.html, rapport.pdf, utdatakontroll.*)")
    p.add_argument("--study", type=Path, metavar="FILE",
                   help="study file whose [disclosure] table sets the thresholds; default: the file the build used, "
                        "else the repository's study.toml")
    p.add_argument("--no-pdf", action="store_true", help="write the HTML and the log only (skip WeasyPrint)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reports.builder import build_report

    paths = build_report(args.warehouse, args.out, args.study, pdf=not args.no_pdf)
    print(f"report: {paths.html}")
    if paths.pdf:
        print(f"pdf: {paths.pdf}")
    print(f"output check: {paths.check_log_html} ({paths.check_log_csv.name})")
    return 0
