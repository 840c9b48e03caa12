"""Clone–censor–weight emulation of "first coordination by day X" against "none within 90 days" (issue 12).

The protocol (Hernán's clone–censor–weight with a grace period; Cain et al. 2010, Hernán 2018),
in the order `coordination_timing_strategies` carries it out:

1. Eligibility and time zero. Time zero is ``entry_day`` E (14): eligible are the spells still
   followed then (``followup_days > E``) and not coordinated before it (no GC001 on a day
   index below E). Time is the spell's own day scale: follow-up ends at time
   ``followup_days``; day index k is the interval (k, k + 1].
2. Clones. Every eligible spell is cloned into every strategy:

   - ``by_day_X`` (X in ``strategy_days``): "first GC001 on a day index in [E, X)". A clone
     still followed at time X (``followup_days > X``) with no GC001 on a day index below X
     deviates and is censored at time X (it is in the risk set at X: it lived through day
     X - 1 consistent with the strategy). Events up to time X count (the grace period's
     events count for every strategy the spell is consistent with).
   - ``none_within_N`` (N = ``none_within_days``): "no GC001 on a day index below N". A clone
     whose first GC001 falls on day index t_c < N deviates on that day and is censored at
     time t_c, the instant that day begins: its follow-up through day t_c - 1 counts, it is in
     the risk set at t_c, and an end of the spell on day t_c itself (time t_c + 1) does not
     count, since the clone was coordinated that day.

3. Censoring weights, from models on the baseline confounders, fitted once on all eligible
   spells (sex among the confounders) and used for everyone, women, men and the chapter
   groups alike (one model fit per bootstrap replicate instead of one per population):

   - ``by_day_X``: a ridge logistic model (`newton_logistic`), among the spells still followed
     at time X (``followup_days > X``), of "GC001 on a day index in [E, X)". An uncensored
     clone weighs 1 up to time X and 1 / p_hat from X on.
   - ``none_within_N``: the censoring hazard varies with time. A piecewise-exponential model
     of the first GC001 on weekly bands of days [E, E + 7), ..., [.., N) (band intercepts plus
     the confounders, proportional; `fit_band_model`), on each spell's days at risk (followed
     that day, not coordinated before it). A clone uncoordinated and followed at time t weighs
     1 / P(no GC001 on days [E, min(t, N)) | x) = exp(exp(x b) Lambda0(min(t, N))). The weight is
     applied by splitting each clone's follow-up into rows (start, stop] at the band limits,
     each row with its band's weight; within a band the weight is taken at the band's mean
     risk time (Lambda0 at (band length + 1) / 2 days into the band, the average over the
     band's event times), after N it is exact. The weighted risk sets of these left-truncated
     rows are what `fit_aalen_johansen` with ``start`` computes (tests hold the two equal).
   - Weights are truncated within arm at the ``weight_truncation`` percentiles of each
     clone's largest weight (frequency-weighted in a replicate).

4. Outcome: return to work with competing events (sickness compensation, death, emigration,
   age 65; `trial_outcome.outcome_cause`), censoring at extraction, by the weighted
   Aalen–Johansen estimator per arm at ``horizons`` (days since the spell's first day) and on
   the curve grid; weighted risk sets counted with bincounts over one timeline for all
   populations at once.
5. Bootstrap: persons resampled with all their spells (`trial_bootstrap.person_frequencies`);
   the censoring models refitted in every replicate (chord steps from the full-sample fit with
   its inverse information, Newton–Raphson as fallback), weights re-truncated. Standard
   errors are the replicates' SD, intervals their percentiles (`percentile_interval`).
6. Diagnostics that gate the claims (`diagnostics.flags`): covariate balance at each X (|SMD|
   of every confounder level between the uncensored, weighted clones and all clones followed
   at X, which is what the weights restore), positivity (share of predicted P(GC001 by X)
   outside [0.01, 0.99]), events per arm, the minimum detectable risk difference; the weights'
   mean before truncation (near 1 if the model is right), maximum, share truncated and
   effective sample size per arm.

Summary rows (extra columns sex, measure, n_spells, arm, comparator, horizon):

- measure ``strategy_risk``: estimand 'cumulative_incidence', term = arm ('by_day_30', ...,
  'none_within_90'), the arm's weighted cumulative incidence of return to work at the horizon;
- measure ``strategy_contrast``: estimands 'risk_difference' and 'risk_ratio', term
  '<arm>_vs_<comparator>', each ``by_day_X`` against ``none_within_N`` and the first against
  the last ``by_day`` arm.

For everyone, women and men (subgroup 'all' / 'sex') and, with ``by_chapter_group``, for every
diagnosis chapter group (subgroup 'diagnosis_chapter_group', sex 'all').
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse
from scipy import stats

from analyses.designs._models import finish_summary
from analyses.designs.covariates import indicator_matrix, indicator_name, level_codes, level_order, plan_levels, present_levels
from analyses.designs.diagnostics import _smd, flags, minimum_detectable_difference, weighted_quantiles
from analyses.designs.specs import AnalysisSpec, TimingStrategyParameters
from analyses.designs.trial_bootstrap import percentile_band, percentile_interval, person_frequencies
from analyses.designs.trial_outcome import CAUSE_RETURN_TO_WORK, outcome_cause
from analyses.estimators.logistic import fitted_probability, logistic_information, newton_logistic, ridge_penalty
from analyses.results import Result
from koord.errors import ConvergenceError, ContractViolation

METHOD = "aalen_johansen_ipcw"
POSITIVITY_BOUNDS = (0.01, 0.99)
REFIT_MAX_STEPS = 50
# Last chord step of every coefficient below this (trial_bootstrap uses 1e-6; a coefficient off by 1e-5
# moves a weight by 1e-5 of itself, far below the bootstrap SE of any incidence). Saves a step or two per model.
REFIT_TOLERANCE = 1e-5
BAND_DAYS = 7
CHORD_FROM_STEP = 0.01  # Newton steps below this size hand over to chord steps (the band model's fit)


def by_arm(day: int) -> str:
    return f"by_day_{int(day)}"


def none_arm(day: int) -> str:
    return f"none_within_{int(day)}"


# --- 1. eligibility ---------------------------------------------------------------------------------


def eligible_mask(spells: pd.DataFrame, entry_day: int) -> np.ndarray:
    """Spells followed beyond time zero and not coordinated before it."""
    followup = spells["followup_days"].to_numpy(dtype=float)
    t_c = pd.to_numeric(spells["days_to_first_gc001"], errors="coerce").to_numpy(dtype=float)
    return (followup > entry_day) & (np.isnan(t_c) | (t_c >= entry_day))


def band_limits(entry_day: int, none_within_days: int) -> np.ndarray:
    """Limits of the weekly bands of the time-varying censoring model: E, E + 7, ..., N."""
    inner = np.arange(entry_day, none_within_days, BAND_DAYS)
    return np.append(inner, none_within_days).astype(np.int64)


def exposure_days(followup: np.ndarray, t_c: np.ndarray, limits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days at risk of a first GC001 per band (n × bands) and the band of the first GC001 (-1: none in [E, N)).

    Day k is at risk if the spell is followed that day (k < followup) and not coordinated
    before it (k <= t_c).
    """
    last_day = np.minimum(followup - 1, t_c)  # last day index at risk (t_c inf: followup - 1)
    lo, hi = limits[:-1], limits[1:]
    days = np.clip(np.minimum(last_day[:, None] + 1, hi[None, :]) - lo[None, :], 0, None)
    band = np.searchsorted(limits, t_c, side="right") - 1
    band = np.where((t_c >= limits[0]) & (t_c < limits[-1]), band, -1)
    return days.astype(float), band.astype(np.int64)


