"""End reasons and end dates: competing events, their precedence, relapse, censoring, earnings.

One delivery holds one person per case (extraction 2025-03-31, relapse window 30 days); most
spells run 2020-01-01 to 2020-03-31, so a return to work ends follow-up on 2020-03-31 (day 91).
Built with the relapse rule 'censor' (the rule before issue 14, kept bit for bit); the other
rules are in test_build_relapse_rules.py.
"""

from datetime import date

import pytest

D = date.fromisoformat


def _spell(raw, lopnr, start="2020-01-01", end="2020-03-31", **person):
    raw.person(lopnr, **person)
    raw.period(lopnr, start, end)


def deliver_outcomes(raw):
    _spell(raw, 1)  # plain return to work
    _spell(raw, 2)  # death on the last day and SA from the next day: both end on the last day
    raw.death(2, "2020-03-31")
    raw.compensation(2, "2020-04-01")
    _spell(raw, 3)  # SA starts the day after the last day
    raw.compensation(3, "2020-04-01")
    _spell(raw, 4)  # emigration on the last day and SA from the next day
    raw.emigration(4, "2020-03-31")
    raw.compensation(4, "2020-04-01")
    _spell(raw, 5)  # death during the spell
    raw.death(5, "2020-02-10")
    _spell(raw, 6)  # SA starts during the spell: sick leave ends the day before
    raw.compensation(6, "2020-03-15")
    _spell(raw, 7, "2021-01-01", None)  # emigration during an open spell
    raw.emigration(7, "2021-06-10")
    _spell(raw, 8, "2020-10-01", "2021-12-31", birth_year=1956)  # 65th birthday 2021-07-01 during the spell
    _spell(raw, 9)  # death after the end, within the window
    raw.death(9, "2020-04-20")
    _spell(raw, 10)  # death after the window
    raw.death(10, "2020-05-15")
    _spell(raw, 11)  # relapse: a new spell 30 days after the end
    raw.period(11, "2020-04-30", "2020-05-31")
    _spell(raw, 12)  # a new spell 31 days after: outside the window
    raw.period(12, "2020-05-01", "2020-05-31")
    _spell(raw, 13, "2024-06-01", "2025-03-10")  # window not observed before extraction
    _spell(raw, 14, "2024-06-01", "2025-03-01")  # last day + 30 = extraction date: observed
    _spell(raw, 15, "2021-10-01", "2022-12-31", birth_year=1957)  # death on the 65th birthday, SA the day after
    raw.death(15, "2022-07-01")
    raw.compensation(15, "2022-07-02")
    _spell(raw, 16, "2021-10-01", "2022-12-31", birth_year=1957)  # SA the day after the 65th birthday
    raw.compensation(16, "2022-07-02")
    _spell(raw, 17)  # SA already from the spell's first day
    raw.compensation(17, "2020-01-01")
    _spell(raw, 18)  # emigration before the spell: not an event of it
    raw.emigration(18, "2019-06-01")
    _spell(raw, 19)  # SA that started before the spell and runs on: no start in the spell
    raw.compensation(19, "2019-01-01")
    # earnings after the end (pay in the month after the last day's month = April 2020)
    _spell(raw, 21)
    raw.earnings(21, "202004", 25000)
    _spell(raw, 22)
    raw.earnings(22, "202003", 25000)
    _spell(raw, 23)
    raw.earnings(23, "202004", 0)
    return raw


@pytest.fixture(scope="module")
def outcomes(new_raw):
    raw = deliver_outcomes(new_raw())
    raw.build(relapse="censor")
    return first_spells(raw), raw


def first_spells(raw):
    """Each person's first spell (persons 11 and 12 have a second one)."""
    out = {}
    for s in raw.spells():
        out.setdefault(s["person_id"], s)
    return out


