"""Runs the cohort build in one transaction: staging -> intermediate -> analysis tables -> contracts.

The models and their order come from `pipeline.warehouse_models.project` (the `.sql` files and
the staging views generated from the contracts, ordered by their refs).

The whole build happens inside one DuckDB transaction: the schemas `staging` and
`intermediate` and the analysis tables in `main` are dropped and rebuilt, every contract is
checked, and only then is the transaction committed. Any failure (a SQL error, a broken
contract, an interrupt) rolls back, leaving the previous build exactly as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

from data_schemas.completeness import study_needed_years
from data_schemas.extracts import EXTRACTS, RAW, Extract
from data_schemas.study import Study
from data_schemas.tables import END_REASONS, SEXES, TABLES, check_contract
from koord import __version__
from koord.errors import ContractViolation, KoordError
from koord.progress import say
from pipeline.warehouse_models.model import LAYERS, SCHEMAS, BuildContext, create_statement
from pipeline.warehouse_models.project import RenderedModel, extracts_read, render_models, warehouse_models

BUILD_SCHEMAS = tuple(s for s in SCHEMAS if s != "main")  # dropped and rebuilt whole
BUILD_RECORD = "main._build"


@dataclass(frozen=True)
class BuildSummary:
    """What a build produced, for the closing summary."""

    extraction_date: date
    n_persons: int
    n_spells: int
    n_coordinated: int
    n_person_time_rows: int
    end_reasons: dict[str, dict[str, int]]  # sex ('all', 'woman', 'man') -> end reason -> spells
    coordinated_by_sex: dict[str, int]
    spells_by_sex: dict[str, int]
    seconds: float


def _raw_columns(con) -> dict[str, set[str]]:
    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'raw' and table_catalog = current_database()"
    ).fetchall()
    out: dict[str, set[str]] = {}
    for t, c in rows:
        out.setdefault(t, set()).add(c.lower())
    return out


def _expected_raw_columns(ex: Extract) -> list[str]:
    cols = [c.name for c in ex.columns]
    cols += [c.name + RAW.day_unknown_suffix for c in ex.columns if c.dtype == "date" and c.day_may_be_unknown]
    if ex.yearly:
        cols.append(RAW.year)
    return cols


def inspect_raw_layer(con) -> tuple[date, tuple[Extract, ...]]:
    """The extraction date and the delivered extracts; an error for people if the raw layer is unusable."""
    raw = _raw_columns(con)
    if not raw:
        raise KoordError("the warehouse has no raw layer: run `koord ingest` first")
    if "_delivery" not in raw:
        raise KoordError("the warehouse has no raw._delivery table (the delivery's extraction date): run `koord ingest` first")
    rows = con.execute("select extraction_date from raw._delivery").fetchall()
    if len(rows) != 1 or rows[0][0] is None:
        raise KoordError(
            f"raw._delivery must hold one row with the extraction date, found {len(rows)} row(s)"
            + ("" if len(rows) != 1 else " with no date")
            + ": re-run `koord ingest`"
        )
    extraction_date = rows[0][0]
    if isinstance(extraction_date, datetime):
        extraction_date = extraction_date.date()
    problems: list[str] = []
    present: list[Extract] = []
    needed = extracts_read()
    for ex in EXTRACTS:
        if ex.name not in raw:
            if ex.name in needed:
                problems.append(f"raw.{ex.name} is missing (the build needs {ex.title_sv})")
            continue
        missing = [c for c in _expected_raw_columns(ex) if c.lower() not in raw[ex.name]]
        if missing:
            problems.append(f"raw.{ex.name} lacks column(s) {', '.join(missing)}")
            continue
        present.append(ex)
    if problems:
        raise ContractViolation(
            "the raw layer does not match the delivery contracts:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nre-run `koord ingest` with this version of koord"
        )
    return extraction_date, tuple(present)


def missing_lisa_years(con, study: Study) -> list[int]:
    """The LISA years the study reads (`completeness.study_needed_years`) that raw._manifest lacks.

    A warehouse without ``raw._manifest`` (written by every `koord ingest`) or without LISA is not
    judged here: `inspect_raw_layer` refuses a missing LISA.
    """
    tables = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    if "_manifest" not in tables or "scb_lisa" not in tables:
        return []
    delivered = {int(r[0]) for r in con.execute(
        "select distinct year from raw._manifest where extract = 'scb_lisa' and year is not null").fetchall()}
    needed = study_needed_years("scb_lisa", study.spell_start_from.year, study.spell_start_to.year)["scb_lisa"]
    return sorted(set(needed) - delivered)


def check_lisa_years(con, study: Study, progress: Callable[[str], None] = say) -> None:
    """Refuse (or, under ``missing_lisa_years = 'allow'``, warn about) LISA years the study needs and lacks."""
    missing = missing_lisa_years(con, study)
    if not missing:
        return
    years = ", ".join(str(y) for y in missing)
    what = (f"the delivery lacks LISA for {years}, which the study reads (covariates come from the year before "
            f"a spell starts, spells starting {study.spell_start_from.year}–{study.spell_start_to.year})")
    if study.missing_lisa_years == "refuse":
        raise KoordError(f"{what}: every person would lack that year's home region, education, income and "
                         "employment. Ask for the missing year(s), or set [delivery] missing_lisa_years = \"allow\" "
                         "in the study file to build with those spells' covariates unknown")
    progress(f"koord build: warning: {what}; the spells concerned get unknown covariates (missing_lisa_years = 'allow')")


def build_models(ctx: BuildContext, extracts: tuple[Extract, ...]) -> list[RenderedModel]:
    """Every model of the build on the delivered `extracts`, rendered, in dependency order."""
    return render_models(ctx, warehouse_models(extracts))


def write_model_sql(con, study: Study, directory: Path) -> list[Path]:
    """Write every model's SQL, rendered for `study` and the warehouse's delivery, and build nothing.

    One file per model, `<directory>/<layer folder>/<model>.sql` (`staging`, `intermediate`,
    `analysis`): a plain DuckDB select that runs against the built warehouse (e.g. in the DuckDB
    CLI). Returns the files in build order.
    """
    extraction_date, extracts = inspect_raw_layer(con)
    folder = {schema: name for name, schema in LAYERS}
    written: list[Path] = []
    for rendered in build_models(BuildContext(study=study, extraction_date=extraction_date), extracts):
        path = directory / folder[rendered.model.schema] / f"{rendered.model.name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered.sql.strip() + "\n", encoding="utf-8")
        written.append(path)
    return written


def build_warehouse(con, study: Study, *, progress: Callable[[str], None] = say) -> BuildSummary:
    """Rebuild staging, intermediate and the analysis tables of an ingested warehouse, atomically.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Open connection to the warehouse (with a `raw` layer written by `koord ingest`).
    study : Study
        The study definition.
    progress : callable
        Receives one line per step (default: stderr).

    Returns
    -------
    BuildSummary

    Raises
    ------
    KoordError
        No raw layer, or no extraction date.
    ContractViolation
        The raw layer lacks tables or columns, or an analysis table breaks its contract; the
        previous build is left intact.
    """
    import time

    t0 = time.perf_counter()
    extraction_date, extracts = inspect_raw_layer(con)
    check_lisa_years(con, study, progress)
    ctx = BuildContext(study=study, extraction_date=extraction_date)
    models = build_models(ctx, extracts)
    progress(f"koord build: study {study.name!r}, extraction date {extraction_date}, {len(models)} models")
    con.execute("begin transaction")
    try:
        for schema in BUILD_SCHEMAS:
            con.execute(f"drop schema if exists {schema} cascade")
            con.execute(f"create schema {schema}")
        # `main` holds more than the build (the build record, other stages' tables): its models one by one
        main_tables = dict.fromkeys([*(t.qualified for t in TABLES), *(r.model.qualified for r in models if r.model.schema == "main")])
        for qualified in main_tables:
            con.execute(f"drop table if exists {qualified}")
        con.execute(f"drop table if exists {BUILD_RECORD}")
        for i, rendered in enumerate(models, start=1):
            m = rendered.model
            t1 = time.perf_counter()
            con.execute(create_statement(m, rendered.sql))
            if m.materialized == "view":
                what = "view"
            else:
                what = f"{con.execute(f'select count(*) from {m.qualified}').fetchone()[0]:,} rows".replace(",", " ")
            progress(f"  [{i}/{len(models)}] {m.qualified}: {what}, {time.perf_counter() - t1:.1f} s")
        _write_build_record(con, study, extraction_date)
        t1 = time.perf_counter()
        for t in TABLES:
            check_contract(con, t)
        progress(f"  contracts of {', '.join(t.name for t in TABLES)}: met, {time.perf_counter() - t1:.1f} s")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("checkpoint")
    return summarise(con, extraction_date, time.perf_counter() - t0)


def _write_build_record(con, study: Study, extraction_date: date) -> None:
    con.execute(
        f"create table {BUILD_RECORD} as select ? as study_name, ? as study_source, ? as study_json, "
        "?::date as extraction_date, ? as koord_version, ?::timestamptz as built_at",
        [
            study.name,
            study.source,
            json.dumps({**study.as_dict(), "analyses": dict(study.analyses)}, sort_keys=True, ensure_ascii=False, default=str),
            extraction_date,
            __version__,
            datetime.now(timezone.utc),
        ],
    )


def summarise(con, extraction_date: date, seconds: float) -> BuildSummary:
    rows = con.execute("select sex, end_reason, count(*), count(*) filter (where is_coordinated) from main.spells group by all").fetchall()
    end_reasons: dict[str, dict[str, int]] = {s: {r: 0 for r in END_REASONS} for s in ("all", *SEXES)}
    spells_by_sex = {s: 0 for s in ("all", *SEXES)}
    coordinated = {s: 0 for s in ("all", *SEXES)}
    for sex, reason, n, n_coord in rows:
        for key in ("all", sex):
            end_reasons[key][reason] += n
            spells_by_sex[key] += n
            coordinated[key] += n_coord
    n_persons = con.execute("select count(*) from main.persons").fetchone()[0]
    n_pt = con.execute("select count(*) from main.person_time").fetchone()[0]
    return BuildSummary(
        extraction_date=extraction_date,
        n_persons=n_persons,
        n_spells=spells_by_sex["all"],
        n_coordinated=coordinated["all"],
        n_person_time_rows=n_pt,
        end_reasons=end_reasons,
        coordinated_by_sex=coordinated,
        spells_by_sex=spells_by_sex,
        seconds=seconds,
    )
