"""Encodings, delimiters, the manifest, Parquet and SAS files, and files without rows."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_schemas.extracts import extract

from .builder import valid_rows, write_csv, write_extract

SWEDISH = "Vårdcentralen Åby-Ängsö"


def _survey_rows(n: int = 3) -> list[dict[str, str]]:
    rows = valid_rows(extract("enkat_samverkan"), n)
    rows[1]["RespondentId"] = SWEDISH
    return rows


@pytest.mark.parametrize("encoding, bom, expected", [("utf-8", False, "utf-8"), ("utf-8", True, "utf-8"),
                                                     ("latin-1", False, "latin-1")])
def test_encoding_is_detected_and_swedish_letters_survive(delivery, load, encoding, bom, expected):
    write_extract(delivery, "enkat_samverkan", rows=_survey_rows(), encoding=encoding, bom=bom)
    loaded = load(delivery)
    assert loaded.rows('select "RespondentId" from raw.enkat_samverkan where _source_line = 3') == [(SWEDISH,)]
    assert loaded.rows("select encoding, encoding_source from raw._manifest") == [(expected, "detected")]


def test_latin1_bytes_late_in_a_large_file_are_found(delivery, load):
    ex = extract("vard_kontakter")
    rows = valid_rows(ex, 30_000)
    rows[-1]["VardenhetId"] = "Örebro"
    write_extract(delivery, ex.name, rows=rows, encoding="latin-1")
    loaded = load(delivery)
    assert loaded.rows('select "VardenhetId" from raw.vard_kontakter where "LopNr" = 30000') == [("Örebro",)]
    assert loaded.rows("select encoding from raw._manifest") == [("latin-1",)]


@pytest.mark.parametrize("delimiter, name", [(";", "';'"), (",", "','"), ("\t", "tab")])
def test_delimiter_is_detected_from_the_header(delivery, load, delimiter, name):
    write_extract(delivery, "scb_migrationer", delimiter=delimiter)
    loaded = load(delivery)
    assert loaded.rows("select delimiter from raw._manifest") == [(delimiter,)]
    assert loaded.rows('select count(*), count(distinct "Posttyp") from raw.scb_migrationer') == [(3, 2)]


def test_the_manifest_overrides_detection(delivery, load):
    ex = extract("enkat_samverkan")
    rows = _survey_rows()
    write_extract(delivery, ex.name, rows=rows, delimiter="|", encoding="utf-8")
    (delivery / "manifest.toml").write_text(
        '[delivery]\nname = "FK-SCB 2025:1"\nextraction_date = "2025-03-31"\n\n'
        '[files."enkat_samverkan.csv"]\nencoding = "ISO-8859-1"\ndelimiter = "|"\n')
    loaded = load(delivery)
    # Declared Latin-1, so the UTF-8 bytes of å are read as two Latin-1 characters: the manifest wins.
    assert loaded.rows('select "RespondentId" from raw.enkat_samverkan where _source_line = 3') == [
        (SWEDISH.encode("utf-8").decode("latin-1"),)]
    assert loaded.rows("select encoding, delimiter, encoding_source from raw._manifest") == [
        ("latin-1", "|", "manifest.toml")]
    assert loaded.rows("select delivery_name, extraction_date from raw._delivery") == [("FK-SCB 2025:1", date(2025, 3, 31))]
    assert any("declared iso8859-1 in manifest.toml but the bytes are valid UTF-8" in n for n in loaded.summary.notes)


def test_an_encoding_duckdb_cannot_read_is_transcoded(delivery, load):
    rows = _survey_rows()
    rows[0]["RespondentId"] = "Kvitto – 5 €"  # en dash and euro sign exist in cp1252, not in Latin-1
    write_extract(delivery, "enkat_samverkan", rows=rows, encoding="cp1252")
    (delivery / "manifest.toml").write_text('[files."enkat_samverkan.csv"]\nencoding = "windows-1252"\n')
    loaded = load(delivery)
    assert loaded.rows('select "RespondentId" from raw.enkat_samverkan order by _source_line limit 2') == [
        ("Kvitto – 5 €",), (SWEDISH,)]


def test_a_manifest_declaring_utf8_for_latin1_bytes_is_an_error(delivery, load):
    write_extract(delivery, "enkat_samverkan", rows=_survey_rows(), encoding="latin-1")
    (delivery / "manifest.toml").write_text('[files."enkat_samverkan.csv"]\nencoding = "utf-8"\n')
    with pytest.raises(Exception, match="declares utf-8 but byte .* is not valid UTF-8"):
        load(delivery)


def test_a_manifest_naming_a_missing_file_is_an_error(delivery, load):
    write_extract(delivery, "scb_migrationer")
    (delivery / "manifest.toml").write_text('[files."scb_dodsorsak.csv"]\nencoding = "utf-8"\n')
    with pytest.raises(Exception, match="lists 'scb_dodsorsak.csv', which is not in the delivery"):
        load(delivery)


def test_a_header_only_file_loads_as_an_empty_table(delivery, load):
    ex = extract("fk_midas_ersattning")
    write_csv(delivery / "fk_midas_ersattning.csv", [c.name for c in ex.columns], [])
    write_extract(delivery, "scb_migrationer")
    loaded = load(delivery)
    assert loaded.load_log()["fk_midas_ersattning.csv"] == (0, 0, 0)
    assert loaded.rows("select count(*) from raw.fk_midas_ersattning") == [(0,)]


def test_parquet_files_load_with_row_numbers_as_lines(delivery, load):
    table = pa.table({
        "lopnr": pa.array([1, 2, 3], pa.int64()),
        "DodDatum": pa.array([date(2021, 1, 5), None, date(2022, 3, 1)], pa.date32()),
        "UlOrsak": pa.array(["F32.1", "I21", None]),
    })
    pq.write_table(table, delivery / "scb_dodsorsak.parquet")
    migrations = pa.table({"LopNr": pa.array([1.0, 2.5]), "Datum": ["2021-01-01", "20210102"], "Posttyp": ["Inv", "Utv"]})
    pq.write_table(migrations, delivery / "scb_migrationer.parquet")
    loaded = load(delivery)
    assert loaded.rows('select "LopNr", "DodDatum", "UlOrsak", _source_line from raw.scb_dodsorsak order by 1') == [
        (1, date(2021, 1, 5), "F32.1", 1), (3, date(2022, 3, 1), None, 3)]
    assert [(q[0], q[1], q[2], q[4]) for q in loaded.quarantine()] == [
        ("scb_dodsorsak.parquet", 2, "DodDatum", "missing_required_value"),
        ("scb_migrationer.parquet", 2, "LopNr", "not_an_integer")]
    assert loaded.rows('select "LopNr" from raw.scb_migrationer') == [(1,)]  # a float 1.0 is the integer 1
    assert loaded.rows("select file, format, encoding, delimiter from raw._manifest order by 1") == [
        ("scb_dodsorsak.parquet", "parquet", None, None), ("scb_migrationer.parquet", "parquet", None, None)]


def test_sas_transport_files_load(delivery, load):
    # Nothing here can write .sas7bdat; .xpt goes through the same pyreadstat path and conversions.
    pyreadstat = pytest.importorskip("pyreadstat")
    import pandas as pd

    df = pd.DataFrame({
        "LopNr": [1.0, 2.0, 3.0],
        "Datum": [date(2021, 1, 5), date(2021, 2, 1), date(2021, 3, 1)],
        "Posttyp": ["Inv", "Utv", "Bad"],
    })
    pyreadstat.write_xport(df, str(delivery / "scb_migrationer.xpt"), file_format_version=8,
                           variable_format={"Datum": "YYMMDD10"})
    loaded = load(delivery)
    assert loaded.rows('select "LopNr", "Datum", "Posttyp", _source_line from raw.scb_migrationer order by 1') == [
        (1, date(2021, 1, 5), "Inv", 1), (2, date(2021, 2, 1), "Utv", 2)]
    assert [(q[1], q[2], q[3], q[4]) for q in loaded.quarantine()] == [(3, "Posttyp", "Bad", "unknown_code")]
    assert loaded.rows("select format from raw._manifest") == [("xpt",)]


def test_windows_1252_is_detected_when_its_extra_signs_are_used(delivery, load):
    rows = _survey_rows()
    rows[0]["RespondentId"] = "Kvitto – 5 €"
    write_extract(delivery, "enkat_samverkan", rows=rows, encoding="cp1252")
    loaded = load(delivery)
    assert loaded.rows('select "RespondentId" from raw.enkat_samverkan order by _source_line limit 2') == [
        ("Kvitto – 5 €",), (SWEDISH,)]
    assert loaded.rows("select encoding, encoding_source from raw._manifest") == [("cp1252", "detected")]


def test_the_manifest_row_count_and_extract_are_checked(delivery, load):
    write_extract(delivery, "scb_migrationer", n=3)
    (delivery / "manifest.toml").write_text('[files."scb_migrationer.csv"]\nextract = "scb_migrationer"\nrows = 4\n')
    with pytest.raises(Exception, match="declares 4 rows but the file has 3"):
        load(delivery)
    (delivery / "manifest.toml").write_text('[files."scb_migrationer.csv"]\nextract = "scb_dodsorsak"\nrows = 3\n')
    with pytest.raises(Exception, match="declares extract 'scb_dodsorsak' but the file name says 'scb_migrationer'"):
        load(delivery)
    (delivery / "manifest.toml").write_text('[files."scb_migrationer.csv"]\nextract = "scb_migrationer"\nrows = 3\n')
    assert load(delivery).load_log()["scb_migrationer.csv"] == (3, 3, 0)
