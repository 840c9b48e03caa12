"""Sequential target-trial emulation on tiny hand-made spells: eligibility, arms, time zero, weights, outcome."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from oracles import dense_standardised_mean_differences

from analyses.designs.specs import TargetTrialParameters
from analyses.designs.trial_bootstrap import (
    interval_percentiles,
    percentile_band,
    percentile_interval,
    refit_models,
)
from analyses.designs.trial_emulation import analyse_trials, expand_trials, trial_days
from analyses.designs.trial_weights import POOLED_WEEK, base_weights, iptw, propensity, week_models
from analyses.estimators import AalenJohansenSpec, fit_aalen_johansen
from analyses.estimators.aalen_johansen import cumulative_incidence_at
from analyses.designs.trial_outcome import worst_balanced
from koord.errors import ContractViolation, ConvergenceError

NEVER = np.nan
# spell: follow-up days, day index of the first GC001, end reason
TINY = pd.DataFrame({
    "spell_id": [1, 2, 3, 4, 5],
    "person_id": [10, 20, 30, 40, 50],
    "followup_days": [30, 20, 18, 50, 16],
    "days_to_first_gc001": [NEVER, 16, 14, 20, NEVER],
    "end_reason": ["return_to_work", "return_to_work", "censored", "death", "sickness_compensation"],
    "sex": ["woman"] * 5,
})
ONE_WEEK = TargetTrialParameters(entry_day=14, first_trial_day=14, n_trial_weeks=1, controls_per_treated=0.0)


def entries_of(params=ONE_WEEK, spells=TINY):
    out = expand_trials(spells, params, ("sex",), np.random.default_rng(0))
    return out.entries, out.per_trial


def test_daily_trials_over_the_weeks():
    assert list(trial_days(ONE_WEEK)) == list(range(14, 21))
    assert len(trial_days(TargetTrialParameters(entry_day=14, first_trial_day=14))) == 91


def test_who_is_eligible_and_treated_on_which_day():
    entries, per_trial = entries_of()
    got = {(r.trial_day, r.spell_id): (bool(r.treated), r.time, r.cause) for r in entries.itertuples()}
    assert got == {
        # day 14: all five at risk and uncoordinated; spell 3 starts coordination that day
        (14, 3): (True, 4, 0), (14, 1): (False, 16, 1), (14, 2): (False, 6, 1), (14, 4): (False, 36, 2),
        (14, 5): (False, 2, 2),
        # day 16: spell 2 starts; spell 5 has left (follow-up ended on day 16), spell 3 is coordinated
        (16, 2): (True, 4, 1), (16, 1): (False, 14, 1), (16, 4): (False, 34, 2),
        # day 20: spell 4 starts; only spell 1 is a control
        (20, 4): (True, 30, 2), (20, 1): (False, 10, 1),
    }
    # days without a treated spell emulate no trial, but their eligible spells are counted
    skipped = per_trial.set_index("trial_day").loc[[15, 17, 18, 19]]
    assert (skipped["n_treated"] == 0).all() and list(skipped["n_eligible"]) == [4, 2, 2, 2]


def test_no_immortal_time_time_zero_is_the_start_of_coordination():
    entries, _ = entries_of()
    treated = entries[entries["treated"]].merge(TINY, on="spell_id")
    assert (treated["trial_day"] == treated["days_to_first_gc001"]).all()
    assert (entries["time"] > 0).all()


def test_weekly_trials_with_grace_period_start_the_clock_at_the_trial_day():
    weekly = dataclasses.replace(ONE_WEEK, trial_interval_days=7, grace_days=7)
    entries, _ = entries_of(weekly)
    by_spell = entries.set_index("spell_id")
    assert set(by_spell.index[by_spell["treated"]]) == {2, 3, 4}
    # spell 2 starts on day 16 but is followed from day 14: two event-free (immortal) days
    assert by_spell.loc[2, "time"] == 20 - 14


def test_controls_are_sampled_with_inverse_fraction_weights():
    many = pd.DataFrame({"spell_id": range(1000), "person_id": range(1000), "followup_days": 100,
                         "days_to_first_gc001": [14.0] * 10 + [NEVER] * 990, "end_reason": "return_to_work",
                         "sex": "man"})
    params = dataclasses.replace(ONE_WEEK, n_trial_weeks=1, controls_per_treated=5.0)
    entries, per_trial = entries_of(params, many)
    day14 = entries[entries["trial_day"] == 14]
    fraction = per_trial.set_index("trial_day").loc[14, "sampling_fraction"]
    assert fraction == pytest.approx(50 / 990)
    controls = day14[~day14["treated"]]
    assert np.allclose(controls["sampling_weight"], 1 / fraction)
    assert 20 < len(controls) < 90  # binomial(990, 0.0505): mean 50


def test_unknown_end_reason_is_a_contract_violation():
    bad = TINY.assign(end_reason=["return_to_work", "moved", "censored", "death", "death"])
    with pytest.raises(ContractViolation, match="moved"):
        entries_of(spells=bad)


def test_stabilised_weights_by_hand():
    ps = np.array([0.2, 0.5, 0.4, 0.1])
    treated = np.array([True, True, False, False])
    w, report = iptw(ps, treated, np.ones(4), (0.0, 100.0))
    # P(A=1) = 0.5: 0.5/0.2, 0.5/0.5, 0.5/0.6, 0.5/0.9
    assert w == pytest.approx([2.5, 1.0, 0.5 / 0.6, 0.5 / 0.9])
    assert report["share_treated"] == 0.5


def test_truncation_within_arm_and_stratum():
    ps = np.r_[np.linspace(0.01, 0.5, 100), np.linspace(0.3, 0.6, 100)]
    treated = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    w, report = iptw(ps, treated, np.ones(200), (5.0, 95.0))
    raw = np.where(treated, 0.5 / ps, 0.5 / (1 - ps))
    # the treated's largest weights (smallest ps) are cut, the controls' smallest too
    assert w[treated].max() < raw[treated].max() and w[~treated].min() > raw[~treated].min()
    assert w[treated].max() == pytest.approx(np.sort(raw[treated])[94], rel=1e-12)
    assert 0.05 < report["treated_share_truncated"] < 0.15


def test_vectorised_incidence_by_hand_and_against_the_estimator():
    # times 1,2,2,3, causes 1,2,1,0: t=1 CIF 1/4, S 3/4; t=2 CIF += 3/4 * 1/3 -> 1/2
    cif = cumulative_incidence_at(np.array([1, 2, 2, 3]), np.array([1, 2, 1, 0]), np.ones(4), np.array([0, 1, 2, 3, 10]))
    assert cif == pytest.approx([0, 0.25, 0.5, 0.5, 0.5])
    rng = np.random.default_rng(4)
    n = 400
    frame = pd.DataFrame({"time": rng.integers(1, 60, n).astype(float), "cause": rng.choice([0, 1, 2], n),
                          "weight": rng.uniform(0.2, 3.0, n)})
    at = np.array([5, 17, 30, 59, 80])
    ours = cumulative_incidence_at(frame["time"].to_numpy(int), frame["cause"].to_numpy(), frame["weight"].to_numpy(), at)
    ref = fit_aalen_johansen(frame, AalenJohansenSpec(time="time", cause="cause", weights="weight")).cif_at(at.astype(float))
    assert ours == pytest.approx(ref.loc[ref["cause"] == 1, "cif"].to_numpy(), abs=1e-12)


def test_vectorised_incidence_wants_whole_days():
    with pytest.raises(ContractViolation, match="not whole numbers"):
        cumulative_incidence_at(np.array([1.0, 2.5]), np.array([1, 0]), np.ones(2), np.array([3]))
    with pytest.raises(ContractViolation, match="not whole numbers"):
        cumulative_incidence_at(np.array([1.0, np.nan]), np.array([1, 0]), np.ones(2), np.array([3]))
    with pytest.raises(ContractViolation, match=">= 0"):
        cumulative_incidence_at(np.array([1, -2]), np.array([1, 0]), np.ones(2), np.array([3]))


def _simulated_spells(n=3000, seed=5):
    rng = np.random.default_rng(seed)
    sex = rng.choice(["woman", "man"], n)
    group = rng.choice(["a", "b"], n)
    prognosis = np.where(group == "a", 0.5, -0.5)
    t_c = np.where(rng.random(n) < 1 / (1 + np.exp(-(-0.5 - prognosis))), 14 + np.floor(rng.exponential(30, n)), np.nan)
    followup = 15 + np.floor(rng.exponential(60 * np.exp(-prognosis), n))
    t_c = np.where(t_c < followup, t_c, np.nan)
    return pd.DataFrame({"spell_id": range(n), "person_id": rng.integers(0, n // 2, n), "followup_days": followup,
                         "days_to_first_gc001": t_c, "end_reason": "return_to_work", "sex": sex,
                         "diagnosis_chapter_group": "other", "group": group})


def test_weighting_balances_and_bootstrap_is_reproducible():
    spells = _simulated_spells()
    params = TargetTrialParameters(entry_day=14, first_trial_day=14, n_trial_weeks=4, confounders=("group",),
                                   bootstrap_replicates=5, min_level_size=1)
    a = analyse_trials(spells, params, np.random.default_rng(1))
    b = analyse_trials(spells, params, np.random.default_rng(1))
    pooled = a.balance[(a.balance["trial_week"] == "all") & (a.balance["covariate"].str.startswith("group"))]
    assert (pooled["smd_before"].abs() > 0.1).all() and (pooled["smd_after"].abs() < 0.05).all()
    assert [r.horizons[True][0] for r in a.replicates] == [r.horizons[True][0] for r in b.replicates]
    # the point estimates (the vectorised estimator) equal the validated fit_aalen_johansen
    frame = pd.DataFrame({"time": a.entries["time"].to_numpy(dtype=float), "cause": a.entries["cause"].to_numpy(),
                          "arm": a.entries["treated"].to_numpy(), "weight": a.weights})
    ref = fit_aalen_johansen(frame.loc[frame["weight"] > 0], AalenJohansenSpec(
        time="time", cause="cause", group="arm", weights="weight")).cif_at(np.r_[a.horizons, a.grid].astype(float))
    for arm in (True, False):
        mine = ref.loc[(ref["cause"] == 1) & (ref["group"] == arm), "cif"].to_numpy()
        assert np.r_[a.point.horizons[arm], a.point.grid[arm]] == pytest.approx(mine, abs=1e-12)


def test_balance_from_weighted_counts_equals_the_dense_smd():
    from analyses.designs.covariates import indicators, plan_levels

    spells = _simulated_spells()
    params = TargetTrialParameters(entry_day=14, first_trial_day=14, n_trial_weeks=3, confounders=("group", "sex"),
                                   bootstrap_replicates=0, min_level_size=1)
    a = analyse_trials(spells, params, np.random.default_rng(2))
    entries, t = a.entries, a.entries["treated"].to_numpy()
    plan = plan_levels(entries, ("group", "sex"), min_level_size=1)
    x = indicators(entries, plan)
    for cov in plan.covariates:
        x[f"{cov.name}__{cov.reference}"] = (entries[cov.name].astype(str) == cov.reference).astype(float)
    x["days_since_spell_start"] = entries["trial_day"].to_numpy(dtype=float)
    base = entries["sampling_weight"].to_numpy(dtype=float)
    for week, rows in [("all", np.arange(len(entries)))] + [
            (str(k), g.index.to_numpy()) for k, g in entries.groupby("trial_week")]:
        got = a.balance[a.balance["trial_week"] == week].set_index("covariate").loc[x.columns]
        before = dense_standardised_mean_differences(x.iloc[rows], t[rows], base[rows], base_weights=base[rows])
        after = dense_standardised_mean_differences(x.iloc[rows], t[rows], a.weights[rows], base_weights=base[rows])
        assert got["smd_before"].to_numpy() == pytest.approx(before, abs=1e-10)
        assert got["smd_after"].to_numpy() == pytest.approx(after, abs=1e-10)
        assert got["n_treated"].iloc[0] == t[rows].sum()


def test_chord_refit_of_the_bootstrap_equals_the_newton_refit():
    """Chord steps with the full-sample information reach the replicate's own estimate, as Newton does."""
    spells = _simulated_spells()
    common = dict(entry_day=14, first_trial_day=14, n_trial_weeks=4, confounders=("group", "sex"),
                  bootstrap_replicates=10, min_level_size=1)
    chord = analyse_trials(spells, TargetTrialParameters(**common), np.random.default_rng(5))
    newton = analyse_trials(spells, TargetTrialParameters(**common, bootstrap_ps_update="newton"),
                            np.random.default_rng(5))
    no_refit = analyse_trials(spells, TargetTrialParameters(**common, bootstrap_refit_ps=False),
                              np.random.default_rng(5))
    for a, b in zip(chord.replicates, newton.replicates):
        for arm in (True, False):
            assert a.horizons[arm] == pytest.approx(b.horizons[arm], abs=1e-7)
    # the refit matters: without it the replicates differ
    assert any(np.abs(a.horizons[True] - c.horizons[True]).max() > 1e-6
               for a, c in zip(chord.replicates, no_refit.replicates))


