"""Empirical calibration with negative controls (Schuemie et al. 2014 Stat Med; 2018 PNAS), as R's EmpiricalCalibration.

Negative-control outcomes are outcomes the exposure cannot cause; their estimates differ from
the null (log ratio 0) by random AND systematic error. The systematic error is modelled as
normal, N(mu, sigma^2), so that the log estimate of negative control k is

    log_rr_k ~ N(mu, sigma^2 + se_k^2).

- `fit_null` (R: ``fitNull``): maximum likelihood of (mu, sigma >= 0). R maximises the same
  likelihood with Nelder-Mead over (mu, 1/sigma^2) from (0, 100); here it is maximised exactly:
  for a fixed sigma the ML mu is the weighted mean with weights 1/(sigma^2 + se_k^2), and the
  profile log likelihood in sigma is maximised on [0, inf) (sigma = 0 is a proper boundary
  solution). Profile-likelihood 95 % intervals for mu and sigma (chi-square 1 df, 3.84).
- `calibrate_p` (R: ``calibrateP.null``): two-sided p = 2 min(Phi(z), 1 - Phi(z)) with
  z = (log_rr - mu) / sqrt(sigma^2 + se^2).
- `calibrate_ci` (R: ``calibrateConfidenceInterval`` with ``convertNullToErrorModel``: mean
  intercept mu, slope 1, log sd intercept log(sigma), slope 0): the bounds x solve
  z + (mu + x - log_rr) / sqrt(sigma^2 + se^2) = 0, which with a constant error model has the
  closed form x = log_rr - mu -+ z sqrt(sigma^2 + se^2); point estimate log_rr - mu; calibrated
  SE = (upper - lower) / (2 z).
- `expected_absolute_systematic_error` (R: ``computeExpectedAbsoluteSystematicError.null``):
  EASE = E|X| for X ~ N(mu, sigma^2) = mu (1 - 2 Phi(-mu/sigma)) + sigma sqrt(2/pi) exp(-mu^2 / (2 sigma^2)),
  R's closed-form integral. OHDSI's CohortMethod gates an analysis on EASE < 0.25.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from koord.errors import ContractViolation

CHI2_95_1DF = float(stats.chi2.ppf(0.95, 1))
EASE_THRESHOLD = 0.25  # CohortMethod's diagnostic gate
MIN_NEGATIVE_CONTROLS = 2  # fewer cannot inform a two-parameter null (R itself accepts 2)
_SIGMA_MAX = 10.0  # on the log scale: a systematic error sd beyond a factor e^10 is no calibration


@dataclass(frozen=True)
class EmpiricalNull:
    """The fitted systematic-error distribution N(mu, sigma^2) on the log scale.

    Attributes
    ----------
    mu, sigma : ML estimates (sigma >= 0).
    mu_low, mu_high, sigma_low, sigma_high : profile-likelihood limits (95 % unless asked; sigma_low may be 0).
    n_controls : negative controls used (finite estimate and positive finite SE).
    log_likelihood : maximised log likelihood.
    """

    mu: float
    sigma: float
    mu_low: float
    mu_high: float
    sigma_low: float
    sigma_high: float
    n_controls: int
    log_likelihood: float

    @property
    def ease(self) -> float:
        return expected_absolute_systematic_error(self.mu, self.sigma)


def _clean(log_rr, se) -> tuple[np.ndarray, np.ndarray]:
    log_rr = np.asarray(log_rr, float).ravel()
    se = np.asarray(se, float).ravel()
    if log_rr.shape != se.shape:
        raise ContractViolation(f"empirical null: {len(log_rr)} log estimates but {len(se)} standard errors")
    keep = np.isfinite(log_rr) & np.isfinite(se) & (se >= 0)
    return log_rr[keep], se[keep]


def null_log_likelihood(mu: float, sigma: float, log_rr, se) -> float:
    """Sum of log N(log_rr_k; mu, sigma^2 + se_k^2) (R: the negative of ``logLikelihoodNull``)."""
    var = float(sigma) ** 2 + np.asarray(se, float) ** 2
    return float(np.sum(-0.5 * np.log(2 * np.pi * var) - 0.5 * (np.asarray(log_rr, float) - mu) ** 2 / var))


def _mu_given_sigma(sigma: float, log_rr: np.ndarray, se: np.ndarray) -> float:
    w = 1.0 / (sigma ** 2 + se ** 2)
    return float(np.sum(w * log_rr) / np.sum(w))


def _profile_sigma(sigma: float, log_rr: np.ndarray, se: np.ndarray) -> float:
    return null_log_likelihood(_mu_given_sigma(sigma, log_rr, se), sigma, log_rr, se)


def _max_over_sigma(f, se: np.ndarray) -> tuple[float, float]:
    """(argmax, max) of f(sigma) on [0, _SIGMA_MAX]: a log grid, then a bounded refinement around the best point."""
    lo = 0.0 if np.all(se > 0) else 1e-12  # with an SE of 0, sigma = 0 has an infinite density
    grid = np.concatenate([[lo], np.geomspace(1e-6, _SIGMA_MAX, 200)])
    values = np.array([f(s) for s in grid])
    i = int(np.nanargmax(values))
    left, right = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    if right > left:
        res = optimize.minimize_scalar(lambda s: -f(s), bounds=(left, right), method="bounded",
                                       options={"xatol": 1e-12})
        if -res.fun > values[i]:
            return float(res.x), float(-res.fun)
    return float(grid[i]), float(values[i])


def _profile_mu(mu: float, log_rr: np.ndarray, se: np.ndarray) -> float:
    """max over sigma >= 0 of the log likelihood at this mu."""
    return _max_over_sigma(lambda s: null_log_likelihood(mu, s, log_rr, se), se)[1]


def _limit(f, start: float, step: float, target: float, bound: float) -> float:
    """Where f falls to target walking from ``start`` by ``step`` (f(start) >= target), clipped at ``bound``."""
    x = start
    while True:
        nxt = x + step
        if (step > 0 and nxt >= bound) or (step < 0 and nxt <= bound):
            if f(bound) >= target:
                return bound
            nxt = bound
        if f(nxt) < target:
            return float(optimize.brentq(lambda v: f(v) - target, min(x, nxt), max(x, nxt), xtol=1e-10))
        x = nxt
        step *= 2


def fit_null(log_rr, se, level: float = 0.95) -> EmpiricalNull:
    """ML fit of the empirical null N(mu, sigma^2) to negative-control estimates (R: ``fitNull``).

    Parameters
    ----------
    log_rr : log hazard (rate) ratios of the negative controls.
    se : their standard errors. Estimates with a missing or infinite value are left out, as R does.
    level : confidence level of the profile-likelihood intervals of mu and sigma.

    Raises
    ------
    ContractViolation
        With fewer than `MIN_NEGATIVE_CONTROLS` usable estimates.
    """
    log_rr, se = _clean(log_rr, se)
    if len(log_rr) < MIN_NEGATIVE_CONTROLS:
        raise ContractViolation(f"empirical null: {len(log_rr)} usable negative-control estimate(s); at least "
                                f"{MIN_NEGATIVE_CONTROLS} are needed")
    sigma = _max_over_sigma(lambda s: _profile_sigma(s, log_rr, se), se)[0]
    mu = _mu_given_sigma(sigma, log_rr, se)
    ll = null_log_likelihood(mu, sigma, log_rr, se)
    target = ll - (CHI2_95_1DF if level == 0.95 else float(stats.chi2.ppf(level, 1))) / 2
    scale = float(np.sqrt(sigma ** 2 + np.median(se) ** 2)) or 1e-3
    prof_mu = lambda m: _profile_mu(m, log_rr, se)  # noqa: E731
    mu_low = _limit(prof_mu, mu, -0.05 * scale, target, mu - 50.0)
    mu_high = _limit(prof_mu, mu, 0.05 * scale, target, mu + 50.0)
    prof_s = lambda s: _profile_sigma(s, log_rr, se)  # noqa: E731
    s_floor = 0.0 if np.all(se > 0) else 1e-12
    sigma_low = s_floor if sigma <= s_floor or prof_s(s_floor) >= target else _limit(
        prof_s, sigma, -0.05 * max(sigma, 1e-3), target, s_floor)
    sigma_high = _limit(prof_s, sigma, 0.05 * scale, target, _SIGMA_MAX)
    return EmpiricalNull(mu=mu, sigma=sigma, mu_low=mu_low, mu_high=mu_high, sigma_low=float(sigma_low),
                         sigma_high=sigma_high, n_controls=int(len(log_rr)), log_likelihood=ll)


def traditional_p(log_rr, se) -> np.ndarray:
    """Two-sided Wald p-value of log_rr / se (R: ``computeTraditionalP``)."""
    z = np.asarray(log_rr, float) / np.asarray(se, float)
    return 2 * np.minimum(stats.norm.cdf(z), stats.norm.sf(z))


def calibrate_p(null: EmpiricalNull, log_rr, se) -> np.ndarray:
    """Calibrated two-sided p-values (R: ``calibrateP.null``); NaN where an input is not finite."""
    log_rr = np.asarray(log_rr, float)
    se = np.asarray(se, float)
    sd = np.sqrt(null.sigma ** 2 + se ** 2)
    upper = stats.norm.cdf((null.mu - log_rr) / sd)
    lower = stats.norm.cdf((log_rr - null.mu) / sd)
    p = 2 * np.minimum(upper, lower)
    return np.where(np.isfinite(log_rr) & np.isfinite(se), p, np.nan)


@dataclass(frozen=True)
class CalibratedInterval:
    """Calibrated estimates on the log scale (arrays, one entry per input estimate)."""

    log_rr: np.ndarray
    log_low: np.ndarray
    log_high: np.ndarray
    se: np.ndarray


def calibrate_ci(null: EmpiricalNull, log_rr, se, ci_width: float = 0.95) -> CalibratedInterval:
    """Calibrated point estimate and confidence interval (R: ``calibrateConfidenceInterval`` with the
    error model of ``convertNullToErrorModel(null)``: constant systematic error N(mu, sigma^2))."""
    log_rr = np.asarray(log_rr, float)
    se = np.asarray(se, float)
    z = float(stats.norm.ppf(0.5 + ci_width / 2))
    sd = np.sqrt(null.sigma ** 2 + se ** 2)
    centre = log_rr - null.mu
    low, high = centre - z * sd, centre + z * sd
    return CalibratedInterval(log_rr=centre, log_low=low, log_high=high, se=(high - low) / (2 * z))


def expected_absolute_systematic_error(mu: float, sigma: float) -> float:
    """EASE: E|X| for X ~ N(mu, sigma^2) (R: ``computeExpectedAbsoluteSystematicError.null``)."""
    mu, sigma = float(mu), float(sigma)
    if sigma <= 0:
        return abs(mu)
    return float(mu * (1 - 2 * stats.norm.cdf(-mu / sigma))
                 + sigma * math.sqrt(2 / math.pi) * math.exp(-mu ** 2 / (2 * sigma ** 2)))


__all__ = ["CHI2_95_1DF", "CalibratedInterval", "EASE_THRESHOLD", "EmpiricalNull", "MIN_NEGATIVE_CONTROLS",
           "calibrate_ci", "calibrate_p", "expected_absolute_systematic_error", "fit_null", "null_log_likelihood",
           "traditional_p"]
