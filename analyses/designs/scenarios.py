"""Grounds for proposals (issue 15, `scenarios`): what return to work would be under other patterns of coordination.

The parametric g-formula over three fitted hazard models, standardised over the spells still
followed at the entry day (day 14 by default):

- **coordination**: the first GC001 among spells not yet coordinated, a piecewise-constant
  (banded) daily hazard given the confounders and the home region;
- **return to work** and **competing events** (sickness compensation, death, emigration, the
  65th birthday; one hazard, since only their sum matters for the share back at work): banded
  daily hazards given the confounders and coordination as a time-varying exposure (exposed
  from the day of the first GC001, as the analysis tables count it), the effect of
  coordination on return to work by diagnosis chapter group by default.

All three are piecewise-exponential Poisson models on the spells' person-time (one row per
spell, band and exposure state), read from `spells` (follow-up, first GC001, end reason). The
fitted hazards drive a daily chain (`analyses.estimators.gformula.segment_chain`) per spell:
each day an uncoordinated spell may start coordination, then return to work or leave by a
competing event with its state's hazards. The cumulative incidence of return to work at each
horizon, averaged over the spells, is the standardised share back at work.

Interventions (on the coordination hazard only; everything else as the models say):

- ``natural_course``: no intervention. Its incidence must reproduce the observed
  Aalen–Johansen incidence of the same spells: the g-formula's standard check, reported per
  population and horizon (``natural_course_difference``, pass within
  ``natural_course_tolerance``).
- ``uptake``: every home region reaches the uptake of the top quartile of regions. A region's
  uptake is the share of its spells coordinated on day index 0 .. uptake_window_days - 1 while
  still followed (the natural course, as `region_uptake` counts it); the target is the
  ``uptake_quantile`` (0.75) of the regions' uptakes; a region below it has its coordination
  hazard on the days from entry to the window's end multiplied by the factor (>= 1) that
  brings its uptake to the target; regions at or above it are left as they are.
  The target is a number the data set once and the estimand then holds fixed: "every region
  reaches at least the uptake U", U the 75th percentile of the regions' uptakes as the point
  estimate's fitted models give them (``uptake_target`` in the diagnostics and the region
  table). The bootstrap replicates keep U and redo everything else (each region's uptake,
  whether it lies below U, its factor); `koord check-truth` computes the planted truth at the
  same U. Why not re-estimate U in every replicate and compare with the quantile of the true
  regional uptakes: U is an order statistic of 21 noisy regional shares, which in a tight
  cluster of regions is biased (the 16th of 21 is the lowest of the cluster above it) by about
  its own noise, and the bootstrap, which resamples around the realised cluster, sees neither
  the bias nor the whole spread (at 100 000 persons, seeds 5-12: realised U minus the quantile
  of the true uptakes 0.0056 root mean square, the bootstrap SD of U 0.0037; seed 5's difference
  0.0020 against 0.0026, z = -4.0, while at the true quantile the fitted models give 0.00259:
  the models are right, the target is not). The uncertainty about where the national
  top quartile lies is therefore not in the intervals; the scenario reads "if every region
  reached U" (`pipeline.commands.recovery_scenarios` has the measurements).
- ``earlier``: coordination that would come on day 31 .. 90 comes by day 30 instead. For a
  spell not coordinated at entry the coordination hazard on the days from entry to day index
  earlier_by_day - 1 is multiplied so that its cumulative hazard there equals the natural
  cumulative hazard up to day index earlier_window_days - 1, and the hazard from day index
  earlier_by_day to earlier_window_days - 1 is zero: the timing distribution of the first
  GC001 within the window shifted into its first month, its total (in the absence of exits)
  unchanged; after the window as observed.

Populations: everyone, women and men (the scenario is national: its region factors are set on
everyone, the standardisation is over each population's spells). Intervals: person-level
nonparametric bootstrap (spells of a person resampled together; models, region factors and the
standardisation redone in each replicate, the uptake target U kept), estimate ± 1.96 × bootstrap SD.

Assumptions (stated in the report): no unmeasured confounding of coordination and of the exits
given the covariates; the hazard models are right; the intervention is feasible (a region can
reach the top quartile's uptake, coordination can come earlier) without changing anything else;
the uptake scenario's target U is the observed top quartile's uptake taken as given (its own
uncertainty is not in the intervals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse

from analyses.designs._models import finish_summary
from analyses.designs.covariates import indicator_matrix, level_order, plan_levels, present_levels
from analyses.designs.diagnostics import flags
from analyses.designs.specs import AnalysisSpec, ScenarioParameters
from analyses.designs.trial_bootstrap import person_frequencies
from analyses.designs.trial_outcome import CAUSE_COMPETING, CAUSE_RETURN_TO_WORK, outcome_cause
from analyses.estimators.aalen_johansen import cumulative_incidence_at
from analyses.estimators.gformula import (
    DayProbabilities,
    SpellRowsDesign,
    bisect_increasing,
    segment_chain,
    fit_poisson_rows,
    scaled_probability,
)
from analyses.results import Z_95, Result
from koord.errors import ContractViolation

METHOD = "parametric g-formula (piecewise-exponential hazards, daily chain), person bootstrap"
NATURAL, UPTAKE, EARLIER = "natural_course", "uptake", "earlier"
SCENARIOS: tuple[str, ...] = (NATURAL, UPTAKE, EARLIER)
REGION = "home_region_code"
BAND_RIDGE = 0.01  # holds a band without events finite; against tens of events it moves nothing
MAX_MULTIPLIER = 1000.0  # the uptake factor's search range (a region that needs more is flagged)


# --- 1. person-time rows ------------------------------------------------------------------------


def band_edges(entry_day: int, cuts: tuple[int, ...], last_day: int) -> np.ndarray:
    """Day indices where bands start, from the entry day, and the end (``last_day``, exclusive)."""
    inner = [int(c) for c in cuts if entry_day < c < last_day]
    return np.array([entry_day, *inner, last_day], dtype=np.int64)


def _overlap(lo: np.ndarray, hi: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Days of [lo, hi) per spell within each band [edges[b], edges[b + 1])."""
    return np.clip(np.minimum(hi[:, None], edges[None, 1:]) - np.maximum(lo[:, None], edges[None, :-1]), 0, None)


