"""Primary rules: the cells of a table that may not be shown on their own; row-level data, always blocked.

Frequency tables: small counts and disclosive zeros (`_primary_frequency`); magnitude tables:
too few contributors, N-K dominance and the p-percent rule (`_primary_magnitude`). An output
with a person or spell key column is row-level (`_row_level_columns`) and blocked whole.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import pandas as pd

from data_schemas.extracts import EXTRACTS
from data_schemas.tables import TABLES
from reports.disclosure.checked import CheckedOutput, Reason, RunInfo, _issue
from reports.disclosure.declarations import CountTable, MagnitudeTable, Output, _Key, output_id_of
from reports.disclosure.rules import DisclosureClass, DisclosureRules, Status


# --- frequency and magnitude tables ---------------------------------------------------------------


def _primary_frequency(out_id: str, tkey: str, table: CountTable, rules: DisclosureRules) -> tuple[dict[_Key, Reason], list[Reason]]:
    """Primary suppression of a count table: small cells, and disclosive zeros."""
    primary: dict[_Key, Reason] = {}
    flags: list[Reason] = []
    v = table.values
    for r in v.index:
        for c in v.columns:
            n = int(v.at[r, c])
            if 0 < n < rules.min_cell_count:
                primary[(out_id, tkey, r, c)] = Reason("", "min_cell_count", f"under {rules.min_cell_count}")
    if table.group_axis and rules.disclosive_zeros != "off":
        inner_rows = [r for r in v.index if r not in _margin_rows(table)]
        inner_cols = [c for c in v.columns if c not in _margin_cols(table)]
        groups, categories = (inner_cols, inner_rows) if table.group_axis == "columns" else (inner_rows, inner_cols)
        if len(categories) >= 2:
            for g in groups:
                cells = [(cat, g) if table.group_axis == "columns" else (g, cat) for cat in categories]
                counts = [int(v.at[cell]) for cell in cells]
                if sum(counts) > 0 and sum(1 for n in counts if n > 0) == 1:
                    detail = f"alla i gruppen {g} har samma värde"
                    if rules.disclosive_zeros == "flag":
                        flags.append(Reason(f"{tkey} / {g}", "disclosive_zero", detail))
                        continue
                    for cell in cells:
                        primary.setdefault((out_id, tkey, *cell), Reason("", "disclosive_zero", detail))
    return primary, flags


def _margin_rows(table: CountTable | MagnitudeTable) -> set[Hashable]:
    """Rows that are totals of other rows (their cells are totals of columns)."""
    rows = set()
    for eq in table.equations:
        if all(p[1] == eq.total[1] for p in eq.parts) and all(p[0] != eq.total[0] for p in eq.parts):
            rows.add(eq.total[0])
    return rows


def _margin_cols(table: CountTable | MagnitudeTable) -> set[Hashable]:
    cols = set()
    for eq in table.equations:
        if all(p[0] == eq.total[0] for p in eq.parts) and all(p[1] != eq.total[1] for p in eq.parts):
            cols.add(eq.total[1])
    return cols


def _primary_magnitude(out_id: str, tkey: str, table: MagnitudeTable, rules: DisclosureRules) -> dict[_Key, Reason]:
    primary: dict[_Key, Reason] = {}
    for r in table.totals.index:
        for c in table.totals.columns:
            key = (out_id, tkey, r, c)
            n = int(table.n_contributors.at[r, c])
            if n == 0:
                continue
            if n < rules.min_cell_count:
                primary[key] = Reason("", "min_contributors", f"under {rules.min_cell_count}")
                continue
            total = float(table.abs_totals.at[r, c])
            x1, x2 = float(table.largest.at[r, c]), float(table.second_largest.at[r, c])
            if total <= 0:
                continue
            top = {1: x1, 2: x1 + x2}
            for n_top, k in rules.dominance:
                if top[n_top] > k / 100 * total:
                    primary[key] = Reason("", "dominance", f"n={n_top}, k={k:g}")
                    break
            if key in primary or rules.p_percent is None:
                continue
            if total - x1 - x2 < rules.p_percent / 100 * x1:
                primary[key] = Reason("", "p_percent", f"p={rules.p_percent:g}")
    return primary


# --- row-level data ---------------------------------------------------------------------------------


def _person_key_columns() -> set[str]:
    """Column names that identify a person or a spell: their presence makes an output row-level.

    The person key of the delivery contracts (``LopNr``/``person_id``) and the identifier
    columns (``*_id``) of the analysis tables' keys (``spell_id``).
    """
    keys = {n.lower() for e in EXTRACTS for c in e.columns if c.is_person_key for n in (c.name, c.stg_name)}
    keys |= {c.lower() for t in TABLES for c in t.key if c.endswith("_id")}
    return keys


def _row_level_columns(frame: pd.DataFrame) -> list[str]:
    names = [str(c) for c in frame.columns] + [str(n) for n in frame.index.names if n is not None]
    keys = _person_key_columns()
    return [n for n in names if n.lower() in keys]


def _blocked_row_level(out: Output, cols: Sequence[str], rules: DisclosureRules, run: RunInfo) -> CheckedOutput:
    detail = f"nyckelkolumn {', '.join(cols)}" if cols else "deklarerad som individdata"
    return _issue(
        output_id=output_id_of(out), declaration=out.declaration, status=Status.BLOCKED,
        reasons=(Reason("hela utdatan", "row_level", detail),), n_suppressed=1, n_cells=1,
        thresholds=rules.for_class(DisclosureClass.ROW_LEVEL), run=run,
    )
