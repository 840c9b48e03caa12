"""Whole numbers written as decimals (`1.0`, `2,0`, `25.00`) in integer and integer-code columns
are the whole numbers, counted as a warning; non-integral values stay quarantined."""

from __future__ import annotations

import duckdb

from data_schemas.extracts import EXTRACTS, Column, Extract, extract
from pipeline.cli import main
from pipeline.ingest import readers, validate

from .builder import MANIFEST, valid_rows, write_delivery, write_extract


def _check(ex: Extract, values: list[dict[str, str | None]]):
    """Quarantine, typed rows and warning counts of the validation SQL on in-memory rows, as the
    loader runs it: warnings are counted on the rows that are not quarantined."""
    con = duckdb.connect()
    names = [c.name for c in ex.columns]
    con.execute("create table delivered (_line bigint, " + ", ".join(f'"{n}" varchar' for n in names) + ")")
    con.executemany(f"insert into delivered values ({', '.join('?' * (len(names) + 1))})",
                    [[i + 2] + [v.get(n) for n in names] for i, v in enumerate(values)])
    con.execute("create table stage as select _line, "
                + ", ".join(f'{readers.clean_sql(chr(34) + n + chr(34))} as "{n}"' for n in names) + " from delivered")
    cleaned = validate.cleaned_select(ex, set(names), "stage")
    quarantined = con.execute(validate.quarantine_sql(ex, set(names), cleaned, "t.csv")
                              + ' order by line, "column"').fetchall()
    bad = ", ".join(str(q[2]) for q in quarantined) or "-1"
    loaded = f"(select * from ({cleaned}) where _line not in ({bad}))"
    typed = con.execute(f"select {validate.typed_select(ex, None, 't.csv')} from {loaded} order by _line").fetchall()
    specs = validate.warning_specs(ex)
    counts = con.execute(validate.warning_aggregate_sql(specs, loaded)).fetchone()
    warnings = {(s.column, s.kind): (counts[3 * i], validate.example_text(counts[3 * i + 1], counts[3 * i + 2]))
                for i, s in enumerate(specs) if counts[3 * i]}
    return [(q[2], q[3], q[4], q[6]) for q in quarantined], typed, warnings


TEST = Extract(
    name="test_numbers", source="test", title_sv="test", grain="one row per test", description="",
    columns=(
        Column("Id", "id", "integer", "", positive=True),
        Column("Antal", "count", "integer", "", nullable=True),
        Column("Ar", "year", "integer", "", nullable=True, min_value=1900, max_value=2030),
        Column("Deltog", "took_part", "code", "", codes="binary", nullable=True),
        Column("Omfattning", "extent_pct", "code", "", codes="extent", nullable=True),
        Column("Lan", "region_code", "code", "", codes="regions", nullable=True),
        Column("Kommun", "municipality_code", "text", "", pattern=r"\d{4}", nullable=True),
        Column("Belopp", "amount", "decimal", "", nullable=True),
    ),
)


def test_integral_decimals_in_an_integer_column_are_the_integers_and_counted():
    quarantined, typed, warnings = _check(TEST, [
        {"Id": "1", "Antal": "1.0"}, {"Id": "2", "Antal": "2,0"}, {"Id": "3", "Antal": "25.00"},
        {"Id": "4", "Antal": "-3.000"}, {"Id": "5", "Antal": "7"}, {"Id": "6.0", "Antal": ""},
        {"Id": "7", "Ar": "1980.0"}])
    assert quarantined == []
    assert [(t[0], t[1], t[2]) for t in typed] == [
        (1, 1, None), (2, 2, None), (3, 25, None), (4, -3, None), (5, 7, None), (6, None, None), (7, None, 1980)]
    assert warnings == {("Antal", "integral_decimal"): (4, "line 2: '1.0'"),
                        ("Id", "integral_decimal"): (1, "line 7: '6.0'"),
                        ("Ar", "integral_decimal"): (1, "line 8: '1980.0'")}


