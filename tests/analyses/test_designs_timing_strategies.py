"""Clone–censor–weight timing strategies (issue 12): rows, weights, estimator and planted truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analyses.designs.specs import AnalysisSpec, TimingStrategyParameters
from analyses.designs.timing_strategies import (
    ArmRows,
    aalen_johansen_from_sums,
    arm_sums,
    band_limits,
    by_day_rows,
    coordination_timing_strategies,
    eligible_mask,
    exposure_days,
    fit_band_model,
    none_rows,
    Timeline,
)
from analyses.designs.covariates import indicator_matrix, plan_levels
from analyses.estimators.aalen_johansen import AalenJohansenSpec, fit_aalen_johansen


# --- clones and rows, by hand ------------------------------------------------------------------------


def test_eligibility_excludes_ended_and_coordinated_before_entry():
    spells = pd.DataFrame({"followup_days": [14, 15, 40, 40, 40],
                           "days_to_first_gc001": [np.nan, np.nan, 13.0, 14.0, np.nan]})
    assert eligible_mask(spells, 14).tolist() == [False, True, False, True, True]


def test_by_day_rows_censor_uncoordinated_at_x_and_reweight_the_coordinated_after_it():
    followup = np.array([20, 50, 50, 25])
    t_c = np.array([np.inf, 16.0, np.inf, 29.0])  # the last: GC001 on day 29 cannot happen (t_c < followup)
    cause = np.array([1, 1, 1, 2])
    rows = by_day_rows(30, 14, followup, t_c, cause)
    frame = pd.DataFrame({"clone": rows.clone, "slot": rows.slot, "start": rows.start, "stop": rows.stop,
                          "cause": rows.cause}).sort_values(["clone", "start"]).reset_index(drop=True)
    expected = pd.DataFrame({"clone": [0, 1, 1, 2, 3], "slot": [0, 0, 1, 0, 0], "start": [14, 14, 30, 14, 14],
                             "stop": [20, 30, 50, 30, 25], "cause": [1, 0, 1, 0, 2]})
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)


def test_none_rows_censor_at_the_instant_the_gc001_day_begins_and_split_at_the_bands():
    limits = band_limits(14, 30)  # bands [14, 21), [21, 28), [28, 30)
    assert limits.tolist() == [14, 21, 28, 30]
    followup = np.array([40, 40, 23])
    t_c = np.array([16, 10**9, 10**9])  # coordinated on day 16; never; never
    rows = none_rows(limits, followup, t_c, np.array([1, 1, 2]))
    frame = pd.DataFrame({"clone": rows.clone, "slot": rows.slot, "start": rows.start, "stop": rows.stop,
                          "cause": rows.cause}).sort_values(["clone", "start"]).reset_index(drop=True)
    expected = pd.DataFrame({"clone": [0, 1, 1, 1, 1, 2, 2], "slot": [1, 1, 2, 3, 4, 1, 2],
                             "start": [14, 14, 21, 28, 30, 14, 21], "stop": [16, 21, 28, 30, 40, 21, 23],
                             "cause": [0, 0, 0, 0, 1, 0, 2]})
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)


def test_exposure_days_count_days_followed_and_uncoordinated_before_the_gc001():
    limits = band_limits(14, 30)
    days, band = exposure_days(np.array([40.0, 23.0, 40.0]), np.array([16.0, np.inf, 35.0]), limits)
    # spell 0: days 14, 15, 16 (GC001 on 16); spell 1: days 14..22; spell 2: days 14..29
    assert days.tolist() == [[3, 0, 0], [7, 2, 0], [7, 7, 2]]
    assert band.tolist() == [0, -1, -1]


# --- the estimators against independent computations ------------------------------------------------


def test_weighted_left_truncated_aalen_johansen_equals_fit_aalen_johansen():
    rng = np.random.default_rng(3)
    n = 400
    start = rng.integers(0, 20, n)
    stop = start + rng.integers(1, 60, n)
    cause = rng.choice([0, 1, 2], n, p=[0.3, 0.5, 0.2])
    w = rng.uniform(0.2, 3.0, n)
    rows = ArmRows("a", np.arange(n), np.zeros(n, np.int64), start, stop, cause)
    timeline = Timeline(1, int(stop.max()) + 2, np.ones((1, 1)))
    cif = aalen_johansen_from_sums(arm_sums(rows, np.zeros(n, np.int64), timeline, w))[0]
    frame = pd.DataFrame({"start": start.astype(float), "stop": stop.astype(float), "cause": cause, "w": w})
    ref = fit_aalen_johansen(frame, AalenJohansenSpec(time="stop", cause="cause", start="start", weights="w"))
    at = np.array([5, 17, 30, 44, 70])
    expected = ref.cif_at(at.astype(float))
    expected = expected.loc[expected["cause"] == 1, "cif"].to_numpy()
    np.testing.assert_allclose(cif[at], expected, rtol=1e-10, atol=1e-12)


def test_band_model_matches_a_poisson_glm_on_the_expanded_person_time():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame({"g": rng.choice(["a", "b", "c"], n), "h": rng.choice(["x", "y"], n)})
    rate = 0.01 * np.where(frame["g"] == "b", 2.0, 1.0) * np.where(frame["h"] == "y", 0.5, 1.0)
    t_c = 14 + np.floor(rng.exponential(1 / rate))
    followup = 14 + 1 + np.floor(rng.exponential(40, n))
    t_c = np.where(t_c < followup, t_c, np.inf)
    limits = band_limits(14, 45)
    days, band = exposure_days(followup, t_c, limits)
    plan = plan_levels(frame, ("g", "h"), 1)
    x = indicator_matrix(frame, plan)
    fit = fit_band_model(x, days, band, np.ones(n), ridge=0.0)
    # the same model on one row per spell and band
    n_bands = days.shape[1]
    long = pd.DataFrame({"spell": np.repeat(np.arange(n), n_bands), "band": np.tile(np.arange(n_bands), n),
                         "days": days.ravel(), "event": (band[:, None] == np.arange(n_bands)[None, :]).ravel()})
    long = long[long["days"] > 0]
    design = pd.get_dummies(long["band"].astype(str), prefix="band", dtype=float)
    xd = x.toarray()[long["spell"].to_numpy()]
    exog = np.column_stack([design.to_numpy(), xd])
    glm = sm.GLM(long["event"].astype(float).to_numpy(), exog, family=sm.families.Poisson(),
                 offset=np.log(long["days"].to_numpy())).fit()
    np.testing.assert_allclose(fit.alpha, glm.params[:n_bands], atol=1e-5)
    np.testing.assert_allclose(fit.beta, glm.params[n_bands:], atol=1e-5)


# --- the whole analysis on a small synthetic frame ----------------------------------------------------


def _synthetic_spells(n: int = 3000, seed: int = 11, effect: float = 1.0) -> pd.DataFrame:
    """Spells with coordination depending on a confounder that also drives return to work."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["woman", "man"], n)
    severe = rng.random(n) < 0.4
    coord_rate = np.where(severe, 0.02, 0.005)
    t_c = np.floor(rng.exponential(1 / coord_rate))
    rtw_rate = np.where(severe, 1 / 120, 1 / 50)
    t_r = rng.exponential(1 / rtw_rate)
    after = t_r > t_c
    t_r = np.where(after, t_c + (t_r - t_c) / effect, t_r)
    followup = np.ceil(np.minimum(t_r, 500)).astype(int) + 1
    end = np.where(t_r < 500, "return_to_work", "censored")
    comp = rng.random(n) < 0.05
    end = np.where(comp, "death", end)
    t_c = np.where(t_c < followup, t_c, np.nan)
    return pd.DataFrame({
        "spell_id": np.arange(n), "person_id": np.arange(n) // 2 * 2, "followup_days": followup,
        "days_to_first_gc001": t_c, "end_reason": pd.Categorical(end), "sex": sex,
        "age_group": np.where(severe, "50-59", "30-39"), "diagnosis_chapter_group": rng.choice(["psychiatric", "other"], n),
    })


