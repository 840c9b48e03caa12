"""The outcome of the emulated trials and how it is reported (steps 3 and 5 of `trial_emulation`).

1. Causes: each entry ends in return to work (1), a competing event (2: sickness
   compensation, death, emigration, age 65) or censoring (0).
2. Curves: the weighted Aalen–Johansen cumulative incidence of return to work per arm, pooled
   over trials, at the horizons and on the curve grid (`analyses.estimators.
   cumulative_incidence_at`, the point estimate and every bootstrap replicate alike).
3. Summary: per horizon the risk difference, the risk ratio and each arm's incidence, with
   bootstrap standard errors and percentile intervals (`trial_bootstrap`) and the diagnostic
   flags; the curve table per arm with persons at risk and with events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from analyses.designs.diagnostics import equipoise, flags, minimum_detectable_difference, positivity
from analyses.designs.specs import TargetTrialParameters
from analyses.designs.trial_bootstrap import percentile_band, percentile_interval
from analyses.estimators.aalen_johansen import cumulative_incidence_at
from data_schemas.tables import COMPETING_EVENTS
from koord.errors import ContractViolation

if TYPE_CHECKING:
    from analyses.designs.trial_emulation import TrialAnalysis

ARMS = {True: "coordination_now", False: "not_now"}
CAUSE_RETURN_TO_WORK, CAUSE_COMPETING, CAUSE_CENSORED = 1, 2, 0


# --- 1. causes --------------------------------------------------------------------------------------


def outcome_cause(end_reason: pd.Series) -> np.ndarray:
    """1 return to work, 2 a competing event, 0 censored; any other reason is a contract breach."""
    reason = end_reason.astype(str)
    cause = np.select([reason.eq("return_to_work"), reason.isin(COMPETING_EVENTS), reason.eq("censored")],
                      [CAUSE_RETURN_TO_WORK, CAUSE_COMPETING, CAUSE_CENSORED], default=-1)
    if (cause < 0).any():
        bad = sorted(reason[cause < 0].unique())
        raise ContractViolation(f"spells.end_reason holds values the trial cannot classify: {bad}")
    return cause


# --- 2. curves --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialCurves:
    """CIF of return to work per arm at the horizons and on the curve grid."""

    horizons: dict[bool, np.ndarray]
    grid: dict[bool, np.ndarray]


def arm_curves(entries: pd.DataFrame, weights: np.ndarray, horizons: np.ndarray, grid: np.ndarray) -> TrialCurves:
    """The weighted cumulative incidence of return to work per arm (entries' ``time`` in whole days)."""
    treated = entries["treated"].to_numpy()
    time, cause = entries["time"].to_numpy(), entries["cause"].to_numpy()
    at = np.concatenate([horizons, grid])
    out_h, out_g = {}, {}
    for arm in (True, False):
        m = treated == arm
        values = cumulative_incidence_at(time[m], cause[m], weights[m], at, of_cause=CAUSE_RETURN_TO_WORK)
        out_h[arm], out_g[arm] = values[: len(horizons)], values[len(horizons):]
    return TrialCurves(out_h, out_g)


# --- 3. summary -------------------------------------------------------------------------------------


def _z_p(estimate: float, se: float) -> float:
    return float(2 * stats.norm.sf(abs(estimate / se))) if se and np.isfinite(se) and se > 0 else float("nan")


def worst_balanced(balance: pd.DataFrame, limit: float) -> dict[str, Any]:
    """Which covariate is least balanced after weighting, pooled and in each trial week that fails the limit.

    ``max_abs_smd_covariate`` names the covariate level with the largest |SMD| over all trials;
    ``unbalanced_weeks`` maps each failing week to its largest |SMD| and the covariate level that
    has it, so the report can say which covariate a failing week fails on.
    """
    if balance.empty:
        return {"max_abs_smd_covariate": None, "unbalanced_weeks": {}}
    size = balance["smd_after"].abs()
    pooled = balance[balance["trial_week"] == "all"]
    top = size[pooled.index].idxmax() if len(pooled) and size[pooled.index].notna().any() else None
    weeks = {}
    for week, rows in balance[balance["trial_week"] != "all"].groupby("trial_week", sort=True):
        s = size[rows.index]
        if s.notna().any() and float(s.max()) >= limit:
            i = s.idxmax()
            weeks[str(week)] = {"max_abs_smd_after": float(s[i]), "max_abs_smd_covariate": str(balance.at[i, "covariate"])}
    return {"max_abs_smd_covariate": None if top is None else str(balance.at[top, "covariate"]), "unbalanced_weeks": weeks}


def summary_rows(analysis: TrialAnalysis, params: TargetTrialParameters, *, subgroup: str, level: str,
                 sex: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Risk difference, risk ratio and per-arm cumulative incidence at each horizon, with flags."""
    entries = analysis.entries
    treated = entries["treated"].to_numpy()
    time, cause = entries["time"].to_numpy(), entries["cause"].to_numpy()
    balance_all = analysis.balance[analysis.balance["trial_week"] == "all"]
    max_smd = float(np.nanmax(np.abs(balance_all["smd_after"]))) if len(balance_all) else float("nan")
    per_week = analysis.balance[analysis.balance["trial_week"] != "all"]
    week_max = per_week.groupby("trial_week")["smd_after"].apply(lambda s: np.nanmax(np.abs(s)))
    worst = worst_balanced(analysis.balance, params.max_abs_smd)
    base = entries["sampling_weight"].to_numpy(dtype=float)
    equip = equipoise(analysis.ps, analysis.weight_report["share_treated"], base)
    overlap = positivity(analysis.ps, treated, base)
    support = min(overlap["share_treated_in_support"], overlap["share_control_in_support"])
    n_persons = int(entries["person_id"].nunique())
    rows = []
    for i, h in enumerate(analysis.horizons):
        cif1, cif0 = analysis.point.horizons[True][i], analysis.point.horizons[False][i]
        rep1 = np.array([r.horizons[True][i] for r in analysis.replicates])
        rep0 = np.array([r.horizons[False][i] for r in analysis.replicates])
        events = {arm: float(((cause == CAUSE_RETURN_TO_WORK) & (time <= h) & (treated == flag)).sum())
                  for arm, flag in (("treated", True), ("control", False))}
        rd_se, rd_lo, rd_hi = percentile_interval(rep1 - rep0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_rr = np.log(rep1 / rep0)
        rr_se, rr_lo, rr_hi = percentile_interval(log_rr)
        diag = flags(params, max_abs_smd=max_smd, equipoise_share=equip, support_share=support,
                     mde_risk_difference=minimum_detectable_difference(rd_se), events_per_arm=events)
        diag.update({"share_weeks_balanced": float((week_max < params.max_abs_smd).mean()) if len(week_max) else None,
                     "weights": analysis.weight_report, "positivity": overlap, **worst})
        common = {"term": f"horizon_{int(h)}", "subgroup": subgroup, "level": level, "sex": sex, "n_persons": n_persons,
                  "n_events": int(sum(events.values())), "horizon_days": int(h),
                  "n_entries_treated": int(treated.sum()), "n_entries_control": int((~treated).sum()),
                  "cif_treated": cif1, "cif_control": cif0, "n_bootstrap": len(analysis.replicates),
                  "row_diagnostics": diag}
        rows.append({**common, "estimand": "risk_difference", "estimate": cif1 - cif0, "std_error": rd_se,
                     "conf_low": rd_lo, "conf_high": rd_hi, "p_value": _z_p(cif1 - cif0, rd_se)})
        rr = cif1 / cif0 if cif0 > 0 else float("nan")
        rows.append({**common, "estimand": "risk_ratio", "estimate": rr, "std_error": rr_se,
                     "conf_low": float(np.exp(rr_lo)), "conf_high": float(np.exp(rr_hi)),
                     "p_value": _z_p(np.log(rr), rr_se) if rr > 0 else float("nan")})
        for arm, cif, rep in ((True, cif1, rep1), (False, cif0, rep0)):
            se, lo, hi = percentile_interval(rep)
            rows.append({**common, "row_diagnostics": diag, "estimand": "cumulative_incidence", "arm": ARMS[arm],
                         "estimate": cif, "std_error": se, "conf_low": lo, "conf_high": hi})
    bookkeeping = {"weights": analysis.weight_report, "n_trials": int(len(analysis.per_trial)),
                   "n_trials_without_treated": int((analysis.per_trial["n_treated"] == 0).sum()),
                   "n_entries": int(len(entries)), "equipoise": equip, "positivity": overlap,
                   "max_abs_smd_after": max_smd}
    return rows, bookkeeping


def curve_rows(analysis: TrialAnalysis, analysis_id: str, *, subgroup: str, level: str, sex: str) -> pd.DataFrame:
    """Cumulative incidence per arm on the grid with bootstrap intervals and persons at risk / with events."""
    entries = analysis.entries
    treated = entries["treated"].to_numpy()
    time, cause = entries["time"].to_numpy(), entries["cause"].to_numpy()
    person = entries["person_id"].to_numpy()
    grid = analysis.grid
    frames = []
    for arm in (True, False):
        m = treated == arm
        rep = np.array([r.grid[arm] for r in analysis.replicates]) if analysis.replicates else None
        # persons at risk at t: some entry of theirs still followed at t
        last = pd.Series(time[m]).groupby(person[m]).max().to_numpy()
        at_risk = np.array([(last >= t).sum() for t in grid])
        events = np.zeros(len(grid), dtype=np.int64)
        is_event = cause[m] == CAUSE_RETURN_TO_WORK
        for j, t in enumerate(grid):
            lo = grid[j - 1] if j else -1
            events[j] = len(np.unique(person[m][is_event & (time[m] > lo) & (time[m] <= t)]))
        conf_low, conf_high = percentile_band(rep, len(grid))
        frames.append(pd.DataFrame({
            "analysis_id": analysis_id, "arm": ARMS[arm], "sex": sex, "subgroup": subgroup, "level": level,
            "time": grid.astype(float), "cif": analysis.point.grid[arm],
            "conf_low": conf_low, "conf_high": conf_high, "n_at_risk": at_risk, "n_events": events,
        }))
    return pd.concat(frames, ignore_index=True)


__all__ = ["ARMS", "CAUSE_CENSORED", "CAUSE_COMPETING", "CAUSE_RETURN_TO_WORK", "TrialCurves", "arm_curves",
           "curve_rows", "outcome_cause", "summary_rows"]
