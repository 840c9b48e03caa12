"""As-treated models with coordination as a time-varying exposure: Cox on (start, stop] rows, Poisson on aggregated person-time.

Both read `person_time` (one row per spell × time band × coordination state): coordination
switches the exposure at t_c, so the time before the first GC001 counts as unexposed and no
time is immortal. Follow-up starts at the entry day (delayed entry; default the study's
minimum spell length, since a spell is only in the study if it lasted that long). Return to
work is the event; competing events (sickness compensation, death, emigration, age 65) and
censoring end follow-up (cause-specific hazard).

- Cox: the bands of a spell are collapsed per coordination state into at most two rows
  (unexposed (entry, t_c], exposed (t_c, end]), adjusted for the confounders, with person-
  clustered robust standard errors (persons may have several spells).
- Poisson: person-time is split into the analysis' bands and aggregated IN DUCKDB into events
  and days at risk per covariate cell × band × coordination state; the piecewise-exponential
  model on those cells gives rate ratios that estimate the same hazard ratio from far fewer
  rows. Cells pool persons, so its standard errors are model-based (no person clustering).
  By default it adjusts for the person-level confounders but not home region and calendar
  year, which would make nearly every spell its own cell (see `specs`).

The effect per diagnosis chapter group comes from an interaction model (one exposure term
per chapter group), and every population is analysed for women and men separately too.
"""

from __future__ import annotations

from typing import Any, Callable

import duckdb
import numpy as np
import pandas as pd

from analyses.designs import _models
from analyses.designs._models import EXPOSURE, ratio_row, split_exposure
from analyses.designs.covariates import covariate_select_sql, fetch_categorical
from analyses.designs.diagnostics import flags, minimum_detectable_ratio
from analyses.designs.specs import AnalysisSpec, CommonParameters, TimeVaryingPoissonParameters
from analyses.results import Result
from koord.errors import ContractViolation

# Columns every design needs besides the confounders: the populations and the dimensions.
ALWAYS_COVARIATES = ("sex", "diagnosis_chapter_group")


def needed_covariates(*names: tuple[str, ...]) -> tuple[str, ...]:
    """Union of covariate names, in first-seen order, plus those every design needs."""
    return tuple(dict.fromkeys([*ALWAYS_COVARIATES, *(n for group in names for n in group)]))


def check_person_time(con: duckdb.DuckDBPyConnection) -> None:
    """Coordination switches once: per spell the unexposed rows end where the exposed begin, no gaps.

    Raises
    ------
    ContractViolation
        Naming how many spells break it and the first of them.
    """
    bad = con.execute("""
        with per_state as (
            select spell_id, is_coordinated, min(start_day) as first_start, max(stop_day) as last_stop,
                   sum(stop_day - start_day) as days
            from person_time group by spell_id, is_coordinated
        ),
        per_spell as (
            select spell_id,
                   max(case when not is_coordinated then last_stop end) as unexposed_stop,
                   min(case when is_coordinated then first_start end) as exposed_start,
                   bool_or(days <> last_stop - first_start) as has_gap
            from per_state group by spell_id
        )
        select count(*), min(spell_id) from per_spell
        where has_gap or unexposed_stop > exposed_start
    """).fetchall()[0]
    if bad[0]:
        raise ContractViolation(
            f"person_time: {bad[0]} spell(s) have unexposed time after exposed time or gaps between their "
            f"intervals (first spell_id {bad[1]}); coordination must switch the exposure once, at t_c"
        )


NEGATIVE_CONTROL_TABLE = "spell_negative_control_outcomes"


