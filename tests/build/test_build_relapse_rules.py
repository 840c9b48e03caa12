"""The relapse rule ([outcome] relapse, issue 14): 'continue' (default), 'censor' and 'event' on hand-made spells.

Extraction 2025-03-31, relapse window 30 days. Person 1's spells form a relapse chain of three
(each new spell starts within 30 days of the last one's end); the later two are part of the first
one's follow-up under 'continue'. Every rule's outcome is also published in
`spell_relapse_outcomes`, whose rows of the study's own rule are `spells`.
"""

from datetime import date

import pytest

from koord.errors import StudyDefinitionError
from data_schemas.study import study_from_mapping

D = date.fromisoformat


def deliver(raw):
    raw.person(1)  # chain: 01-01..03-31, relapse 04-20..05-31 (GC001 in it), relapse 06-15..08-31
    raw.period(1, "2020-01-01", "2020-03-31")
    raw.period(1, "2020-04-20", "2020-05-31")
    raw.period(1, "2020-06-15", "2020-08-31")
    raw.contact(1, "2020-05-10")
    raw.person(2)  # relapse of 10 days, not itself studied (<= 14 days); death 20 days after it
    raw.period(2, "2020-01-01", "2020-03-31")
    raw.period(2, "2020-04-10", "2020-04-19")
    raw.death(2, "2020-05-09")
    raw.person(3)  # emigration in the gap between the chain's spells (not an event of the later spell)
    raw.period(3, "2020-01-01", "2020-03-31")
    raw.period(3, "2020-04-25", "2020-06-30")
    raw.emigration(3, "2020-04-10")
    raw.person(4)  # no relapse: the same under every rule
    raw.period(4, "2020-01-01", "2020-03-31")
    raw.person(5)  # the relapse is still open at extraction
    raw.period(5, "2024-01-01", "2024-03-31")
    raw.period(5, "2024-04-15", None)
    return raw


@pytest.fixture(scope="module")
def built(new_raw):
    out = {}
    for rule in ("continue", "censor", "event"):
        raw = deliver(new_raw())
        raw.build(relapse=rule)
        out[rule] = raw
    return out


def _outcome(raw, lopnr):
    """(end_reason, end_date, is_relapse_within_window, n_relapse_spells, days_to_first_gc001) of each spell of a person."""
    return [(s["end_reason"], s["end_date"], s["is_relapse_within_window"], s["n_relapse_spells"], s["days_to_first_gc001"])
            for s in raw.spells(lopnr)]


EXPECTED = {
    "continue": {
        1: [("return_to_work", D("2020-08-31"), True, 2, 130)],  # one spell followed to the chain's end; GC001 on day 130
        2: [("death", D("2020-04-19"), True, 1, None)],  # death within the window after the chain's last spell
        3: [("emigration", D("2020-03-31"), True, 1, None)],  # emigration in the gap: on the last day before it
        4: [("return_to_work", D("2020-03-31"), False, 0, None)],
        5: [("censored", D("2025-03-31"), True, 1, None)],  # the chain is open at extraction
    },
    "censor": {
        1: [("censored", D("2020-03-31"), True, 0, None), ("censored", D("2020-05-31"), True, 0, 20),
            ("return_to_work", D("2020-08-31"), False, 0, None)],
        2: [("censored", D("2020-03-31"), True, 0, None)],  # death 39 days after: outside the window; the relapse censors
        3: [("emigration", D("2020-03-31"), True, 0, None), ("return_to_work", D("2020-06-30"), False, 0, None)],
        4: [("return_to_work", D("2020-03-31"), False, 0, None)],
        5: [("censored", D("2024-03-31"), True, 0, None), ("censored", D("2025-03-31"), False, 0, None)],
    },
    "event": {
        1: [("return_to_work", D("2020-03-31"), True, 0, None), ("return_to_work", D("2020-05-31"), True, 0, 20),
            ("return_to_work", D("2020-08-31"), False, 0, None)],
        2: [("return_to_work", D("2020-03-31"), True, 0, None)],
        3: [("emigration", D("2020-03-31"), True, 0, None), ("return_to_work", D("2020-06-30"), False, 0, None)],
        4: [("return_to_work", D("2020-03-31"), False, 0, None)],
        5: [("return_to_work", D("2024-03-31"), True, 0, None), ("censored", D("2025-03-31"), False, 0, None)],
    },
}


