"""Everything the report reads: the warehouse (read-only), the study file and the code version.

The only module of `reports` that does I/O on its inputs. Sections get a `ReportInputs` to
aggregate from when they collect their outputs; rendering gets only `ReportMeta`, which holds
no counts of persons (those pass disclosure control as outputs).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import subprocess
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from data_schemas.study import DEFAULT_STUDY_FILE
from koord import __version__
from koord.errors import ContractViolation, StudyDefinitionError

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_RECORD = ("main", "_build")  # written by `koord build`
RESULTS_SCHEMA = "results"  # written by `koord analyse`
ANALYSES_CATALOGUE = "_analyses"  # results._analyses: one row per analysis (id, design, description, parameters)


@dataclass(frozen=True)
class StudyFile:
    """The study file as read: its text and hash for provenance, its tables for the report."""

    path: str | None
    text: str = ""
    sha256: str = ""
    tables: Mapping[str, Any] = field(default_factory=dict)

    @property
    def disclosure(self) -> Mapping[str, Any] | None:
        """The optional ``[disclosure]`` table (thresholds of `reports.disclosure.DisclosureRules`)."""
        return self.tables.get("disclosure")


def read_study_file(path: str | Path | None) -> StudyFile:
    """Read a study file (TOML) for its ``[disclosure]`` table and provenance; None = no file."""
    if path is None:
        return StudyFile(None)
    p = Path(path)
    if not p.is_file():
        raise StudyDefinitionError(f"study file {p} not found")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
        tables = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise StudyDefinitionError(f"{p} is not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyDefinitionError(f"{p} is not valid TOML: {exc}") from None
    if "disclosure" in tables and not isinstance(tables["disclosure"], dict):
        raise StudyDefinitionError(f"{p}: [disclosure] must be a table")
    return StudyFile(str(p), text, hashlib.sha256(raw).hexdigest(), tables)


def code_version() -> str:
    """``koord <version>``, with ``git describe`` of the checkout when git is there."""
    version = f"koord {__version__}"
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version} (git {described})" if described else version


# What made the numbers besides koord's own code: named in the provenance and the output-check
# log, because the git hash alone does not say which library versions ran.
RECORDED_PACKAGES = ("duckdb", "pandas", "polars", "numpy", "scipy", "statsmodels", "lifelines",
                     "matplotlib", "weasyprint")


def software_versions() -> tuple[tuple[str, str], ...]:
    """``(name, version)`` of Python and of `RECORDED_PACKAGES` as installed ('saknas' if not)."""
    import platform
    from importlib import metadata

    versions = [("Python", platform.python_version())]
    for name in RECORDED_PACKAGES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "saknas"))
    return tuple(versions)


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "okänd användare"


@dataclass(frozen=True)
class ReportMeta:
    """What the report says about its inputs that is not a count of persons.

    Attributes
    ----------
    delivery : dict or None
        ``raw._delivery``: name, extraction date, when it was loaded, from where.
    manifest : DataFrame
        ``raw._manifest`` without row counts or sizes: file, extract, year, format, sha256,
        encoding, delimiter.
    build : dict or None
        ``main._build``: the study the analysis tables were built with (``study`` parsed from
        ``study_json``), the code version and time of the build.
    study_file : StudyFile
    has_analysis_tables, has_results : bool
        Whether `koord build` and `koord analyse` have run on this warehouse.
    warehouse : str
    """

    warehouse: str
    delivery: Mapping[str, Any] | None
    manifest: pd.DataFrame
    build: Mapping[str, Any] | None
    study_file: StudyFile
    has_analysis_tables: bool
    has_results: bool
    results_tables: tuple[str, ...] = ()
    attrition_steps: Mapping[int, str] = field(default_factory=dict)  # step_order -> description_sv
    analyses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # results._analyses: id -> design, description

    @property
    def study(self) -> Mapping[str, Any] | None:
        """The study definition the analysis tables were built with."""
        return (self.build or {}).get("study")


class ReportInputs:
    """A read-only warehouse connection with the few questions sections ask of it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, warehouse: str) -> None:
        self.con = con
        self.warehouse = warehouse
        self._tables = {
            (s, t): None for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables where table_catalog = current_database()"
            ).fetchall()
        }

    def has_table(self, schema: str, name: str) -> bool:
        return (schema, name) in self._tables

    def tables_in(self, schema: str) -> tuple[str, ...]:
        return tuple(sorted(t for s, t in self._tables if s == schema))

    def columns(self, schema: str, name: str) -> tuple[str, ...]:
        rows = self.con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "and table_catalog = current_database() order by ordinal_position",
            [schema, name],
        ).fetchall()
        return tuple(r[0] for r in rows)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run an aggregate query; the result is a small frame."""
        return self.con.execute(sql, list(params or [])).df()

    @property
    def has_analysis_tables(self) -> bool:
        return all(self.has_table("main", t) for t in ("spells", "persons", "attrition"))

    @property
    def has_results(self) -> bool:
        return any(t != ANALYSES_CATALOGUE for t in self.tables_in(RESULTS_SCHEMA))

    def build_record(self) -> dict[str, Any] | None:
        """``main._build`` with the study definition parsed into ``study``; None before `koord build`."""
        if not self.has_table(*BUILD_RECORD):
            return None
        rows = self.query(f"select * from {'.'.join(BUILD_RECORD)} limit 1")
        if not len(rows):
            return None
        build = rows.iloc[0].to_dict()
        try:
            build["study"] = json.loads(build.get("study_json") or "{}")
        except json.JSONDecodeError as exc:
            raise ContractViolation(f"{'.'.join(BUILD_RECORD)}.study_json is not JSON: {exc}") from None
        return build

    def meta(self, study_file: StudyFile) -> ReportMeta:
        delivery = None
        if self.has_table("raw", "_delivery"):
            rows = self.query("select * from raw._delivery limit 1")
            delivery = rows.iloc[0].to_dict() if len(rows) else None
        manifest_cols = ["file", "extract", "year", "format", "sha256", "encoding", "delimiter"]
        if self.has_table("raw", "_manifest"):
            have = [c for c in manifest_cols if c in self.columns("raw", "_manifest")]
            manifest = self.query(f"select {', '.join(have)} from raw._manifest order by file")
        else:
            manifest = pd.DataFrame(columns=manifest_cols)
        steps: dict[int, str] = {}
        if self.has_table("main", "attrition"):
            rows = self.query("select distinct step_order, description_sv from main.attrition order by step_order")
            steps = {int(r.step_order): str(r.description_sv) for r in rows.itertuples()}
        analyses: dict[str, dict[str, Any]] = {}
        if self.has_table(RESULTS_SCHEMA, ANALYSES_CATALOGUE):
            cols = [c for c in ("id", "design", "description") if c in self.columns(RESULTS_SCHEMA, ANALYSES_CATALOGUE)]
            if "id" in cols:
                rows = self.query(f'select {", ".join(cols)} from {RESULTS_SCHEMA}."{ANALYSES_CATALOGUE}"')
                analyses = {str(r["id"]): r.to_dict() for _, r in rows.iterrows()}
        return ReportMeta(
            warehouse=self.warehouse, delivery=delivery, manifest=manifest, build=self.build_record(),
            study_file=study_file, has_analysis_tables=self.has_analysis_tables,
            has_results=self.has_results, results_tables=self.tables_in(RESULTS_SCHEMA), attrition_steps=steps,
            analyses=analyses,
        )


@contextmanager
def open_inputs(warehouse: str | Path) -> Iterator[ReportInputs]:
    """Open the warehouse read-only; a missing or unreadable file is a `ContractViolation`."""
    path = Path(warehouse)
    if not path.is_file():
        raise ContractViolation(f"warehouse {path} not found: run `koord ingest` (and `koord build`) first")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ContractViolation(f"warehouse {path} cannot be opened read-only: {exc}") from None
    try:
        yield ReportInputs(con, str(path))
    finally:
        con.close()


def default_study_path(meta_build: Mapping[str, Any] | None = None) -> Path | None:
    """The study file to read when none is named: the one the build used, else the repository's."""
    source = (meta_build or {}).get("study_source")
    if source and Path(source).is_file():
        return Path(source)
    return DEFAULT_STUDY_FILE if DEFAULT_STUDY_FILE.is_file() else None


def run_time() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)
