"""The study file: documented defaults, every error reported at once, [analyses] passed through."""

from datetime import date

import pytest

from koord.errors import StudyDefinitionError
from data_schemas.study import DEFAULT_STUDY_FILE, Study, load_study, study_from_mapping


def test_the_documented_study_file_holds_the_defaults_of_the_issue():
    study = load_study(DEFAULT_STUDY_FILE)
    assert study == Study()
    assert study.spell_start_from == date(2018, 1, 1) and study.spell_start_to == date(2024, 6, 30)
    assert (study.age_min_years, study.age_max_years) == (16, 64)
    assert study.min_spell_days == 14
    assert study.gap_days == 5
    assert study.include_rhp is True and study.include_asjp is True
    assert study.fsjp_rule == "drop_spell" and study.extra_sick_leave_codes == ()
    assert study.relapse_window_days == 30
    assert study.return_to_work == "benefit_end"
    assert study.time_band_labels() == ("0-14", "15-30", "31-60", "61-90", "91-180", "181-365", "366+")
    assert study.benefit_codes == ("SJP", "RHP", "ASJP")
    assert study.spell_benefit_codes == ("SJP", "RHP", "ASJP", "FSJP")
    assert load_study(None) == study


def test_every_error_is_reported_at_once(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        """
[period]
spell_start_from = 2024-01-01
spell_start_to = 2019-12-31

[population]
age_min_years = 12
age_max_years = "sixty"

[spells]
gap_days = 0
include_rhp = "yes"
gap_day = 5

[outcome]
return_to_work = "salary"
relapse_window_days = -3

[person_time]
time_bands = [5, 3, 3]

[cohort]
x = 1
""",
        encoding="utf-8",
    )
    with pytest.raises(StudyDefinitionError) as err:
        load_study(path)
    message = str(err.value)
    expected = [
        "spell_start_from 2024-01-01 is after spell_start_to 2019-12-31",
        "age_min_years: 12 is outside 16-64",
        "age_max_years: expected a whole number, got 'sixty'",
        "gap_days: must be 1-365",
        "include_rhp: expected true or false, got 'yes'",
        "[spells] gap_day: unknown key",
        "return_to_work: 'salary' is not one of 'benefit_end', 'earnings_confirmed'",
        "relapse_window_days: must be 1-365, got -3",
        "the first band must start at 0, got 5",
        "band starts must be strictly increasing",
        "[cohort]: unknown section",
    ]
    for fragment in expected:
        assert fragment in message, fragment
    assert f"{path} has {len(expected)} errors" in message


def test_a_file_that_is_not_toml_names_the_place(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[period]\nspell_start_from = \n", encoding="utf-8")
    with pytest.raises(StudyDefinitionError, match=r"broken.toml is not valid TOML.*line 2"):
        load_study(path)


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(StudyDefinitionError, match="not found"):
        load_study(tmp_path / "nope.toml")


def test_choices_and_passthrough_of_analyses():
    study = study_from_mapping(
        {
            "spells": {"gap_days": 90, "include_fsjp": True},
            "outcome": {"return_to_work": "earnings_confirmed"},
            "period": {"spell_start_from": "2019-01-01"},
            "person_time": {"time_bands": [0, 30, 90]},
            "analyses": {"cox_main": {"method": "cox", "anything": [1, 2]}},
        },
        source="inline",
    )
    assert study.gap_days == 90
    assert study.fsjp_rule == "include"  # the deprecated include_fsjp = true
    assert study.benefit_codes == ("SJP", "RHP", "FSJP", "ASJP")
    assert study.return_to_work == "earnings_confirmed"
    assert study.spell_start_from == date(2019, 1, 1)
    assert study.time_band_labels() == ("0-29", "30-89", "90+")
    assert study.analyses["cox_main"] == {"method": "cox", "anything": [1, 2]}
    assert study.min_spell_days == 14  # untouched keys keep their defaults


def test_study_is_frozen():
    with pytest.raises(AttributeError):
        Study().gap_days = 90  # type: ignore[misc]
