"""Aalen–Johansen cumulative incidence for competing causes.

Two entries, one estimator:

- `fit_aalen_johansen(data, spec) -> AalenJohansenResult`: curves of every cause per group with
  infinitesimal-jackknife standard errors, left truncation and real-valued times, as R's
  ``survfit`` (tests hold it to R);
- `cumulative_incidence_at(time, cause, weights, at)`: the weighted point estimate of one cause
  at whole-number times (days), by bincount, without standard errors: the fast path for
  callers that estimate it hundreds of times (the trial emulation and its bootstrap). Tests
  hold it equal to `fit_aalen_johansen`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd

from analyses.estimators._common import (
    check,
    group_labels,
    numeric_column,
    raise_if,
    spec_name,
    require_columns,
    step_lookup,
    subgroup_label,
)
from analyses.estimators.kaplan_meier import weighted_at_risk
from analyses.results import Z_95, Result, make_summary
from koord.errors import ContractViolation

# Influence matrices are built in blocks of about this many cells (observation patterns × times).
_BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class AalenJohansenSpec:
    """What to estimate with :func:`fit_aalen_johansen`.

    Parameters
    ----------
    time : str
        Column with the time of the first event or of censoring (end of the row's interval).
    cause : str
        Column with the cause of the event at ``time``; ``censor_value`` means censored.
        Every other value is a cause.
    censor_value : Any
        The value of ``cause`` that means censoring (default 0).
    group : str, optional
        Column whose values get separate curves.
    weights : str, optional
        Non-negative case weights.
    start : str, optional
        Entry time for left truncation: at risk at t if start < t <= time.
    times : tuple of float
        Times at which the summary reports the incidence (default: each group's last event time).
    analysis_id : str
    """

    time: str
    cause: str
    censor_value: Any = 0
    group: str | None = None
    weights: str | None = None
    start: str | None = None
    times: tuple[float, ...] = ()
    analysis_id: str = "aalen_johansen"

    def __post_init__(self) -> None:
        object.__setattr__(self, "times", tuple(float(t) for t in self.times))


@dataclass(frozen=True, eq=False)
class AalenJohansenResult(Result):
    """Result of :func:`fit_aalen_johansen`; ``tables['cif']`` holds the curves."""

    def cif_at(self, times: Iterable[float]) -> pd.DataFrame:
        """Cumulative incidence (step function) at ``times``: group, cause, time, cif, std_error, CI."""
        times = np.asarray(list(times), dtype=float)
        out = []
        for (group, cause), curve in self.tables["cif"].groupby(["group", "cause"], sort=False, dropna=False):
            t = curve["time"].to_numpy()
            frame = pd.DataFrame({"group": group, "cause": cause, "time": times})
            for column in ("cif", "std_error", "conf_low", "conf_high"):
                frame[column] = step_lookup(t, curve[column].to_numpy(), times, 0.0)
            out.append(frame)
        return pd.concat(out, ignore_index=True)


def _ij_variance(lo, hi, status, weights, at_risk, d_cause, survival, survival_before) -> np.ndarray:
    """Infinitesimal-jackknife variance of each cause's incidence at every grid time (J × T).

    The influence of observation i is the derivative of F_j(t) with respect to its weight:
        dS(t)   = -S(t) * sum_{s<=t} [dN_i(s) - Y_i(s) dA(s)] / (Y(s) (1 - dA(s)))
        dF_j(t) = sum_{s<=t} [dS(s-) dA_j(s) + S(s-) (dN_ij(s) - Y_i(s) dA_j(s)) / Y(s)]
    and var F_j(t) = sum_i (w_i dF_j(t))^2. Observations with the same (entry, exit, status)
    share their influence, so the sum runs over those patterns with the summed w_i^2.
    """
    n_causes, n_times = d_cause.shape
    hazard_cause = d_cause / at_risk
    hazard = hazard_cause.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        at_event_total = 1.0 / (at_risk * (1 - hazard))  # weight of dN_i(s) in dS
    at_event_total[~np.isfinite(at_event_total)] = 0.0  # everyone left fails: S is 0 from here on
    cum_at_risk_total = np.concatenate([[0.0], np.cumsum(hazard * at_event_total)])
    cum_at_risk_cause = np.hstack([np.zeros((n_causes, 1)),
                                   np.cumsum(survival_before * hazard_cause / at_risk, axis=1)])

    key = (lo.astype(np.int64) * (n_times + 2) + hi) * (n_causes + 1) + status
    patterns, inverse = np.unique(key, return_inverse=True)
    w2 = np.bincount(inverse, weights=weights ** 2)
    p_status = patterns % (n_causes + 1)
    p_hi = (patterns // (n_causes + 1)) % (n_times + 2)
    p_lo = (patterns // (n_causes + 1)) // (n_times + 2)
    p_exit = p_hi - 1  # grid index of the event, for patterns with an event

    variance = np.zeros((n_causes, n_times))
    grid = np.arange(n_times)
    block = max(1, _BLOCK_CELLS // max(n_times, 1))
    for first in range(0, len(patterns), block):
        sl = slice(first, first + block)
        lo_b, hi_b, status_b, exit_b = p_lo[sl, None], p_hi[sl, None], p_status[sl, None], p_exit[sl, None]
        upto = np.clip(grid[None, :] + 1, lo_b, hi_b)  # grid indexes < upto, >= lo: at risk up to t
        has_event_by_t = (status_b > 0) & (grid[None, :] >= exit_b)
        q = np.where(has_event_by_t, at_event_total[np.clip(exit_b, 0, None)], 0.0) \
            - (cum_at_risk_total[upto] - cum_at_risk_total[lo_b])
        d_survival = -survival[None, :] * q
        d_survival_before = np.hstack([np.zeros((q.shape[0], 1)), d_survival[:, :-1]])
        for j in range(n_causes):
            own = np.where(has_event_by_t & (status_b == j + 1),
                           (survival_before / at_risk)[np.clip(exit_b, 0, None)], 0.0)
            influence = np.cumsum(d_survival_before * hazard_cause[j][None, :], axis=1) + own \
                - (cum_at_risk_cause[j][upto] - cum_at_risk_cause[j][lo_b])
            variance[j] += w2[sl] @ influence ** 2
    return variance


def fit_aalen_johansen(data: pd.DataFrame, spec: AalenJohansenSpec) -> AalenJohansenResult:
    """Aalen–Johansen cumulative incidence of each cause, per group.

    Reproduces R ``survfit(Surv(time, factor(cause)) ~ group)``: events of all causes at a
    time share that time's risk set (no jittering of ties), censorings at t are at risk at t.
    F_j(t) = sum_{s<=t} S(s-) d_j(s) / Y(s), with S the all-cause Kaplan–Meier, weighted counts
    d_j and weighted numbers at risk Y (rows with start < s <= time).

    The standard error is the infinitesimal jackknife, as R's survfit gives for multi-state
    curves (each row its own cluster); the 95 % interval is R's default 'log' interval.

    Returns
    -------
    AalenJohansenResult
        ``tables['cif']``: group, time, cause, cif, std_error, conf_low, conf_high,
        n_at_risk, n_events (unweighted counts), at every event time of the group.
        ``summary``: estimand 'cumulative_incidence', term 'cause=<value>', at ``spec.times``.
    """
    require_columns(data, spec, {"time": [spec.time], "cause": [spec.cause], "group": [spec.group],
                                 "weights": [spec.weights], "start": [spec.start]})
    errors: list[str] = []
    stop = numeric_column(data, spec.time, "time", errors)
    start = numeric_column(data, spec.start, "start", errors) if spec.start else None
    weights = numeric_column(data, spec.weights, "weights", errors) if spec.weights else np.ones(len(data))
    check(weights < 0, f"weights column {spec.weights!r} must be non-negative", data, errors)
    cause_values = data[spec.cause]
    check(cause_values.isna().to_numpy(), f"cause column {spec.cause!r} has missing values", data, errors)
    if start is not None:
        check(stop <= start, f"time ({spec.time!r}) must be after start ({spec.start!r})", data, errors)
    raise_if(errors, spec)
    is_censored = (cause_values == spec.censor_value).to_numpy()
    causes = sorted(pd.unique(cause_values[~is_censored]).tolist())
    if not causes:
        raise ContractViolation(f"{spec_name(spec)}: no events in the data "
                                f"(every {spec.cause!r} equals censor_value={spec.censor_value!r})")
    status = np.zeros(len(data), dtype=np.int64)  # 0 censored, j + 1 for causes[j]
    status[~is_censored] = pd.Index(causes).get_indexer(cause_values[~is_censored]) + 1
    codes, values = group_labels(data, spec.group)

    tables, rows = [], []
    for g, value in enumerate(values):
        in_group = codes == g
        s_stop, s_w, s_status = stop[in_group], weights[in_group], status[in_group]
        s_start = start[in_group] if start is not None else None
        times = np.unique(s_stop[s_status > 0])
        if len(times) == 0:
            continue
        at_risk = weighted_at_risk(s_start, s_stop, s_w, times)
        at_risk_n = weighted_at_risk(s_start, s_stop, np.ones(len(s_stop)), times)
        position = np.searchsorted(times, s_stop)
        d_cause = np.zeros((len(causes), len(times)))
        n_cause = np.zeros((len(causes), len(times)), dtype=np.int64)
        for j in range(len(causes)):
            mine = s_status == j + 1
            d_cause[j] = np.bincount(position[mine], weights=s_w[mine], minlength=len(times))
            n_cause[j] = np.bincount(position[mine], minlength=len(times))
        hazard = d_cause.sum(axis=0) / at_risk
        survival = np.cumprod(1 - hazard)
        survival_before = np.concatenate([[1.0], survival[:-1]])
        cif = np.cumsum(survival_before * d_cause / at_risk, axis=1)
        lo = np.searchsorted(times, s_start, side="right") if s_start is not None else np.zeros(len(s_stop), dtype=np.int64)
        hi = np.searchsorted(times, s_stop, side="right")
        variance = _ij_variance(lo, hi, s_status, s_w, at_risk, d_cause, survival, survival_before)
        std_error = np.sqrt(variance)
        with np.errstate(divide="ignore", invalid="ignore"):
            half = np.where(cif > 0, Z_95 * std_error / cif, np.nan)
            conf_low = np.where(cif > 0, cif * np.exp(-half), np.nan)
            conf_high = np.where(cif > 0, np.minimum(1.0, cif * np.exp(half)), np.nan)
        for j, cause in enumerate(causes):
            table = pd.DataFrame({
                "group": value, "time": times, "cause": cause, "cif": cif[j], "std_error": std_error[j],
                "conf_low": conf_low[j], "conf_high": conf_high[j],
                "n_at_risk": at_risk_n.round().astype(np.int64), "n_events": n_cause[j],
            })
            if spec.weights:
                table["weighted_at_risk"] = at_risk
                table["weighted_events"] = d_cause[j]
            tables.append(table)
            report_times = np.asarray(spec.times) if spec.times else times[-1:]
            for t in report_times:
                i = np.searchsorted(times, t, side="right") - 1
                rows.append({
                    "estimand": "cumulative_incidence", "term": f"cause={cause}",
                    "subgroup": subgroup_label(spec.group, value), "level": None, "time": float(t),
                    "estimate": cif[j, i] if i >= 0 else 0.0,
                    "std_error": std_error[j, i] if i >= 0 else 0.0,
                    "conf_low": conf_low[j, i] if i >= 0 else np.nan,
                    "conf_high": conf_high[j, i] if i >= 0 else np.nan,
                    "p_value": np.nan, "n_persons": int(in_group.sum()),
                    "n_events": int(n_cause[j, : i + 1].sum()),
                })
    diagnostics = {
        "se_type": "infinitesimal_jackknife", "conf_type": "log", "n_rows": len(data),
        "causes": [str(c) for c in causes], "censor_value": str(spec.censor_value),
        "weighted": spec.weights is not None, "n_groups": len(values),
        "ties": "all causes at a time share its risk set",
        "risk_set": "start < t <= time" if spec.start else "t <= time",
    }
    summary = make_summary(rows, analysis_id=spec.analysis_id, method="aalen_johansen", diagnostics=diagnostics)
    return AalenJohansenResult(
        analysis_id=spec.analysis_id, method="aalen_johansen", summary=summary,
        diagnostics=diagnostics, tables={"cif": pd.concat(tables, ignore_index=True)},
    )


def cumulative_incidence_at(time: np.ndarray, cause: np.ndarray, weights: np.ndarray, at: np.ndarray,
                            of_cause: int = 1) -> np.ndarray:
    """Weighted Aalen–Johansen cumulative incidence of cause ``of_cause`` at whole-number times ``at``.

    The point estimate of `fit_aalen_johansen` (tests hold the two equal) for rows followed from
    time 0, with whole-number times (days): one bincount per sum instead of the risk-set
    bookkeeping and the variance. All causes at one time are handled together, with S(t-) from
    before that time, as R does; rows censored at t are at risk at t.

    Parameters
    ----------
    time : the time of each row's event or censoring, whole numbers >= 0.
    cause : 0 censored, any positive code a cause; ``of_cause`` is the one estimated.
    weights : non-negative case weights.
    at : whole-number times >= 0 at which the incidence is returned.

    Raises
    ------
    ContractViolation
        A time or an ``at`` that is negative, not a whole number or missing (a day count was
        expected; ``fit_aalen_johansen`` takes any times).
    """
    t = np.asarray(time, dtype=np.int64) if np.asarray(time).dtype.kind in "iub" else _whole_times(time, "time")
    at = np.asarray(at, dtype=np.int64) if np.asarray(at).dtype.kind in "iub" else _whole_times(at, "at")
    if (t < 0).any() or (at < 0).any():
        raise ContractViolation("cumulative_incidence_at: times must be >= 0 (rows are followed from time 0)")
    horizon = int(max(t.max(initial=0), np.max(at, initial=0))) + 1
    leave = np.bincount(t, weights=weights, minlength=horizon)
    any_event = np.bincount(t, weights=weights * (cause > 0), minlength=horizon)
    event = np.bincount(t, weights=weights * (cause == of_cause), minlength=horizon)
    at_risk = np.cumsum(leave[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard_all = np.where(at_risk > 0, any_event / at_risk, 0.0)
        hazard = np.where(at_risk > 0, event / at_risk, 0.0)
    survival = np.cumprod(1 - hazard_all)
    survival_before = np.concatenate([[1.0], survival[:-1]])
    cif = np.cumsum(survival_before * hazard)
    return cif[at]


def _whole_times(values: np.ndarray, what: str) -> np.ndarray:
    """Float times as int64, refusing any that is not a whole number (NaN included)."""
    values = np.asarray(values, dtype=float)
    whole = np.floor(values)
    bad = ~np.isfinite(values) | (whole != values)
    if bad.any():
        raise ContractViolation(f"cumulative_incidence_at: {what} holds {int(bad.sum())} value(s) that are not "
                                f"whole numbers (first {values[bad][0]!r}); it counts days")
    return whole.astype(np.int64)