def test_sparse_indicator_matrix_equals_the_dense_indicators():
    from analyses.designs.covariates import indicator_matrix, indicators, plan_levels

    frame = pd.DataFrame({"a": ["x", "y", "z", "x", "y", "w"], "b": ["1", "2", "2", "3", "1", "1"]})
    plan = plan_levels(frame.iloc[:5], ("a", "b"), min_level_size=1)  # 'w' unseen: counts as reference
    day = np.arange(6.0)
    got = indicator_matrix(frame, plan, leading_ones=True, trailing=day).toarray()
    assert got[:, 0] == pytest.approx(np.ones(6)) and got[:, -1] == pytest.approx(day)
    assert got[:, 1:-1] == pytest.approx(indicators(frame, plan).to_numpy())


def _one_population(params):
    spells = _simulated_spells()
    entries = expand_trials(spells, params, ("group", "sex"), np.random.default_rng(3)).entries
    return entries, week_models(entries, ("group", "sex"), params)


@pytest.mark.parametrize("ps_model, named", [("per_week", "trial week 0"), ("pooled", r"all trial weeks \(pooled\)")])
def test_refit_that_does_not_converge_raises_instead_of_returning_its_last_step(ps_model, named):
    params = TargetTrialParameters(entry_day=14, first_trial_day=14, n_trial_weeks=2, confounders=("group", "sex"),
                                   min_level_size=1, ps_model=ps_model)
    entries, models = _one_population(params)
    frequency = np.random.default_rng(4).integers(0, 3, len(entries)).astype(float)
    base = base_weights(entries, frequency)
    y = entries["treated"].to_numpy(dtype=float)
    refit_models(models, y, base, params, "newton")  # converges with the default steps
    with pytest.raises(ConvergenceError, match=f"bootstrap refit of the propensity model of {named}"):
        refit_models(models, y, base, params, "newton", max_steps=1, tolerance=1e-15)
    with pytest.raises(ConvergenceError, match="did not converge in 1 steps"):
        refit_models(models, y, base, params, "chord", max_steps=1, tolerance=1e-15)


