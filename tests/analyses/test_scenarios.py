"""The g-formula scenarios (issue 15, `scenarios`): the chain by hand, the person-time rows, recovery of a known effect."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from analyses.designs import scenarios as S
from analyses.diagnostic_keys import undeclared
from analyses.designs.specs import AnalysisSpec, ScenarioParameters, specs_from_table
from analyses.estimators.gformula import (
    DayProbabilities,
    SpellRowsDesign,
    daily_chain,
    fit_poisson_rows,
    scaled_probability,
    segment_chain,
)
from koord.errors import StudyDefinitionError

REGIONS = ("01", "03", "04", "05", "06", "07", "08", "09")
REGION_UPTAKE = np.array([0.004, 0.006, 0.008, 0.010, 0.012, 0.014, 0.016, 0.020])  # daily chance of a first GC001


def test_the_chain_equals_a_computation_by_hand():
    # one spell, untreated at start; two days with constant probabilities
    p = DayProbabilities(start=np.array([0.1]), outcome_untreated=np.array([0.2]), competing_untreated=np.array([0.1]),
                         outcome_treated=np.array([0.4]), competing_treated=np.array([0.0]))
    out = daily_chain(0, (1, 2), np.array([0.0]), lambda day: p)
    # day 0: 0.1 start; outcome 0.9*0.2 + 0.1*0.4 = 0.22; left untreated 0.9*0.7 = 0.63, treated 0.1*0.6 = 0.06
    # day 1: 0.063 start; outcome 0.567*0.2 + 0.123*0.4 = 0.1626
    assert out.outcome[0].tolist() == pytest.approx([0.22, 0.3826])
    assert out.treated[0].tolist() == pytest.approx([0.1, 0.163])
    # treated at the start: only the treated probabilities act
    treated = daily_chain(0, (2,), np.array([1.0]), lambda day: p)
    assert treated.outcome[0, 0] == pytest.approx(0.4 + 0.6 * 0.4)


def test_scaled_probability_multiplies_the_hazard():
    assert scaled_probability(np.array([0.2]), 2.0)[0] == pytest.approx(1 - 0.8 ** 2)
    assert scaled_probability(np.array([0.2]), 0.0)[0] == 0.0


def test_natural_course_equals_the_chain_run_by_hand_on_fitted_hazards():
    """With hand-made hazards (two spells, one band each), the design's chain gives the hand computation."""
    hz = S.Hazards(coordination=np.array([[0.0], [0.5]]),
                   rtw=np.array([[[0.1], [0.1]], [[0.3], [0.3]]]), competing=np.zeros((2, 2, 1)))
    p = ScenarioParameters(entry_day=0, horizons=(2,), uptake_window_days=2, earlier_by_day=1, earlier_window_days=2)
    band = np.zeros(3, np.int64)
    ones = lambda day: np.ones((3, 2))  # noqa: E731 - no intervention in any of the three slots
    chain = S.run_chain(p, hz, ones, np.zeros(2), band, band, (2,))
    # spell 0 never coordinated: 1 - 0.9^2; spell 1: day 0 half start (0.5*0.3 + 0.5*0.1), then
    # untreated 0.45 of which half start on day 1 (0.225*0.3 + 0.225*0.1) and treated 0.35 (0.35*0.3)
    by_hand = [1 - 0.9 ** 2, 0.5 * 0.3 + 0.5 * 0.1 + 0.225 * 0.3 + 0.225 * 0.1 + 0.35 * 0.3]
    assert chain.outcome[0, :, 0].tolist() == pytest.approx(by_hand)


def test_person_time_rows_count_days_and_put_the_event_in_its_state():
    edges = S.band_edges(14, (21, 30), 40)
    assert edges.tolist() == [14, 21, 30, 40]
    followup = np.array([25, 35, 50])
    t_c = np.array([np.inf, 20.0, 10.0])  # never; on day index 20; before entry
    cause = np.array([1, 1, 2])
    rows = S.exit_rows(followup, t_c, cause, 1, 14, edges)
    frame = pd.DataFrame(rows.__dict__)
    # spell 0: unexposed day indices 14..24 (7 in band 0, 4 in band 1), event on day 24 in band 1, unexposed
    s0 = frame[frame.spell == 0].sort_values("band")
    assert s0.days.tolist() == [7, 4] and s0.events.tolist() == [0, 1] and (s0.exposed == 0).all()
    # spell 1: unexposed 14..19 (6), exposed 20..34: band 0 (1), band 1 (9), band 2 (5); event day 34 exposed
    s1 = frame[frame.spell == 1].sort_values(["exposed", "band"])
    assert s1.days.tolist() == [6, 1, 9, 5] and s1.events.tolist() == [0, 0, 0, 1]
    # spell 2: coordinated before entry, exposed throughout to the end of the model's time (40), no event in it
    s2 = frame[frame.spell == 2]
    assert (s2.exposed == 1).all() and s2.days.sum() == 26 and s2.events.sum() == 0
    coordination = pd.DataFrame(S.coordination_rows(followup, t_c, 14, edges).__dict__)
    # spell 1 at risk 14..20 with its event on day 20 (band 0); spell 2 is not at risk
    assert coordination[coordination.spell == 1].days.sum() == 7 and coordination.events.sum() == 1
    assert 2 not in set(coordination.spell)


