"""The load: plan, refuse or stage, validate and write the raw layer, all or nothing.

How a load stays all-or-nothing: the warehouse file itself is never written. The new
warehouse is built in a private scratch folder beside it (a copy of the existing warehouse,
or a new file) and only when every file has loaded is it moved over the warehouse with one
atomic `os.replace`. So

- a refused delivery, an error or a crash half-way leaves the warehouse byte for byte as it
  was (and no warehouse at all if there was none); a DuckDB transaction on the warehouse
  itself would keep its content but leave the file grown by the rolled-back blocks, and would
  have to hold every file's staged rows until the end;
- during the load the old warehouse is held open read-only, so no other process can write
  to it and have its changes overwritten by the replacement.

The price is one copy of an existing warehouse per load, which is small next to the load.

Order of work:

1. plan every file: extract, format, SHA-256, encoding, delimiter, header against contract;
   all problems are reported together;
2. compare with the delivery the warehouse holds: the same files and hashes -> nothing to do;
   another delivery -> only with `replace`;
3. check the first `PNR_SAMPLE_ROWS` rows of every column of every file for personal identity
   numbers, in memory: a delivery that is not pseudonymised is refused before anything is
   written anywhere;
4. file by file: stage its rows as text (in memory, spilling to the scratch folder), check
   every value of every column for personal identity numbers, quarantine rows that break the
   contract, count warnings, write the valid rows into the private copy, drop the stage;
5. checks across files, the extraction date, bookkeeping; rows in = loaded + quarantined is
   asserted per file;
6. atomically replace the warehouse.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterator

import duckdb

from data_schemas.extracts import EXTRACTS
from koord import __version__
from koord.errors import ContractViolation, DeliveryRefused, KoordError
from koord.sql import sql_name, sql_string
from pipeline.ingest import detect, pnr, readers, validate
from pipeline.ingest.detect import FileOptions, FilePlan, Manifest
from koord.progress import say, thousands

PNR_SAMPLE_ROWS = 100_000

# DuckDB resources: room for the rest of the process under the 8 GB goal; spills to the scratch folder.
DEFAULT_MEMORY_LIMIT = "5GB"

BOOKKEEPING_DDL = {
    "_delivery": (
        "delivery_name varchar, extraction_date date, extraction_date_source varchar, loaded_at timestamp, "
        "source_folder varchar, manifest_sha256 varchar, koord_version varchar"
    ),
    "_manifest": (
        "file varchar, extract varchar, year integer, format varchar, sha256 varchar, size_bytes bigint, "
        "rows_in bigint, encoding varchar, delimiter varchar, encoding_source varchar, loaded_at timestamp"
    ),
    "_load_log": (
        "file varchar, extract varchar, rows_in bigint, rows_loaded bigint, rows_quarantined bigint, "
        "n_warnings bigint, seconds double"
    ),
    "_quarantine": (
        'file varchar, extract varchar, line bigint, "column" varchar, value varchar, reason varchar, '
        "reason_kind varchar"
    ),
    "_warnings": 'file varchar, extract varchar, "column" varchar, kind varchar, n_rows bigint, detail varchar',
    # every contract column of every file with the name it was delivered under (SyssStat19, P1105_LopNr_PersonNr)
    "_columns": 'file varchar, extract varchar, year integer, "column" varchar, delivered_name varchar, is_person_key boolean',
}


@dataclass
class FileResult:
    """What became of one delivery file."""

    plan: FilePlan
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    n_warnings: int = 0  # rows flagged by warnings (extra columns: their non-empty values)
    seconds: float = 0.0


@dataclass
class LoadSummary:
    """The outcome of `ingest_delivery`, for the report."""

    status: str  # 'loaded' or 'unchanged'
    delivery_name: str
    warehouse: Path
    extraction_date: date | None = None
    extraction_date_source: str = ""
    files: list[FileResult] = field(default_factory=list)
    quarantine_by_reason: list[tuple[str, str, int]] = field(default_factory=list)  # (file, kind, rows)
    warnings: list[tuple[str, str, str, int, str]] = field(default_factory=list)  # file, column, kind, n, detail
    absent_extracts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # (column, delivered name, files) for the person key and every column not delivered under its own name
    delivered_names: list[tuple[str, str, int]] = field(default_factory=list)
    seconds: float = 0.0


def ingest_delivery(
    delivery_dir: str | Path,
    warehouse: str | Path,
    replace: bool = False,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> LoadSummary:
    """Load the delivery in `delivery_dir` into the raw layer of `warehouse`, all or nothing.

    Parameters
    ----------
    delivery_dir : folder of extract files (CSV, Parquet, SAS) and an optional manifest.toml.
    warehouse : DuckDB file; created if absent.
    replace : allow replacing a raw layer that holds another delivery.
    memory_limit, threads : DuckDB resources (it spills to a scratch folder beside the warehouse).

    Raises
    ------
    ContractViolation : a file is not a known extract, lacks a required column or is unreadable.
    DeliveryRefused : the delivery holds personal identity numbers, or the warehouse holds
        another delivery and `replace` is False.
    """
    t0 = time.perf_counter()
    delivery_dir, warehouse = Path(delivery_dir), Path(warehouse)
    manifest = detect.read_manifest(delivery_dir)
    say(f"koord ingest: reading {delivery_dir} …")
    plans = plan_delivery(delivery_dir, manifest)
    summary = LoadSummary("loaded", manifest.name, warehouse)
    summary.notes += [n for p in plans for n in p.notes]
    present = {p.extract.name for p in plans}
    summary.absent_extracts = [e.name for e in EXTRACTS if e.name not in present]

    with _hold_warehouse(warehouse) as held:
        if held is not None:
            loaded = _loaded_delivery(held)
            if loaded is not None and _same_delivery(loaded, plans, manifest):
                summary.status = "unchanged"
                summary.seconds = time.perf_counter() - t0
                return summary
            if loaded is not None and not replace:
                raise DeliveryRefused(
                    f"{warehouse} already holds delivery '{loaded['name']}' (loaded {loaded['loaded_at'] or 'at an unknown time'}); "
                    f"loading '{manifest.name}' would replace its raw layer: run again with --replace to do so"
                )
        refuse_personnummer_in_sample(plans)
        try:
            with _scratch_folder(warehouse) as scratch:
                new_warehouse = scratch / "warehouse.duckdb"
                if held is not None:
                    shutil.copyfile(warehouse, new_warehouse)
                con = _connect(scratch / "spill", memory_limit, threads)
                try:
                    con.execute(f"attach {sql_string(str(new_warehouse))} as wh")
                    summary.files = load_files(con, plans, manifest, scratch)
                    finish_raw_layer(con, manifest, delivery_dir, summary)
                    con.execute("detach wh")
                finally:
                    con.close()
                if held is not None:
                    held.close()
                _replace_file(new_warehouse, warehouse)
        except duckdb.OutOfMemoryException as exc:
            raise KoordError(f"DuckDB ran out of memory ({_first_line(exc)}); try a larger --memory-limit. "
                             "Nothing was written.") from None
        except (OSError, duckdb.IOException) as exc:
            raise KoordError(f"cannot write beside {warehouse} ({exc}); is the disk full? Nothing was written.") from None
    summary.seconds = time.perf_counter() - t0
    return summary


# --- 1. plan -----------------------------------------------------------------------------------

def plan_delivery(delivery_dir: Path, manifest: Manifest) -> list[FilePlan]:
    """Plan every file; raise one ContractViolation listing every problem found."""
    files = detect.list_data_files(delivery_dir)
    problems: list[str] = []
    names = {p.name for p, *_ in files}
    for declared in manifest.files:
        if declared not in names:
            problems.append(f"{detect.MANIFEST_NAME} lists '{declared}', which is not in the delivery")
    plans: list[FilePlan] = []
    probe = duckdb.connect()
    try:
        for i, (path, ex, year, fmt) in enumerate(files, start=1):
            say(f"  [{i}/{len(files)}] {path.name}: hashing and reading the header ({_size(path.stat().st_size)}) …")
            options = manifest.files.get(path.name, FileOptions())
            problems += detect.manifest_disagreements(path.name, ex, year, options)
            key = manifest.key_for(path.name) if ex.person_level else None
            if fmt == "csv":
                plan, found = detect.plan_csv(path, ex, year, options, key)
            elif fmt == "parquet":
                plan, found = detect.plan_columnar(path, ex, year, fmt, options, readers.parquet_columns(probe, path), None, key)
            else:
                columns, encoding = readers.sas_columns(path, fmt, options.encoding)
                plan, found = detect.plan_columnar(path, ex, year, fmt, options, columns, encoding, key)
            problems += found
            if plan is not None:
                plans.append(plan)
    finally:
        probe.close()
    if problems:
        raise ContractViolation("the delivery cannot be loaded; nothing was written:\n  " + "\n  ".join(problems))
    return plans


# --- 2. what the warehouse holds ---------------------------------------------------------------

@contextmanager
def _hold_warehouse(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """Open an existing warehouse read-only for the whole load (None if there is none)."""
    if not warehouse.exists():
        yield None
        return
    if Path(str(warehouse) + ".wal").exists():
        raise KoordError(
            f"{warehouse} has an unfinished write-ahead log ({warehouse.name}.wal) from an interrupted session; "
            f"open it once with DuckDB (e.g. `duckdb {warehouse}`) so it recovers, then load again"
        )
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        raise KoordError(f"{warehouse} cannot be opened: it is in use by another process or not a DuckDB file ({exc})") from None
    except duckdb.Error as exc:
        raise KoordError(f"{warehouse} is not a DuckDB warehouse ({exc})") from None
    try:
        yield con
    finally:
        con.close()


def _loaded_delivery(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The delivery the warehouse's raw layer holds, or None when it has no raw layer."""
    tables = {r[0] for r in con.execute(
        "select table_name from duckdb_tables() where schema_name = 'raw'").fetchall()}
    if not tables:
        return None
    if not {"_delivery", "_manifest"} <= tables:
        return {"name": "(unknown: raw layer without bookkeeping)", "loaded_at": None, "files": {}, "manifest_sha256": None}
    name, loaded_at, manifest_sha = con.execute(
        "select delivery_name, loaded_at, manifest_sha256 from raw._delivery").fetchone()
    files = dict(con.execute("select file, sha256 from raw._manifest").fetchall())
    return {"name": name, "loaded_at": loaded_at, "files": files, "manifest_sha256": manifest_sha}