EXPECTED = {  # person: (end_reason, end_date, is_relapse_within_window)
    1: ("return_to_work", "2020-03-31", False),
    2: ("death", "2020-03-31", False),
    3: ("sickness_compensation", "2020-03-31", False),
    4: ("emigration", "2020-03-31", False),
    5: ("death", "2020-02-10", False),
    6: ("sickness_compensation", "2020-03-14", False),
    7: ("emigration", "2021-06-10", False),
    8: ("age_65", "2021-07-01", False),
    9: ("death", "2020-03-31", False),
    10: ("return_to_work", "2020-03-31", False),
    11: ("censored", "2020-03-31", True),
    12: ("return_to_work", "2020-03-31", False),
    13: ("censored", "2025-03-10", False),
    14: ("return_to_work", "2025-03-01", False),
    15: ("death", "2022-07-01", False),
    16: ("sickness_compensation", "2022-07-01", False),
    17: ("sickness_compensation", "2020-01-01", False),
    18: ("return_to_work", "2020-03-31", False),
    19: ("return_to_work", "2020-03-31", False),
    21: ("return_to_work", "2020-03-31", False),
    22: ("return_to_work", "2020-03-31", False),
    23: ("return_to_work", "2020-03-31", False),
}


@pytest.mark.parametrize("lopnr", sorted(EXPECTED))
def test_end_reason_and_end_date(outcomes, lopnr):
    spells, _ = outcomes
    reason, end, relapse = EXPECTED[lopnr]
    s = spells[lopnr]
    assert (s["end_reason"], s["end_date"], s["is_relapse_within_window"]) == (reason, D(end), relapse)
    assert s["followup_days"] == (s["end_date"] - s["spell_start_date"]).days + 1


def test_same_day_precedence_death_then_emigration_then_compensation_then_age_65_then_return(outcomes):
    spells, _ = outcomes
    # all three cases end on one date; the reason follows the documented precedence
    assert [spells[p]["end_reason"] for p in (2, 4, 3, 1)] == ["death", "emigration", "sickness_compensation", "return_to_work"]
    assert [spells[p]["end_reason"] for p in (15, 16)] == ["death", "sickness_compensation"]


def test_competing_events_during_a_spell_cut_follow_up_but_not_the_spell(outcomes):
    spells, _ = outcomes
    assert (spells[5]["followup_days"], spells[5]["spell_days"]) == (41, 91)
    assert (spells[6]["followup_days"], spells[6]["spell_days"]) == (74, 91)
    assert spells[8]["followup_days"] == (D("2021-07-01") - D("2020-10-01")).days + 1
    assert spells[7]["is_open_at_extraction"] and spells[7]["spell_end_date"] is None


def test_the_relapse_spell_itself_is_followed(outcomes):
    _, raw = outcomes
    later = raw.spells(11)[1]
    assert (later["spell_start_date"], later["end_reason"]) == (D("2020-04-30"), "return_to_work")


def test_each_end_reason_is_one_event_on_the_last_interval(outcomes):
    _, raw = outcomes
    rows = raw.rows(
        "select s.person_id, s.end_reason, p.stop_day, s.followup_days, "
        "p.event_return_to_work + p.event_death + p.event_emigration + p.event_sickness_compensation + p.event_age_65 as n "
        "from main.person_time p join main.spells s using (spell_id) where n > 0"
    )
    assert all(r["stop_day"] == r["followup_days"] for r in rows)
    n_events = sum(r["n"] for r in rows)
    n_uncensored = raw.rows("select count(*) as n from main.spells where end_reason <> 'censored'")[0]["n"]
    assert n_events == n_uncensored


def test_earnings_confirmed_needs_pay_in_the_month_after_the_end(new_raw):
    raw = deliver_outcomes(new_raw())
    raw.build(return_to_work="earnings_confirmed", relapse="censor")
    spells = first_spells(raw)
    assert spells[21]["end_reason"] == "return_to_work"
    assert spells[21]["earnings_after_sek"] == 25000 and spells[21]["has_earnings_month_after"]
    assert (spells[22]["end_reason"], spells[22]["end_date"]) == ("censored", D("2020-03-31"))
    assert (spells[22]["earnings_after_sek"], spells[22]["has_earnings_month_after"]) == (0, False)
    assert spells[23]["end_reason"] == "censored"
    # competing events keep their reason; relapse stays censored
    assert spells[2]["end_reason"] == "death" and spells[11]["end_reason"] == "censored"
    assert spells[1]["end_reason"] == "censored"  # no AGI at all
