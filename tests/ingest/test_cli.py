"""`koord ingest` on the command line: a per-file table on stdout, errors as messages, exit codes."""

from __future__ import annotations

from pipeline.cli import main

from .builder import MANIFEST, valid_rows, write_delivery, write_extract
from data_schemas.extracts import extract


def test_ingest_prints_a_per_file_table_and_the_quarantine(tmp_path, capsys):
    delivery = write_delivery(tmp_path / "d", manifest=MANIFEST)
    ex = extract("fk_midas_sjukpenning")
    rows = valid_rows(ex, 3)
    rows[2]["Omfattning"] = "30"
    write_extract(delivery, ex.name, rows=rows)
    warehouse = tmp_path / "w.duckdb"
    argv = ["ingest", "--delivery", str(delivery), "--warehouse", str(warehouse), "--memory-limit", "1GB"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "[5/13] fk_midas_sjukpenning.csv: 3 rows in, 2 loaded, 1 quarantined" in err  # enkat_urval is file 3
    line = next(ln for ln in out.splitlines() if ln.startswith(" fk_midas_sjukpenning.csv"))
    assert line.split()[:6] == ["fk_midas_sjukpenning.csv", "fk_midas_sjukpenning", "3", "2", "1", "0"]
    total = next(ln for ln in out.splitlines() if ln.startswith(" total"))
    assert total.split()[1:4] == ["39", "38", "1"]
    assert "raw._quarantine" in out and "unknown_code" in out
    assert "Not in this delivery" not in out

    assert main(argv) == 0
    assert "already loaded, nothing changed" in capsys.readouterr().out


def test_errors_are_messages_with_a_non_zero_exit(tmp_path, capsys):
    delivery = tmp_path / "d"
    delivery.mkdir()
    write_extract(delivery, "scb_migrationer", columns=["LopNr", "Posttyp"])
    code = main(["ingest", "--delivery", str(delivery), "--warehouse", str(tmp_path / "w.duckdb")])
    err = capsys.readouterr().err
    assert code == 2
    assert "koord ingest: error:" in err and "required column 'Datum' is missing" in err
    assert "Traceback" not in err
    assert not (tmp_path / "w.duckdb").exists()
