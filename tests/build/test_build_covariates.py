"""Covariates at spell start: home region and its fallback, LISA values, prior sick leave, earnings."""

from datetime import date

import pytest

D = date.fromisoformat


def deliver_covariates(raw):
    # home region per LISA of the year before the start year (spells start in 2020)
    raw.person(1, years=[2017, 2018], region="01", income=100)
    raw.person(1, years=[2019], region="03", income=300, education=None, birth_region="4")
    raw.person(1, years=range(2020, 2025), region="12", income=500)
    raw.period(1, "2020-03-01", "2020-04-30")
    # missing from LISA in 2019: the nearest earlier year
    raw.person(2, years=[2017], region="01")
    raw.person(2, years=[2018], region="05", education="2")
    raw.person(2, years=range(2020, 2025), region="14")
    raw.period(2, "2020-03-01", "2020-04-30")
    # in LISA only from the start year
    raw.person(3, years=range(2020, 2025), region="14", education="6", birth_region=None)
    raw.period(3, "2020-03-01", "2020-04-30")
    # in LISA only from two years after the start: the nearest later year
    raw.person(4, years=[2024, 2022, 2023], region="25", education="7")
    raw.period(4, "2020-03-01", "2020-04-30")
    # never in LISA: excluded
    raw.period(5, "2020-03-01", "2020-04-30")

    # prior sick leave: window 2019-06-02 .. 2020-05-31 for a start on 2020-06-01
    raw.person(6)
    raw.period(6, "2019-05-01", "2019-06-30")  # 29 days inside the window
    raw.period(6, "2019-10-01", "2019-10-10")  # 10 days (too short to be studied, still prior sick leave)
    raw.period(6, "2020-06-01", "2020-07-31")
    raw.person(7)
    raw.period(7, "2019-05-01", "2019-06-01")  # ends the day before the window
    raw.period(7, "2020-06-01", "2020-07-31")

    # earnings before: the 12 months before the start month, from 2019 only
    raw.person(8)
    raw.period(8, "2020-03-15", "2020-04-30")  # months 2019-03 .. 2020-02
    raw.earnings(8, "201902", 99999)  # 13 months before: outside
    raw.earnings(8, "201903", 12000)
    raw.earnings(8, "201905", 6000, employer="E1")
    raw.earnings(8, "201905", 6000, employer="E2")
    raw.earnings(8, "202002", 12000)
    raw.earnings(8, "202003", 50000)  # the start month: outside
    raw.person(9)
    raw.period(9, "2019-03-10", "2019-04-30")  # only 2019-01 and 2019-02 are observed
    raw.earnings(9, "201901", 4000)
    raw.earnings(9, "201902", 2000)
    raw.person(10)
    raw.period(10, "2018-06-01", "2018-07-31")  # no observed month before
    # earnings after: the month after the last day's month
    raw.person(11)
    raw.period(11, "2024-06-01", "2025-02-28")  # March 2025 is complete at extraction: observed, no pay
    raw.person(12)
    raw.period(12, "2024-06-01", "2025-03-10")  # April 2025 is not observed
    raw.person(13)
    raw.period(13, "2024-06-01", None)  # open: no month after
    return raw


@pytest.fixture(scope="module")
def covariates(new_raw):
    raw = deliver_covariates(new_raw())
    raw.build()
    spells = {}
    for s in raw.spells():
        spells[s["person_id"]] = s  # the last spell of each person
    return spells, raw


@pytest.mark.parametrize(
    "lopnr, region, name, year, source",
    [
        (1, "03", "Uppsala", 2019, "year_before"),
        (2, "05", "Östergötland", 2018, "earlier_year"),
        (3, "14", "Västra Götaland", 2020, "start_year"),
        (4, "25", "Norrbotten", 2022, "later_year"),
    ],
)
def test_home_region_from_the_year_before_with_documented_fallback(covariates, lopnr, region, name, year, source):
    spells, _ = covariates
    s = spells[lopnr]
    assert (s["home_region_code"], s["home_region_name"], s["home_region_year"], s["home_region_source"]) == (region, name, year, source)


def test_lisa_values_come_from_the_home_region_year(covariates):
    spells, _ = covariates
    s = spells[1]
    assert (s["disposable_income_hsek"], s["education_level"], s["education_group"]) == (300, None, "unknown")
    assert (s["birth_region_code"], s["is_born_in_sweden"]) == ("4", False)
    assert (spells[2]["education_level"], spells[2]["education_group"]) == (2, "low")
    assert (spells[3]["education_group"], spells[3]["is_born_in_sweden"]) == ("high", None)
    assert spells[4]["education_group"] == "high"
    assert spells[6]["education_group"] == "medium"


def test_a_person_never_in_lisa_is_excluded_at_its_own_step(covariates):
    spells, raw = covariates
    assert 5 not in spells
    steps = {r["step"]: r for r in raw.rows("select * from main.attrition where sex = 'all'")}
    assert steps["person_in_lisa"]["n_persons"] == steps["min_spell_length"]["n_persons"] - 1


def test_prior_sick_days_in_the_365_days_before_start(covariates):
    spells, _ = covariates
    assert (spells[6]["prior_sick_days_365"], spells[6]["has_prior_sick_leave"]) == (39, True)
    assert (spells[7]["prior_sick_days_365"], spells[7]["has_prior_sick_leave"]) == (0, False)


def test_earnings_before_is_the_mean_over_observed_months(covariates):
    spells, _ = covariates
    assert spells[8]["earnings_before_sek"] == pytest.approx(36000 / 12)
    assert spells[9]["earnings_before_sek"] == pytest.approx(6000 / 2)
    assert spells[10]["earnings_before_sek"] is None


def test_earnings_after_only_when_the_month_is_observed(covariates):
    spells, _ = covariates
    assert (spells[11]["earnings_after_sek"], spells[11]["has_earnings_month_after"]) == (0, False)
    assert (spells[12]["earnings_after_sek"], spells[12]["has_earnings_month_after"]) == (None, None)
    assert (spells[13]["earnings_after_sek"], spells[13]["has_earnings_month_after"]) == (None, None)


def test_persons_table(covariates):
    _, raw = covariates
    persons = {p["person_id"]: p for p in raw.rows("select * from main.persons")}
    assert persons[6] == {"person_id": 6, "sex": "woman", "birth_year": 1980, "death_date": None, "n_spells": 2}
    assert 5 not in persons
