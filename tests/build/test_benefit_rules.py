"""The benefit rules of [spells]: FK's FSJP rule and its alternatives, ASJP, codes the study does not know.

Each build also checks the contracts of every table, the attrition's included (each step keeps at
most what the previous kept; the last step is the study population).
"""

from datetime import date

import pytest

from data_schemas.study import Study, load_study, study_from_mapping
from koord.errors import StudyDefinitionError

D = date.fromisoformat


def starts_and_ends(raw, lopnr):
    return [(s["spell_start_date"], s["spell_end_date"]) for s in raw.spells(lopnr)]


def attrition(raw, sex="all"):
    return {r["step"]: r for r in raw.rows(f"select * from main.attrition where sex = '{sex}' order by step_order")}


def fsjp_delivery(raw):
    """Person 1: FSJP bridging two SJP periods; 2: FSJP adjoining the end of an SJP period;
    3: FSJP alone; 4: an SJP spell and, 40 days later, an FSJP period of its own."""
    for lopnr in (1, 2, 3, 4):
        raw.person(lopnr, sex="woman" if lopnr % 2 else "man")
    raw.period(1, "2021-01-01", "2021-01-31")
    raw.period(1, "2021-02-01", "2021-02-28", benefit="FSJP")
    raw.period(1, "2021-03-02", "2021-03-31")
    raw.period(2, "2021-01-01", "2021-01-31")
    raw.period(2, "2021-02-01", "2021-02-20", benefit="FSJP")
    raw.period(3, "2020-01-01", "2020-03-31", benefit="FSJP")
    raw.period(4, "2020-01-01", "2020-02-29")
    raw.period(4, "2020-04-09", "2020-05-31", benefit="FSJP")
    return raw


def test_drop_spell_drops_every_spell_with_an_fsjp_period_whole(make_raw):
    raw = fsjp_delivery(make_raw())
    raw.build()  # FK's rule is the default
    assert raw.spells(1) == [] and raw.spells(2) == [] and raw.spells(3) == []
    # an FSJP period in a spell of its own does not touch the person's sick-leave spell
    assert starts_and_ends(raw, 4) == [(D("2020-01-01"), D("2020-02-29"))]
    steps = attrition(raw)
    # built with FSJP: person 1 one spell, 2 one, 3 one, 4 two -> 5; the rule drops 4 of them
    assert steps["included_benefits"]["n_benefit_periods"] == 8
    assert (steps["spells_built"]["n_spells"], steps["spells_built"]["n_persons"]) == (5, 4)
    assert (steps["fsjp_rule"]["n_spells"], steps["fsjp_rule"]["n_persons"]) == (1, 1)
    assert steps["fsjp_rule"]["n_benefit_periods"] == 1
    assert "hela sjukfallet" in steps["fsjp_rule"]["description_sv"]
    assert "FSJP" in steps["included_benefits"]["description_sv"]


def test_a_dropped_spell_is_no_relapse_of_the_spell_before(make_raw):
    raw = make_raw()
    raw.person(1)
    raw.period(1, "2020-01-01", "2020-02-29")
    raw.period(1, "2020-03-15", "2020-04-30", benefit="FSJP")  # 15 days after: a relapse if it counted
    raw.build()
    assert raw.spell(1)["end_reason"] == "return_to_work"
    raw.build(fsjp_rule="include", relapse="censor")  # counted, the FSJP spell is a relapse of the first
    first, _second = raw.spells(1)
    assert (first["end_reason"], first["is_relapse_within_window"]) == ("censored", True)
    raw.build(fsjp_rule="include")  # the default relapse rule 'continue': one spell followed through both
    assert (raw.spell(1)["end_date"], raw.spell(1)["n_relapse_spells"]) == (D("2020-04-30"), 1)


