"""Coordination exposure: which GC001 contacts count, t_c, FK collaboration events, person-time.

Every case is one person with a spell 2020-01-01 to 2020-06-30 ending in a return to work
(follow-up 182 days, 2020 being a leap year), unless stated otherwise.
"""

from datetime import date

import pytest

D = date.fromisoformat


def deliver_exposure(raw):
    def spell(lopnr, **person):
        raw.person(lopnr, **person)
        raw.period(lopnr, "2020-01-01", "2020-06-30")

    spell(1)
    raw.contact(1, "2019-12-31")  # the day before the spell
    spell(2)
    raw.contact(2, "2020-01-01")  # the spell's first day
    spell(3)
    raw.contact(3, "2020-07-01")  # the day after its end
    spell(4, region="01")
    raw.contact(4, "2020-03-15", region="12", level="PSY")  # given in another region than the home region
    spell(5)
    raw.contact(5, "2019-12-01")
    raw.contact(5, "2020-01-20", kva="DV077")
    raw.contact(5, "2020-02-01", kva="gc001")
    raw.contact(5, "2020-04-01", kva="DV077 GC001 AB123")
    raw.contact(5, "2020-07-15")
    raw.contact(5, "2020-03-01", kva="XX000")  # another procedure
    raw.contact(5, "2020-03-02", kva=None)
    raw.contact(5, "2020-03-05", kva="aw026")  # AW026: follow-up of the DV077 plan
    raw.contact(5, "2020-05-10", kva="XX000 AW026")
    raw.contact(5, "2020-07-20", kva="AW026")  # after the spell's end
    spell(6)
    raw.death(6, "2020-03-01")
    raw.contact(6, "2020-03-10")  # after follow-up ended by death
    spell(7)
    raw.contact(7, "2020-04-30")  # day 120: coordinated, not in the first 90 days
    spell(8)
    raw.collaboration(8, "2020-02-01", "AVST")
    raw.collaboration(8, "2020-03-01", "AVST")
    raw.collaboration(8, "2020-02-15", "INFO4")
    raw.collaboration(8, "2019-12-01", "PLAN")  # before the spell
    raw.collaboration(8, "2020-07-10", "AFKART")  # after its end
    spell(9)
    raw.contact(9, "2020-06-30")  # the last day
    spell(10)
    raw.contact(10, "2020-01-21")  # day 20
    spell(11)
    raw.contact(11, "2020-03-31")  # day 90: outside the first 90 days (day indices 0-89)
    raw.contact(11, "2020-03-30", kva="DV077")
    return raw


@pytest.fixture(scope="module")
def exposure(new_raw):
    raw = deliver_exposure(new_raw())
    raw.build()
    return {s["person_id"]: s for s in raw.spells()}, raw


def test_gc001_before_the_spell_or_after_its_end_does_not_count(exposure):
    spells, _ = exposure
    for lopnr in (1, 3):
        s = spells[lopnr]
        assert (s["is_coordinated"], s["n_gc001"], s["first_gc001_date"], s["days_to_first_gc001"]) == (False, 0, None, None)
        assert s["is_gc001_in_home_region"] is None


def test_gc001_on_the_first_day_makes_all_follow_up_exposed(exposure):
    spells, raw = exposure
    s = spells[2]
    assert (s["is_coordinated"], s["days_to_first_gc001"], s["is_coordinated_first_90_days"]) == (True, 0, True)
    states = raw.rows(f"select distinct is_coordinated from main.person_time where spell_id = {s['spell_id']}")
    assert states == [{"is_coordinated": True}]


def test_gc001_given_in_another_region_counts_and_is_flagged(exposure):
    spells, _ = exposure
    s = spells[4]
    assert s["is_coordinated"] and s["home_region_code"] == "01"
    assert (s["first_gc001_region_code"], s["first_gc001_care_level"], s["is_gc001_in_home_region"]) == ("12", "PSY", False)
    assert spells[2]["is_gc001_in_home_region"] is True


