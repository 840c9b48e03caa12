"""What `koord synth` plants as a real delivery carries it is what ingest counts, in CSV and Parquet.

- SenPNr repeats (truth["variants"]["senpnr_repeat"]): the warning `senpnr_repeat` counts both
  rows of each repeated person, per LISA file; nothing of them is quarantined.
- scb_bakgrund's labels (truth["variants"]["scb_bakgrund"]): the warning `code_label`.
- ASJP periods (truth["variants"]["asjp_periods"]): a known benefit code, loaded without a warning.
- Whole numbers written as decimals (truth["faults"]["rows"][stem]["integral_decimal"], a fault
  kind that is not quarantined): the warning `integral_decimal`, per file and per column.
"""

from __future__ import annotations

import re

import duckdb
import pytest

from pipeline.ingest import ingest_delivery

synth = pytest.importorskip("pipeline.synth")

PERSONS = 2_000
INTEGRAL_DECIMAL = re.compile(r"^[+-]?[0-9]+[.,]0+$")


@pytest.fixture(scope="module", params=["csv", "parquet"])
def faulted(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"variants_{request.param}")
    truth = synth.write_delivery(root / "delivery", persons=PERSONS, seed=23, faults=True, fmt=request.param,
                                 truth_path=root / "truth.json")
    ingest_delivery(root / "delivery", root / "warehouse.duckdb", memory_limit="2GB")
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    yield truth, con
    con.close()


def _warnings(con, kind: str, by_column: bool = False) -> dict:
    rows = con.execute(f"select file, \"column\", n_rows from raw._warnings where kind = '{kind}'").fetchall()
    out: dict = {}
    for file, column, n in rows:
        stem = file.rsplit(".", 1)[0]
        if by_column:
            out.setdefault(stem, {})[column] = out.get(stem, {}).get(column, 0) + n
        else:
            out[stem] = out.get(stem, 0) + n
    return out


def test_senpnr_repeats_are_counted_as_planted_and_kept(faulted):
    truth, con = faulted
    repeats = truth["variants"]["senpnr_repeat"]
    assert repeats["total"] > 0 and set(repeats["rows"]) == {f"scb_lisa_{y}" for y in truth["window"]["lisa_years"]}
    assert _warnings(con, "senpnr_repeat") == repeats["warned_rows"]
    assert con.execute("""select count(*) from raw.scb_lisa where "SenPNr" = '0'""").fetchone()[0] == repeats["total"]
    assert con.execute("select count(*) from raw._quarantine where file like 'scb_lisa_%' and reason_kind <> 'unknown_code'"
                       ).fetchone()[0] == 0


def test_background_labels_are_counted_as_planted(faulted):
    truth, con = faulted
    bg = truth["variants"]["scb_bakgrund"]
    assert bg["labels"] > 0 and bg["codes"] > 0
    assert _warnings(con, "code_label") == {"scb_bakgrund": bg["labels"]}
    stem = "scb_bakgrund." + truth["format"]
    assert con.execute("select rows_in, rows_loaded, rows_quarantined from raw._load_log where file = ?", [stem]
                       ).fetchone() == (bg["rows"], bg["rows"], 0)
    # every value read as a code 1-4, labels included
    assert {v for (v,) in con.execute('select distinct "FodGrEg4" from raw.scb_bakgrund').fetchall()} == {"1", "2", "3", "4"}


def test_asjp_periods_load_as_a_known_code_without_a_warning(faulted):
    truth, con = faulted
    n = truth["variants"]["asjp_periods"]["rows"]
    assert n > 0
    # the faults copy a few periods (exact duplicates, kept or quarantined); count distinct lines of the file
    loaded = con.execute("""select count(*) from raw.fk_midas_sjukpenning where "Formankod" = 'ASJP'""").fetchone()[0]
    assert loaded >= n
    kept = _warnings(con, "unknown_code_kept").get("fk_midas_sjukpenning", 0)
    assert kept == truth["faults"]["rows"]["fk_midas_sjukpenning"].get("unknown_code_kept", 0)  # XXX only, never ASJP


def test_whole_numbers_written_as_decimals_are_warnings_as_planted_not_quarantine(faulted):
    truth, con = faulted
    planted = {stem: kinds["integral_decimal"] for stem, kinds in truth["faults"]["rows"].items()
               if "integral_decimal" in kinds}
    assert set(planted) >= {"fk_midas_sjukpenning", "fk_samverkan"} and any(s.startswith("scb_lisa_") for s in planted)
    assert "integral_decimal" not in truth["faults"]["quarantined_kinds"]
    # one column per planted row: the per-file sum of the per-column warnings is the rows planted
    assert _warnings(con, "integral_decimal") == planted
    assert _warnings(con, "integral_decimal", by_column=True) == truth["faults"]["integral_decimal_cells_by_column"]
    values = [v for (v,) in con.execute("select value from raw._quarantine where value is not null").fetchall()]
    assert not [v for v in values if INTEGRAL_DECIMAL.match(str(v))]