def test_drop_period_drops_only_the_period_and_the_gap_rule_splits_or_shortens(make_raw):
    raw = fsjp_delivery(make_raw())
    raw.build(fsjp_rule="drop_period", relapse="censor")  # every spell built is a row of its own
    # without the FSJP period the gap 2021-01-31 -> 2021-03-02 is 30 days: two spells
    assert starts_and_ends(raw, 1) == [(D("2021-01-01"), D("2021-01-31")), (D("2021-03-02"), D("2021-03-31"))]
    # the FSJP days at the end are not sick leave: the spell ends with its SJP
    assert starts_and_ends(raw, 2) == [(D("2021-01-01"), D("2021-01-31"))]
    assert raw.spells(3) == []
    assert starts_and_ends(raw, 4) == [(D("2020-01-01"), D("2020-02-29"))]
    steps = attrition(raw)
    assert steps["included_benefits"]["n_benefit_periods"] == 4  # of 8: the 4 FSJP periods are out
    assert steps["spells_built"]["n_spells"] == steps["fsjp_rule"]["n_spells"] == 4
    assert "inga sjukfall tas bort" in steps["fsjp_rule"]["description_sv"]


def test_include_keeps_fsjp_as_sick_leave(make_raw):
    raw = fsjp_delivery(make_raw())
    raw.build(fsjp_rule="include")
    assert starts_and_ends(raw, 1) == [(D("2021-01-01"), D("2021-03-31"))]
    assert starts_and_ends(raw, 2) == [(D("2021-01-01"), D("2021-02-20"))]
    assert starts_and_ends(raw, 3) == [(D("2020-01-01"), D("2020-03-31"))]
    assert starts_and_ends(raw, 4) == [(D("2020-01-01"), D("2020-02-29")), (D("2020-04-09"), D("2020-05-31"))]
    steps = attrition(raw)
    assert steps["spells_built"]["n_spells"] == steps["fsjp_rule"]["n_spells"] == 5


def asjp_delivery(raw):
    """Person 1: ASJP alone; 2: SJP, ASJP, SJP adjoining."""
    raw.person(1)
    raw.period(1, "2020-01-01", "2020-02-29", benefit="ASJP")
    raw.person(2)
    raw.period(2, "2021-01-01", "2021-01-31")
    raw.period(2, "2021-02-01", "2021-02-28", benefit="ASJP")
    raw.period(2, "2021-03-01", "2021-03-31")
    return raw


def test_asjp_counts_as_sick_leave_by_default(make_raw):
    raw = asjp_delivery(make_raw())
    raw.build()
    assert starts_and_ends(raw, 1) == [(D("2020-01-01"), D("2020-02-29"))]
    assert starts_and_ends(raw, 2) == [(D("2021-01-01"), D("2021-03-31"))]
    assert attrition(raw)["known_benefit_codes"]["n_benefit_periods"] == 4


def test_asjp_left_out_with_include_asjp_false(make_raw):
    raw = asjp_delivery(make_raw())
    raw.build(include_asjp=False, relapse="censor")  # every spell built is a row of its own
    assert raw.spells(1) == []
    assert starts_and_ends(raw, 2) == [(D("2021-01-01"), D("2021-01-31")), (D("2021-03-01"), D("2021-03-31"))]
    steps = attrition(raw)
    # known, but not a benefit the study counts: removed at 'included_benefits'
    assert steps["known_benefit_codes"]["n_benefit_periods"] == 4
    assert steps["included_benefits"]["n_benefit_periods"] == 2


def unknown_code_delivery(raw):
    """Person 1: periods under a code the contract does not know ('AS'); 2: an SJP spell."""
    raw.person(1, sex="woman")
    raw.period(1, "2020-01-01", "2020-02-29", benefit="AS")
    raw.period(1, "2020-03-01", "2020-03-31", benefit="AS")
    raw.person(2, sex="man")
    raw.period(2, "2020-01-01", "2020-02-29")
    raw.period(2, "2020-06-01", "2020-07-31", benefit="XYZ")
    return raw


def test_an_unknown_code_is_left_out_of_spells_and_counted_in_the_attrition(make_raw):
    raw = unknown_code_delivery(make_raw())
    raw.build()
    assert raw.spells(1) == []
    assert starts_and_ends(raw, 2) == [(D("2020-01-01"), D("2020-02-29"))]
    steps = attrition(raw)
    assert (steps["benefit_periods"]["n_persons"], steps["benefit_periods"]["n_benefit_periods"]) == (2, 4)
    assert (steps["known_benefit_codes"]["n_persons"], steps["known_benefit_codes"]["n_benefit_periods"]) == (1, 1)
    assert steps["known_benefit_codes"]["description_sv"].endswith("bort: okända koder AS, XYZ")
    women = attrition(raw, "woman")
    assert women["benefit_periods"]["n_benefit_periods"] == 2 and women["known_benefit_codes"]["n_benefit_periods"] == 0