def test_gc001_dv077_and_aw026_are_counted_within_follow_up(exposure):
    spells, _ = exposure
    s = spells[5]
    assert (s["first_gc001_date"], s["n_gc001"], s["days_to_first_gc001"]) == (D("2020-02-01"), 2, 31)
    assert (s["first_dv077_date"], s["n_dv077"]) == (D("2020-01-20"), 2)
    # DV077 without GC001 is not coordination
    assert (spells[11]["first_dv077_date"], spells[11]["n_dv077"]) == (D("2020-03-30"), 1)
    # AW026 (follow-up of the plan) likewise, with days from the spell start
    assert (s["first_aw026_date"], s["n_aw026"], s["days_to_first_aw026"]) == (D("2020-03-05"), 2, 64)
    assert (spells[11]["first_aw026_date"], spells[11]["n_aw026"], spells[11]["days_to_first_aw026"]) == (None, 0, None)


def test_gc001_after_death_is_outside_follow_up(exposure):
    spells, _ = exposure
    assert spells[6]["end_reason"] == "death" and not spells[6]["is_coordinated"]


def test_the_first_90_days_sub_window(exposure):
    spells, _ = exposure
    assert (spells[7]["days_to_first_gc001"], spells[7]["is_coordinated"], spells[7]["is_coordinated_first_90_days"]) == (120, True, False)
    assert (spells[11]["days_to_first_gc001"], spells[11]["is_coordinated_first_90_days"]) == (90, False)
    assert spells[5]["is_coordinated_first_90_days"] is True


def test_fk_collaboration_events_during_the_spell(exposure):
    spells, _ = exposure
    s = spells[8]
    assert (s["n_fk_avst"], s["n_fk_info4"], s["n_fk_plan"], s["n_fk_afkart"]) == (2, 1, 0, 0)


def _intervals(raw, spell_id):
    return [
        (r["time_band"], r["is_coordinated"], r["start_day"], r["stop_day"], r["event_return_to_work"])
        for r in raw.rows(f"select * from main.person_time where spell_id = {spell_id} order by start_day")
    ]


def test_person_time_switches_exposure_exactly_at_t_c(exposure):
    spells, raw = exposure
    assert spells[10]["followup_days"] == 182
    assert _intervals(raw, spells[10]["spell_id"]) == [
        ("0-14", False, 0, 15, 0),
        ("15-30", False, 15, 20, 0),
        ("15-30", True, 20, 31, 0),
        ("31-60", True, 31, 61, 0),
        ("61-90", True, 61, 91, 0),
        ("91-180", True, 91, 181, 0),
        ("181-365", True, 181, 182, 1),
    ]


def test_gc001_on_the_last_day_gives_one_exposed_day(exposure):
    spells, raw = exposure
    assert spells[9]["days_to_first_gc001"] == 181
    assert _intervals(raw, spells[9]["spell_id"])[-2:] == [
        ("91-180", False, 91, 181, 0),
        ("181-365", True, 181, 182, 1),
    ]


def test_no_immortal_time_exposed_days_equal_follow_up_minus_t_c(exposure):
    _, raw = exposure
    rows = raw.rows(
        """
        select s.spell_id, s.followup_days, s.days_to_first_gc001,
            sum(p.days_at_risk) as days,
            coalesce(sum(p.days_at_risk) filter (where p.is_coordinated), 0) as exposed,
            min(p.start_day) filter (where p.is_coordinated) as exposed_from,
            sum(p.event_return_to_work + p.event_death + p.event_emigration
                + p.event_sickness_compensation + p.event_age_65) as n_events
        from main.spells s join main.person_time p using (spell_id)
        group by all
        """
    )
    assert len(rows) == 11
    for r in rows:
        assert r["days"] == r["followup_days"]
        if r["days_to_first_gc001"] is None:
            assert r["exposed"] == 0
        else:
            assert r["exposed"] == r["followup_days"] - r["days_to_first_gc001"]
            assert r["exposed_from"] == r["days_to_first_gc001"]
        assert r["n_events"] <= 1


def test_time_bands_are_configurable(new_raw):
    raw = deliver_exposure(new_raw())
    raw.build(time_bands=(0, 30, 90))
    s = {x["person_id"]: x for x in raw.spells()}
    assert _intervals(raw, s[10]["spell_id"]) == [
        ("0-29", False, 0, 20, 0),
        ("0-29", True, 20, 30, 0),
        ("30-89", True, 30, 90, 0),
        ("90+", True, 90, 182, 1),
    ]
