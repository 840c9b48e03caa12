"""Helpers for the ingestion tests: load a folder and query the warehouse read-only."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.ingest import ingest_delivery


class Loaded:
    """A loaded warehouse: the summary and read-only queries."""

    def __init__(self, summary, warehouse: Path) -> None:
        self.summary = summary
        self.warehouse = warehouse

    def rows(self, sql: str, params=None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def quarantine(self, file: str | None = None) -> list[tuple]:
        where = "where file = ?" if file else ""
        return self.rows(f'select file, line, "column", value, reason_kind, reason from raw._quarantine {where} '
                         f'order by line, "column"', [file] if file else None)

    def warnings(self) -> dict[tuple[str, str, str], int]:
        return {(f, c, k): n for f, c, k, n in self.rows('select file, "column", kind, n_rows from raw._warnings')}

    def load_log(self) -> dict[str, tuple[int, int, int]]:
        return {f: (i, l, q) for f, i, l, q in self.rows(
            "select file, rows_in, rows_loaded, rows_quarantined from raw._load_log")}


@pytest.fixture
def load(tmp_path):
    """load(delivery_dir, **kw) -> Loaded, into tmp_path/warehouse.duckdb (checks rows in = loaded + quarantined)."""

    def _load(delivery: Path, warehouse: Path | None = None, **kwargs) -> Loaded:
        warehouse = warehouse or tmp_path / "warehouse.duckdb"
        summary = ingest_delivery(delivery, warehouse, memory_limit="1GB", threads=2, **kwargs)
        loaded = Loaded(summary, warehouse)
        if summary.status == "loaded":
            for file, rows_in, rows_loaded, rows_quarantined, n_lines in loaded.rows(
                    "select file, rows_in, rows_loaded, rows_quarantined, "
                    "(select count(distinct line) from raw._quarantine q where q.file = l.file) from raw._load_log l"):
                assert rows_in == rows_loaded + rows_quarantined == rows_loaded + n_lines, file
        return loaded

    return _load


@pytest.fixture
def delivery(tmp_path) -> Path:
    path = tmp_path / "delivery"
    path.mkdir()
    return path
