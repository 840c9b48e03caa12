"""Regional variation against ../shared/reference/expected_regions.csv (make_reference_regions.R).

`uptake_funnel`: indirect standardisation by a national logistic model and funnel limits with
over-dispersion, to 1e-8. `uptake_glmm_null` / `uptake_glmm_adjusted`: the random-intercept
logistic GLMM (Laplace) at the README's tolerance for a GLMM variance, 1e-3 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyses.estimators import GlmmBinomialSpec, fit_glmm_binomial
from analyses.estimators.glmm import GlmmPoissonSpec, fit_glmm_poisson
from analyses.estimators.funnel import ExpectedSpec, FunnelSpec, expected_counts, fit_funnel

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
pytestmark = pytest.mark.skipif(not (REFERENCE / "expected_regions.csv").exists(), reason="../shared/reference not beside the checkout")


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "expected_regions.csv", dtype={"term": str}, keep_default_na=False)


@pytest.fixture(scope="module")
def uptake() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "regions_uptake.csv", dtype={"region": str})


def value(expected: pd.DataFrame, model: str, term: str, quantity: str) -> float:
    row = expected[(expected["model"] == model) & (expected["term"] == term) & (expected["quantity"] == quantity)]
    assert len(row) == 1, (model, term, quantity)
    return float(row["value"].iloc[0])


@pytest.fixture(scope="module")
def funnel(uptake):
    oe = expected_counts(uptake, ExpectedSpec("coordinated", "n", "sex + age_group", "region"))
    return oe, fit_funnel(oe)


def test_observed_and_expected_per_region(expected, funnel):
    oe, _ = funnel
    for r in oe.itertuples():
        assert r.observed == value(expected, "uptake_funnel", r.unit, "observed")
        assert r.expected == pytest.approx(value(expected, "uptake_funnel", r.unit, "expected"), rel=1e-8)
        assert r.oe == pytest.approx(value(expected, "uptake_funnel", r.unit, "oe"), rel=1e-8)


def test_overdispersion_and_limits(expected, funnel):
    _, result = funnel
    assert result.phi == pytest.approx(value(expected, "uptake_funnel", "", "phi"), rel=1e-8)
    assert result.tau2 == pytest.approx(value(expected, "uptake_funnel", "", "tau2"), rel=1e-8)
    units = result.units
    columns = [c for c in units.columns if c.startswith(("lower_", "upper_"))]
    assert len(columns) == 8
    for u in units.itertuples():
        assert u.z == pytest.approx(value(expected, "uptake_funnel", u.unit, "z"), rel=1e-8)
        for c in columns:
            assert getattr(u, c) == pytest.approx(value(expected, "uptake_funnel", u.unit, c), rel=1e-8), (u.unit, c)


def test_the_funnel_names_the_regions_outside_and_keeps_the_tidy_shape(funnel):
    _, result = funnel
    units = result.units
    outside = units[(units["oe"] < units["lower_998_random_effects"]) | (units["oe"] > units["upper_998_random_effects"])]
    assert list(units.loc[units["outside_998"], "unit"]) == list(outside["unit"])
    s = result.summary
    assert set(s["estimand"]) == {"observed_expected_ratio", "overdispersion_phi", "between_unit_variance_tau2"}
    assert (s.loc[s["estimand"] == "observed_expected_ratio", "level"].tolist() == units["unit"].tolist())


def test_without_overdispersion_the_random_effects_limits_are_the_normal_ones():
    e = np.array([50.0, 80, 120, 200, 400, 900])
    frame = pd.DataFrame({"unit": list("abcdef"), "observed": e, "expected": e})  # O = E: z = 0, phi = 0
    result = fit_funnel(frame, FunnelSpec())
    assert result.phi == 0 and result.tau2 == 0
    assert np.allclose(result.units["upper_95_random_effects"], np.exp(1.959963984540054 / np.sqrt(e)))
    assert not result.units["outside_95"].any()


@pytest.mark.parametrize("model, formula", [("uptake_glmm_null", "1"), ("uptake_glmm_adjusted", "sex + age_group")])
def test_the_region_glmm_reproduces_lme4(expected, uptake, model, formula):
    fit = fit_glmm_binomial(uptake, GlmmBinomialSpec("coordinated", formula, "region", trials="n", analysis_id=model))
    assert fit.variance == pytest.approx(value(expected, model, "region", "variance"), rel=1e-3)
    mor = np.exp(np.sqrt(2 * fit.variance) * 0.6744897501960817)
    assert mor == pytest.approx(value(expected, model, "region", "median_odds_ratio"), rel=1e-3)
    assert fit.loglik == pytest.approx(value(expected, model, "", "loglik"), rel=1e-6)
    r_terms = {"(Intercept)": "Intercept", "sexwoman": "sex[T.woman]"}
    for term, ours in r_terms.items():
        if formula == "1" and term != "(Intercept)":
            continue
        assert fit.coef[ours] == pytest.approx(value(expected, model, term, "coef"), rel=1e-3, abs=1e-4)
    if model == "uptake_glmm_adjusted":
        modes = fit.random_effects
        for region in modes.index:
            assert modes[region] == pytest.approx(value(expected, model, region, "conditional_mode"), abs=2e-3)


def test_the_return_to_work_poisson_glmm_reproduces_lme4(expected):
    rtw = pd.read_csv(REFERENCE / "regions_rtw.csv", dtype={"region": str})
    fit = fit_glmm_poisson(rtw, GlmmPoissonSpec("events", "person_days", "sex", "region", analysis_id="rtw_poisson_glmm"))
    model = "rtw_poisson_glmm"
    assert fit.variance == pytest.approx(value(expected, model, "region", "variance"), rel=1e-3)
    mrr = fit.summary.set_index("estimand").loc["median_rate_ratio", "estimate"]
    assert mrr == pytest.approx(value(expected, model, "region", "median_rate_ratio"), rel=1e-3)
    assert fit.loglik == pytest.approx(value(expected, model, "", "loglik"), rel=1e-6)
    assert fit.coef["Intercept"] == pytest.approx(value(expected, model, "(Intercept)", "coef"), rel=1e-4)
    assert fit.coef["sex[T.woman]"] == pytest.approx(value(expected, model, "sexwoman", "coef"), abs=1e-5)
    assert fit.se["sex[T.woman]"] == pytest.approx(value(expected, model, "sexwoman", "se"), rel=1e-3)
