"""Collaboration with Försäkringskassan, Arbetsförmedlingen and employers in the registers (issue 13, `collaboration`).

FK's case events (`spell_collaboration_events`: reconciliation meetings AVST, 4 § information
INFO4, the employer's plan PLAN, joint mapping with AF AFKART, each dated within the spell's
follow-up) and AF's registration periods, for everyone, women and men. Eligible spells are
those still followed at the entry day (as coordination_timing's cohort).

Rows of the summary (column ``measure``; every row also carries ``sex``, ``n_spells`` and ``day``):

- ``rate_per_1000_eligible`` / ``rate_per_coordinated`` (estimand 'rate', term = the event
  type): events in follow-up per 1 000 eligible spells, and per coordinated eligible spell, by
  the ``dimensions``. Events repeat within spells and persons have several spells, so the
  interval is Wald on the log scale with a person-clustered (linearised ratio) standard error:
  var(R) = G / (G - 1) / n² × Σ_persons (y_p - R n_p)², R = Σ y / n; with no event the exact
  Poisson upper limit 1000 × χ²(0.975; 2) / 2 / n (or without the 1000).
- ``participation`` (estimand 'share', term 'care' / 'employer' / 'af'): the share of AVST with
  the actor taking part, among AVST with that flag recorded, Wilson 95 % interval (per meeting;
  meetings of one person are not independent, so the interval is somewhat narrow when persons
  have several).
- ``first_info4_after_gc001`` / ``first_avst_after_gc001`` (estimand 'cumulative_incidence'):
  among coordinated eligible spells, Aalen–Johansen incidence of the first 4 § information and
  the first AVST from the first GC001 by each of ``sequence_days``, the end of follow-up
  competing (`timing.support_events`: an event on or before the day of the first GC001 counts
  at time 0.5, "already there").
- ``avst_vs_gc001`` (estimand 'share', level 'before' / 'same_day' / 'after'): among coordinated
  eligible spells with an AVST, when the first AVST came relative to the first GC001 (Wilson).
- ``af_registered_at_start`` (estimand 'share'): unemployed spells (occupation status ARBL at
  the start) registered at AF on their first day.
- ``af_registration`` (estimand 'cumulative_incidence'): among unemployed spells not registered
  at start, registration at AF by each of ``af_days`` from the spell's start, the end of
  follow-up competing (a registration on day index k is an event at time k).
- ``af_registration_coordination_rr`` (estimand 'rate_ratio', term 'coordinated'): the rate of
  AF registration while coordinated against before/without coordination, coordination as a
  time-varying exposure from the day after the first GC001 (no immortal time), piecewise-
  exponential Poisson on person-time from day 0 adjusted for ``af_confounders`` (model SE).
- ``rtw_collaboration_rr`` (estimand 'rate_ratio', association): return to work by exposure
  state, each against not coordinated: 'coordinated_no_employer_avst' (after the first GC001)
  and 'coordinated_employer_avst' (coordinated and an employer has taken part in an AVST; the
  state starts after the meeting day, or after the first GC001 if the meeting came first);
  term 'employer_vs_no_employer' is their ratio. The model of tv_poisson (bands from the entry
  day, the same confounders), on person-time split by state. An association: who gets an
  employer to a meeting is not random.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analyses.designs._models import (
    Population,
    finish_summary,
    fit_exposure_poisson,
    populations,
    ratio_row,
)
from analyses.designs.covariates import fetch_categorical
from analyses.designs.specs import AnalysisSpec, CollaborationParameters
from analyses.designs.time_varying import band_table
from analyses.designs.timing import (
    SUPPORT_EVENT,
    groups_of,
    incidence_by_level,
    is_end_known,
    support_events,
)
from analyses.results import CONFIDENCE_LEVEL, Z_95, Result
from data_schemas.tables import COLLABORATION_EVENT_COLUMNS
from koord.errors import ConvergenceError

METHOD = "collaboration"
EVENT_TYPES: tuple[str, ...] = tuple(COLLABORATION_EVENT_COLUMNS)  # AVST, INFO4, PLAN, AFKART
PARTICIPANTS: tuple[tuple[str, str], ...] = (("care", "has_care_participated"), ("employer", "has_employer_participated"),
                                             ("af", "has_af_participated"))
SEQUENCE_MEASURES: tuple[tuple[str, str], ...] = (("first_info4_after_gc001", "days_to_first_fk_info4"),
                                                  ("first_avst_after_gc001", "days_to_first_fk_avst"))
UNEMPLOYED = "ARBL"
AF_EVENT, END_OF_FOLLOWUP, CENSORED = "af_registration", "end_of_followup", "censored"
STATE_NONE, STATE_NO_EMPLOYER, STATE_EMPLOYER = "not_coordinated", "coordinated_no_employer_avst", "coordinated_employer_avst"
_ALPHA = 1 - CONFIDENCE_LEVEL
# the spells' columns this design needs besides `analyses.designs.run.load_spells`
SPELL_COLUMNS: tuple[str, ...] = (*COLLABORATION_EVENT_COLUMNS.values(), "days_to_first_avst_employer",
                                  "is_registered_af_at_start", "days_to_af_registration")


# --- inputs ----------------------------------------------------------------------------------------


def load_collaboration(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(spells' collaboration columns by spell_id, the AVST rows of spell_collaboration_events)."""
    spells = con.execute(f"select spell_id, {', '.join(SPELL_COLUMNS)} from spells order by spell_id").df()
    avst = fetch_categorical(con, """
        select spell_id, has_care_participated, has_employer_participated, has_af_participated
        from spell_collaboration_events where event_type = 'AVST' order by spell_id, event_seq
    """)
    return spells, avst