@dataclass(frozen=True)
class Rows:
    """Person-time rows of one model: spell, band, exposure state, days at risk and events."""

    spell: np.ndarray
    band: np.ndarray
    exposed: np.ndarray
    days: np.ndarray
    events: np.ndarray


def _rows(days_by_state: list[np.ndarray], event_band: np.ndarray, event_state: np.ndarray) -> Rows:
    spells, bands, states, days, events = [], [], [], [], []
    for state, d in enumerate(days_by_state):
        i, b = np.nonzero(d > 0)
        spells.append(i), bands.append(b), states.append(np.full(len(i), state)), days.append(d[i, b])
        ev = (event_band[i] == b) & (event_state[i] == state)
        events.append(ev.astype(float))
    return Rows(*(np.concatenate(a) for a in (spells, bands, states, days, events)))


def exit_rows(followup: np.ndarray, t_c: np.ndarray, cause: np.ndarray, of_cause: int, entry: int,
              edges: np.ndarray) -> Rows:
    """Rows of the return-to-work or competing model: unexposed [entry, t_c) and exposed [t_c, end)."""
    last = int(edges[-1])
    end = np.minimum(followup, last)
    unexposed = _overlap(np.full(len(end), entry), np.maximum(entry, np.minimum(t_c, end)), edges)
    exposed = _overlap(np.maximum(t_c, entry), np.where(t_c < end, end, 0), edges)
    is_event = (cause == of_cause) & (followup <= last)
    event_day = followup - 1
    event_band = np.where(is_event, np.searchsorted(edges, event_day, side="right") - 1, -1)
    return _rows([unexposed.astype(float), exposed.astype(float)], event_band, (t_c <= event_day).astype(int))


def coordination_rows(followup: np.ndarray, t_c: np.ndarray, entry: int, edges: np.ndarray) -> Rows:
    """Rows of the coordination model: spells uncoordinated at entry, at risk up to and including the GC001's day."""
    last = int(edges[-1])
    end = np.minimum(followup, last)
    at_risk = t_c >= entry
    hi = np.where(at_risk, np.minimum(np.where(np.isfinite(t_c), t_c + 1, np.inf), end), entry)
    days = _overlap(np.full(len(end), entry), hi, edges).astype(float)
    is_event = at_risk & np.isfinite(t_c) & (t_c < end)
    event_band = np.where(is_event, np.searchsorted(edges, np.where(is_event, t_c, entry), side="right") - 1, -1)
    return _rows([days], event_band, np.zeros(len(end), int))


