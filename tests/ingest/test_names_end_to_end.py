"""A delivery as registers really deliver it equals the same delivery with the contract's names.

`koord synth` (``names="as_delivered"``, the default) writes LISA's year-specific names
(SyssStat11/SyssStat19, Sun2000Niva_Old / SUN2020Niva_Old, DispInk04), a project-prefixed key
in FK's files, `SenPNr` in every LISA file with earlier identities (SenPNr = 0) of a few
person-years, the optional `scb_bakgrund` with the region of birth as labels or codes, and ASJP
periods; written again with the canonical names (``names="canonical"``: none of these), the
same seed must load, build and give the same analysis tables, row for row, with and without the
planted faults (whose whole numbers written as decimals load as the numbers).
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pipeline.cli import main as koord
from pipeline.synth import write_delivery

PERSONS, SEED = 2_000, 5


@pytest.fixture(scope="module", params=[False, True], ids=["clean", "faults"])
def built(request, tmp_path_factory):
    out = {}
    for names in ("as_delivered", "canonical"):
        root = tmp_path_factory.mktemp(f"{names}_{request.param}")
        truth = write_delivery(root / "delivery", PERSONS, seed=SEED, names=names, faults=request.param,
                               truth_path=root / "truth.json")
        warehouse = root / "warehouse.duckdb"
        assert koord(["ingest", "--delivery", str(root / "delivery"), "--warehouse", str(warehouse), "--replace"]) == 0
        assert koord(["build", "--warehouse", str(warehouse)]) == 0
        out[names] = (warehouse, truth)
    return out


def _table(warehouse, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _one(warehouse, sql: str):
    return _table(warehouse, sql).iloc[0, 0]


def _warnings(warehouse, kind: str) -> dict[str, int]:
    df = _table(warehouse, f"select file, sum(n_rows)::bigint as n from raw._warnings where kind = '{kind}' group by all")
    return {f.rsplit(".", 1)[0]: int(n) for f, n in zip(df["file"], df["n"])}


def test_the_variant_names_were_delivered(built):
    names = _table(built["as_delivered"][0], "select distinct delivered_name from raw._columns")["delivered_name"]
    assert {"SyssStat11", "SyssStat19", "Sun2000Niva_Old", "SUN2020Niva_Old", "P1105_LopNr_PersonNr"} <= set(names)


def test_the_as_delivered_variants_were_delivered_and_counted(built):
    warehouse, truth = built["as_delivered"]
    v = truth["variants"]
    assert v["written"] and v["senpnr_repeat"]["total"] > 0
    assert _one(warehouse, """select count(*) from raw.scb_lisa where "SenPNr" = '0'""") == v["senpnr_repeat"]["total"]
    assert _warnings(warehouse, "senpnr_repeat") == v["senpnr_repeat"]["warned_rows"]
    assert _one(warehouse, "select count(*) from raw.scb_bakgrund") == v["scb_bakgrund"]["rows"]
    assert _warnings(warehouse, "code_label") == {"scb_bakgrund": v["scb_bakgrund"]["labels"]}
    # ASJP is a known benefit code: loaded, no warning. With faults, a row the faults copy (a duplicate,
    # an overlapping period) may be an ASJP row: the loaded ones are then more, by at most the copies made.
    loaded = _one(warehouse, """select count(*) from raw.fk_midas_sjukpenning where "Formankod" = 'ASJP'""")
    assert v["asjp_periods"]["rows"] > 0
    copies = sum(truth["faults"].get("rows", {}).get("fk_midas_sjukpenning", {}).get(k, 0)
                 for k in ("exact_duplicate", "overlapping_period", "end_before_start"))  # 0 without faults
    assert v["asjp_periods"]["rows"] <= loaded <= v["asjp_periods"]["rows"] + copies


def test_the_canonical_delivery_carries_none_of_them(built):
    warehouse, truth = built["canonical"]
    assert truth["variants"]["written"] is False
    assert _one(warehouse, """select count(*) from raw.scb_lisa where "SenPNr" is not null""") == 0
    assert _one(warehouse, "select count(*) from information_schema.tables "
                           "where table_schema = 'raw' and table_name = 'scb_bakgrund'") == 0  # not delivered
    assert _one(warehouse, """select count(*) from raw.fk_midas_sjukpenning where "Formankod" = 'ASJP'""") == 0
    assert _warnings(warehouse, "senpnr_repeat") == _warnings(warehouse, "code_label") == {}


@pytest.mark.parametrize("table,key", [("spells", "spell_id"), ("persons", "person_id"), ("attrition", "step_order, sex")])
def test_analysis_tables_equal_those_of_the_canonical_names(built, table, key):
    variant = _table(built["as_delivered"][0], f"select * from main.{table} order by {key}")
    canonical = _table(built["canonical"][0], f"select * from main.{table} order by {key}")
    assert len(variant) > 0
    pd.testing.assert_frame_equal(variant, canonical)
