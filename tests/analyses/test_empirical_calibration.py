"""Empirical calibration (analyses.estimators.empirical_calibration) against closed forms, a generic optimizer and R's own test.

Reference values:
- R's tests/testthat/test-asymptoticNull.R: ``fitNull(c(1, 2), c(0, 0))`` has mean 1.5 (and,
  by the ML of a normal without sampling error, sd 0.5).
- sigma = 0: with identical estimates' SEs larger than their spread the ML systematic error is 0,
  mu is the inverse-variance weighted mean and the profile interval of mu is the fixed-effect
  one, mu -+ 1.96 / sqrt(sum 1/se^2) (the profile over sigma touches its boundary).
- A random case maximised with scipy's Nelder-Mead over (mu, |sigma|).
- calibrateConfidenceInterval with convertNullToErrorModel (sd = exp(log sigma + 0 x)) solves
  z + (mu + x - logRr) / sqrt(sigma^2 + se^2) = 0 by uniroot; solved here with brentq and
  compared with the closed form the estimator uses.
- EASE: R's closed-form integral of |x| N(x; mu, sigma^2) against numerical quadrature.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from analyses.estimators.empirical_calibration import (
    EASE_THRESHOLD,
    calibrate_ci,
    calibrate_p,
    expected_absolute_systematic_error,
    fit_null,
    null_log_likelihood,
    traditional_p,
)
from koord.errors import ContractViolation


def test_fit_null_matches_r_test_without_sampling_error():
    null = fit_null([1.0, 2.0], [0.0, 0.0])
    assert null.mu == pytest.approx(1.5, abs=1e-6)
    assert null.sigma == pytest.approx(0.5, abs=1e-6)
    assert null.mu_low < 1.5 < null.mu_high and null.sigma_low < 0.5 < null.sigma_high


def test_fit_null_sigma_zero_is_the_fixed_effect_mean():
    se = np.array([0.3, 0.3, 0.2, 0.25, 0.3])
    y = np.array([0.10, 0.12, 0.08, 0.11, 0.09])
    null = fit_null(y, se)
    w = 1 / se ** 2
    assert null.sigma == 0.0
    assert null.mu == pytest.approx(np.sum(w * y) / np.sum(w), abs=1e-10)
    half = stats.norm.ppf(0.975) / np.sqrt(w.sum())
    assert (null.mu_low, null.mu_high) == pytest.approx((null.mu - half, null.mu + half), abs=1e-6)
    assert null.sigma_low == 0.0 and null.sigma_high > 0.05
    assert null.ease == pytest.approx(abs(null.mu))


def test_fit_null_matches_a_generic_optimizer_and_its_profile_limits():
    rng = np.random.default_rng(7)
    se = rng.uniform(0.05, 0.2, 12)
    y = rng.normal(0.2, 0.3, 12) + rng.normal(0, se)
    null = fit_null(y, se)
    res = optimize.minimize(lambda t: -null_log_likelihood(t[0], abs(t[1]), y, se), [0.0, 0.1], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 10_000})
    assert null.mu == pytest.approx(res.x[0], abs=1e-5) and null.sigma == pytest.approx(abs(res.x[1]), abs=1e-5)
    assert null.log_likelihood == pytest.approx(-res.fun, abs=1e-8)
    # at each profile limit the likelihood ratio statistic is the chi-square 95 % quantile
    drop = stats.chi2.ppf(0.95, 1) / 2
    for mu in (null.mu_low, null.mu_high):
        best = -optimize.minimize_scalar(lambda s: -null_log_likelihood(mu, s, y, se), bounds=(0, 5),
                                         method="bounded", options={"xatol": 1e-10}).fun
        assert null.log_likelihood - best == pytest.approx(drop, abs=1e-5)
    for sigma in (null.sigma_low, null.sigma_high):
        w = 1 / (sigma ** 2 + se ** 2)
        assert null.log_likelihood - null_log_likelihood(np.sum(w * y) / w.sum(), sigma, y, se) == pytest.approx(drop, abs=1e-5)


def test_fit_null_drops_missing_and_refuses_too_few():
    full = fit_null([0.1, 0.3, np.nan, 0.2, np.inf], [0.1, 0.1, 0.1, 0.1, 0.1])
    assert full.n_controls == 3
    with pytest.raises(ContractViolation, match="at least 2"):
        fit_null([0.1, np.nan], [0.1, 0.1])


def test_calibrated_p_and_interval_against_r_formulas():
    null = fit_null([0.05, 0.3, -0.1, 0.2, 0.15, 0.0], [0.05, 0.06, 0.05, 0.07, 0.05, 0.06])
    log_rr, se = np.array([0.4, -0.2, 0.1]), np.array([0.05, 0.1, 0.2])
    sd = np.sqrt(null.sigma ** 2 + se ** 2)
    p = calibrate_p(null, log_rr, se)
    assert p == pytest.approx(2 * np.minimum(stats.norm.cdf((null.mu - log_rr) / sd),
                                             stats.norm.cdf((log_rr - null.mu) / sd)))
    ci = calibrate_ci(null, log_rr, se)
    z = stats.norm.ppf(0.975)
    for i in range(3):  # R's uniroot of opt() with the null as error model, lb and ub and the point (ciWidth 0)
        def opt(x, zz):
            return zz + (null.mu + x - log_rr[i]) / np.sqrt(np.exp(np.log(null.sigma)) ** 2 + se[i] ** 2)
        assert optimize.brentq(opt, -50, 50, args=(z,)) == pytest.approx(ci.log_low[i], abs=1e-9)
        assert optimize.brentq(opt, -50, 50, args=(-z,)) == pytest.approx(ci.log_high[i], abs=1e-9)
        assert optimize.brentq(opt, -50, 50, args=(0.0,)) == pytest.approx(ci.log_rr[i], abs=1e-9)
    assert ci.se == pytest.approx(sd)
    # a null of N(0, 0) gives back the uncalibrated interval and the Wald p-value
    zero = type(null)(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3, 0.0)
    assert calibrate_p(zero, log_rr, se) == pytest.approx(traditional_p(log_rr, se))
    assert calibrate_ci(zero, log_rr, se).log_low == pytest.approx(log_rr - z * se)


@pytest.mark.parametrize("mu, sigma", [(0.0, 0.2), (0.1, 0.05), (-0.3, 0.4), (0.25, 0.0)])
def test_ease_is_the_mean_absolute_value_of_the_null(mu, sigma):
    if sigma == 0:
        expected = abs(mu)
    else:
        f = lambda x: abs(x) * stats.norm.pdf(x, mu, sigma)  # noqa: E731
        expected = integrate.quad(f, -np.inf, 0.0)[0] + integrate.quad(f, 0.0, np.inf)[0]
    assert expected_absolute_systematic_error(mu, sigma) == pytest.approx(expected, rel=1e-8)
    assert expected_absolute_systematic_error(0.0, 0.2) == pytest.approx(0.2 * np.sqrt(2 / np.pi))
    assert EASE_THRESHOLD == 0.25
