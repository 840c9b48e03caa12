"""The planted-truth check: trial entry sampler, pooled pseudo-truth, rules (they can fail), refusals."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analyses.designs._models import EXPOSURE, fit_exposure_poisson, split_exposure
from analyses.designs.specs import AnalysisSpec, TargetTrialParameters, TimeVaryingPoissonParameters
from analyses.designs.trial_emulation import expand_trials, trial_days
from pipeline.commands.recovery import (
    CATALOGUE,
    REQUIRED_RESULTS,
    TruthCheckRefused,
    check_recovery,
    check_truth_file,
    hazard_ratio_checks,
    linked_ground_truth,
    naive_checks,
    pooled_model_parameters,
    pooled_pseudo_truth,
    risk_difference_checks,
    sample_trial_entries,
    z_for,
)
from pipeline.synth.simulate import simulate

PARAMS = TargetTrialParameters(entry_day=14, first_trial_day=14, controls_per_treated=0.0)
SKIPPED_DAY = 50  # no spell starts coordination that day: the trial has no treated arm


def toy_spells(n: int, seed: int) -> pd.DataFrame:
    """Spells with follow-up and first GC001 days around the trial window (days 14-104)."""
    rng = np.random.default_rng(seed)
    followup = rng.integers(15, 400, n)
    t_c = np.where(rng.random(n) < 0.4, rng.integers(0, 130, n), np.nan)
    t_c = np.where(t_c == SKIPPED_DAY, SKIPPED_DAY + 1, t_c)
    return pd.DataFrame({
        "spell_id": np.arange(1, n + 1) * 7, "person_id": np.arange(n) // 2, "followup_days": followup,
        "days_to_first_gc001": t_c, "end_reason": np.where(rng.random(n) < 0.8, "return_to_work", "censored"),
        "sex": rng.choice(["woman", "man"], n), "diagnosis_chapter_group": rng.choice(["psychiatric", "other"], n),
    })


def pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["spell_id"].astype(int), frame["trial_day"].astype(int)))


def test_sampler_keeps_every_eligible_entry_of_expand_trials_under_the_cap():
    spells = toy_spells(600, seed=1)
    sample = sample_trial_entries(spells, PARAMS, max_entries=10**9, rng=np.random.default_rng(0))
    expanded = expand_trials(spells, PARAMS, ("sex", "diagnosis_chapter_group"), np.random.default_rng(0)).entries
    assert sample.keep_probability == 1.0
    assert len(sample.entries) == sample.n_eligible == len(expanded)
    assert pairs(sample.entries) == pairs(expanded)
    assert SKIPPED_DAY in trial_days(PARAMS) and SKIPPED_DAY not in set(sample.entries["trial_day"])
    merged = sample.entries.merge(spells[["spell_id", "sex", "diagnosis_chapter_group"]], on="spell_id",
                                  suffixes=("", "_spell"))
    assert (merged["sex"] == merged["sex_spell"]).all()
    assert (merged["diagnosis_chapter_group"] == merged["diagnosis_chapter_group_spell"]).all()


def test_sampler_is_uniform_over_the_eligible_entries():
    spells = toy_spells(4000, seed=2)
    everything = sample_trial_entries(spells, PARAMS, max_entries=10**9)
    cap = everything.n_eligible // 4
    sample = sample_trial_entries(spells, PARAMS, max_entries=cap, rng=np.random.default_rng(3))
    p = sample.keep_probability
    assert p == pytest.approx(cap / everything.n_eligible) and sample.n_eligible == everything.n_eligible
    assert pairs(sample.entries) <= pairs(everything.entries)
    n = everything.n_eligible
    assert abs(len(sample.entries) - n * p) < 4 * np.sqrt(n * p * (1 - p))
    # the same share of every trial day's entries and of short and long spells' entries is kept
    for column, values in (("trial_day", None), ("followup_days", [0, 60, 150, 400])):
        def strata(frame):
            x = frame.merge(spells[["spell_id", "followup_days"]], on="spell_id")[column]
            return (pd.cut(x, values) if values else x).value_counts().sort_index()
        eligible, kept = strata(everything.entries), strata(sample.entries).reindex(strata(everything.entries).index,
                                                                                      fill_value=0)
        chi2 = (((kept - eligible * p) ** 2) / (eligible * p * (1 - p))).sum()
        assert stats.chi2.sf(chi2, len(eligible)) > 1e-3, (column, kept.head(), eligible.head())
    other = sample_trial_entries(spells, PARAMS, max_entries=cap, rng=np.random.default_rng(4))
    assert pairs(other.entries) != pairs(sample.entries)  # a random sample, not the first entries


def hr_table(estimate_by_level: dict[str, float], se: float = 0.02) -> pd.DataFrame:
    rows = []
    for sex in ("all", "woman", "man"):
        rows.append({"sex": sex, "subgroup": "all" if sex == "all" else "sex", "level": sex, "term": "is_coordinated",
                     "estimate": estimate_by_level["main"], "std_error": se,
                     "conf_low": estimate_by_level["main"] * np.exp(-1.96 * se),
                     "conf_high": estimate_by_level["main"] * np.exp(1.96 * se)})
        for level in ("psychiatric", "musculoskeletal", "other", "unknown"):
            est = estimate_by_level.get(level, 1.1)
            rows.append({"sex": sex, "subgroup": "diagnosis_chapter_group", "level": level, "term": "is_coordinated",
                         "estimate": est, "std_error": se, "conf_low": est * np.exp(-1.96 * se),
                         "conf_high": est * np.exp(1.96 * se)})
    return pd.DataFrame(rows)


PLANTED = {"psychiatric": 1.4, "musculoskeletal": 1.2, "other": 1.1, "unknown": 1.1}
POOLED = {"all": 1.25, "woman": 1.26, "man": 1.235}


def test_hazard_ratio_checks_pass_at_the_truth_and_fail_away_from_it():
    good = pd.DataFrame(hazard_ratio_checks(hr_table({"main": 1.25, **PLANTED}), "tv_cox", PLANTED, POOLED))
    assert len(good) == 6 and good["passed"].all()
    main = good[good["check"] == "covers_pooled_planted_hr"]
    assert dict(zip(main["sex"], main["truth"])) == POOLED
    biased = pd.DataFrame(hazard_ratio_checks(hr_table({"main": 1.0, **PLANTED, "psychiatric": 1.2}), "tv_cox", PLANTED,
                                              POOLED))
    failed = biased.loc[~biased["passed"]]
    assert set(zip(failed["check"], failed["level"])) == {
        ("covers_planted_hr", "psychiatric"), ("covers_pooled_planted_hr", "all"),
        ("covers_pooled_planted_hr", "woman"), ("covers_pooled_planted_hr", "man")}
    # the chapter interval is Bonferroni-widened for the 6 checks of two models × three groups
    r = good.iloc[0]
    assert np.log(r["conf_high"] / r["estimate"]) == pytest.approx(z_for(6) * 0.02)
    with pytest.raises(TruthCheckRefused, match="no pooled pseudo-truth for the population man"):
        hazard_ratio_checks(hr_table({"main": 1.25, **PLANTED}), "tv_cox", PLANTED, {"all": 1.25, "woman": 1.26})


# --- the pooled model's pseudo-truth on person-time simulated from a Poisson model -----------------

TOY_CHAPTER = {"F43": "psychiatric", "F32": "psychiatric", "M54": "musculoskeletal", "J06": "other"}
TOY_BANDS = ((14, "(14,31]", -3.0), (31, "(31,61]", -3.4), (61, "(61,)", -4.2))  # band start, label, log rate
TOY_LOG_RATE = {"woman": 0.0, "man": 0.15, "16-29": 0.2, "40-49": 0.0, "60-64": -0.4,
                "F43": -0.5, "F32": -0.3, "M54": 0.0, "J06": 0.4}
TOY_PARAMS = TimeVaryingPoissonParameters(confounders=("sex", "age_group", "diagnosis_group"), entry_day=14,
                                          band_cuts=(31, 61))


def toy_cells(days_scale: float, rng: np.random.Generator | None) -> pd.DataFrame:
    """Person-time cells of a Poisson model with the planted effect per chapter group.

    The coordinated share of person-time differs by chapter group, band and sex, so that the
    pooled effect is a weighted mixture. ``events`` are the expected counts (rng None) or
    Poisson draws from them.
    """
    exposed_share = {"psychiatric": 0.35, "musculoskeletal": 0.15, "other": 0.08}
    rows = []
    for sex, age, diagnosis, (band_start, band, band_log_rate), z in itertools.product(
            ("woman", "man"), ("16-29", "40-49", "60-64"), TOY_CHAPTER, TOY_BANDS, (0.0, 1.0)):
        chapter = TOY_CHAPTER[diagnosis]
        share = exposed_share[chapter] * (1 + band_start / 100) * (1.3 if sex == "woman" else 0.8)
        days = days_scale * (share if z else 1 - share) * (2 if age == "40-49" else 1)
        log_rate = band_log_rate + TOY_LOG_RATE[sex] + TOY_LOG_RATE[age] + TOY_LOG_RATE[diagnosis]
        rows.append({"sex": sex, "age_group": age, "diagnosis_group": diagnosis, "diagnosis_chapter_group": chapter,
                     "band": band, "band_start": band_start, EXPOSURE: z, "days_at_risk": days,
                     "expected": days * np.exp(log_rate + z * np.log(PLANTED[chapter]))})
    cells = pd.DataFrame(rows)
    cells["events"] = cells["expected"] if rng is None else rng.poisson(cells["expected"]).astype(float)
    return cells


def toy_model_spells() -> pd.DataFrame:
    """30 spells of each covariate combination (the level plan of the models), each ending in the event."""
    return pd.DataFrame([{"spell_id": k, "person_id": k, "sex": sex, "age_group": age, "diagnosis_group": diagnosis,
                          "diagnosis_chapter_group": TOY_CHAPTER[diagnosis], "event": 1.0}
                         for k, (sex, age, diagnosis, _) in enumerate(itertools.product(
                             ("woman", "man"), ("16-29", "40-49", "60-64"), TOY_CHAPTER, range(30)))])


def population_fits(cells: pd.DataFrame, spells: pd.DataFrame, sex: str):
    """The pooled fit and the chapter-group fit of `exposure_effects` in one population."""
    if sex != "all":
        cells = cells[cells["sex"] == sex].reset_index(drop=True)
        spells = spells[spells["sex"] == sex].reset_index(drop=True)
    confounders = tuple(c for c in TOY_PARAMS.confounders if not (sex != "all" and c == "sex"))
    exposure = cells[EXPOSURE].to_numpy()
    pooled = fit_exposure_poisson(cells, {EXPOSURE: exposure}, confounders, TOY_PARAMS, "pooled", spells)
    columns, terms, _ = split_exposure(cells, exposure, "diagnosis_chapter_group", cells["events"].to_numpy(), 10)
    by_chapter = fit_exposure_poisson(cells, columns, confounders, TOY_PARAMS, "by_chapter", spells)
    return pooled, by_chapter, terms


def test_pooled_pseudo_truth_is_the_limit_of_the_pooled_fit():
    spells = toy_model_spells()
    noisy = toy_cells(1e6, np.random.default_rng(7))  # about 3.4 million events
    truth = pooled_pseudo_truth(noisy, spells, TOY_PARAMS, PLANTED)
    assert set(truth) == {"all", "woman", "man"}
    # the pooled model fitted to the expected counts themselves (an infinitely large sample)
    expected = toy_cells(1e6, rng=None)
    exact = pooled_pseudo_truth(expected, spells, TOY_PARAMS, PLANTED)
    for sex in ("all", "woman", "man"):
        limit = float(np.exp(population_fits(expected, spells, sex)[0].coef[EXPOSURE]))
        assert exact[sex] == pytest.approx(limit, rel=1e-9)  # the constrained model is exactly right there
        assert truth[sex] == pytest.approx(limit, rel=5e-4)  # from data: the rest of the model is estimated
        assert min(PLANTED.values()) < truth[sex] < max(PLANTED.values())
        # the first-order approximation (inverse-variance weighted geometric mean, weights from the
        # chapter-group fit of the data) lies above it: the pooled score averages the HRs over
        # the exposed events harmonically
        pooled, by_chapter, terms = population_fits(noisy, spells, sex)
        w = 1 / np.diag(by_chapter.vcov.loc[[t.column for t in terms], [t.column for t in terms]].to_numpy())
        approximation = float(np.exp(np.sum(w * np.log([PLANTED[t.level] for t in terms])) / w.sum()))
        assert approximation > truth[sex] * 1.001
        # the estimate on the data covers the pseudo-truth
        se = float(np.sqrt(pooled.vcov.loc[EXPOSURE, EXPOSURE]))
        assert abs(float(pooled.coef[EXPOSURE]) - np.log(truth[sex])) < 1.96 * se
    assert truth["woman"] != pytest.approx(truth["man"], rel=1e-3)  # different mixtures of the chapter groups


def test_pooled_check_fails_when_the_estimate_moves_away_from_the_pseudo_truth():
    truth = pooled_pseudo_truth(toy_cells(1e5, np.random.default_rng(7)), toy_model_spells(), TOY_PARAMS, PLANTED)
    se = 0.002

    def table(log_shift: float) -> pd.DataFrame:
        """Chapter rows at the planted HRs; main rows at the pseudo-truth moved by ``log_shift``, 95 % CI."""
        frame = hr_table({"main": 1.0, **PLANTED}, se=se)
        main = frame["subgroup"].isin(["all", "sex"])
        estimate = frame.loc[main, "sex"].map(truth) * np.exp(log_shift)
        frame.loc[main, "estimate"] = estimate
        frame.loc[main, "conf_low"] = estimate * np.exp(-1.96 * se)
        frame.loc[main, "conf_high"] = estimate * np.exp(1.96 * se)
        return frame

    assert pd.DataFrame(hazard_ratio_checks(table(0.0), "tv_poisson", PLANTED, truth))["passed"].all()
    for log_shift in (2.5 * se, -2.5 * se):
        moved = pd.DataFrame(hazard_ratio_checks(table(log_shift), "tv_poisson", PLANTED, truth))
        assert set(zip(moved.loc[~moved["passed"], "check"], moved.loc[~moved["passed"], "sex"])) == {
            ("covers_pooled_planted_hr", sex) for sex in ("all", "woman", "man")}


def test_pooled_pseudo_truth_needs_a_planted_effect_for_every_chapter_group():
    planted = {c: hr for c, hr in PLANTED.items() if c != "musculoskeletal"}
    with pytest.raises(TruthCheckRefused, match="no coordination effect for the chapter group.*musculoskeletal"):
        pooled_pseudo_truth(toy_cells(1e3, None), toy_model_spells(), TOY_PARAMS, planted)


def test_pooled_model_parameters_come_from_the_catalogue():
    spec = AnalysisSpec(id="tv_poisson", design="time_varying_poisson", description="Poisson",
                        parameters=TOY_PARAMS)
    catalogue = pd.DataFrame([{"id": spec.id, "design": spec.design, "description": spec.description,
                               "parameters": json.dumps(spec.to_dict()["parameters"])}])
    assert pooled_model_parameters(catalogue) == TOY_PARAMS
    unresolved = catalogue.assign(parameters=json.dumps({**spec.to_dict()["parameters"], "entry_day": None}))
    with pytest.raises(TruthCheckRefused, match="unresolved"):
        pooled_model_parameters(unresolved)
    with pytest.raises(TruthCheckRefused, match="no entry for tv_poisson"):
        pooled_model_parameters(catalogue.assign(id="other"))


def test_naive_check_passes_only_when_the_interval_lies_below_the_truth():
    biased = pd.DataFrame(naive_checks(hr_table({"main": 0.7, "psychiatric": 0.8, "musculoskeletal": 0.6,
                                                  "other": 0.6}), PLANTED))
    assert len(biased) == 4 and biased["passed"].all() and (biased["expectation"] == "misses").all()
    unbiased = pd.DataFrame(naive_checks(hr_table({"main": 1.25, **PLANTED}), PLANTED))
    assert not unbiased["passed"].any()


def test_risk_difference_checks_use_bootstrap_and_monte_carlo_error():
    horizons = (90, 180)
    populations = [("all", "all", "all"), ("woman", "sex", "woman"), ("man", "sex", "man"),
                   *(("all", "diagnosis_chapter_group", c) for c in ("psychiatric", "musculoskeletal", "other"))]
    table = pd.DataFrame([{"sex": s, "subgroup": g, "level": lv, "term": f"horizon_{h}", "estimand": "risk_difference",
                           "estimate": 0.05, "std_error": 0.01, "conf_low": 0.03, "conf_high": 0.07}
                          for s, g, lv in populations for h in horizons])
    truths = {(g, lv): {h: {"difference": 0.05 + (0.06 if lv == "man" else 0.0), "mc_se": 0.005} for h in horizons}
              for _, g, lv in populations}
    checks = pd.DataFrame(risk_difference_checks(table, truths, horizons))
    assert len(checks) == len(populations) * len(horizons) * 2
    covers = checks[checks["check"] == "covers_true_risk_difference"]
    assert set(covers.loc[~covers["passed"], "level"]) == {"man"}
    half = covers["conf_high"] - covers["estimate"]
    z = np.where(covers["subgroup"] == "diagnosis_chapter_group", z_for(2 * 3), z_for(2))
    assert np.allclose(half, z * np.hypot(0.01, 0.005))


def test_refuses_faulty_or_foreign_truth_files_and_missing_results():
    clean = {"generator": "koord synth", "n_persons": 10, "seed": 1, "window": {}, "coordination_effect": {},
             "faults": {"injected": False, "rates": {}, "rows": {}, "totals": {}}}
    check_truth_file(clean)
    with pytest.raises(TruthCheckRefused, match="injected faults"):
        check_truth_file({**clean, "faults": {"injected": True, "totals": {"duplicates": 3}}})
    with pytest.raises(TruthCheckRefused, match="not written by `koord synth`"):
        check_truth_file({"n_persons": 10})
    results = {t: pd.DataFrame() for t in REQUIRED_RESULTS if t != "target_trial"} | {CATALOGUE: pd.DataFrame()}
    with pytest.raises(TruthCheckRefused, match="target_trial.*koord analyse"):
        check_recovery(results, pd.DataFrame(), pd.DataFrame(), clean, cells=pd.DataFrame())


def test_built_spells_link_to_the_latent_spells_or_are_refused():
    gt = simulate(300, seed=5)
    sp = gt.spells.to_pandas()
    built = pd.DataFrame({"spell_id": np.arange(len(sp)), "person_id": gt.lopnr[sp["person"].to_numpy()],
                          "spell_start_date": pd.to_datetime(sp["start_day"].to_numpy(), unit="D")})
    linked = linked_ground_truth(gt, built)
    assert len(linked.spells) == len(built) and np.allclose(linked.spells["eta"], sp["eta"])
    wrong = built.assign(spell_start_date=built["spell_start_date"] + pd.Timedelta(days=1))
    with pytest.raises(TruthCheckRefused, match="no latent spell"):
        linked_ground_truth(gt, wrong)


def test_the_command_states_the_recovery_defaults():
    """`koord check-truth` repeats two facts of the recovery module (so that every `koord` call need not import it)."""
    from pipeline.commands import check_truth
    from pipeline.commands import recovery

    assert check_truth.HELP_MAX_TRIAL_ENTRIES == recovery.DEFAULT_MAX_TRIAL_ENTRIES
    assert set(recovery.REQUIRED_RESULTS) == {"tv_cox", "tv_poisson", "target_trial", "naive_ever"}


def test_trial_truth_adds_the_home_regions_v_to_the_recovery_hazard():
    import dataclasses

    from pipeline.commands.recovery import trial_truth

    gt = simulate(400, seed=5)
    sp = gt.spells.to_pandas()
    built = pd.DataFrame({"spell_id": np.arange(len(sp)), "person_id": gt.lopnr[sp["person"].to_numpy()],
                          "spell_start_date": pd.to_datetime(sp["start_day"].to_numpy(), unit="D")})
    linked = linked_ground_truth(gt, built)
    assert np.array_equal(linked.region_v, gt.region_v)
    entries = pd.DataFrame({"spell_id": built["spell_id"], "trial_day": 14})
    base = trial_truth(entries, linked, (90,), seed=3)
    slower = trial_truth(entries, dataclasses.replace(linked, region_v=gt.region_v - 1.0), (90,), seed=3)
    none = trial_truth(entries, dataclasses.replace(linked, region_v=None), (90,), seed=3)
    zero = trial_truth(entries, dataclasses.replace(linked, region_v=np.zeros_like(gt.region_v)), (90,), seed=3)
    for arm in ("now_90", "not_now_90"):
        assert slower[arm].mean() < base[arm].mean()
        assert (slower[arm] <= base[arm]).all()  # common random numbers: a slower hazard never recovers sooner
    pd.testing.assert_frame_equal(none, zero)
