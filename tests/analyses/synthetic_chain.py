"""The chain the end-to-end design tests share: synth -> ingest -> build -> analyse on a fresh folder."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.cli import main as koord


def analysed_delivery(root: Path, persons: int, seed: int, study_text: str) -> dict[str, Path]:
    """Write a synthetic delivery of ``persons`` (``seed``), load, build and analyse it under ``study_text``.

    Returns the paths: delivery, warehouse, out, study, truth (truth.json beside the delivery).
    """
    paths = {"delivery": root / "delivery", "warehouse": root / "warehouse.duckdb", "out": root / "out",
             "study": root / "study.toml", "truth": root / "truth.json"}
    paths["study"].write_text(study_text, encoding="utf-8")
    assert koord(["synth", "--out", str(paths["delivery"]), "--persons", str(persons), "--seed", str(seed),
                  "--truth", str(paths["truth"])]) == 0
    assert koord(["ingest", "--delivery", str(paths["delivery"]), "--warehouse", str(paths["warehouse"]),
                  "--replace"]) == 0
    assert koord(["build", "--warehouse", str(paths["warehouse"])]) == 0
    assert koord(["analyse", "--warehouse", str(paths["warehouse"]), "--out", str(paths["out"]),
                  "--study", str(paths["study"])]) == 0
    return paths


def results_tables(con: duckdb.DuckDBPyConnection) -> dict:
    """Every table of the schema results, by name."""
    names = con.execute("select table_name from information_schema.tables where table_schema = 'results'").fetchall()
    return {name: con.execute(f'select * from results."{name}"').df() for (name,) in names}