def _spec(**kw) -> AnalysisSpec:
    params = TimingStrategyParameters(entry_day=14, confounders=("sex", "age_group"), bootstrap_replicates=kw.pop("b", 20),
                                      **kw)
    return AnalysisSpec("timing_strategies", "coordination_timing_strategies", "test", params)


def test_runs_on_a_small_frame_with_the_documented_rows_and_tables():
    result = coordination_timing_strategies(_spec(), _synthetic_spells())
    s = result.summary
    assert set(s["measure"]) == {"strategy_risk", "strategy_contrast"}
    risk = s[s["measure"] == "strategy_risk"]
    assert set(risk["term"]) == {"by_day_30", "by_day_60", "by_day_90", "none_within_90"}
    assert set(s.loc[s["measure"] == "strategy_contrast", "term"]) == {
        "by_day_30_vs_none_within_90", "by_day_60_vs_none_within_90", "by_day_90_vs_none_within_90",
        "by_day_30_vs_by_day_90"}
    assert set(s["sex"]) == {"all", "woman", "man"}
    assert {"psychiatric", "other"} <= set(s.loc[s["subgroup"] == "diagnosis_chapter_group", "level"])
    for column in ("sex", "measure", "n_spells", "arm", "comparator", "horizon"):
        assert column in s.columns
    assert (risk["estimate"].between(0, 1)).all()
    assert s["std_error"].notna().all()
    flags = json.loads(s["diagnostics"].iloc[0])
    assert {"passes", "max_abs_smd", "support_share", "events_pass"} <= set(flags)
    curves = result.tables["cif_curves"]
    assert list(curves.columns) == ["analysis_id", "arm", "sex", "subgroup", "level", "time", "cif", "conf_low",
                                    "conf_high", "n_at_risk", "n_events"]
    assert (curves.groupby(["arm", "sex", "subgroup", "level"])["cif"].apply(lambda c: c.is_monotonic_increasing)).all()
    balance = result.tables["balance"]
    assert {"analysis_id", "sex", "subgroup", "level", "arm", "covariate", "smd_before", "smd_after"} <= set(balance)
    # the weights restore the followed population's mix of the confounder that drives coordination
    b = balance[(balance["sex"] == "all") & (balance["subgroup"] == "all") & (balance["arm"] == "by_day_60")]
    assert b["smd_before"].abs().max() > 0.2 and b["smd_after"].abs().max() < 0.05
    assert "passed" in result.diagnostics["populations"]["all/all=all"]


