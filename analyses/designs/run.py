"""Run the analyses a study names on the warehouse's analysis tables and write their results.

`run_analyses` reads `spells` and `person_time` (schema main) and returns one `Result` per
analysis; `write_results` is the only place that writes: the schema `results` of the
warehouse (one table per analysis id, plus `cif_curves`, `balance` and the catalogue
`_analyses`; the schema is rewritten as a whole so no stale result survives a changed study)
and, as unchecked working material that must not leave the secure environment,
`<out>/internt/results/*.csv`, `<out>/internt/figures/*.png` and `<out>/internt/LÄS_MIG.txt`
saying so (the folder's name: `INTERNAL_DIR`, in `analyses.designs.outputs`). Only
`<out>/report/`, after `koord report`'s disclosure control, is meant to leave.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from analyses.designs import figures
from analyses.designs.covariates import KNOWN_COVARIATES, covariate_select_sql, fetch_categorical
from analyses.designs.evalue import e_value_result
from analyses.designs.heterogeneity import heterogeneity
from analyses.designs.landmark import landmark
from analyses.designs.naive import naive_ever_coordinated
from analyses.designs.outputs import FIGURES_DIR, INTERNAL_DIR, RESULTS_DIR, internal_dir, write_internal_readme
from analyses.designs.specs import AnalysisSpec, resolve_entry_day
from analyses.designs.time_varying import (
    aggregate_person_time,
    counting_process_rows,
    needed_covariates,
    spell_level,
    time_varying_cox,
    time_varying_poisson,
)
from analyses.designs.trial_emulation import target_trial
from analyses.results import Result, diagnostics_json
from koord.errors import ContractViolation

RESULTS_SCHEMA = "results"
REQUIRED_TABLES = ("spells", "person_time")
CATALOGUE_TABLE = "_analyses"


def check_inputs(con: duckdb.DuckDBPyConnection) -> None:
    """The analysis tables exist (``koord build`` has run)."""
    present = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
    missing = [t for t in REQUIRED_TABLES if t not in present]
    if missing:
        raise ContractViolation(f"the warehouse has no analysis table(s) {', '.join(missing)} in schema main: "
                                "run `koord build --warehouse FILE` first")


def load_spells(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per spell with its follow-up, coordination, end reason and every covariate as text (categorical)."""
    return fetch_categorical(con, f"""
        select spell_id, person_id, followup_days, days_to_first_gc001, end_reason, is_coordinated,
               {covariate_select_sql(KNOWN_COVARIATES)}
        from spells
        order by spell_id
    """)


def spells_in_followup(spells: pd.DataFrame, entry_day: int) -> pd.DataFrame:
    """Spells followed beyond the entry day, with ``event`` = ends in return to work."""
    out = spells.loc[spells["followup_days"] > entry_day].reset_index(drop=True)
    out["event"] = (out["end_reason"].astype(str) == "return_to_work").astype(float)
    return out


@dataclass
class _Cache:
    """Inputs shared by several analyses (rows and cells depend on entry day and covariates)."""

    con: duckdb.DuckDBPyConnection
    spells: pd.DataFrame
    rows: dict = field(default_factory=dict)
    cells: dict = field(default_factory=dict)

    def counting_rows(self, covariates: tuple[str, ...], entry_day: int):
        key = (covariates, entry_day)
        if key not in self.rows:
            self.rows[key] = counting_process_rows(self.con, covariates, entry_day)
        return self.rows[key]

    def aggregated(self, covariates: tuple[str, ...], cuts: tuple[int, ...], entry_day: int) -> pd.DataFrame:
        key = (covariates, cuts, entry_day)
        if key not in self.cells:
            self.cells[key] = aggregate_person_time(self.con, covariates, cuts, entry_day)
        return self.cells[key]


def run_one(spec: AnalysisSpec, cache: _Cache, done: dict[str, Result], say: Callable[[str], None]) -> Result:
    """Dispatch one analysis to its design."""
    p = spec.parameters
    if spec.design == "time_varying_cox":
        covariates = needed_covariates(p.confounders)
        rows, book = cache.counting_rows(covariates, p.entry_day)
        return time_varying_cox(spec, rows, spell_level(rows, covariates), book)
    if spec.design == "time_varying_poisson":
        covariates = needed_covariates(p.confounders)
        cells = cache.aggregated(covariates, tuple(p.band_cuts), p.entry_day)
        return time_varying_poisson(spec, cells, spells_in_followup(cache.spells, p.entry_day))
    if spec.design == "target_trial":
        return target_trial(spec, cache.spells, progress=say)
    if spec.design == "landmark":
        return landmark(spec, cache.spells)
    if spec.design == "naive_ever_coordinated":
        return naive_ever_coordinated(spec, cache.spells)
    if spec.design == "heterogeneity":
        covariates = needed_covariates(p.confounders, p.dimensions)
        if p.model == "cox":
            rows, _ = cache.counting_rows(covariates, p.entry_day)
            return heterogeneity(spec, rows, spell_level(rows, covariates))
        cells = cache.aggregated(covariates, tuple(p.band_cuts), p.entry_day)
        return heterogeneity(spec, cells, spells_in_followup(cache.spells, p.entry_day))
    if spec.design == "e_value":
        return e_value_result(spec, done[p.source])
    raise ValueError(f"no runner for design {spec.design!r}")  # specs validation makes this unreachable