def test_poisson_rows_agree_with_rates_of_a_saturated_model():
    x = scipy.sparse.csr_matrix(np.array([[1, 0], [1, 0], [0, 1]], float))
    fit = fit_poisson_rows(x, np.array([2.0, 1.0, 4.0]), np.array([10.0, 20.0, 8.0]), penalised=np.zeros(2, bool))
    assert np.exp(fit.coef).tolist() == pytest.approx([3 / 30, 4 / 8])


def simulated_spells(n: int = 6000, seed: int = 3, hr: float = 1.6) -> tuple[pd.DataFrame, dict]:
    """Spells from a daily process whose hazards are constant on the design's default bands.

    Coordination: a daily chance by home region; return to work: by band and sex, times ``hr``
    from the day of the first GC001 (psychiatric diagnoses; musculoskeletal ``sqrt(hr)``);
    competing events a small constant chance; censoring at a random day.
    """
    rng = np.random.default_rng(seed)
    p = ScenarioParameters(entry_day=14)
    last = 600
    sex = rng.choice(["woman", "man"], n, p=[0.6, 0.4])
    age = rng.choice(["30-39", "50-59"], n)
    diagnosis = rng.choice(["stress", "back_pain"], n, p=[0.5, 0.5])
    chapter = np.where(diagnosis == "stress", "psychiatric", "musculoskeletal")
    region_index = rng.integers(0, len(REGIONS), n)
    edges = S.band_edges(14, p.band_cuts, last)
    base = np.linspace(0.03, 0.006, len(edges) - 1)  # falling return-to-work hazard by band
    band_of_day = np.clip(np.searchsorted(edges, np.arange(last), side="right") - 1, 0, len(edges) - 2)
    sex_effect = np.where(sex == "man", 1.2, 1.0)
    effect = np.where(chapter == "psychiatric", hr, np.sqrt(hr))
    coord = REGION_UPTAKE[region_index] * np.where(diagnosis == "stress", 1.3, 0.8)
    t_c = np.where(rng.random(n) < 0.05, rng.integers(0, 14, n), np.inf).astype(float)
    censor = rng.integers(150, last, n)
    end = np.full(n, -1)
    reason = np.full(n, "censored", dtype=object)
    for day in range(14, last):
        alive = end < 0
        if not alive.any():
            break
        start = alive & ~np.isfinite(t_c) & (rng.random(n) < coord)
        t_c[start] = day
        treated = np.isfinite(t_c) & (t_c <= day)
        rtw = base[band_of_day[day]] * sex_effect * np.where(treated, effect, 1.0)
        u = rng.random(n)
        back = alive & (u < rtw)
        other = alive & ~back & (u < rtw + 0.0008)
        cut = alive & ~back & ~other & (day + 1 >= censor)
        end[back | other | cut] = day + 1
        reason[back] = "return_to_work"
        reason[other] = "death"
    end[end < 0] = last
    t_c[t_c >= end] = np.inf  # a GC001 only within follow-up
    frame = pd.DataFrame({
        "spell_id": np.arange(n), "person_id": np.arange(n) // 2,  # two spells a person: the bootstrap draws persons
        "followup_days": end, "days_to_first_gc001": np.where(np.isfinite(t_c), t_c, np.nan),
        "end_reason": reason, "sex": sex, "age_group": age, "diagnosis_group": diagnosis,
        "diagnosis_chapter_group": chapter, "home_region_code": np.array(REGIONS)[region_index]})
    truth = {"coord": coord, "rtw_base": base, "sex_effect": sex_effect, "effect": effect, "region_index": region_index}
    return frame, truth


def _spec(**kw) -> AnalysisSpec:
    table = {"run": ["scenarios"], "scenarios": {"confounders": ["sex", "age_group", "diagnosis_group", "home_region_code"],
                                                 "bootstrap_replicates": 20, "entry_day": 14, **kw}}
    return specs_from_table(table)[0]