# --- 2. censoring models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogisticFit:
    """P(GC001 in [E, X) | x) among the spells followed at X: rows, coefficients, inverse information."""

    day: int
    rows: np.ndarray
    beta: np.ndarray
    info_inverse: np.ndarray


def fit_by_day_model(x, y: np.ndarray, w: np.ndarray, ridge: float, day: int, rows: np.ndarray,
                     previous: LogisticFit | None = None) -> LogisticFit:
    """Ridge logistic model; with ``previous``, chord steps from its estimate (Newton as fallback)."""
    if previous is None:
        # Newton near the maximum, then score-only chord steps on that information (as the replicates do)
        beta = newton_logistic(x, y, w, ridge, tolerance=CHORD_FROM_STEP, what=f"censoring model of by_day_{day}").beta
        near = LogisticFit(day, rows, beta, np.linalg.inv(logistic_information(x, beta, w, ridge)))
        return fit_by_day_model(x, y, w, ridge, day, rows, previous=near)
    if not (w * y).sum() or not (w * (1 - y)).sum():
        raise ConvergenceError(f"censoring model of by_day_{day}: a bootstrap replicate drew one outcome only")
    beta, penalty = previous.beta.copy(), ridge_penalty(len(previous.beta), ridge)
    for _ in range(REFIT_MAX_STEPS):
        step = previous.info_inverse @ (x.T @ (w * (y - fitted_probability(x, beta))) - penalty * beta)
        beta = beta + step
        if np.max(np.abs(step)) < REFIT_TOLERANCE:
            return LogisticFit(day, rows, beta, previous.info_inverse)
    beta = newton_logistic(x, y, w, ridge, start=previous.beta, what=f"bootstrap refit of by_day_{day}").beta
    return LogisticFit(day, rows, beta, previous.info_inverse)


@dataclass(frozen=True)
class BandFit:
    """Piecewise-exponential model of the first GC001: log rate = alpha_band + x beta."""

    alpha: np.ndarray  # per band (-inf for a band without events)
    beta: np.ndarray
    info_inverse: np.ndarray | None


def _band_terms(x, days, event_band, w, alpha, beta, ridge, information: bool = True):
    """Log-likelihood, score and (with ``information``) the information of the band model at (alpha, beta).

    Without ``information`` only the score is computed (the chord steps of a replicate).
    """
    n_bands = days.shape[1]
    eta = x @ beta
    r = np.exp(np.clip(eta, -30, 30))
    a = np.exp(alpha)
    wr = w * r
    expected_band = (days.T @ wr) * a  # per band
    mu = r * (days @ a)
    has = event_band >= 0
    d_band = np.bincount(event_band[has], weights=w[has], minlength=n_bands)
    d = has.astype(float)
    score = np.concatenate([d_band - expected_band, x.T @ (w * (d - mu)) - ridge * beta])
    if not information:
        return None, score, None
    loglik = float((w[has] * (eta[has] + alpha[event_band[has]])).sum() - (w * mu).sum() - 0.5 * ridge * beta @ beta)
    wmu = w * mu
    if scipy.sparse.issparse(x):
        i_bb = (x.T.multiply(wmu[None, :]) @ x).toarray()
    else:
        i_bb = (x * wmu[:, None]).T @ x
    i_ab = np.asarray(x.T @ (days * wr[:, None] * a[None, :])).T  # bands × p
    info = np.block([[np.diag(expected_band), i_ab], [i_ab.T, i_bb + ridge * np.eye(len(beta))]])
    return loglik, score, info


