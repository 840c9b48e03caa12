"""All or nothing: refusals, failures half-way, repeated loads and replacing a delivery."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from data_schemas.extracts import extract
from koord.errors import ContractViolation, DeliveryRefused
from pipeline.ingest import load as load_module

from .builder import MANIFEST, personnummer, valid_rows, write_delivery, write_extract


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".koord-ingest-"))


def _content(loaded) -> dict[str, list[tuple]]:
    tables = [r[0] for r in loaded.rows("select table_name from duckdb_tables() where schema_name = 'raw' order by 1")]
    skip_time = {"_delivery": "loaded_at", "_manifest": "loaded_at", "_load_log": "seconds"}
    return {t: loaded.rows(f"select * exclude ({skip_time[t]}) from raw.{t} order by all" if t in skip_time
                           else f"select * from raw.{t} order by all") for t in tables}


def test_loading_the_same_delivery_again_changes_nothing(tmp_path, load):
    delivery = write_delivery(tmp_path / "d", manifest=MANIFEST)
    first = load(delivery)
    digest = _digest(first.warehouse)
    before = _content(first)
    second = load(delivery)
    assert second.summary.status == "unchanged"
    assert _digest(second.warehouse) == digest and _content(second) == before
    assert not (tmp_path / "warehouse.duckdb.wal").exists()


def test_another_delivery_needs_replace(tmp_path, load):
    d1 = tmp_path / "d1"
    d1.mkdir()
    write_extract(d1, "scb_migrationer", n=3)
    d2 = tmp_path / "d2"
    d2.mkdir()
    write_extract(d2, "scb_migrationer", n=5)
    write_extract(d2, "scb_dodsorsak", n=1)
    first = load(d1)
    digest = _digest(first.warehouse)
    with pytest.raises(DeliveryRefused, match="already holds delivery 'd1'.*--replace"):
        load(d2)
    assert _digest(first.warehouse) == digest
    replaced = load(d2, replace=True)
    assert replaced.rows("select count(*) from raw.scb_migrationer") == [(5,)]
    assert replaced.rows("select delivery_name from raw._delivery") == [("d2",)]
    assert [r[0] for r in replaced.rows("select file from raw._manifest order by 1")] == [
        "scb_dodsorsak.csv", "scb_migrationer.csv"]


def test_replace_keeps_tables_outside_the_raw_layer(tmp_path, load):
    import duckdb

    d1 = tmp_path / "d1"
    d1.mkdir()
    write_extract(d1, "scb_migrationer", n=3)
    first = load(d1)
    with duckdb.connect(str(first.warehouse)) as con:
        con.execute("create table main.spells as select 42 as spell_id")
    d2 = tmp_path / "d2"
    d2.mkdir()
    write_extract(d2, "scb_migrationer", n=4)
    replaced = load(d2, replace=True)
    assert replaced.rows("select spell_id from main.spells") == [(42,)]


class Boom(RuntimeError):
    pass


def _fail_on_third_file(monkeypatch):
    real = load_module.write_raw_rows
    calls = []

    def failing(con, result):
        calls.append(result.plan.name)
        if len(calls) == 3:
            raise Boom("injected failure after two raw tables were written")
        return real(con, result)

    monkeypatch.setattr(load_module, "write_raw_rows", failing)
    return calls


def test_a_failure_half_way_leaves_no_warehouse_behind(tmp_path, load, monkeypatch):
    delivery = write_delivery(tmp_path / "d", manifest=MANIFEST)
    calls = _fail_on_third_file(monkeypatch)
    with pytest.raises(Boom):
        load(delivery)
    assert len(calls) == 3
    assert not (tmp_path / "warehouse.duckdb").exists()
    assert _leftovers(tmp_path) == []


def test_a_failure_half_way_leaves_an_existing_warehouse_exactly_as_it_was(tmp_path, load, monkeypatch):
    d1 = tmp_path / "d1"
    d1.mkdir()
    write_extract(d1, "scb_migrationer", n=3)
    first = load(d1)
    digest, before = _digest(first.warehouse), _content(first)
    d2 = write_delivery(tmp_path / "d2", n=4, manifest=MANIFEST)
    _fail_on_third_file(monkeypatch)
    with pytest.raises(Boom):
        load(d2, replace=True)
    assert _digest(first.warehouse) == digest and _content(first) == before
    assert _leftovers(tmp_path) == []


PNR_FORMS = ["dash", "plain", "twelve", "twelve_dash", "samordning"]


@pytest.mark.parametrize("form", PNR_FORMS)
def test_personal_identity_numbers_refuse_the_whole_delivery_and_write_nothing(tmp_path, load, form):
    delivery = write_delivery(tmp_path / "d", manifest=MANIFEST)
    ex = extract("fk_samverkan")
    rows = valid_rows(ex, 20)
    header = [c.name for c in ex.columns] + ["Personnummer"]
    for i, r in enumerate(rows):
        r["Personnummer"] = personnummer(i, form) if i % 4 else ""  # some empty values do not dilute the share
    write_extract(delivery, ex.name, rows=rows, columns=header)
    with pytest.raises(DeliveryRefused) as err:
        load(delivery)
    message = str(err.value)
    assert "fk_samverkan.csv: column 'Personnummer' holds personal identity numbers" in message
    assert personnummer(1, form) not in message  # the message must not spread them
    assert not (tmp_path / "warehouse.duckdb").exists() and _leftovers(tmp_path) == []


def test_refusal_leaves_an_existing_warehouse_unchanged(tmp_path, load):
    d1 = tmp_path / "d1"
    d1.mkdir()
    write_extract(d1, "scb_migrationer", n=3)
    first = load(d1)
    digest = _digest(first.warehouse)
    d2 = tmp_path / "d2"
    d2.mkdir()
    ex = extract("scb_migrationer")
    rows = valid_rows(ex, 10)
    for i, r in enumerate(rows):
        r["LopNr"] = personnummer(i, "twelve")  # identity numbers in place of LopNr
    write_extract(d2, ex.name, rows=rows)
    with pytest.raises(DeliveryRefused, match="scb_migrationer.csv: column 'LopNr'"):
        load(d2, replace=True)
    assert _digest(first.warehouse) == digest and _leftovers(tmp_path) == []


def test_identity_numbers_beyond_the_sample_are_found_before_the_warehouse_is_touched(tmp_path, load, monkeypatch):
    monkeypatch.setattr(load_module, "PNR_SAMPLE_ROWS", 2)
    delivery = tmp_path / "d"
    delivery.mkdir()
    ex = extract("skv_agi_manad")
    rows = valid_rows(ex, 12)
    for i, r in enumerate(rows[2:], start=2):
        r["ArbetsgivarId"] = personnummer(i, "dash")  # sole traders' employer id = their personnummer
    write_extract(delivery, ex.name, rows=rows)
    with pytest.raises(DeliveryRefused, match=r"skv_agi_manad.csv: column 'ArbetsgivarId' .*10 of 12 non-empty values, e.g. line 4"):
        load(delivery)
    assert not (tmp_path / "warehouse.duckdb").exists() and _leftovers(tmp_path) == []


def test_running_numbers_of_ten_digits_are_not_identity_numbers(tmp_path, load):
    import random

    rng = random.Random(7)
    delivery = tmp_path / "d"
    delivery.mkdir()
    ex = extract("scb_migrationer")
    rows = valid_rows(ex, 500)
    for r in rows:
        r["LopNr"] = str(rng.randrange(10**9, 10**10))
    write_extract(delivery, ex.name, rows=rows)
    loaded = load(delivery)
    assert loaded.load_log()["scb_migrationer.csv"][1] == 500


def test_a_refused_file_stem_writes_nothing(tmp_path, load):
    delivery = write_delivery(tmp_path / "d")
    (delivery / "extra_register.csv").write_text("LopNr\n1\n")
    with pytest.raises(ContractViolation):
        load(delivery)
    assert not (tmp_path / "warehouse.duckdb").exists() and _leftovers(tmp_path) == []


def test_a_warehouse_in_a_folder_that_does_not_exist_yet_is_created(tmp_path, load):
    delivery = tmp_path / "d"
    delivery.mkdir()
    write_extract(delivery, "scb_migrationer")
    loaded = load(delivery, warehouse=tmp_path / "new" / "folder" / "w.duckdb")
    assert loaded.rows("select count(*) from raw.scb_migrationer") == [(3,)]
