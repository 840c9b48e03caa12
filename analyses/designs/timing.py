"""Time to the first coordination (GC001) and the chain of support after it (issue 12, `coordination_timing`).

The cohort is the spells still followed at the entry day (day 14: the employer period is over).
Time runs from the spell's first day; a GC001 on day index t is an event at time t + 1, so the
incidence "by day 30" counts day indices 0-29. Return to work and the other ends of the spell
are competing events, not censoring: censoring them would report the incidence in a world where
nobody recovers, far above what happens.

Rows of the summary (column ``measure``; every row also carries ``sex``, ``n_spells`` and ``day``):

- ``cif_first_gc001`` (estimand 'cumulative_incidence', term 'first_gc001'): Aalen–Johansen
  cumulative incidence of the first GC001 by each of ``cif_days`` (infinitesimal-jackknife SE,
  log interval); n_events = first GC001s by that day, n_spells / n_persons = the cohort's.
- ``median_day_first_gc001`` (estimand 'median'): median day index of the first GC001 among the
  coordinated, with a distribution-free interval from order statistics; n_events = coordinated.
- The chain of support among coordinated spells, from the day of the first GC001 (estimand
  'cumulative_incidence', term = measure, ``day`` = the window): ``plan_dv077`` (rehabilitation
  plan), ``plan_followup_aw026`` (follow-up of the plan), ``fk_informed_info4`` (FK informed,
  4 §), ``fk_meeting_avst`` (reconciliation meeting), ``fk_informed_or_meeting`` (either).
- ``dose_gc001``: GC001 contacts per coordinated spell, estimand 'share' per level '1', ...,
  '<dose_top>+' (subgroup 'dose', Clopper–Pearson interval), 'mean' and 'median'. The dose
  grows with follow-up: an open or long spell may get more contacts, so it is a distribution
  over spells as observed, not a per-protocol count.

Subgroups: everyone ('all'), women and men ('sex'), and within each the dimensions of
``params.dimensions`` (first-GC001 rows) or the home region (chain of support).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
from scipy import stats

from analyses.designs._models import Population, finish_summary, populations
from analyses.designs.covariates import level_order, present_levels
from analyses.designs.specs import AnalysisSpec, TimingParameters
from analyses.estimators import AalenJohansenSpec, fit_aalen_johansen
from analyses.results import CONFIDENCE_LEVEL, Result
from data_schemas.tables import COMPETING_EVENTS

METHOD = "aalen_johansen"
FIRST_GC001 = "first_gc001"
RETURN_TO_WORK, OTHER_END, CENSORED = "return_to_work", "other_end", "censored"
SUPPORT_EVENT, END_OF_FOLLOWUP = "support_event", "end_of_followup"
SAME_DAY_TIME = 0.5  # support given on or before the day of the first GC001: there already, immediately
REGION = "home_region_code"
CHAPTER = "diagnosis_chapter_group"
# measure, day-index columns (the earliest counts), parameter holding the window
SUPPORT_MEASURES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("plan_dv077", ("days_to_first_dv077",), "plan_window_days"),
    ("plan_followup_aw026", ("days_to_first_aw026",), "fk_window_days"),
    ("fk_informed_info4", ("days_to_first_fk_info4",), "fk_window_days"),
    ("fk_meeting_avst", ("days_to_first_fk_avst",), "fk_window_days"),
    ("fk_informed_or_meeting", ("days_to_first_fk_info4", "days_to_first_fk_avst"), "fk_window_days"),
)
_ALPHA = 1 - CONFIDENCE_LEVEL


# --- event coding -----------------------------------------------------------------------------------


def is_end_known(spells: pd.DataFrame) -> np.ndarray:
    """The spell's follow-up ended for a known reason (closed, or a competing event even if flagged open)."""
    reason = spells["end_reason"].astype(str)
    return (~spells["is_open_at_extraction"].to_numpy(dtype=bool)) | reason.isin(COMPETING_EVENTS).to_numpy()


