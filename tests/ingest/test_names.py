"""Columns delivered under other names: LISA's year-specific names, key aliases, unknown benefit codes kept."""

from __future__ import annotations

import pytest

from koord.errors import ContractViolation
from pipeline.ingest import ingest_delivery
from tests.ingest.builder import valid_rows, write_csv, write_extract
from data_schemas.extracts import extract

LISA = extract("scb_lisa")


def _lisa(directory, year, names: dict[str, str], rows=None):
    """scb_lisa_<year>.csv with contract columns renamed by `names` (contract name -> header)."""
    rows = rows or valid_rows(LISA, 3)
    cols = [c.name for c in LISA.columns]
    header = [names.get(c, c if LISA.column(c).accepts_own_name else LISA.column(c).delivered_names()[0]) for c in cols]
    return write_csv(directory / f"scb_lisa_{year}.csv", header, [[r[c] for c in cols] for r in rows])


def _staged(warehouse):
    import duckdb
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute('select "LopNr", year, "Sun2000Niva", "SyssStat", "DispInkPersF04" from raw.scb_lisa '
                           'order by 1, 2').fetchall(), con.execute(
            'select "column", delivered_name from raw._columns order by 1').fetchall()


@pytest.mark.parametrize("names", [
    {"SyssStat": "SyssStat19", "Sun2000Niva": "SUN2020Niva_Old"},
    {"SyssStat": "syssstat19", "Sun2000Niva": "SUN2020Niva_Old", "DispInkPersF04": "DispInk04"},
    {"DispInkPersF04": "DispInk"},
    {"LopNr": "P1105_LopNr_PersonNr"},
    {"LopNr": "LopNr_PersonNr"},
    {"LopNr": "PersonLopNr"},
    {"LopNr": "lopnr"},
])
def test_an_alias_loads_to_the_same_values_as_the_canonical_name(tmp_path, names):
    rows = valid_rows(LISA, 3)
    for r in rows:
        r["SyssStat"] = "6" if r["LopNr"] == "1" else r["SyssStat"]
    _lisa(tmp_path / "canon", 2020, {}, rows) if (tmp_path / "canon").mkdir() is None else None
    _lisa(tmp_path / "alias", 2020, names, rows) if (tmp_path / "alias").mkdir() is None else None
    ingest_delivery(tmp_path / "canon", tmp_path / "canon.duckdb")
    summary = ingest_delivery(tmp_path / "alias", tmp_path / "alias.duckdb")
    canon, _ = _staged(tmp_path / "canon.duckdb")
    alias, delivered = _staged(tmp_path / "alias.duckdb")
    assert alias == canon
    for concept, name in names.items():
        assert (concept, name) in delivered
    key_name = names.get("LopNr", "LopNr")
    assert ("LopNr", key_name, 1) in summary.delivered_names


def test_year_specific_name_in_another_year_is_warned(tmp_path):
    _lisa(tmp_path, 2017, {"SyssStat": "SyssStat19"})
    summary = ingest_delivery(tmp_path, tmp_path / "w.duckdb")
    assert any(kind == "name_outside_years" and "SyssStat19" in detail for _, _, kind, _, detail in summary.warnings)


@pytest.mark.parametrize("bad", ["SUN2020Niva", "Sun2000Niva"])
def test_the_three_digit_sun_code_is_refused(tmp_path, bad):
    _lisa(tmp_path, 2020, {"Sun2000Niva": bad})
    with pytest.raises(ContractViolation) as err:
        ingest_delivery(tmp_path, tmp_path / "w.duckdb")
    msg = str(err.value)
    assert f"scb_lisa_2020.csv: column '{bad}' holds the detailed 3-digit SUN code" in msg
    assert "SUN2020Niva_Old" in msg and not (tmp_path / "w.duckdb").exists()


