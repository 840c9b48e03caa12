"""Study diagnostics that gate what a result may claim: balance, equipoise, positivity, power, events.

Modelled on OHDSI CohortMethod: covariate balance as standardised mean differences (fail if
any |SMD| >= 0.1 after weighting), equipoise as the share of the population with a preference
score in [0.3, 0.7] (fail below 0.2), the minimum detectable relative risk (Schoenfeld's
formula, as `computeMdrr`; for risk differences the minimum detectable difference), plus
positivity (the share of each arm inside the common support of the propensity scores, the
range between the arms' 1st and 99th percentiles) and a minimum number of events per arm.
Thresholds are parameters of every analysis (`specs.CommonParameters`). Each result carries the figures and a pass/fail flag per
diagnostic (None where a diagnostic does not apply to the design); `passes` is their
conjunction.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy import stats

from analyses.designs.specs import CommonParameters

PREFERENCE_BOUNDS = (0.3, 0.7)  # Walker et al. (2013): "empirical equipoise"
OVERLAP_QUANTILES = (0.01, 0.99)


def level_smd(codes: np.ndarray, n_levels: int, treated: np.ndarray, weights: np.ndarray, base_weights: np.ndarray,
              groups: np.ndarray | None = None, n_groups: int = 1) -> np.ndarray:
    """SMD of every level's indicator in every group (n_groups × n_levels), from weighted counts.

    (p_treated - p_control) / sqrt((p_t (1 - p_t) + p_c (1 - p_c)) / 2) per level: the shares p
    of the difference with ``weights``, those of the SD with ``base_weights`` (the population
    before weighting, as cobalt and CohortMethod do), so that before (``weights`` =
    ``base_weights``) and after weighting are on one scale. The shares come from weighted
    counts per group and level, so no rows × levels indicator matrix is built. A level
    constant in both arms has SMD 0, a difference without spread an infinite SMD, an empty
    arm NaN.

    Parameters
    ----------
    codes : each row's level, 0 .. n_levels - 1.
    treated : boolean (n,).
    weights, base_weights : non-negative (n,).
    groups : each row's group, 0 .. n_groups - 1 (default: one group).
    """
    treated = np.asarray(treated, dtype=bool)
    groups = np.zeros(len(treated), np.int64) if groups is None else np.asarray(groups)
    shares = {}
    for key, w in (("w", weights), ("b", base_weights)):
        for arm, mask in (("t", treated), ("c", ~treated)):
            counts = np.bincount(groups[mask] * n_levels + codes[mask], weights=w[mask],
                                 minlength=n_groups * n_levels).reshape(n_groups, n_levels)
            with np.errstate(divide="ignore", invalid="ignore"):
                shares[key + arm] = counts / counts.sum(axis=1, keepdims=True)
    sd = np.sqrt((shares["bt"] * (1 - shares["bt"]) + shares["bc"] * (1 - shares["bc"])) / 2)
    return _smd(shares["wt"] - shares["wc"], sd)


def numeric_smd(values: np.ndarray, treated: np.ndarray, weights: np.ndarray, base_weights: np.ndarray,
                groups: np.ndarray | None = None, n_groups: int = 1) -> np.ndarray:
    """SMD of a numeric column in every group (n_groups,): (mean_t - mean_c) / sqrt((var_t + var_c) / 2).

    Means with ``weights``, variances (about the ``base_weights`` means) with ``base_weights``,
    as `level_smd`; sums per group by bincount.
    """
    treated = np.asarray(treated, dtype=bool)
    values = np.asarray(values, dtype=float)
    groups = np.zeros(len(treated), np.int64) if groups is None else np.asarray(groups)
    moments = {}
    for key, w in (("w", weights), ("b", base_weights)):
        for arm, mask in (("t", treated), ("c", ~treated)):
            total = np.bincount(groups[mask], weights=w[mask], minlength=n_groups)
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.bincount(groups[mask], weights=w[mask] * values[mask], minlength=n_groups) / total
                var = np.bincount(groups[mask], weights=w[mask] * (values[mask] - mean[groups[mask]]) ** 2,
                                  minlength=n_groups) / total
            moments[key + arm] = (mean, var)
    sd = np.sqrt((moments["bt"][1] + moments["bc"][1]) / 2)
    return _smd(moments["wt"][0] - moments["wc"][0], sd)


def _smd(difference: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Difference over SD; 0 for a constant column, infinite for a difference without spread, NaN for an empty arm."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, difference / sd, np.where(np.abs(difference) > 0, np.inf, np.where(
            np.isnan(difference), np.nan, 0.0)))


def preference_score(ps: np.ndarray, treated_share: float) -> np.ndarray:
    """Walker's preference score: the propensity score with the treated share removed.

    logit(F) = logit(ps) - logit(P), P = share treated; F is 0.5 when a unit's odds of
    treatment equal the population's.
    """
    ps = np.clip(np.asarray(ps, dtype=float), 1e-12, 1 - 1e-12)
    logit = np.log(ps / (1 - ps)) - np.log(treated_share / (1 - treated_share))
    return 1 / (1 + np.exp(-logit))


def equipoise(ps: np.ndarray, treated_share: float, weights: np.ndarray | None = None) -> float:
    """Share of the population (weighted) with a preference score in [0.3, 0.7]."""
    pref = preference_score(ps, treated_share)
    w = np.ones(len(pref)) if weights is None else np.asarray(weights, dtype=float)
    inside = (pref >= PREFERENCE_BOUNDS[0]) & (pref <= PREFERENCE_BOUNDS[1])
    return float((w * inside).sum() / w.sum())


def minimum_detectable_ratio(n_events: float, exposed_share: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable hazard ratio (Schoenfeld 1983; CohortMethod's ``computeMdrr``, 'cox').

    MDRR = exp(sqrt((z_{1-alpha/2} + z_{power})^2 / (D p (1 - p)))), D events, p the share of
    them expected in the exposed (for a time-varying exposure: the exposed share of events,
    which under the null follows the exposed share of the risk sets).
    """
    if n_events <= 0 or not 0 < exposed_share < 1:
        return float("inf")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(np.exp(np.sqrt(z**2 / (n_events * exposed_share * (1 - exposed_share)))))


