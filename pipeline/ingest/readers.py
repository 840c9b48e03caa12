"""Read a delivery file (CSV, Parquet, SAS) into a DuckDB table of text columns with line numbers.

Every format ends up the same way, so that validation is written once: a *stage* table with
one VARCHAR column per delivered column (named after its contract column, or `__extra_<i>`
for a column the contract does not know), each value trimmed of whitespace and the empty
string read as missing (`clean_sql`, done once here so later passes need not repeat it), and
a view over it that adds `_line`:

- CSV: the physical line of the row, the header being line 1. DuckDB reads the file in order
  (`preserve_insertion_order`), so a row's line is its `rowid` + 2 plus the blank lines before
  it (DuckDB skips blank lines; `detect.blank_lines` finds them). Quoted fields that span lines
  are not expected in agency CSVs; if the number of records read differs from the number of
  non-blank lines, the file is refused rather than given wrong line numbers.
- Parquet and SAS: the row number, the first row being 1.

Numbers in Parquet and SAS come back as their text: whole numbers stored as floating point
(SAS keeps every number as a double) as integers (`1.0` -> `1`), dates as `YYYY-MM-DD`.
"""

from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from koord.errors import ContractViolation
from koord.sql import sql_name, sql_string
from pipeline.ingest import detect
from pipeline.ingest.detect import CHUNK_BYTES, FilePlan

SAS_CHUNK_ROWS = 500_000


# Whitespace trimmed from every value: space, tab, CR, LF and the no-break space of spreadsheet exports.
_WHITESPACE = " \t\r\n\u00a0"


def clean_sql(expr: str) -> str:
    """SQL: the value trimmed of whitespace, and NULL when empty.

    The trim with a character set is costly, so it runs only on values that start or end with
    whitespace (a cheap anchored search finds them).
    """
    return (
        f"nullif(case when regexp_matches({expr}, '^[{_WHITESPACE}]|[{_WHITESPACE}]$') "
        f"then trim({expr}, {sql_string(_WHITESPACE)}) else {expr} end, '')"
    )


def stage_columns(plan: FilePlan) -> list[str]:
    """Stage-table column names in file order: the contract name, or `__extra_<i>`."""
    return [c if c is not None else f"__extra_{i}" for i, c in enumerate(plan.columns.contract_of)]


def csv_source(plan: FilePlan, path: Path | None = None, encoding: str | None = None) -> str:
    """`read_csv(...)` over the file's data lines (header skipped), every column VARCHAR."""
    columns = "{" + ", ".join(f"{sql_string(n)}: 'VARCHAR'" for n in stage_columns(plan)) + "}"
    encoding = encoding or plan.reader_encoding or "utf-8"
    return (
        f"read_csv({sql_string(str(path or plan.path))}, header = false, skip = 1, "
        f"delim = {sql_string(plan.delimiter or ';')}, quote = '\"', escape = '\"', auto_detect = false, "
        f"columns = {columns}, encoding = {sql_string(encoding)}, strict_mode = true, null_padding = false)"
    )


def parquet_source(con: duckdb.DuckDBPyConnection, plan: FilePlan) -> str:
    """`read_parquet(...)` with every column turned into its text."""
    types = dict(con.execute(f"select column_name, column_type from (describe select * from read_parquet({sql_string(str(plan.path))}))").fetchall())
    exprs = [
        f"{as_text(sql_name(d), types[d])} as {sql_name(n)}"
        for d, n in zip(plan.columns.delivered, stage_columns(plan))
    ]
    return f"(select {', '.join(exprs)} from read_parquet({sql_string(str(plan.path))}))"


def as_text(expr: str, duckdb_type: str) -> str:
    """SQL turning a typed column into the text a CSV delivery would have held."""
    t = duckdb_type.upper()
    if t == "VARCHAR":
        return expr
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        x = f"cast({expr} as double)"
        return (
            f"case when isnan({x}) then null "
            f"when {x} = trunc({x}) and abs({x}) < 1e15 then cast(cast({x} as bigint) as varchar) "
            f"else cast({x} as varchar) end"
        )
    if t == "DATE":
        return f"strftime({expr}, '%Y-%m-%d')"
    if t.startswith("TIMESTAMP"):
        return (
            f"case when cast({expr} as timestamp) = date_trunc('day', cast({expr} as timestamp)) "
            f"then strftime(cast({expr} as timestamp), '%Y-%m-%d') else cast({expr} as varchar) end"
        )
    if t == "BOOLEAN":
        return f"cast(cast({expr} as integer) as varchar)"
    return f"cast({expr} as varchar)"


