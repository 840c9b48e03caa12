"""Staging: renamed to the project's names, cast and recoded from the contracts, no row lost."""

from datetime import date

import pytest

from data_schemas.extracts import EXTRACTS


@pytest.fixture(scope="module")
def staged(new_raw):
    raw = new_raw()
    raw.person(1, sex="man", region="23")
    raw.period(1, "2020-01-01", "2020-02-29", diagnosis=" f43.8a ", extent="75")
    raw.period(1, "2020-03-01", "2020-03-31", diagnosis="M54-", benefit="RHP")
    raw.period(1, "2020-04-01", "2020-04-30", diagnosis="not a code")
    raw.contact(1, "2020-01-10", kva="gc001  DV077,XX000")
    raw.contact(1, "2020-01-11", kva=None)
    raw.add("vard_kontakter", LopNr=1, Region="01", Vardniva="PV", KontaktDatum=date(2020, 1, 12), Diagnoser="F32.1 m54-", Atgarder="DV077")
    raw.add("scb_dodsorsak", LopNr=1, DodDatum=date(2024, 5, 15), DodDatum_day_unknown=True, UlOrsak="I21.9")
    raw.earnings(1, "202003", 1000)
    raw.collaboration(1, "2020-01-20", "AVST")
    raw.build()
    return raw


def test_every_raw_row_reaches_staging(staged):
    for ex in EXTRACTS:
        n_raw = staged.rows(f"select count(*) as n from {ex.raw_table}")[0]["n"]
        n_stg = staged.rows(f"select count(*) as n from staging.{ex.staging_table}")[0]["n"]
        assert n_raw == n_stg, ex.name


def test_columns_take_the_project_names(staged):
    for ex in EXTRACTS:
        cols = {r["column_name"] for r in staged.rows(
            f"select column_name from information_schema.columns where table_schema = 'staging' and table_name = '{ex.staging_table}'")}
        expected = {c.stg_name.removesuffix("_raw") if c.icd10 and not c.stg_name.endswith("_raw") else c.stg_name for c in ex.columns}
        assert expected <= cols, (ex.name, expected - cols)
        assert not {c.name for c in ex.columns if c.name != c.stg_name} & cols


def test_codes_are_recoded(staged):
    lisa = staged.rows("select sex_code, sex, region_code, region_name, education_level from staging.stg_scb__lisa_years limit 1")[0]
    assert lisa == {"sex_code": "1", "sex": "man", "region_code": "23", "region_name": "Jämtland Härjedalen", "education_level": 4}
    periods = staged.rows("select diagnosis_code_raw, diagnosis_code, diagnosis_group, diagnosis_chapter_group, extent_pct "
                          "from staging.stg_fk__benefit_periods order by period_start_date")
    assert [(p["diagnosis_code"], p["diagnosis_group"], p["diagnosis_chapter_group"]) for p in periods] == [
        ("F438A", "stress", "psychiatric"),
        ("M54", "back_pain", "musculoskeletal"),
        (None, "unknown", "unknown"),
    ]
    assert periods[0]["diagnosis_code_raw"] == " f43.8a " and periods[0]["extent_pct"] == 75


def test_kva_and_diagnosis_lists_are_split(staged):
    contacts = staged.rows("select kva_codes, has_gc001, has_dv077, diagnosis_codes, main_diagnosis_code, main_diagnosis_group, "
                           "care_region_name from staging.stg_vard__care_contacts order by contact_date")
    assert [(c["kva_codes"], c["has_gc001"], c["has_dv077"]) for c in contacts] == [
        (["GC001", "DV077", "XX000"], True, True),
        (None, False, False),
        (["DV077"], False, True),
    ]
    assert (contacts[2]["diagnosis_codes"], contacts[2]["main_diagnosis_code"], contacts[2]["main_diagnosis_group"]) == (
        ["F321", "M54"], "F321", "depression")
    assert contacts[0]["care_region_name"] == "Stockholm"


def test_dates_months_and_flags(staged):
    death = staged.rows("select death_date, is_death_date_day_unknown, underlying_cause_icd10 from staging.stg_scb__deaths")[0]
    assert death == {"death_date": date(2024, 5, 15), "is_death_date_day_unknown": True, "underlying_cause_icd10": "I219"}
    agi = staged.rows("select payment_month, cash_pay_sek from staging.stg_skv__monthly_earnings")[0]
    assert agi == {"payment_month": date(2020, 3, 1), "cash_pay_sek": 1000}