def test_refit_of_a_week_drawn_without_treated_takes_the_limit():
    """No treated drawn in a week: the intercept's estimate is -inf and the week's propensities 0."""
    params = TargetTrialParameters(entry_day=14, first_trial_day=14, n_trial_weeks=2, confounders=("group", "sex"),
                                   min_level_size=1, ps_model="per_week")
    entries, models = _one_population(params)
    y = entries["treated"].to_numpy(dtype=float)
    frequency = np.ones(len(entries))
    week0 = entries["trial_week"].to_numpy() == 0
    frequency[week0 & (y == 1)] = 0.0  # week 0's treated not drawn
    refitted = refit_models(models, y, base_weights(entries, frequency), params, "chord")
    ps = propensity(refitted, len(entries))
    assert refitted[0].beta[0] == -np.inf and (refitted[0].beta[1:] == 0).all()
    assert ps[week0].max() < 1e-15
    assert refitted[1].beta == pytest.approx(models[1].beta, abs=1e-6)  # week 1 as drawn: its own refit


def test_pooled_propensity_model_has_an_indicator_per_trial_week():
    params = TargetTrialParameters(entry_day=14, first_trial_day=14, n_trial_weeks=4, confounders=("group", "sex"),
                                   min_level_size=1)
    assert params.ps_model == "pooled"
    entries, models = _one_population(params)
    (pooled,) = models
    assert pooled.week == POOLED_WEEK and list(pooled.rows) == list(range(len(entries)))
    # intercept, group, sex, weeks 0-3 but the largest (the reference), the day of time zero
    assert len(pooled.beta) == 1 + 1 + 1 + 3 + 1
    per_week = week_models(entries, ("group", "sex"), dataclasses.replace(params, ps_model="per_week"))
    assert [m.week for m in per_week] == [0, 1, 2, 3]