def _same_delivery(loaded: dict, plans: list[FilePlan], manifest: Manifest) -> bool:
    return loaded["files"] == {p.name: p.scan.sha256 for p in plans} and loaded["manifest_sha256"] == manifest.sha256


# --- 3. personal identity numbers, before anything is written ---------------------------------

def refuse_personnummer_in_sample(plans: list[FilePlan]) -> None:
    """Check the first rows of every column of every file, in memory: refuse before any disk write."""
    say("  checking every column for personal identity numbers …")
    con = duckdb.connect()
    _no_progress_bar(con)
    flagged = []
    try:
        for i, plan in enumerate(plans):
            try:
                relation = readers.sample_source(con, plan, PNR_SAMPLE_ROWS, f"sample_{i}")
                flagged += pnr.find_personnummer_columns(con, plan.name, relation, _pnr_columns(plan))
            except duckdb.Error as exc:
                raise ContractViolation(f"{plan.name}: cannot be read ({readers.describe_read_error(exc)})") from None
    finally:
        con.close()
    _refuse(flagged)


def _pnr_columns(plan: FilePlan) -> list[tuple[str, str]]:
    return list(zip(readers.stage_columns(plan), plan.columns.delivered))


def _refuse(flagged: list[pnr.PnrColumn]) -> None:
    if flagged:
        raise DeliveryRefused(
            "the delivery is refused: it is not pseudonymised, nothing of it was written.\n  "
            + "\n  ".join(f.describe() for f in flagged)
            + "\nPersons must be identified only by LopNr; ask the deliverer for a pseudonymised delivery."
        )


