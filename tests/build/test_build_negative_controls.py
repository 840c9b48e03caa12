"""Issue 14's warehouse table spell_negative_control_outcomes: the first contact per spell and negative-control outcome.

Every case is one person with a spell 2020-01-01 to 2020-06-30 ending in a return to work
(follow-up 182 days: day indices 0-181).
"""

import pytest

from data_schemas.study import DEFAULT_NEGATIVE_CONTROLS, NegativeControlOutcome, Study
from data_schemas.tables import check_contract


def _spell(raw, lopnr):
    raw.person(lopnr)
    raw.period(lopnr, "2020-01-01", "2020-06-30")


def _contact(raw, lopnr, day, diagnoses, region="01", level="PV"):
    raw.add("vard_kontakter", LopNr=lopnr, Region=region, Vardniva=level, KontaktDatum=day, Atgarder=None,
            Kontakttyp="BES", Yrkesgrupp="LAK", Diagnoser=diagnoses)


@pytest.fixture(scope="module")
def raw_delivery(new_raw):
    raw = new_raw()
    _spell(raw, 1)
    _contact(raw, 1, "2019-12-01", "K02.1")  # before the spell: not counted
    _contact(raw, 1, "2020-01-10", "Z000 H100")  # eye only as a secondary diagnosis: not counted
    _contact(raw, 1, "2020-01-20", "H10.0")  # eye, day 19
    _contact(raw, 1, "2020-01-20", "H259", region="03", level="SSV")  # the same day elsewhere: one day
    _contact(raw, 1, "2020-02-01", "H25.9")  # eye again, day 31
    _contact(raw, 1, "2020-03-01", "N39.0")  # urinary tract infection, day 60
    _contact(raw, 1, "2020-03-02", "N39.1")  # N391 is not N39.0
    _contact(raw, 1, "2020-04-01", "N30.0 F32.1")  # cystitis (N30): day 91, a second UTI day
    _contact(raw, 1, "2020-06-30", "L60.0")  # ingrown nail on the last day of follow-up (day 181)
    _contact(raw, 1, "2020-08-01", "B07")  # after the end of follow-up: not counted
    _spell(raw, 2)  # no contacts at all
    return raw


@pytest.fixture(scope="module")
def built(raw_delivery):
    raw_delivery.build()
    return raw_delivery


def test_one_row_per_spell_and_outcome_with_the_first_contact_day(built):
    rows = built.rows("select o.*, s.followup_days from main.spell_negative_control_outcomes o "
                      "join main.spells s using (spell_id) order by person_id, outcome_id")
    assert len(rows) == 2 * len(DEFAULT_NEGATIVE_CONTROLS)
    assert {r["outcome_id"] for r in rows} == {o.id for o in DEFAULT_NEGATIVE_CONTROLS}
    first = {r["outcome_id"]: (r["first_contact_day"], r["n_contact_days"]) for r in rows if r["person_id"] == 1}
    assert first["eye"] == (19, 2)
    assert first["urinary_tract_infection"] == (60, 2)
    assert first["ingrown_nail"] == (181, 1) and rows[0]["followup_days"] == 182
    assert first["dental_oral"] == (None, 0) and first["viral_warts"] == (None, 0)
    assert all(r["first_contact_day"] is None and r["n_contact_days"] == 0 for r in rows if r["person_id"] == 2)
    check_contract(built.con, "spell_negative_control_outcomes")


def test_the_study_file_chooses_the_outcomes(raw_delivery):
    study = Study(negative_controls=(NegativeControlOutcome("conjunctivitis", ("H10",), "test"),
                                     NegativeControlOutcome("cystitis", ("N30-N30", "N39.0"), "test")))
    raw_delivery.build(study)
    rows = raw_delivery.rows("select outcome_id, first_contact_day, n_contact_days from main.spell_negative_control_outcomes "
                             "where person_id = 1 order by outcome_id")
    assert rows == [{"outcome_id": "conjunctivitis", "first_contact_day": 19, "n_contact_days": 1},
                    {"outcome_id": "cystitis", "first_contact_day": 60, "n_contact_days": 2}]


def test_a_study_without_negative_controls_builds_an_empty_table(raw_delivery):
    raw_delivery.build(Study(negative_controls=()))
    assert raw_delivery.rows("select count(*) n from main.spell_negative_control_outcomes") == [{"n": 0}]
    check_contract(raw_delivery.con, "spell_negative_control_outcomes")
    assert len(raw_delivery.spells()) == 2