def _prognostic_spells(n=4000, seed=2, n_groups=8, n_noise=20):
    """Rare coordination by indication across groups of very different prognosis (no effect of coordination).

    The shape of the pooled 'other diagnoses' at 20 000 persons: some 80 starts of coordination
    per trial week against a few dozen coefficients, of which most are noise (``noise``, like
    the home regions), while the groups' return to work differs a lot.
    """
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_groups, n)
    prognosis = np.linspace(-1.5, 1.5, n_groups)[g]  # log hazard of return to work
    t_c = 14 + np.floor(rng.exponential(1 / (0.004 * np.exp(-0.8 * prognosis))))  # the sicker, the sooner
    followup = 15 + np.floor(rng.exponential(80 * np.exp(-prognosis)))
    return pd.DataFrame({"spell_id": range(n), "person_id": range(n), "followup_days": followup,
                         "days_to_first_gc001": np.where(t_c < followup, t_c, np.nan), "end_reason": "return_to_work",
                         "sex": rng.choice(["woman", "man"], n), "diagnosis_chapter_group": "other",
                         "group": [f"g{i}" for i in g], "noise": [f"r{i}" for i in rng.integers(0, n_noise, n)]})


def test_pooled_propensity_model_balances_a_small_population_the_weekly_models_leave_confounded():
    """Per-week ridge models of ~80 starts each leave the prognostic groups unbalanced; the pooled model does not.

    The simulation study found this as a bias of the 'other diagnoses' group's risk difference
    (+0.013 to +0.017 with per-week models, +0.001 to +0.004 pooled, R = 10 x 20 000 persons).
    """
    spells = _prognostic_spells()
    params = TargetTrialParameters(entry_day=14, first_trial_day=14, confounders=("group", "noise", "sex"),
                                   bootstrap_replicates=0)

    def group_balance(p):
        a = analyse_trials(spells, p, np.random.default_rng(1))
        b = a.balance[(a.balance["trial_week"] == "all") & a.balance["covariate"].str.startswith("group")]
        return b["smd_before"].abs().max(), b["smd_after"].abs().mean(), b["smd_after"].abs().max()

    before, mean_after, max_after = group_balance(params)  # the default: pooled
    assert before > 0.3 and mean_after < 0.02 and max_after < 0.05
    _, weekly_mean, weekly_max = group_balance(dataclasses.replace(params, ps_model="per_week"))
    assert weekly_mean > 0.05 and weekly_max > 0.1