def fit_band_model(x, days: np.ndarray, event_band: np.ndarray, w: np.ndarray, ridge: float,
                   previous: BandFit | None = None) -> BandFit:
    """Penalised Poisson likelihood of the first GC001 on the bands (Newton with step halving, or chord).

    ``x`` holds the confounder indicators without intercept (the band terms are the intercepts).
    Bands without a (weighted) event get alpha = -inf: no censoring there.
    """
    n_bands = days.shape[1]
    active = np.bincount(event_band[event_band >= 0], weights=w[event_band >= 0], minlength=n_bands) > 0
    if not active.any():
        return BandFit(np.full(n_bands, -np.inf), np.zeros(x.shape[1]), None)
    keep = np.concatenate([active, np.ones(x.shape[1], bool)])
    alpha = np.full(n_bands, -np.inf)
    if previous is not None and previous.info_inverse is not None and np.array_equal(np.isfinite(previous.alpha), active):
        alpha[active], beta = previous.alpha[active], previous.beta.copy()
        for _ in range(REFIT_MAX_STEPS):
            _, score, _ = _band_terms(x, days, event_band, w, alpha, beta, ridge, information=False)
            step = previous.info_inverse @ score[keep]
            alpha[active] += step[: active.sum()]
            beta = beta + step[active.sum():]
            if np.max(np.abs(step)) < REFIT_TOLERANCE:
                return BandFit(alpha, beta, previous.info_inverse)
    exposure = (days * w[:, None]).sum(axis=0)
    d_band = np.bincount(event_band[event_band >= 0], weights=w[event_band >= 0], minlength=n_bands)
    alpha[active] = np.log(d_band[active] / exposure[active])
    beta = np.zeros(x.shape[1])
    loglik, score, info = _band_terms(x, days, event_band, w, alpha, beta, ridge)
    for _ in range(100):
        step = np.linalg.solve(info[np.ix_(keep, keep)], score[keep])
        if np.max(np.abs(step)) < CHORD_FROM_STEP and previous is None:
            # near the maximum: finish with score-only chord steps on this information (a pass over x each)
            near = BandFit(alpha, beta, np.linalg.inv(info[np.ix_(keep, keep)]))
            return fit_band_model(x, days, event_band, w, ridge, previous=near)
        if np.max(np.abs(step)) < REFIT_TOLERANCE:
            return BandFit(alpha, beta, np.linalg.inv(info[np.ix_(keep, keep)]))
        for _ in range(30):
            new_alpha, new_beta = alpha.copy(), beta + step[active.sum():]
            new_alpha[active] += step[: active.sum()]
            new = _band_terms(x, days, event_band, w, new_alpha, new_beta, ridge)
            if new[0] >= loglik - 1e-10 * abs(loglik):
                break
            step = step / 2
        else:
            raise ConvergenceError("censoring model of the none arm: Newton steps cannot raise the likelihood")
        alpha, beta = new_alpha, new_beta
        loglik, score, info = new
    raise ConvergenceError("censoring model of the none arm did not converge in 100 Newton steps")


