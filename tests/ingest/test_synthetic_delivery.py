"""End to end on a faulted synthetic delivery: every planted fault is quarantined or reported, as counted."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.ingest import ingest_delivery
from pipeline.ingest.validate import REASON_KINDS, WARNING_KINDS as INGEST_WARNING_KINDS

synth = pytest.importorskip("pipeline.synth")

PERSONS = 2_000
QUARANTINE_KINDS = ("exact_duplicate", "end_before_start", "unknown_code")
# generator's name -> ingestion's warning kind
WARNING_KINDS = {"orphan_person": "orphan_person", "diagnosis_variant": "noncanonical_diagnosis",
                 "overlapping_period": "overlapping_period"}


@pytest.fixture(scope="module", params=["csv", "parquet"])
def faulted(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"synthetic_{request.param}")
    truth = synth.write_delivery(root / "delivery", persons=PERSONS, seed=11, faults=True, fmt=request.param,
                                 truth_path=root / "truth.json")
    summary = ingest_delivery(root / "delivery", root / "warehouse.duckdb", memory_limit="2GB")
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    yield truth, summary, con, root
    con.close()


def _stem(file: str) -> str:
    return Path(file).stem


def test_quarantine_counts_equal_the_planted_faults(faulted):
    truth, _, con, _ = faulted
    got = {(_stem(f), k): n for f, k, n in con.execute(
        "select file, reason_kind, count(distinct line) from raw._quarantine group by all").fetchall()}
    expected = {(stem, k): n for stem, kinds in truth["faults"]["rows"].items()
                for k, n in kinds.items() if k in QUARANTINE_KINDS}
    assert expected, "the generator planted no quarantine faults"
    assert got == expected


def test_warning_counts_equal_the_planted_faults(faulted):
    truth, _, con, _ = faulted
    got = {(_stem(f), k): n for f, k, n in con.execute(
        "select file, kind, sum(n_rows) from raw._warnings group by all").fetchall()}
    for stem, kinds in truth["faults"]["rows"].items():
        for kind, n in kinds.items():
            if kind in WARNING_KINDS:
                assert got.get((stem, WARNING_KINDS[kind])) == n, (stem, kind)
    yyyymmdd = {(_stem(f), c): n for f, c, n in con.execute(
        "select file, \"column\", n_rows from raw._warnings where kind = 'yyyymmdd_date'").fetchall()}
    assert yyyymmdd == {(stem, c): n for stem, cols in truth["faults"]["yyyymmdd_cells_by_column"].items()
                        for c, n in cols.items() if n}
    extra = {(_stem(f), c) for f, c in con.execute(
        "select file, \"column\" from raw._warnings where kind = 'extra_column'").fetchall()}
    assert extra == {(stem, c) for stem, cols in truth["faults"]["files"]["extra_columns"].items() for c in cols}


def test_encodings_and_delimiters_left_out_of_the_manifest_are_detected(faulted):
    truth, _, con, _ = faulted
    if truth["format"] == "parquet":  # encoding and delimiter faults are planted in CSV deliveries only
        assert con.execute("select distinct format, encoding, delimiter from raw._manifest").fetchall() == [
            ("parquet", None, None)]
        return
    manifest = {_stem(f): (e, d, s) for f, e, d, s in con.execute(
        "select file, encoding, delimiter, encoding_source from raw._manifest").fetchall()}
    files = truth["faults"]["files"]
    assert {s for s, (e, _, src) in manifest.items() if e == "latin-1"} == set(files["latin1"])
    assert all(manifest[s][2] == "detected" for s in files["latin1"])
    for stem, delimiter in files["delimiter"].items():
        assert manifest[stem][1] == delimiter
    # å ä ö survive the Latin-1 files
    assert con.execute("select count(*) from raw.vard_kontakter where \"VardenhetId\" like '%Å%'").fetchone()[0] > 0


def test_every_reason_and_warning_is_of_a_declared_kind(faulted):
    _, _, con, _ = faulted
    assert {k for (k,) in con.execute("select distinct reason_kind from raw._quarantine").fetchall()} <= set(REASON_KINDS)
    assert {k for (k,) in con.execute("select distinct kind from raw._warnings").fetchall()} <= set(INGEST_WARNING_KINDS)


def test_every_row_is_loaded_or_quarantined(faulted):
    _, summary, con, root = faulted
    assert not (root / "delivery" / "truth.json").exists()  # the truth stays outside the delivery
    for file, rows_in, loaded, quarantined in con.execute(
            "select file, rows_in, rows_loaded, rows_quarantined from raw._load_log").fetchall():
        assert rows_in == loaded + quarantined, file
    assert con.execute("select extraction_date::varchar from raw._delivery").fetchone()[0] == "2025-03-31"
    assert not any(r.rows_in == 0 for r in summary.files)