def test_non_integral_decimals_stay_quarantined_and_the_quarantine_shows_the_value_as_delivered():
    quarantined, typed, warnings = _check(TEST, [
        {"Id": "1", "Antal": "1.5"}, {"Id": "2", "Antal": "2,25"}, {"Id": "3", "Antal": "1."},
        {"Id": "0.0"}, {"Id": "5", "Ar": "1850.0"}, {"Id": "6", "Antal": "1.0.0"}, {"Id": "7", "Antal": "4.0"}])
    assert quarantined == [
        (2, "Antal", "1.5", "not_an_integer"), (3, "Antal", "2,25", "not_an_integer"),
        (4, "Antal", "1.", "not_an_integer"), (5, "Id", "0.0", "not_positive"),
        (6, "Ar", "1850.0", "out_of_range"), (7, "Antal", "1.0.0", "not_an_integer")]
    assert [(t[0], t[1]) for t in typed] == [(7, 4)]
    assert warnings == {("Antal", "integral_decimal"): (1, "line 8: '4.0'")}  # quarantined rows are not counted


def test_integral_decimals_in_a_code_column_of_whole_numbers_are_the_codes():
    quarantined, typed, warnings = _check(TEST, [
        {"Id": "1", "Deltog": "1.0"}, {"Id": "2", "Deltog": "0,0"}, {"Id": "3", "Deltog": "1"},
        {"Id": "4", "Omfattning": "25.00"}, {"Id": "5", "Omfattning": "100,0"},
        {"Id": "6", "Deltog": "1.5"}, {"Id": "7", "Deltog": "2.0"}, {"Id": "8", "Deltog": "+1.0"},
        {"Id": "9", "Omfattning": "37.5"}])
    assert quarantined == [
        (7, "Deltog", "1.5", "unknown_code"), (8, "Deltog", "2.0", "unknown_code"),
        (9, "Deltog", "+1.0", "unknown_code"),  # read as `+1`, which is not a code either
        (10, "Omfattning", "37.5", "unknown_code")]
    assert [(t[0], t[3], t[4]) for t in typed] == [
        (1, "1", None), (2, "0", None), (3, "1", None), (4, None, "25"), (5, None, "100")]
    assert warnings == {("Deltog", "integral_decimal"): (2, "line 2: '1.0'"),
                        ("Omfattning", "integral_decimal"): (2, "line 5: '25.00'")}


def test_zero_padded_codes_text_and_decimal_columns_are_not_touched():
    quarantined, typed, warnings = _check(TEST, [
        {"Id": "1", "Lan": "01", "Kommun": "0180", "Belopp": "2.0"},
        {"Id": "2", "Lan": "1.0"}, {"Id": "3", "Lan": "12.0"}, {"Id": "4", "Lan": "01.0"},
        {"Id": "5", "Kommun": "0180.0"}])
    assert quarantined == [
        (3, "Lan", "1.0", "unknown_code"), (4, "Lan", "12.0", "unknown_code"), (5, "Lan", "01.0", "unknown_code"),
        (6, "Kommun", "0180.0", "pattern_mismatch")]
    assert [(t[0], t[5], t[6], t[7]) for t in typed] == [(1, "01", "0180", 2.0)]
    assert warnings == {}


def test_which_contract_columns_read_integral_decimals():
    """Every integer column, and the code columns whose codes are all whole numbers without
    leading zeros; never the regions (01..25), patterned text or letter codes."""
    got = {(ex.name, c.name) for ex in EXTRACTS for c in ex.columns if validate.reads_integral_decimals(c)}
    integers = {(ex.name, c.name) for ex in EXTRACTS for c in ex.columns if c.dtype == "integer"}
    codes = {(ex.name, c.name, c.codes) for ex in EXTRACTS for c in ex.columns if c.dtype == "code"}
    assert integers <= got
    assert {(e, c, k) for e, c, k in codes if (e, c) in got} == {
        ("scb_lisa", "Kon", "sex"), ("scb_lisa", "Sun2000Niva", "education"),
        ("scb_lisa", "SyssStat", "employment_status_lisa"), ("scb_lisa", "FodGrEg4", "birth_region"),
        ("scb_lisa", "SenPNr", "binary"), ("scb_bakgrund", "FodGrEg4", "birth_region"), ("scb_bakgrund", "SenPNr", "binary"),
        ("fk_midas_sjukpenning", "Omfattning", "extent"), ("fk_midas_ersattning", "Omfattning", "extent"),
        ("fk_samverkan", "DeltagVard", "binary"), ("fk_samverkan", "DeltagArbetsgivare", "binary"),
        ("fk_samverkan", "DeltagAF", "binary"),
        *{("enkat_samverkan", c.name, "likert") for c in extract("enkat_samverkan").columns if c.codes == "likert"},
    }
    assert got - integers == {(e, c) for e, c, _ in codes if (e, c) in got}