def sas_reader(fmt: str):
    import pyreadstat

    return pyreadstat.read_sas7bdat if fmt == "sas7bdat" else pyreadstat.read_xport


def sas_columns(path: Path, fmt: str, encoding: str | None) -> tuple[list[str], str | None]:
    """Column names and declared encoding of a SAS file (metadata only)."""
    try:
        _, meta = sas_reader(fmt)(str(path), metadataonly=True, encoding=_sas_encoding(encoding))
    except Exception as exc:  # pyreadstat raises its own errors for unreadable files
        raise ContractViolation(f"{path.name}: cannot be read as SAS {fmt} ({exc})") from None
    declared = meta.file_encoding
    try:
        declared = codecs.lookup(declared).name if declared else None
    except LookupError:
        pass
    return list(meta.column_names), declared


def _sas_encoding(encoding: str | None) -> str | None:
    # pyreadstat (iconv) wants names like "utf-8", "iso-8859-1", "windows-1252"
    if encoding is None:
        return None
    return {"iso8859-1": "iso-8859-1", "cp1252": "windows-1252"}.get(encoding, encoding)


def parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    try:
        rows = con.execute(f"describe select * from read_parquet({sql_string(str(path))})").fetchall()
    except duckdb.Error as exc:
        raise ContractViolation(f"{path.name}: cannot be read as Parquet ({_first_line(exc)})") from None
    return [r[0] for r in rows]


def stage_file(con: duckdb.DuckDBPyConnection, plan: FilePlan, table: str, scratch_dir: Path) -> tuple[int, tuple[int, ...]]:
    """Read the file into `table` (all VARCHAR, file order).

    Returns the number of rows read and, for CSV, the physical numbers of blank lines (which
    the reader skipped). Raises ContractViolation when the file cannot be read (wrong number of
    fields on a line, bytes not in the file's encoding, a corrupt Parquet or SAS file).
    """
    cleaned = ", ".join(f"{clean_sql(sql_name(n))} as {sql_name(n)}" for n in stage_columns(plan))
    try:
        if plan.format == "csv":
            source = csv_source(plan, *_csv_input(plan, scratch_dir))
            con.execute(f"create table {table} as select {cleaned} from {source}")
        elif plan.format == "parquet":
            con.execute(f"create table {table} as select {cleaned} from {parquet_source(con, plan)}")
        else:
            _stage_sas(con, plan, table, cleaned)
    except duckdb.Error as exc:
        raise ContractViolation(f"{plan.name}: cannot be read ({describe_read_error(exc)})") from None
    rows = con.execute(f"select count(*) from {table}").fetchone()[0]
    blank: tuple[int, ...] = ()
    if plan.format == "csv" and rows != plan.scan.n_lines - 1:
        blank = tuple(b for b in detect.blank_lines(plan.path) if b > 1)
        if rows != plan.scan.n_lines - 1 - len(blank):
            raise ContractViolation(
                f"{plan.name}: {rows} records were read from {plan.scan.n_lines - 1 - len(blank)} non-blank data lines; "
                "a quoted field seems to span lines (check for an unbalanced '\"'); expected one record per line"
            )
    return rows, blank


def sample_source(con: duckdb.DuckDBPyConnection, plan: FilePlan, rows: int, name: str) -> str:
    """A SQL relation over the first `rows` rows of the file, read without writing anything to disk.

    `name` is used to register in-memory data (SAS, and CSV in encodings DuckDB cannot read).
    """
    if plan.format == "csv" and plan.reader_encoding:
        return f"(select * from {csv_source(plan)} limit {rows})"
    if plan.format == "csv":
        with open(plan.path, "rb") as fh:
            head, truncated = fh.read(CHUNK_BYTES), bool(fh.read(1))
        lines = head.decode(plan.encoding, errors="replace").splitlines()
        if truncated:
            lines = lines[:-1]  # the chunk may end inside a line
        lines = lines[1 : rows + 1]
        records = list(csv.reader(lines, delimiter=plan.delimiter or ";"))
        names = stage_columns(plan)
        table = pa.table({n: [r[j] if j < len(r) else None for r in records] for j, n in enumerate(names)})
        con.register(name, table)
        return name
    if plan.format == "parquet":
        return f"(select * from {parquet_source(con, plan)} limit {rows})"
    try:
        df, _ = sas_reader(plan.format)(str(plan.path), row_limit=rows, dates_as_pandas_datetime=True,
                                        encoding=_sas_encoding(plan.encoding))
    except Exception as exc:  # pyreadstat's own read errors
        raise ContractViolation(f"{plan.name}: cannot be read as SAS {plan.format} ({exc})") from None
    con.register(name, df)
    return _sas_text_select(con, plan, name)


