"""check-truth rule n: the interrupted time series finds no change at the law where none is planted.

The generator has no calendar-time term in any hazard (pipeline/synth/model.py): the share back
at work within 90 and 180 days is the same before and after 1 February 2020 up to the case mix.
So the planted level change and slope change are ratios of 1. Each is checked for everyone,
women and men at each horizon from the main, case-mix-adjusted model with its quasi-Poisson standard errors
(the crude share is not flat even without a calendar effect: the case mix drifts, see the design), Bonferroni-widened
over the family of rows. A null truth tests the design's calibration (that trend, season and the
pandemic term do not manufacture a law effect); the noise-free recovery of a planted step is
tested on a hand-made series in tests/analyses/test_interrupted_time_series.py.
"""

from __future__ import annotations

import math

import pandas as pd

from pipeline.commands.recovery import z_for

ITS_ANALYSIS = "interrupted_time_series"
ITS_RESULTS = (ITS_ANALYSIS,)
CHECKED_TERMS = ("law_level", "law_slope")
PLANTED_RATIO = 1.0  # no calendar effect in the generator


def its_checks(results: dict[str, pd.DataFrame]) -> list[dict]:
    """Rule n: level and slope change ratios at the law cover the planted 1 (quasi-Poisson SE, Bonferroni)."""
    table = results.get(ITS_ANALYSIS)
    if table is None or table.empty:
        return []
    rows = table.loc[table["term"].isin(CHECKED_TERMS) & (table["variance"] == "quasi_poisson")]
    if "adjustment" in rows.columns:  # the main, case-mix-adjusted model: the crude share drifts with the case mix
        rows = rows.loc[rows["adjustment"] == "case_mix"]
    z = z_for(max(len(rows), 1))
    out = []
    for _, r in rows.iterrows():
        log_est, se = math.log(float(r["estimate"])), float(r["std_error"])
        low, high = math.exp(log_est - z * se), math.exp(log_est + z * se)
        out.append({"analysis_id": ITS_ANALYSIS, "check": f"no_planted_{r['term']}_change_{int(r['horizon_days'])}d",
                    "sex": r["sex"], "subgroup": r["subgroup"], "level": r["level"], "term": r["term"],
                    "estimate": float(r["estimate"]), "conf_low": low, "conf_high": high, "truth": PLANTED_RATIO,
                    "expectation": "Bonferroni-widened interval covers the planted ratio 1 (no calendar effect planted)",
                    "passed": bool(low <= PLANTED_RATIO <= high), "std_error": se, "mc_se": float("nan"),
                    "z": log_est / se if se > 0 else float("nan")})
    return out