def _true_differences(frame: pd.DataFrame, truth: dict, p: ScenarioParameters, uptake_target: float | None = None) -> dict:
    """The scenarios' true differences: the design's own chain run on the planted hazards (the uptake
    scenario at the analysis' own target, as `koord check-truth` computes it)."""
    prep = S.prepare(p, frame)
    n = len(prep.cohort)
    position = pd.Index(frame["spell_id"]).get_indexer(prep.cohort["spell_id"])
    n_cb = len(prep.c_edges) - 1
    coordination = np.repeat(truth["coord"][position][:, None], n_cb, axis=1)
    unexposed = truth["rtw_base"][None, :] * truth["sex_effect"][position][:, None]
    rtw = np.stack([unexposed, unexposed * truth["effect"][position][:, None]])
    hz = S.Hazards(coordination, rtw, np.full(rtw.shape, 0.0008))
    freq = np.ones(n)
    multipliers, _ = S.scenario_multipliers(p, hz, freq, prep.region, len(prep.regions), prep.coordinated_at_entry,
                                            prep.c_band, prep.r_band, prep.c_edges, prep.r_edges, uptake_target)
    chain = S.run_chain(p, hz, multipliers, prep.coordinated_at_entry, prep.c_band, prep.r_band, prep.report_days)
    mean = chain.outcome.mean(axis=1)
    return {(name, day): float(mean[s, j] - mean[0, j]) for s, name in enumerate(S.SCENARIOS)
            for j, day in enumerate(prep.report_days)}


@pytest.fixture(scope="module")
def simulated():
    frame, truth = simulated_spells()
    spec = _spec()
    return frame, truth, spec, S.scenarios(spec, frame)


def test_result_has_one_row_per_scenario_population_and_horizon(simulated):
    _, _, spec, result = simulated
    s = result.summary
    assert set(s["sex"]) == {"all", "woman", "man"}
    per_population = s[s["sex"] == "all"]
    assert len(per_population[per_population["estimand"] == "cumulative_incidence"]) == 3 * 3  # scenarios x horizons
    assert set(per_population.loc[per_population["estimand"] == "risk_difference", "term"]) == {"uptake", "earlier"}
    assert len(per_population[per_population["estimand"] == "risk_difference"]) == 2 * 3
    assert len(per_population[per_population["estimand"] == "observed_cumulative_incidence"]) == 3
    assert len(per_population[per_population["estimand"] == "coordination_uptake"]) == 3
    assert s["std_error"].gt(0).all() and (s["conf_low"] <= s["estimate"]).all() and (s["estimate"] <= s["conf_high"]).all()
    region_table = result.tables["region_factors"]
    assert len(region_table) == len(REGIONS) and (region_table["hazard_factor"] >= 1).all()
    assert json.loads(s["diagnostics"].iloc[0])  # per-row diagnostics as JSON
    # every diagnostics key is declared, so the report can publish them
    assert not undeclared(result.diagnostics)
    assert not any(undeclared(json.loads(d)) for d in s["diagnostics"])


def test_natural_course_reproduces_the_observed_share_and_says_so(simulated):
    _, _, _, result = simulated
    s = result.summary
    for sex in ("all", "woman", "man"):
        for h in (90, 180, 365):
            observed = s[(s.sex == sex) & (s.estimand == "observed_cumulative_incidence") & (s.horizon == h)].estimate.iloc[0]
            natural = s[(s.sex == sex) & (s.term == "natural_course") & (s.estimand == "cumulative_incidence")
                        & (s.horizon == h)].estimate.iloc[0]
            assert abs(natural - observed) < 0.01, (sex, h)
    assert all(v["natural_course_pass"] for v in result.diagnostics["populations"].values())


def test_scenario_effects_recover_the_planted_effect(simulated):
    frame, truth, spec, result = simulated
    true = _true_differences(frame, truth, spec.parameters, result.diagnostics["uptake_target"])
    s = result.summary
    for term in ("uptake", "earlier"):
        for h in (90, 180):
            r = s[(s.sex == "all") & (s.estimand == "risk_difference") & (s.term == term) & (s.horizon == h)].iloc[0]
            assert true[(term, h)] > 0.002  # a planted, visible effect
            assert abs(r.estimate - true[(term, h)]) <= 3.5 * r.std_error, (term, h, r.estimate, true[(term, h)])
            assert r.conf_low > 0