# --- estimators ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Events per unit (spell), with a person-clustered interval."""

    estimate: float
    std_error: float  # of the rate (natural scale)
    conf_low: float
    conf_high: float
    events: int
    units: int
    persons: int


def clustered_rate(events: np.ndarray, person: np.ndarray, scale: float = 1.0) -> Rate:
    """Rate R = scale × Σ events / n over n units, person-clustered Wald interval on the log scale.

    var(R / scale) = G / (G - 1) / n² × Σ_p (Y_p - R n_p)² (Y_p, n_p: the person's events and
    units; G persons), the linearised variance of a ratio estimator with clusters. The interval
    is R × exp(± z SE / R). With no event the lower limit is 0 and the upper the exact Poisson
    one, scale × χ²(0.975; 2) / 2 / n.
    """
    y = np.asarray(events, dtype=float)
    n = len(y)
    if n == 0:
        return Rate(np.nan, np.nan, np.nan, np.nan, 0, 0, 0)
    codes, _ = pd.factorize(np.asarray(person))
    g = int(codes.max()) + 1
    total = float(y.sum())
    r = total / n
    yp = np.bincount(codes, weights=y, minlength=g)
    npers = np.bincount(codes, minlength=g).astype(float)
    if total == 0:
        upper = stats.chi2.ppf(1 - _ALPHA / 2, 2) / 2 / n
        return Rate(0.0, 0.0, 0.0, scale * upper, 0, n, g)
    var = (g / (g - 1) if g > 1 else np.nan) * float(((yp - r * npers) ** 2).sum()) / n ** 2
    se = float(np.sqrt(var))
    se_log = se / r
    return Rate(scale * r, scale * se, scale * r * float(np.exp(-Z_95 * se_log)), scale * r * float(np.exp(Z_95 * se_log)),
                int(total), n, g)


