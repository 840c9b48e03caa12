"""Run the analyses a study names on the warehouse's analysis tables.

`run_analyses` reads `spells` and `person_time` (schema main, through the read connection it
is handed: person-time is aggregated inside DuckDB, which is what lets a national cohort fit
in memory) and returns one `Result` per analysis; `catalogue` and `long_table` shape them for
storage. Nothing here writes: `koord analyse` (`pipeline.commands.results_store`) writes the
schema `results`, the CSV files and the figures.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable

import duckdb
import pandas as pd

from analyses.designs.collaboration import collaboration, load_collaboration
from analyses.designs.covariates import KNOWN_COVARIATES, covariate_select_sql, fetch_categorical
from analyses.designs.evalue import e_value_result
from analyses.designs.heterogeneity import heterogeneity
from analyses.designs.interrupted_time_series import interrupted_time_series, load_its_inputs
from analyses.designs.landmark import landmark
from analyses.designs.naive import naive_ever_coordinated
from analyses.designs.need import coordination_need
from analyses.designs.negative_controls import calibration, negative_controls
from analyses.designs.regions import TABLE_OF_DESIGN, regional_fits, regional_inputs, regional_result
from analyses.designs.relapse import relapse_sensitivity
from analyses.designs.scenarios import scenarios
from analyses.designs.specs import AnalysisSpec, resolve_entry_day
from analyses.designs.survey import load_survey, survey_analysis
from analyses.designs.timing import coordination_timing
from analyses.designs.timing_strategies import coordination_timing_strategies
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
from data_schemas.tables import COLLABORATION_EVENT_COLUMNS
from koord.errors import ContractViolation

RESULTS_SCHEMA = "results"
# Day of the first FK collaboration event of each type (days_to_first_fk_avst, ..._info4, ...)
FK_FIRST_DAY_COLUMNS = tuple(f"days_to_first_{c[2:]}" for c in COLLABORATION_EVENT_COLUMNS.values())
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
               spell_days, is_open_at_extraction, n_gc001, prior_sick_days_730,
               days_to_first_dv077, days_to_first_aw026, {", ".join(FK_FIRST_DAY_COLUMNS)},
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
    regional_fits: dict = field(default_factory=dict)
    specs: dict = field(default_factory=dict)  # the resolved specs by id (negative controls rerun their sources)

    def counting_rows(self, covariates: tuple[str, ...], entry_day: int):
        key = (covariates, entry_day)
        if key not in self.rows:
            self.rows[key] = counting_process_rows(self.con, covariates, entry_day)
        return self.rows[key]

    def regional(self, params, say: Callable[[str], None]):
        """One set of regional fits serves the three regional designs run with the same parameters."""
        if params not in self.regional_fits:
            say("  regions: aggregating cells in DuckDB …")
            self.regional_fits[params] = regional_fits(regional_inputs(self.con, params), params, say)
        return self.regional_fits[params]

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
    if spec.design in TABLE_OF_DESIGN:
        return regional_result(spec, cache.regional(p, say))
    if spec.design == "coordination_timing":
        return coordination_timing(spec, cache.spells, progress=say)
    if spec.design == "coordination_need":
        return coordination_need(spec, cache.spells, progress=say)
    if spec.design == "coordination_timing_strategies":
        return coordination_timing_strategies(spec, cache.spells, progress=say)
    if spec.design == "collaboration":
        extra, avst = load_collaboration(cache.con)
        return collaboration(spec, cache.spells, extra, avst, progress=say)
    if spec.design == "survey":
        responses, frame = load_survey(cache.con)
        return survey_analysis(spec, responses, frame, cache.spells, progress=say)
    if spec.design == "negative_controls":
        return negative_controls(spec, {s: cache.specs[s] for s in p.sources}, cache.con, cache.spells, progress=say)
    if spec.design == "empirical_calibration":
        return calibration(spec, done)
    if spec.design == "relapse_sensitivity":
        return relapse_sensitivity(spec, {s: cache.specs[s] for s in p.sources}, cache.con, progress=say)
    if spec.design == "interrupted_time_series":
        its_spells, extraction_date, relapse_window = load_its_inputs(cache.con, p.case_mix)
        return interrupted_time_series(spec, its_spells, extraction_date, relapse_window, progress=say)
    if spec.design == "scenarios":
        return scenarios(spec, cache.spells, progress=say)
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
    cache.specs = {s.id: s for s in resolved}
    done: dict[str, Result] = {}
    for i, spec in enumerate(resolved, 1):
        say(f"[{i}/{len(resolved)}] {spec.id} ({spec.design}) …")
        t0 = time.perf_counter()
        done[spec.id] = run_one(spec, cache, done, say)
        say(f"[{i}/{len(resolved)}] {spec.id}: {len(done[spec.id].summary)} rows, {time.perf_counter() - t0:.1f} s")
    return resolved, done


# --- what the command writes ------------------------------------------------------------------


def long_table(results: dict[str, Result], name: str) -> pd.DataFrame:
    frames = [r.tables[name] for r in results.values() if name in r.tables and len(r.tables[name])]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def catalogue(specs: tuple[AnalysisSpec, ...], results: dict[str, Result]) -> pd.DataFrame:
    """One row per analysis: id, design, description, parameters and the analysis' own diagnostics
    (models, merged levels, weights, counts left out; JSON), rows written."""
    return pd.DataFrame([{"id": s.id, "design": s.design, "description": s.description,
                          "parameters": json.dumps(s.to_dict()["parameters"], sort_keys=True),
                          "diagnostics": diagnostics_json(results[s.id].diagnostics),
                          "n_rows": int(len(results[s.id].summary))} for s in specs])


__all__ = ["CATALOGUE_TABLE", "RESULTS_SCHEMA", "catalogue", "check_inputs", "load_spells", "long_table",
           "run_analyses", "spells_in_followup"]