def run_analyses(con: duckdb.DuckDBPyConnection, specs: tuple[AnalysisSpec, ...], min_spell_days: int,
                 say: Callable[[str], None] = lambda _: None) -> tuple[tuple[AnalysisSpec, ...], dict[str, Result]]:
    """Run every analysis in order; return the specs with their entry days resolved and the results.

    Parameters
    ----------
    con : the warehouse (read only here).
    specs : validated analyses (`specs.specs_from_table`).
    min_spell_days : the study's minimum spell length, the default entry day.
    say : progress messages.
    """
    check_inputs(con)
    resolved = tuple(resolve_entry_day(s, min_spell_days) for s in specs)
    cache = _Cache(con, load_spells(con))
    done: dict[str, Result] = {}
    for i, spec in enumerate(resolved, 1):
        say(f"[{i}/{len(resolved)}] {spec.id} ({spec.design}) …")
        t0 = time.perf_counter()
        done[spec.id] = run_one(spec, cache, done, say)
        say(f"[{i}/{len(resolved)}] {spec.id}: {len(done[spec.id].summary)} rows, {time.perf_counter() - t0:.1f} s")
    return resolved, done


# --- writing -----------------------------------------------------------------------------------


def _long_table(results: dict[str, Result], name: str) -> pd.DataFrame:
    frames = [r.tables[name] for r in results.values() if name in r.tables and len(r.tables[name])]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def catalogue(specs: tuple[AnalysisSpec, ...], results: dict[str, Result]) -> pd.DataFrame:
    """One row per analysis: id, design, description, parameters and the analysis' own diagnostics
    (models, merged levels, weights, counts left out; JSON), rows written."""
    return pd.DataFrame([{"id": s.id, "design": s.design, "description": s.description,
                          "parameters": json.dumps(s.to_dict()["parameters"], sort_keys=True),
                          "diagnostics": diagnostics_json(results[s.id].diagnostics),
                          "n_rows": int(len(results[s.id].summary))} for s in specs])


def _replace_rows(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, key: str,
                  values: list[str]) -> None:
    """Replace the rows of ``values`` (by ``key``) in results.<name>, creating the table if absent."""
    exists = con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                         [RESULTS_SCHEMA, name]).fetchall()[0][0]
    con.register("_frame", frame)
    if exists:
        con.execute(f'delete from {RESULTS_SCHEMA}."{name}" where {key} in (select unnest(?))', [values])
        con.execute(f'insert into {RESULTS_SCHEMA}."{name}" by name select * from _frame')
    else:
        con.execute(f'create table {RESULTS_SCHEMA}."{name}" as select * from _frame')
    con.unregister("_frame")


def write_results(con: duckdb.DuckDBPyConnection, specs: tuple[AnalysisSpec, ...], results: dict[str, Result],
                  out_dir: Path, *, replace_all: bool = True) -> dict[str, Path]:
    """Write the results schema, the CSV files and the figures; return the files written.

    The files go to ``out_dir/internt/`` (`INTERNAL_DIR`): ``results/<name>.csv``,
    ``figures/*.png`` and ``LÄS_MIG.txt``, which says they are unchecked and must not leave the
    secure environment; nothing is written directly under ``out_dir``, where ``report/`` goes.
    The keys of the dict returned are the paths relative to ``out_dir/internt/``.

    With ``replace_all`` (a whole study) the schema `results` is dropped and rebuilt, so no
    table of an analysis the study no longer runs survives; otherwise (``--only``) only the
    tables and rows of these analyses are replaced. Either way in one transaction.
    """
    ids = [s.id for s in specs]
    clash = [k for k in ("cif_curves", "balance", CATALOGUE_TABLE) if k in ids]
    if clash:
        raise ContractViolation(f"analysis id(s) {clash} clash with the results tables of the same name")
    tables = {s.id: results[s.id].summary for s in specs}
    shared = {"cif_curves": _long_table(results, "cif_curves"), "balance": _long_table(results, "balance"),
              CATALOGUE_TABLE: catalogue(specs, results)}
    con.execute("begin transaction")
    try:
        if replace_all:
            con.execute(f"drop schema if exists {RESULTS_SCHEMA} cascade")
        con.execute(f"create schema if not exists {RESULTS_SCHEMA}")
        for name, frame in tables.items():
            con.register("_frame", frame)
            con.execute(f'create or replace table {RESULTS_SCHEMA}."{name}" as select * from _frame')
            con.unregister("_frame")
        for name, frame in shared.items():
            if len(frame.columns):
                _replace_rows(con, name, frame, "id" if name == CATALOGUE_TABLE else "analysis_id", ids)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    written: dict[str, Path] = {}
    internal = internal_dir(out_dir)
    readme = write_internal_readme(out_dir)
    written[readme.name] = readme
    results_dir = internal / RESULTS_DIR
    results_dir.mkdir(parents=True, exist_ok=True)
    everything = {**tables}
    for name in shared:
        present = con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                              [RESULTS_SCHEMA, name]).fetchall()[0][0]
        if present:
            everything[name] = con.execute(f'select * from {RESULTS_SCHEMA}."{name}"').df()
    for name, frame in everything.items():
        path = results_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        written[f"{RESULTS_DIR}/{name}.csv"] = path
    written.update(figures.write_figures(everything, specs, internal / FIGURES_DIR))
    return written


__all__ = ["INTERNAL_DIR", "RESULTS_SCHEMA", "check_inputs", "load_spells", "run_analyses", "spells_in_followup",
           "write_results"]
