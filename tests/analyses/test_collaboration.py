"""Issue 13's collaboration design, measure by measure on handmade data with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analyses.designs._models import Population
from analyses.designs.collaboration import (
    af_rows,
    clustered_rate,
    participation_rows,
    rtw_rows,
    sequence_rows,
    split_states,
    wilson,
)
from analyses.designs.specs import CollaborationParameters
from pipeline.commands.recovery_collaboration import info4_cdf

ALL = Population("all")


def test_clustered_rate_by_hand():
    # persons 1 (two spells, 2 + 0 events), 2 (1), 3 (3): R = 6 / 4 = 1.5
    # residuals Y_p - R n_p: 2 - 3 = -1, 1 - 1.5 = -0.5, 3 - 1.5 = 1.5; sum of squares 3.5
    # var(R) = G / (G - 1) / n^2 * 3.5 = 1.5 * 3.5 / 16 = 0.328125
    r = clustered_rate(np.array([2, 0, 1, 3]), np.array([1, 1, 2, 3]), scale=1000.0)
    se = math.sqrt(0.328125)
    assert r.estimate == pytest.approx(1500.0)
    assert r.std_error == pytest.approx(1000 * se)
    assert r.conf_low == pytest.approx(1500 * math.exp(-1.959964 * se / 1.5), rel=1e-6)
    assert r.conf_high == pytest.approx(1500 * math.exp(1.959964 * se / 1.5), rel=1e-6)
    assert (r.events, r.units, r.persons) == (6, 4, 3)


def test_clustered_rate_without_events_has_the_exact_poisson_upper_limit():
    r = clustered_rate(np.zeros(10), np.arange(10), scale=1000.0)
    # exact upper limit for 0 events: -ln(0.025) = 3.6889 per 10 spells
    assert (r.estimate, r.conf_low) == (0.0, 0.0)
    assert r.conf_high == pytest.approx(1000 * -math.log(0.025) / 10, rel=1e-6)


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson(3, 10)  # Wilson (1927); R: prop.test(3, 10, correct = FALSE)$conf.int
    assert (float(low), float(high)) == pytest.approx((0.10779, 0.60322), abs=1e-4)


def test_split_states_cuts_at_switches_and_bands():
    bands = [(14, 31, "a"), (31, 2**31 - 1, "b")]
    # spell 0: entry 14, coordinated after day 20, employer meeting day 30, returns on day 40
    # spell 1: the employer meeting (day 10) came before coordination (day 20): state 2 from day 20
    pieces = split_states(np.array([14.0, 14.0]), [np.array([20.0, 20.0]), np.array([30.0, 20.0])],
                          np.array([40.0, 25.0]), np.array([True, False]), bands)
    got = sorted(map(tuple, pieces[["unit", "band", "state", "days_at_risk", "events"]].itertuples(index=False)))
    assert got == [(0, "a", 0, 6.0, 0.0), (0, "a", 1, 10.0, 0.0), (0, "a", 2, 1.0, 0.0), (0, "b", 2, 9.0, 1.0),
                   (1, "a", 0, 6.0, 0.0), (1, "a", 2, 5.0, 0.0)]


def _avst():
    return pd.DataFrame({
        "spell_id": [1, 1, 2, 3, 4],
        "person_id": [10, 10, 20, 30, 40],
        "sex": ["woman", "woman", "man", "woman", "man"],
        "home_region_code": ["01", "01", "01", "03", "03"],
        "has_care_participated": [True, False, True, None, True],
        "has_employer_participated": [True, True, False, False, None],
        "has_af_participated": [False, False, False, True, False],
    })


def test_participation_shares_per_region_among_recorded_meetings():
    rows = {(r["level"], r["term"]): r for r in participation_rows(_avst(), ALL, ("home_region_code",))}
    assert rows[("all", "care")]["estimate"] == pytest.approx(3 / 4)  # one not recorded
    assert rows[("all", "employer")]["estimate"] == pytest.approx(2 / 4)
    assert rows[("01", "employer")]["estimate"] == pytest.approx(2 / 3)
    assert rows[("03", "employer")]["estimate"] == pytest.approx(0.0)
    assert rows[("03", "af")]["estimate"] == pytest.approx(1 / 2)
    low, high = wilson(2, 3)
    assert (rows[("01", "employer")]["conf_low"], rows[("01", "employer")]["conf_high"]) == pytest.approx((low, high))
    assert rows[("01", "employer")]["n_persons"] == 2


def _coordinated():
    # four closed spells (end known), first GC001 on day 20; INFO4 5 and 40 days later, none in two
    return pd.DataFrame({
        "spell_id": [1, 2, 3, 4], "person_id": [1, 2, 3, 4], "sex": ["woman"] * 4,
        "days_to_first_gc001": [20.0, 20.0, 20.0, 20.0],
        "days_to_first_fk_info4": [25.0, 60.0, np.nan, np.nan],
        "days_to_first_fk_avst": [10.0, 20.0, 50.0, np.nan],
        "followup_days": [200, 200, 200, 200],
        "end_reason": ["return_to_work"] * 4, "is_open_at_extraction": [False] * 4,
    })


def test_sequence_incidence_without_censoring_is_the_plain_share():
    rows = sequence_rows(_coordinated(), ALL, (30, 60, 90))
    info4 = {r["day"]: r["estimate"] for r in rows if r["measure"] == "first_info4_after_gc001"}
    assert info4 == pytest.approx({30: 1 / 4, 60: 2 / 4, 90: 2 / 4})
    # the AVST on day 10 (before the GC001) counts at time 0.5, the one on day 20 too, day 50 at 30
    avst = {r["day"]: r["estimate"] for r in rows if r["measure"] == "first_avst_after_gc001"}
    assert avst == pytest.approx({30: 3 / 4, 60: 3 / 4, 90: 3 / 4})
    order = {r["level"]: r["estimate"] for r in rows if r["measure"] == "avst_vs_gc001"}
    assert order == pytest.approx({"before": 1 / 3, "same_day": 1 / 3, "after": 1 / 3})


def _unemployed():
    # five unemployed spells: one registered at start; of the four at risk two register (days 10, 50)
    return pd.DataFrame({
        "spell_id": [1, 2, 3, 4, 5], "person_id": [1, 2, 3, 4, 5], "sex": ["woman", "man", "woman", "man", "woman"],
        "is_registered_af_at_start": [True, False, False, False, False],
        "days_to_af_registration": [np.nan, 10.0, 50.0, np.nan, np.nan],
        "days_to_first_gc001": [np.nan, np.nan, 5.0, np.nan, 30.0],
        "followup_days": [100, 100, 100, 100, 100], "end_reason": ["return_to_work"] * 5,
        "is_open_at_extraction": [False] * 5, "age_group": ["30-39"] * 5, "diagnosis_chapter_group": ["other"] * 5,
    })


def test_af_registration_share_at_start_incidence_and_rate_ratio_by_hand():
    params = CollaborationParameters(entry_day=14, af_confounders=(), af_band_cuts=(), af_days=(30, 60))
    rows, _ = af_rows(_unemployed(), ALL, params, "collaboration")
    by = {(r["measure"], r["day"] if not pd.isna(r["day"]) else None): r for r in rows}
    assert by[("af_registered_at_start", None)]["estimate"] == pytest.approx(1 / 5)
    assert by[("af_registration", 30)]["estimate"] == pytest.approx(1 / 4)
    assert by[("af_registration", 60)]["estimate"] == pytest.approx(2 / 4)
    # person-time at risk: unexposed 10 (spell 2) + 5 (3) + 100 (4) + 30 (5) = 145 days, 1 event;
    # exposed 45 (spell 3, days 5-50) + 70 (5) = 115 days, 1 event: RR = (1/115) / (1/145), SE sqrt(1 + 1)
    rr = by[("af_registration_coordination_rr", None)]
    assert rr["estimate"] == pytest.approx(145 / 115, rel=1e-5)
    assert rr["std_error"] == pytest.approx(math.sqrt(2), rel=1e-4)


def test_rtw_rate_ratios_of_the_three_states_by_hand():
    # entry day 14; one band; no confounders: the saturated Poisson model gives rate ratios of
    # crude rates and SE sqrt(1/e_k + 1/e_0)
    spells = pd.DataFrame({
        "spell_id": range(6), "person_id": range(6), "sex": ["woman"] * 6,
        "days_to_first_gc001": [np.nan, np.nan, 20.0, 20.0, 24.0, 14.0],
        "days_to_first_avst_employer": [np.nan, 30.0, np.nan, 40.0, 10.0, 60.0],
        "followup_days": [60, 80, 50, 100, 44, 70],
        "end_reason": ["return_to_work", "return_to_work", "return_to_work", "censored", "return_to_work",
                       "return_to_work"],
    })
    params = CollaborationParameters(entry_day=14, confounders=(), band_cuts=())
    rows, diag = rtw_rows(spells, ALL, params, "collaboration")
    by = {r["term"]: r for r in rows}
    # state 0: 46 + 66 + 6 + 6 + 10 + 0 = 134 days, events of spells 0 and 1 = 2
    # state 1: 30 (2, event) + 20 (3) + 0 (4) + 46 (5, days 14-60) = 96 days, 1 event
    # state 2: 0 + 60 (3, censored) + 20 (4, from day 24, event) + 10 (5, days 60-70, event) = 90 days, 2 events
    assert diag["days_at_risk_by_state"] == {"not_coordinated": 134.0, "coordinated_no_employer_avst": 96.0,
                                             "coordinated_employer_avst": 90.0}
    assert by["coordinated_no_employer_avst"]["estimate"] == pytest.approx((1 / 96) / (2 / 134), rel=1e-5)
    assert by["coordinated_employer_avst"]["estimate"] == pytest.approx((2 / 90) / (2 / 134), rel=1e-5)
    assert by["coordinated_employer_avst"]["std_error"] == pytest.approx(math.sqrt(1 / 2 + 1 / 2), rel=1e-4)
    assert by["employer_vs_no_employer"]["estimate"] == pytest.approx((2 / 90) / (1 / 96), rel=1e-5)
    assert by["employer_vs_no_employer"]["std_error"] == pytest.approx(math.sqrt(1 / 2 + 1 / 1), rel=1e-4)
    assert all(r["interpretation"] == "association" for r in rows)


def test_planted_info4_delay_cdf():
    # D = 1 + floor(X), X ~ Exp(40): P(D <= d) = P(X < d) = 1 - exp(-d / 40)
    draws = 1 + np.floor(np.random.default_rng(3).exponential(40.0, size=400_000))
    for d in (30, 60, 90):
        assert (draws <= d).mean() == pytest.approx(float(info4_cdf(np.array([d]), 40.0)[0]), abs=0.003)
    assert info4_cdf(np.array([0.0, 0.5]), 40.0).tolist() == [0.0, 0.0]
    assert stats.expon.cdf(30, scale=40) == pytest.approx(float(info4_cdf(np.array([30]), 40.0)[0]))