def test_bootstrap_percentiles_follow_the_confidence_level():
    assert interval_percentiles() == pytest.approx((2.5, 97.5), abs=1e-12)
    assert interval_percentiles(0.9) == pytest.approx((5.0, 95.0), abs=1e-12)
    values = np.random.default_rng(6).normal(size=400)
    sd, low, high = percentile_interval(values, level=0.8)
    assert (low, high) == pytest.approx(tuple(np.percentile(values, [10, 90])), rel=1e-12)
    assert sd == pytest.approx(values.std(ddof=1))
    band_low, band_high = percentile_band(values.reshape(100, 4), 4, level=0.8)
    assert band_low == pytest.approx(np.percentile(values.reshape(100, 4), 10, axis=0), rel=1e-12)
    assert np.isnan(percentile_band(None, 3)[0]).all() and np.isnan(percentile_interval(values[:1])[1])


def test_the_least_balanced_covariate_is_named_pooled_and_per_failing_week():
    """A week that fails the balance limit says which covariate it fails on (issue 14)."""
    balance = pd.DataFrame({
        "trial_week": ["all", "all", "0", "0", "1", "1"],
        "covariate": ["education_group__high", "sex__woman", "education_group__high", "sex__woman",
                      "education_group__high", "sex__woman"],
        "smd_after": [0.04, -0.06, 0.02, 0.03, 0.05, -0.15],
    })
    worst = worst_balanced(balance, 0.1)
    assert worst["max_abs_smd_covariate"] == "sex__woman"
    assert worst["unbalanced_weeks"] == {"1": {"max_abs_smd_after": 0.15, "max_abs_smd_covariate": "sex__woman"}}
    assert worst_balanced(balance.iloc[:0], 0.1) == {"max_abs_smd_covariate": None, "unbalanced_weeks": {}}
