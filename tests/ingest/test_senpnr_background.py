"""SCB's person files as they come: a LopNr repeated under SenPNr, and scb_bakgrund.

- `SenPNr` (optional): a LopNr may repeat within a LISA year when the person's identity number
  changed; the rows are kept in raw, counted (`senpnr_repeat`), and the models use the row
  with SenPNr = 1. A person and year with no such row keeps its rows. Without the column a
  repeat is what it was (an identical row is an exact duplicate).
- `scb_bakgrund` (optional): region of birth as codes 1-4 or as labels; both give the same
  persons; an unknown label is quarantined naming the labels; it takes precedence over LISA.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from .builder import MANIFEST, valid_rows, write_csv, write_delivery, write_extract
from data_schemas.extracts import extract
from data_schemas.study import Study
from pipeline.warehouse_models import build_warehouse

LISA = extract("scb_lisa")
HEADER = [c.name for c in LISA.columns]  # builder's delivered_header maps Sun2000Niva per year


def _lisa(delivery: Path, year: int, rows: list[dict], with_senpnr: bool = True) -> None:
    columns = [c for c in HEADER if with_senpnr or c != "SenPNr"]
    write_extract(delivery, "scb_lisa", rows=rows, year=year, columns=columns)


def _base(path: Path) -> Path:
    """The builder's valid delivery of persons 1-3 (LISA 2020 and 2021); persons 1 and 2 have a studied spell."""
    return write_delivery(path, n=3, manifest=MANIFEST)


def _build(warehouse: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(warehouse))
    build_warehouse(con, Study(missing_lisa_years="allow"), progress=lambda _: None)  # LISA 2020-2021 only
    return con


def _with_earlier_identity(rows: list[dict], person: int, *, before: bool = False, senpnr: str = "0") -> list[dict]:
    """`rows` (SenPNr = 1 throughout) with an earlier identity of `person`: other sex, region and income."""
    rows = [{**r, "SenPNr": "1"} for r in rows]
    i = next(k for k, r in enumerate(rows) if r["LopNr"] == str(person))
    old = {**rows[i], "SenPNr": senpnr, "Kon": "2" if rows[i]["Kon"] == "1" else "1", "Lan": "12", "Kommun": "1280",
           "DispInkPersF04": "1"}
    rows.insert(i if before else i + 1, old)
    return rows


def test_repeated_lopnr_rows_are_kept_counted_and_the_current_identity_is_used(tmp_path, load):
    delivery = _base(tmp_path / "delivery")
    base = valid_rows(LISA, 3)
    _lisa(delivery, 2020, _with_earlier_identity(base, 1))
    _lisa(delivery, 2021, _with_earlier_identity(base, 1, before=True))
    loaded = load(delivery)

    assert loaded.quarantine("scb_lisa_2020.csv") == loaded.quarantine("scb_lisa_2021.csv") == []
    assert loaded.load_log()["scb_lisa_2020.csv"] == (4, 4, 0)
    assert loaded.rows('select year, "SenPNr", "Lan" from raw.scb_lisa where "LopNr" = 1 order by year, "SenPNr"') == [
        (2020, "0", "12"), (2020, "1", "01"), (2021, "0", "12"), (2021, "1", "01")]
    warnings = loaded.warnings()
    assert warnings[("scb_lisa_2020.csv", "SenPNr", "senpnr_repeat")] == 2  # both rows of the one person
    assert warnings[("scb_lisa_2021.csv", "SenPNr", "senpnr_repeat")] == 2
    detail = loaded.rows("select detail from raw._warnings where kind = 'senpnr_repeat' and file = 'scb_lisa_2020.csv'")[0][0]
    assert "1 persons" in detail and "SenPNr = 1 are used" in detail and "line 3" in detail

    con = _build(loaded.warehouse)
    try:
        current = con.execute("select person_id, year, sex_code, region_code from intermediate.int_lisa_years_current "
                              "order by all").fetchall()
        assert [(p, y) for p, y, *_ in current] == [(p, y) for p in (1, 2, 3) for y in (2020, 2021)]
        assert [(s, r) for p, y, s, r in current if p == 1] == [(base[0]["Kon"], "01")] * 2
        persons = dict(con.execute("select person_id, has_sex_changed from intermediate.int_persons_joined").fetchall())
        assert persons[1] is False  # the earlier identity's other sex is not a change of sex
        spell = con.execute("select home_region_code, disposable_income_hsek from main.spells where person_id = 1").fetchall()
        assert spell == [("01", int(base[0]["DispInkPersF04"]))]
    finally:
        con.close()