def person_time_source(outcome: str | None = None) -> str:
    """SQL of `person_time`'s intervals (spell_id, is_coordinated, start_day, stop_day, event) for an outcome.

    None: return to work (``event_return_to_work``), as the main analyses. A negative-control
    outcome id (issue 14): the first contact of that outcome in `spell_negative_control_outcomes`
    at time T = first_contact_day + 1 is the event; each spell's intervals are cut at T (rows from
    T on dropped), so follow-up ends at T or at the spell's end, whichever comes first, with the
    same exposure switch at t_c. With delayed entry (stop_day > entry day) a spell whose contact
    came by the entry day drops out: the outcome had already happened.
    """
    if outcome is None:
        return "select spell_id, is_coordinated, start_day, stop_day, event_return_to_work as event from person_time"
    oid = str(outcome).replace("'", "''")
    return f"""
        select p.spell_id, p.is_coordinated, p.start_day,
               case when n.first_contact_day is not null then least(p.stop_day, n.first_contact_day + 1)
                    else p.stop_day end as stop_day,
               case when n.first_contact_day + 1 > p.start_day and n.first_contact_day + 1 <= p.stop_day
                    then 1 else 0 end as event
        from person_time as p
        left join (select spell_id, first_contact_day from {NEGATIVE_CONTROL_TABLE} where outcome_id = '{oid}') as n
            using (spell_id)
        where n.first_contact_day is null or n.first_contact_day + 1 > p.start_day"""


