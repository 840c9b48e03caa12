"""Table views: checked outputs turned into accessible HTML tables (caption, scoped headers, Swedish numbers).

Every function here takes `CheckedOutput`s and refuses anything else (`require_checked`), so an
unchecked frame cannot reach the report through a table.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import pandas as pd

from reports.disclosure import WITHHELD, CheckedOutput, is_withheld, require_checked
from reports.formatting import NBSP, SYMBOL_NOTES, symbol_notes, format_count, format_interval, format_number, format_p_value, format_percent, format_value, is_missing, scaled
from reports.labels import ESTIMAND_SV, RATIO_ESTIMANDS, subgroup_label


@dataclass(frozen=True)
class HeaderCell:
    text: str
    colspan: int = 1
    rowspan: int = 1
    scope: str = "col"


@dataclass(frozen=True)
class DataCell:
    text: str
    kind: str = "text"  # count, percent, ratio, p, number, text: written as data-kind for machine checks
    numeric: bool = True


@dataclass(frozen=True)
class Row:
    header: str
    cells: tuple[DataCell, ...]
    css: str = ""


@dataclass(frozen=True)
class RowGroup:
    """A ``<tbody>`` with an optional heading row (``<th scope="rowgroup">``)."""

    title: str
    rows: tuple[Row, ...]


# The table views made while the report renders; the builder keeps those the HTML shows for the
# table appendix (reports.workbook), so the workbook holds exactly the checked tables the reader sees.
_COLLECTED_VIEWS: ContextVar[list["TableView"] | None] = ContextVar("collected_table_views", default=None)


@contextmanager
def collecting_table_views() -> Iterator[list["TableView"]]:
    """Every `TableView` made inside the block, in the order made."""
    views: list[TableView] = []
    token = _COLLECTED_VIEWS.set(views)
    try:
        yield views
    finally:
        _COLLECTED_VIEWS.reset(token)


@dataclass(frozen=True)
class TableView:
    table_id: str
    caption: str
    header_rows: tuple[tuple[HeaderCell, ...], ...]
    groups: tuple[RowGroup, ...]
    notes: tuple[str, ...] = ()
    output_ids: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # The symbols' explanations follow from the cells shown, not from what the outputs withheld elsewhere.
        cells = [c.text for g in self.groups for r in g.rows for c in r.cells]
        own = tuple(n for n in self.notes if n not in SYMBOL_NOTES)
        object.__setattr__(self, "notes", own + symbol_notes(cells))
        collected = _COLLECTED_VIEWS.get()
        if collected is not None:
            collected.append(self)

    @property
    def n_columns(self) -> int:
        return sum(h.colspan for h in self.header_rows[0])

    def header_align(self, row: int, index: int) -> str:
        """``"txt"`` for a heading over a column of text cells (aligned left like them), else ``""``.

        Only the last heading row is matched to columns, and only when its cells map one to one.
        """
        heads = self.header_rows[row]
        if row != len(self.header_rows) - 1 or index == 0 or len(heads) != self.n_columns:
            return ""
        cells = [r.cells[index - 1] for g in self.groups for r in g.rows if len(r.cells) >= index]
        return "txt" if cells and not any(c.numeric for c in cells) else ""


def _notes(outputs: Sequence[CheckedOutput], extra: Sequence[str] = ()) -> tuple[str, ...]:
    notes = list(extra)
    bases = {o.thresholds.get("rounding_base") for o in outputs if o.thresholds.get("rounding_base")}
    if bases:
        notes.append(f"Antal är avrundade till närmaste multipel av {', '.join(map(str, sorted(bases)))}; summor kan därför avvika.")
    return tuple(notes)


def count_cell(value: object) -> DataCell:
    return DataCell(format_count(value), "count")


def percent_cell(part: object, whole: object) -> DataCell:
    if is_withheld(part) or is_withheld(whole):
        return DataCell(format_percent(WITHHELD), "percent")
    if is_missing(part) or is_missing(whole) or float(whole) == 0:  # type: ignore[arg-type]
        return DataCell(format_percent(None), "percent")  # a share of nobody does not exist
    return DataCell(format_percent(100.0 * float(part) / float(whole)), "percent")  # type: ignore[arg-type]


def count_table_view(
    checked: CheckedOutput,
    *,
    table_id: str,
    caption: str,
    blocks: Sequence[tuple[str, str, Callable[[Hashable], str]]],
    columns: Sequence[tuple[Hashable, str]],
    total_row: Hashable | None = "Totalt",
    total_row_label: str = "Samtliga",
    percent: bool = True,
    row_filter: Callable[[Hashable], bool] | None = None,
    row_heading: str = "Variabel",
    percent_of_row: Hashable | None = None,
    block_total_label: str | None = None,
    notes: Sequence[str] = (),
) -> TableView:
    """A frequency table of one or more blocks (e.g. a "Table 1"): count and per cent per column.

    Parameters
    ----------
    blocks : (table key, block title, row label function)
        Each block becomes a row group; its margin row (``total_row``) is the denominator of
        the per cents and is shown once, at the top, as ``total_row_label``.
    percent_of_row : column key, optional
        Per cents of this column of the same row (e.g. the row's total) instead of the column's.
    block_total_label : str, optional
        Also show each block's margin row, last in the block, under this label.
    columns : (column key, heading)
        The columns shown, e.g. women, men, total.
    """
    require_checked(checked, f"table {table_id}")
    header_rows: tuple[tuple[HeaderCell, ...], ...]
    if percent:
        top = (HeaderCell(row_heading, rowspan=2), *(HeaderCell(label, colspan=2, scope="colgroup") for _, label in columns))
        sub = tuple(h for _ in columns for h in (HeaderCell("Antal"), HeaderCell("Andel")))
        header_rows = (top, sub)
    else:
        header_rows = ((HeaderCell(row_heading), *(HeaderCell(label) for _, label in columns)),)
    groups: list[RowGroup] = []
    first = True
    for table_key, title, label in blocks:
        t = checked.table(table_key)
        totals = t.loc[total_row] if total_row is not None and total_row in t.index else None
        if first and totals is not None and total_row_label:
            cells = []
            for col, _ in columns:
                cells.append(count_cell(totals[col]))
                if percent:
                    cells.append(percent_cell(totals[col], totals[col]))
            groups.append(RowGroup("", (Row(total_row_label, tuple(cells), "total"),)))
        first = False
        rows = []
        shown = [r for r in t.index if r != total_row and (row_filter is None or row_filter(r))]
        if block_total_label and totals is not None:
            shown.append(total_row)
        for r in shown:
            cells = []
            for col, _ in columns:
                cells.append(count_cell(t.at[r, col]))
                if percent:
                    whole = t.at[r, percent_of_row] if percent_of_row is not None else (None if totals is None else totals[col])
                    cells.append(percent_cell(t.at[r, col], whole))
            is_total = r == total_row
            rows.append(Row(block_total_label if is_total else label(r), tuple(cells), "total" if is_total else ""))
        groups.append(RowGroup(title, tuple(rows)))
    return TableView(table_id, caption, header_rows, tuple(groups), _notes([checked], notes), (checked.output_id,))


def model_table_view(
    outputs: Sequence[CheckedOutput],
    *,
    table_id: str,
    caption: str,
    row_label: Callable[[pd.Series], str] | None = None,
    row_filter: Callable[[pd.Series], bool] | None = None,
    group_title: Callable[[CheckedOutput], str] | None = None,
    notes: Sequence[str] = (),
) -> TableView | None:
    """Estimates of one or more model outputs: one row per estimate with CI, p and the counts behind it.

    One row group per output (titled by ``group_title``); rows chosen by ``row_filter``.
    None when no row is chosen.
    """
    for o in outputs:
        require_checked(o, f"table {table_id}")
    header = (
        HeaderCell("Grupp"), HeaderCell("Mått"), HeaderCell("Skattning"), HeaderCell("95 % KI"),
        HeaderCell("p-värde"), HeaderCell("Personer"), HeaderCell("Händelser"),
    )
    groups = []
    used = []
    for o in outputs:
        s = o.table("summary")
        rows = []
        for _, r in s.iterrows():
            if row_filter is not None and not row_filter(r):
                continue
            rows.append(Row(row_label(r) if row_label else subgroup_label(r["subgroup"], r["level"]), estimate_cells(r)))
        if rows:
            used.append(o)
            groups.append(RowGroup(group_title(o) if group_title else "", tuple(rows)))
    if not groups:
        return None
    return TableView(table_id, caption, (header,), tuple(groups), _notes(used, notes), tuple(o.output_id for o in used))


PERCENT_ESTIMANDS = ("cumulative_incidence", "survival", "risk")


def estimate_cells(r: pd.Series) -> tuple[DataCell, ...]:
    """Measure, estimate, interval, p-value, persons and events of one summary row, in Swedish.

    Proportions are shown in per cent, risk differences in percentage points, ratios and
    other numbers with two decimals.
    """
    estimand = str(r["estimand"])

    def pct(v: object) -> float | None:
        return scaled(v, 100)  # type: ignore[arg-type]

    if estimand == "risk_difference":
        est = format_number(pct(r["estimate"]), 1) + ("" if is_missing(r["estimate"]) else f"{NBSP}procentenheter")
        ci, kind = format_interval(pct(r["conf_low"]), pct(r["conf_high"]), 1), "percentage_points"
    elif estimand in PERCENT_ESTIMANDS:
        est = format_percent(pct(r["estimate"]))
        ci, kind = format_interval(pct(r["conf_low"]), pct(r["conf_high"]), 1), "percent"
    else:
        est = format_number(r["estimate"], 2)
        ci, kind = format_interval(r["conf_low"], r["conf_high"], 2), ("ratio" if estimand in RATIO_ESTIMANDS else "number")
    return (
        DataCell(ESTIMAND_SV.get(estimand, estimand), "text", numeric=False),
        DataCell(est, kind), DataCell(ci, "interval"), DataCell(format_p_value(r["p_value"]), "p"),
        count_cell(r["n_persons"]), count_cell(r["n_events"]),
    )


def simple_table_view(
    frame: pd.DataFrame,
    *,
    table_id: str,
    caption: str,
    columns: Sequence[tuple[str, str, str]],
    row_header: tuple[str, str],
    source: CheckedOutput | None = None,
    notes: Sequence[str] = (),
) -> TableView:
    """A table of metadata or of a checked output's published frame.

    ``columns`` are (column, heading, kind); ``row_header`` is (column, heading). A frame
    holding counts of persons must come from ``source`` (a checked output): pass
    ``source.table(...)``; metadata frames (file names, hashes) need no source.
    """
    if source is not None:
        require_checked(source, f"table {table_id}")
    header = (HeaderCell(row_header[1]), *(HeaderCell(h) for _, h, _ in columns))
    rows = []
    for _, r in frame.iterrows():
        cells = tuple(
            DataCell(format_value(r[c], kind), kind, numeric=kind not in ("text", "code", "date")) for c, _, kind in columns
        )
        rows.append(Row(str(r[row_header[0]]), cells))
    outputs = [source] if source is not None else []
    return TableView(table_id, caption, (header,), (RowGroup("", tuple(rows)),), _notes(outputs, notes),
                     tuple(o.output_id for o in outputs))


def magnitude_table_view(
    checked: CheckedOutput,
    *,
    table_id: str,
    caption: str,
    table_key: str,
    rows: Sequence[tuple[Hashable, str]],
    columns: Sequence[tuple[Hashable, str]],
    value_heading: str,
    decimals: int = 0,
    notes: Sequence[str] = (),
) -> TableView:
    """A magnitude table: per column the published statistic (sum or mean) and the contributors behind it."""
    require_checked(checked, f"table {table_id}")
    published = checked.table(table_key).set_index(["row", "col"])
    top = (HeaderCell("Grupp", rowspan=2), *(HeaderCell(label, colspan=2, scope="colgroup") for _, label in columns))
    sub = tuple(h for _ in columns for h in (HeaderCell(value_heading), HeaderCell("Antal")))
    body = []
    for r, r_label in rows:
        cells = []
        for c, _ in columns:
            value = published.at[(r, c), "value"] if (r, c) in published.index else None
            n = published.at[(r, c), "n_contributors"] if (r, c) in published.index else None
            cells += [DataCell(format_number(value, decimals), "amount"), count_cell(n)]
        body.append(Row(r_label, tuple(cells), "total" if r == "Totalt" else ""))
    return TableView(table_id, caption, (top, sub), (RowGroup("", tuple(body)),), _notes([checked], notes), (checked.output_id,))
