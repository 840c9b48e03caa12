"""A LISA year the study reads and the delivery lacks stops the build, unless the study allows it.

The builder's valid delivery carries LISA 2020 and 2021 only. A study of spells starting in 2021
reads LISA 2020-2021 (covariates from the year before the start): complete. The default study
(spells 2018-2024) reads 2017-2024: six years are missing.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from data_schemas.study import Study, study_from_mapping
from koord.errors import KoordError
from pipeline.ingest import ingest_delivery
from pipeline.warehouse_models import build_warehouse
from pipeline.warehouse_models.run import missing_lisa_years

from tests.ingest.builder import MANIFEST, write_delivery


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("lisa_years")
    delivery = write_delivery(root / "delivery", n=3, manifest=MANIFEST)
    ingest_delivery(delivery, root / "warehouse.duckdb", memory_limit="1GB")
    return root / "warehouse.duckdb"


def test_the_years_a_study_reads_and_lacks(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert missing_lisa_years(con, Study()) == [2017, 2018, 2019, 2022, 2023, 2024]
        assert missing_lisa_years(con, Study(spell_start_from=date(2021, 1, 1), spell_start_to=date(2021, 12, 31))) == []
    finally:
        con.close()


def test_refused_by_default_with_the_years_and_the_remedy(warehouse):
    con = duckdb.connect(str(warehouse))
    try:
        with pytest.raises(KoordError, match=r"lacks LISA for 2017, 2018, 2019, 2022, 2023, 2024.*missing_lisa_years = \"allow\""):
            build_warehouse(con, Study(), progress=lambda _: None)
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'main'").fetchall()}
        assert "spells" not in tables  # nothing half-built
    finally:
        con.close()


def test_allowed_builds_and_warns(warehouse):
    said: list[str] = []
    con = duckdb.connect(str(warehouse))
    try:
        build_warehouse(con, Study(missing_lisa_years="allow"), progress=said.append)
        assert con.execute("select count(*) from main.spells").fetchone()[0] > 0
    finally:
        con.close()
    assert any("warning: the delivery lacks LISA for 2017" in s for s in said)


def test_study_file_rule_is_checked():
    assert study_from_mapping({"delivery": {"missing_lisa_years": "allow"}}).missing_lisa_years == "allow"
    with pytest.raises(Exception, match=r"\[delivery\] missing_lisa_years: 'ignore' is not one of 'refuse', 'allow'"):
        study_from_mapping({"delivery": {"missing_lisa_years": "ignore"}})
