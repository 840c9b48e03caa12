"""The planted truth of the negative controls and the empirical null (issue 14), for `koord check-truth`.

`koord synth` plants, per negative-control outcome k of the default study, contacts whose rate
depends on sex and age group (adjusted for by every design) and on coordination only through a
planted systematic error: log hazard ratio b_k after the first GC001, b_k ~ N(mu_true,
sigma_true^2) (truth.json ``care.negative_controls``; `pipeline.synth.care`). So b_k is the
exact estimand of each negative-control estimate, and the empirical null fitted to them
estimates (mu_true, sigma_true).

Rules (`negative_control_checks`; n-t are issue 13's):

u. ``covers_planted_systematic_error``: every row of `negative_controls` (outcome x source design
   x population: everyone, women, men) covers exp(b_k): |log estimate - b_k| <= z SE, z
   Bonferroni-widened over the whole family (`z_for(n rows)`).
v. ``null_covers_planted_mu`` and ``null_covers_planted_sigma``: per source design and
   population, the empirical null refitted to the same negative-control estimates the
   calibration used (at least ``min_events`` events) with profile-likelihood intervals at the
   Bonferroni level over the family (2 x designs x populations) covers mu_true, and sigma_true.
   The calibration table's own null (95 %) must equal the refit's point estimates.

The main estimates carry no planted systematic error in the synthetic world (only the negative
controls do), so the calibrated main intervals are shifted by -mu and are not checked against the
planted hazard ratios: that is what calibration does, not a truth to recover.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from analyses.estimators.empirical_calibration import fit_null
from pipeline.commands.recovery import CATALOGUE, _catalogue_parameters, z_for

NEGATIVE_CONTROL_ANALYSIS = "negative_controls"
CALIBRATION_ANALYSIS = "calibration"
NEGATIVE_CONTROL_RESULTS: tuple[str, ...] = (NEGATIVE_CONTROL_ANALYSIS, CALIBRATION_ANALYSIS)
POPULATIONS = ("all", "woman", "man")


def planted_negative_controls(truth_json: Mapping) -> dict | None:
    """truth.json's planted negative-control model (``care.negative_controls``), or None (an older delivery)."""
    return (truth_json.get("care") or {}).get("negative_controls")


def _row(check: str, *, analysis_id: str, sex: str, level: str, term: str, estimate: float, low: float, high: float,
         truth: float, se: float, z: float, scale: str) -> dict:
    passed = bool(np.isfinite(low) and np.isfinite(high) and low <= truth <= high)
    return {"analysis_id": analysis_id, "check": check, "sex": sex, "subgroup": "all" if sex == "all" else "sex",
            "level": level, "term": term, "estimate": float(estimate), "conf_low": float(low), "conf_high": float(high),
            "truth": float(truth), "expectation": "covers", "passed": passed, "std_error": float(se), "mc_se": 0.0,
            "z": float(z), "scale": scale}


def systematic_error_checks(table: pd.DataFrame, planted: Mapping) -> list[dict]:
    """Rule u: each negative-control estimate covers its planted exp(b_k)."""
    b = {o["id"]: float(o["log_hr"]) for o in planted["outcomes"]}
    rows = table.loc[table["outcome_id"].isin(list(b))]
    z = z_for(max(len(rows), 1))
    out = []
    for _, r in rows.iterrows():
        est, se = float(r["estimate"]), float(r["std_error"])
        out.append(_row("covers_planted_systematic_error", analysis_id=NEGATIVE_CONTROL_ANALYSIS, sex=str(r["sex"]),
                        level=f"{r['source']}: {r['outcome_id']}", term=str(r["term"]), estimate=est,
                        low=est * np.exp(-z * se), high=est * np.exp(z * se), truth=float(np.exp(b[r["outcome_id"]])),
                        se=se, z=z, scale="log"))
    return out


def null_checks(negative: pd.DataFrame, calibration: pd.DataFrame, planted: Mapping, min_events: int) -> list[dict]:
    """Rule v: the refitted empirical null covers mu_true and sigma_true (Bonferroni-widened profile intervals)."""
    nulls = calibration.loc[calibration["kind"] == "null"]
    pairs = [(s, x) for s in nulls["source"].drop_duplicates() for x in POPULATIONS
             if ((nulls["source"] == s) & (nulls["sex"] == x)).any()]
    family = 2 * max(len(pairs), 1)
    level = 1 - 0.05 / family
    z = z_for(family)
    out = []
    for source, sex in pairs:
        nc = negative.loc[(negative["source"] == source) & (negative["sex"] == sex)
                          & (negative["n_events"].astype(float) >= min_events)
                          & np.isfinite(negative["std_error"].astype(float))]
        null = fit_null(np.log(nc["estimate"].to_numpy(float)), nc["std_error"].to_numpy(float), level=level)
        reported = nulls.loc[(nulls["source"] == source) & (nulls["sex"] == sex)].set_index("term")["estimate"]
        same = np.isclose(reported.get("mu", np.nan), null.mu, atol=1e-6) and np.isclose(
            reported.get("sigma", np.nan), null.sigma, atol=1e-6)
        for term, est, low, high, truth in (("mu", null.mu, null.mu_low, null.mu_high, planted["mu_true"]),
                                            ("sigma", null.sigma, null.sigma_low, null.sigma_high,
                                             planted["sigma_true"])):
            row = _row(f"null_covers_planted_{term}", analysis_id=CALIBRATION_ANALYSIS, sex=sex, level=source,
                       term=term, estimate=est, low=low, high=high, truth=float(truth), se=float("nan"), z=z,
                       scale="reported")
            row["passed"] = bool(row["passed"] and same)  # the table's null is the one refitted here
            out.append(row)
    return out


def negative_control_checks(results: Mapping[str, pd.DataFrame], truth_json: Mapping) -> tuple[list[dict], list[str]]:
    """Rules u-v for the tables present; (check rows, notes on what was skipped)."""
    notes = [f"checks of {t} skipped: no such results table" for t in NEGATIVE_CONTROL_RESULTS if t not in results]
    planted = planted_negative_controls(truth_json)
    if planted is None:
        if any(t in results for t in NEGATIVE_CONTROL_RESULTS):
            notes.append("negative-control checks skipped: truth.json plants no negative controls (an older delivery)")
        return [], notes
    rows: list[dict] = []
    if NEGATIVE_CONTROL_ANALYSIS in results:
        rows += systematic_error_checks(results[NEGATIVE_CONTROL_ANALYSIS], planted)
    if CALIBRATION_ANALYSIS in results and NEGATIVE_CONTROL_ANALYSIS in results:
        p = _catalogue_parameters(results[CATALOGUE], CALIBRATION_ANALYSIS, "empirical_calibration")
        rows += null_checks(results[NEGATIVE_CONTROL_ANALYSIS], results[CALIBRATION_ANALYSIS], planted, p.min_events)
    return rows, notes


__all__ = ["CALIBRATION_ANALYSIS", "NEGATIVE_CONTROL_ANALYSIS", "NEGATIVE_CONTROL_RESULTS", "negative_control_checks",
           "null_checks", "planted_negative_controls", "systematic_error_checks"]