@pytest.mark.parametrize("rule", EXPECTED)
def test_each_rule_ends_follow_up_as_defined(built, rule):
    raw = built[rule]
    for lopnr, expected in EXPECTED[rule].items():
        assert _outcome(raw, lopnr) == expected, (rule, lopnr)


def test_continue_follows_coordination_and_person_time_into_the_chain(built):
    raw = built["continue"]
    s = raw.spell(1)
    assert (s["spell_end_date"], s["spell_days"], s["followup_days"]) == (D("2020-03-31"), 91, 244)
    assert s["is_coordinated"] and s["n_gc001"] == 1
    # person_time: unexposed to t_c = 130, exposed to the chain's end, the event on the last interval
    rows = raw.rows(f"select is_coordinated, sum(days_at_risk) d, sum(event_return_to_work) e from main.person_time "
                    f"where spell_id = {s['spell_id']} group by 1 order by 1")
    assert [(r["is_coordinated"], r["d"], r["e"]) for r in rows] == [(False, 130, 0), (True, 114, 1)]


def test_the_chained_spells_are_counted_in_the_attrition_not_analysed(built):
    for rule, removed in (("continue", 4), ("censor", 0), ("event", 0)):  # person 1's two relapses, person 3's, 5's
        raw = built[rule]
        steps = {r["step"]: r for r in raw.rows("select * from main.attrition where sex = 'all' order by step_order")}
        assert steps["person_in_lisa"]["n_spells"] - steps["relapse_continuation"]["n_spells"] == removed, rule
        assert steps["study_population"]["n_spells"] == len(raw.spells()), rule
        assert steps["relapse_continuation"]["n_persons"] == steps["person_in_lisa"]["n_persons"], rule


def test_every_rule_is_published_and_the_study_rule_is_spells(built):
    raw = built["continue"]
    rows = raw.rows("select relapse_rule, person_id, end_reason, end_date, followup_days, days_to_first_gc001, is_study_rule "
                    "from main.spell_relapse_outcomes order by relapse_rule, spell_id")
    for rule, expected in EXPECTED.items():
        got = [r for r in rows if r["relapse_rule"] == rule]
        assert all(r["is_study_rule"] == (rule == "continue") for r in got)
        want = [(p, e[0], e[1], e[4]) for p, spells in expected.items() for e in spells]
        assert [(r["person_id"], r["end_reason"], r["end_date"], r["days_to_first_gc001"]) for r in got] == want, rule
    # the same table from a 'censor' build: identical rows, only is_study_rule moves
    other = built["censor"].rows("select * exclude (is_study_rule) from main.spell_relapse_outcomes order by relapse_rule, spell_id")
    assert other == raw.rows("select * exclude (is_study_rule) from main.spell_relapse_outcomes order by relapse_rule, spell_id")


def test_earnings_confirmed_under_continue_reads_the_month_after_the_chain(new_raw):
    raw = deliver(new_raw())
    raw.earnings(1, "202009", 20000)  # the month after the chain's last month (August)
    raw.earnings(4, "202004", 0)
    raw.build(return_to_work="earnings_confirmed")
    assert _outcome(raw, 1)[0][:2] == ("return_to_work", D("2020-08-31"))
    assert _outcome(raw, 4)[0][:2] == ("censored", D("2020-03-31"))


def test_a_bad_rule_is_refused_with_the_choices():
    with pytest.raises(StudyDefinitionError) as err:
        study_from_mapping({"outcome": {"relapse": "ignore"}})
    assert "[outcome] relapse: 'ignore' is not one of 'continue', 'censor', 'event'" in str(err.value)
