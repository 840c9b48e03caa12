"""Where `koord analyse` writes: the warehouse's schema `results`, and the internal folder.

The designs (`analyses.designs.run`) return results; this module, of the command line, owns
writing them: the schema `results` (one table per analysis id, plus `cif_curves`, `balance`
and the catalogue `_analyses`, in one transaction; a whole study rewrites the schema so no
stale result survives a changed study), and, as unchecked working material that must not
leave the secure environment, ``<out>/internt/results/*.csv``, ``<out>/internt/figures/*.png``
and ``<out>/internt/LÄS_MIG.txt`` saying so. Only ``<out>/report/``, after `koord report`'s
disclosure control, is meant to leave.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from analyses.designs.figures import draw_figures
from analyses.designs.run import CATALOGUE_TABLE, RESULTS_SCHEMA, catalogue, long_table
from analyses.designs.specs import AnalysisSpec
from analyses.results import Result
from koord.errors import ContractViolation
from pipeline.commands.internal_folder import FIGURES_DIR, RESULTS_DIR, internal_dir, write_internal_readme


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                            [RESULTS_SCHEMA, name]).fetchall()[0][0])


def _replace_rows(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, key: str,
                  values: list[str]) -> None:
    """Replace the rows of ``values`` (by ``key``) in results.<name>, creating the table if absent."""
    con.register("_frame", frame)
    if _table_exists(con, name):
        # A long table shared by designs (balance, cif_curves) may gain columns another design writes
        # (the timing strategies' balance has an arm): add them, NULL on the rows already there.
        have = {r[0] for r in con.execute("select column_name from information_schema.columns "
                                          "where table_schema = ? and table_name = ?", [RESULTS_SCHEMA, name]).fetchall()}
        for column, kind in con.execute("select column_name, column_type from (describe select * from _frame)").fetchall():
            if column not in have:
                con.execute(f'alter table {RESULTS_SCHEMA}."{name}" add column "{column}" {kind}')
        con.execute(f'delete from {RESULTS_SCHEMA}."{name}" where {key} in (select unnest(?))', [values])
        con.execute(f'insert into {RESULTS_SCHEMA}."{name}" by name select * from _frame')
    else:
        con.execute(f'create table {RESULTS_SCHEMA}."{name}" as select * from _frame')
    con.unregister("_frame")


def write_results(con: duckdb.DuckDBPyConnection, specs: tuple[AnalysisSpec, ...], results: dict[str, Result],
                  out_dir: Path, *, replace_all: bool = True) -> dict[str, Path]:
    """Write the results schema, the CSV files and the figures; return the files written.

    The files go to ``out_dir/internt/``: ``results/<name>.csv``, ``figures/*.png`` and
    ``LÄS_MIG.txt``; nothing is written directly under ``out_dir``, where ``report/`` goes.
    The keys of the dict returned are the paths relative to ``out_dir/internt/``.

    With ``replace_all`` (a whole study) the schema `results` is dropped and rebuilt, so no
    table of an analysis the study no longer runs survives; otherwise (``--only``) only the
    tables and rows of these analyses are replaced. Either way in one transaction.
    """
    ids = [s.id for s in specs]
    clash = [k for k in ("cif_curves", "balance", CATALOGUE_TABLE) if k in ids]
    if clash:
        raise ContractViolation(f"analysis id(s) {clash} clash with the results tables of the same name")
    tables = {s.id: results[s.id].summary for s in specs}
    shared = {"cif_curves": long_table(results, "cif_curves"), "balance": long_table(results, "balance"),
              CATALOGUE_TABLE: catalogue(specs, results)}
    con.execute("begin transaction")
    try:
        if replace_all:
            con.execute(f"drop schema if exists {RESULTS_SCHEMA} cascade")
        con.execute(f"create schema if not exists {RESULTS_SCHEMA}")
        for name, frame in tables.items():
            con.register("_frame", frame)
            con.execute(f'create or replace table {RESULTS_SCHEMA}."{name}" as select * from _frame')
            con.unregister("_frame")
        for name, frame in shared.items():
            if len(frame.columns):
                _replace_rows(con, name, frame, "id" if name == CATALOGUE_TABLE else "analysis_id", ids)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    written: dict[str, Path] = {}
    internal = internal_dir(out_dir)
    readme = write_internal_readme(out_dir)
    written[readme.name] = readme
    results_dir = internal / RESULTS_DIR
    results_dir.mkdir(parents=True, exist_ok=True)
    everything = {**tables}
    for name in shared:
        if _table_exists(con, name):
            everything[name] = con.execute(f'select * from {RESULTS_SCHEMA}."{name}"').df()
    for name, frame in everything.items():
        path = results_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        written[f"{RESULTS_DIR}/{name}.csv"] = path
    figure_dir = internal / FIGURES_DIR
    figure_dir.mkdir(parents=True, exist_ok=True)
    for name, png in draw_figures(everything, specs).items():
        path = figure_dir / name
        path.write_bytes(png)
        written[f"{FIGURES_DIR}/{name}"] = path
    return written