def line_view(con: duckdb.DuckDBPyConnection, plan: FilePlan, table: str, view: str,
              blank: tuple[int, ...] = ()) -> None:
    """Create `view` = the stage table with `_line` (CSV: physical line; other formats: row number)."""
    if plan.format != "csv":
        con.execute(f"create view {view} as select rowid + 1 as _line, * from {table}")
        return
    if not blank:
        con.execute(f"create view {view} as select rowid + 2 as _line, * from {table}")
        return
    # The j-th blank line (1-based), on physical line b_j, shifts every record from index b_j - j - 1 on.
    thresholds = [b - j - 1 for j, b in enumerate(blank, start=1)]
    con.execute(
        f"create table {table}__blank as select record_from, max(shift) as shift from "
        f"(select unnest($1::bigint[]) as record_from, unnest(range(1, $2 + 1)) as shift) group by record_from",
        [thresholds, len(thresholds)],
    )
    con.execute(
        f"create view {view} as select s.r + 2 + coalesce(b.shift, 0) as _line, s.* exclude (r) "
        f"from (select rowid as r, * from {table}) s asof left join {table}__blank b on s.r >= b.record_from"
    )


def _csv_input(plan: FilePlan, scratch_dir: Path) -> tuple[Path, str]:
    """The file DuckDB should read and its encoding: the file itself, or a UTF-8 copy."""
    if plan.reader_encoding:
        return plan.path, plan.reader_encoding
    target = scratch_dir / f"{plan.path.name}.utf-8.csv"
    _transcode(plan.path, target, plan.encoding)
    return target, "utf-8"


def _transcode(source: Path, target: Path, encoding: str) -> None:
    """Copy `source` to UTF-8 in streaming chunks (for encodings DuckDB cannot read itself)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0
    with open(source, "rb") as src, open(target, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(CHUNK_BYTES):
            try:
                dst.write(decoder.decode(chunk))
            except UnicodeDecodeError as exc:
                raise ContractViolation(
                    f"{source.name}: byte {done + exc.start} is not valid {encoding} (the encoding "
                    "manifest.toml declares)"
                ) from None
            done += len(chunk)
        dst.write(decoder.decode(b"", final=True))


def _stage_sas(con: duckdb.DuckDBPyConnection, plan: FilePlan, table: str, cleaned: str) -> None:
    import pyreadstat

    created = False
    chunks = pyreadstat.read_file_in_chunks(
        sas_reader(plan.format), str(plan.path), chunksize=SAS_CHUNK_ROWS,
        dates_as_pandas_datetime=True, encoding=_sas_encoding(plan.encoding),
    )
    try:
        for df, _ in chunks:
            con.register("sas_chunk", df)
            select = _sas_text_select(con, plan, "sas_chunk")
            if created:
                con.execute(f"insert into {table} select {cleaned} from {select}")
            else:
                con.execute(f"create table {table} as select {cleaned} from {select}")
                created = True
            con.unregister("sas_chunk")
    except duckdb.Error:
        raise
    except Exception as exc:  # pyreadstat's own read errors
        raise ContractViolation(f"{plan.name}: cannot be read as SAS {plan.format} ({exc})") from None
    if not created:  # a SAS file with no rows
        cols = ", ".join(f"{sql_name(n)} varchar" for n in stage_columns(plan))
        con.execute(f"create table {table} ({cols})")


def _sas_text_select(con: duckdb.DuckDBPyConnection, plan: FilePlan, view: str) -> str:
    types = dict(con.execute(f"select column_name, column_type from (describe select * from {view})").fetchall())
    exprs = [
        f"{as_text(sql_name(d), types[d])} as {sql_name(n)}"
        for d, n in zip(plan.columns.delivered, stage_columns(plan))
    ]
    return f"(select {', '.join(exprs)} from {view})"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def describe_read_error(exc: duckdb.Error) -> str:
    """The useful part of a DuckDB read error: the line and what was wrong with it.

    The line's text is left out on purpose: before the personnummer check it may hold one.
    """
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    detail = [ln.strip() for ln in text.splitlines()
              if ln.strip().startswith(("Expected Number of Columns", "Invalid unicode", "Value with unterminated quote",
                                        "The line is too long"))]
    parts = []
    if line:
        parts.append(f"line {line.group(1)}")
    if detail:
        parts.append(detail[0].replace("Expected Number of Columns:", "expected fields:").replace(" Found:", ", found:"))
    return "; ".join(parts) if parts else _first_line(exc)
