"""What the sections declare: output kinds, tables with their additive relations, links, the outputs.

A table publishes equations (a margin is the sum of its line); `Link`s and `LinkedEquation`s
tie cells of different tables (and `SharedCount`s the counts beside a model's estimates) into
one linked system, solved together by `reports.disclosure.suppression`. A cell of that system
is addressed by ``(output id, table, row, col)``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from reports.audit import cell_location
from reports.disclosure.rules import DisclosureClass


@dataclass(frozen=True)
class OutputDeclaration:
    """One kind of output the report may show, declared once in `reports.outputs`."""

    key: str
    disclosure_class: DisclosureClass
    title_sv: str
    description_sv: str = ""


# --- tables and their additive structure --------------------------------------------------------

Cell = tuple[Hashable, Hashable]  # (row label, column label) within one table


@dataclass(frozen=True)
class Equation:
    """``total`` equals the sum of ``parts``: a relation the published table lets a reader use."""

    total: Cell
    parts: tuple[Cell, ...]


@dataclass(frozen=True)
class CellRef:
    """A cell of one table of one output."""

    output_id: str
    table: str
    row: Hashable
    col: Hashable


@dataclass(frozen=True)
class Link:
    """The same number is published in two places; they must be suppressed together."""

    a: CellRef
    b: CellRef


@dataclass(frozen=True)
class LinkedEquation:
    """An additive relation across tables: ``total`` (in one table) is the sum of ``parts`` (in others).

    E.g. a table by sex and a table of totals: total[age] = women[age] + men[age].
    """

    total: CellRef
    parts: tuple[CellRef, ...]


def _check_frame(values: pd.DataFrame, what: str) -> None:
    if not values.index.is_unique or not values.columns.is_unique:
        raise ValueError(f"{what}: row and column labels must be unique")


def _check_equations(values: pd.DataFrame, equations: Sequence[Equation], what: str, tol: float = 1e-6) -> None:
    for eq in equations:
        for cell in (eq.total, *eq.parts):
            if cell[0] not in values.index or cell[1] not in values.columns:
                raise ValueError(f"{what}: equation refers to a cell {cell!r} that is not in the table")
        total = float(values.at[eq.total])
        parts = sum(float(values.at[c]) for c in eq.parts)
        if abs(total - parts) > tol * max(1.0, abs(total)):
            raise ValueError(f"{what}: cell {eq.total!r} is not the sum of {list(eq.parts)!r}")


@dataclass(frozen=True)
class CountTable:
    """A frequency table: whole counts per cell, with the equations its margins publish.

    ``values`` holds every published cell, margins included. ``group_axis`` says which axis
    holds population groups (``"columns"``: each column is a group such as women/men, the rows
    its categories), for the disclosive-zero rule; None when no axis is a group.
    """

    values: pd.DataFrame
    equations: tuple[Equation, ...] = ()
    group_axis: Literal["columns", "rows"] | None = None

    def __post_init__(self) -> None:
        _check_frame(self.values, "count table")
        v = self.values.to_numpy(dtype=float)
        if np.isnan(v).any() or (v < 0).any() or (np.floor(v) != v).any():
            raise ValueError("count table: counts must be whole numbers ≥ 0 (no missing cells)")
        _check_equations(self.values, self.equations, "count table")
        object.__setattr__(self, "values", self.values.copy())

    @property
    def margin_cells(self) -> set[Cell]:
        return {eq.total for eq in self.equations}


def with_margins(
    interior: pd.DataFrame,
    *,
    total_label: str = "Totalt",
    row_totals: bool = True,
    column_totals: bool = True,
    group_axis: Literal["columns", "rows"] | None = "columns",
) -> CountTable:
    """A `CountTable` from inner counts, adding a total column (row sums) and a total row (column sums)."""
    table = interior.copy()
    rows, cols = list(interior.index), list(interior.columns)
    equations: list[Equation] = []
    if row_totals:
        table[total_label] = interior.sum(axis=1)
        equations += [Equation((r, total_label), tuple((r, c) for c in cols)) for r in rows]
    if column_totals:
        table.loc[total_label] = table.sum(axis=0)
        out_cols = cols + ([total_label] if row_totals else [])
        equations += [Equation((total_label, c), tuple((r, c) for r in rows)) for c in out_cols]
    if row_totals and column_totals:
        # The grand total is also the sum of the total row: already implied, stated for completeness.
        equations.append(Equation((total_label, total_label), tuple((total_label, c) for c in cols)))
    return CountTable(table.astype("int64"), tuple(equations), group_axis)


@dataclass(frozen=True)
class MagnitudeTable:
    """A magnitude table: per cell the total of an amount and what the dominance rules need.

    All frames share index and columns. ``statistic`` is what is published: the ``sum`` or
    the ``mean`` (total / contributors).
    """

    totals: pd.DataFrame
    n_contributors: pd.DataFrame
    abs_totals: pd.DataFrame
    largest: pd.DataFrame  # largest absolute contribution
    second_largest: pd.DataFrame
    equations: tuple[Equation, ...] = ()
    statistic: Literal["sum", "mean"] = "mean"

    def __post_init__(self) -> None:
        _check_frame(self.totals, "magnitude table")
        for name in ("n_contributors", "abs_totals", "largest", "second_largest"):
            frame = getattr(self, name)
            if not (frame.index.equals(self.totals.index) and frame.columns.equals(self.totals.columns)):
                raise ValueError(f"magnitude table: {name} must have the same rows and columns as totals")
        _check_equations(self.totals, self.equations, "magnitude table", tol=1e-6)

    @property
    def margin_cells(self) -> set[Cell]:
        return {eq.total for eq in self.equations}


def magnitude_table_from_stats(
    stats: pd.DataFrame,
    *,
    row: str,
    col: str,
    total_label: str = "Totalt",
    statistic: Literal["sum", "mean"] = "mean",
    row_order: Sequence[Hashable] | None = None,
    col_order: Sequence[Hashable] | None = None,
) -> MagnitudeTable:
    """A `MagnitudeTable` from one row per cell with ``total, abs_total, n_contributors, largest, second_largest``.

    Margin cells are rows whose ``row`` and/or ``col`` is ``total_label`` (compute them over the
    contributions, e.g. with GROUPING SETS: the largest contributor of a margin is not a sum).
    Equations are added for every margin present.
    """
    def frame(value: str) -> pd.DataFrame:
        f = stats.pivot(index=row, columns=col, values=value)
        if row_order is not None:
            f = f.reindex(index=list(row_order))
        if col_order is not None:
            f = f.reindex(columns=list(col_order))
        f.index.name, f.columns.name = None, None
        return f.fillna(0.0).astype(float)

    totals = frame("total")
    inner_rows = [r for r in totals.index if r != total_label]
    inner_cols = [c for c in totals.columns if c != total_label]
    equations = []
    if total_label in totals.columns:
        equations += [Equation((r, total_label), tuple((r, c) for c in inner_cols)) for r in totals.index]
    if total_label in totals.index:
        equations += [Equation((total_label, c), tuple((r, c) for r in inner_rows)) for c in totals.columns]
    return MagnitudeTable(
        totals=totals,
        n_contributors=frame("n_contributors"),
        abs_totals=frame("abs_total"),
        largest=frame("largest"),
        second_largest=frame("second_largest"),
        equations=tuple(dict.fromkeys(equations)),
        statistic=statistic,
    )


def magnitude_stats(contributions: pd.DataFrame, by: Sequence[str], value: str) -> pd.DataFrame:
    """Per cell: ``total, abs_total, n_contributors, largest, second_largest`` of ``value`` (pure pandas).

    Missing amounts are not contributions. Use for small frames; the report computes the same
    in DuckDB.
    """
    data = contributions.dropna(subset=[value]).assign(_abs=lambda d: d[value].abs())

    def top(s: pd.Series, k: int) -> float:
        v = np.sort(s.to_numpy())[::-1]
        return float(v[k]) if len(v) > k else 0.0

    grouped = data.groupby(list(by), observed=True)
    out = pd.DataFrame({
        "total": grouped[value].sum(),
        "abs_total": grouped["_abs"].sum(),
        "n_contributors": grouped[value].size(),
        "largest": grouped["_abs"].agg(lambda s: top(s, 0)),
        "second_largest": grouped["_abs"].agg(lambda s: top(s, 1)),
    })
    return out.reset_index()


# --- model, curve, figure, text and row-level outputs -------------------------------------------

MODEL_KEYS = ("analysis_id", "subgroup", "level")
MODEL_LABELS = ("sex", "arm", "cause", "horizon_days", "landmark_day")  # extra columns that name a row, not count it


@dataclass(frozen=True)
class FrequencyOutput:
    declaration: OutputDeclaration
    tables: Mapping[str, CountTable]
    output_id: str = ""
    links: tuple[Link | LinkedEquation, ...] = ()


@dataclass(frozen=True)
class MagnitudeOutput:
    declaration: OutputDeclaration
    tables: Mapping[str, MagnitudeTable]
    output_id: str = ""
    links: tuple[Link | LinkedEquation, ...] = ()


@dataclass(frozen=True)
class SharedCount:
    """A count beside a model's estimate that a count table publishes too.

    Row ``row`` (position in the summary) of column ``column`` (``n_persons``) is the number in
    ``cell``: e.g. the persons of a model fitted on the whole study population are the flow's
    last step. The two are then one number in the linked system: withheld together, and part
    of the flow's equations (so the model cannot publish a count the flow protects).
    """

    row: int
    column: str
    cell: CellRef


@dataclass(frozen=True)
class ModelOutput:
    """A tidy estimate table (`analyses.results.SUMMARY_COLUMNS`).

    ``event_based`` False for estimates that rest on persons, not events (e.g. balance
    diagnostics): then only the persons threshold and residual df apply. ``shared_counts``:
    the counts it publishes that count tables publish too (`SharedCount`).
    """

    declaration: OutputDeclaration
    summary: pd.DataFrame
    output_id: str = ""
    event_based: bool = True
    shared_counts: tuple[SharedCount, ...] = ()
    # Declared extras (tables beyond the tidy layout, e.g. the regions' tables):
    # ``label_columns`` name a row and split fits and comparisons (``start_year``, ``measure``);
    # ``statistic_columns`` are published like the estimate (withheld with it): limits, ranks, flags;
    # ``count_columns`` are further counts, published rounded and shareable (`SharedCount`);
    # ``unpublished_columns`` are counts the rules read but that are not published (``n_persons``).
    label_columns: tuple[str, ...] = ()
    statistic_columns: tuple[str, ...] = ()
    count_columns: tuple[str, ...] = ()
    unpublished_columns: tuple[str, ...] = ()
    # The estimates give their counts back (a share times its spells is the events; an O/E times
    # its expected is the observed): a row whose counts are withheld is withheld whole.
    estimates_reveal_counts: bool = False
    # Labels whose values add up: ``("sex", "all", ("woman", "man"))`` says the counts of a row for
    # everyone are those of women plus men (same other labels); one withheld is complemented.
    additive_labels: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class CurveOutput:
    """Curves: one row per (group, time) step with the estimate(s), ``n_at_risk`` and ``n_events``."""

    declaration: OutputDeclaration
    curve: pd.DataFrame
    group_columns: tuple[str, ...]
    time_column: str = "time"
    output_id: str = ""


@dataclass(frozen=True)
class FigureOutput:
    declaration: OutputDeclaration
    source_ids: tuple[str, ...]
    output_id: str = ""


@dataclass(frozen=True)
class TextNumberOutput:
    """A number in running text: a count (frequency rule), or derived from checked outputs."""

    declaration: OutputDeclaration
    value: float
    is_count: bool = True
    source_ids: tuple[str, ...] = ()
    output_id: str = ""


@dataclass(frozen=True)
class RowLevelOutput:
    declaration: OutputDeclaration
    frame: pd.DataFrame
    output_id: str = ""


Output = FrequencyOutput | MagnitudeOutput | ModelOutput | CurveOutput | FigureOutput | TextNumberOutput | RowLevelOutput

_EXPECTED_CLASS = {
    FrequencyOutput: DisclosureClass.FREQUENCY,
    MagnitudeOutput: DisclosureClass.MAGNITUDE,
    ModelOutput: DisclosureClass.MODEL,
    CurveOutput: DisclosureClass.SURVIVAL_CURVE,
    FigureOutput: DisclosureClass.FIGURE,
    TextNumberOutput: DisclosureClass.TEXT_NUMBER,
    RowLevelOutput: DisclosureClass.ROW_LEVEL,
}


def output_id_of(output: Output) -> str:
    return output.output_id or output.declaration.key


# --- cells of the linked system ----------------------------------------------------------------

_Key = tuple[str, str, Hashable, Hashable]  # output id, table, row, col


_location = cell_location  # one spelling of a cell's place, shared with the audit


def _ref_key(ref: CellRef) -> _Key:
    return (ref.output_id, ref.table, ref.row, ref.col)