def test_three_digit_code_beside_the_seven_levels_is_an_extra_column(tmp_path):
    rows = valid_rows(LISA, 2)
    cols = [c.name for c in LISA.columns]
    header = [LISA.column(c).delivered_name_for(2020) for c in cols] + ["SUN2020Niva"]
    write_csv(tmp_path / "scb_lisa_2020.csv", header, [[r[c] for c in cols] + ["526"] for r in rows])
    summary = ingest_delivery(tmp_path, tmp_path / "w.duckdb")
    assert any(kind == "extra_column" and col == "SUN2020Niva" for _, col, kind, _, _ in summary.warnings)


def test_two_names_of_one_concept_are_an_error_naming_both(tmp_path):
    rows = valid_rows(LISA, 2)
    cols = [c.name for c in LISA.columns]
    header = [LISA.column(c).delivered_name_for(2020) for c in cols] + ["SyssStat11"]
    write_csv(tmp_path / "scb_lisa_2020.csv", header, [[r[c] for c in cols] + ["1"] for r in rows])
    with pytest.raises(ContractViolation) as err:
        ingest_delivery(tmp_path, tmp_path / "w.duckdb")
    assert "columns 'SyssStat19' and 'SyssStat11' both deliver SyssStat" in str(err.value)


def test_manifest_names_the_key(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    ex = extract("scb_migrationer")
    rows = valid_rows(ex, 3)
    write_csv(d / "scb_migrationer.csv", ["ProjKey", "Datum", "Posttyp"],
              [[r["LopNr"], r["Datum"], r["Posttyp"]] for r in rows])
    with pytest.raises(ContractViolation, match="required column 'LopNr' is missing"):
        ingest_delivery(d, tmp_path / "w.duckdb")
    (d / "manifest.toml").write_text('[delivery]\nname = "x"\nkey = "ProjKey"\n', encoding="utf-8")
    summary = ingest_delivery(d, tmp_path / "w.duckdb")
    assert ("LopNr", "ProjKey", 1) in summary.delivered_names
    (d / "manifest.toml").write_text('[delivery]\nname = "y"\n[files."scb_migrationer.csv"]\nkey = "Other"\n',
                                            encoding="utf-8")
    with pytest.raises(ContractViolation, match="names the key column 'Other', which the file does not have"):
        ingest_delivery(d, tmp_path / "w2.duckdb")


def test_unknown_benefit_code_is_kept_with_a_warning(tmp_path):
    ex = extract("fk_midas_sjukpenning")
    rows = valid_rows(ex, 4)
    rows[1]["Formankod"], rows[2]["Formankod"] = "ASJX", "ASJX"  # not in the list
    rows[3]["Omfattning"] = "60"  # other code columns still quarantine
    write_extract(tmp_path, ex.name, rows)
    summary = ingest_delivery(tmp_path, tmp_path / "w.duckdb")
    [r] = summary.files
    assert (r.rows_loaded, r.rows_quarantined) == (3, 1)
    [(n, detail)] = [(n, d) for _, col, kind, n, d in summary.warnings if kind == "unknown_code_kept"]
    assert n == 2 and "ASJX" in detail and "sickness_benefit" in detail
    assert [kind for _, kind, _ in summary.quarantine_by_reason] == ["unknown_code"]


def test_the_dictionary_shows_the_delivered_names():
    from data_schemas.dictionary import dictionary_rows
    rows = {(r.table, r.column): r.description for r in dictionary_rows() if r.layer == "leverans"}
    assert "'SyssStat11' (t.o.m. 2018), 'SyssStat19' (fr.o.m. 2019)" in rows[("scb_lisa_<ÅÅÅÅ>", "SyssStat")]
    assert "'SUN2020Niva_Old' (fr.o.m. 2019)" in rows[("scb_lisa_<ÅÅÅÅ>", "Sun2000Niva")]
    assert "Avvisas: 'Sun2000Niva', 'SUN2020Niva'" in rows[("scb_lisa_<ÅÅÅÅ>", "Sun2000Niva")]
    assert "P\\d+_LopNr_PersonNr" in rows[("fk_midas_sjukpenning", "LopNr")]
