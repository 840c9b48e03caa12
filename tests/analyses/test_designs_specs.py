"""Analysis specs: defaults, overrides, every error at once, serialisation."""

import pytest

from analyses.designs.specs import (
    DEFAULT_RUN,
    TargetTrialParameters,
    resolve_entry_day,
    spec_from_dict,
    specs_from_table,
)
from koord.errors import StudyDefinitionError


def test_absent_table_runs_the_documented_defaults():
    specs = specs_from_table(None)
    assert tuple(s.id for s in specs) == DEFAULT_RUN
    trial = next(s for s in specs if s.id == "target_trial")
    assert trial.parameters == TargetTrialParameters()
    assert trial.parameters.horizons == (90, 180, 365)


def test_shared_and_per_analysis_overrides():
    specs = specs_from_table({"run": ["tv_cox", "target_trial"], "seed": 5, "bootstrap_replicates": 10,
                              "target_trial": {"controls_per_treated": 4, "horizons": [30, 90]}})
    cox, trial = specs
    assert cox.parameters.seed == 5 and trial.parameters.seed == 5
    assert trial.parameters.bootstrap_replicates == 10
    assert trial.parameters.controls_per_treated == 4.0 and trial.parameters.horizons == (30, 90)
    assert not hasattr(cox.parameters, "bootstrap_replicates")


def test_new_analysis_names_its_design():
    specs = specs_from_table({"run": ["trial_weekly"], "trial_weekly": {
        "design": "target_trial", "description": "Weekly trials, 7-day grace", "trial_interval_days": 7,
        "grace_days": 7}})
    assert specs[0].design == "target_trial" and specs[0].parameters.grace_days == 7


def test_every_error_is_reported_at_once():
    table = {
        "run": ["tv_cox", "Bad-Id", "mystery", "e_value", "landmark"],
        "colour": "blue",                                   # not a parameter
        "tv_cox": {"min_events": "ten", "by_sex": 1},       # wrong types
        "landmark": {"landmark_days": [90, 30]},            # not increasing
        "e_value": {"source": "target_trial"},              # source not run
        "unused": {"design": "landmark"},                   # configured, not run
    }
    with pytest.raises(StudyDefinitionError) as err:
        specs_from_table(table, source="study.toml")
    message = str(err.value)
    for fragment in ("colour", "min_events", "by_sex", "Bad-Id", "mystery", "landmark_days", "source", "unused"):
        assert fragment in message
    assert "8 errors" in message or "9 errors" in message


def test_confounders_must_be_known_covariates():
    with pytest.raises(StudyDefinitionError, match="shoe_size"):
        specs_from_table({"run": ["tv_cox"], "confounders": ["sex", "shoe_size"]})


def test_trial_rules_between_parameters():
    with pytest.raises(StudyDefinitionError, match="grace_days"):
        specs_from_table({"run": ["target_trial"], "target_trial": {"trial_interval_days": 7, "grace_days": 1}})
    with pytest.raises(StudyDefinitionError, match="weight_truncation"):
        specs_from_table({"run": ["target_trial"], "target_trial": {"weight_truncation": [99.0, 1.0]}})


def test_e_value_source_must_run_first():
    with pytest.raises(StudyDefinitionError, match="before"):
        specs_from_table({"run": ["e_value", "tv_cox"]})


def test_round_trip_through_dict():
    for spec in specs_from_table({"bootstrap_replicates": 7}):
        assert spec_from_dict(spec.to_dict()) == spec
        assert spec.to_json()


def test_entry_day_defaults_to_the_study_minimum_spell_length():
    trial = next(s for s in specs_from_table(None) if s.id == "target_trial")
    resolved = resolve_entry_day(trial, 14)
    assert resolved.parameters.entry_day == 14 and resolved.parameters.first_trial_day == 14
    explicit = specs_from_table({"run": ["target_trial"], "entry_day": 20, "target_trial": {"first_trial_day": 21}})[0]
    assert resolve_entry_day(explicit, 14).parameters.entry_day == 20
    assert resolve_entry_day(explicit, 14).parameters.first_trial_day == 21


def test_repository_study_file_analyses_validate():
    from data_schemas.study import load_study

    specs = specs_from_table(load_study().analyses, source="study.toml")
    assert {"tv_cox", "target_trial", "naive_ever"} <= {s.id for s in specs}


def test_proposed_analyses_table_validates():
    import tomllib

    text = '''
[analyses]
run = ["tv_cox", "tv_poisson", "target_trial", "landmark", "naive_ever", "heterogeneity", "e_value",
       "region_uptake", "region_rtw", "region_variation",
       "coordination_timing", "coordination_need", "coordination_timing_strategies", "collaboration",
       "survey", "negative_controls", "calibration", "interrupted_time_series", "scenarios",
       "sensitivity_relapse"]
seed = 2026

[analyses.tv_cox]
confounders = ["sex", "age_group", "diagnosis_group", "occupation_status", "is_extent_below_100",
               "prior_sick_days_365_band", "education_group", "is_born_in_sweden", "home_region_code", "start_year"]

[analyses.tv_poisson]
confounders = ["sex", "age_group", "diagnosis_group", "occupation_status", "is_extent_below_100",
               "prior_sick_days_365_band", "education_group", "is_born_in_sweden"]
band_cuts = [21, 31, 45, 61, 91, 121, 181, 271, 366, 548, 731]

[analyses.target_trial]
n_trial_weeks = 13
trial_interval_days = 1
grace_days = 1
horizons = [90, 180, 365]
controls_per_treated = 10.0
bootstrap_replicates = 200
weight_truncation = [1.0, 99.0]

[analyses.landmark]
landmark_days = [30, 60, 90]

[analyses.heterogeneity]
dimensions = ["sex", "age_group", "diagnosis_chapter_group", "diagnosis_group", "home_region_code"]
model = "cox"

[analyses.e_value]
source = "tv_cox"

[analyses.region_uptake]
uptake_window_days = 90
rtw_horizons = [90, 180]

[analyses.coordination_need]
need_horizons = [90, 180]
folds = 5

[analyses.coordination_timing_strategies]
strategy_days = [30, 60, 90]
bootstrap_replicates = 100
'''
    specs = specs_from_table(tomllib.loads(text)["analyses"])
    assert specs == specs_from_table(None)


def test_regional_case_mix_excludes_the_compared_region_and_years():
    with pytest.raises(StudyDefinitionError, match="home_region_code, start_year cannot be case-mix"):
        specs_from_table({"run": ["region_uptake"], "region_uptake": {
            "confounders": ["sex", "home_region_code", "start_year"]}})
    with pytest.raises(StudyDefinitionError, match="rtw_horizons: must be increasing"):
        specs_from_table({"run": ["region_rtw"], "region_rtw": {"rtw_horizons": [180, 90]}})


def test_five_year_age_bands_cover_the_study_ages_without_gaps():
    """`age_band_5` (a study's choice of finer adjustment for age): every age 16-64 in exactly one band."""
    import duckdb

    from analyses.designs.covariates import COVARIATE_SQL
    from data_schemas.tables import AGE_BANDS_5

    con = duckdb.connect()
    rows = con.execute(f"select age_years, {COVARIATE_SQL['age_band_5']} from range(15, 66) t(age_years)").fetchall()
    band = dict(rows)
    assert band[15] is None and band[65] is None
    assert [band[a] for a in (16, 24, 25, 59, 60, 64)] == ["16-24", "16-24", "25-29", "55-59", "60-64", "60-64"]
    assert {band[a] for a in range(16, 65)} == {label for label, _, _ in AGE_BANDS_5}
