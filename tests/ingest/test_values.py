"""Values that are kept but reported: date forms, day 00, decimal commas, diagnosis codes, cross-file checks."""

from __future__ import annotations

from datetime import date

import duckdb

from data_schemas.extracts import Column, Extract, extract
from pipeline.ingest import readers, validate

from .builder import MANIFEST, valid_rows, write_extract


def test_yyyymmdd_dates_load_and_are_counted(delivery, load):
    ex = extract("af_inskrivning")
    rows = valid_rows(ex, 3)
    rows[0]["InskrDatum"], rows[2]["InskrDatum"], rows[2]["AvaktDatum"] = "20210105", "20210107", "20211231"
    write_extract(delivery, ex.name, rows=rows)
    loaded = load(delivery)
    assert loaded.rows('select "InskrDatum", "AvaktDatum" from raw.af_inskrivning order by _source_line')[::2] == [
        (date(2021, 1, 5), date(2021, 6, 30)), (date(2021, 1, 7), date(2021, 12, 31))]
    assert loaded.warnings() == {("af_inskrivning.csv", "InskrDatum", "yyyymmdd_date"): 2,
                                 ("af_inskrivning.csv", "AvaktDatum", "yyyymmdd_date"): 1}
    detail = loaded.rows("select detail from raw._warnings where \"column\" = 'InskrDatum'")[0][0]
    assert "line 2: '20210105'" in detail


def test_day_00_reads_as_the_15th_and_is_flagged_where_the_contract_allows_it(delivery, load):
    ex = extract("scb_dodsorsak")
    rows = valid_rows(ex, 3)
    rows[0]["DodDatum"], rows[1]["DodDatum"] = "2021-03-00", "20210400"
    write_extract(delivery, ex.name, rows=rows)
    loaded = load(delivery)
    assert loaded.rows('select "DodDatum", "DodDatum_day_unknown" from raw.scb_dodsorsak order by _source_line') == [
        (date(2021, 3, 15), True), (date(2021, 4, 15), True), (date(2021, 1, 17), False)]
    w = loaded.warnings()
    assert w[("scb_dodsorsak.csv", "DodDatum", "day_unknown")] == 2
    assert w[("scb_dodsorsak.csv", "DodDatum", "yyyymmdd_date")] == 1


def test_diagnosis_codes_not_in_canonical_form_are_counted_not_quarantined(delivery, load):
    ex = extract("fk_midas_sjukpenning")
    rows = valid_rows(ex, 7)
    for r, code in zip(rows, ["F43.8A", "f32.1", "M54-", "F438A", "XYZ", "", "F43.8 A"]):  # one code per value
        r["Diagnos"] = code
    write_extract(delivery, ex.name, rows=rows)
    vard = extract("vard_kontakter")
    vrows = valid_rows(vard, 3)
    # several codes per value, split on spaces and commas as staging does
    vrows[0]["Diagnoser"], vrows[1]["Diagnoser"], vrows[2]["Diagnoser"] = "F32 f41.1", "F438A, Z730", "F32 ??"
    write_extract(delivery, vard.name, rows=vrows)
    loaded = load(delivery)
    assert loaded.quarantine() == []
    w = loaded.warnings()
    assert w[("fk_midas_sjukpenning.csv", "Diagnos", "noncanonical_diagnosis")] == 4
    assert w[("fk_midas_sjukpenning.csv", "Diagnos", "unparseable_diagnosis")] == 1
    assert w[("vard_kontakter.csv", "Diagnoser", "noncanonical_diagnosis")] == 1
    assert w[("vard_kontakter.csv", "Diagnoser", "unparseable_diagnosis")] == 1
    assert loaded.rows('select "Diagnos" from raw.fk_midas_sjukpenning order by _source_line')[0] == ("F43.8A",)


def test_overlapping_periods_of_one_person_are_counted(delivery, load):
    ex = extract("fk_midas_sjukpenning")
    base = valid_rows(ex, 1)[0]
    periods = [  # each overlap counts once, on the later period
        ("1", "2021-01-01", "2021-01-31"), ("1", "2021-01-31", "2021-02-10"), ("1", "2021-03-01", "2021-03-10"),  # 1
        ("2", "2021-01-01", ""), ("2", "2022-05-01", "2022-05-02"),  # ongoing until the extraction date: 1
        ("3", "2021-01-01", "2021-01-10"), ("3", "2021-01-11", "2021-01-20"),  # adjacent, not overlapping: 0
        ("4", "2021-01-01", "2021-12-31"), ("4", "2021-02-01", "2021-02-10"), ("4", "2021-02-05", "2021-03-10"),  # 2
        ("5", "2021-01-01", "2021-01-10"), ("5", "2021-01-01", "2021-01-20"),  # same start: 1
    ]
    rows = [dict(base, LopNr=p, FomDatum=s, TomDatum=e, InsjuknandeDatum=s) for p, s, e in periods]
    write_extract(delivery, ex.name, rows=rows)
    (delivery / "manifest.toml").write_text(MANIFEST)
    loaded = load(delivery)
    assert loaded.warnings() == {("fk_midas_sjukpenning.csv", "FomDatum", "overlapping_period"): 5}