# --- 4. + 5. stage, check and write, file by file ---------------------------------------------

@contextmanager
def _scratch_folder(warehouse: Path) -> Iterator[Path]:
    """A private folder beside the warehouse (same file system, so the final rename is atomic)."""
    parent = warehouse.resolve().parent
    while not parent.exists():
        parent = parent.parent
    path = Path(tempfile.mkdtemp(prefix=".koord-ingest-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _connect(spill: Path, memory_limit: str, threads: int | None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for the staged rows (cheaper than compressing them to disk); it spills when full."""
    spill.mkdir(exist_ok=True)
    con = duckdb.connect(":memory:", config={
        "memory_limit": memory_limit,
        "threads": threads or _cores(),
        "temp_directory": str(spill),
        "preserve_insertion_order": True,  # rowid order = file order, which gives line numbers
    })
    _no_progress_bar(con)  # progress is ours, one line per file
    return con


def _no_progress_bar(con: duckdb.DuckDBPyConnection) -> None:
    """Turn DuckDB's own progress bar off; inside Jupyter the setting cannot change without ipywidgets."""
    try:
        con.execute("set enable_progress_bar = false")
    except duckdb.InvalidInputException:
        pass  # in a notebook the bar is off unless ipywidgets is installed


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (Linux)
    except AttributeError:
        return os.cpu_count() or 1


def load_files(con: duckdb.DuckDBPyConnection, plans: list[FilePlan], manifest: Manifest,
               scratch: Path) -> list[FileResult]:
    """Stage, check and write every file into the raw layer of the attached warehouse `wh`."""
    con.execute("drop schema if exists wh.raw cascade")  # replacing: `ingest_delivery` checked it may
    con.execute("create schema wh.raw")
    for ex in {p.extract.name: p.extract for p in plans}.values():
        con.execute(validate.raw_table_ddl(ex, f"wh.raw.{ex.name}"))
    for table, ddl in BOOKKEEPING_DDL.items():
        con.execute(f"create table wh.raw.{table} ({ddl})")
    results = []
    n = len(plans)
    for i, plan in enumerate(plans, start=1):
        t = time.perf_counter()
        result = FileResult(plan)
        with file_scratch(con):
            _load_file(con, plan, manifest, scratch, result, i, n)
        result.seconds = time.perf_counter() - t
        say(f"  [{i}/{n}] {plan.name}: {thousands(result.rows_in)} rows in, {thousands(result.rows_loaded)} loaded, "
            f"{thousands(result.rows_quarantined)} quarantined ({result.seconds:.1f} s)")
        results.append(result)
    return results


# One file's temporaries live in their own schema, dropped whole when the file is done: no step
# drops what another step created, and a failed file leaves nothing behind for the next one.
FILE_SCRATCH = "file_scratch"
STAGED = f"{FILE_SCRATCH}.staged"    # the file's rows, whitespace trimmed, all text
LINED = f"{FILE_SCRATCH}.lined"      # the same with the file's line number `_line`
CLEANED = f"{FILE_SCRATCH}.cleaned"  # values cleaned for validation


@contextmanager
def file_scratch(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute(f"create schema {FILE_SCRATCH}")
    try:
        yield
    finally:
        con.execute(f"drop schema if exists {FILE_SCRATCH} cascade")


def _load_file(con: duckdb.DuckDBPyConnection, plan: FilePlan, manifest: Manifest, scratch: Path, result: FileResult,
               i: int, n: int) -> None:
    """Stage one file, refuse or quarantine what breaks its contract, write the rest to the raw layer."""
    result.rows_in, blank = readers.stage_file(con, plan, STAGED, scratch)
    readers.line_view(con, plan, STAGED, LINED, blank)
    say(f"  [{i}/{n}] {plan.name}: {thousands(result.rows_in)} rows …")
    declared = manifest.files.get(plan.name, FileOptions()).rows
    if declared is not None and declared != result.rows_in:
        raise ContractViolation(
            f"{plan.name}: {detect.MANIFEST_NAME} declares {thousands(declared)} rows but the file has "
            f"{thousands(result.rows_in)} (is it truncated or from another delivery?); nothing was written"
        )
    _refuse(pnr.find_personnummer_columns(con, plan.name, LINED, _pnr_columns(plan), line_column="_line",
                                          cleaned=True))
    check_file(con, plan)
    _record_columns(con, plan)
    write_raw_rows(con, result)
    if result.rows_in == 0:  # a header and nothing else: loaded as it is, but never silently
        con.execute("insert into wh.raw._warnings values (?, ?, ?, ?, ?, ?)", [
            plan.name, plan.extract.name, None, "empty_file", 0,
            f"{plan.name} has a header and no data rows: {plan.extract.name} is empty "
            f"{'for ' + str(plan.year) if plan.year else 'in this delivery'} (is the file complete?)"])


def check_file(con: duckdb.DuckDBPyConnection, plan: FilePlan) -> None:
    """Quarantine the file's bad rows and record its warnings (tables wh.raw._quarantine, _warnings)."""
    ex = plan.extract
    present = {c for c in plan.columns.contract_of if c is not None}
    con.execute(f"create view {CLEANED} as {validate.cleaned_select(ex, present, LINED)}")
    con.execute(f"insert into wh.raw._quarantine select * from ({validate.quarantine_sql(ex, present, f'select * from {CLEANED}', plan.name)}) "
                f'order by line, "column"')
    con.execute(f"insert into wh.raw._quarantine select * from ({validate.duplicate_sql(ex, f'select * from {CLEANED}', plan.name)}) "
                "order by line")
    if key_sql := validate.duplicate_key_sql(ex, f"select * from {CLEANED}", plan.name):  # RespondentId
        con.execute(f"insert into wh.raw._quarantine select * from ({key_sql}) order by line")

    warnings = []
    for j, (stage_name, delivered) in enumerate(zip(readers.stage_columns(plan), plan.columns.delivered)):
        if plan.columns.contract_of[j] is None:
            n_values = con.execute(f"select count({sql_name(stage_name)}) from {LINED}").fetchone()[0]
            warnings.append((delivered.strip(), "extra_column", n_values,
                             f"column '{delivered.strip()}' is not in the contract of {ex.name}; ignored "
                             f"({thousands(n_values)} non-empty values)"))
    specs = validate.warning_specs(ex)
    if specs:
        row = con.execute(validate.warning_aggregate_sql(specs, _loaded_rows(plan))).fetchone()
        for k, spec in enumerate(specs):
            count, line, value = row[3 * k], row[3 * k + 1], row[3 * k + 2]
            if count:
                warnings.append((spec.column, spec.kind, count,
                                 spec.detail.format(example=validate.example_text(line, value))))
    repeats = validate.identity_repeat_sql(ex, present, _loaded_rows(plan))  # SenPNr: kept, counted
    if repeats and (w := validate.identity_repeat_warning(ex, con.execute(repeats).fetchone())):
        warnings.append(w)
    if warnings:
        con.executemany("insert into wh.raw._warnings values (?, ?, ?, ?, ?, ?)",
                        [[plan.name, ex.name, c, k, n, d] for c, k, n, d in warnings])


def _record_columns(con: duckdb.DuckDBPyConnection, plan: FilePlan) -> None:
    """The delivered name of every contract column into raw._columns; a year-specific name used
    outside its years is a warning (kept: the name is the register's, the year may be mislabelled)."""
    rows, warnings = [], []
    for column, delivered, remark in detect.column_years(plan.columns, plan.extract, plan.year):
        rows.append([plan.name, plan.extract.name, plan.year, column, delivered, plan.extract.column(column).is_person_key])
        if remark:
            warnings.append([plan.name, plan.extract.name, column, "name_outside_years", 0,
                             f"{column} delivered as {remark}; read as {column}"])
    if rows:
        con.executemany("insert into wh.raw._columns values (?, ?, ?, ?, ?, ?)", rows)
    if warnings:
        con.executemany("insert into wh.raw._warnings values (?, ?, ?, ?, ?, ?)", warnings)


def _loaded_rows(plan: FilePlan) -> str:
    """The cleaned rows of the file that are not quarantined."""
    return (f"(select * from {CLEANED} where _line not in "
            f"(select line from wh.raw._quarantine where file = {sql_string(plan.name)}))")


def write_raw_rows(con: duckdb.DuckDBPyConnection, result: FileResult) -> None:
    """Insert the file's valid rows into its raw table; assert rows in = loaded + quarantined."""
    plan = result.plan
    select = validate.typed_select(plan.extract, plan.year, plan.name)
    result.rows_loaded = con.execute(
        f"insert into wh.raw.{plan.extract.name} select {select} from {_loaded_rows(plan)}").fetchone()[0]
    result.rows_quarantined = con.execute(
        "select count(distinct line) from wh.raw._quarantine where file = ?", [plan.name]).fetchone()[0]
    if result.rows_in != result.rows_loaded + result.rows_quarantined:
        raise KoordError(
            f"{plan.name}: {result.rows_in} rows in but {result.rows_loaded} loaded + {result.rows_quarantined} "
            "quarantined; this is a bug in koord ingest, nothing was written"
        )


def finish_raw_layer(con: duckdb.DuckDBPyConnection, manifest: Manifest, delivery_dir: Path,
                     summary: LoadSummary) -> None:
    """Checks across files, the extraction date and the bookkeeping tables."""
    results = summary.files
    extraction_date, source = _extraction_date(con, manifest, results)
    summary.extraction_date, summary.extraction_date_source = extraction_date, source
    if manifest.extraction_date is None:
        summary.notes.append(f"no extraction_date in {detect.MANIFEST_NAME}: extraction date {extraction_date} ({source})")
    say("  checks across files …")
    summary.notes += cross_file_warnings(con, results, extraction_date)

    n_warn = dict(con.execute("select file, sum(n_rows) from wh.raw._warnings group by file").fetchall())
    loaded_at = datetime.now().replace(microsecond=0)
    for r in results:
        r.n_warnings = int(n_warn.get(r.plan.name, 0))
        p = r.plan
        con.execute("insert into wh.raw._manifest values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            p.name, p.extract.name, p.year, p.format, p.scan.sha256, p.scan.size_bytes, r.rows_in,
            p.display_encoding, p.delimiter, p.encoding_source or None, loaded_at])
        con.execute("insert into wh.raw._load_log values (?, ?, ?, ?, ?, ?, ?)", [
            p.name, p.extract.name, r.rows_in, r.rows_loaded, r.rows_quarantined, r.n_warnings, round(r.seconds, 2)])
    con.execute("insert into wh.raw._delivery values (?, ?, ?, ?, ?, ?, ?)", [
        manifest.name, extraction_date, source, loaded_at, str(delivery_dir.resolve()), manifest.sha256, __version__])
    summary.quarantine_by_reason = [tuple(r) for r in con.execute(
        "select file, reason_kind, count(distinct line) from wh.raw._quarantine group by all order by 3 desc, 1, 2").fetchall()]
    summary.warnings = [tuple(r) for r in con.execute(
        'select file, "column", kind, n_rows, detail from wh.raw._warnings order by file, "column", kind').fetchall()]
    summary.delivered_names = [tuple(r) for r in con.execute(
        'select "column", delivered_name, count(*) from wh.raw._columns '
        'where is_person_key or lower(delivered_name) <> lower("column") group by all order by 1, 2').fetchall()]


def _extraction_date(con: duckdb.DuckDBPyConnection, manifest: Manifest, results: list[FileResult]) -> tuple[date | None, str]:
    """From the manifest, else the latest date in any date column of the delivery."""
    if manifest.extraction_date is not None:
        return manifest.extraction_date, detect.MANIFEST_NAME
    latest: tuple[date, str] | None = None
    for ex in {r.plan.extract.name: r.plan.extract for r in results}.values():
        for c in ex.columns:
            if c.dtype != "date":
                continue
            value = con.execute(f"select max({sql_name(c.name)}) from wh.raw.{ex.name}").fetchone()[0]
            if value is not None and (latest is None or value > latest[0]):
                latest = (value, f"latest date seen: {ex.name}.{c.name}")
    if latest is None:
        return None, f"unknown: no extraction_date in {detect.MANIFEST_NAME} and no dates in the delivery"
    return latest


def cross_file_warnings(con: duckdb.DuckDBPyConnection, results: list[FileResult],
                        extraction_date: date | None) -> list[str]:
    """Overlapping periods of one person, and persons missing from the population register.

    Returns notes for people about checks that could not run.
    """
    notes = []
    extracts = {r.plan.extract.name: r.plan.extract for r in results}
    rows = []
    for ex in extracts.values() if extraction_date is not None else ():
        sql = validate.overlap_sql(ex, f"wh.raw.{ex.name}", extraction_date.isoformat())
        if sql:
            for file, n, persons, line in con.execute(sql).fetchall():
                if n:
                    rows.append([file, ex.name, ex.periods[0].start, "overlapping_period", n,
                                 f"{thousands(n)} periods ({thousands(persons)} persons) start before an earlier period of the "
                                 f"same person has ended (ongoing periods run to {extraction_date}; e.g. line {line})"])
    population = validate.POPULATION_EXTRACT
    if population not in extracts:
        if any(ex.person_level for ex in extracts.values()):
            notes.append(f"no {population} file in this delivery: persons were not checked against the population register")
    else:
        for ex in extracts.values():
            sql = validate.orphan_sql(ex, f"wh.raw.{ex.name}", f"wh.raw.{population}")
            if sql:
                key = next(c.name for c in ex.columns if c.is_person_key)
                for file, n, persons, line in con.execute(sql).fetchall():
                    rows.append([file, ex.name, key, "orphan_person", n,
                                 f"{thousands(n)} rows of {thousands(persons)} persons with no row in any {population} year "
                                 f"(e.g. line {line})"])
    rows += missing_year_warnings(results)
    if rows:
        con.executemany("insert into wh.raw._warnings values (?, ?, ?, ?, ?, ?)", rows)
    return notes


def missing_year_warnings(results: list[FileResult]) -> list[list]:
    """A yearly series with a hole (LISA 2015-2024 without 2021): every person then lacks that
    year's values, so it is warned about, naming the years; the build checks the study period."""
    years: dict[str, set[int]] = {}
    for r in results:
        if r.plan.extract.yearly and r.plan.year is not None:
            years.setdefault(r.plan.extract.name, set()).add(r.plan.year)
    rows = []
    for name, delivered in sorted(years.items()):
        missing = sorted(set(range(min(delivered), max(delivered) + 1)) - delivered)
        if missing:
            rows.append([f"{name}_*", name, None, "missing_year", 0,
                         f"{name} is delivered for {min(delivered)}-{max(delivered)} without "
                         f"{', '.join(map(str, missing))}: every person lacks those years' values (is a file missing?)"])
    return rows


# --- 6. replace ----------------------------------------------------------------------------

def _replace_file(new: Path, target: Path) -> None:
    """Move the finished warehouse over the old one in one atomic step."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(new, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(new, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__




def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
