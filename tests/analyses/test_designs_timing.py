"""Time to the first coordination: event coding, the incidence against hand values, the chain of support, the dose."""

import numpy as np
import pandas as pd
import pytest

from analyses.designs.specs import AnalysisSpec, TimingParameters
from analyses.designs.timing import (
    coordination_events,
    coordination_timing,
    incidence_by_level,
    median_with_interval,
    support_events,
)
from analyses.estimators import AalenJohansenSpec, fit_aalen_johansen

NEVER = np.nan


def spells_frame(**columns) -> pd.DataFrame:
    n = len(columns["followup_days"])
    base = {"spell_id": np.arange(1, n + 1), "person_id": np.arange(1, n + 1), "is_open_at_extraction": [False] * n,
            "days_to_first_dv077": [NEVER] * n, "days_to_first_aw026": [NEVER] * n,
            "days_to_first_fk_info4": [NEVER] * n, "days_to_first_fk_avst": [NEVER] * n, "n_gc001": [0] * n}
    base.update(columns)
    return pd.DataFrame(base)


def test_event_coding_of_each_branch():
    spells = spells_frame(
        followup_days=[40, 30, 50, 60, 70, 80, 90],
        days_to_first_gc001=[9, NEVER, NEVER, NEVER, NEVER, NEVER, NEVER],
        end_reason=["return_to_work", "return_to_work", "death", "censored", "censored", "age_65", "sickness_compensation"],
        is_open_at_extraction=[False, False, False, False, True, True, False],
    )
    time, cause = coordination_events(spells)
    assert list(time) == [10, 30, 50, 60, 70, 80, 90]
    # closed 'censored' (relapse) ended; open at extraction is censored; a competing event flagged open ended
    assert list(cause) == ["first_gc001", "return_to_work", "other_end", "other_end", "censored", "other_end",
                           "other_end"]


def test_incidence_equals_hand_computed_aalen_johansen():
    # times 1 (gc001), 2 (rtw), 2 (gc001), 3 (censored), 4 (gc001):
    # t=1: 1/5 -> F=0.2, S=0.8; t=2: 4 at risk, 1 gc + 1 rtw -> F += 0.8*1/4 = 0.4, S = 0.8*2/4 = 0.4
    # t=4: 1 at risk -> F += 0.4 * 1 = 0.8
    time = np.array([1.0, 2, 2, 3, 4])
    cause = np.array(["first_gc001", "return_to_work", "first_gc001", "censored", "first_gc001"], dtype=object)
    curve = incidence_by_level(time, cause, None, "first_gc001", np.array([0, 1, 2, 3, 4]))["all"]
    assert curve.cif == pytest.approx([0.0, 0.2, 0.4, 0.4, 0.8])


def test_incidence_without_competing_events_or_censoring_is_the_empirical_share():
    rng = np.random.default_rng(1)
    time = rng.integers(1, 200, size=400).astype(float)
    first = rng.random(400) < 0.6
    cause = np.where(first, "first_gc001", "other_end").astype(object)
    levels = pd.Series(rng.choice(["a", "b"], size=400))
    at = np.array([30, 90, 180])
    got = incidence_by_level(time, cause, levels, "first_gc001", at)
    for lv in ("a", "b"):
        m = (levels == lv).to_numpy()
        # one cause only among those still at risk ⇒ the AJ is the share with the event by t
        only = incidence_by_level(time[m], np.where(first[m], "first_gc001", "censored").astype(object), None,
                                  "first_gc001", at)["all"]
        assert only.cif[-1] >= got[lv].cif[-1]
        no_competing = incidence_by_level(time[m], np.full(m.sum(), "first_gc001", dtype=object), None,
                                          "first_gc001", at)["all"]
        assert no_competing.cif == pytest.approx([(time[m] <= t).mean() for t in at])


def test_incidence_and_standard_error_match_the_full_estimator():
    rng = np.random.default_rng(7)
    n = 300
    time = rng.integers(1, 120, size=n).astype(float)
    time[:40] = 0.5  # the chain of support's "already there"
    cause = rng.choice(["first_gc001", "return_to_work", "other_end", "censored"], size=n).astype(object)
    at = np.array([10.0, 30.0, 60.0])
    got = incidence_by_level(time, cause, None, "first_gc001", at)["all"]
    full = fit_aalen_johansen(pd.DataFrame({"time": time, "cause": cause}),
                              AalenJohansenSpec(time="time", cause="cause", censor_value="censored"))
    want = full.cif_at(at)
    want = want[want["cause"] == "first_gc001"]
    assert got.cif == pytest.approx(want["cif"].to_numpy())
    assert got.std_error == pytest.approx(want["std_error"].to_numpy())


def test_chain_of_support_counts_a_plan_before_the_first_gc001_at_half_a_day():
    spells = spells_frame(
        followup_days=[100, 100, 100, 100, 100],
        days_to_first_gc001=[20, 20, 20, 20, 20],
        days_to_first_dv077=[5, 20, 35, NEVER, NEVER],
        end_reason=["return_to_work", "return_to_work", "return_to_work", "return_to_work", "censored"],
        is_open_at_extraction=[False, False, False, False, True],
    )
    time, cause = support_events(spells, ("days_to_first_dv077",))
    assert list(time) == [0.5, 0.5, 15, 80, 80]
    assert list(cause) == ["support_event", "support_event", "support_event", "end_of_followup", "censored"]
    time, _ = support_events(spells.assign(days_to_first_aw026=[30, 1, NEVER, 90, NEVER]),
                             ("days_to_first_dv077", "days_to_first_aw026"))
    assert list(time) == [0.5, 0.5, 15, 70, 80]  # the earlier of the two