def test_persons_missing_from_every_lisa_year_are_orphans(delivery, load):
    write_extract(delivery, "scb_lisa", year=2020, n=2)  # persons 1, 2
    write_extract(delivery, "scb_lisa", year=2021, n=3)  # persons 1, 2, 3
    write_extract(delivery, "scb_migrationer", n=5)  # persons 1..5: 4 and 5 are orphans
    write_extract(delivery, "enkat_samverkan", n=2)  # not person-level
    loaded = load(delivery)
    assert loaded.warnings() == {("scb_migrationer.csv", "LopNr", "orphan_person"): 2}


def test_extraction_date_comes_from_the_manifest_else_the_latest_date_seen(delivery, load, tmp_path):
    write_extract(delivery, "af_inskrivning", n=3)  # latest date: AvaktDatum 2021-07-02
    loaded = load(delivery)
    assert loaded.rows("select delivery_name, extraction_date, extraction_date_source from raw._delivery") == [
        ("delivery", date(2021, 7, 2), "latest date seen: af_inskrivning.AvaktDatum")]
    assert any("no extraction_date in manifest.toml" in n for n in loaded.summary.notes)
    (delivery / "manifest.toml").write_text(MANIFEST)
    loaded = load(delivery, warehouse=tmp_path / "other.duckdb")
    assert loaded.rows("select delivery_name, extraction_date from raw._delivery") == [
        ("test-delivery", date(2025, 3, 31))]


def _run_checks(ex: Extract, values: list[dict[str, str | None]]):
    """Quarantine and typed rows of the validation SQL on in-memory rows (for contracts not in the registry)."""
    con = duckdb.connect()
    names = [c.name for c in ex.columns]
    con.execute("create table delivered (_line bigint, " + ", ".join(f'"{n}" varchar' for n in names) + ")")
    con.executemany(f"insert into delivered values ({', '.join('?' * (len(names) + 1))})",
                    [[i + 2] + [v.get(n) for n in names] for i, v in enumerate(values)])
    con.execute("create table stage as select _line, "
                + ", ".join(f'{readers.clean_sql(chr(34) + n + chr(34))} as "{n}"' for n in names) + " from delivered")
    cleaned = validate.cleaned_select(ex, set(names), "stage")
    quarantined = con.execute(validate.quarantine_sql(ex, set(names), cleaned, "t.csv")).fetchall()
    bad = ", ".join(str(q[2]) for q in quarantined) or "-1"
    typed = con.execute(f"select {validate.typed_select(ex, None, 't.csv')} from ({cleaned}) "
                        f"where _line not in ({bad}) order by _line").fetchall()
    specs = validate.warning_specs(ex)
    counts = con.execute(validate.warning_aggregate_sql(specs, f"({cleaned})")).fetchone()
    return quarantined, typed, {(s.column, s.kind): counts[3 * i] for i, s in enumerate(specs)}


def test_decimal_columns_accept_a_decimal_comma_and_count_it():
    ex = Extract(name="test_decimal", source="test", title_sv="test", grain="one row per test", description="",
                 columns=(Column("Id", "id", "integer", "", positive=True),
                          Column("Belopp", "amount", "decimal", "", nullable=True, min_value=0)))
    quarantined, typed, warnings = _run_checks(ex, [
        {"Id": "1", "Belopp": "12,5"}, {"Id": "2", "Belopp": "3.25"}, {"Id": "3", "Belopp": "1,2,3"},
        {"Id": "4", "Belopp": "-1"}, {"Id": "5", "Belopp": ""}])
    assert [(q[2], q[3], q[6]) for q in quarantined] == [(4, "Belopp", "not_a_number"), (5, "Belopp", "out_of_range")]
    assert [t[1] for t in typed] == [12.5, 3.25, None]
    assert warnings[("Belopp", "decimal_comma")] == 2


def test_typing_of_checked_rows_agrees_with_the_checks_on_every_valid_form():
    """`typed_value` (used on rows that passed) gives what `parsed` (used to check) gives."""
    from data_schemas.extracts import EXTRACTS

    from .builder import valid_value

    con = duckdb.connect()
    forms = {"integer": ["+5", "-12", "0042"], "date": ["20210105", "2021-12-31", "2020-02-29"],
             "yearmonth": ["202112"], "decimal": ["12,5", "-0.25", ",5", "3."]}
    for ex in EXTRACTS:
        for col in ex.columns:
            values = [valid_value(ex, col, i) for i in range(3)] + forms.get(col.dtype, [])
            if col.day_may_be_unknown:
                values += ["2021-03-00", "20210400"]
            for v in values:
                lit = "'" + v + "'"
                parsed, typed = con.execute(
                    f"select {validate.parsed(col, lit)}, {validate.typed_value(col, lit)}").fetchone()
                assert parsed is not None and parsed == typed, (ex.name, col.name, v)
    decimal = Column("Belopp", "amount", "decimal", "")
    for v in forms["decimal"]:
        lit = "'" + v + "'"
        assert con.execute(f"select {validate.parsed(decimal, lit)} = {validate.typed_value(decimal, lit)}").fetchone()[0]