def test_koord_ingest_loads_integral_decimals_and_reports_them(tmp_path, capsys):
    delivery = write_delivery(tmp_path / "d", manifest=MANIFEST)
    ex = extract("fk_midas_sjukpenning")
    rows = valid_rows(ex, 4)
    rows[0]["Omfattning"], rows[1]["Omfattning"], rows[2]["Omfattning"] = "100.0", "50,0", "37.5"
    rows[3]["LopNr"] = "3.0"  # the same person as row 3, written by other software
    write_extract(delivery, ex.name, rows=rows)
    sam = extract("fk_samverkan")
    srows = valid_rows(sam, 3)
    srows[0]["DeltagVard"], srows[1]["DeltagVard"], srows[2]["DeltagAF"] = "1.0", "0.0", "1.5"
    write_extract(delivery, sam.name, rows=srows)
    lisa = extract("scb_lisa")
    lrows = valid_rows(lisa, 3)
    lrows[0]["FodelseAr"], lrows[1]["DispInkPersF04"], lrows[2]["Lan"] = "1980.00", "-3.000", "1.0"
    write_extract(delivery, lisa.name, rows=lrows, year=2020)
    warehouse = tmp_path / "w.duckdb"
    assert main(["ingest", "--delivery", str(delivery), "--warehouse", str(warehouse), "--memory-limit", "1GB"]) == 0
    out = capsys.readouterr().out
    assert "integral_decimal" in out

    with duckdb.connect(str(warehouse), read_only=True) as con:
        warnings = {(f, c): (n, d) for f, c, n, d in con.execute(
            "select file, \"column\", n_rows, detail from raw._warnings where kind = 'integral_decimal'").fetchall()}
        assert warnings == {
            ("fk_midas_sjukpenning.csv", "Omfattning"): (
                2, "whole numbers written as decimals, read as the whole number (e.g. line 2: '100.0')"),
            ("fk_midas_sjukpenning.csv", "LopNr"): (
                1, "whole numbers written as decimals, read as the whole number (e.g. line 5: '3.0')"),
            ("fk_samverkan.csv", "DeltagVard"): (
                2, "whole numbers written as decimals, read as the whole number (e.g. line 2: '1.0')"),
            ("scb_lisa_2020.csv", "FodelseAr"): (
                1, "whole numbers written as decimals, read as the whole number (e.g. line 2: '1980.00')"),
            ("scb_lisa_2020.csv", "DispInkPersF04"): (
                1, "whole numbers written as decimals, read as the whole number (e.g. line 3: '-3.000')"),
        }
        assert con.execute('select "LopNr", "Omfattning" from raw.fk_midas_sjukpenning order by _source_line').fetchall() == [
            (1, "100"), (2, "50"), (3, "100")]  # line 4 (37.5) is quarantined
        quarantine = con.execute(
            'select file, line, "column", value, reason_kind from raw._quarantine order by file, line').fetchall()
        assert quarantine == [
            ("fk_midas_sjukpenning.csv", 4, "Omfattning", "37.5", "unknown_code"),
            ("fk_samverkan.csv", 4, "DeltagAF", "1.5", "unknown_code"),
            ("scb_lisa_2020.csv", 4, "Lan", "1.0", "unknown_code"),
        ]
        assert con.execute('select "DeltagVard" from raw.fk_samverkan order by _source_line').fetchall() == [
            ("1",), ("0",)]
        assert con.execute('select "FodelseAr", "DispInkPersF04" from raw.scb_lisa where year = 2020 '
                           'order by _source_line').fetchall() == [(1980, 1980), (1980, -3)]
        assert con.execute("select file, rows_in, rows_loaded, rows_quarantined from raw._load_log "
                           "where file in ('fk_midas_sjukpenning.csv', 'fk_samverkan.csv', 'scb_lisa_2020.csv') "
                           "order by file").fetchall() == [
            ("fk_midas_sjukpenning.csv", 4, 3, 1), ("fk_samverkan.csv", 3, 2, 1), ("scb_lisa_2020.csv", 3, 2, 1)]