def counting_process_rows(con: duckdb.DuckDBPyConnection, covariates: tuple[str, ...], entry_day: int,
                          outcome: str | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """(start, stop] rows per spell × coordination state from `person_time`, with covariates as text.

    Returns the rows (spell_id, person_id, start, stop, event, is_coordinated, covariates) and
    the counts of what was left out (spells whose follow-up ends at or before the entry day).
    ``outcome``: None = return to work; a negative-control outcome id = its first contact
    (`person_time_source`), whose spells with the contact by the entry day are counted as
    ``n_spells_with_outcome_by_entry_day``.
    """
    check_person_time(con)
    rows = fetch_categorical(con, f"""
        with collapsed as (
            select spell_id, is_coordinated, min(start_day) as start_day, max(stop_day) as stop_day,
                   max(event) as event
            from ({person_time_source(outcome)}) as pt
            group by spell_id, is_coordinated
        ),
        spell_covariates as (
            select spell_id, person_id,
                   {covariate_select_sql(covariates)}
            from spells
        )
        select c.spell_id, s.person_id, greatest(c.start_day, {int(entry_day)}) as start, c.stop_day as stop,
               c.event, cast(c.is_coordinated as double) as {EXPOSURE},
               (c.stop_day - greatest(c.start_day, {int(entry_day)}))::double as days_at_risk,
               s.* exclude (spell_id, person_id)
        from collapsed c
        join spell_covariates s using (spell_id)
        where c.stop_day > {int(entry_day)}
        order by c.spell_id, start
    """)
    n_spells, n_ending = con.execute(f"""
        select count(*), count(*) filter (where followup_days <= {int(entry_day)}) from spells
    """).fetchall()[0]
    book = {"n_spells": int(n_spells), "n_spells_ending_by_entry_day": int(n_ending)}
    if outcome is not None:
        book["n_spells_with_outcome_by_entry_day"] = int(con.execute(f"""
            select count(*) from {NEGATIVE_CONTROL_TABLE} n join spells s using (spell_id)
            where n.outcome_id = ? and n.first_contact_day + 1 <= {int(entry_day)} and s.followup_days > {int(entry_day)}
        """, [str(outcome)]).fetchall()[0][0])
    return rows, book


def spell_level(rows: pd.DataFrame, covariates: tuple[str, ...]) -> pd.DataFrame:
    """One row per spell: its covariates and whether its follow-up ends in the event."""
    first = rows.drop_duplicates("spell_id")[["spell_id", "person_id", *covariates]].set_index("spell_id")
    first["event"] = rows.groupby("spell_id")["event"].max()
    return first.reset_index()


def _exposure_diagnostics(params: CommonParameters, exposure: np.ndarray, event: np.ndarray,
                          immortal_time_safe: bool) -> dict[str, Any]:
    exposed = float((exposure * event).sum())
    total = float(event.sum())
    return flags(params, mdrr=minimum_detectable_ratio(total, exposed / total if total else 0.0),
                 events_per_arm={"exposed": exposed, "unexposed": total - exposed},
                 immortal_time_safe=immortal_time_safe)


def exposure_effects(rows: pd.DataFrame, spells: pd.DataFrame, spec: AnalysisSpec, fitter: Callable, *,
                     estimand: str, event_column: str = "event", immortal_time_safe: bool = True,
                     extra: dict[str, Any] | None = None) -> tuple[list[dict], dict]:
    """Main and per-chapter-group exposure effects in each population (all, women, men).

    Parameters
    ----------
    rows : model rows (intervals or aggregated cells) with the exposure, ``event_column``,
        ``days_at_risk`` and the covariates as text.
    spells : one row per spell in follow-up (``spell_id``, ``person_id``, covariates, ``event``):
        the confounder levels are planned on it and the persons and spells counted from it.
    fitter : ``fitter(rows, exposures, confounders, params, analysis_id, spells) -> ModelFit``.
    """
    params = spec.parameters
    out_rows: list[dict] = []
    model_diagnostics: dict[str, Any] = {}
    for data in _models.population_data(params, rows, spells):
        sub, spells_sub, confounders, population = data.rows, data.spells, data.confounders, data.population
        exposure = sub[EXPOSURE].to_numpy(dtype=float)
        event = sub[event_column].to_numpy(dtype=float)
        days = sub["days_at_risk"].to_numpy(dtype=float)
        label = population.sex

        def row(fit, column, subgroup, level, mask, spell_mask, **more):
            diag = _exposure_diagnostics(params, exposure[mask], event[mask], immortal_time_safe)
            return ratio_row(fit, column, estimand=estimand, term=EXPOSURE, subgroup=subgroup, level=level, sex=label,
                             n_persons=int(spells_sub.loc[spell_mask, "person_id"].nunique()),
                             n_spells=int(spell_mask.sum()), n_events=int(event[mask].sum()), diagnostics=diag,
                             exposed_days=float((exposure * days)[mask].sum()),
                             unexposed_days=float(((1 - exposure) * days)[mask].sum()), **more, **(extra or {}))

        fit = fitter(sub, {EXPOSURE: exposure}, confounders, params, spec.id, spells_sub)
        model_diagnostics[f"{label}/main"] = {**fit.diagnostics, "levels": fit.plan.describe()}
        out_rows.append(row(fit, EXPOSURE, population.subgroup, label, np.ones(len(sub), bool),
                            np.ones(len(spells_sub), bool)))
        if not params.by_chapter_group:
            continue
        columns, terms, pooled = split_exposure(sub, exposure, "diagnosis_chapter_group", event, params.min_events)
        fit_by = fitter(sub, columns, confounders, params, spec.id, spells_sub)
        chi2, df, p = _models.wald_equality_test(fit_by, [t.column for t in terms if t.level != _models.POOLED_LEVELS])
        model_diagnostics[f"{label}/by_chapter_group"] = {**fit_by.diagnostics, "pooled_levels": pooled,
                                                          "heterogeneity_chi2": chi2, "heterogeneity_df": df,
                                                          "heterogeneity_p": p}
        chapter = spells_sub["diagnosis_chapter_group"].astype(str)
        for t in terms:
            levels = pooled if t.level == _models.POOLED_LEVELS else [t.level]
            out_rows.append(row(fit_by, t.column, t.subgroup, t.level, t.mask, chapter.isin(levels).to_numpy(),
                                heterogeneity_p=p))
    return out_rows, model_diagnostics


def time_varying_cox(spec: AnalysisSpec, rows: pd.DataFrame, spells: pd.DataFrame,
                     bookkeeping: dict[str, int]) -> Result:
    """Adjusted as-treated Cox: hazard ratio of return to work while coordinated vs not yet.

    Parameters
    ----------
    spec : the analysis (design 'time_varying_cox'), with ``entry_day`` resolved.
    rows : `counting_process_rows` output.
    spells : `spell_level(rows)`: one row per spell in follow-up.
    bookkeeping : counts of what was left out.
    """
    summary_rows, model_diag = exposure_effects(rows, spells, spec, _models.fit_exposure_cox, estimand="hazard_ratio")
    diagnostics = {"design": spec.design, "entry_day": spec.parameters.entry_day, **bookkeeping,
                   "n_rows": int(len(rows)), "models": model_diag}
    summary = _models.finish_summary(summary_rows, spec.id, "cox", diagnostics)
    return Result(analysis_id=spec.id, method="cox", summary=summary, diagnostics=diagnostics, tables={})


# --- Poisson on person-time aggregated in DuckDB --------------------------------------------


def band_table(cuts: tuple[int, ...], entry_day: int) -> list[tuple[int, int, str]]:
    """(band_start, band_stop, label) of the bands from the entry day; the last band is open."""
    starts = [int(entry_day)] + [int(c) for c in cuts if c > entry_day]
    bands = []
    for lo, hi in zip(starts, starts[1:] + [None]):
        bands.append((lo, hi if hi is not None else 2**31 - 1, f"({lo},{hi}]" if hi is not None else f"({lo},)"))
    return bands


def aggregate_person_time(con: duckdb.DuckDBPyConnection, cell_columns: tuple[str, ...], cuts: tuple[int, ...],
                          entry_day: int, outcome: str | None = None) -> pd.DataFrame:
    """Events and days at risk per covariate cell × band × coordination state, computed in DuckDB.

    Each person_time interval (start, stop] is cut at the band limits after delayed entry;
    its days at risk are shared among the bands it overlaps and its event (at ``stop``) goes to
    the band that holds ``stop``. Only the aggregated cells leave the database. ``outcome``: None
    = return to work, else a negative-control outcome id (`person_time_source`).
    """
    check_person_time(con)
    bands = band_table(cuts, entry_day)
    values = ", ".join(f"({lo}, {hi}, '{label}')" for lo, hi, label in bands)
    cells = ", ".join(cell_columns)
    return con.execute(f"""
        with bands(band_start, band_stop, band) as (values {values}),
        intervals as (
            select spell_id, is_coordinated, greatest(start_day, {int(entry_day)}) as start_day, stop_day,
                   event
            from ({person_time_source(outcome)}) as pt
            where stop_day > {int(entry_day)}
        ),
        spell_covariates as (
            select spell_id, {covariate_select_sql(cell_columns)}
            from spells
        ),
        split as (
            select {', '.join(f's.{c}' for c in cell_columns)}, i.is_coordinated, b.band, b.band_start,
                   least(i.stop_day, b.band_stop) - greatest(i.start_day, b.band_start) as days,
                   case when i.event = 1 and i.stop_day <= b.band_stop then 1 else 0 end as event
            from intervals i
            join spell_covariates s using (spell_id)
            join bands b on b.band_start < i.stop_day and b.band_stop > i.start_day
        )
        select {cells}, band, band_start, cast(is_coordinated as double) as {EXPOSURE},
               sum(days)::double as days_at_risk, sum(event)::double as events
        from split
        group by all
        order by all
    """).df()


def time_varying_poisson(spec: AnalysisSpec, cells: pd.DataFrame, spells: pd.DataFrame) -> Result:
    """Adjusted rate ratio of return to work while coordinated, from aggregated person-time.

    Parameters
    ----------
    spec : design 'time_varying_poisson', entry day resolved.
    cells : `aggregate_person_time` output with the confounders, ``sex`` and ``diagnosis_chapter_group``.
    spells : one row per spell in follow-up (covariates as text, ``event``): the level plan and
        the person counts (cells pool persons).
    """
    params: TimeVaryingPoissonParameters = spec.parameters
    summary_rows, model_diag = exposure_effects(cells, spells, spec, _models.fit_exposure_poisson,
                                                estimand="rate_ratio", event_column="events")
    diagnostics = {"design": spec.design, "entry_day": params.entry_day,
                   "bands": [label for _, _, label in band_table(params.band_cuts, params.entry_day)],
                   "n_cells": int(len(cells)), "models": model_diag}
    summary = _models.finish_summary(summary_rows, spec.id, "poisson", diagnostics)
    return Result(analysis_id=spec.id, method="poisson", summary=summary, diagnostics=diagnostics, tables={})


__all__ = ["NEGATIVE_CONTROL_TABLE", "person_time_source", "aggregate_person_time", "band_table", "check_person_time", "counting_process_rows", "exposure_effects",
           "needed_covariates", "spell_level", "time_varying_cox", "time_varying_poisson"]
