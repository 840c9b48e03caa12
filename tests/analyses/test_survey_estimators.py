"""The survey estimators against hand-computed values on small fixtures (arithmetic written out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analyses.estimators.survey import (
    StratifiedDesign,
    class_weights,
    collapse_classes,
    cronbach_alpha,
    kish_effective_n,
    korn_graubard_interval,
    logit_interval,
    rao_scott_test,
    share_interval,
    weighted_mean,
)

# Two strata: A has N = 10 in the frame and 4 respondents (y = 1, 0, 1, 1), weight 10/4 = 2.5;
# B has N = 6 and 3 respondents (y = 0, 0, 1), weight 6/3 = 2.
STRATUM = np.array(["A"] * 4 + ["B"] * 3)
POP = np.array([10] * 4 + [6] * 3)
Y = np.array([1, 0, 1, 1, 0, 0, 1], float)


def test_weighted_share_and_linearised_variance_by_hand():
    design = StratifiedDesign(STRATUM, POP)
    est = weighted_mean(design, Y)
    # p = (2.5 * 3 + 2 * 1) / (10 + 6) = 9.5 / 16
    assert est.estimate == pytest.approx(9.5 / 16)
    # z = w (y - p) / 16. Stratum A: z = 0.0634765625 (y = 1, three times), -0.0927734375 (y = 0);
    # mean 0.0244140625; squared deviations 3 * 0.0390625^2 + 0.1171875^2 = 0.018310546875;
    # x n/(n-1) = 4/3 -> 0.0244140625; x FPC (1 - 4/10) -> 0.0146484375.
    # Stratum B: z = -0.07421875 (twice), 0.05078125; deviations -1/24 (twice), 1/12:
    # 2/576 + 1/144 = 0.0104166...; x 3/2 = 0.015625; x FPC (1 - 3/6) -> 0.0078125.
    assert est.std_error ** 2 == pytest.approx(0.0146484375 + 0.0078125)
    assert est.df == 7 - 2
    assert est.weighted_n == pytest.approx(16)
    assert est.n == 7


def test_domain_mean_keeps_strata_and_skips_missing():
    design = StratifiedDesign(STRATUM, POP)
    y = np.array([4, 2, np.nan, 5, 3, 1, 2], float)
    domain = np.array([True, True, True, False, True, True, True])
    est = weighted_mean(design, y, domain)
    # in the domain with an answer: A: 4, 2 (w 2.5); B: 3, 1, 2 (w 2). mean = (2.5*6 + 2*6) / (5 + 6) = 27/11
    m = 27 / 11
    assert est.estimate == pytest.approx(m)
    zA = np.array([2.5 * (4 - m), 2.5 * (2 - m), 0, 0]) / 11
    zB = np.array([2 * (3 - m), 2 * (1 - m), 2 * (2 - m)]) / 11
    var = (1 - 4 / 10) * 4 / 3 * np.sum((zA - zA.mean()) ** 2) + (1 - 3 / 6) * 3 / 2 * np.sum((zB - zB.mean()) ** 2)
    assert est.std_error ** 2 == pytest.approx(var)
    assert est.n == 5


def test_without_a_frame_weights_are_one_and_no_fpc():
    design = StratifiedDesign(np.array(["A"] * 5), None)
    y = np.array([1, 0, 1, 1, 0], float)
    est = weighted_mean(design, y)
    # one stratum, SRS without FPC: var = s^2 / n = (0.6 * 0.4 * 5/4) / 5 = 0.06
    assert est.estimate == pytest.approx(0.6)
    assert est.std_error ** 2 == pytest.approx(0.06)
    assert est.n_effective == pytest.approx(5)


def test_a_census_class_has_no_variance():
    design = StratifiedDesign(np.array(["A"] * 3), np.array([3, 3, 3]))
    assert weighted_mean(design, np.array([1.0, 0.0, 1.0])).std_error == 0


def test_class_weights_and_kish():
    assert class_weights(np.array([4, 3]), np.array([10, 6])).tolist() == [2.5, 2.0]
    assert class_weights(np.array([4, 3]), None).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        class_weights(np.array([4]), np.array([3]))
    w = StratifiedDesign(STRATUM, POP).weights
    # (4 * 2.5 + 3 * 2)^2 / (4 * 6.25 + 3 * 4) = 256 / 37
    assert kish_effective_n(w) == pytest.approx(256 / 37)


def test_logit_interval_by_hand():
    lo, hi = logit_interval(0.6, 0.05, 100)
    t = stats.t.ppf(0.975, 100)  # 1.98397
    half = t * 0.05 / 0.24  # se on the logit scale = se / (p (1 - p))
    eta = np.log(1.5)
    assert lo == pytest.approx(1 / (1 + np.exp(-(eta - half))))
    assert hi == pytest.approx(1 / (1 + np.exp(-(eta + half))))
    # eta = log(1.5) = 0.405465, half = 1.98397 * 0.208333 = 0.413327 -> expit(-0.007862), expit(0.818792)
    assert (round(lo, 4), round(hi, 4)) == (0.4980, 0.6940)


def test_korn_graubard_is_clopper_pearson_under_srs():
    # 2 of 20, SRS: n_eff = 20, df = n - 1: R's binom.test(2, 20) gives 0.01234853 0.31698271.
    p, n = 0.1, 20
    lo, hi = korn_graubard_interval(p, np.sqrt(p * (1 - p) / n), n, n - 1)
    assert lo == pytest.approx(0.01234853, abs=1e-7)
    assert hi == pytest.approx(0.31698271, abs=1e-7)
    # design df smaller than n - 1 shrinks the effective n: wider interval
    lo2, hi2 = korn_graubard_interval(p, np.sqrt(p * (1 - p) / n), n, 5)
    assert lo2 < lo and hi2 > hi
    # zero share: upper limit 1 - (a/2)^(1/n) at n = 20, df = n - 1
    assert korn_graubard_interval(0.0, 0.0, 20, 19) == pytest.approx((0.0, 1 - 0.025 ** (1 / 20)))


def test_share_interval_chooses_by_effective_n():
    design = StratifiedDesign(np.array(["A"] * 200), None)
    y = np.r_[np.ones(100), np.zeros(100)]
    est = weighted_mean(design, y)
    assert share_interval(est)[2] == "logit"
    small = weighted_mean(design, y, np.r_[np.ones(30, bool), np.zeros(140, bool), np.ones(30, bool)])
    # a domain of 60 in an SRS of 200: s^2 = 0.25 * 60/59, var = (200/199) * 60 * 0.25 / 60^2,
    # n_eff = s^2 / var = 60 * (60/59) / (200/199) = 60.71 (the domain's size is random)
    assert small.n == 60 and small.n_effective == pytest.approx(60 * (60 / 59) / (200 / 199))
    assert share_interval(small)[2] == "logit"
    smaller = weighted_mean(design, y, np.r_[np.ones(20, bool), np.zeros(160, bool), np.ones(20, bool)])
    assert share_interval(smaller)[2] == "korn_graubard"
    edge = weighted_mean(design, np.r_[np.ones(10), np.zeros(190)])
    assert share_interval(edge)[2] == "korn_graubard"


def test_cronbach_alpha_and_feldt_by_hand():
    X = np.array([[1, 2], [2, 3], [3, 3], [4, 5], [np.nan, 1]])
    alpha, lo, hi, n = cronbach_alpha(X)
    # complete rows: item variances 5/3 and 4.75/3; the sum 3, 5, 6, 9 has variance 18.75/3 = 6.25
    # alpha = 2 (1 - (5/3 + 4.75/3) / 6.25) = 2 (1 - 3.25/6.25) = 0.96
    assert n == 4
    assert alpha == pytest.approx(0.96)
    # Feldt with F(3, 3): F_0.975 = 15.439, F_0.025 = 1 / 15.439
    assert lo == pytest.approx(1 - 0.04 * 15.439, abs=1e-3)
    assert hi == pytest.approx(1 - 0.04 / 15.439, abs=1e-4)


def test_collapse_classes_rule():
    cells = pd.DataFrame([
        ("A", "PV", 30), ("A", "SSV", 25), ("A", "PSY", 5),
        ("B", "PV", 8), ("B", "SSV", 6),
        ("C", "PV", 15), ("C", "SSV", 30), ("C", "PSY", 40),
    ], columns=["region_group", "care_level", "n_respondents"])
    out = collapse_classes(cells, ["A", "B", "C"], ["PV", "SSV", "PSY"], 20)
    got = dict(zip(zip(out.region_group, out.care_level), out.weighting_class))
    # A: PSY (5) joins its only neighbour SSV (25 + 5 = 30). B: PV + SSV = 14 < 20, the whole group
    # joins C level by level: PV 8 + 15 = 23, SSV 6 + 30 = 36, PSY 40.
    assert got == {
        ("A", "PV"): "A:PV", ("A", "SSV"): "A:SSV+PSY", ("A", "PSY"): "A:SSV+PSY",
        ("B", "PV"): "B+C:PV", ("B", "SSV"): "B+C:SSV",
        ("C", "PV"): "B+C:PV", ("C", "SSV"): "B+C:SSV", ("C", "PSY"): "B+C:PSY",
    }


def test_collapse_picks_the_smaller_neighbour():
    cells = pd.DataFrame([("A", "PV", 50), ("A", "SSV", 10), ("A", "PSY", 30)],
                         columns=["region_group", "care_level", "n_respondents"])
    out = collapse_classes(cells, ["A"], ["PV", "SSV", "PSY"], 20)
    assert out.weighting_class.tolist() == ["A:PV", "A:SSV+PSY", "A:SSV+PSY"]


def _two_by_two(n_per_cell):
    g, c = [], []
    for (gi, ci), k in n_per_cell.items():
        g += [gi] * k
        c += [ci] * k
    return np.array(g), np.array(c)


def test_rao_scott_under_srs_is_pearson_times_n_minus_1_over_n():
    # One stratum, no frame: V = (D - pp')/(n - 1), so Delta = n/(n - 1) I and
    # F = X^2 (n - 1) / (n (r - 1)(c - 1)) on (r - 1)(c - 1) and (r - 1)(c - 1)(n - 1) df.
    g, c = _two_by_two({("x", "agree"): 30, ("x", "no"): 20, ("y", "agree"): 15, ("y", "no"): 35})
    design = StratifiedDesign(np.zeros(len(g)), None)
    rs = rao_scott_test(design, g, c)
    n = 100
    # Pearson X^2 by hand: expected x: 50*45/100 = 22.5, 27.5; y: 22.5, 27.5
    x2 = (7.5 ** 2 / 22.5 + 7.5 ** 2 / 27.5) * 2
    assert rs.pearson == pytest.approx(x2)
    assert rs.f_statistic == pytest.approx(x2 * (n - 1) / n)
    assert rs.ndf == pytest.approx(1)
    assert rs.ddf == pytest.approx(n - 1)
    assert rs.p_value == pytest.approx(stats.f.sf(x2 * 99 / 100, 1, 99))


def test_rao_scott_2x2_design_effect_is_that_of_the_log_odds_ratio():
    # For a 2 x 2 table the generalised design effect is Var_design(log OR) / Var_multinomial(log OR),
    # and log OR is linearised by the mean of u = sum_j c_j I_j / p_j with c = (1, -1, -1, 1).
    rng = np.random.default_rng(3)
    n = 400
    stratum = rng.integers(0, 3, n)
    pop = np.array([300, 500, 900])[stratum]
    g = np.where(rng.random(n) < 0.4 + 0.1 * stratum, "x", "y")
    c = np.where(rng.random(n) < 0.3 + 0.2 * stratum, "agree", "no")
    design = StratifiedDesign(stratum, pop)
    rs = rao_scott_test(design, g, c)
    w = design.weights
    cells = [("x", "agree"), ("y", "agree"), ("x", "no"), ("y", "no")]
    I = np.column_stack([(g == a) & (c == b) for a, b in cells]).astype(float)
    p = (w[:, None] * I).sum(0) / w.sum()
    u = I @ (np.array([1, -1, -1, 1]) / p)
    var_design = weighted_mean(design, u).std_error ** 2
    var_srs = np.sum(1 / p) / n
    assert rs.mean_design_effect == pytest.approx(var_design / var_srs, rel=1e-9)
    table = (p * n).reshape(2, 2)
    assert rs.pearson == pytest.approx(stats.chi2_contingency(table, correction=False)[0])
    assert rs.f_statistic == pytest.approx(rs.pearson / rs.mean_design_effect)
    assert rs.ddf == pytest.approx(n - 3)
