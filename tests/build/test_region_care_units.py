"""main.region_care_units: GC001 recording by the regions' care units per year, beside regional comparisons.

The counts are checked against a direct pandas computation from the staged care contacts
(every contact of the delivery, not only the study population's), and by hand on a few rows;
the contract catches the breaches it declares.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_schemas.tables import REGION_CODES, REGION_NAMES, check_contract, contract_breaches

COUNT_COLUMNS = ["n_contacts", "n_care_units", "n_care_units_recording_gc001", "n_gc001_contacts", "n_contacts_without_unit"]


def _contact(raw, lopnr, day, *, region, unit, kva=None, level="PV"):
    raw.add("vard_kontakter", LopNr=lopnr, Region=region, VardenhetId=unit, Vardniva=level, KontaktDatum=day,
            Atgarder=kva, Kontakttyp="BES", Yrkesgrupp="REHAB")


def _table(con) -> pd.DataFrame:
    return con.execute("select * from main.region_care_units order by care_region_code, year").df()


def _expected(con) -> pd.DataFrame:
    """The table recomputed in pandas from staging.stg_vard__care_contacts and main.spells."""
    contacts = con.execute(
        "select care_region_code, year(contact_date) as year, care_unit_id, has_gc001 "
        "from staging.stg_vard__care_contacts where contact_date is not null"
    ).df()
    years = range(int(contacts["year"].min()), int(contacts["year"].max()) + 1)
    grid = pd.MultiIndex.from_product([list(REGION_CODES), list(years)], names=["care_region_code", "year"])
    by = contacts.groupby(["care_region_code", "year"])
    counts = pd.DataFrame({
        "n_contacts": by.size(),
        "n_care_units": by["care_unit_id"].nunique(),
        "n_care_units_recording_gc001": contacts[contacts["has_gc001"]].groupby(["care_region_code", "year"])["care_unit_id"].nunique(),
        "n_gc001_contacts": by["has_gc001"].sum(),
        "n_contacts_without_unit": by["care_unit_id"].apply(lambda s: int(s.isna().sum())),
    }).reindex(grid).fillna(0).astype("int64")
    counts["share_care_units_recording_gc001"] = (
        counts["n_care_units_recording_gc001"] / counts["n_care_units"].where(counts["n_care_units"] > 0)
    )
    spells = con.execute("select home_region_code as care_region_code, year(spell_start_date) as year from main.spells").df()
    counts["n_spells"] = spells.groupby(["care_region_code", "year"]).size().reindex(grid).fillna(0).astype("int64")
    return counts.reset_index()


@pytest.fixture(scope="module")
def hand_made(new_raw):
    """Regions 01 and 03 in 2019 and 2021 (none in 2020); units with and without GC001, contacts without a unit."""
    raw = new_raw()
    raw.person(1, region="01")
    raw.period(1, "2019-03-01", "2019-06-30")
    raw.person(2, region="03")
    raw.period(2, "2021-02-01", "2021-05-31")
    # region 01, 2019: unit A records GC001 twice, unit B only DV077, one contact without a unit
    _contact(raw, 1, "2019-03-10", region="01", unit="A", kva="GC001")
    _contact(raw, 1, "2019-04-10", region="01", unit="A", kva="gc001 dv077")
    _contact(raw, 1, "2019-05-10", region="01", unit="B", kva="DV077")
    _contact(raw, 1, "2019-05-11", region="01", unit=None, kva="GC001")
    # region 03, 2021: a person outside the study population (no benefit period) counts too
    _contact(raw, 3, "2021-01-05", region="03", unit="C")
    _contact(raw, 2, "2021-03-05", region="03", unit="D", kva="GC001", level="PSY")
    _contact(raw, 3, "2021-12-31", region="03", unit="D")
    # region 01 again in 2021, a unit without GC001
    _contact(raw, 2, "2021-04-01", region="01", unit="A")
    raw.build()
    return raw


def test_one_row_per_region_and_year_from_the_first_to_the_last_contact_year(hand_made):
    t = _table(hand_made.con)
    assert len(t) == len(REGION_CODES) * 3
    assert sorted(set(t["year"])) == [2019, 2020, 2021]
    assert list(t.loc[t["year"] == 2020, "care_region_code"]) == list(REGION_CODES)
    assert dict(zip(t["care_region_code"], t["care_region_name"])) == dict(zip(REGION_CODES, REGION_NAMES))
    # a year without contacts and a region without contacts: zero counts, no share
    quiet = t[(t["year"] == 2020) | ~t["care_region_code"].isin(["01", "03"])]
    assert (quiet[[*COUNT_COLUMNS, "n_spells"]] == 0).all().all()
    assert quiet["share_care_units_recording_gc001"].isna().all()


def test_counts_by_hand(hand_made):
    t = _table(hand_made.con).set_index(["care_region_code", "year"])
    r = t.loc[("01", 2019)]
    assert (r.n_contacts, r.n_care_units, r.n_care_units_recording_gc001, r.n_gc001_contacts, r.n_contacts_without_unit) == (4, 2, 1, 3, 1)
    assert r.share_care_units_recording_gc001 == 0.5
    assert r.n_spells == 1
    r = t.loc[("03", 2021)]
    assert (r.n_contacts, r.n_care_units, r.n_care_units_recording_gc001, r.n_gc001_contacts, r.n_contacts_without_unit) == (3, 2, 1, 1, 0)
    assert r.share_care_units_recording_gc001 == 0.5
    assert r.n_spells == 1
    r = t.loc[("01", 2021)]
    assert (r.n_contacts, r.n_care_units, r.n_care_units_recording_gc001, r.share_care_units_recording_gc001, r.n_spells) == (1, 1, 0, 0.0, 0)


def test_the_contract_is_met_and_its_breaches_are_caught(hand_made):
    con = hand_made.con
    check_contract(con, "region_care_units")
    con.execute("begin transaction")
    try:
        con.execute("update main.region_care_units set n_care_units_recording_gc001 = 3 where care_region_code = '01' and year = 2019")
        con.execute("delete from main.region_care_units where care_region_code = '25' and year = 2020")
        con.execute("update main.region_care_units set n_contacts = n_contacts + 1 where care_region_code = '03' and year = 2021")
        breaches = contract_breaches(con, "region_care_units")
    finally:
        con.execute("rollback")
    assert any("rule 'units recording GC001 at most the units': 1 rows" in b for b in breaches)
    assert any("rule 'share = units recording / units" in b for b in breaches)
    assert any("every region is present in every year" in b for b in breaches)
    assert any("every dated contact is counted once" in b for b in breaches)
    assert contract_breaches(con, "region_care_units") == []


def test_a_delivery_without_contacts_gives_an_empty_table(new_raw):
    raw = new_raw()
    raw.person(1)
    raw.period(1, "2020-01-01", "2020-03-31")
    raw.build()
    assert _table(raw.con).empty
    check_contract(raw.con, "region_care_units")


@pytest.fixture(scope="module")
def random_delivery(new_raw):
    """A few hundred contacts drawn at random over regions, units, years and KVÅ codes, with spells."""
    rng = np.random.default_rng(11)
    raw = new_raw()
    regions = list(REGION_CODES[:6])
    for lopnr in range(1, 41):
        raw.person(lopnr, region=regions[lopnr % len(regions)])
        start = pd.Timestamp("2019-01-01") + pd.Timedelta(days=int(rng.integers(0, 5 * 365)))
        raw.period(lopnr, start.date().isoformat(), (start + pd.Timedelta(days=int(rng.integers(20, 200)))).date().isoformat())
    kvas = [None, "GC001", "DV077", "AW026", "GC001 DV077", "XYZ99"]
    for _ in range(400):
        region = regions[int(rng.integers(0, len(regions)))]
        unit = None if rng.random() < 0.05 else f"U{region}-{int(rng.integers(0, 8))}"
        day = pd.Timestamp("2018-06-01") + pd.Timedelta(days=int(rng.integers(0, 6 * 365)))
        kva = kvas[int(rng.choice(len(kvas), p=[0.5, 0.1, 0.15, 0.1, 0.05, 0.1]))]
        _contact(raw, int(rng.integers(1, 60)), day.date().isoformat(), region=region, unit=unit, kva=kva,
                 level=("PV", "SSV", "PSY")[int(rng.integers(0, 3))])
    raw.build()
    return raw


def test_counts_equal_a_direct_computation_from_the_staged_contacts(random_delivery):
    con = random_delivery.con
    got = _table(con)
    want = _expected(con)
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(
        got[want.columns].reset_index(drop=True), want.reset_index(drop=True), check_dtype=False, check_names=False,
    )
    assert got["n_spells"].sum() == con.execute("select count(*) from main.spells").fetchone()[0]
    assert got["share_care_units_recording_gc001"].dropna().between(0, 1).all()
    assert contract_breaches(con, "region_care_units") == []

