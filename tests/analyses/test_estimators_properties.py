"""Properties every estimator must keep: weights as replication, strata, row splitting, and
the Poisson piecewise-exponential model agreeing with Cox on the same persons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.estimators import (
    AalenJohansenSpec,
    CoxSpec,
    KaplanMeierSpec,
    PoissonSpec,
    fit_aalen_johansen,
    fit_cox,
    fit_kaplan_meier,
    fit_poisson,
)

ROSSI = ("fin", "age", "race", "wexp", "mar", "paro", "prio")


@pytest.fixture(scope="module")
def rossi(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "rossi.csv")


@pytest.fixture(scope="module")
def mgus(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "mgus2_cr.csv")


def _replicate(data: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    return data.loc[data.index.repeat(weights)].reset_index(drop=True)


def test_integer_weights_equal_replicated_rows_cox_breslow(rossi) -> None:
    weights = 1 + np.arange(len(rossi)) % 3
    weighted = fit_cox(rossi.assign(w=weights), CoxSpec(stop="week", event="arrest", covariates=ROSSI,
                                                        weights="w", ties="breslow"))
    replicated = fit_cox(_replicate(rossi, weights), CoxSpec(stop="week", event="arrest", covariates=ROSSI,
                                                             ties="breslow"))
    np.testing.assert_allclose(weighted.coef, replicated.coef, atol=1e-10)
    np.testing.assert_allclose(weighted.se, replicated.se, atol=1e-10)
    assert weighted.loglik == pytest.approx(replicated.loglik, abs=1e-8)


def test_integer_weights_equal_replicated_rows_cox_efron_without_tied_events() -> None:
    # Efron splits tied deaths by their count, so weights equal replication only without ties
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"t": rng.permutation(200) + 1.0, "e": rng.integers(0, 2, 200), "x": rng.normal(size=200)})
    weights = 1 + np.arange(200) % 2 * (data["e"] == 0)  # only censored rows weighted, no ties created
    weighted = fit_cox(data.assign(w=weights), CoxSpec(stop="t", event="e", covariates=("x",), weights="w"))
    replicated = fit_cox(_replicate(data, weights), CoxSpec(stop="t", event="e", covariates=("x",)))
    np.testing.assert_allclose(weighted.coef, replicated.coef, atol=1e-10)
    np.testing.assert_allclose(weighted.se, replicated.se, atol=1e-10)


def test_integer_weights_equal_replicated_rows_curves(mgus) -> None:
    weights = 1 + np.arange(len(mgus)) % 4
    km_w = fit_kaplan_meier(mgus.assign(w=weights, died=(mgus["event"] > 0).astype(int)),
                            KaplanMeierSpec(time="etime", event="died", group="sex", weights="w"))
    km_r = fit_kaplan_meier(_replicate(mgus, weights).assign(died=lambda d: (d["event"] > 0).astype(int)),
                            KaplanMeierSpec(time="etime", event="died", group="sex"))
    at_w, at_r = km_w.survival_at([12, 60, 240]), km_r.survival_at([12, 60, 240])
    np.testing.assert_allclose(at_w["survival"], at_r["survival"], atol=1e-12)
    np.testing.assert_allclose(at_w["std_error"], at_r["std_error"], atol=1e-12)
    aj_w = fit_aalen_johansen(mgus.assign(w=weights), AalenJohansenSpec(time="etime", cause="event", weights="w"))
    aj_r = fit_aalen_johansen(_replicate(mgus, weights), AalenJohansenSpec(time="etime", cause="event"))
    np.testing.assert_allclose(aj_w.cif_at([12, 60, 240])["cif"], aj_r.cif_at([12, 60, 240])["cif"], atol=1e-12)


def test_strata_keep_separate_baselines(rossi) -> None:
    """Two copies of the data on different time scales: stratified, each copy's partial
    likelihood is the original one, so coefficients stay and the information doubles."""
    stacked = pd.concat([rossi.assign(copy=0), rossi.assign(copy=1, week=rossi["week"] * 3.5)], ignore_index=True)
    single = fit_cox(rossi, CoxSpec(stop="week", event="arrest", covariates=ROSSI))
    stratified = fit_cox(stacked, CoxSpec(stop="week", event="arrest", covariates=ROSSI, strata=("copy",)))
    np.testing.assert_allclose(stratified.coef, single.coef, atol=1e-9)
    np.testing.assert_allclose(stratified.se, single.se / np.sqrt(2), atol=1e-9)
    assert stratified.loglik == pytest.approx(2 * single.loglik, abs=1e-7)
    unstratified = fit_cox(stacked, CoxSpec(stop="week", event="arrest", covariates=ROSSI))
    assert np.abs(unstratified.coef - single.coef).max() > 1e-3


def test_splitting_rows_at_a_time_changes_nothing(rossi) -> None:
    """(0, 10] + (10, week] rows per person give the same fit as one row: the risk set at t
    holds rows with start < t <= stop, so a row starting at an event time is not at risk."""
    data = rossi.assign(id=np.arange(len(rossi)), start=0.0)
    late = data[data["week"] > 10]
    first = late.assign(week=10.0, arrest=0)
    second = late.assign(start=10.0)
    split = pd.concat([data[data["week"] <= 10], first, second], ignore_index=True)
    spec = dict(stop="week", event="arrest", covariates=ROSSI, start="start", cluster="id")
    whole = fit_cox(data, CoxSpec(**spec))
    pieces = fit_cox(split, CoxSpec(**spec))
    np.testing.assert_allclose(pieces.coef, whole.coef, atol=1e-10)
    np.testing.assert_allclose(pieces.se, whole.se, atol=1e-10)
    np.testing.assert_allclose(pieces.robust_se, whole.robust_se, atol=1e-10)
    no_start = fit_cox(rossi, CoxSpec(stop="week", event="arrest", covariates=ROSSI))
    np.testing.assert_allclose(no_start.coef, whole.coef, atol=1e-10)
    km_whole = fit_kaplan_meier(data, KaplanMeierSpec(time="week", event="arrest", times=(5, 20, 52)))
    km_split = fit_kaplan_meier(split, KaplanMeierSpec(time="week", event="arrest", start="start", id="id",
                                                       times=(5, 20, 52)))
    np.testing.assert_allclose(km_split.summary["estimate"], km_whole.summary["estimate"], atol=1e-12)
    curve = km_split.tables["survival"]
    assert curve["n_censored"].sum() == (rossi["arrest"] == 0).sum()  # continued rows are not censorings


def test_aalen_johansen_is_consistent_with_kaplan_meier(mgus) -> None:
    """All-cause incidence = 1 - all-cause KM; with one cause AJ is 1 - KM of that cause."""
    aj = fit_aalen_johansen(mgus, AalenJohansenSpec(time="etime", cause="event", group="sex"))
    km = fit_kaplan_meier(mgus.assign(died=(mgus["event"] > 0).astype(int)),
                          KaplanMeierSpec(time="etime", event="died", group="sex"))
    times = [6, 60, 200, 400]
    cif = aj.cif_at(times).groupby(["group", "time"])["cif"].sum().to_numpy()
    np.testing.assert_allclose(cif, 1 - km.survival_at(times)["survival"].to_numpy(), atol=1e-12)
    assert aj.summary["estimand"].eq("cumulative_incidence").all()
    assert set(aj.summary["term"]) == {"cause=1", "cause=2"}
    assert set(aj.tables["cif"].columns) >= {"group", "time", "cause", "cif", "std_error", "n_at_risk", "n_events"}


def _piecewise_exponential(n: int, seed: int) -> tuple[pd.DataFrame, list[float]]:
    """Persons with a binary covariate (HR 1.6) and a hazard constant within bands."""
    rng = np.random.default_rng(seed)
    edges = [0.0, 30.0, 90.0, 180.0, 365.0, np.inf]
    base = np.array([0.010, 0.006, 0.004, 0.002, 0.001])
    x = rng.integers(0, 2, n)
    hazard = base[None, :] * np.where(x == 1, 1.6, 1.0)[:, None]
    widths = np.diff(edges)
    target = rng.exponential(size=n)
    cumulative = np.cumsum(np.where(np.isinf(widths), 0, hazard * np.where(np.isinf(widths), 0, widths)), axis=1)
    before = np.hstack([np.zeros((n, 1)), cumulative[:, :-1]])
    band = (target[:, None] > before).sum(axis=1) - 1
    rows = np.arange(n)
    event_time = np.array(edges)[band] + (target - before[rows, band]) / hazard[rows, band]
    censor = rng.uniform(60, 730, n)
    return pd.DataFrame({"time": np.minimum(event_time, censor), "event": (event_time <= censor).astype(int),
                         "x": x}), edges


def _aggregate(persons: pd.DataFrame, edges: list[float]) -> pd.DataFrame:
    cells = []
    for k in range(len(edges) - 1):
        low, high = edges[k], edges[k + 1]
        exposure = np.clip(np.minimum(persons["time"], high) - low, 0, None)
        events = (persons["time"] > low) & (persons["time"] <= high) & (persons["event"] == 1)
        cells.append(pd.DataFrame({"band": k, "x": persons["x"], "days": exposure, "events": events.astype(int)}))
    return pd.concat(cells).groupby(["band", "x"], as_index=False)[["days", "events"]].sum()


def test_poisson_on_aggregated_person_time_agrees_with_cox() -> None:
    persons, edges = _piecewise_exponential(20_000, seed=11)
    cox = fit_cox(persons, CoxSpec(stop="time", event="event", covariates=("x",)))
    cells = _aggregate(persons, edges)
    poisson = fit_poisson(cells, PoissonSpec(events="events", exposure="days", formula_rhs="C(band) + x"))
    hr_cox = float(np.exp(cox.coef["x"]))
    rr = poisson.summary.set_index("term").loc["x"]
    assert rr["estimand"] == "rate_ratio"
    assert abs(rr["estimate"] / hr_cox - 1) < 0.01
    assert abs(rr["estimate"] - 1.6) < 0.1  # and both near the truth
    assert len(cells) == 10 and poisson.summary.loc[0, "estimand"] == "rate"


def test_poisson_cluster_robust_standard_errors() -> None:
    persons, edges = _piecewise_exponential(3_000, seed=5)
    persons["person_id"] = np.arange(len(persons))
    rows = []
    for k in range(len(edges) - 1):  # person × band rows: correlated within person
        low, high = edges[k], edges[k + 1]
        days = np.clip(np.minimum(persons["time"], high) - low, 0, None)
        events = ((persons["time"] > low) & (persons["time"] <= high) & (persons["event"] == 1)).astype(int)
        rows.append(persons.assign(band=k, days=days, events=events)[["person_id", "band", "x", "days", "events"]])
    rows = pd.concat(rows, ignore_index=True)
    model = fit_poisson(rows, PoissonSpec(events="events", exposure="days", formula_rhs="C(band) + x"))
    robust = fit_poisson(rows, PoissonSpec(events="events", exposure="days", formula_rhs="C(band) + x",
                                           cluster="person_id"))
    np.testing.assert_allclose(robust.coef, model.coef, atol=1e-10)
    assert robust.diagnostics["se_type"] == "cluster_robust:person_id"
    assert robust.summary["n_persons"].iloc[0] == 3_000
    ratio = robust.se["x"] / model.se["x"]
    assert 0.8 < ratio < 1.25 and ratio != 1.0  # Poisson-true data: robust close to model-based


@pytest.mark.parametrize("formula", ["C(band) + x + z", "band_1 + band_2 + band_3 + x + z"])
def test_poisson_equals_statsmodels_glm(formula) -> None:
    """fit_poisson's own IRLS (Cholesky normal equations) against statsmodels' GLM, the trusted implementation."""
    import statsmodels.api as sm

    rng = np.random.default_rng(12)
    n = 4_000
    data = pd.DataFrame({"band": rng.integers(0, 4, n), "x": rng.integers(0, 2, n).astype(float),
                         "z": rng.normal(size=n), "person": rng.integers(0, 900, n), "days": rng.uniform(1, 50, n)})
    for k in (1, 2, 3):
        data[f"band_{k}"] = (data["band"] == k).astype(float)
    rate = np.exp(-3 + 0.2 * data["band"] + 0.4 * data["x"] - 0.3 * data["z"])
    data["events"] = rng.poisson(rate * data["days"] * rng.gamma(2, 0.5, n))  # overdispersed: robust SE differ
    ours = fit_poisson(data, PoissonSpec(events="events", exposure="days", formula_rhs=formula))
    robust = fit_poisson(data, PoissonSpec(events="events", exposure="days", formula_rhs=formula, cluster="person"))
    x = sm.add_constant(data[["band_1", "band_2", "band_3", "x", "z"]])
    glm = sm.GLM(data["events"], x, family=sm.families.Poisson(), offset=np.log(data["days"]))
    model_fit = glm.fit(tol=1e-12)
    cluster_fit = glm.fit(tol=1e-12, cov_type="cluster", cov_kwds={"groups": data["person"].to_numpy()})
    np.testing.assert_allclose(ours.coef.to_numpy(), model_fit.params.to_numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.se.to_numpy(), model_fit.bse.to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(robust.se.to_numpy(), cluster_fit.bse.to_numpy(), rtol=1e-7)
    assert ours.diagnostics["deviance"] == pytest.approx(model_fit.deviance, rel=1e-9)
    assert ours.diagnostics["pearson_chi2"] == pytest.approx(model_fit.pearson_chi2, rel=1e-8)
    assert ours.diagnostics["df_resid"] == model_fit.df_resid
    assert list(ours.coef.index)[0] == "Intercept"


def test_zero_weight_rows_are_dropped_and_counted(rossi) -> None:
    weights = np.where(np.arange(len(rossi)) % 5 == 4, 0.0, 1.0)
    weighted = fit_cox(rossi.assign(w=weights), CoxSpec(stop="week", event="arrest", covariates=ROSSI, weights="w"))
    kept = fit_cox(rossi[weights > 0], CoxSpec(stop="week", event="arrest", covariates=ROSSI))
    np.testing.assert_allclose(weighted.coef, kept.coef, atol=1e-10)  # Efron tie counts as without them
    assert weighted.diagnostics["n_rows_zero_weight"] == int((weights == 0).sum())
    assert weighted.diagnostics["n_rows"] == len(rossi)
