"""`koord synth`: write a synthetic register delivery with a planted, documented truth."""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from koord.errors import KoordError


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic register delivery (every extract, manifest.toml, truth.json)",
        description=(
            "Write a complete synthetic delivery of every extract in data_schemas/extracts.py for a study "
            "population of sick-listed persons, deterministic for a seed (same seed, same bytes). The planted "
            "outcome model and every parameter, with the counts under the default study definition, go to "
            "truth.json outside the delivery folder (and truth_spells.parquet beside it). Extract files of an "
            "earlier run in the folder are replaced."
        ),
    )
    p.add_argument("--out", required=True, type=Path, help="delivery folder to write (created if missing)")
    p.add_argument("--persons", required=True, type=int, help="persons in the study population (each has FK sickness benefit)")
    p.add_argument("--seed", required=True, type=int, help="random seed")
    p.add_argument("--format", dest="fmt", choices=("csv", "parquet"), default="csv",
                   help="file format: ';'-delimited CSV (default) or Parquet")
    p.add_argument("--encoding", choices=("utf-8", "latin-1"), default="utf-8", help="encoding of the CSV files (default utf-8)")
    p.add_argument("--faults", action="store_true",
                   help="inject the dirt of real deliveries at known rates (duplicates, bad codes, Latin-1, YYYYMMDD dates, ...)")
    p.add_argument("--truth", type=Path, default=None, help="where to write truth.json (default: OUT/../truth.json)")
    p.add_argument("--first-year", type=int, default=2018, help="first calendar year of sickness benefit covered (default 2018)")
    p.add_argument("--last-year", type=int, default=2024, help="last calendar year covered (default 2024)")
    p.add_argument("--extraction-date", type=_date, default=date(2025, 3, 31),
                   help="extraction date = end of follow-up, YYYY-MM-DD (default 2025-03-31)")
    p.add_argument("--names", choices=("as_delivered", "canonical"), default="as_delivered",
                   help="as_delivered (default): the names and variants of real deliveries (LISA's year-specific "
                        "names, a project-prefixed key, SenPNr repeats, scb_bakgrund, ASJP periods); canonical: "
                        "every column under the contract's own name and none of the variants (the reference the "
                        "as-delivered delivery must build to)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.synth import write_delivery

    t0 = time.perf_counter()
    try:
        truth = write_delivery(
            args.out, args.persons, args.seed, faults=args.faults, fmt=args.fmt, encoding=args.encoding,
            truth_path=args.truth, first_year=args.first_year, last_year=args.last_year,
            extraction_date=args.extraction_date, names=args.names,
        )
    except OSError as exc:
        raise KoordError(f"cannot write the delivery: {exc}") from None
    files = truth["sizes"]["files"]
    c = truth["counts"]
    print(f"koord synth: {len(files)} files, {sum(files.values()):,} rows in {args.out} "
          f"({time.perf_counter() - t0:.1f} s)".replace(",", " "))
    for name, rows in files.items():
        print(f"  {name:<32} {rows:>12,}".replace(",", " "))
    print(f"  studied spells {c['spells']:,}, persons {c['persons']:,}, coordinated {c['coordinated_spells']:,}".replace(",", " "))
    v = truth.get("variants") or {}
    if v.get("written"):
        print(f"  variants ({v['names']}): SenPNr repeats {v['senpnr_repeat']['total']}, scb_bakgrund rows "
              f"{v['scb_bakgrund']['rows']} ({v['scb_bakgrund']['labels']} as labels), ASJP periods {v['asjp_periods']['rows']}")
    else:
        print(f"  names: {v.get('names', args.names)} (no delivery variants written)")
    if truth["faults"].get("injected"):
        print("  faults: " + ", ".join(f"{k} {v}" for k, v in truth["faults"]["totals"].items()))
    return 0