def test_the_bootstrap_keeps_the_uptake_target_of_the_point_estimate(monkeypatch):
    """The target U (the 75th percentile of the regions' uptakes) is set once by the point estimate and is part
    of the estimand ("every region reaches at least U"): each replicate redoes the regions' uptakes and factors
    against the same U instead of an order statistic of its own, whose spread the bootstrap does not carry."""
    frame, _ = simulated_spells(n=3000, seed=8)
    calls = []
    original = S.region_factors

    def spy(*args, **kwargs):
        factors, target, reached = original(*args, **kwargs)
        calls.append((target, factors))
        return factors, target, reached

    monkeypatch.setattr(S, "region_factors", spy)
    result = S.scenarios(_spec(bootstrap_replicates=4), frame)
    assert len(calls) == 1 + 4
    point_target = result.diagnostics["uptake_target"]
    assert calls[0][0] == point_target
    assert [c[0] for c in calls[1:]] == [point_target] * 4
    # the regions' factors are refitted in every replicate, only the target is kept
    assert any(not np.allclose(c[1], calls[0][1]) for c in calls[1:])
    assert (result.tables["region_factors"]["uptake_target"] == point_target).all()


def test_no_effect_of_coordination_gives_no_scenario_effect():
    frame, _ = simulated_spells(n=4000, seed=5, hr=1.0)
    result = S.scenarios(_spec(bootstrap_replicates=10), frame)
    s = result.summary
    diffs = s[(s.sex == "all") & (s.estimand == "risk_difference") & (s.horizon == 180)]
    assert (diffs["estimate"].abs() <= 3.5 * diffs["std_error"] + 1e-4).all()


def test_parameters_are_validated():
    with pytest.raises(StudyDefinitionError, match="earlier_by_day"):
        specs_from_table({"run": ["scenarios"], "scenarios": {"earlier_by_day": 90, "earlier_window_days": 60}})
    with pytest.raises(StudyDefinitionError, match="horizons: must be increasing"):
        specs_from_table({"run": ["scenarios"], "scenarios": {"horizons": [180, 90]}})
    assert specs_from_table({"run": ["scenarios"], "bootstrap_replicates": 7})[0].parameters.bootstrap_replicates == 7


def test_spell_rows_design_equals_the_row_matrix():
    rng = np.random.default_rng(1)
    n_spells, n_rows = 40, 120
    spell = rng.integers(0, n_spells, n_rows)
    band = rng.integers(0, 4, n_rows)
    level = np.where(rng.random(n_rows) < 0.4, rng.integers(0, 3, n_rows), -1)
    z = scipy.sparse.csr_matrix((rng.random((n_spells, 5)) < 0.3).astype(float))
    design = SpellRowsDesign(spell, band, 4, z, level, 3)
    on = level >= 0
    explicit = scipy.sparse.hstack([
        scipy.sparse.csr_matrix((np.ones(n_rows), (np.arange(n_rows), band)), shape=(n_rows, 4)), z[spell],
        scipy.sparse.csr_matrix((np.ones(on.sum()), (np.flatnonzero(on), level[on])), shape=(n_rows, 3))]).toarray()
    beta, mu = rng.normal(size=12), rng.random(n_rows)
    assert np.allclose(design @ beta, explicit @ beta)
    assert np.allclose(design.score(mu), explicit.T @ mu)
    assert np.allclose(design.information(mu), explicit.T @ (explicit * mu[:, None]))
    events, days = rng.poisson(1.0, n_rows).astype(float), rng.integers(1, 30, n_rows).astype(float)
    a = fit_poisson_rows(design, events, days, penalised=np.arange(12) >= 4, ridge=0.5)
    b = fit_poisson_rows(scipy.sparse.csr_matrix(explicit), events, days, penalised=np.arange(12) >= 4, ridge=0.5)
    assert np.allclose(a.coef, b.coef)



@pytest.mark.parametrize("equal_survival", [False, True])
def test_the_chain_by_segments_equals_the_chain_day_by_day(equal_survival):
    rng = np.random.default_rng(4)
    n = 60
    bands = {}
    for day in (5, 12, 30):
        r0, k0 = rng.random(n) * 0.05, rng.random(n) * 0.01
        r1, k1 = (r0, k0) if equal_survival else (rng.random(n) * 0.08, rng.random(n) * 0.01)
        start = rng.random((2, n)) * 0.05 * (day != 12)  # no treatment starts in one segment
        bands[day] = DayProbabilities(start=start, outcome_untreated=r0, competing_untreated=k0,
                                      outcome_treated=r1, competing_treated=k1)

    def probabilities(day: int) -> DayProbabilities:
        return bands[max(d for d in bands if d <= day)]

    treated = (rng.random(n) < 0.2).astype(float)
    daily = daily_chain(5, (5, 20, 40), treated, probabilities, shape=(2, n))
    segments = segment_chain(5, (5, 20, 40), treated, probabilities, (12, 30), shape=(2, n))
    assert np.allclose(daily.outcome, segments.outcome, atol=1e-12)
    assert np.allclose(daily.treated, segments.treated, atol=1e-12)