def test_a_person_without_a_current_row_keeps_its_rows_and_the_warning_says_so(tmp_path, load):
    delivery = _base(tmp_path / "delivery")
    rows = _with_earlier_identity(valid_rows(LISA, 3), 2)
    rows = [{**r, "SenPNr": "0"} if r["LopNr"] == "2" else r for r in rows]
    _lisa(delivery, 2020, rows)
    loaded = load(delivery)
    assert loaded.warnings()[("scb_lisa_2020.csv", "SenPNr", "senpnr_repeat")] == 2
    detail = loaded.rows("select detail from raw._warnings where kind = 'senpnr_repeat'")[0][0]
    assert "1 of these persons have no row with SenPNr = 1 and keep all their rows" in detail
    con = _build(loaded.warehouse)
    try:
        assert con.execute("select count(*) from intermediate.int_lisa_years_current where person_id = 2 and year = 2020"
                           ).fetchone()[0] == 2
    finally:
        con.close()


def test_without_senpnr_a_repeated_row_is_what_it_was(tmp_path, load):
    """No SenPNr column: an identical repeat is an exact duplicate (quarantined), no senpnr_repeat warning."""
    delivery = _base(tmp_path / "delivery")
    rows = valid_rows(LISA, 3)
    _lisa(delivery, 2020, [*rows, rows[0]], with_senpnr=False)
    loaded = load(delivery)
    assert [q[4] for q in loaded.quarantine("scb_lisa_2020.csv")] == ["exact_duplicate"]
    assert not [k for k in loaded.warnings() if k[2] == "senpnr_repeat"]
    assert loaded.rows('select count(*) from raw.scb_lisa where year = 2020 and "SenPNr" is not null') == [(0,)]


def _background(delivery: Path, values: list[str], encoding: str = "utf-8") -> None:
    write_csv(delivery / "scb_bakgrund.csv", ["LopNr", "FodGrEg4"],
              [[str(i + 1), v] for i, v in enumerate(values)], encoding=encoding)


def _persons_born(warehouse: Path) -> list[tuple]:
    con = _build(warehouse)
    try:
        return con.execute("select person_id, birth_region_code, is_born_in_sweden from main.spells order by all").fetchall()
    finally:
        con.close()


def test_scb_bakgrund_as_labels_and_as_codes_gives_the_same_persons(tmp_path, load):
    got = {}
    for form, values, enc in (("codes", ["1", "2", "4"], "utf-8"),
                              ("labels", ["Sverige", "norden utom SVERIGE", "Övriga världen"], "latin-1")):
        delivery = _base(tmp_path / form / "delivery")
        # LISA says 3 for everyone: the background file takes precedence
        for year in (2020, 2021):
            _lisa(delivery, year, [{**r, "FodGrEg4": "3"} for r in valid_rows(LISA, 3)])
        _background(delivery, values, enc)
        loaded = load(delivery, warehouse=tmp_path / form / "warehouse.duckdb")
        assert loaded.quarantine("scb_bakgrund.csv") == []
        assert loaded.rows('select "LopNr", "FodGrEg4" from raw.scb_bakgrund order by 1') == [(1, "1"), (2, "2"), (3, "4")]
        labels = loaded.warnings().get(("scb_bakgrund.csv", "FodGrEg4", "code_label"))
        assert labels == (3 if form == "labels" else None)
        got[form] = _persons_born(loaded.warehouse)
    assert got["labels"] == got["codes"] == [(1, "1", True), (2, "2", False)]


def test_an_unknown_birth_region_label_is_quarantined_naming_the_labels(tmp_path, load):
    delivery = _base(tmp_path / "delivery")
    _background(delivery, ["Sverige", "Afrika", "4"])
    loaded = load(delivery)
    q = loaded.quarantine("scb_bakgrund.csv")
    assert [(line, col, value, kind) for _f, line, col, value, kind, _r in q] == [(3, "FodGrEg4", "Afrika", "unknown_code")]
    reason = q[0][5]
    assert "'Sverige' = 1" in reason and "'EU28 utom Norden' = 3" in reason and "'Övriga världen' = 4" in reason


def test_without_scb_bakgrund_the_birth_region_is_lisas(tmp_path, load):
    delivery = _base(tmp_path / "delivery")
    (delivery / "scb_bakgrund.csv").unlink()
    for year in (2020, 2021):
        _lisa(delivery, year, [{**r, "FodGrEg4": "4"} for r in valid_rows(LISA, 3)], with_senpnr=False)
    loaded = load(delivery)
    assert "scb_bakgrund" in loaded.summary.absent_extracts
    assert _persons_born(loaded.warehouse) == [(1, "4", False), (2, "4", False)]


def test_the_data_dictionary_shows_the_background_file_and_its_labels():
    from data_schemas.dictionary import _extract_rows

    rows = {(r.table, r.column): r for r in _extract_rows(extract("scb_bakgrund"))}
    assert "'Norden utom Sverige' = 2" in rows[("scb_bakgrund", "FodGrEg4")].allowed
    assert rows[("scb_bakgrund", "SenPNr")].required is False
