"""The logistic regression estimator: R's glm on the regions reference, statsmodels, the ridge, errors.

R reference (`../shared/reference/make_reference_regions.R`, R 4.2.2):

    fe <- glm(cbind(coordinated, n - coordinated) ~ sex + age_group, data = g, family = binomial)
    g$expected <- g$n * fitted(fe); aggregate(expected ~ region, data = g, FUN = sum)

stored as `uptake_funnel/<region>/expected` in `expected_regions.csv`: the same model is
`fit_logistic` with the share coordinated as outcome and n as weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import statsmodels.api as sm

from analyses.estimators import LogisticResult, LogisticSpec, fit_logistic
from analyses.estimators.logistic import logistic_information, newton_logistic, ridge_penalty
from koord.errors import ContractViolation, ConvergenceError


@pytest.fixture(scope="module")
def uptake(reference_dir) -> pd.DataFrame:
    cells = pd.read_csv(reference_dir / "regions_uptake.csv", dtype={"region": str})
    design = pd.get_dummies(cells[["sex", "age_group"]], drop_first=True, dtype=float)
    design.columns = [c.replace("-", "_") for c in design.columns]
    return pd.concat([cells, design], axis=1).assign(share=cells["coordinated"] / cells["n"])


def _simulated(n=500, seed=3):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.integers(0, 2, n).astype(float), "z": rng.normal(size=n)})
    eta = -1.0 + 0.8 * frame["a"] + 0.5 * frame["z"]
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    frame["w"] = rng.integers(1, 4, n).astype(float)
    return frame


def test_expected_counts_equal_r_glm(uptake, reference_dir) -> None:
    covariates = tuple(c for c in uptake.columns if c.startswith(("sex_", "age_group_")))
    fit = fit_logistic(uptake, LogisticSpec(outcome="share", covariates=covariates, weights="n"))
    x = np.column_stack([np.ones(len(uptake)), uptake[list(covariates)].to_numpy()])
    expected = (uptake["n"] * 1 / (1 + np.exp(-(x @ fit.coef.to_numpy())))).groupby(uptake["region"]).sum()
    r = pd.read_csv(reference_dir / "expected_regions.csv", dtype={"unit": str, "level": str}, keep_default_na=False)
    r = r.iloc[:, :5]
    r.columns = ["dataset", "model", "unit", "quantity", "value"]
    r = r[(r["model"] == "uptake_funnel") & (r["quantity"] == "expected")].set_index("unit")["value"].astype(float)
    assert len(r) == 21
    assert expected.loc[r.index].to_numpy() == pytest.approx(r.to_numpy(), rel=1e-9)
    assert fit.converged and fit.diagnostics["se_type"] == "model"


def test_coefficients_and_standard_errors_equal_statsmodels() -> None:
    frame = _simulated()
    fit = fit_logistic(frame, LogisticSpec(outcome="y", covariates=("a", "z"), weights="w"))
    x = sm.add_constant(frame[["a", "z"]].to_numpy())
    ref = sm.GLM(frame["y"].to_numpy(), x, family=sm.families.Binomial(), freq_weights=frame["w"].to_numpy()).fit(tol=1e-14)
    assert fit.coef.to_numpy() == pytest.approx(ref.params, abs=1e-10)
    assert fit.se.to_numpy() == pytest.approx(ref.bse, rel=1e-8)
    assert list(fit.coef.index) == ["Intercept", "a", "z"]


def test_summary_follows_the_result_conventions() -> None:
    frame = _simulated()
    fit = fit_logistic(frame, LogisticSpec(outcome="y", covariates=("a", "z"), weights="w", analysis_id="ps"))
    assert isinstance(fit, LogisticResult) and fit.n_iter == fit.diagnostics["n_iter"] > 1
    summary = fit.summary.set_index("term")
    assert list(summary["estimand"]) == ["odds", "odds_ratio", "odds_ratio"]
    assert summary.loc["a", "estimate"] == pytest.approx(np.exp(fit.coef["a"]))
    assert summary.loc["a", "conf_low"] == pytest.approx(np.exp(fit.coef["a"] - 1.959963984540054 * fit.se["a"]))
    assert summary.loc["a", "n_events"] == round((frame["w"] * frame["y"]).sum())
    assert (summary["analysis_id"] == "ps").all() and (summary["method"] == "logistic").all()


def test_ridge_solves_the_penalised_score_and_shrinks() -> None:
    frame = _simulated()
    plain = fit_logistic(frame, LogisticSpec(outcome="y", covariates=("a", "z"), weights="w"))
    ridge = fit_logistic(frame, LogisticSpec(outcome="y", covariates=("a", "z"), weights="w", ridge=50.0))
    x = np.column_stack([np.ones(len(frame)), frame[["a", "z"]].to_numpy()])
    beta = ridge.coef.to_numpy()
    mu = 1 / (1 + np.exp(-(x @ beta)))
    score = x.T @ (frame["w"].to_numpy() * (frame["y"].to_numpy() - mu)) - ridge_penalty(3, 50.0) * beta
    assert np.abs(score).max() < 1e-8
    assert abs(ridge.coef["a"]) < abs(plain.coef["a"]) and abs(ridge.coef["z"]) < abs(plain.coef["z"])
    info = logistic_information(x, beta, frame["w"].to_numpy(), 50.0)
    assert ridge.vcov.to_numpy() == pytest.approx(np.linalg.inv(info), rel=1e-8)
    assert ridge.diagnostics["se_type"] == "penalised_information"


def test_sparse_columns_give_the_dense_fit() -> None:
    rng = np.random.default_rng(8)
    x = np.column_stack([rng.integers(0, 2, (300, 3)), rng.normal(size=300)]).astype(float)
    names = ["b1", "b2", "b3", "z"]
    y, w = (rng.random(300) < 0.3).astype(float), rng.uniform(0.5, 2, 300)
    dense = pd.DataFrame(x, columns=names).assign(y=y, w=w)
    sparse = pd.DataFrame.sparse.from_spmatrix(scipy.sparse.csr_matrix(x), columns=names).assign(y=y, w=w)
    spec = LogisticSpec(outcome="y", covariates=tuple(names), weights="w", ridge=0.5)
    fit_dense, fit_sparse = fit_logistic(dense, spec), fit_logistic(sparse, spec)
    assert fit_sparse.diagnostics["sparse_design"] and not fit_dense.diagnostics["sparse_design"]
    assert fit_sparse.coef.to_numpy() == pytest.approx(fit_dense.coef.to_numpy(), abs=1e-10)
    assert fit_sparse.se.to_numpy() == pytest.approx(fit_dense.se.to_numpy(), rel=1e-10)


def test_separation_without_penalty_raises_convergence_error() -> None:
    frame = pd.DataFrame({"x": [0.0, 0, 0, 1, 1, 1], "y": [0.0, 0, 1, 1, 1, 1]})
    separated = frame.assign(y=frame["x"])
    with pytest.raises(ConvergenceError, match=r"logistic model 'sep': Newton–Raphson did not converge in 50 steps"
                                               r".*still moving most: x, Intercept"):
        fit_logistic(separated, LogisticSpec(outcome="y", covariates=("x",), analysis_id="sep"))
    # the ridge keeps the slope finite; one arm only leaves the (unpenalised) intercept infinite
    assert fit_logistic(separated, LogisticSpec(outcome="y", covariates=("x",), ridge=1.0)).converged
    with pytest.raises(ConvergenceError, match="did not converge"):
        fit_logistic(frame.assign(y=0.0), LogisticSpec(outcome="y", covariates=("x",), ridge=1.0))


def test_matrix_level_newton_raises_too() -> None:
    x = np.column_stack([np.ones(6), [0.0, 0, 0, 1, 1, 1]])
    y = np.array([0.0, 1, 0, 1, 1, 0])
    fit = newton_logistic(x, y, np.ones(6), 0.0)
    assert fit.last_step < 1e-9
    with pytest.raises(ConvergenceError, match="refit: Newton–Raphson did not converge in 2 steps"):
        newton_logistic(x, y, np.ones(6), 0.0, max_steps=2, what="refit")


def test_input_errors_are_collected() -> None:
    frame = pd.DataFrame({"y": [0.0, 1.0, 2.0, 1.0], "x": [1.0, np.nan, 0.0, 1.0], "w": [1.0, 1.0, -1.0, 1.0]})
    with pytest.raises(ContractViolation) as error:
        fit_logistic(frame, LogisticSpec(outcome="y", covariates=("x",), weights="w"))
    message = str(error.value)
    assert "'y' must lie in [0, 1]: 1 row(s) (first at row index 2)" in message
    assert "covariate column 'x': 1 missing" in message and "must be non-negative" in message
    with pytest.raises(ContractViolation, match="covariates='nope'"):
        fit_logistic(frame, LogisticSpec(outcome="y", covariates=("nope",)))
    with pytest.raises(ContractViolation, match="no row with a positive weight"):
        fit_logistic(frame.assign(y=1.0, x=1.0, w=0.0), LogisticSpec(outcome="y", covariates=("x",), weights="w"))
    with pytest.raises(ContractViolation, match="ridge=-1"):
        LogisticSpec(outcome="y", ridge=-1)
    with pytest.raises(ContractViolation, match="listed more than once"):
        LogisticSpec(outcome="y", covariates=("x", "x"))


def test_step_halving_converges_where_plain_newton_diverges() -> None:
    """From a start far from the maximum plain Newton–Raphson overshoots and diverges; halved steps converge."""
    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(200), rng.normal(size=200)])
    y, w = (rng.random(200) < 0.4).astype(float), np.ones(200)
    ref = sm.GLM(y, x, family=sm.families.Binomial()).fit(tol=1e-14).params
    assert newton_logistic(x, y, w, 0.0, start=np.array([0.0, 10.0])).beta == pytest.approx(ref, abs=1e-9)
    assert newton_logistic(x, y, w, 0.0).beta == pytest.approx(ref, abs=1e-9)
