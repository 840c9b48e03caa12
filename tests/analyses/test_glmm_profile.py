"""The GLMMs' profile-likelihood interval of the variance, their offsets and conditional variances.

The interval is checked against its definition (a brute-force profile: the fixed effects
maximised by a general optimiser at each trial sd), its limits against the chi-square drop,
and its coverage over simulated data sets; the offset against the equivalent fixed covariate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

from analyses.estimators import GlmmBinomialSpec, GlmmPoissonSpec, fit_glmm_binomial, fit_glmm_poisson
from analyses.estimators.glmm import _Binomial, _Laplace

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


@pytest.fixture(scope="module")
def cbpp() -> pd.DataFrame:
    if not (REFERENCE / "cbpp.csv").exists():
        pytest.skip("../shared/reference not beside the checkout")
    data = pd.read_csv(REFERENCE / "cbpp.csv")
    data["period"] = data["period"].astype(str)
    return data


def _brute_profile(data: pd.DataFrame, sd: float) -> float:
    """max over beta of the Laplace log-likelihood at a fixed sd, by Nelder-Mead from the GLM."""
    x = pd.get_dummies(data["period"], drop_first=True, dtype=float)
    x.insert(0, "Intercept", 1.0)
    group, levels = pd.factorize(data["herd"], sort=True)
    y, n = data["incidence"].to_numpy(float), data["size"].to_numpy(float)
    constant = float(np.sum(special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)))
    model = _Laplace(_Binomial(y, n), x.to_numpy(), group, len(levels), constant)
    found = optimize.minimize(lambda b: -model.loglik(np.append(b, sd)), np.array([-1.4, -1.0, -1.1, -1.6]),
                              method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
    return -found.fun


def test_profile_interval_limits_are_where_the_likelihood_drops_by_the_chi_square_half(cbpp):
    fit = fit_glmm_binomial(cbpp, GlmmBinomialSpec("incidence", "C(period)", "herd", trials="size", profile_level=0.95))
    low, high = fit.variance_interval
    assert 0 < low < fit.variance < high
    drop = stats.chi2.ppf(0.95, 1) / 2
    for limit in (low, high):
        assert fit.loglik - _brute_profile(cbpp, np.sqrt(limit)) == pytest.approx(drop, abs=2e-5)
    rows = fit.summary.set_index("estimand")
    assert rows.loc["variance", "conf_low"] == pytest.approx(low)
    assert rows.loc["median_odds_ratio", "conf_high"] == pytest.approx(np.exp(np.sqrt(2 * high) * stats.norm.ppf(0.75)))
    assert rows.loc["icc_latent", "conf_low"] == pytest.approx(low / (low + np.pi ** 2 / 3))


def test_without_profile_level_no_interval(cbpp):
    fit = fit_glmm_binomial(cbpp, GlmmBinomialSpec("incidence", "C(period)", "herd", trials="size"))
    assert fit.variance_interval is None
    assert fit.summary.loc[fit.summary["estimand"] == "variance", "conf_low"].isna().all()


def test_conditional_variances_are_the_inverse_curvature_at_the_modes(cbpp):
    fit = fit_glmm_binomial(cbpp, GlmmBinomialSpec("incidence", "C(period)", "herd", trials="size"))
    x = pd.get_dummies(cbpp["period"], drop_first=True, dtype=float).to_numpy()
    eta = fit.coef["Intercept"] + x @ fit.coef.to_numpy()[1:] + fit.random_effects.loc[cbpp["herd"]].to_numpy()
    p = special.expit(eta)
    h = pd.Series(cbpp["size"].to_numpy() * p * (1 - p)).groupby(cbpp["herd"].to_numpy()).sum()
    np.testing.assert_allclose(fit.random_effect_variances.to_numpy(), 1 / (h.to_numpy() + 1 / fit.variance), rtol=1e-6)


def test_offset_equals_a_covariate_with_its_coefficient_fixed(cbpp):
    """An offset o is a covariate whose coefficient is 1: fitting period with the estimated
    period effects as offset leaves the intercept, variance and modes of the full fit."""
    full = fit_glmm_binomial(cbpp, GlmmBinomialSpec("incidence", "C(period)", "herd", trials="size"))
    effects = {"1": 0.0, **{p: full.coef[f"C(period)[T.{p}]"] for p in ("2", "3", "4")}}
    data = cbpp.assign(o=cbpp["period"].map(effects))
    given = fit_glmm_binomial(data, GlmmBinomialSpec("incidence", "1", "herd", trials="size", offset="o"))
    assert given.coef["Intercept"] == pytest.approx(full.coef["Intercept"], abs=1e-5)
    assert given.variance == pytest.approx(full.variance, rel=1e-4)
    np.testing.assert_allclose(given.random_effects.to_numpy(), full.random_effects.to_numpy(), atol=1e-4)


def test_profile_interval_covers_the_generating_variance():
    """Coverage over simulated regions: a Poisson GLMM of 21 units' O with offset log E."""
    rng = np.random.default_rng(5)
    sd, covered, n_sets = 0.3, 0, 60
    for _ in range(n_sets):
        expected = rng.uniform(50, 2000, size=21)
        observed = rng.poisson(expected * np.exp(rng.normal(0, sd, size=21)))
        data = pd.DataFrame({"unit": [f"{i:02d}" for i in range(21)], "o": observed, "e": expected})
        fit = fit_glmm_poisson(data, GlmmPoissonSpec("o", "e", "1", "unit", profile_level=0.95))
        covered += fit.variance_interval[0] <= sd ** 2 <= fit.variance_interval[1]
    # 95 % nominal; with 60 sets, fewer than 50 would be a 1-in-1000 event for a 95 % interval
    assert covered >= 50, covered
