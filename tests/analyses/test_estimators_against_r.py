"""Strata, case weights, clusters, left truncation and tied times checked against R on a small
deterministic data set (60 persons, two (start, stop] rows each, integer times with many ties).

The data are built by `small_data()`; the same rows written to CSV gave these numbers with
R 4.2.2, survival 3.5-3, cmprsk 2.2-11:

    d <- read.csv("small.csv"); o <- read.csv("small_cr.csv")   # small_data(), competing_data()
    f <- coxph(Surv(start, stop, event) ~ x1 + x2 + x3 + strata(stratum), data = d,
               weights = w, cluster = id, ties = ties)           # ties = "efron", "breslow"
    coef(f); sqrt(diag(f$naive.var)); sqrt(diag(f$var)); f$loglik[2]
    summary(survfit(Surv(start, stop, event) ~ x2, data = d, weights = w, id = id,
                    robust = FALSE), times = c(5, 10, 15))       # $surv, $std.err
    o$ev <- factor(o$cause, 0:2)
    summary(survfit(Surv(start, stop, ev) ~ 1, data = o, weights = w, id = id),
            times = c(5, 10, 15))                                # $pstate[, 2:3], $std.err[, 2:3]
    f <- crr(o$stop, o$cause, cbind(x1 = o$x1, x2 = o$x2, x3 = o$x3), failcode = 1,
             cencode = 0, gtol = 1e-12); f$coef; sqrt(diag(f$var))
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.estimators import (
    AalenJohansenSpec,
    CoxSpec,
    FineGraySpec,
    KaplanMeierSpec,
    fit_aalen_johansen,
    fit_cox,
    fit_fine_gray,
    fit_kaplan_meier,
)

R_COX = {
    "efron": {
        "coef": [0.461135088874, -0.409478211649, -0.00335569542218],
        "se": [0.193133575038, 0.330954003595, 0.307412256194],
        "robust_se": [0.19600012916, 0.352856659031, 0.325606240241],
        "loglik": -116.87810884,
    },
    "breslow": {
        "coef": [0.457138687627, -0.401706654221, -0.0399040247568],
        "se": [0.193336434929, 0.32988487946, 0.306738524686],
        "robust_se": [0.190350796189, 0.346293005574, 0.322223399806],
        "loglik": -119.468130347,
    },
}
R_KM_SURVIVAL = [0.931972789116, 0.57965669467, 0.271129744281, 0.979452054795, 0.757869861418, 0.335757794709]
R_KM_SE = [0.04153500596, 0.0866989871135, 0.0833336712303, 0.0234816904209, 0.0736245330984, 0.091724154422]
R_AJ_CIF = {1: [0.0348982135438, 0.306350818379, 0.545058684879], 2: [0.0519318653926, 0.0604661637203, 0.165713507033]}
R_AJ_SE = {1: [0.0342300808021, 0.0692161578261, 0.0796936998925], 2: [0.0378961939629, 0.0385959830004, 0.0574769152272]}
R_FG_COEF = [0.128717327942, -0.13186241312, -0.0432901998476]
R_FG_SE = [0.221248236462, 0.386695414367, 0.333681781048]


def small_data() -> pd.DataFrame:
    rows = []
    for p in range(60):
        x1, x2, stratum, w = ((p * 37) % 11) / 4 - 1, p % 2, p % 3, 0.5 + ((p * 13) % 7) / 4
        a = 2 + p % 5
        b = a + 1 + (p * 7) % 13
        event = int((p * 11) % 3 != 0)
        common = {"id": p, "x1": x1, "x2": x2, "stratum": stratum, "w": w}
        rows.append(common | {"start": 0, "stop": a, "event": 0, "x3": ((p * 3) % 4) / 2})
        rows.append(common | {"start": a, "stop": b, "event": event, "x3": ((p * 5 + 1) % 4) / 2})
    return pd.DataFrame(rows)


def competing_data() -> pd.DataFrame:
    """The second row of each person, with cause 1 or 2 for the events (entry time = start)."""
    one = small_data().iloc[1::2].copy()
    one["cause"] = np.where(one["event"] == 1, 1 + (one["id"] % 5 == 1), 0)
    return one


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_strata_weights_cluster_counting_process(ties: str) -> None:
    fit = fit_cox(small_data(), CoxSpec(stop="stop", event="event", start="start", covariates=("x1", "x2", "x3"),
                                        strata=("stratum",), weights="w", cluster="id", ties=ties))
    expected = R_COX[ties]
    np.testing.assert_allclose(fit.coef, expected["coef"], atol=1e-8)
    np.testing.assert_allclose(fit.se, expected["se"], atol=1e-8)
    np.testing.assert_allclose(fit.robust_se, expected["robust_se"], atol=1e-8)
    assert fit.loglik == pytest.approx(expected["loglik"], abs=1e-7)
    np.testing.assert_allclose(fit.summary["std_error"], expected["robust_se"], atol=1e-8)
    assert fit.diagnostics["se_type"] == "robust_cluster:id"
    assert fit.diagnostics["n_strata"] == 3


def test_kaplan_meier_weighted_counting_process_by_group() -> None:
    km = fit_kaplan_meier(small_data(), KaplanMeierSpec(time="stop", event="event", start="start", id="id",
                                                        group="x2", weights="w", times=(5, 10, 15)))
    summary = km.summary.sort_values(["subgroup", "time"])
    np.testing.assert_allclose(summary["estimate"], R_KM_SURVIVAL, atol=1e-10)
    np.testing.assert_allclose(summary["std_error"], R_KM_SE, atol=1e-10)  # Greenwood = R's robust = FALSE
    assert list(summary["n_persons"]) == [30] * 6


def test_aalen_johansen_weighted_left_truncated() -> None:
    aj = fit_aalen_johansen(competing_data(), AalenJohansenSpec(time="stop", cause="cause", start="start",
                                                                weights="w", times=(5, 10, 15)))
    at = aj.cif_at([5, 10, 15])
    for cause in (1, 2):
        mine = at[at["cause"] == cause]
        np.testing.assert_allclose(mine["cif"], R_AJ_CIF[cause], atol=1e-10)
        np.testing.assert_allclose(mine["std_error"], R_AJ_SE[cause], atol=1e-10)


def test_fine_gray_with_tied_times() -> None:
    fit = fit_fine_gray(competing_data(), FineGraySpec(time="stop", cause="cause", cause_of_interest=1,
                                                       covariates=("x1", "x2", "x3")))
    np.testing.assert_allclose(fit.coef, R_FG_COEF, atol=1e-8)
    np.testing.assert_allclose(fit.se, R_FG_SE, atol=1e-8)
