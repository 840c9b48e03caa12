"""The need analysis (issue 12): concentration index, AUC, person folds, cross-fitting, a planted gradient."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.designs.need import (
    concentration_index,
    coordination_need,
    cross_fitted_need,
    delong_auc,
    fractional_rank,
    need_groups,
    person_folds,
)
from analyses.designs.specs import AnalysisSpec, NeedParameters

PREDICTORS = ("sex", "age_group", "diagnosis_group", "birth_region_code")


def synthetic_spells(n_persons: int = 3000, seed: int = 1) -> pd.DataFrame:
    """Spells whose length depends on age and diagnosis, and whose uptake rises with that risk."""
    rng = np.random.default_rng(seed)
    spells_per_person = rng.choice([1, 2], size=n_persons, p=[0.8, 0.2])
    person_id = np.repeat(np.arange(1, n_persons + 1), spells_per_person)
    n = len(person_id)
    sex = np.where(rng.random(n_persons) < 0.6, "woman", "man")[person_id - 1]
    age = rng.choice(["20-29", "30-39", "40-49", "50-59"], size=n)
    diagnosis = rng.choice(["stress", "depression", "back", "other"], size=n, p=[0.4, 0.2, 0.25, 0.15])
    birth = rng.choice(["1", "2", "4"], size=n, p=[0.75, 0.1, 0.15])
    risk = (-1.0 + 0.5 * (age == "50-59") + 0.3 * (age == "40-49") + 1.0 * (diagnosis == "stress")
            + 0.6 * (diagnosis == "depression") - 0.5 * (diagnosis == "other"))
    long_spell = rng.random(n) < 1 / (1 + np.exp(-risk))
    spell_days = np.where(long_spell, rng.integers(91, 400, n), rng.integers(15, 91, n))
    is_open = rng.random(n) < 0.05
    uptake_probability = 1 / (1 + np.exp(-(-2.5 + 1.2 * risk)))  # the planted need gradient
    coordinated = rng.random(n) < uptake_probability
    first_gc001 = np.where(coordinated, np.minimum(rng.integers(0, 120, n), spell_days - 1), np.nan)
    return pd.DataFrame({
        "spell_id": np.arange(1, n + 1), "person_id": person_id, "followup_days": spell_days,
        "spell_days": spell_days, "is_open_at_extraction": is_open, "days_to_first_gc001": first_gc001,
        "is_coordinated": coordinated, "sex": sex, "age_group": age, "diagnosis_group": diagnosis,
        "birth_region_code": birth, "is_born_in_sweden": np.where(birth == "1", "true", "false"),
        "home_region_code": rng.choice(["01", "03", "12", "14"], size=n),
    })


def need_params(**overrides) -> NeedParameters:
    return NeedParameters(**{"confounders": PREDICTORS, "entry_day": 14, "min_level_size": 5, **overrides})


# --- the concentration index -----------------------------------------------------------------------


def test_concentration_index_hand_example():
    y = np.array([0, 1, 0, 1, 1])
    rank = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    c, se = concentration_index(y, rank)
    # mean 3/5; (2 / (n mu)) sum y R - 1 = (2/3)(0.3 + 0.7 + 0.9) - 1 = 4/15
    assert c == pytest.approx(4 / 15)
    # Kakwani et al.: a_i = (y_i/mu)(2R_i - 1 - C) + 2 - q_{i-1} - q_i with q = 0, 1/3, 1/3, 2/3, 1
    a = np.array([2, 5 / 9, 4 / 3, 11 / 9, 11 / 9])
    assert se == pytest.approx(np.sqrt((np.mean(a**2) - (19 / 15) ** 2) / 5))


def test_concentration_index_is_the_covariance_formula_and_weights_are_frequencies():
    rng = np.random.default_rng(7)
    y = (rng.random(500) < 0.3).astype(float)
    rank = fractional_rank(rng.normal(size=500))
    c, se = concentration_index(y, rank)
    assert c == pytest.approx(2 * np.cov(y, rank, bias=True)[0, 1] / y.mean())
    assert 0 < se < 0.2
    weights = rng.integers(1, 4, 500)
    c_weighted, _ = concentration_index(y, rank, weights)
    c_repeated, _ = concentration_index(np.repeat(y, weights), np.repeat(rank, weights))
    assert c_weighted == pytest.approx(c_repeated)


def test_concentration_index_sign_follows_the_ranking():
    rank = fractional_rank(np.arange(100))
    assert concentration_index((np.arange(100) >= 70).astype(float), rank)[0] > 0
    assert concentration_index((np.arange(100) < 30).astype(float), rank)[0] < 0


# --- AUC, ranks and folds --------------------------------------------------------------------------


def test_delong_auc_against_pairwise_count():
    rng = np.random.default_rng(3)
    score = np.round(rng.random(60), 1)  # ties on purpose
    outcome = rng.random(60) < 0.4
    pos, neg = score[outcome], score[~outcome]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    auc, se = delong_auc(score, outcome)
    assert auc == pytest.approx(pairs.mean())
    # DeLong: variance of the per-positive and per-negative placement values
    v10, v01 = pairs.mean(axis=1), pairs.mean(axis=0)
    assert se == pytest.approx(np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)))


def test_need_groups_keep_ties_together_and_are_balanced():
    values = np.array([1, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    rank = fractional_rank(values)
    assert rank.max() == 1.0 and rank.min() > 0
    groups = need_groups(rank, 5)
    assert groups[0] == groups[1]
    assert set(groups) == {1, 2, 3, 4, 5}
    assert np.bincount(need_groups(fractional_rank(np.arange(1000)), 10))[1:].tolist() == [100] * 10


def test_folds_are_drawn_by_person():
    person = np.repeat(np.arange(400), np.random.default_rng(0).integers(1, 4, 400))
    fold = person_folds(person, 5, seed=11)
    per_person = pd.Series(fold).groupby(person).nunique()
    assert (per_person == 1).all()
    sizes = np.bincount(fold[np.unique(person, return_index=True)[1]])
    assert sizes.tolist() == [80] * 5
    assert np.array_equal(fold, person_folds(person, 5, seed=11))


def test_cross_fitting_scores_a_spell_without_its_own_outcome():
    spells = synthetic_spells(800, seed=4)
    params = need_params()
    need = cross_fitted_need(spells, params)
    assert (need.groupby(spells["person_id"].to_numpy())["fold"].nunique() == 1).all()
    target = int(np.flatnonzero(spells["spell_days"].to_numpy() > 200)[0])
    flipped = spells.copy()
    flipped.loc[target, ["spell_days", "followup_days"]] = 30
    flipped.loc[target, "is_open_at_extraction"] = False
    again = cross_fitted_need(flipped, params)
    same_fold = need["fold"].to_numpy() == need["fold"].iloc[target]
    assert np.array_equal(need["need_90"].to_numpy()[same_fold], again["need_90"].to_numpy()[same_fold])
    assert not np.allclose(need["need_90"].to_numpy()[~same_fold], again["need_90"].to_numpy()[~same_fold], rtol=0,
                           atol=1e-12)


def test_unknown_outcomes_are_left_out_of_the_fit():
    spells = synthetic_spells(600, seed=5)
    need = cross_fitted_need(spells, need_params())
    horizons = need.attrs["diagnostics"]["horizons"]
    unknown_90 = int((spells["is_open_at_extraction"] & (spells["spell_days"] <= 90)).sum())
    assert horizons["90"]["n_unknown_outcome"] == unknown_90
    assert horizons["90"]["n_in_fit"] + unknown_90 == len(need)


# --- the analysis --------------------------------------------------------------------------------------


def test_coordination_need_finds_the_planted_gradient():
    spells = synthetic_spells(3000, seed=2)
    spec = AnalysisSpec("coordination_need", "coordination_need", "test", need_params())
    result = coordination_need(spec, spells)
    summary = result.summary
    assert {"sex", "measure", "n_spells"} <= set(summary.columns)
    assert set(summary["sex"]) == {"all", "woman", "man"}
    ci = summary.loc[(summary["estimand"] == "concentration_index") & (summary["subgroup"] == "all")].iloc[0]
    assert ci["estimate"] > 0 and ci["conf_low"] > 0
    auc = summary.loc[(summary["measure"] == "need_model_auc") & (summary["sex"] == "all")]
    assert (auc["estimate"] > 0.6).all()
    uptake = summary.loc[(summary["measure"] == "uptake_by_need") & (summary["sex"] == "all")]
    assert uptake["level"].tolist() == [str(g) for g in range(1, 11)]
    assert uptake["estimate"].iloc[-3:].mean() > uptake["estimate"].iloc[:3].mean()
    assert uptake["n_spells"].sum() == result.diagnostics["n_uptake_population"]
    left_out = (spells["is_open_at_extraction"] & (spells["followup_days"] < 90)
                & ~(spells["days_to_first_gc001"] < 90)).sum()
    assert result.diagnostics["n_left_out_of_uptake"] == left_out > 0
    unmet = summary.loc[(summary["measure"] == "unmet_need") & (summary["sex"] == "all")]
    count = unmet.loc[(unmet["estimand"] == "count") & (unmet["subgroup"] == "all")].iloc[0]
    regional = unmet.loc[(unmet["estimand"] == "count") & (unmet["subgroup"] == "home_region_code")]
    assert regional["estimate"].sum() == count["estimate"] == count["n_events"]
    gaps = summary.loc[summary["measure"] == "gap_at_equal_need"]
    assert {"woman_vs_man", "born_abroad_vs_sweden"} <= set(gaps["term"])
    assert gaps.loc[gaps["subgroup"] == "home_region_code", "p_holm"].notna().all()
