"""E-values for unmeasured confounding of a hazard ratio (VanderWeele & Ding, Ann Intern Med 2017).

The E-value is the minimum strength of association, on the risk-ratio scale, that an
unmeasured confounder would need with both exposure and outcome to explain away an estimate:
E = RR + sqrt(RR (RR - 1)) for RR >= 1 (for RR < 1, use 1/RR). A hazard ratio is first put on
the risk-ratio scale: with a rare outcome (< 15 % by the end of follow-up) RR ~ HR; with a
common outcome VanderWeele's square-root conversion
RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)). Return to work is common, so the conversion
applies. For the confidence interval the E-value is that of the limit closer to 1, and 1 if
the interval includes 1.
"""

from __future__ import annotations

import math


from analyses.designs.specs import AnalysisSpec, EValueParameters
from analyses.results import Result, make_summary


def risk_ratio_from_hazard_ratio(hr: float, outcome_is_common: bool) -> float:
    """Approximate risk ratio of a hazard ratio (VanderWeele 2020's conversion for common outcomes)."""
    if hr <= 0 or not math.isfinite(hr):
        raise ValueError(f"a hazard ratio must be positive and finite, got {hr}")
    if not outcome_is_common:
        return hr
    return (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))


def e_value_of_risk_ratio(rr: float) -> float:
    """E = RR + sqrt(RR (RR - 1)), with RR < 1 taken as 1/RR."""
    if rr <= 0 or not math.isfinite(rr):
        raise ValueError(f"a risk ratio must be positive and finite, got {rr}")
    rr = rr if rr >= 1 else 1 / rr
    return rr + math.sqrt(rr * (rr - 1))


def e_values_hazard_ratio(hr: float, conf_low: float, conf_high: float, outcome_is_common: bool = True) -> tuple[float, float]:
    """E-values of a hazard ratio and of its confidence limit closer to 1.

    Returns
    -------
    (e_point, e_limit) : e_limit is 1 when the interval includes 1.
    """
    e_point = e_value_of_risk_ratio(risk_ratio_from_hazard_ratio(hr, outcome_is_common))
    if conf_low <= 1 <= conf_high:
        return e_point, 1.0
    limit = conf_low if hr > 1 else conf_high
    return e_point, e_value_of_risk_ratio(risk_ratio_from_hazard_ratio(limit, outcome_is_common))


def e_value_result(spec: AnalysisSpec, source: Result) -> Result:
    """E-values of the exposure rows of ``source`` for the whole population and each sex.

    One row per source row of the main exposure term (subgroups 'all' and 'sex'), with
    ``term`` = 'e_value_point' and 'e_value_ci_limit'.
    """
    params: EValueParameters = spec.parameters
    rows = []
    summary = source.summary
    main = summary[summary["subgroup"].isin(["all", "sex"]) & summary["term"].eq("is_coordinated")]
    for _, r in main.iterrows():
        e_point, e_limit = e_values_hazard_ratio(r["estimate"], r["conf_low"], r["conf_high"], params.outcome_is_common)
        base = {"estimand": "e_value", "subgroup": r["subgroup"], "level": r["level"], "sex": r.get("sex", r["level"]),
                "n_persons": r["n_persons"],
                "n_events": r["n_events"], "source_estimand": r["estimand"], "source_estimate": r["estimate"],
                "source_conf_low": r["conf_low"], "source_conf_high": r["conf_high"]}
        rows.append({**base, "term": "e_value_point", "estimate": e_point})
        rows.append({**base, "term": "e_value_ci_limit", "estimate": e_limit})
    diagnostics = {"source": params.source, "outcome_is_common": params.outcome_is_common,
                   "conversion": "sqrt" if params.outcome_is_common else "none (rare outcome)"}
    summary = make_summary(rows, analysis_id=spec.id, method="e_value", diagnostics=diagnostics)
    return Result(analysis_id=spec.id, method="e_value", summary=summary, diagnostics=diagnostics,
                  tables={})


__all__ = ["e_value_of_risk_ratio", "e_value_result", "e_values_hazard_ratio", "risk_ratio_from_hazard_ratio"]