def test_an_extra_code_the_study_lists_counts_as_sick_leave(make_raw):
    raw = unknown_code_delivery(make_raw())
    raw.build(extra_sick_leave_codes=("AS",))
    assert starts_and_ends(raw, 1) == [(D("2020-01-01"), D("2020-03-31"))]
    steps = attrition(raw)
    assert steps["known_benefit_codes"]["n_benefit_periods"] == 3
    assert steps["known_benefit_codes"]["description_sv"].endswith("bort: okända koder XYZ")
    assert "AS" in steps["included_benefits"]["description_sv"]


# -- the study file --------------------------------------------------------------------------

def test_the_defaults_are_fks_rules():
    study = Study()
    assert (study.include_asjp, study.fsjp_rule, study.extra_sick_leave_codes) == (True, "drop_spell", ())
    assert study.benefit_codes == ("SJP", "RHP", "ASJP")
    assert study.spell_benefit_codes == ("SJP", "RHP", "ASJP", "FSJP")
    assert study.spell_dropping_codes == ("FSJP",)
    assert study.known_benefit_codes == ("SJP", "RHP", "FSJP", "ASJP")
    assert Study(fsjp_rule="drop_period").spell_benefit_codes == ("SJP", "RHP", "ASJP")
    assert Study(fsjp_rule="include").spell_dropping_codes == ()
    extra = Study(extra_sick_leave_codes=("AS",), include_asjp=False)
    assert extra.benefit_codes == ("SJP", "RHP", "AS") and extra.known_benefit_codes[-1] == "AS"


@pytest.mark.parametrize(
    "include_fsjp, fsjp_rule, expected",
    [(True, None, "include"), (False, None, "drop_period"), (True, "include", "include"), (False, "drop_period", "drop_period")],
)
def test_include_fsjp_is_a_deprecated_alias(include_fsjp, fsjp_rule, expected):
    spells = {"include_fsjp": include_fsjp} | ({"fsjp_rule": fsjp_rule} if fsjp_rule else {})
    assert study_from_mapping({"spells": spells}).fsjp_rule == expected


def test_bad_benefit_choices_are_reported_at_once(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        """
[spells]
include_asjp = "yes"
fsjp_rule = "drop_everything"
include_fsjp = "no"
extra_sick_leave_codes = ["SJP", "AS", "AS", " X ", ""]
""",
        encoding="utf-8",
    )
    with pytest.raises(StudyDefinitionError) as err:
        load_study(path)
    message = str(err.value)
    for expected in [
        "has 7 errors",
        "[spells] include_asjp: expected true or false, got 'yes'",
        "[spells] fsjp_rule: 'drop_everything' is not one of 'drop_spell', 'drop_period', 'include'",
        "[spells] include_fsjp: expected true or false, got 'no'",
        "[spells] extra_sick_leave_codes: 'SJP' is a known benefit code",
        "[spells] extra_sick_leave_codes: 'AS' is listed twice",
        "[spells] extra_sick_leave_codes: ' X ' is not a code",
        "[spells] extra_sick_leave_codes: '' is not a code",
    ]:
        assert expected in message, (expected, message)


@pytest.mark.parametrize(
    "spells, expected",
    [
        ({"include_fsjp": True, "fsjp_rule": "drop_spell"},
         "[spells] include_fsjp = true contradicts fsjp_rule = 'drop_spell'"),
        ({"include_fsjp": False, "fsjp_rule": "include"}, "[spells] include_fsjp = false contradicts fsjp_rule = 'include'"),
        ({"extra_sick_leave_codes": "AS"}, "[spells] extra_sick_leave_codes: expected a list of texts, got 'AS'"),
        ({"extra_sick_leave_codes": ["AS", 7]}, "[spells] extra_sick_leave_codes: expected a list of texts"),
    ],
)
def test_contradictory_or_malformed_settings_are_errors(spells, expected):
    with pytest.raises(StudyDefinitionError) as err:
        study_from_mapping({"spells": spells}, source="inline")
    assert expected in str(err.value)