# --- 2. the models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelDesign:
    """One hazard model: its rows, sparse design and which columns are what."""

    name: str
    rows: Rows
    x: SpellRowsDesign
    n_bands: int
    x_spell: scipy.sparse.csr_matrix  # the confounders' columns per spell
    n_exposure_terms: int
    exposure_level: np.ndarray | None  # per spell the exposure term it takes (-1 none), for effects by level

    def penalised(self) -> np.ndarray:
        mask = np.ones(self.x.shape[1], bool)  # the bands are the first columns
        mask[: self.n_bands] = False
        return mask


def model_design(name: str, rows: Rows, spells: pd.DataFrame, covariates: tuple[str, ...], n_bands: int,
                 min_level_size: int, exposure_level: np.ndarray | None = None, n_levels: int = 0) -> tuple[ModelDesign, Any]:
    """The design: band indicators, the confounders' indicators per spell, exposure terms (one per level)."""
    events_by_spell = np.bincount(rows.spell, weights=rows.events, minlength=len(spells))
    plan = plan_levels(spells, covariates, min_level_size, events=events_by_spell > 0)
    x_spell = indicator_matrix(spells, plan)
    if exposure_level is not None:
        level = np.where(rows.exposed == 1, exposure_level[rows.spell], -1)
    else:
        level = np.full(len(rows.spell), -1)
    x = SpellRowsDesign(rows.spell, rows.band, n_bands, x_spell, level, n_levels if exposure_level is not None else 0)
    return ModelDesign(name, rows, x, n_bands, x_spell, x.n_levels, exposure_level), plan


@dataclass(frozen=True)
class Hazards:
    """Daily probabilities per spell and band of the three models."""

    coordination: np.ndarray  # (spells, coordination bands)
    rtw: np.ndarray  # (2 states, spells, exit bands)
    competing: np.ndarray  # (2 states, spells, exit bands)


def _rates(design: ModelDesign, coef: np.ndarray) -> np.ndarray:
    """exp(linear predictor) per (state, spell, band); state 1 adds the spell's exposure term."""
    nb, k = design.n_bands, design.n_exposure_terms
    base = np.asarray(design.x_spell @ coef[nb: len(coef) - k]).ravel()
    unexposed = np.exp(base[:, None] + coef[None, :nb])
    if not k:
        return unexposed[None]
    term = np.where(design.exposure_level >= 0, coef[len(coef) - k:][np.maximum(design.exposure_level, 0)], 0.0)
    return np.stack([unexposed, unexposed * np.exp(term)[:, None]])


def hazards_from(designs: dict[str, ModelDesign], coefs: dict[str, np.ndarray]) -> Hazards:
    """The fitted rates as daily probabilities (a day's rate on person-days is its discrete hazard)."""
    coordination = np.clip(_rates(designs["coordination"], coefs["coordination"])[0], 0.0, 1.0)
    rtw = _rates(designs["rtw"], coefs["rtw"])
    competing = _rates(designs["competing"], coefs["competing"])
    total = rtw + competing
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-300), 1.0)  # a day's exits cannot exceed everyone
    return Hazards(coordination, rtw * scale, competing * scale)


# --- 3. the interventions -----------------------------------------------------------------------


def _segments(entry: int, window: int, *edge_sets: np.ndarray) -> np.ndarray:
    cuts = sorted({entry, window, *(int(e) for edges in edge_sets for e in edges if entry < e < window)})
    return np.array(cuts, dtype=np.int64)


def uptake_under(multiplier: np.ndarray, hz: Hazards, coordinated_at_entry: np.ndarray, segments: np.ndarray,
                 c_band: np.ndarray, r_band: np.ndarray) -> np.ndarray:
    """Per spell the chance of a first GC001 by the window's end while followed, the coordination hazard
    multiplied from entry to the window's end (closed form over segments of constant hazards)."""
    untreated = 1.0 - coordinated_at_entry
    coordinated = coordinated_at_entry.astype(float).copy()
    for lo, hi in zip(segments[:-1], segments[1:]):
        length = float(hi - lo)
        p_c = scaled_probability(hz.coordination[:, c_band[lo]], multiplier)
        alpha = (1.0 - p_c) * (1.0 - hz.rtw[0, :, r_band[lo]] - hz.competing[0, :, r_band[lo]])
        with np.errstate(divide="ignore", invalid="ignore"):
            geometric = np.where(alpha < 1.0 - 1e-12, (1.0 - alpha**length) / (1.0 - alpha), length)
        coordinated += untreated * p_c * geometric
        untreated = untreated * alpha**length
    return coordinated


