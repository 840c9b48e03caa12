"""Tiny hand-made deliveries, built from the contracts so every column and code comes from one place."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from data_schemas.extracts import EXTRACTS, Column, Extract, extract

PATTERN_CANDIDATES = ("0180", "1480", "A1", "x")
LISA_YEARS = (2020, 2021)


def valid_value(ex: Extract, col: Column, i: int) -> str:
    """A valid delivered value for row i (0-based) of column `col`; rows differ in LopNr."""
    if col.is_person_key:
        return str(i + 1)
    if col.dtype == "integer":
        lo = int(col.min_value) if col.min_value is not None else 1
        hi = int(col.max_value) if col.max_value is not None else lo + 10_000
        return str(min(hi, max(lo, 1980 if lo <= 1980 <= hi else lo + i)))
    if col.dtype == "decimal":
        return "1.5"
    if col.dtype == "code":
        codes = col.allowed_codes()
        return codes[i % len(codes)]
    if col.dtype == "date":
        is_end = any(r.end == col.name for r in ex.periods)
        day = date(2021, 6, 30) if is_end else date(2021, 1, 15)
        return (day + timedelta(days=i)).isoformat()
    if col.dtype == "yearmonth":
        return "2021%02d" % (i % 12 + 1)
    if col.pattern:
        return next(c for c in PATTERN_CANDIDATES if re.fullmatch(col.pattern, c))
    if col.icd10:
        return "F438A"
    if col.kva:
        return "GC001"
    return f"id{i + 1}"


def valid_rows(ex: Extract, n: int, start: int = 0) -> list[dict[str, str]]:
    return [{c.name: valid_value(ex, c, i) for c in ex.columns} for i in range(start, start + n)]


def file_name(ex: Extract, year: int | None = None, suffix: str = ".csv") -> str:
    return f"{ex.name}_{year}{suffix}" if ex.yearly else f"{ex.name}{suffix}"


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ";",
              encoding: str = "utf-8", bom: bool = False, newline: str = "\n") -> Path:
    text = newline.join(delimiter.join(r) for r in [header, *rows]) + newline
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def write_extract(directory: Path, name: str, rows: list[dict[str, str]] | None = None, n: int = 3,
                  year: int | None = None, columns: list[str] | None = None, **csv_options) -> Path:
    """Write one extract as CSV: `rows` (dicts by contract column name) or n valid rows."""
    ex = extract(name)
    if ex.yearly and year is None:
        year = LISA_YEARS[0]
    rows = rows if rows is not None else valid_rows(ex, n)
    header = columns or [c.name for c in ex.columns]
    body = [[r.get(h, "") for h in header] for r in rows]
    return write_csv(directory / file_name(ex, year), [delivered_header(ex, h, year) for h in header], body, **csv_options)


def delivered_header(ex: Extract, name: str, year: int | None) -> str:
    """The header a contract column is written under: its own name, or (when the contract does
    not accept that, as for `Sun2000Niva`) the name a delivery of that year carries."""
    try:
        col = ex.column(name)
    except KeyError:
        return name
    return name if col.accepts_own_name else col.delivered_name_for(year)


def write_delivery(directory: Path, n: int = 3, manifest: str | None = None) -> Path:
    """A complete valid delivery: every extract with n rows (LISA in two years), persons 1..n."""
    directory.mkdir(parents=True, exist_ok=True)
    for ex in EXTRACTS:
        for year in (LISA_YEARS if ex.yearly else (None,)):
            write_extract(directory, ex.name, n=n, year=year)
    if manifest is not None:
        (directory / "manifest.toml").write_text(manifest, encoding="utf-8")
    return directory


MANIFEST = """\
[delivery]
name = "test-delivery"
extraction_date = 2025-03-31
"""


def luhn_digit(nine: str) -> str:
    """The Luhn check digit of the first nine digits of a personnummer."""
    total = 0
    for i, ch in enumerate(nine):
        x = int(ch) * (2 if i % 2 == 0 else 1)
        total += x - 9 if x > 9 else x
    return str((10 - total % 10) % 10)


def personnummer(i: int, form: str = "dash") -> str:
    """A valid-looking personnummer number i in one of the delivered forms."""
    yy, mm, dd, nnn = 50 + i % 40, 1 + i % 12, 1 + i % 28, 100 + i % 900
    if form == "samordning":
        dd += 60
    nine = f"{yy:02d}{mm:02d}{dd:02d}{nnn:03d}"
    ten = nine + luhn_digit(nine)
    if form in ("dash", "samordning"):
        return f"{ten[:6]}-{ten[6:]}"
    if form == "plain":
        return ten
    if form == "twelve":
        return "19" + ten
    if form == "twelve_dash":
        return "19" + ten[:6] + "-" + ten[6:]
    raise ValueError(form)