def test_no_effect_and_no_confounding_gives_equal_arms_and_with_confounding_the_weights_remove_the_bias():
    # coordination has no effect: every strategy has the same incidence, though coordination is confounded
    result = coordination_timing_strategies(_spec(b=0, by_sex=False, by_chapter_group=False),
                                            _synthetic_spells(n=20000, seed=2, effect=1.0))
    s = result.summary
    rd = s[(s["estimand"] == "risk_difference") & (s["sex"] == "all")]
    assert rd["estimate"].abs().max() < 0.03
    # the unweighted per-protocol comparison is biased (the coordinated are the severe, slower ones)
    spells = _synthetic_spells(n=20000, seed=2, effect=1.0)
    el = spells[eligible_mask(spells, 14)]
    coordinated = el["days_to_first_gc001"] < 60
    rtw = (el["end_reason"] == "return_to_work") & (el["followup_days"] <= 180)
    assert rtw[coordinated].mean() - rtw[~coordinated].mean() < -0.05


def test_a_planted_benefit_of_coordination_shows_in_every_by_day_arm():
    result = coordination_timing_strategies(_spec(b=0, by_sex=False, by_chapter_group=False),
                                            _synthetic_spells(n=20000, seed=4, effect=3.0))
    s = result.summary
    rd = s[(s["estimand"] == "risk_difference") & (s["term"].str.endswith("none_within_90")) & (s["horizon"] == 180)]
    assert len(rd) == 3 and (rd["estimate"] > 0.02).all()  # by day 365 nearly every spell has ended


# --- the planted truth -------------------------------------------------------------------------------


def _tiny_linked(n_spells: int = 3):
    from pipeline.commands.recovery import Linked
    from pipeline.synth.model import SynthParameters

    params = SynthParameters()
    spells = pd.DataFrame({
        "spell_id": np.arange(n_spells), "eta": np.linspace(-0.3, 0.3, n_spells), "diagnosis_group": 0,
        "age_group": 1, "is_born_in_sweden": True, "home_region": 0, "care_level": 0, "chapter_group": 0,
        "start_day": 18000, "birth_year": 1980,
    })
    return Linked(spells, params, np.zeros(21), np.zeros(21))