def region_factors(hz: Hazards, freq: np.ndarray, region: np.ndarray, n_regions: int, coordinated_at_entry: np.ndarray,
                   segments: np.ndarray, c_band: np.ndarray, r_band: np.ndarray,
                   quantile: float, target: float | None = None) -> tuple[np.ndarray, float, bool]:
    """Each region's factor on its coordination hazard so that its uptake reaches the target.

    ``target`` None: the regions' ``quantile`` of their uptakes under ``hz`` (the point estimate
    sets it so); a number: that uptake (a bootstrap replicate keeps the point estimate's).
    """
    known = region >= 0
    weight = np.bincount(region[known], weights=freq[known], minlength=n_regions)

    def regional(log_factor_by_region: np.ndarray) -> np.ndarray:
        m = np.where(known, np.exp(log_factor_by_region[np.maximum(region, 0)]), 1.0)
        u = uptake_under(m, hz, coordinated_at_entry, segments, c_band, r_band)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(region[known], weights=(freq * u)[known], minlength=n_regions) / weight

    observed = regional(np.zeros(n_regions))
    present = weight > 0
    target = float(np.quantile(observed[present], quantile)) if target is None else float(target)
    below = present & (observed < target)
    goal = np.where(below, target, -np.inf)
    log_factor = bisect_increasing(regional, goal, 0.0, float(np.log(MAX_MULTIPLIER)), iterations=30)
    log_factor = np.where(below, log_factor, 0.0)
    reached = bool(np.all(regional(log_factor)[below] >= target - 1e-6))
    return np.exp(log_factor), target, reached


def scenario_multipliers(p: ScenarioParameters, hz: Hazards, freq: np.ndarray, region: np.ndarray, n_regions: int,
                         coordinated_at_entry: np.ndarray, c_band: np.ndarray, r_band: np.ndarray,
                         c_edges: np.ndarray, r_edges: np.ndarray,
                         uptake_target: float | None = None) -> tuple[Callable[[int], np.ndarray], dict]:
    """The day -> multipliers function of the three scenarios (natural, uptake, earlier) and what set them
    (``uptake_target`` None: the quantile of the regions' uptakes under ``hz``; see `region_factors`)."""
    entry, window = int(p.entry_day), int(p.uptake_window_days)
    segments = _segments(entry, window, c_edges, r_edges)
    factors, target, reached = region_factors(hz, freq, region, n_regions, coordinated_at_entry, segments, c_band,
                                              r_band, p.uptake_quantile, uptake_target)
    region_m = np.where(region >= 0, factors[np.maximum(region, 0)], 1.0)
    # earlier: the natural cumulative hazard up to the window's end, put into the days up to earlier_by_day
    by, until = int(p.earlier_by_day), int(p.earlier_window_days)
    log_q = np.log1p(-np.clip(hz.coordination, 0.0, 1.0 - 1e-12))  # -(cumulative hazard) per day and band
    days_in = lambda lo, hi: np.array([max(0, min(hi, b) - max(lo, a)) for a, b in zip(c_edges[:-1], c_edges[1:])])
    h_short = -(log_q @ days_in(entry, by))
    h_long = -(log_q @ days_in(entry, until))
    with np.errstate(divide="ignore", invalid="ignore"):
        earlier_m = np.where(h_short > 0, h_long / h_short, 1.0)
    ones = np.ones(len(region_m))
    # one array per regime of days (they change only at the scenario's day limits): the chain caches by them
    regimes: dict[tuple[bool, int], np.ndarray] = {}

    def multipliers(day: int) -> np.ndarray:
        early = 0 if day < by else (1 if day < until else 2)
        key = (day < window, early)
        if key not in regimes:
            regimes[key] = np.stack([ones, region_m if key[0] else ones, (earlier_m, 0.0 * ones, ones)[early]])
        return regimes[key]

    uptake_share = lambda m: uptake_under(m, hz, coordinated_at_entry, segments, c_band, r_band)
    info = {"uptake_target": target, "region_factor": factors, "target_reached": reached,
            "earlier_multiplier": earlier_m, "uptake_natural": uptake_share(ones), "uptake_uptake": uptake_share(region_m)}
    return multipliers, info


