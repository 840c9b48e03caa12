"""Diagnostics that gate claims: SMD, preference score and equipoise, MDRR, positivity, flags."""

import math

import numpy as np
import pytest
from oracles import dense_standardised_mean_differences

from analyses.designs.diagnostics import (
    equipoise,
    flags,
    level_smd,
    minimum_detectable_difference,
    minimum_detectable_ratio,
    numeric_smd,
    positivity,
    preference_score,
)
from analyses.designs.specs import CommonParameters


def standardised_mean_differences(x, t, weights=None, base_weights=None):
    """SMD of a 0/1 column by `level_smd` (level 1 of two) and of any column by `numeric_smd`."""
    x = np.asarray(x, dtype=float)
    w = np.ones(len(t)) if weights is None else weights
    b = w if base_weights is None else base_weights
    by_value = numeric_smd(x, t, w, b)
    if set(np.unique(x)) <= {0.0, 1.0}:
        by_level = level_smd(x.astype(np.int64), 2, t, w, b)[:, 1]
        assert by_level == pytest.approx(by_value, rel=1e-12, nan_ok=True)
    return by_value


def test_smd_by_hand():
    # treated 1,0,1,1: mean 0.75, variance 0.1875; controls 0,0,1,0: mean 0.25, variance 0.1875
    x = np.array([1, 0, 1, 1, 0, 0, 1, 0], float)
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    assert standardised_mean_differences(x, t)[0] == pytest.approx(0.5 / math.sqrt(0.1875), rel=1e-12)


def test_weighted_smd_keeps_the_unweighted_denominator():
    x = np.array([1, 0, 1, 1, 0, 0, 1, 0], float)
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    w = np.array([1, 1, 1, 1, 1, 1, 3, 1], float)
    # weighted control mean = 3/6 = 0.5; difference 0.25 over the unweighted SD sqrt(0.1875)
    smd = standardised_mean_differences(x, t, weights=w, base_weights=np.ones(8))[0]
    assert smd == pytest.approx(0.25 / math.sqrt(0.1875), rel=1e-12)


def test_smd_of_constant_column_is_zero_and_of_separated_column_infinite():
    t = np.array([1, 1, 0, 0], bool)
    assert standardised_mean_differences(np.ones(4), t)[0] == 0.0
    assert math.isinf(standardised_mean_differences(np.array([1.0, 1, 0, 0]), t)[0])


def test_smd_of_empty_arm_is_nan():
    t = np.array([1, 1, 0, 0], bool)
    w = np.array([1.0, 1.0, 0.0, 0.0])
    assert np.isnan(numeric_smd(np.array([1.0, 2, 3, 4]), t, w, w)[0])


def test_grouped_smd_by_counts_equals_the_dense_oracle():
    rng = np.random.default_rng(11)
    n, n_levels, n_groups = 2000, 4, 3
    codes = rng.integers(0, n_levels, n)
    groups = rng.integers(0, n_groups, n)
    treated = rng.random(n) < 0.2 + 0.1 * codes
    value = rng.normal(size=n) + codes
    base = rng.choice([1.0, 3.5], n)
    weights = base * rng.uniform(0.2, 4.0, n)
    levels = level_smd(codes, n_levels, treated, weights, base, groups, n_groups)
    values = numeric_smd(value, treated, weights, base, groups, n_groups)
    indicators = (codes[:, None] == np.arange(n_levels)[None, :]).astype(float)
    for g in range(n_groups):
        rows = groups == g
        dense = dense_standardised_mean_differences(np.column_stack([indicators, value])[rows], treated[rows],
                                                    weights[rows], base_weights=base[rows])
        assert levels[g] == pytest.approx(dense[:n_levels], rel=1e-12)
        assert values[g] == pytest.approx(dense[n_levels], rel=1e-12)


def test_preference_score_removes_the_treated_share():
    assert preference_score(np.array([0.2]), 0.2)[0] == pytest.approx(0.5)
    assert preference_score(np.array([0.8]), 0.5)[0] == pytest.approx(0.8)
    # odds 0.25 / odds 1/9 -> preference odds 2.25 -> 0.6923
    assert preference_score(np.array([0.2]), 0.1)[0] == pytest.approx(2.25 / 3.25)


def test_equipoise_share_in_the_middle_band():
    assert equipoise(np.array([0.1, 0.5, 0.6, 0.9]), 0.5) == pytest.approx(0.5)
    assert equipoise(np.array([0.1, 0.5, 0.6, 0.9]), 0.5, weights=np.array([1, 3, 0, 0])) == pytest.approx(0.75)


def test_minimum_detectable_ratio_schoenfeld():
    # z = 1.959964 + 0.841621 = 2.801585; z^2 / (100 * 0.25) = 0.313955; exp(sqrt(.)) = 1.7513
    assert minimum_detectable_ratio(100, 0.5) == pytest.approx(1.7513, abs=1e-4)
    assert minimum_detectable_ratio(0, 0.5) == math.inf
    assert minimum_detectable_difference(0.01) == pytest.approx(0.02801585, abs=1e-7)


def test_positivity_overlap_shares():
    ps = np.concatenate([np.linspace(0.1, 0.5, 101), np.linspace(0.3, 0.9, 101)])
    treated = np.r_[np.zeros(101, bool), np.ones(101, bool)]
    out = positivity(ps, treated)
    # common support = [max(p01), min(p99)] ~ [0.306, 0.496]: about half of each arm
    assert 0.3 < out["share_treated_in_support"] < 0.4
    assert 0.45 < out["share_control_in_support"] < 0.55


def test_flags_gate_on_every_applicable_diagnostic():
    p = CommonParameters()
    ok = flags(p, max_abs_smd=0.05, equipoise_share=0.5, mdrr=1.5, events_per_arm={"a": 50, "b": 60})
    assert ok["passes"] and ok["support_share_pass"] is None
    assert not flags(p, max_abs_smd=0.12)["passes"]
    assert not flags(p, equipoise_share=0.1)["passes"]
    assert not flags(p, events_per_arm={"a": 3, "b": 100})["passes"]
    assert not flags(p, mdrr=5.0)["passes"]
    assert not flags(p, max_abs_smd=0.01, immortal_time_safe=False)["passes"]
