"""Rows that break their contract go to raw._quarantine with file, line, column, value and reason."""

from __future__ import annotations

import pytest

from data_schemas.extracts import extract

from .builder import valid_rows, write_extract

# (extract, column, bad value, reason_kind); the bad value is put on the 2nd data row (line 3).
BAD_VALUES = [
    ("fk_midas_sjukpenning", "LopNr", "abc", "not_an_integer"),
    ("fk_midas_sjukpenning", "LopNr", "12.5", "not_an_integer"),
    ("fk_midas_sjukpenning", "LopNr", "0", "not_positive"),
    ("fk_midas_sjukpenning", "LopNr", "-4", "not_positive"),
    ("scb_lisa", "FodelseAr", "1850", "out_of_range"),
    ("fk_midas_sjukpenning", "FomDatum", "2021-02-30", "not_a_date"),
    ("fk_midas_sjukpenning", "FomDatum", "15/01/2021", "not_a_date"),
    ("fk_midas_sjukpenning", "FomDatum", "2021-03-00", "not_a_date"),  # day 00 not allowed here
    ("skv_agi_manad", "Period", "202113", "not_a_date"),
    ("skv_agi_manad", "Period", "2021-03", "not_a_date"),
    ("fk_midas_sjukpenning", "Omfattning", "30", "unknown_code"),
    ("scb_lisa", "Lan", "1", "unknown_code"),
    ("scb_migrationer", "Posttyp", "Emig", "unknown_code"),
    ("scb_lisa", "Kommun", "18A", "pattern_mismatch"),
    ("fk_midas_sjukpenning", "Formankod", "", "missing_required_value"),
    ("fk_midas_sjukpenning", "InsjuknandeDatum", "  ", "missing_required_value"),
    ("fk_midas_sjukpenning", "TomDatum", "2020-12-31", "end_before_start"),
    ("af_inskrivning", "AvaktDatum", "20201231", "end_before_start"),
]


@pytest.mark.parametrize("extract_name, column, value, kind", BAD_VALUES,
                         ids=[f"{k}-{c}-{v!r}" for _, c, v, k in BAD_VALUES])
def test_a_bad_value_is_quarantined_with_its_line_and_reason(delivery, load, extract_name, column, value, kind):
    ex = extract(extract_name)
    rows = valid_rows(ex, 3)
    rows[1][column] = value
    path = write_extract(delivery, extract_name, rows=rows)
    loaded = load(delivery)
    [(file, line, col, got_value, got_kind, reason)] = loaded.quarantine()
    assert (file, line, col, got_kind) == (path.name, 3, column, kind)
    assert got_value == (value.strip() or None)
    assert reason
    assert loaded.load_log()[path.name] == (3, 2, 1)
    lines = [r[0] for r in loaded.rows(f"select _source_line from raw.{ex.name} order by 1")]
    assert lines == [2, 4]


def test_every_failing_check_of_a_row_is_listed(delivery, load):
    ex = extract("fk_midas_sjukpenning")
    rows = valid_rows(ex, 2)
    rows[0].update(Omfattning="30", Sysselsattning="STUD", TomDatum="2020-01-01")
    write_extract(delivery, ex.name, rows=rows)
    loaded = load(delivery)
    assert {(q[1], q[2], q[4]) for q in loaded.quarantine()} == {
        (2, "Omfattning", "unknown_code"), (2, "Sysselsattning", "unknown_code"), (2, "TomDatum", "end_before_start")}
    assert loaded.load_log()["fk_midas_sjukpenning.csv"] == (2, 1, 1)


def test_exact_duplicates_after_the_first_are_quarantined_naming_the_first_line(delivery, load):
    ex = extract("fk_midas_sjukpenning")
    rows = valid_rows(ex, 3)
    near_copy = dict(rows[0], Omfattning="100" if rows[0]["Omfattning"] != "100" else "50")
    rows = rows + [dict(rows[0]), near_copy, dict(rows[0]), dict(rows[2])]
    # lines: 2 3 4 | 5 = copy of line 2, 6 differs in one column, 7 = copy of line 2, 8 = copy of line 4
    write_extract(delivery, ex.name, rows=rows)
    loaded = load(delivery)
    got = [(q[1], q[4], q[5]) for q in loaded.quarantine()]
    assert got == [
        (5, "exact_duplicate", "exact duplicate of line 2 (every column equal)"),
        (7, "exact_duplicate", "exact duplicate of line 2 (every column equal)"),
        (8, "exact_duplicate", "exact duplicate of line 4 (every column equal)"),
    ]
    assert loaded.load_log()["fk_midas_sjukpenning.csv"] == (7, 4, 3)


def test_duplicates_compare_values_after_trimming(delivery, load):
    ex = extract("scb_migrationer")
    rows = valid_rows(ex, 1)
    rows.append({k: f" {v} " for k, v in rows[0].items()})
    write_extract(delivery, ex.name, rows=rows)
    assert [(q[1], q[4]) for q in load(delivery).quarantine()] == [(3, "exact_duplicate")]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_line_numbers_stay_physical_after_blank_lines(delivery, load, newline):
    text = "LopNr;Datum;Posttyp\n1;2021-01-01;Inv\n\n2;2021-01-01;Utv\n\n\n3;2021-01-01;XXX\n4;bad;Inv\n\n"
    (delivery / "scb_migrationer.csv").write_bytes(text.replace("\n", newline).encode())
    loaded = load(delivery)
    assert [(q[1], q[2]) for q in loaded.quarantine()] == [(7, "Posttyp"), (8, "Datum")]
    assert loaded.rows("select _source_line from raw.scb_migrationer order by 1") == [(2,), (4,)]


def test_line_numbers_hold_in_a_file_read_in_parallel_chunks(delivery, load):
    n = 300_000
    body = "".join(f"{i};2021-01-01;Inv\n" for i in range(1, n + 1))
    body = body.replace(f"\n{n - 5};2021-01-01;Inv\n", f"\n{n - 5};2021-01-01;BAD\n")
    (delivery / "scb_migrationer.csv").write_text("LopNr;Datum;Posttyp\n" + body)
    loaded = load(delivery)
    assert [(q[1], q[3]) for q in loaded.quarantine()] == [(n - 5 + 1, "BAD")]
    assert loaded.rows('select count(*) from raw.scb_migrationer where _source_line <> "LopNr" + 1') == [(0,)]
