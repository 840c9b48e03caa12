"""The build as a whole: idempotent, atomic, contracts checked, errors for people, the CLI."""

import duckdb
import pytest

import pipeline.warehouse_models.run as run
from koord.errors import ContractViolation, KoordError
from pipeline.cli import main
from pipeline.warehouse_models.project import RenderedModel, warehouse_models


def deliver_small(raw):
    for lopnr, sex in ((1, "woman"), (2, "man"), (3, "woman")):
        raw.person(lopnr, sex=sex)
        raw.period(lopnr, "2020-01-15", "2020-02-29", sick_start="2020-01-01")
        raw.period(lopnr, "2020-03-04", "2020-05-31", extent="50")
        raw.contact(lopnr, "2020-02-10")
    raw.period(1, "2021-06-01", None)
    raw.death(2, "2020-04-01")
    raw.earnings(3, "202006", 30000)
    return raw


def snapshot(con) -> dict:
    """Every built table's rows in stored order (the build record with its timestamp aside)."""
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "  # views too
        "where table_schema in ('staging', 'intermediate', 'main') and table_name <> '_build' order by all"
    ).fetchall()
    return {f"{s}.{t}": con.execute(f"select * from {s}.{t}").fetchall() for s, t in tables}


def test_rebuilding_gives_identical_tables(make_raw, tmp_path):
    raw = deliver_small(make_raw(path=str(tmp_path / "w.duckdb")))
    raw.build()
    first = snapshot(raw.con)
    assert len(first) == len(warehouse_models()) and first["main.spells"]  # every model, staging views too
    raw.build()
    assert snapshot(raw.con) == first
    assert raw.rows("select count(*) as n from main._build")[0]["n"] == 1


def replace_sql(monkeypatch, name, change):
    """Make the build run `change(sql)` in place of model `name`'s rendered SQL."""
    original = run.build_models

    def build_models(ctx, extracts):
        return [RenderedModel(r.model, change(r.sql)) if r.model.name == name else r for r in original(ctx, extracts)]

    monkeypatch.setattr(run, "build_models", build_models)


def test_a_failure_leaves_the_previous_build_intact(make_raw, tmp_path, monkeypatch):
    raw = deliver_small(make_raw(path=str(tmp_path / "w.duckdb")))
    raw.build()
    before = snapshot(raw.con)
    record = raw.rows("select study_json from main._build")
    replace_sql(monkeypatch, "attrition", lambda _sql: "select error('injected failure') as step_order")
    with pytest.raises(duckdb.Error, match="injected failure"):
        raw.build(gap_days=90, min_spell_days=0)  # a different study: every table would change
    assert snapshot(raw.con) == before
    assert raw.rows("select study_json from main._build") == record


def test_a_broken_contract_is_reported_in_full_and_rolled_back(make_raw, monkeypatch):
    raw = deliver_small(make_raw())
    raw.build()
    before = snapshot(raw.con)
    replace_sql(monkeypatch, "spells", lambda sql: f"select * replace ('holiday' as end_reason, null as sex) from ({sql}) as s")
    with pytest.raises(ContractViolation) as err:
        raw.build()
    message = str(err.value)
    assert "main.spells breaks its contract" in message
    assert "column end_reason: 4 rows hold a value outside" in message and "'holiday'" in message
    assert "column sex: 4 rows are NULL" in message
    assert snapshot(raw.con) == before


def test_no_raw_layer_is_an_error_for_people():
    con = duckdb.connect()
    with pytest.raises(KoordError, match=r"no raw layer: run `koord ingest` first"):
        run.build_warehouse(con, run.Study(), progress=lambda _: None)


def test_missing_raw_tables_and_columns_are_listed_together(raw):
    raw.con.execute("drop table raw.scb_dodsorsak")
    raw.con.execute('alter table raw.fk_midas_sjukpenning drop column "Omfattning"')
    raw.con.execute("drop table raw.enkat_samverkan")  # not read by the build: no error
    with pytest.raises(ContractViolation) as err:
        raw.build()
    message = str(err.value)
    assert "raw.scb_dodsorsak is missing" in message
    assert "raw.fk_midas_sjukpenning lacks column(s) Omfattning" in message
    assert "enkat" not in message


def test_a_delivery_without_extraction_date_is_an_error(raw):
    raw.con.execute("delete from raw._delivery")
    with pytest.raises(KoordError, match="raw._delivery must hold one row"):
        raw.build()


def test_the_command_line_builds_and_summarises(make_raw, tmp_path, capsys):
    path = tmp_path / "w.duckdb"
    raw = deliver_small(make_raw(path=str(path)))
    raw.con.close()
    assert main(["build", "--warehouse", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "koord build: 4 spells of 3 persons, follow-up to 2025-03-31" in out
    assert "coordinated (GC001)" in out and "return_to_work" in out and "woman" in out
    assert "main.spells: 4 rows" in err  # progress on stderr
    con = duckdb.connect(str(path))
    assert con.execute("select count(*) from main.spells").fetchone()[0] == 4
    con.close()


def test_the_command_line_reports_errors_without_traceback(tmp_path, capsys):
    assert main(["build", "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    assert "no warehouse at" in capsys.readouterr().err
    bad = tmp_path / "study.toml"
    bad.write_text("[spells]\ngap_days = 0\n[outcome]\nreturn_to_work = 'x'\n", encoding="utf-8")
    assert main(["build", "--warehouse", str(tmp_path / "none.duckdb"), "--study", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "has 2 errors" in err and "gap_days" in err and "return_to_work" in err
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert main(["build", "--warehouse", str(empty)]) == 2
    assert "the warehouse has no raw layer: run `koord ingest` first" in capsys.readouterr().err
