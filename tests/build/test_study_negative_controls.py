"""study.toml [negative_controls]: parsed, validated with every error named at its place, the defaults equal to the file's."""

import pytest

from data_schemas.study import (
    DEFAULT_NEGATIVE_CONTROLS,
    NegativeControlOutcome,
    Study,
    load_study,
    parse_icd_range,
    study_from_mapping,
)
from koord.errors import StudyDefinitionError


def test_the_documented_file_lists_the_default_outcomes_each_justified():
    study = load_study()
    assert study.negative_controls == DEFAULT_NEGATIVE_CONTROLS == Study().negative_controls
    assert 8 <= len(study.negative_controls) <= 10
    assert all(len(o.why) > 30 for o in study.negative_controls)
    assert study.as_dict()["negative_controls"][0] == {"id": "eye", "icd": ["H00-H59"],
                                                        "why": DEFAULT_NEGATIVE_CONTROLS[0].why}


@pytest.mark.parametrize("text, expected", [("H00-H59", ("H00", "H59")), ("N39.0", ("N390", "N390")),
                                            ("l60", ("L60", "L60")), ("N390-N399", ("N390", "N399"))])
def test_ranges_parse_to_canonical_prefixes(text, expected):
    assert parse_icd_range(text) == expected


def test_matching_by_prefix_within_the_range():
    uti = NegativeControlOutcome("uti", ("N30", "N39.0"), "why")
    assert uti.matches("N300") and uti.matches("N390") and uti.matches("N30")
    assert not uti.matches("N391") and not uti.matches("N31") and not uti.matches(None)
    eye = NegativeControlOutcome("eye", ("H00-H59",), "why")
    assert eye.matches("H00") and eye.matches("H599") and not eye.matches("H600")


def test_a_study_chooses_its_own_outcomes():
    study = study_from_mapping({"negative_controls": {"outcomes": [
        {"id": "warts", "icd": ["B07"], "why": "A skin virus."}]}})
    assert study.negative_controls == (NegativeControlOutcome("warts", ("B07",), "A skin virus."),)
    assert study_from_mapping({"negative_controls": {"outcomes": []}}).negative_controls == ()


def test_every_error_is_named_with_its_place():
    with pytest.raises(StudyDefinitionError) as err:
        study_from_mapping({"negative_controls": {"extra": 1, "outcomes": [
            {"id": "Eye", "icd": ["H00-H5"], "why": ""},
            {"id": "skin", "icd": ["L00-L08", "L05"], "why": "x", "note": "?"},
            {"id": "skin", "icd": ["L99-L10"], "why": "y"},
            {"id": "teeth", "icd": "K00-K14", "why": "z"},
            {"id": "ear", "icd": ["H60-H7"], "why": "w"},
        ]}})
    text = str(err.value)
    for expected in [
        "[negative_controls] extra: unknown key",
        "outcomes[1] (Eye) id: expected lower-case letters",
        "outcomes[1] (Eye) why: a negative control needs its justification",
        "outcomes[1] (Eye) icd: 'H00-H5': H5 is not an ICD-10 code",
        "outcomes[2] (skin) note: unknown key",
        "outcomes[2] (skin) icd: 'L05' overlaps 'L00-L08' of 'skin'",
        "outcomes[3] (skin) id: 'skin' is used by outcomes[2] too",
        "outcomes[3] (skin) icd: 'L99-L10': the first end is after the last",
        "outcomes[4] (teeth) icd: expected a non-empty list",
        "outcomes[5] (ear) icd: 'H60-H7': H7 is not an ICD-10 code",
    ]:
        assert expected in text, (expected, text)
    assert "has 10 errors" in text


def test_outcomes_of_different_controls_may_not_overlap():
    with pytest.raises(StudyDefinitionError, match="'H10' overlaps 'H00-H59' of 'eye'"):
        study_from_mapping({"negative_controls": {"outcomes": [
            {"id": "eye", "icd": ["H00-H59"], "why": "x"}, {"id": "conjunctivitis", "icd": ["H10"], "why": "y"}]}})
