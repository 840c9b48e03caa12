"""A delivery with the names registers really use equals the same delivery with the contract's names.

`koord synth` writes LISA's year-specific names (SyssStat11/SyssStat19, Sun2000Niva_Old /
SUN2020Niva_Old, DispInk04) and a project-prefixed key in FK's files; written again with the
canonical names (`names="canonical"`), the same seed must load, build and give the same
analysis tables, row for row.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pipeline.cli import main as koord
from pipeline.synth import write_delivery

PERSONS, SEED = 2_000, 5


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = {}
    for names in ("as_delivered", "canonical"):
        root = tmp_path_factory.mktemp(names)
        write_delivery(root / "delivery", PERSONS, seed=SEED, names=names, truth_path=root / "truth.json")
        warehouse = root / "warehouse.duckdb"
        assert koord(["ingest", "--delivery", str(root / "delivery"), "--warehouse", str(warehouse), "--replace"]) == 0
        assert koord(["build", "--warehouse", str(warehouse)]) == 0
        out[names] = warehouse
    return out


def _table(warehouse, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_the_variant_names_were_delivered(built):
    names = _table(built["as_delivered"], "select distinct delivered_name from raw._columns")["delivered_name"]
    assert {"SyssStat11", "SyssStat19", "Sun2000Niva_Old", "SUN2020Niva_Old", "P1105_LopNr_PersonNr"} <= set(names)


@pytest.mark.parametrize("table,key", [("spells", "spell_id"), ("persons", "person_id"), ("attrition", "step_order, sex")])
def test_analysis_tables_equal_those_of_the_canonical_names(built, table, key):
    variant = _table(built["as_delivered"], f"select * from main.{table} order by {key}")
    canonical = _table(built["canonical"], f"select * from main.{table} order by {key}")
    assert len(variant) > 0
    pd.testing.assert_frame_equal(variant, canonical)
