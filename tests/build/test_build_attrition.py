"""Attrition: every inclusion step in order, for all, women and men, adding up."""

import pytest


@pytest.fixture(scope="module")
def attrition(new_raw):
    raw = new_raw()
    raw.person(1, sex="woman")  # two studied spells
    raw.period(1, "2020-01-01", "2020-02-29")
    raw.period(1, "2021-01-01", "2021-02-28")
    raw.person(2, sex="man")  # preventive benefit only
    raw.period(2, "2020-01-01", "2020-02-29", benefit="FSJP")
    raw.person(3, sex="woman")  # starts before the study period
    raw.period(3, "2017-06-01", "2017-08-31")
    raw.person(4, sex="man", birth_year=1950)  # 70 at the start
    raw.period(4, "2020-01-01", "2020-02-29")
    raw.person(5, sex="woman")  # 10 days
    raw.period(5, "2020-01-01", "2020-01-10")
    raw.period(6, "2020-01-01", "2020-02-29")  # not in LISA
    raw.person(7, sex="man")
    raw.period(7, "2020-01-01", "2020-02-29")
    raw.build()
    rows = raw.rows("select * from main.attrition order by step_order")
    return {(r["step"], r["sex"]): (r["n_persons"], r["n_spells"], r["n_benefit_periods"]) for r in rows}, rows


STEPS = ("benefit_periods", "known_benefit_codes", "included_benefits", "spells_built", "fsjp_rule",
         "start_in_study_period", "age_in_range", "min_spell_length", "person_in_lisa", "relapse_continuation",
         "study_population")
EXPECTED = {  # sex: (persons, spells, periods) per step; FK's FSJP rule drops person 2's spell at 'fsjp_rule'
    "all": [(7, None, 8), (7, None, 8), (7, None, 8), (7, 8, 8), (6, 7, 7), (5, 6, 6), (4, 5, 5), (3, 4, 4), (2, 3, 3),
            (2, 3, 3), (2, 3, 3)],
    "woman": [(3, None, 4), (3, None, 4), (3, None, 4), (3, 4, 4), (3, 4, 4), (2, 3, 3), (2, 3, 3), (1, 2, 2), (1, 2, 2),
              (1, 2, 2), (1, 2, 2)],
    "man": [(3, None, 3), (3, None, 3), (3, None, 3), (3, 3, 3), (2, 2, 2), (2, 2, 2), (1, 1, 1), (1, 1, 1), (1, 1, 1),
            (1, 1, 1), (1, 1, 1)],
}


@pytest.mark.parametrize("sex", EXPECTED)
def test_each_step_removes_what_it_should(attrition, sex):
    table, _ = attrition
    assert [table[(step, sex)] for step in STEPS] == EXPECTED[sex]


def test_steps_are_in_order_with_swedish_descriptions(attrition):
    _, rows = attrition
    assert [r["step"] for r in rows if r["sex"] == "all"] == list(STEPS)
    assert [r["step_order"] for r in rows if r["sex"] == "all"] == list(range(1, 12))
    descriptions = {r["step"]: r["description_sv"] for r in rows}
    assert descriptions["start_in_study_period"] == "Sjukfallet börjar 2018-01-01–2024-06-30"
    assert descriptions["min_spell_length"] == "Sjukfallet varar mer än 14 dagar"
    assert "glapp högst 5 dagar" in descriptions["spells_built"]
    assert descriptions["known_benefit_codes"].endswith("bort: inga okända koder")
    assert descriptions["included_benefits"].startswith("Perioder med förmåner som bildar sjukfall (SJP, RHP, ASJP, FSJP)")
    assert "hela sjukfallet" in descriptions["fsjp_rule"]


def test_it_adds_up(attrition):
    table, _ = attrition
    for sex in EXPECTED:
        previous = None
        for step in STEPS:
            current = table[(step, sex)]
            if previous is not None:
                assert current[0] <= previous[0] and current[2] <= previous[2]
                if current[1] is not None and previous[1] is not None:
                    assert current[1] <= previous[1]
            previous = current
    # persons not in LISA count under 'all' only, until they are excluded
    for step in STEPS:
        all_, woman, man = (table[(step, s)] for s in ("all", "woman", "man"))
        assert woman[0] + man[0] <= all_[0]
    assert table[("person_in_lisa", "woman")][0] + table[("person_in_lisa", "man")][0] == table[("person_in_lisa", "all")][0]
