"""The scenarios' planted truth (issue 15): the day-by-day chain against the generator's own draws."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.synth import model as M
from pipeline.synth.dates import july_first
from pipeline.synth.scenario_truth import ScenarioRules, latent_cohort, scenario_truth
from pipeline.synth.simulate import simulate
from pipeline.synth.truth import spell_outcomes

DRAWS = 12


def _monte_carlo(gt, cohort, rules: ScenarioRules, region_factor: np.ndarray, rng) -> dict[str, float]:
    """Share back at work by the main horizon per scenario, drawn with the generator's inversion functions.

    A changed coordination hazard is drawn piece by piece: the first GC001 with the scenario's
    factor from entry; if it falls after the piece's end, a fresh draw from there with the next
    factor (the hazard is memoryless between pieces).
    """
    P, c = gt.params, cohort
    n, entry = len(c.eta), float(rules.entry_day)
    group, age_g, eta, home = (c.diagnosis_group.astype(int), c.age_group.astype(int), c.eta.astype(float),
                               c.home_region.astype(int))
    mult = np.exp(M.coordination_log_multiplier(P, u_region=gt.region_u[home], care_level=c.care_level.astype(int),
                                                chapter_group=c.chapter_group.astype(int), eta=eta))
    bands, rates = P.coordination_band_starts, P.coordination_band_rates
    window, by, until = float(rules.uptake_window_days), float(rules.earlier_by_day), float(rules.earlier_window_days)
    h = lambda t: M.piecewise_cumhaz(t, bands, rates, mult)  # noqa: E731
    earlier = np.where(h(by) - h(entry) > 0, (h(until) - h(entry)) / np.maximum(h(by) - h(entry), 1e-300), 1.0)
    horizon = 180

    def draw(factor: np.ndarray, piece_end: float, restart: float) -> np.ndarray:
        first = M.draw_piecewise_times(rng.exponential(size=n), bands, rates, mult * factor, np.full(n, entry))
        later = M.draw_piecewise_times(rng.exponential(size=n), bands, rates, mult, np.full(n, restart))
        return np.where(first < piece_end, first, later)

    shares = {"natural_course": [], "uptake": [], "earlier": []}
    for _ in range(DRAWS):
        e_r = rng.exponential(size=n)
        t_d = M.draw_piecewise_times(rng.exponential(size=n), (0,), (P.death_rate,),
                                     np.exp(M.death_log_multiplier(P, age_group=age_g, diagnosis_group=group)), entry)
        t_e = M.draw_piecewise_times(rng.exponential(size=n), (0,), (P.emigration_rate,),
                                     np.exp(np.where(c.is_born_in_sweden, 0.0, P.emigration_foreign_born_effect)), entry)
        t_s = M.draw_piecewise_times(rng.exponential(size=n), P.sa_band_starts, P.sa_band_rates,
                                     np.exp(M.sa_log_multiplier(P, age_group=age_g, eta=eta)), entry)
        a65 = (july_first(c.birth_year.astype(int) + 65) - c.start_day.astype(int) + 1).astype(float)
        competing = np.minimum.reduce([np.ceil(np.minimum(t, 1e9)) for t in (t_d, t_e, t_s)] + [a65])
        e_c = rng.exponential(size=n)
        natural = M.draw_piecewise_times(e_c, bands, rates, mult, np.full(n, entry))
        courses = {"natural_course": natural, "uptake": draw(region_factor[home], window, window),
                   "earlier": draw(earlier, by, until)}
        for name, t_c in courses.items():
            t_c = np.where(c.coordinated_at_entry, 0.0, np.floor(t_c))
            t_r = M.draw_recovery_times(e_r, eta=eta + gt.region_v[home],
                                        scale=P.scales()[group], shape=P.weibull_shape, gamma=P.gammas_by_group()[group],
                                        t_c=t_c, entry=np.full(n, entry))
            back = (np.ceil(t_r) < competing) & (np.ceil(t_r) <= horizon)
            shares[name].append(back.mean())
    return {k: float(np.mean(v)) for k, v in shares.items()}


def test_the_chain_agrees_with_draws_from_the_generator():
    gt = simulate(4000, seed=3)
    rules = ScenarioRules()
    cohort = latent_cohort(gt, spell_outcomes(gt), rules.entry_day)
    truth = scenario_truth(gt.params, cohort, gt.region_u, gt.region_v, rules)
    assert 0 < truth["uptake_target"] < 1 and min(truth["region_factor"].values()) >= 1.0
    factor = np.ones(len(gt.region_u))
    for code, f in truth["region_factor"].items():
        factor[int(code)] = f
    drawn = _monte_carlo(gt, cohort, rules, factor, np.random.default_rng(7))
    everyone = truth["populations"]["all"]
    se = np.sqrt(0.25 / (len(cohort.eta) * DRAWS))
    for name in ("natural_course", "uptake", "earlier"):
        assert everyone["cumulative_incidence"][name][180] == pytest.approx(drawn[name], abs=4 * se), name
    # the planted effect of coordination: both interventions raise the share back at work
    assert everyone["risk_difference"]["uptake"][180]["difference"] > 0
    assert everyone["risk_difference"]["earlier"][180]["difference"] > 0


def test_a_given_uptake_target_is_the_truths_target():
    """`koord check-truth` passes the analysis' own target U (part of its estimand): the truth lifts the regions
    below U to U, not to the quantile of the true uptakes."""
    gt = simulate(3000, seed=4)
    cohort = latent_cohort(gt, spell_outcomes(gt), 14)
    default = scenario_truth(gt.params, cohort, gt.region_u, gt.region_v, ScenarioRules())
    lower = 0.9 * default["uptake_target"]
    given = scenario_truth(gt.params, cohort, gt.region_u, gt.region_v, ScenarioRules(uptake_target=lower))
    assert given["uptake_target"] == lower
    assert given["rules"]["uptake_target"] == lower
    lifted = {c for c, f in given["region_factor"].items() if f > 1}
    assert lifted < {c for c, f in default["region_factor"].items() if f > 1}  # fewer regions below a lower target
    assert all(given["region_factor"][c] <= default["region_factor"][c] for c in given["region_factor"])
    everyone = lambda t: t["populations"]["all"]["risk_difference"]["uptake"][180]["difference"]  # noqa: E731
    assert 0 < everyone(given) < everyone(default)
    # the other scenarios do not depend on the target
    assert given["populations"]["all"]["risk_difference"]["earlier"] == default["populations"]["all"]["risk_difference"]["earlier"]