def test_median_interval_from_order_statistics():
    median, low, high = median_with_interval(np.arange(1, 21))
    # Binomial(20, 1/2): P(B <= 5) = 0.0207 < 0.025 <= P(B <= 6) ⇒ ranks 6 and 15
    assert (median, low, high) == (10.5, 6.0, 15.0)
    assert np.isnan(median_with_interval(np.arange(5))[1])


def synthetic_spells(n=600, seed=3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    followup = rng.integers(10, 400, size=n)
    first = np.where(rng.random(n) < 0.4, np.floor(rng.random(n) * followup), np.nan)
    frame = spells_frame(
        followup_days=followup, days_to_first_gc001=first,
        end_reason=rng.choice(["return_to_work", "death", "censored"], size=n, p=[0.85, 0.05, 0.10]),
        is_open_at_extraction=rng.random(n) < 0.05,
        days_to_first_dv077=np.where(rng.random(n) < 0.5, first + rng.integers(-5, 40, size=n), np.nan),
        days_to_first_fk_avst=np.where(rng.random(n) < 0.5, first + rng.integers(0, 80, size=n), np.nan),
        n_gc001=np.where(np.isnan(first), 0, rng.integers(1, 10, size=n)),
    )
    frame["days_to_first_dv077"] = np.where(frame["days_to_first_dv077"] < frame["followup_days"],
                                            np.clip(frame["days_to_first_dv077"], 0, None), np.nan)
    frame["days_to_first_fk_avst"] = np.where(frame["days_to_first_fk_avst"] < frame["followup_days"],
                                              frame["days_to_first_fk_avst"], np.nan)
    frame["person_id"] = rng.integers(1, n // 2, size=n)
    frame["sex"] = pd.Categorical(rng.choice(["woman", "man"], size=n))
    frame["age_group"] = pd.Categorical(rng.choice(["16-29", "30-39", "40-49"], size=n))
    frame["diagnosis_group"] = pd.Categorical(rng.choice(["depression", "anxiety"], size=n))
    frame["home_region_code"] = pd.Categorical(rng.choice(["01", "03", "12"], size=n))
    frame["start_year"] = pd.Categorical(rng.choice(["2022", "2023"], size=n))
    frame["diagnosis_chapter_group"] = pd.Categorical(rng.choice(["psychiatric", "other"], size=n))
    return frame


def test_run_on_a_small_synthetic_frame():
    spells = synthetic_spells()
    spec = AnalysisSpec("coordination_timing", "coordination_timing", "test", TimingParameters(entry_day=14))
    result = coordination_timing(spec, spells)
    summary = result.summary
    cohort = spells[spells["followup_days"] > 14]
    assert result.diagnostics["n_cohort_spells"] == len(cohort)
    assert result.diagnostics["n_spells_excluded_before_entry"] == int((spells["followup_days"] <= 14).sum())
    assert {"sex", "measure", "n_spells", "day"} <= set(summary.columns)
    assert set(summary["measure"]) == {"cif_first_gc001", "median_day_first_gc001", "plan_dv077",
                                       "plan_followup_aw026", "fk_informed_info4", "fk_meeting_avst",
                                       "fk_informed_or_meeting", "dose_gc001"}
    cif = summary[(summary["measure"] == "cif_first_gc001") & (summary["subgroup"] == "all")]
    assert list(cif["day"]) == [30, 60, 90, 180] and cif["estimate"].is_monotonic_increasing
    coordinated = cohort[cohort["days_to_first_gc001"].notna()]
    assert int(cif["n_events"].iloc[-1]) == int((coordinated["days_to_first_gc001"] + 1 <= 180).sum())
    # the dose: shares over 1..6+ sum to 1 in each population, their counts to the coordinated spells
    shares = summary[(summary["measure"] == "dose_gc001") & (summary["estimand"] == "share")]
    for sex, rows in shares.groupby("sex"):
        assert list(rows["level"]) == ["1", "2", "3", "4", "5", "6+"]
        assert rows["estimate"].sum() == pytest.approx(1.0)
    assert int(shares[shares["sex"] == "all"]["n_events"].sum()) == len(coordinated)
    median = summary[(summary["measure"] == "median_day_first_gc001") & (summary["subgroup"] == "all")]
    assert float(median["estimate"].iloc[0]) == float(np.median(coordinated["days_to_first_gc001"]))
    regions = summary[(summary["measure"] == "plan_dv077") & (summary["sex"] == "all")]
    assert list(regions["level"]) == ["all", "01", "03", "12"] and set(regions["day"]) == {30}
    curves = result.tables["cif_curves"]
    assert set(curves["level"]) == {"all", "woman", "man", "psychiatric", "other"}
    everyone = curves[curves["level"] == "all"]
    assert everyone["time"].iloc[0] == 0 and everyone["n_at_risk"].iloc[0] == len(cohort)
    assert everyone["n_events"].sum() == int((coordinated["days_to_first_gc001"] + 1 <= 365).sum())
