"""Files against their contracts: names, columns, headers; problems are errors naming file and column."""

from __future__ import annotations

import pytest

from data_schemas.extracts import EXTRACTS, extract
from koord.errors import ContractViolation
from .builder import file_name, valid_rows, write_csv, write_extract

REQUIRED = [(ex.name, c.name) for ex in EXTRACTS for c in ex.required_columns]


@pytest.mark.parametrize("extract_name, column", REQUIRED, ids=[f"{e}.{c}" for e, c in REQUIRED])
def test_a_missing_required_column_is_an_error_naming_file_and_column(delivery, load, tmp_path, extract_name, column):
    ex = extract(extract_name)
    header = [c.name for c in ex.columns if c.name != column]
    write_extract(delivery, extract_name, columns=header)
    with pytest.raises(ContractViolation) as err:
        load(delivery)
    message = str(err.value)
    assert f"{file_name(ex, 2020)}: required column '{column}' is missing" in message
    assert "expected columns: " + ex.columns[0].name in message
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_every_missing_column_of_every_file_is_reported_at_once(delivery, load):
    write_extract(delivery, "scb_migrationer", columns=["LopNr", "Posttyp"])
    write_extract(delivery, "af_inskrivning", columns=["LopNr", "AvaktDatum"])
    with pytest.raises(ContractViolation) as err:
        load(delivery)
    message = str(err.value)
    assert "scb_migrationer.csv: required column 'Datum' is missing" in message
    assert "af_inskrivning.csv: required column 'InskrDatum' is missing" in message
    assert "af_inskrivning.csv: required column 'SokandeKategori' is missing" in message


def test_headers_match_case_insensitively_in_any_order(delivery, load):
    ex = extract("fk_midas_sjukpenning")
    rows = valid_rows(ex, 3)
    names = [c.name for c in reversed(ex.columns)]
    header = [n.upper() if i % 2 else n.lower() for i, n in enumerate(names)]
    write_csv(delivery / "fk_midas_sjukpenning.csv", header, [[r[n] for n in names] for r in rows])
    loaded = load(delivery)
    got = loaded.rows('select "LopNr", "Formankod", "FomDatum", "Omfattning" from raw.fk_midas_sjukpenning order by 1')
    assert [(g[0], g[1], g[2].isoformat(), g[3]) for g in got] == [
        (int(r["LopNr"]), r["Formankod"], r["FomDatum"], r["Omfattning"]) for r in rows]


def test_an_unknown_extra_column_is_ignored_with_a_warning(delivery, load):
    ex = extract("scb_migrationer")
    rows = valid_rows(ex, 3)
    header = [c.name for c in ex.columns] + ["Kommentar"]
    write_csv(delivery / "scb_migrationer.csv", header,
              [[r[c.name] for c in ex.columns] + [v] for r, v in zip(rows, ["a", "", "b"])])
    loaded = load(delivery)
    assert loaded.warnings() == {("scb_migrationer.csv", "Kommentar", "extra_column"): 2}
    columns = [r[0] for r in loaded.rows("select column_name from duckdb_columns() where table_name = 'scb_migrationer'")]
    assert "Kommentar" not in columns and len(loaded.rows("select * from raw.scb_migrationer")) == 3


def test_optional_columns_absent_from_the_file_are_null(delivery, load):
    ex = extract("fk_samverkan")
    write_extract(delivery, "fk_samverkan", columns=[c.name for c in ex.columns if c.required])
    loaded = load(delivery)
    assert loaded.rows('select count(*), count("DeltagVard") from raw.fk_samverkan') == [(3, 0)]


def test_raw_table_layout_follows_the_contract(delivery, load):
    write_extract(delivery, "scb_dodsorsak")
    write_extract(delivery, "scb_lisa", year=2021)
    loaded = load(delivery)
    cols = loaded.rows("select table_name, column_name, data_type from duckdb_columns() where schema_name = 'raw' "
                       "and table_name in ('scb_dodsorsak', 'scb_lisa') order by table_name, column_index")
    assert [c[1:] for c in cols if c[0] == "scb_dodsorsak"] == [
        ("LopNr", "BIGINT"), ("DodDatum", "DATE"), ("DodDatum_day_unknown", "BOOLEAN"), ("UlOrsak", "VARCHAR"),
        ("_source_file", "VARCHAR"), ("_source_line", "BIGINT")]
    lisa = [c[1:] for c in cols if c[0] == "scb_lisa"]
    assert lisa[:2] == [("LopNr", "BIGINT"), ("Kon", "VARCHAR")] and ("year", "INTEGER") in lisa
    assert loaded.rows("select distinct year, _source_file from raw.scb_lisa") == [(2021, "scb_lisa_2021.csv")]
    assert loaded.rows('select "Lan" from raw.scb_lisa order by "LopNr" limit 1') == [("01",)]


def test_yearly_files_load_into_one_table_with_their_year(delivery, load):
    for year in (2019, 2020, 2021):
        write_extract(delivery, "scb_lisa", year=year, n=2)
    loaded = load(delivery)
    assert loaded.rows("select year, count(*) from raw.scb_lisa group by year order by year") == [
        (2019, 2), (2020, 2), (2021, 2)]


def test_an_unknown_file_is_an_error_naming_it_and_the_known_extracts(delivery, load, tmp_path):
    write_extract(delivery, "scb_migrationer")
    (delivery / "sjukfall.csv").write_text("LopNr;X\n1;2\n")
    with pytest.raises(ContractViolation) as err:
        load(delivery)
    message = str(err.value)
    assert "sjukfall.csv: 'sjukfall' is not a known extract" in message
    assert "fk_midas_sjukpenning" in message and "scb_lisa_<YYYY>" in message
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_yearly_extract_without_its_year_is_unknown(delivery, load):
    write_extract(delivery, "scb_lisa", year=2020)
    (delivery / "scb_lisa_2020.csv").rename(delivery / "scb_lisa.csv")
    with pytest.raises(ContractViolation, match="scb_lisa.csv: 'scb_lisa' is not a known extract"):
        load(delivery)


def test_two_files_for_one_extract_are_an_error(delivery, load):
    write_extract(delivery, "scb_migrationer")
    (delivery / "SCB_MIGRATIONER.csv").write_bytes((delivery / "scb_migrationer.csv").read_bytes())
    with pytest.raises(ContractViolation, match="a second file for scb_migrationer"):
        load(delivery)


def test_a_line_with_the_wrong_number_of_fields_is_an_error_naming_the_line(delivery, load):
    (delivery / "scb_migrationer.csv").write_text("LopNr;Datum;Posttyp\n1;2021-01-01;Inv\n2;2021-01-01\n")
    with pytest.raises(ContractViolation) as err:
        load(delivery)
    assert "scb_migrationer.csv" in str(err.value) and "line 3" in str(err.value)


def test_a_quoted_field_spanning_lines_is_refused_rather_than_misnumbered(delivery, load):
    (delivery / "scb_migrationer.csv").write_text('LopNr;Datum;Posttyp\n1;2021-01-01;"In\nv"\n2;2021-01-01;Utv\n')
    with pytest.raises(ContractViolation, match="span lines"):
        load(delivery)


def test_an_empty_file_is_an_error(delivery, load):
    (delivery / "scb_migrationer.csv").write_bytes(b"")
    with pytest.raises(ContractViolation, match="scb_migrationer.csv: the file is empty"):
        load(delivery)


def test_an_empty_delivery_is_an_error(delivery, load):
    with pytest.raises(ContractViolation, match="holds no data files"):
        load(delivery)