def minimum_detectable_difference(std_error: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest risk difference detectable with the estimate's standard error: (z_a + z_b) SE."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z * std_error) if np.isfinite(std_error) else float("inf")


def positivity(ps: np.ndarray, treated: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """Overlap of the propensity distributions of the two arms.

    Returns the 1st, 50th and 99th percentiles of the score per arm and the share of each arm
    inside the common support [max of the arms' 1st percentiles, min of their 99th].
    """
    ps = np.asarray(ps, dtype=float)
    t = np.asarray(treated, dtype=bool)
    w = np.ones(len(ps)) if weights is None else np.asarray(weights, dtype=float)
    out: dict[str, float] = {}
    if not t.any() or t.all():
        return {"share_treated_in_support": float("nan"), "share_control_in_support": float("nan")}
    q = {}
    for arm, mask in (("treated", t), ("control", ~t)):
        q[arm] = weighted_quantiles(ps[mask], w[mask], (OVERLAP_QUANTILES[0], 0.5, OVERLAP_QUANTILES[1]))
        out[f"ps_{arm}_p01"], out[f"ps_{arm}_p50"], out[f"ps_{arm}_p99"] = map(float, q[arm])
    low = max(q["treated"][0], q["control"][0])
    high = min(q["treated"][2], q["control"][2])
    for arm, mask in (("treated", t), ("control", ~t)):
        inside = (ps[mask] >= low) & (ps[mask] <= high)
        out[f"share_{arm}_in_support"] = float((w[mask] * inside).sum() / w[mask].sum())
    return out


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """The smallest value whose cumulative weight share reaches each q (no interpolation)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w) / w.sum()
    return np.array([v[min(np.searchsorted(cum, q, side="left"), len(v) - 1)] for q in qs])


def flags(params: CommonParameters, *, max_abs_smd: float | None = None, equipoise_share: float | None = None,
          support_share: float | None = None, mdrr: float | None = None, mde_risk_difference: float | None = None,
          events_per_arm: Mapping[str, float] | None = None, immortal_time_safe: bool = True) -> dict[str, Any]:
    """Pass/fail per diagnostic (None where it does not apply) and ``passes``, their conjunction.

    The figures themselves are returned too, so a reader sees how far from the threshold a
    result is.
    """
    out: dict[str, Any] = {}

    def put(name: str, value: float | None, ok: bool | None) -> None:
        out[name] = value
        out[f"{name}_pass"] = ok

    put("max_abs_smd", max_abs_smd, None if max_abs_smd is None else bool(max_abs_smd < params.max_abs_smd))
    put("equipoise", equipoise_share, None if equipoise_share is None else bool(equipoise_share >= params.min_equipoise))
    put("support_share", support_share,
        None if support_share is None else bool(support_share >= params.min_support_share))
    put("mdrr", mdrr, None if mdrr is None else bool(mdrr <= params.max_mdrr))
    put("mde_risk_difference", mde_risk_difference,
        None if mde_risk_difference is None else bool(mde_risk_difference <= params.max_mde_risk_difference))
    if events_per_arm is not None:
        out["events_per_arm"] = {k: float(v) for k, v in events_per_arm.items()}
        out["events_pass"] = bool(min(events_per_arm.values(), default=0) >= params.min_events)
    else:
        out["events_per_arm"], out["events_pass"] = None, None
    out["immortal_time_safe"] = immortal_time_safe
    checks = [v for k, v in out.items() if k.endswith("_pass") and v is not None]
    out["passes"] = bool(all(checks) and immortal_time_safe)
    return out