def run_chain(p: ScenarioParameters, hz: Hazards, multipliers: Callable[[int], np.ndarray], coordinated_at_entry: np.ndarray,
              c_band: np.ndarray, r_band: np.ndarray, report_days: tuple[int, ...]):
    """Per scenario and spell, the incidence of return to work and the share coordinated at the report days."""
    n = hz.coordination.shape[0]
    cache: dict[tuple[int, int, int], DayProbabilities] = {}  # bands and regimes change every few weeks, not daily

    def probabilities(day: int) -> DayProbabilities:
        cb, rb, m = int(c_band[day]), int(r_band[day]), multipliers(day)
        key = (cb, rb, id(m))
        if key not in cache:
            cache[key] = DayProbabilities(start=scaled_probability(hz.coordination[:, cb], m),
                                          outcome_untreated=hz.rtw[0, :, rb], competing_untreated=hz.competing[0, :, rb],
                                          outcome_treated=hz.rtw[-1, :, rb], competing_treated=hz.competing[-1, :, rb])
        return cache[key]

    # the probabilities change only at the bands' limits and the interventions' days: whole segments at once
    change_days = (*np.flatnonzero(np.diff(c_band)) + 1, *np.flatnonzero(np.diff(r_band)) + 1,
                   int(p.earlier_by_day), int(p.earlier_window_days), int(p.uptake_window_days))
    return segment_chain(int(p.entry_day), report_days, coordinated_at_entry, probabilities, change_days,
                         shape=(len(SCENARIOS), n))


# --- 4. the analysis ----------------------------------------------------------------------------


@dataclass
class Prepared:
    """Everything the point estimate and each bootstrap replicate share."""

    cohort: pd.DataFrame
    followup: np.ndarray
    t_c: np.ndarray
    cause: np.ndarray
    coordinated_at_entry: np.ndarray
    person_index: np.ndarray
    n_persons: int
    region: np.ndarray
    regions: list[str]
    designs: dict[str, ModelDesign]
    plans: dict[str, Any]
    c_edges: np.ndarray
    r_edges: np.ndarray
    c_band: np.ndarray  # day index -> coordination band
    r_band: np.ndarray  # day index -> exit band
    report_days: tuple[int, ...]


def prepare(p: ScenarioParameters, spells: pd.DataFrame) -> Prepared:
    """The cohort (spells followed beyond the entry day), its person-time rows and the three model designs."""
    entry = int(p.entry_day)
    horizons = tuple(int(h) for h in p.horizons)
    report_days = tuple(sorted({*horizons, int(p.uptake_window_days)}))
    last = max(report_days)
    cohort = spells.loc[spells["followup_days"] > entry].reset_index(drop=True)
    followup = cohort["followup_days"].to_numpy(dtype=np.int64)
    t_c_raw = pd.to_numeric(cohort["days_to_first_gc001"], errors="coerce").to_numpy(dtype=float)
    t_c = np.where(np.isnan(t_c_raw), np.inf, t_c_raw)
    cause = outcome_cause(cohort["end_reason"])
    persons, person_index = np.unique(cohort["person_id"].to_numpy(), return_inverse=True)
    region_text = cohort[REGION].astype(str).to_numpy() if REGION in cohort else np.full(len(cohort), "missing")
    regions = [r for r in present_levels(region_text, level_order(REGION)) if r != "missing"]
    region = pd.Index(regions).get_indexer(region_text)
    c_edges = band_edges(entry, tuple(p.coordination_band_cuts), last)
    r_edges = band_edges(entry, tuple(p.band_cuts), last)
    days = np.arange(last + 1)
    c_band = np.clip(np.searchsorted(c_edges, days, side="right") - 1, 0, len(c_edges) - 2)
    r_band = np.clip(np.searchsorted(r_edges, days, side="right") - 1, 0, len(r_edges) - 2)
    confounders = tuple(c for c in p.confounders if c in cohort.columns and cohort[c].astype(str).nunique() > 1)
    coordination_covariates = confounders + ((REGION,) if REGION not in confounders and len(regions) > 1 else ())
    if p.effect_by == "none":
        level, levels = np.zeros(len(cohort), np.int64), ["all"]
    else:
        text = cohort[p.effect_by].astype(str).to_numpy()
        levels = present_levels(text, level_order(p.effect_by))
        level = pd.Index(levels).get_indexer(text)
    designs, plans = {}, {}
    designs["coordination"], plans["coordination"] = model_design(
        "coordination", coordination_rows(followup, t_c, entry, c_edges), cohort, coordination_covariates,
        len(c_edges) - 1, p.min_level_size)
    designs["rtw"], plans["rtw"] = model_design(
        "rtw", exit_rows(followup, t_c, cause, CAUSE_RETURN_TO_WORK, entry, r_edges), cohort, confounders,
        len(r_edges) - 1, p.min_level_size, level, len(levels))
    designs["competing"], plans["competing"] = model_design(
        "competing", exit_rows(followup, t_c, cause, CAUSE_COMPETING, entry, r_edges), cohort, confounders,
        len(r_edges) - 1, p.min_level_size, np.zeros(len(cohort), np.int64), 1)
    return Prepared(cohort, followup, t_c, cause, (t_c < entry).astype(float), person_index, len(persons), region,
                    regions, designs, plans, c_edges, r_edges, c_band, r_band, report_days)


