"""Writing delivery files (CSV or Parquet) and the delivery's ``manifest.toml``.

CSV: header row, delimiter ``;`` unless a fault says otherwise, empty field = missing, dates
as delivered text, ``\\n`` line ends, UTF-8 or Latin-1. Parquet: integers as Int64, text as
UTF-8 strings, and a date column as a Parquet DATE when every value in it is an ISO date
(``YYYY-MM-DD`` with a real day); columns holding ``YYYYMMDD`` dates or day ``00`` stay text,
as delivered.

``manifest.toml`` layout::

    [delivery]
    name = "koord-synth-n20000-seed2026"
    extraction_date = 2025-03-31          # a TOML date
    producer = "koord synth"

    [files."scb_lisa_2017.csv"]
    extract = "scb_lisa"
    year = 2017                            # yearly extracts only
    format = "csv"                         # csv | parquet
    encoding = "utf-8"                     # csv only; omitted when it must be detected
    delimiter = ";"                        # csv only; omitted when it must be detected
    rows = 12345                           # data rows (header excluded)
    key = "P1105_LopNr_PersonNr"           # the person key's column, when not LopNr
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Iterable

import polars as pl
import pyarrow.parquet as pq

from data_schemas.extracts import match_file_stem

CSV_CHUNK_ROWS = 1_000_000
_ISO = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"


def _csv_bytes(df: pl.DataFrame, delimiter: str, header: bool, encoding: str) -> bytes:
    text = df.write_csv(separator=delimiter, include_header=header, null_value="", line_terminator="\n")
    return text.encode(encoding)


def write_csv(path: Path, chunks: Iterable[pl.DataFrame], *, delimiter: str = ";", encoding: str = "utf-8") -> int:
    """Write frames (same columns) as one CSV file; return the number of data rows."""
    rows = 0
    with open(path, "wb") as fh:
        header = True
        for df in chunks:
            for start in range(0, max(df.height, 1 if header else 0), CSV_CHUNK_ROWS):
                part = df.slice(start, CSV_CHUNK_ROWS)
                if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
                    part.write_csv(fh, separator=delimiter, include_header=header, null_value="", line_terminator="\n")
                else:
                    fh.write(_csv_bytes(part, delimiter, header, encoding))
                header = False
                rows += part.height
    return rows


def _date_columns_to_type(df: pl.DataFrame, stem: str) -> list[str]:
    """Date columns whose every value is an ISO date (these become Parquet DATE columns)."""
    match = match_file_stem(stem)
    if not match:
        return []
    ex, _ = match
    typed = []
    for c in ex.columns:
        if c.dtype == "date" and c.name in df.columns:
            values = df[c.name].drop_nulls()
            if values.len() == 0 or values.str.contains(_ISO).all():
                typed.append(c.name)
    return typed


def write_parquet(path: Path, stem: str, chunks: Iterable[pl.DataFrame]) -> int:
    """Write frames as one Parquet file; the first chunk decides which date columns are typed."""
    rows = 0
    writer = None
    typed: list[str] = []
    try:
        for df in chunks:
            if writer is None:
                typed = _date_columns_to_type(df, stem)
            table = df.with_columns([pl.col(c).str.to_date("%Y-%m-%d") for c in typed]).to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table)
            rows += df.height
    finally:
        if writer is not None:
            writer.close()
    return rows


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") + '"'


def manifest_toml(name: str, extraction_date: date, files: list[dict]) -> str:
    lines = ["# Delivery manifest written by `koord synth`.", "[delivery]", f"name = {_toml_str(name)}",
             f"extraction_date = {extraction_date.isoformat()}", 'producer = "koord synth"', ""]
    for f in files:
        lines.append(f"[files.{_toml_str(f['file'])}]")
        for key in ("extract", "year", "format", "encoding", "delimiter", "rows", "key"):
            if f.get(key) is None:
                continue
            v = f[key]
            lines.append(f"{key} = {v}" if isinstance(v, int) else f"{key} = {_toml_str(str(v))}")
        lines.append("")
    return "\n".join(lines)