def _brute_force(linked, params, horizon: int, n_copies: int, seed: int) -> dict[str, float]:
    """The strategies' incidence by simulating the natural course many times and conditioning by selection."""
    from pipeline.synth import model as M
    from pipeline.synth.dates import july_first

    P = linked.params
    rng = np.random.default_rng(seed)
    sp = linked.spells.loc[np.repeat(np.arange(len(linked.spells)), n_copies)].reset_index(drop=True)
    n = len(sp)
    g, a = sp["diagnosis_group"].to_numpy(), sp["age_group"].to_numpy()
    eta = sp["eta"].to_numpy()  # every latent recovery is recorded (relapse rule 'continue', issue 14)
    entry = float(params.entry_day)

    def natural(tc_entry):
        mult = np.exp(M.coordination_log_multiplier(P, u_region=np.zeros(n), care_level=np.zeros(n, int),
                                                    chapter_group=np.zeros(n, int), eta=sp["eta"].to_numpy()))
        t_c = np.floor(M.draw_piecewise_times(rng.exponential(size=n), P.coordination_band_starts,
                                              P.coordination_band_rates, mult, tc_entry))
        t_r = M.draw_recovery_times(rng.exponential(size=n), eta=eta, scale=P.scales()[g], shape=P.weibull_shape,
                                    gamma=P.gammas_by_group()[g], t_c=t_c, entry=entry)
        comp = [np.ceil(M.draw_piecewise_times(rng.exponential(size=n), (0,), (P.death_rate,),
                                               np.exp(M.death_log_multiplier(P, age_group=a, diagnosis_group=g)), entry)),
                np.ceil(M.draw_piecewise_times(rng.exponential(size=n), (0,), (P.emigration_rate,), np.ones(n), entry)),
                np.ceil(M.draw_piecewise_times(rng.exponential(size=n), P.sa_band_starts, P.sa_band_rates,
                                               np.exp(M.sa_log_multiplier(P, age_group=a, eta=sp["eta"].to_numpy())),
                                               entry)),
                np.full(n, float(july_first(2045) - 18000 + 1))]
        competing = np.minimum.reduce([np.minimum(c, 1e9) for c in comp])
        recovered = np.ceil(t_r) < competing
        return t_c, np.where(recovered, np.ceil(t_r), competing), recovered

    out = {}
    t_c, exit_, rec = natural(entry)
    spell = np.repeat(np.arange(len(linked.spells)), n_copies)
    for x in params.strategy_days:
        before = (rec & (exit_ <= x)).reshape(-1, n_copies).mean(axis=1)
        alive = (exit_ > x).reshape(-1, n_copies).mean(axis=1)
        chosen = (exit_ > x) & (t_c < x)
        after = pd.Series((rec & (exit_ <= horizon))[chosen]).groupby(spell[chosen]).mean().to_numpy()
        out[f"by_day_{x}"] = float((before + alive * after).mean())
    _, exit_n, rec_n = natural(float(params.none_within_days))
    out[f"none_within_{params.none_within_days}"] = float((rec_n & (exit_n <= horizon)).mean())
    return out


def test_strategy_truth_agrees_with_a_brute_force_simulation_of_the_planted_model():
    from pipeline.commands.recovery_strategies import strategy_truth

    linked = _tiny_linked()
    params = TimingStrategyParameters(entry_day=14)
    truth = strategy_truth(pd.DataFrame({"spell_id": np.repeat(np.arange(3), 20000)}), linked, params, (180,),
                           draws=2)
    brute = _brute_force(linked, params, 180, 200_000, seed=9)
    for arm, value in brute.items():
        t = truth["risk"][arm][180]
        # brute force: selection of the coordinated among 200 000 copies (a few thousand chosen per spell)
        assert abs(t["cif"] - value) < 4 * t["mc_se"] + 0.006, (arm, t, value)
    rd = truth["difference"]["by_day_30_vs_none_within_90"][180]
    assert abs(rd["difference"] - (truth["risk"]["by_day_30"][180]["cif"] - truth["risk"]["none_within_90"][180]["cif"])) < 1e-12
    assert rd["difference"] > 0  # the generator plants a benefit of coordination