def cumulative_censoring_hazard(fit: BandFit, limits: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Lambda0 at ``times`` (days since spell start): the baseline hazard summed over days [E, t)."""
    rates = np.where(np.isfinite(fit.alpha), np.exp(fit.alpha), 0.0)
    lo, hi = limits[:-1], limits[1:]
    t = np.asarray(times, dtype=float)
    return (np.clip(np.minimum(t[:, None], hi[None, :]) - lo[None, :], 0, None) * rates[None, :]).sum(axis=1)


# --- 3. clones and their weighted rows ----------------------------------------------------------------


@dataclass(frozen=True)
class ArmRows:
    """The (start, stop] rows of one arm's uncensored follow-up: the clone, the weight slot, times, cause.

    A row's weight is the clone's frequency × the clone's weight in ``slot`` (slot 0: weight 1).
    """

    name: str
    clone: np.ndarray
    slot: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    cause: np.ndarray
    end: np.ndarray | None = None  # per clone: the end of its uncensored follow-up (<= E: none)


def by_day_rows(day: int, entry: int, followup: np.ndarray, t_c: np.ndarray, cause: np.ndarray) -> ArmRows:
    """Rows of 'first GC001 by day X': (E, min(followup, X)] at weight 1, then (X, followup] at 1 / p if coordinated."""
    n = len(followup)
    idx = np.arange(n)
    stop1 = np.minimum(followup, day)
    cause1 = np.where(followup <= day, cause, 0)
    late = np.flatnonzero((followup > day) & (t_c < day))
    end = np.where((followup <= day) | (t_c < day), followup, day)
    return ArmRows(by_arm(day), np.concatenate([idx, late]), np.concatenate([np.zeros(n, np.int64), np.ones(len(late), np.int64)]),
                   np.concatenate([np.full(n, entry), np.full(len(late), day)]),
                   np.concatenate([stop1, followup[late]]), np.concatenate([cause1, cause[late]]), end)


def none_rows(limits: np.ndarray, followup: np.ndarray, t_c: np.ndarray, cause: np.ndarray) -> ArmRows:
    """Rows of 'no GC001 before N': cut at the band limits (slot b + 1 for band b, last slot after N).

    A clone coordinated on day t_c < N is censored at time t_c.
    """
    n_day = int(limits[-1])
    deviates = t_c < n_day
    stop = np.where(deviates, t_c, followup).astype(np.int64)
    final_cause = np.where(deviates, 0, cause)
    pieces = []
    edges = [*zip(limits[:-1], limits[1:]), (n_day, np.iinfo(np.int64).max)]
    for b, (lo, hi) in enumerate(edges):
        rows = np.flatnonzero(stop > lo)
        row_stop = np.minimum(stop[rows], hi)
        pieces.append((rows, np.full(len(rows), b + 1), np.full(len(rows), lo), row_stop,
                       np.where(row_stop == stop[rows], final_cause[rows], 0)))
    return ArmRows(none_arm(n_day), *(np.concatenate([p[k] for p in pieces]) for k in range(5)), end=stop)


@dataclass
class Design:
    """The eligible clones' data shared by every replicate."""

    followup: np.ndarray
    t_c: np.ndarray  # inf: no GC001 during follow-up
    cause: np.ndarray
    person_index: np.ndarray
    n_persons: int
    x_logit: Any  # intercept + confounder indicators
    x_band: Any  # confounder indicators
    followed_rows: dict[int, np.ndarray]  # per strategy day: the clones followed at it
    x_followed: dict[int, Any]  # per strategy day: their rows of x_logit
    days: np.ndarray
    event_band: np.ndarray
    limits: np.ndarray
    params: TimingStrategyParameters


@dataclass
class Weights:
    """Each arm's per-clone weight slots (n × slots), with what the diagnostics need."""

    slots: dict[str, np.ndarray]
    p_by_day: dict[int, np.ndarray]
    uncensored_by_none: np.ndarray  # P(no GC001 in [E, N) | x)
    report: dict[str, dict[str, float]]


def _truncate(values: np.ndarray, freq: np.ndarray, truncation: tuple[float, ...]) -> tuple[float, float]:
    """The weighted percentiles at which the weights are cut (0 and 100 cost no sort)."""
    if not len(values) or freq.sum() <= 0:
        return 0.0, np.inf
    drawn = freq > 0
    out = []
    for q in (truncation[0] / 100, truncation[1] / 100):
        if q <= 0:
            out.append(float(values[drawn].min()))
        elif q >= 1:
            out.append(float(values[drawn].max()))
        else:
            out.append(float(_weighted_quantile(values, freq, q)))
    return out[0], out[1]


def _weighted_quantile(values: np.ndarray, freq: np.ndarray, q: float) -> float:
    """`diagnostics.weighted_quantiles` of one q, sorting only the tail beyond it when q is high."""
    if q > 0.9 and len(values) > 10_000:
        cut = np.partition(values, int(len(values) * (q - 0.05)))[int(len(values) * (q - 0.05))]
        tail = values >= cut
        total, below = freq.sum(), freq[~tail].sum()
        if below / total < q:  # the quantile lies in the tail: sort only it
            order = np.argsort(values[tail], kind="stable")
            v, w = values[tail][order], freq[tail][order]
            cum = (below + np.cumsum(w)) / total
            return float(v[min(np.searchsorted(cum, q, side="left"), len(v) - 1)])
    return float(weighted_quantiles(values, freq, (q,))[0])


def fit_models(design: Design, freq: np.ndarray, previous: tuple | None = None) -> tuple:
    """The censoring models on ``freq``-weighted clones (refitted from ``previous`` in a replicate)."""
    p = design.params
    logits = {}
    for day in p.strategy_days:
        rows = design.followed_rows[day]
        y = (design.t_c[rows] < day).astype(float)
        prev = previous[0][day] if previous else None
        logits[day] = fit_by_day_model(design.x_followed[day], y, freq[rows], p.ps_ridge, day, rows, prev)
    band = fit_band_model(design.x_band, design.days, design.event_band, freq, p.ps_ridge,
                          previous[1] if previous else None)
    return logits, band


def arm_weights(design: Design, models: tuple, freq: np.ndarray, report_weights: bool = True,
                workspace: np.ndarray | None = None) -> Weights:
    """Every arm's weight slots, truncated within arm, and (with ``report_weights``) the weights' report.

    ``workspace``: an n × (bands + 1) Fortran-ordered array the none arm's slots are written into
    (the bootstrap reuses one: on this machine fresh pages of a large array cost more than the
    arithmetic); None allocates a new one.
    """
    p = design.params
    logits, band = models
    slots, p_by_day, report = {}, {}, {}
    n = len(design.followup)
    for day in p.strategy_days:
        prob = fitted_probability(design.x_logit, logits[day].beta)
        p_by_day[day] = prob
        raw = 1 / prob
        followed = design.followup > day
        uncensored = followed & (design.t_c < day)
        low, high = _truncate(raw[uncensored], freq[uncensored], p.weight_truncation)
        slot = np.ones((n, 2))
        np.clip(raw, low, high, out=slot[:, 1])
        w = slot[:, 1]
        slots[by_arm(day)] = slot
        if report_weights:
            report[by_arm(day)] = _weight_report(raw, w, uncensored, followed, freq)
    n_day = p.none_within_days
    risk = np.exp(np.clip(design.x_band @ band.beta, -30, 30))
    lo, hi = design.limits[:-1], design.limits[1:]
    mid = np.append(lo + (hi - lo + 1) / 2.0, n_day)  # mean risk time in each band, then N
    mid = np.minimum(mid, np.append(hi, n_day))
    lam = cumulative_censoring_hazard(band, design.limits, mid)
    shape = (n, len(lam) + 1)
    raw = workspace if workspace is not None and workspace.shape == shape else np.empty(shape, order="F")
    # slot 0: weight 1; a column per slot, contiguous
    raw[:, 0] = 1.0
    # in place, column by column: no n × bands temporaries (at a national scale their allocation,
    # not the arithmetic, dominated each bootstrap replicate)
    for j, value in enumerate(lam, start=1):
        column = raw[:, j]
        np.multiply(risk, value, out=column)
        np.minimum(column, 50.0, out=column)
        np.exp(column, out=column)
    n_bands = len(lo)
    stop = np.where(design.t_c < n_day, design.t_c, design.followup)
    last_slot = np.clip(np.searchsorted(design.limits, stop, side="left"), 1, n_bands + 1)
    largest = raw[np.arange(n), last_slot]
    consistent = design.t_c >= design.limits[0]  # every eligible clone enters the none arm
    low, high = _truncate(largest[consistent], freq[consistent], p.weight_truncation)
    raw_after = raw[:, -1].copy() if report_weights else None
    w = raw  # truncated in place: one n × slots array per replicate
    np.clip(raw[:, 1:], low, high, out=w[:, 1:])
    slots[none_arm(n_day)] = w
    if report_weights:
        followed = design.followup > n_day
        uncensored = followed & (design.t_c >= n_day)
        report[none_arm(n_day)] = _weight_report(raw_after, w[:, -1], uncensored, followed, freq)
    s_none = np.exp(-risk * cumulative_censoring_hazard(band, design.limits, np.array([n_day]))[0])
    return Weights(slots, p_by_day, s_none, report)


def _weight_report(raw: np.ndarray, final: np.ndarray, uncensored: np.ndarray, followed: np.ndarray,
                   freq: np.ndarray) -> dict[str, float]:
    f_u, f_f = freq[uncensored], freq[followed]
    if not f_u.sum():
        return {"mean_weight_before_truncation": float("nan"), "max_weight": float("nan"),
                "share_truncated": float("nan"), "n_uncensored": 0}
    return {"mean_weight_before_truncation": float((f_u * raw[uncensored]).sum() / f_f.sum()),
            "max_weight_before_truncation": float(raw[uncensored].max()),
            "max_weight": float(final[uncensored].max()),
            "share_truncated": float((f_u * (raw[uncensored] != final[uncensored])).sum() / f_u.sum()),
            "n_uncensored": int(uncensored.sum()), "n_followed": int(followed.sum())}


# --- 4. weighted Aalen–Johansen for all populations at once ----------------------------------------


@dataclass(frozen=True)
class Timeline:
    """Rows keyed by (cell, time) for one bincount per sum; populations are sums of cells."""

    n_cells: int
    n_times: int
    populations: np.ndarray  # populations × cells, 0/1


@dataclass(frozen=True)
class ArmKeys:
    """One arm's rows keyed on the (cell, time) timeline, computed once for every replicate."""

    start_key: np.ndarray
    stop_key: np.ndarray
    events: np.ndarray  # rows ending in an event
    rtw: np.ndarray  # of those, the returns to work


def arm_keys(rows: ArmRows, cell: np.ndarray, timeline: Timeline) -> ArmKeys:
    c = cell[rows.clone] * timeline.n_times
    events = np.flatnonzero(rows.cause > 0)
    return ArmKeys(c + rows.start, c + rows.stop, events, rows.cause[events] == CAUSE_RETURN_TO_WORK)


def arm_sums(rows: ArmRows, cell: np.ndarray, timeline: Timeline, row_weight: np.ndarray,
             keys: ArmKeys | None = None) -> np.ndarray:
    """Per population the weighted entries, exits, returns to work and any events on the timeline (4 × pops × T)."""
    keys = keys if keys is not None else arm_keys(rows, cell, timeline)
    size, shape = timeline.n_cells * timeline.n_times, (timeline.n_cells, timeline.n_times)
    out = np.empty((4, *shape))
    out[0] = np.bincount(keys.start_key, weights=row_weight, minlength=size).reshape(shape)
    out[1] = np.bincount(keys.stop_key, weights=row_weight, minlength=size).reshape(shape)
    event_key, event_weight = keys.stop_key[keys.events], row_weight[keys.events]
    out[2] = np.bincount(event_key[keys.rtw], weights=event_weight[keys.rtw], minlength=size).reshape(shape)
    out[3] = np.bincount(event_key, weights=event_weight, minlength=size).reshape(shape)
    return np.einsum("pc,kct->kpt", timeline.populations, out)


def aalen_johansen_from_sums(sums: np.ndarray) -> np.ndarray:
    """Cumulative incidence of return to work (pops × T) from `arm_sums`: at risk at t if start < t <= stop."""
    enter, leave, rtw, anyev = sums
    at_risk = np.cumsum(enter - leave, axis=1)
    at_risk = np.concatenate([np.zeros((at_risk.shape[0], 1)), at_risk[:, :-1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = at_risk > 1e-12
        hazard_all = np.where(ok, anyev / np.where(ok, at_risk, 1), 0.0)
        hazard = np.where(ok, rtw / np.where(ok, at_risk, 1), 0.0)
    survival = np.cumprod(1 - hazard_all, axis=1)
    before = np.concatenate([np.ones((survival.shape[0], 1)), survival[:, :-1]], axis=1)
    return np.cumsum(before * hazard, axis=1)


def row_weights(rows: ArmRows, slots: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """The rows' weights: the clone's frequency × its weight in the row's slot."""
    return freq[rows.clone] * slots[rows.clone, rows.slot]


# --- 5.-6. one analysis ----------------------------------------------------------------------------------


def coordination_timing_strategies(spec: AnalysisSpec, spells: pd.DataFrame,
                                   progress: Callable[[str], None] | None = None) -> Result:
    """Clone–censor–weight comparison of the timing strategies; see the module docstring.

    Parameters
    ----------
    spec : design 'coordination_timing_strategies', ``entry_day`` resolved.
    spells : one row per spell (`analyses.designs.run.load_spells`): spell_id, person_id,
        followup_days, days_to_first_gc001, end_reason and the confounders as text.

    Returns
    -------
    Result
        ``summary``: measures 'strategy_risk' and 'strategy_contrast'; ``tables``: 'cif_curves'
        (each arm on the grid, bootstrap bands), 'balance' (SMD before/after per arm and day).

    Raises
    ------
    ContractViolation
        Entry day unresolved, or strategy days outside (entry_day, none_within_days].
    ConvergenceError
        A censoring model (or its refit in a replicate) does not converge.
    """
    p: TimingStrategyParameters = spec.parameters
    if p.entry_day is None:
        raise ContractViolation(f"{spec.id}: entry_day must be resolved before the analysis runs")
    entry, n_day = int(p.entry_day), int(p.none_within_days)
    days_x = [int(d) for d in p.strategy_days]
    if any(d <= entry for d in days_x) or n_day <= entry:
        raise ContractViolation(f"{spec.id}: strategy_days and none_within_days must lie after the entry day {entry}")
    mask = eligible_mask(spells, entry)
    el = spells.loc[mask].reset_index(drop=True)
    bookkeeping: dict[str, Any] = {"n_spells": int(len(spells)), "n_eligible": int(len(el)),
                                   "n_excluded_not_followed_at_entry": int((spells["followup_days"] <= entry).sum()),
                                   "n_excluded_coordinated_before_entry": int(((spells["followup_days"] > entry)
                                                                              & ~mask).sum())}
    confounders = tuple(c for c in p.confounders if c in el.columns and el[c].astype(str).nunique() > 1)
    arm_names = [by_arm(d) for d in days_x] + [none_arm(n_day)]
    if el.empty:
        return _empty_result(spec, bookkeeping)
    followup = el["followup_days"].to_numpy(dtype=np.int64)
    t_c_raw = pd.to_numeric(el["days_to_first_gc001"], errors="coerce").to_numpy(dtype=float)
    t_c = np.where(np.isnan(t_c_raw), np.inf, t_c_raw)
    cause = outcome_cause(el["end_reason"])
    persons, person_index = np.unique(el["person_id"].to_numpy(), return_inverse=True)
    plan = plan_levels(el, confounders, p.min_level_size)
    x_logit = indicator_matrix(el, plan, leading_ones=True)
    x_band = indicator_matrix(el, plan)
    limits = band_limits(entry, n_day)
    days, event_band = exposure_days(followup.astype(float), t_c, limits)
    followed_rows = {d: np.flatnonzero(followup > d) for d in days_x}
    design = Design(followup, t_c, cause, person_index, len(persons), x_logit, x_band, followed_rows,
                    {d: x_logit[r] for d, r in followed_rows.items()}, days, event_band, limits, p)
    t_c_int = np.where(np.isfinite(t_c), t_c, np.iinfo(np.int32).max).astype(np.int64)
    arms = [by_day_rows(d, entry, followup, t_c, cause) for d in days_x] + [none_rows(limits, followup, t_c_int, cause)]

    # populations: everyone, each sex, each chapter group (everyone) as sums of sex × chapter cells
    sex = el["sex"].astype(str).to_numpy()
    chapter = el["diagnosis_chapter_group"].astype(str).to_numpy() if "diagnosis_chapter_group" in el else np.full(len(el), "all")
    sexes = present_levels(sex, level_order("sex"))
    chapters = present_levels(chapter, level_order("diagnosis_chapter_group"))
    sex_code = pd.Index(sexes).get_indexer(sex)
    chap_code = pd.Index(chapters).get_indexer(chapter)
    cell = sex_code * len(chapters) + chap_code
    n_cells = len(sexes) * len(chapters)
    pops = [("all", "all", "all", np.ones(n_cells))]
    if p.by_sex:
        pops += [("sex", s, s, np.repeat(np.arange(len(sexes)) == i, len(chapters)).astype(float)) for i, s in enumerate(sexes)]
    if p.by_chapter_group and len(chapters) > 1:
        pops += [("diagnosis_chapter_group", c, "all", np.tile(np.arange(len(chapters)) == j, len(sexes)).astype(float))
                 for j, c in enumerate(chapters)]
    n_times = int(max(followup.max(), p.curve_max_day, max(p.horizons), n_day)) + 2
    timeline = Timeline(n_cells, n_times, np.array([q[3] for q in pops]))
    pop_masks = [q[3][cell] > 0 for q in pops]
    horizons = np.asarray(p.horizons, dtype=np.int64)
    grid = np.arange(0, p.curve_max_day + 1, p.curve_step_days, dtype=np.int64)
    at = np.concatenate([horizons, grid])

    keys = {a.name: arm_keys(a, cell, timeline) for a in arms}

    def estimate(freq: np.ndarray, models, report_weights: bool = False,
                 workspace: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], Weights]:
        weights = arm_weights(design, models, freq, report_weights, workspace)
        out = {}
        for rows in arms:
            sums = arm_sums(rows, cell, timeline, row_weights(rows, weights.slots[rows.name], freq), keys[rows.name])
            out[rows.name] = aalen_johansen_from_sums(sums)[:, at]
        return out, weights

    ones = np.ones(len(el))
    models = fit_models(design, ones)
    point, weights = estimate(ones, models, report_weights=True)
    workspace = np.empty_like(weights.slots[none_arm(p.none_within_days)], order="F")  # the replicates' none-arm slots
    rng = np.random.default_rng(p.seed)
    replicates = []
    for b in range(1, p.bootstrap_replicates + 1):
        freq = person_frequencies(person_index, len(persons), rng)
        rep, _ = estimate(freq, fit_models(design, freq, models), workspace=workspace)
        replicates.append(rep)
        if progress and b % 25 == 0:
            progress(f"{spec.id}: {b} bootstrap replicates")

    balance = balance_table(el, plan, design, weights, pops, cell, timeline, arm_names, spec.id)
    rows, curves = [], []
    ends = {a.name: a.end for a in arms}
    person_order = person_index_of(person_index)
    for k, (subgroup, level, sex_label, _) in enumerate(pops):
        m = pop_masks[k]
        if not m.any():
            continue
        diag_arm = arm_diagnostics(design, arms, weights, m, balance, subgroup, level, sex_label, horizons)
        bookkeeping[f"{sex_label}/{subgroup}={level}"] = diag_arm
        common = {"subgroup": subgroup, "level": level, "sex": sex_label, "n_spells": int(m.sum()),
                  "n_persons": int(len(np.unique(person_index[m]))), "n_bootstrap": len(replicates)}
        pop_rows = _population_rows(p, k, point, replicates, arm_names, horizons, diag_arm, common)
        passed = all(_passes(r["row_diagnostics"]) for r in pop_rows)
        diag_arm["passed"] = passed
        rows.extend(pop_rows)
        curves.append(_curve_rows(spec.id, k, point, replicates, arms, design, m, grid, len(horizons),
                                  subgroup, level, sex_label, ends, person_order))
    diagnostics = {"design": spec.design, "entry_day": entry, "strategy_days": days_x, "none_within_days": n_day,
                   "bootstrap_replicates": p.bootstrap_replicates, "weight_truncation": list(p.weight_truncation),
                   "censoring_models": "fitted once on all eligible spells (sex a confounder), used in every population",
                   "none_weights": "row split at weekly bands, weight at the band's mean risk time",
                   "level_plan": plan.describe(), "populations": bookkeeping}
    summary = finish_summary(rows, spec.id, METHOD, diagnostics)
    tables = {"cif_curves": pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
              "balance": balance}
    return Result(analysis_id=spec.id, method=METHOD, summary=summary, diagnostics=diagnostics, tables=tables)


def _passes(diag: dict) -> bool:
    return bool(diag.get("passes"))


def _empty_result(spec: AnalysisSpec, bookkeeping: dict) -> Result:
    diagnostics = {"design": spec.design, "populations": bookkeeping, "note": "no eligible spell"}
    return Result(analysis_id=spec.id, method=METHOD, summary=finish_summary([], spec.id, METHOD, diagnostics), diagnostics=diagnostics,
                  tables={"cif_curves": pd.DataFrame(), "balance": pd.DataFrame()})


def _z_p(estimate: float, se: float) -> float:
    return float(2 * stats.norm.sf(abs(estimate / se))) if se and np.isfinite(se) and se > 0 else float("nan")


def contrasts(arm_names: list[str]) -> list[tuple[str, str]]:
    """Each by-day arm against the none arm, and the earliest against the latest by-day arm."""
    by, none = arm_names[:-1], arm_names[-1]
    pairs = [(a, none) for a in by]
    if len(by) > 1:
        pairs.append((by[0], by[-1]))
    return pairs


def _population_rows(p, k, point, replicates, arm_names, horizons, diag_arm, common) -> list[dict]:
    rows = []
    for i, h in enumerate(horizons):
        for arm in arm_names:
            est = float(point[arm][k, i])
            rep = np.array([r[arm][k, i] for r in replicates])
            se, lo, hi = percentile_interval(rep)
            d = flags(p, max_abs_smd=diag_arm[arm]["max_abs_smd"], support_share=diag_arm[arm]["support_share"],
                      events_per_arm={arm: diag_arm[arm]["events"][int(h)]})
            d.update({"weights": diag_arm[arm]["weights"], "effective_sample_size": diag_arm[arm]["effective_sample_size"]})
            rows.append({**common, "measure": "strategy_risk", "estimand": "cumulative_incidence", "term": arm,
                         "arm": arm, "comparator": None, "horizon": int(h), "estimate": est, "std_error": se,
                         "conf_low": lo, "conf_high": hi, "p_value": float("nan"),
                         "n_events": int(diag_arm[arm]["events"][int(h)]), "row_diagnostics": d})
        for arm, comp in contrasts(arm_names):
            a, c = float(point[arm][k, i]), float(point[comp][k, i])
            ra = np.array([r[arm][k, i] for r in replicates])
            rc = np.array([r[comp][k, i] for r in replicates])
            rd_se, rd_lo, rd_hi = percentile_interval(ra - rc)
            with np.errstate(divide="ignore", invalid="ignore"):
                rr_se, rr_lo, rr_hi = percentile_interval(np.log(ra / rc))
            events = {arm: diag_arm[arm]["events"][int(h)], comp: diag_arm[comp]["events"][int(h)]}
            d = flags(p, max_abs_smd=np.nanmax([diag_arm[arm]["max_abs_smd"], diag_arm[comp]["max_abs_smd"]]),
                      support_share=min(diag_arm[arm]["support_share"], diag_arm[comp]["support_share"]),
                      mde_risk_difference=minimum_detectable_difference(rd_se), events_per_arm=events)
            base = {**common, "measure": "strategy_contrast", "term": f"{arm}_vs_{comp}", "arm": arm,
                    "comparator": comp, "horizon": int(h), "n_events": int(sum(events.values())),
                    "cif_arm": a, "cif_comparator": c}
            rows.append({**base, "estimand": "risk_difference", "estimate": a - c, "std_error": rd_se,
                         "conf_low": rd_lo, "conf_high": rd_hi, "p_value": _z_p(a - c, rd_se), "row_diagnostics": d})
            rr = a / c if c > 0 else float("nan")
            rows.append({**base, "estimand": "risk_ratio", "estimate": rr, "std_error": rr_se,
                         "conf_low": float(np.exp(rr_lo)), "conf_high": float(np.exp(rr_hi)),
                         "p_value": _z_p(np.log(rr), rr_se) if rr > 0 else float("nan"), "row_diagnostics": dict(d)})
    return rows


def arm_diagnostics(design: Design, arms: list[ArmRows], weights: Weights, m: np.ndarray, balance: pd.DataFrame,
                    subgroup: str, level: str, sex: str, horizons: np.ndarray) -> dict[str, dict]:
    """Per arm in one population: weights, ESS, balance, positivity and events by each horizon."""
    p = design.params
    out = {}
    bal = balance[(balance["subgroup"] == subgroup) & (balance["level"] == level) & (balance["sex"] == sex)]
    for rows in arms:
        name = rows.name
        in_pop = m[rows.clone]
        last = rows.slot == rows.slot.max() if name.startswith("none") else rows.slot == 1
        final_clones = np.unique(rows.clone[in_pop & last])
        w_final = weights.slots[name][final_clones, -1]
        if name.startswith("by_"):
            day = int(name.rsplit("_", 1)[1])
            followed = m & (design.followup > day)
            prob = weights.p_by_day[day][followed]
        else:
            followed = m
            prob = 1 - weights.uncensored_by_none[followed]
        outside = float(((prob < POSITIVITY_BOUNDS[0]) | (prob > POSITIVITY_BOUNDS[1])).mean()) if len(prob) else float("nan")
        rtw = in_pop & (rows.cause == CAUSE_RETURN_TO_WORK)
        smd = bal.loc[bal["arm"] == name, "smd_after"].abs()
        out[name] = {
            "weights": weights.report[name],
            "effective_sample_size": float(w_final.sum() ** 2 / (w_final**2).sum()) if len(w_final) else 0.0,
            "n_uncensored_after_grace": int(len(final_clones)),
            "positivity_share_outside": outside, "support_share": 1 - outside if np.isfinite(outside) else float("nan"),
            "max_abs_smd": float(smd.max()) if len(smd) and smd.notna().any() else float("nan"),
            "events": {int(h): int((rtw & (rows.stop <= h)).sum()) for h in horizons},
        }
    return out


def balance_table(el: pd.DataFrame, plan, design: Design, weights: Weights, pops, cell: np.ndarray,
                  timeline: Timeline, arm_names, analysis_id: str) -> pd.DataFrame:
    """|SMD| of every confounder level at each strategy day: uncensored weighted clones vs all followed then.

    Before: the uncensored clones unweighted; after: with their (truncated) weights at that day.
    The reference group is every clone still followed at the day, which the weights restore;
    the SD is that of the unweighted groups (as `diagnostics.level_smd`). Weighted counts are
    summed per sex × chapter cell once and added up per population.
    """
    p = design.params
    covs = []
    for cov in plan.covariates:
        levels = [*cov.levels, cov.reference]
        codes = level_codes(el, cov)
        covs.append((cov, levels, np.where(codes >= 0, codes, len(cov.levels))))
    none = arm_names[-1]
    n_cells = timeline.n_cells
    frames = []
    for day in p.strategy_days:
        followed = design.followup > day
        checks = [(by_arm(day), followed & (design.t_c < day), weights.slots[by_arm(day)][:, 1])]
        if day <= p.none_within_days:
            slots = weights.slots[none]
            slot = int(np.clip(np.searchsorted(design.limits, day, side="right"), 1, slots.shape[1] - 1))
            checks.append((none, followed & (design.t_c >= day), slots[:, slot]))
        for arm, uncensored, w in checks:
            n_u = timeline.populations @ np.bincount(cell[uncensored], minlength=n_cells)
            n_f = timeline.populations @ np.bincount(cell[followed], minlength=n_cells)
            names, before_v, after_v = [], [], []
            for cov, levels, codes in covs:
                n_lv = len(levels)

                def shares(mask, weight):
                    counts = np.bincount(cell[mask] * n_lv + codes[mask], weights=weight,
                                         minlength=n_cells * n_lv).reshape(n_cells, n_lv)
                    total = timeline.populations @ counts
                    with np.errstate(divide="ignore", invalid="ignore"):
                        return total / total.sum(axis=1, keepdims=True)

                p_u, p_uw = shares(uncensored, None), shares(uncensored, w[uncensored])
                p_f = shares(followed, None)
                sd = np.sqrt((p_u * (1 - p_u) + p_f * (1 - p_f)) / 2)
                names.extend(indicator_name(cov.name, lv) for lv in levels)
                before_v.append(_smd(p_u - p_f, sd))
                after_v.append(_smd(p_uw - p_f, sd))
            if not names:
                continue
            before_all, after_all = np.hstack(before_v), np.hstack(after_v)
            for k, (subgroup, level, sex, _) in enumerate(pops):
                if not n_u[k]:
                    continue
                frames.append(pd.DataFrame({"analysis_id": analysis_id, "sex": sex, "subgroup": subgroup, "level": level,
                                            "arm": arm, "day": int(day), "covariate": names,
                                            "smd_before": before_all[k], "smd_after": after_all[k],
                                            "n_uncensored": int(n_u[k]), "n_followed": int(n_f[k])}))
    columns = ["analysis_id", "sex", "subgroup", "level", "arm", "day", "covariate", "smd_before", "smd_after",
               "n_uncensored", "n_followed"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


@dataclass(frozen=True)
class PersonIndex:
    """Clones sorted by person, for per-person maxima by `np.maximum.reduceat`."""

    order: np.ndarray
    starts: np.ndarray
    single: np.ndarray  # per clone: its person has one eligible spell


def person_index_of(person_index: np.ndarray) -> PersonIndex:
    order = np.argsort(person_index, kind="stable")
    sorted_persons = person_index[order]
    starts = np.flatnonzero(np.r_[True, sorted_persons[1:] != sorted_persons[:-1]])
    counts = np.bincount(person_index)
    return PersonIndex(order, starts, counts[person_index] == 1)


def _curve_rows(analysis_id, k, point, replicates, arms, design, m, grid, n_h, subgroup, level, sex,
                ends: dict[str, np.ndarray], persons: PersonIndex) -> pd.DataFrame:
    """Each arm's curve on the grid with bootstrap bands, persons at risk and persons with a return to work."""
    frames = []
    entry = int(design.limits[0])
    n_grid = len(grid)
    for rows in arms:
        name = rows.name
        cif = point[name][k, n_h:]
        rep = np.array([r[name][k, n_h:] for r in replicates]) if replicates else None
        lo, hi = percentile_band(rep, n_grid)
        # persons at risk at t: the latest end of their clones in the population is >= t (all enter at E)
        last = np.maximum.reduceat(np.where(m, ends[name], -1)[persons.order], persons.starts)
        last = last[last > entry]
        histogram = np.bincount(last, minlength=int(grid.max()) + 2)
        from_t = np.cumsum(histogram[::-1])[::-1]
        at_risk = from_t[np.maximum(grid, entry + 1)]
        # persons with a return to work in (previous grid time, t]; a person counts once per interval
        ev = m[rows.clone] & (rows.cause == CAUSE_RETURN_TO_WORK) & (rows.stop <= grid.max())
        clone = rows.clone[ev]
        ev_bin = np.searchsorted(grid, rows.stop[ev], side="left")
        one = persons.single[clone]
        n_events = np.bincount(ev_bin[one], minlength=n_grid)[:n_grid]
        key = np.unique(design.person_index[clone[~one]] * (n_grid + 1) + ev_bin[~one])
        n_events = n_events + np.bincount(key % (n_grid + 1), minlength=n_grid + 1)[:n_grid]
        frames.append(pd.DataFrame({"analysis_id": analysis_id, "arm": name, "sex": sex, "subgroup": subgroup,
                                    "level": level, "time": grid.astype(float), "cif": cif, "conf_low": lo,
                                    "conf_high": hi, "n_at_risk": at_risk.astype(np.int64),
                                    "n_events": n_events.astype(np.int64)}))
    return pd.concat(frames, ignore_index=True)


__all__ = ["ArmRows", "BandFit", "LogisticFit", "aalen_johansen_from_sums", "arm_sums", "band_limits",
           "by_day_rows", "coordination_timing_strategies", "contrasts", "cumulative_censoring_hazard",
           "eligible_mask", "exposure_days", "fit_band_model", "fit_by_day_model", "none_rows"]