def fit_all(prep: Prepared, p: ScenarioParameters, freq: np.ndarray | None = None,
            start: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The three models (frequency weights of a replicate, warm-started from the point estimate)."""
    out = {}
    for name, d in prep.designs.items():
        weights = None if freq is None else freq[d.rows.spell]
        out[name] = fit_poisson_rows(d.x, d.rows.events, d.rows.days, weights=weights,
                                     start=None if start is None else start[name], penalised=d.penalised(),
                                     ridge=p.ridge, band_ridge=BAND_RIDGE, tolerance=1e-9 if start is None else 1e-6,
                                     name=f"scenarios: the {name} model")
    return out


def estimate(prep: Prepared, p: ScenarioParameters, fits: dict[str, Any], freq: np.ndarray,
             populations: list[np.ndarray], uptake_target: float | None = None) -> dict[str, Any]:
    """Standardised incidences and uptakes per scenario, population and report day; AJ of the same spells.

    ``uptake_target`` None sets the uptake scenario's target from these fits (the point estimate);
    a bootstrap replicate passes the point estimate's (the target is part of the estimand).
    """
    hz = hazards_from(prep.designs, {k: f.coef for k, f in fits.items()})
    multipliers, info = scenario_multipliers(p, hz, freq, prep.region, len(prep.regions), prep.coordinated_at_entry,
                                             prep.c_band, prep.r_band, prep.c_edges, prep.r_edges, uptake_target)
    chain = run_chain(p, hz, multipliers, prep.coordinated_at_entry, prep.c_band, prep.r_band, prep.report_days)
    at = np.array(prep.report_days, dtype=np.int64)
    cif, uptake, observed = [], [], []
    for mask in populations:
        w = freq * mask
        total = w.sum()
        cif.append((chain.outcome * w[None, :, None]).sum(axis=1) / total)  # (scenarios, days)
        uptake.append((chain.treated * w[None, :, None]).sum(axis=1) / total)
        observed.append(cumulative_incidence_at(prep.followup, prep.cause, w, at, of_cause=CAUSE_RETURN_TO_WORK))
    return {"cif": np.array(cif), "uptake": np.array(uptake), "observed": np.array(observed), "info": info}


def scenarios(spec: AnalysisSpec, spells: pd.DataFrame, progress: Callable[[str], None] | None = None) -> Result:
    """The scenario estimates; see the module docstring.

    Parameters
    ----------
    spec : design 'scenarios', ``entry_day`` resolved.
    spells : one row per spell (`analyses.designs.run.load_spells`).

    Returns
    -------
    Result
        ``summary``: per population (everyone, women, men) and report day the standardised
        incidence of return to work per scenario (estimand 'cumulative_incidence'), each
        intervention's difference from the natural course ('risk_difference'), the observed
        Aalen–Johansen incidence ('observed_cumulative_incidence', the natural course's check)
        and the share coordinated within the uptake window per scenario ('coordination_uptake');
        ``tables['region_factors']``: each region's uptake and factor.

    Raises
    ------
    ContractViolation
        Entry day unresolved, or no spell followed beyond it.
    ConvergenceError
        A hazard model (or its refit in a replicate) does not converge.
    """
    p: ScenarioParameters = spec.parameters
    if p.entry_day is None:
        raise ContractViolation(f"{spec.id}: entry_day must be resolved before the analysis runs")
    if not p.entry_day < p.earlier_by_day < p.earlier_window_days or p.uptake_window_days <= p.entry_day:
        raise ContractViolation(f"{spec.id}: the entry day {p.entry_day} must come before earlier_by_day "
                                f"{p.earlier_by_day}, earlier_window_days {p.earlier_window_days} and "
                                f"uptake_window_days {p.uptake_window_days}")
    prep = prepare(p, spells)
    if prep.cohort.empty:
        raise ContractViolation(f"{spec.id}: no spell is followed beyond day {p.entry_day}")
    sex = prep.cohort["sex"].astype(str).to_numpy()
    pops = [("all", "all", "all", np.ones(len(sex)))]
    if p.by_sex:
        pops += [("sex", s, s, (sex == s).astype(float)) for s in present_levels(sex, level_order("sex"))]
    masks = [q[3] for q in pops]
    ones = np.ones(len(prep.cohort))
    fits = fit_all(prep, p)
    point = estimate(prep, p, fits, ones, masks)
    target = float(point["info"]["uptake_target"])  # the estimand's target: fixed in every replicate
    rng = np.random.default_rng(p.seed)
    replicates = []
    for b in range(1, p.bootstrap_replicates + 1):
        freq = person_frequencies(prep.person_index, prep.n_persons, rng)
        rep_fits = fit_all(prep, p, freq, {k: f.coef for k, f in fits.items()})
        replicates.append(estimate(prep, p, rep_fits, freq, masks, uptake_target=target))
        if progress and b % 20 == 0:
            progress(f"  {spec.id}: {b} bootstrap replicates")
    rows, populations = _rows_of(p, prep, pops, point, replicates)
    info = point["info"]
    models = {name: {"converged": bool(f.converged), "n_iter": int(f.n_iter)} for name, f in fits.items()}
    diagnostics = {
        "design": spec.design, "entry_day": int(p.entry_day), "scenario_horizons": [int(h) for h in p.horizons],
        "bootstrap_replicates": int(p.bootstrap_replicates), "uptake_window_days": int(p.uptake_window_days),
        "uptake_quantile": float(p.uptake_quantile), "earlier_by_day": int(p.earlier_by_day),
        "earlier_window_days": int(p.earlier_window_days), "natural_course_tolerance": float(p.natural_course_tolerance),
        "uptake_target": float(info["uptake_target"]), "max_uptake_multiplier": float(np.max(info["region_factor"])),
        "uptake_target_reached": bool(info["target_reached"]),
        "median_earlier_multiplier": float(np.median(info["earlier_multiplier"][prep.coordinated_at_entry == 0]))
        if (prep.coordinated_at_entry == 0).any() else None,
        "models": models,
        "level_plan": {f"{model}/{name}": v for model, plan in prep.plans.items() for name, v in plan.describe().items()},
        "populations": populations, "n_spells": int(len(prep.cohort)), "n_persons": int(prep.n_persons),
    }
    summary = finish_summary(rows, spec.id, METHOD, diagnostics)
    return Result(analysis_id=spec.id, method=METHOD, summary=summary, diagnostics=diagnostics,
                  tables={"region_factors": _region_table(spec.id, prep, info)})


def _interval(estimate: float, values: np.ndarray) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan"), float("nan")
    se = float(values.std(ddof=1))
    return se, estimate - Z_95 * se, estimate + Z_95 * se


def _rows_of(p: ScenarioParameters, prep: Prepared, pops, point, replicates) -> tuple[list[dict], dict]:
    rows: list[dict] = []
    populations: dict[str, dict] = {}
    days = list(prep.report_days)
    horizons = [int(h) for h in p.horizons]
    is_rtw = prep.cause == CAUSE_RETURN_TO_WORK
    for k, (subgroup, level, sex_label, mask) in enumerate(pops):
        m = mask > 0
        common = {"subgroup": subgroup, "level": level, "sex": sex_label, "n_spells": int(m.sum()),
                  "n_persons": int(len(np.unique(prep.person_index[m]))), "n_bootstrap": len(replicates)}
        differences = {h: float(point["cif"][k, 0, days.index(h)] - point["observed"][k, days.index(h)])
                       for h in horizons}
        worst = max(abs(v) for v in differences.values())
        natural_pass = bool(worst <= p.natural_course_tolerance)
        populations[f"{sex_label}/{subgroup}={level}"] = {"natural_course_difference": worst,
                                                          "natural_course_pass": natural_pass}
        for h in horizons:
            i = days.index(h)
            events = float((is_rtw & m & (prep.followup <= h)).sum())
            obs = float(point["observed"][k, i])
            se, lo, hi = _interval(obs, np.array([r["observed"][k, i] for r in replicates]))
            base_diag = flags(p, events_per_arm={"observed": events})
            base_diag.update({"natural_course_difference": differences[h], "natural_course_pass": natural_pass})
            rows.append({**common, "measure": "natural_course_check", "estimand": "observed_cumulative_incidence",
                         "term": "aalen_johansen", "horizon": h, "estimate": obs, "std_error": se, "conf_low": lo,
                         "conf_high": hi, "n_events": int(events), "row_diagnostics": dict(base_diag)})
            for s, name in enumerate(SCENARIOS):
                est = float(point["cif"][k, s, i])
                se, lo, hi = _interval(est, np.array([r["cif"][k, s, i] for r in replicates]))
                rows.append({**common, "measure": "scenario_risk", "estimand": "cumulative_incidence", "term": name,
                             "horizon": h, "estimate": est, "std_error": se, "conf_low": lo, "conf_high": hi,
                             "n_events": int(events), "row_diagnostics": dict(base_diag)})
                if name == NATURAL:
                    continue
                diff = est - float(point["cif"][k, 0, i])
                reps = np.array([r["cif"][k, s, i] - r["cif"][k, 0, i] for r in replicates])
                se, lo, hi = _interval(diff, reps)
                d = flags(p, events_per_arm={"observed": events})
                d.update({"natural_course_difference": differences[h], "natural_course_pass": natural_pass})
                d["passes"] = bool(d["passes"] and natural_pass)  # the fits raise unless converged
                rows.append({**common, "measure": "scenario_contrast", "estimand": "risk_difference", "term": name,
                             "comparator": NATURAL, "horizon": h, "estimate": diff, "std_error": se, "conf_low": lo,
                             "conf_high": hi, "n_events": int(events), "row_diagnostics": d})
        w_day = days.index(int(p.uptake_window_days))
        coordinated = float((m & (prep.t_c < int(p.uptake_window_days))).sum())
        for s, name in enumerate(SCENARIOS):
            est = float(point["uptake"][k, s, w_day])
            se, lo, hi = _interval(est, np.array([r["uptake"][k, s, w_day] for r in replicates]))
            d = flags(p, events_per_arm={"coordinated": coordinated})
            rows.append({**common, "measure": "scenario_uptake", "estimand": "coordination_uptake", "term": name,
                         "horizon": int(p.uptake_window_days), "estimate": est, "std_error": se, "conf_low": lo,
                         "conf_high": hi, "n_events": int(coordinated), "row_diagnostics": d})
    return rows, populations


def _region_table(analysis_id: str, prep: Prepared, info: dict) -> pd.DataFrame:
    """Per region its natural uptake within the window and the factor of the uptake scenario."""
    known = prep.region >= 0
    n = np.bincount(prep.region[known], minlength=len(prep.regions)).astype(float)
    natural = np.bincount(prep.region[known], weights=info["uptake_natural"][known], minlength=len(prep.regions))
    scenario = np.bincount(prep.region[known], weights=info["uptake_uptake"][known], minlength=len(prep.regions))
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"analysis_id": analysis_id, REGION: prep.regions, "n_spells": n.astype(np.int64),
                             "uptake_natural": natural / n, "uptake_scenario": scenario / n,
                             "hazard_factor": info["region_factor"], "uptake_target": info["uptake_target"]})


__all__ = ["NATURAL", "SCENARIOS", "UPTAKE", "EARLIER", "band_edges", "coordination_rows", "exit_rows", "prepare",
           "scenarios", "uptake_under"]