def coordination_events(spells: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Time (days from the spell's start) and cause of the first coordination or what ended the wait.

    A first GC001 on day index t is 'first_gc001' at time t + 1. Otherwise a spell whose end is
    known ends at ``followup_days`` as 'return_to_work' or 'other_end' (death, emigration,
    sickness compensation, age 65, and closed spells ended by a relapse or an unobserved
    relapse window: they did end); a spell open at extraction is 'censored' there.

    Returns
    -------
    time : float array; cause : object array of 'first_gc001', 'return_to_work', 'other_end', 'censored'.
    """
    first = spells["days_to_first_gc001"].to_numpy(dtype=float)
    followup = spells["followup_days"].to_numpy(dtype=float)
    coordinated = ~np.isnan(first)
    rtw = (spells["end_reason"].astype(str) == "return_to_work").to_numpy()
    known = is_end_known(spells)
    time = np.where(coordinated, first + 1, followup)
    cause = np.select([coordinated, known & rtw, known], [FIRST_GC001, RETURN_TO_WORK, OTHER_END],
                      default=CENSORED).astype(object)
    return time, cause


def support_events(spells: pd.DataFrame, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Time from the first GC001 to a support event (the earliest of ``columns``), for coordinated spells.

    Day 0 is the day of the first GC001; an event on that day or before it (a plan already made)
    is at time 0.5, one k days later at time k. Without the event the end of follow-up competes
    at ``followup_days - days_to_first_gc001`` if the end is known, else it is censored there.

    Returns
    -------
    time : float array; cause : object array of 'support_event', 'end_of_followup', 'censored'.
    """
    first = spells["days_to_first_gc001"].to_numpy(dtype=float)
    if np.isnan(first).any():
        raise ValueError("support_events: every spell must be coordinated (days_to_first_gc001 present)")
    event_day = np.fmin.reduce([spells[c].to_numpy(dtype=float) for c in columns]) if len(columns) > 1 \
        else spells[columns[0]].to_numpy(dtype=float)
    has_event = ~np.isnan(event_day)
    after = np.maximum(event_day - first, SAME_DAY_TIME)
    end = spells["followup_days"].to_numpy(dtype=float) - first
    time = np.where(has_event, after, end)
    cause = np.select([has_event, is_end_known(spells)], [SUPPORT_EVENT, END_OF_FOLLOWUP],
                      default=CENSORED).astype(object)
    return time, cause


# --- estimators ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """One group's cumulative incidence of a cause at chosen times."""

    cif: np.ndarray
    std_error: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray


def incidence_by_level(time: np.ndarray, cause: np.ndarray, levels: pd.Series | np.ndarray | None, of_cause: str,
                       at: np.ndarray, censor_value: str = CENSORED) -> dict[str, Curve]:
    """Aalen–Johansen incidence of ``of_cause`` at ``at`` per level (one fit; key 'all' when no levels).

    Follow-up past the last time asked for is cut there (censored just after it): the estimate
    and its infinitesimal-jackknife variance up to that time do not depend on what happens
    later, and the cut keeps the variance's cost (patterns × event times) small for long spells.
    Levels and causes go to the estimator as integer codes, so that a national cohort is sorted
    as numbers, not text. A level without any event of the cause gets 0 (SE 0, no interval).
    """
    at = np.asarray(at, dtype=float)
    if len(time) == 0:
        return {}
    if levels is None:
        codes, names = np.zeros(len(time), dtype=np.int64), np.array(["all"], dtype=object)
    else:
        codes, names = pd.factorize(levels, sort=False)
        names = np.asarray(names).astype(str).astype(object)
    horizon = float(at.max()) if len(at) else 0.0
    cause = np.asarray(cause)
    late = np.asarray(time, dtype=float) > horizon
    cut_time = np.where(late, horizon + 1.0, time)
    cause_codes = np.select([late | (cause == censor_value), cause == of_cause], [0, 1], default=2)
    zero = Curve(np.zeros(len(at)), np.zeros(len(at)), np.full(len(at), np.nan), np.full(len(at), np.nan))
    out = {str(name): zero for name in names}
    if not (cause_codes == 1).any():
        return out
    data = pd.DataFrame({"time": cut_time, "cause": cause_codes, "level": codes})
    fit = fit_aalen_johansen(data, AalenJohansenSpec(time="time", cause="cause", censor_value=0, group="level",
                                                     analysis_id="coordination_timing"))
    table = fit.tables["cif"]
    table = table[table["cause"] == 1]
    group = table["group"].to_numpy()
    bounds = np.flatnonzero(np.diff(group)) + 1
    for rows in np.split(np.arange(len(table)), bounds):
        if len(rows) == 0:
            continue
        curve_time = table["time"].to_numpy()[rows]
        position = np.searchsorted(curve_time, at, side="right") - 1
        found = position >= 0
        pick = np.clip(position, 0, None)

        def look(column: str, before: float) -> np.ndarray:
            return np.where(found, table[column].to_numpy()[rows][pick], before)

        cif = look("cif", 0.0)
        empty = cif <= 0
        out[str(names[group[rows[0]]])] = Curve(cif, look("std_error", 0.0),
                                                np.where(empty, np.nan, look("conf_low", np.nan)),
                                                np.where(empty, np.nan, look("conf_high", np.nan)))
    return out


def median_with_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Median and its distribution-free 95 % interval [x_(l), x_(n-l+1)] from Binomial(n, 1/2).

    l is the smallest rank with P(B <= l) >= alpha/2, so the coverage is at least 95 %; with
    too few values for any such rank (n < 6) the interval is missing.
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    rank = int(stats.binom.ppf(_ALPHA / 2, n, 0.5))  # 1-based rank of the lower limit
    if rank < 1:
        return float(np.median(x)), float("nan"), float("nan")
    return float(np.median(x)), float(x[rank - 1]), float(x[n - rank])


def clopper_pearson(successes: np.ndarray, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial 95 % interval of k / n."""
    k, n = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(k > 0, stats.beta.ppf(_ALPHA / 2, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - _ALPHA / 2, k + 1, n - k), 1.0)
    return low, high


# --- groups ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """A subgroup of a population: its label and the rows (of the population's frame) in it."""

    sex: str
    subgroup: str
    level: str
    mask: np.ndarray


def groups_of(population: Population, frame: pd.DataFrame, dimensions: tuple[str, ...]) -> Iterator[Group]:
    """The population as a whole, then each level of each dimension, in code-list order."""
    level = population.sex if population.sex != "all" else "all"
    yield Group(population.sex, population.subgroup, level, np.ones(len(frame), dtype=bool))
    for dimension in dimensions:
        codes, names = _level_codes(frame[dimension])
        for lv in present_levels(names, level_order(dimension)):
            yield Group(population.sex, dimension, lv, codes == names.index(lv))


def _level_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a text column and the level each code stands for (fast on categoricals)."""
    codes, uniques = pd.factorize(values, sort=False)
    return codes, [str(u) for u in np.asarray(uniques)]


def _labels(group: Group) -> dict[str, Any]:
    return {"sex": group.sex, "subgroup": group.subgroup, "level": group.level}


def _fits(time, cause, frame, population, dimensions, of_cause, at, censor_value=CENSORED) -> dict[tuple[str, str], Curve]:
    """Incidence curves of every group of a population: (subgroup, level) -> Curve, one fit per dimension."""
    out = {}
    whole = incidence_by_level(time, cause, None, of_cause, at, censor_value).get("all")
    if whole is not None:
        out[(population.subgroup, population.sex if population.sex != "all" else "all")] = whole
    for dimension in dimensions:
        for lv, curve in incidence_by_level(time, cause, frame[dimension], of_cause, at,
                                            censor_value).items():
            out[(dimension, lv)] = curve
    return out


# --- rows ------------------------------------------------------------------------------------------


def first_gc001_rows(cohort: pd.DataFrame, time: np.ndarray, cause: np.ndarray, population: Population,
                     params: TimingParameters, curve_grid: np.ndarray) -> tuple[list[dict], dict[str, Curve]]:
    """Cumulative incidence at ``cif_days`` and the median day, per group of one population.

    Also returns the population's whole curve on ``curve_grid`` (key 'all' or the sex).
    """
    days = np.asarray(params.cif_days, dtype=float)
    at = np.concatenate([days, curve_grid])
    fits = _fits(time, cause, cohort, population, tuple(params.dimensions), FIRST_GC001, at)
    is_first = cause == FIRST_GC001
    first_day = cohort["days_to_first_gc001"].to_numpy(dtype=float)
    person = cohort["person_id"].to_numpy()
    rows = []
    for group in groups_of(population, cohort, tuple(params.dimensions)):
        m = group.mask
        n_spells, n_persons = int(m.sum()), int(pd.unique(person[m]).size)
        curve = fits.get((group.subgroup, group.level))
        if curve is None or n_spells == 0:
            continue
        event_times = time[m & is_first]
        for i, day in enumerate(days):
            rows.append({**_labels(group), "measure": "cif_first_gc001", "estimand": "cumulative_incidence",
                         "term": FIRST_GC001, "day": int(day), "estimate": curve.cif[i],
                         "std_error": curve.std_error[i], "conf_low": curve.conf_low[i],
                         "conf_high": curve.conf_high[i], "n_spells": n_spells, "n_persons": n_persons,
                         "n_events": int((event_times <= day).sum())})
        coordinated = first_day[m & is_first]
        median, low, high = median_with_interval(coordinated)
        rows.append({**_labels(group), "measure": "median_day_first_gc001", "estimand": "median", "term": FIRST_GC001,
                     "day": np.nan, "estimate": median, "conf_low": low, "conf_high": high,
                     "n_spells": n_spells, "n_persons": n_persons, "n_events": int(len(coordinated))})
    whole = fits.get((population.subgroup, population.sex if population.sex != "all" else "all"))
    grid_curves = {}
    if whole is not None:
        k = len(days)
        grid_curves[population.sex] = Curve(whole.cif[k:], whole.std_error[k:], whole.conf_low[k:], whole.conf_high[k:])
    return rows, grid_curves


def support_rows(coordinated: pd.DataFrame, population: Population, params: TimingParameters) -> list[dict]:
    """The chain of support: each support event's cumulative incidence by its window, per group."""
    rows = []
    person = coordinated["person_id"].to_numpy()
    groups = list(groups_of(population, coordinated, (REGION,)))
    for measure, columns, window_name in SUPPORT_MEASURES:
        window = float(getattr(params, window_name))
        time, cause = support_events(coordinated, columns)
        fits = _fits(time, cause, coordinated, population, (REGION,), SUPPORT_EVENT, np.array([window]))
        is_event = cause == SUPPORT_EVENT
        for group in groups:
            m = group.mask
            curve = fits.get((group.subgroup, group.level))
            if curve is None or not m.any():
                continue
            rows.append({**_labels(group), "measure": measure, "estimand": "cumulative_incidence", "term": measure,
                         "day": int(window), "estimate": curve.cif[0], "std_error": curve.std_error[0],
                         "conf_low": curve.conf_low[0], "conf_high": curve.conf_high[0],
                         "n_spells": int(m.sum()), "n_persons": int(pd.unique(person[m]).size),
                         "n_events": int((is_event[m] & (time[m] <= window)).sum())})
    return rows


def dose_rows(coordinated: pd.DataFrame, population: Population, dose_top: int) -> list[dict]:
    """Shares of coordinated spells by number of GC001 contacts (1, 2, ..., top+), and the mean and median."""
    dose = coordinated["n_gc001"].to_numpy(dtype=float)
    n = len(dose)
    if n == 0:
        return []
    base = {"sex": population.sex, "measure": "dose_gc001", "term": "n_gc001", "day": np.nan, "n_spells": n,
            "n_persons": int(coordinated["person_id"].nunique())}
    capped = np.clip(dose, 1, dose_top).astype(int)
    counts = np.bincount(capped, minlength=dose_top + 1)[1:]
    low, high = clopper_pearson(counts, np.full(dose_top, n))
    rows = []
    for k in range(1, dose_top + 1):
        level = f"{k}+" if k == dose_top else str(k)
        rows.append({**base, "subgroup": "dose", "level": level, "estimand": "share", "estimate": counts[k - 1] / n,
                     "std_error": float(np.sqrt(counts[k - 1] / n * (1 - counts[k - 1] / n) / n)),
                     "conf_low": low[k - 1], "conf_high": high[k - 1], "n_events": int(counts[k - 1])})
    level = population.sex if population.sex != "all" else "all"
    se = float(dose.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    rows.append({**base, "subgroup": population.subgroup, "level": level, "estimand": "mean", "estimate": dose.mean(),
                 "std_error": se, "conf_low": dose.mean() - stats.norm.ppf(1 - _ALPHA / 2) * se,
                 "conf_high": dose.mean() + stats.norm.ppf(1 - _ALPHA / 2) * se, "n_events": n})
    median, m_low, m_high = median_with_interval(dose)
    rows.append({**base, "subgroup": population.subgroup, "level": level, "estimand": "median", "estimate": median,
                 "conf_low": m_low, "conf_high": m_high, "n_events": n})
    return rows


def curve_frame(analysis_id: str, time: np.ndarray, cause: np.ndarray, curve: Curve, grid: np.ndarray, *,
                sex: str, subgroup: str, level: str) -> pd.DataFrame:
    """The first-GC001 curve on the grid with spells at risk at t and first GC001s in (previous point, t]."""
    t = np.asarray(time, dtype=float)
    sorted_time = np.sort(t)
    at_risk = len(t) - np.searchsorted(sorted_time, grid, side="left")  # time >= grid point
    event_time = np.sort(t[cause == FIRST_GC001])
    by_point = np.searchsorted(event_time, grid, side="right")  # events with time <= grid point
    events = np.diff(np.concatenate([[0], by_point]))
    return pd.DataFrame({"analysis_id": analysis_id, "arm": FIRST_GC001, "sex": sex, "subgroup": subgroup,
                         "level": level, "time": grid.astype(float), "cif": curve.cif, "conf_low": curve.conf_low,
                         "conf_high": curve.conf_high, "n_at_risk": at_risk.astype(np.int64),
                         "n_events": events.astype(np.int64)})


# --- the analysis ----------------------------------------------------------------------------------


def coordination_timing(spec: AnalysisSpec, spells: pd.DataFrame, progress: Callable[[str], None] | None = None) -> Result:
    """Time to the first coordination, the chain of support and the dose, for everyone, women and men.

    Parameters
    ----------
    spec : design 'coordination_timing' with ``entry_day`` resolved (`TimingParameters`).
    spells : one row per spell as from `analyses.designs.run.load_spells`.
    progress : optional callable receiving short progress messages.

    Returns
    -------
    Result
        ``summary``: the rows listed in the module docstring; ``tables['cif_curves']``: the
        first-GC001 incidence on the grid for everyone, women, men and (for everyone) each
        diagnosis chapter group.
    """
    params: TimingParameters = spec.parameters
    say = progress or (lambda message: None)
    entry_day = int(params.entry_day)
    in_cohort = spells["followup_days"].to_numpy() > entry_day
    cohort = spells.loc[in_cohort].reset_index(drop=True)
    time, cause = coordination_events(cohort)
    grid = np.arange(0, params.curve_max_day + 1, params.curve_step_days, dtype=float)
    rows: list[dict] = []
    curves: list[pd.DataFrame] = []
    per_population: dict[str, Any] = {}
    for population in populations(params, cohort):
        say(f"  coordination_timing: {population.sex}")
        m = population.mask(cohort)
        sub, t, c = cohort.loc[m].reset_index(drop=True), time[m], cause[m]
        first_rows, grid_curves = first_gc001_rows(sub, t, c, population, params, grid)
        rows.extend(first_rows)
        for sex, curve in grid_curves.items():
            curves.append(curve_frame(spec.id, t, c, curve, grid, sex=sex, subgroup=population.subgroup,
                                      level=sex))
        coordinated = sub.loc[c == FIRST_GC001].reset_index(drop=True)
        rows.extend(support_rows(coordinated, population, params))
        rows.extend(dose_rows(coordinated, population, params.dose_top))
        per_population[population.sex] = {
            "n_spells": int(len(sub)), "n_persons": int(sub["person_id"].nunique()),
            "n_first_gc001": int((c == FIRST_GC001).sum()), "n_return_to_work": int((c == RETURN_TO_WORK).sum()),
            "n_other_end": int((c == OTHER_END).sum()), "n_censored": int((c == CENSORED).sum()),
        }
    if params.by_chapter_group and len(cohort):
        chapters = cohort[CHAPTER].astype(str).to_numpy()
        fits = incidence_by_level(time, cause, chapters, FIRST_GC001, grid)
        for level in present_levels(chapters, level_order(CHAPTER)):
            if level in fits:
                mask = chapters == level
                curves.append(curve_frame(spec.id, time[mask], cause[mask], fits[level], grid, sex="all",
                                          subgroup=CHAPTER, level=level))
    diagnostics = {
        "design": spec.design, "entry_day": entry_day, "cif_days": list(params.cif_days),
        "n_cohort_spells": int(len(cohort)), "n_spells_excluded_before_entry": int((~in_cohort).sum()),
        "n_censored_at_extraction": int((cause == CENSORED).sum()),
        "n_coordinated": int((cause == FIRST_GC001).sum()),
        "support_time_zero": "day of the first GC001; support on or before it counts at time 0.5",
        "populations": per_population,
    }
    summary = finish_summary(rows, spec.id, METHOD, diagnostics)
    table = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    return Result(analysis_id=spec.id, method=METHOD, summary=summary, diagnostics=diagnostics,
                  tables={"cif_curves": table})


__all__ = ["SUPPORT_MEASURES", "clopper_pearson", "coordination_events", "coordination_timing", "curve_frame",
           "dose_rows", "first_gc001_rows", "incidence_by_level", "is_end_known", "median_with_interval",
           "support_events", "support_rows"]
