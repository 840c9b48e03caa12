"""Kaplan–Meier survival with Greenwood standard errors, on (start, stop] rows, weights and groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

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
from analyses.results import Z_95, Result, make_summary
from koord.errors import ContractViolation


@dataclass(frozen=True)
class KaplanMeierSpec:
    """What to estimate with :func:`fit_kaplan_meier`.

    Parameters
    ----------
    time : str
        Column with the end of each row's interval (event or censoring time).
    event : str
        Column with 1 (event at ``time``) or 0.
    start : str, optional
        Start of each row's interval for (start, time] rows: left truncation or several rows
        per person. At risk at t if start < t <= time, as in R's ``survfit``.
    id : str, optional
        Person column for several rows per person (R's ``survfit(..., id = id)``): a person's
        rows must not overlap; a row ending where the person's next row starts is not counted
        as a censoring, and ``n_persons`` counts persons.
    group : str, optional
        Column whose values get separate curves.
    weights : str, optional
        Non-negative case weights.
    times : tuple of float
        Times at which the summary reports survival (default: each group's last event time).
    analysis_id : str
    """

    time: str
    event: str
    start: str | None = None
    id: str | None = None
    group: str | None = None
    weights: str | None = None
    times: tuple[float, ...] = ()
    analysis_id: str = "kaplan_meier"

    def __post_init__(self) -> None:
        object.__setattr__(self, "times", tuple(float(t) for t in self.times))


@dataclass(frozen=True, eq=False)
class KaplanMeierResult(Result):
    """Result of :func:`fit_kaplan_meier`; ``tables['survival']`` holds the curves."""

    def survival_at(self, times: Iterable[float]) -> pd.DataFrame:
        """Survival (step function) at ``times`` per group: group, time, survival, std_error, CI."""
        return _curve_at(self.tables["survival"], np.asarray(list(times), dtype=float))


def _curve_at(curves: pd.DataFrame, times: np.ndarray) -> pd.DataFrame:
    out = []
    for group, curve in curves.groupby("group", sort=False, dropna=False):
        t = curve["time"].to_numpy()
        frame = pd.DataFrame({"group": group, "time": times})
        for column, before in (("survival", 1.0), ("std_error", 0.0), ("conf_low", 1.0), ("conf_high", 1.0)):
            frame[column] = step_lookup(t, curve[column].to_numpy(), times, before)
        frame["n_events_to_time"] = step_lookup(t, curve["n_events"].cumsum().to_numpy(), times, 0).astype(int)
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def weighted_at_risk(start: np.ndarray | None, stop: np.ndarray, weights: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Sum of ``weights`` over rows with start < t <= stop, for each t in ``at``."""
    order = np.argsort(stop, kind="stable")
    suffix = np.concatenate([np.cumsum(weights[order][::-1])[::-1], [0.0]])
    total = suffix[np.searchsorted(stop[order], at, side="left")]
    if start is not None:
        order = np.argsort(start, kind="stable")
        suffix = np.concatenate([np.cumsum(weights[order][::-1])[::-1], [0.0]])
        total = total - suffix[np.searchsorted(start[order], at, side="left")]
    return total


def _continued_rows(data: pd.DataFrame, id_column: str, start: np.ndarray, stop: np.ndarray,
                    spec: KaplanMeierSpec) -> np.ndarray:
    """Rows whose person has a next row starting where this one stops (not a censoring).

    Raises ContractViolation when one person's rows overlap.
    """
    ids = data[id_column].to_numpy()
    order = np.lexsort((start, ids))
    same_next = ids[order][1:] == ids[order][:-1]
    overlap = same_next & (start[order][1:] < stop[order][:-1])
    if overlap.any():
        first = data.index[order[1:][overlap][0]]
        raise ContractViolation(
            f"{spec_name(spec)}: {int(overlap.sum())} row(s) overlap an earlier row of the same "
            f"{id_column!r} (first at row index {first}); a person's (start, stop] rows must not overlap"
        )
    continued = np.zeros(len(ids), dtype=bool)
    continued[order[:-1]] = same_next & (start[order][1:] == stop[order][:-1])
    return continued


def fit_kaplan_meier(data: pd.DataFrame, spec: KaplanMeierSpec) -> KaplanMeierResult:
    """Kaplan–Meier estimate per group, reproducing R ``survival::survfit``.

    Survival S(t) = prod over event times s <= t of (1 - d(s) / Y(s)) with weighted event
    counts d and weighted numbers at risk Y (rows with start < s <= stop). The standard error
    is Greenwood's on the survival scale, S * sqrt(sum d / (Y (Y - d))); the 95 % interval is
    R's default 'log' interval. (With weights, R's survfit defaults to the infinitesimal
    jackknife instead; this is its ``robust = FALSE`` Greenwood.)

    Returns
    -------
    KaplanMeierResult
        ``tables['survival']``: group, time, n_at_risk, n_events, n_censored, survival,
        std_error, conf_low, conf_high (unweighted counts; ``weighted_at_risk`` and
        ``weighted_events`` too when weights are given). ``summary``: estimand 'survival'
        at ``spec.times`` (extra column ``time``).
    """
    require_columns(data, spec, {"time": [spec.time], "event": [spec.event], "start": [spec.start],
                                 "id": [spec.id], "group": [spec.group], "weights": [spec.weights]})
    errors: list[str] = []
    stop = numeric_column(data, spec.time, "time", errors)
    event = numeric_column(data, spec.event, "event", errors)
    start = numeric_column(data, spec.start, "start", errors) if spec.start else None
    weights = numeric_column(data, spec.weights, "weights", errors) if spec.weights else np.ones(len(data))
    check(~np.isin(event, (0.0, 1.0)) & np.isfinite(event), f"event column {spec.event!r} must be 0 or 1", data, errors)
    check(weights < 0, f"weights column {spec.weights!r} must be non-negative", data, errors)
    if start is not None:
        check(stop <= start, f"time ({spec.time!r}) must be after start ({spec.start!r})", data, errors)
    if spec.id:
        check(data[spec.id].isna().to_numpy(), f"id column {spec.id!r} has missing values", data, errors)
    raise_if(errors, spec)
    if len(data) == 0:
        raise ContractViolation(f"{spec_name(spec)}: no rows")
    is_event = event == 1
    continued = _continued_rows(data, spec.id, start if start is not None else np.zeros(len(data)), stop, spec) \
        if spec.id else np.zeros(len(data), dtype=bool)
    is_censoring = ~is_event & ~continued
    codes, values = group_labels(data, spec.group)

    curves, rows = [], []
    for g, value in enumerate(values):
        in_group = codes == g
        s_stop, s_w, s_event = stop[in_group], weights[in_group], is_event[in_group]
        s_start = start[in_group] if start is not None else None
        times = np.unique(s_stop[s_event | is_censoring[in_group]])
        at_risk_w = weighted_at_risk(s_start, s_stop, s_w, times)
        at_risk_n = weighted_at_risk(s_start, s_stop, np.ones(len(s_stop)), times)
        position = np.searchsorted(times, s_stop)
        events_w = np.bincount(position[s_event], weights=s_w[s_event], minlength=len(times))
        events_n = np.bincount(position[s_event], minlength=len(times))
        censored_n = np.bincount(position[is_censoring[in_group]], minlength=len(times))
        with np.errstate(divide="ignore", invalid="ignore"):
            hazard = np.where(at_risk_w > 0, events_w / at_risk_w, 0.0)
            survival = np.cumprod(1 - hazard)
            greenwood = np.cumsum(np.where(events_w > 0, events_w / (at_risk_w * (at_risk_w - events_w)), 0.0))
            std_error = survival * np.sqrt(greenwood)
            log_half_width = Z_95 * np.sqrt(greenwood)
            conf_low = np.where(survival > 0, survival * np.exp(-log_half_width), np.nan)
            conf_high = np.where(survival > 0, np.minimum(1.0, survival * np.exp(log_half_width)), np.nan)
        curve = pd.DataFrame({
            "group": value, "time": times, "n_at_risk": at_risk_n.round().astype(np.int64),
            "n_events": events_n, "n_censored": censored_n, "survival": survival,
            "std_error": std_error, "conf_low": conf_low, "conf_high": conf_high,
        })
        if spec.weights:
            curve["weighted_at_risk"] = at_risk_w
            curve["weighted_events"] = events_w
        curves.append(curve)
        n_persons = int(data.loc[in_group, spec.id].nunique()) if spec.id else int(in_group.sum())
        report_times = np.asarray(spec.times) if spec.times else times[events_n > 0][-1:]
        for t in report_times:
            i = np.searchsorted(times, t, side="right") - 1
            rows.append({
                "estimand": "survival", "term": "survival", "subgroup": subgroup_label(spec.group, value),
                "level": None, "time": float(t),
                "estimate": survival[i] if i >= 0 else 1.0,
                "std_error": std_error[i] if i >= 0 else 0.0,
                "conf_low": conf_low[i] if i >= 0 else 1.0,
                "conf_high": conf_high[i] if i >= 0 else 1.0,
                "p_value": np.nan, "n_persons": n_persons,
                "n_events": int(events_n[: i + 1].sum()),
            })
    diagnostics = {
        "se_type": "greenwood", "conf_type": "log", "n_rows": len(data),
        "weighted": spec.weights is not None, "n_groups": len(values),
        "risk_set": "start < t <= stop" if spec.start else "t <= stop",
        "n_rows_continued_by_same_id": int(continued.sum()),
    }
    summary = make_summary(rows, analysis_id=spec.analysis_id, method="kaplan_meier", diagnostics=diagnostics)
    return KaplanMeierResult(
        analysis_id=spec.analysis_id, method="kaplan_meier", summary=summary,
        diagnostics=diagnostics, tables={"survival": pd.concat(curves, ignore_index=True)},
    )