def wilson(successes: np.ndarray | float, trials: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score 95 % interval of k / n (NaN when n = 0)."""
    k, n = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    z = Z_95
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z ** 2 / (2 * n)) / (1 + z ** 2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z ** 2 / (4 * n ** 2)) / (1 + z ** 2 / n)
    return centre - half, centre + half


def af_events(spells: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Time from spell start to AF registration (day index k at time k), or the end of follow-up.

    Returns (time, cause) with cause 'af_registration', 'end_of_followup' (known end) or 'censored'.
    """
    day = spells["days_to_af_registration"].to_numpy(dtype=float)
    has = ~np.isnan(day)
    time = np.where(has, np.maximum(day, 0.5), spells["followup_days"].to_numpy(dtype=float))
    cause = np.select([has, is_end_known(spells)], [AF_EVENT, END_OF_FOLLOWUP], default=CENSORED).astype(object)
    return time, cause


# --- person-time split by states -------------------------------------------------------------------


def split_states(start: np.ndarray, switches: list[np.ndarray], stop: np.ndarray, event: np.ndarray,
                 bands: list[tuple[int, int, str]]) -> pd.DataFrame:
    """Person-time (start, stop] of each unit cut at the state switches and the bands.

    ``switches[j]``: the time the unit enters state j + 1 (NaN or >= stop: never); states are
    ordered, so a unit is in state s on (max(start, switch[s-1]), switch[s]]. The event (at
    ``stop``) goes to the band and state holding ``stop``. Returns one row per unit × band ×
    state with positive time: ``unit`` (row index), ``band``, ``band_start``, ``state`` (0, 1, ...),
    ``days_at_risk``, ``events``.
    """
    start, stop = np.asarray(start, float), np.asarray(stop, float)
    n = len(start)
    edges = [start]
    for sw in switches:
        s = np.where(np.isnan(sw), np.inf, np.asarray(sw, float))
        edges.append(np.clip(s, edges[-1], None))
    edges.append(np.full(n, np.inf))
    out = []
    for state in range(len(edges) - 1):
        a = np.maximum(edges[state], start)
        b = np.minimum(edges[state + 1], stop)
        for lo, hi, label in bands:
            days = np.minimum(b, hi) - np.maximum(a, lo)
            keep = days > 0
            if not keep.any():
                continue
            ev = event & (stop <= b) & (stop > a) & (stop > lo) & (stop <= hi)
            idx = np.flatnonzero(keep)
            out.append(pd.DataFrame({"unit": idx, "band": label, "band_start": lo, "state": state,
                                     "days_at_risk": days[idx], "events": ev[idx].astype(float)}))
    if not out:
        return pd.DataFrame(columns=["unit", "band", "band_start", "state", "days_at_risk", "events"])
    return pd.concat(out, ignore_index=True)


def aggregate_cells(units: pd.DataFrame, pieces: pd.DataFrame, covariates: tuple[str, ...]) -> pd.DataFrame:
    """Events and days at risk per covariate cell × band × state (the aggregated Poisson data).

    Grouped on integer codes (one per unit and covariate, taken by the pieces' unit), the labels
    put back on the cells only: a national cohort's pieces never carry text.
    """
    unit = pieces["unit"].to_numpy()
    coded = {}
    labels = {}
    for c in covariates:
        codes, uniques = pd.factorize(units[c].astype(str), sort=True)
        coded[c] = codes[unit]
        labels[c] = np.asarray(uniques, dtype=object)
    frame = pd.DataFrame({**coded, "band_start": pieces["band_start"].to_numpy(), "state": pieces["state"].to_numpy(),
                          "days_at_risk": pieces["days_at_risk"].to_numpy(), "events": pieces["events"].to_numpy()})
    keys = [*covariates, "band_start", "state"]
    cells = frame.groupby(keys, sort=True)[["days_at_risk", "events"]].sum().reset_index()
    for c in covariates:
        cells[c] = labels[c][cells[c].to_numpy()]
    band_of = dict(zip(pieces["band_start"], pieces["band"]))
    cells.insert(len(covariates), "band", cells["band_start"].map(band_of))
    return cells


def merge_empty_bands(cells: pd.DataFrame) -> pd.DataFrame:
    """Bands without an event pooled with the band before (the first with the one after): a band
    with no event has no finite baseline rate. Returns the cells re-aggregated."""
    totals = cells.groupby("band_start", sort=True)["events"].sum()
    starts = list(totals.index)
    target = {}
    current = None
    for b in starts:
        if totals[b] > 0 or current is None:
            current = b
        target[b] = current
    if totals[starts[0]] == 0:  # leading empty bands go to the first band with events
        first_with = next((b for b in starts if totals[b] > 0), starts[0])
        target = {b: (first_with if t == starts[0] else t) for b, t in target.items()}
    labels = cells.drop_duplicates("band_start").set_index("band_start")["band"]
    out = cells.copy()
    out["band_start"] = out["band_start"].map(target)
    out["band"] = out["band_start"].map(labels)
    keys = [c for c in out.columns if c not in ("days_at_risk", "events")]
    return out.groupby(keys, observed=True, sort=True)[["days_at_risk", "events"]].sum().reset_index()


def state_rate_ratios(units: pd.DataFrame, cells: pd.DataFrame, state_names: tuple[str, ...], params, spec_id: str,
                      confounders: tuple[str, ...], *, estimand: str, measure: str, population: Population,
                      contrast: tuple[str, str, str] | None = None) -> tuple[list[dict], dict]:
    """Rate ratios of each state (> 0) against state 0 from `_models.fit_exposure_poisson`.

    ``units`` (one row per unit with the confounders and ``event``) plans the levels; ``contrast``
    (term, numerator state, denominator state) adds the ratio of two exposed states.
    """
    cells = merge_empty_bands(cells)
    state = cells["state"].to_numpy()
    exposures = {name: (state == k + 1).astype(float) for k, name in enumerate(state_names[1:])}
    present = {name: col for name, col in exposures.items() if col.any()}
    if not present or cells["events"].sum() == 0:
        return [], {"skipped": "no exposed person-time or no events"}
    try:
        fit = fit_exposure_poisson(cells, present, confounders, params, spec_id, units)
    except ConvergenceError as exc:
        return [], {"skipped": f"the Poisson model did not fit: {exc}"}
    level = population.sex if population.sex != "all" else "all"
    rows = []
    n_persons = int(units["person_id"].nunique())
    for k, name in enumerate(state_names[1:], start=1):
        if name not in present:
            continue
        in_state = cells["state"].to_numpy() == k
        rows.append(ratio_row(fit, name, estimand=estimand, term=name, subgroup=population.subgroup, level=level,
                              sex=population.sex, n_persons=n_persons, n_spells=int(len(units)),
                              n_events=int(cells.loc[in_state, "events"].sum()),
                              diagnostics={"days_at_risk": float(cells.loc[in_state, "days_at_risk"].sum())},
                              measure=measure, day=np.nan))
    if contrast is not None and contrast[1] in present and contrast[2] in present:
        term, a, b = contrast
        vec = fit.coef[a] - fit.coef[b]
        var = fit.vcov.loc[a, a] + fit.vcov.loc[b, b] - 2 * fit.vcov.loc[a, b]
        se = float(np.sqrt(var))
        zv = float(vec / se) if se > 0 else np.nan
        rows.append({"sex": population.sex, "subgroup": population.subgroup, "level": level, "measure": measure,
                     "estimand": estimand, "term": term, "day": np.nan, "estimate": float(np.exp(vec)),
                     "std_error": se, "conf_low": float(np.exp(vec - Z_95 * se)),
                     "conf_high": float(np.exp(vec + Z_95 * se)),
                     "p_value": float(2 * stats.norm.sf(abs(zv))) if np.isfinite(zv) else np.nan,
                     "n_spells": int(len(units)), "n_persons": n_persons,
                     "n_events": int(cells.loc[cells["state"].isin([state_names.index(a), state_names.index(b)]),
                                               "events"].sum())})
    return rows, dict(fit.diagnostics)


# --- rows ------------------------------------------------------------------------------------------


def _labels(group) -> dict[str, Any]:
    return {"sex": group.sex, "subgroup": group.subgroup, "level": group.level}


def rate_rows(eligible: pd.DataFrame, population: Population, dimensions: tuple[str, ...]) -> list[dict]:
    """Event rates per 1 000 eligible spells and per coordinated eligible spell, per group and event type."""
    rows = []
    person = eligible["person_id"].to_numpy()
    coordinated = eligible["is_coordinated"].to_numpy(dtype=bool)
    for group in groups_of(population, eligible, dimensions):
        m = group.mask
        for code, column in COLLABORATION_EVENT_COLUMNS.items():
            y = eligible[column].to_numpy(dtype=float)
            for measure, mask, scale in (("rate_per_1000_eligible", m, 1000.0),
                                         ("rate_per_coordinated", m & coordinated, 1.0)):
                if not mask.any():
                    continue
                r = clustered_rate(y[mask], person[mask], scale)
                rows.append({**_labels(group), "measure": measure, "estimand": "rate", "term": code, "day": np.nan,
                             "estimate": r.estimate, "std_error": r.std_error, "conf_low": r.conf_low,
                             "conf_high": r.conf_high, "n_spells": r.units, "n_persons": r.persons,
                             "n_events": r.events})
    return rows


def participation_rows(avst: pd.DataFrame, population: Population, dimensions: tuple[str, ...]) -> list[dict]:
    """Shares of AVST with care, the employer and AF taking part (Wilson), per group."""
    rows = []
    for group in groups_of(population, avst, dimensions):
        m = group.mask
        for term, column in PARTICIPANTS:
            flag = avst[column]
            known = m & flag.notna().to_numpy()
            n = int(known.sum())
            if n == 0:
                continue
            k = int(flag[known].astype(bool).sum())
            low, high = wilson(k, n)
            rows.append({**_labels(group), "measure": "participation", "estimand": "share", "term": term,
                         "day": np.nan, "estimate": k / n, "std_error": float(np.sqrt(k / n * (1 - k / n) / n)),
                         "conf_low": float(low), "conf_high": float(high), "n_spells": int(avst.loc[known, "spell_id"].nunique()),
                         "n_persons": int(avst.loc[known, "person_id"].nunique()), "n_events": k,
                         "n_meetings": n})
    return rows


def sequence_rows(coordinated: pd.DataFrame, population: Population, days: tuple[int, ...]) -> list[dict]:
    """Incidence of the first INFO4 and AVST from the first GC001, and the AVST before/after GC001 shares."""
    rows = []
    at = np.asarray(days, dtype=float)
    level = population.sex if population.sex != "all" else "all"
    n, n_persons = len(coordinated), int(coordinated["person_id"].nunique())
    if n == 0:
        return rows
    for measure, column in SEQUENCE_MEASURES:
        time, cause = support_events(coordinated, (column,))
        curve = incidence_by_level(time, cause, None, SUPPORT_EVENT, at)["all"]
        is_event = cause == SUPPORT_EVENT
        for i, d in enumerate(days):
            rows.append({"sex": population.sex, "subgroup": population.subgroup, "level": level, "measure": measure,
                         "estimand": "cumulative_incidence", "term": measure, "day": int(d),
                         "estimate": curve.cif[i], "std_error": curve.std_error[i], "conf_low": curve.conf_low[i],
                         "conf_high": curve.conf_high[i], "n_spells": n, "n_persons": n_persons,
                         "n_events": int((is_event & (time <= d)).sum())})
    first = coordinated["days_to_first_gc001"].to_numpy(dtype=float)
    avst = coordinated["days_to_first_fk_avst"].to_numpy(dtype=float)
    has = ~np.isnan(avst)
    m = int(has.sum())
    if m:
        for lv, mask in (("before", avst < first), ("same_day", avst == first), ("after", avst > first)):
            k = int((mask & has).sum())
            low, high = wilson(k, m)
            rows.append({"sex": population.sex, "subgroup": "avst_vs_gc001", "level": lv, "measure": "avst_vs_gc001",
                         "estimand": "share", "term": "first_avst", "day": np.nan, "estimate": k / m,
                         "std_error": float(np.sqrt(k / m * (1 - k / m) / m)), "conf_low": float(low),
                         "conf_high": float(high), "n_spells": m,
                         "n_persons": int(coordinated.loc[has, "person_id"].nunique()), "n_events": k})
    return rows


def af_rows(unemployed: pd.DataFrame, population: Population, params: CollaborationParameters,
            spec_id: str) -> tuple[list[dict], dict]:
    """The unemployed: registered at start; registration during the spell (AJ); the coordination rate ratio."""
    rows: list[dict] = []
    level = population.sex if population.sex != "all" else "all"
    n = len(unemployed)
    if n == 0:
        return rows, {}
    registered = unemployed["is_registered_af_at_start"].to_numpy(dtype=bool)
    k = int(registered.sum())
    low, high = wilson(k, n)
    base = {"sex": population.sex, "subgroup": population.subgroup, "level": level}
    rows.append({**base, "measure": "af_registered_at_start", "estimand": "share", "term": "registered_at_start",
                 "day": np.nan, "estimate": k / n, "std_error": float(np.sqrt(k / n * (1 - k / n) / n)),
                 "conf_low": float(low), "conf_high": float(high), "n_spells": n,
                 "n_persons": int(unemployed["person_id"].nunique()), "n_events": k})
    at_risk = unemployed.loc[~registered].reset_index(drop=True)
    if at_risk.empty:
        return rows, {}
    time, cause = af_events(at_risk)
    curve = incidence_by_level(time, cause, None, AF_EVENT, np.asarray(params.af_days, dtype=float))["all"]
    n_persons = int(at_risk["person_id"].nunique())
    for i, d in enumerate(params.af_days):
        rows.append({**base, "measure": "af_registration", "estimand": "cumulative_incidence", "term": AF_EVENT,
                     "day": int(d), "estimate": curve.cif[i], "std_error": curve.std_error[i],
                     "conf_low": curve.conf_low[i], "conf_high": curve.conf_high[i], "n_spells": len(at_risk),
                     "n_persons": n_persons, "n_events": int(((cause == AF_EVENT) & (time <= d)).sum())})
    # coordination as a time-varying exposure: exposed after day index t_c, from day 0 to registration or the end
    event = cause == AF_EVENT
    stop = np.where(event, np.ceil(time), at_risk["followup_days"].to_numpy(dtype=float))
    t_c = at_risk["days_to_first_gc001"].to_numpy(dtype=float)
    bands = band_table(tuple(params.af_band_cuts), 0)
    pieces = split_states(np.zeros(len(at_risk)), [t_c], stop, event, bands)
    confounders = tuple(c for c in params.af_confounders if not (population.sex != "all" and c == "sex"))
    if population.sex == "all" and "sex" not in confounders:
        confounders = ("sex", *confounders)
    units = at_risk.assign(event=event.astype(float))
    cells = aggregate_cells(units, pieces, confounders)
    rr, diag = state_rate_ratios(units, cells, ("not_coordinated", "coordinated"), params, spec_id, confounders,
                                 estimand="rate_ratio", measure="af_registration_coordination_rr", population=population)
    rows.extend(rr)
    return rows, {"n_at_risk": int(len(at_risk)), "n_registered": int(event.sum()), "fit": diag}


def rtw_rows(eligible: pd.DataFrame, population: Population, params: CollaborationParameters,
             spec_id: str) -> tuple[list[dict], dict]:
    """Return to work by collaboration state (time-varying, from the entry day), against not coordinated."""
    entry = int(params.entry_day)
    t_c = eligible["days_to_first_gc001"].to_numpy(dtype=float)
    employer = eligible["days_to_first_avst_employer"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        employer_state = np.where(np.isnan(t_c) | np.isnan(employer), np.nan, np.fmax(t_c, employer))
    stop = eligible["followup_days"].to_numpy(dtype=float)
    event = (eligible["end_reason"].astype(str) == "return_to_work").to_numpy()
    pieces = split_states(np.full(len(eligible), float(entry)), [t_c, employer_state], stop, event,
                          band_table(tuple(params.band_cuts), entry))
    confounders = tuple(c for c in params.confounders if not (population.sex != "all" and c == "sex"))
    units = eligible.assign(event=event.astype(float))
    cells = aggregate_cells(units, pieces, confounders)
    rows, diag = state_rate_ratios(units, cells, (STATE_NONE, STATE_NO_EMPLOYER, STATE_EMPLOYER), params, spec_id,
                                   confounders, estimand="rate_ratio", measure="rtw_collaboration_rr",
                                   population=population,
                                   contrast=("employer_vs_no_employer", STATE_EMPLOYER, STATE_NO_EMPLOYER))
    for r in rows:
        r["interpretation"] = "association"
    states = pieces["state"].to_numpy()
    diag = {"fit": diag, "n_cells": int(len(cells)),
            "days_at_risk_by_state": {name: float(pieces.loc[states == k, "days_at_risk"].sum())
                                      for k, name in enumerate((STATE_NONE, STATE_NO_EMPLOYER, STATE_EMPLOYER))}}
    return rows, diag


# --- the analysis ----------------------------------------------------------------------------------


def collaboration(spec: AnalysisSpec, spells: pd.DataFrame, extra: pd.DataFrame, avst: pd.DataFrame,
                  progress: Callable[[str], None] | None = None) -> Result:
    """FK's collaboration events and AF, for everyone, women and men (the module docstring lists the rows).

    Parameters
    ----------
    spec : design 'collaboration' with ``entry_day`` resolved (`CollaborationParameters`).
    spells : one row per spell as from `analyses.designs.run.load_spells`.
    extra, avst : `load_collaboration` (the spells' collaboration columns; the AVST rows).
    progress : optional callable receiving short progress messages.
    """
    params: CollaborationParameters = spec.parameters
    say = progress or (lambda message: None)
    entry_day = int(params.entry_day)
    frame = spells.merge(extra[["spell_id", *[c for c in SPELL_COLUMNS if c not in spells.columns]]],
                         on="spell_id", how="left", validate="1:1")
    in_cohort = frame["followup_days"].to_numpy() > entry_day
    eligible = frame.loc[in_cohort].reset_index(drop=True)
    keep_cols = ["spell_id", "person_id", "sex", *params.participation_dimensions]
    meetings = avst.merge(eligible[list(dict.fromkeys(keep_cols))], on="spell_id", how="inner")
    unemployed_all = frame.loc[frame["occupation_status"].astype(str) == UNEMPLOYED].reset_index(drop=True)
    rows: list[dict] = []
    per_population: dict[str, Any] = {}
    for population in populations(params, eligible):
        say(f"  collaboration: {population.sex}")
        sub = eligible.loc[population.mask(eligible)].reset_index(drop=True)
        rows.extend(rate_rows(sub, population, tuple(params.dimensions)))
        rows.extend(participation_rows(meetings.loc[population.mask(meetings)].reset_index(drop=True), population,
                                       tuple(params.participation_dimensions)))
        coordinated = sub.loc[sub["is_coordinated"].to_numpy(dtype=bool)].reset_index(drop=True)
        rows.extend(sequence_rows(coordinated, population, tuple(params.sequence_days)))
        af, af_diag = af_rows(unemployed_all.loc[population.mask(unemployed_all)].reset_index(drop=True), population,
                              params, spec.id)
        rows.extend(af)
        rtw, rtw_diag = rtw_rows(sub, population, params, spec.id)
        rows.extend(rtw)
        per_population[population.sex] = {"n_eligible": int(len(sub)), "n_coordinated": int(len(coordinated)),
                                          "af": af_diag, "rtw": rtw_diag}
    diagnostics = {
        "design": spec.design, "entry_day": entry_day, "n_eligible_spells": int(len(eligible)),
        "n_spells_excluded_before_entry": int((~in_cohort).sum()), "n_avst_meetings": int(len(meetings)),
        "rate_interval": "Wald on the log scale, person-clustered linearised ratio variance; exact Poisson upper "
                         "limit when no event",
        "participation_interval": "Wilson, per meeting",
        "sequence_time_zero": "day of the first GC001; an event on or before it counts at time 0.5",
        "rtw_states": [STATE_NONE, STATE_NO_EMPLOYER, STATE_EMPLOYER],
        "rtw_interpretation": "association, not effect",
        "populations": per_population,
    }
    summary = finish_summary(rows, spec.id, METHOD, diagnostics)
    return Result(analysis_id=spec.id, method=METHOD, summary=summary, diagnostics=diagnostics, tables={})


__all__ = ["PARTICIPANTS", "SPELL_COLUMNS", "af_events", "aggregate_cells", "clustered_rate", "collaboration",
           "load_collaboration", "participation_rows", "rate_rows", "rtw_rows", "sequence_rows", "split_states",
           "state_rate_ratios", "wilson"]
