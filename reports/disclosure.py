"""Statistical disclosure control: classify every output, check it by its class's rules, issue CheckedOutputs.

Nothing leaves the warehouse for the report unless it passed `check_outputs`. The rules per
disclosure class (thresholds in `DisclosureRules`, configurable in the study file's
``[disclosure]`` table):

Frequency tables (counts of persons or spells)
    *Primary suppression*: a cell with ``0 < n < min_cell_count`` is suppressed.
    *Disclosive zeros* (group disclosure, ONS/SCB practice): when a table declares which axis
    holds population groups (``group_axis``), a group whose whole count falls in one category
    (a "full cell", all other categories zero) reveals that attribute for everyone in the
    group. With ``disclosive_zeros = "suppress"`` the full cell and the zeros of that group
    are suppressed; ``"flag"`` only notes it for the human output checker; ``"off"`` ignores
    it. Zeros elsewhere are shown: a category that nobody has reveals nothing about anyone.
    *Secondary suppression*: every additive relation a table publishes (a margin is the sum of
    its line; a flow step is the next step plus those excluded) is an equation. An equation
    with exactly one suppressed member would give it back by subtraction, so the smallest
    other member is suppressed as well (preferring non-zero inner cells, then margins, then
    zeros), repeating until no equation has exactly one suppressed member. Linked tables
    (declared `Link`s: the same number published in two tables, e.g. the totals by sex shared
    by every block of a "Table 1"; `LinkedEquation`s: a table of totals beside the same table
    by sex) share one suppression state, so the equations of all of them are solved together. This is the standard heuristic, not an optimal or audited
    pattern (tau-ARGUS's hypercube does better); the output checker reviews the log.
    *Rounding* (optional, ``rounding_base``): published counts are rounded to the nearest
    multiple; margins are rounded on their own, so they need not add up.
Magnitude tables (sums or means of an amount over contributors)
    A cell is sensitive when it has fewer than ``min_cell_count`` contributors, when its
    ``n`` largest contributions make up more than ``k`` per cent of the cell (N-K dominance,
    for each ``(n, k)`` in ``dominance``), or when the remainder after the two largest is less
    than ``p`` per cent of the largest (p-percent rule: the second largest could estimate the
    largest too closely). Amounts are taken in absolute value (incomes can be negative).
    Secondary suppression as for frequency tables, on the cell totals.
Model and regression outputs (tidy estimate tables)
    An estimate resting on fewer than ``min_events_per_estimate`` events (the fewest in any
    arm it compares, when its diagnostics state ``events_per_arm``) or fewer than
    ``min_cell_count`` persons is suppressed; a fitted model (one ``analysis_id`` × ``subgroup``
    × ``level`` [× ``sex``]) with fewer than ``min_residual_df`` residual degrees of freedom
    (persons minus estimated parameters: ``n_parameters`` when given, else its rows) is
    suppressed whole. The counts beside the levels of one dimension add up to the
    population's: when one level's counts are withheld, the smallest other level's counts are
    withheld too (secondary suppression; its estimate stays). Published are the tidy columns
    and row labels (``sex``, ``arm`` ...), with ``n_persons``/``n_events`` rounded when
    rounding is on; other extra columns are not, and count-like entries of the diagnostics
    JSON are removed. An output with no estimate left is blocked.
Survival and cumulative-incidence curves
    A step is shown only when at least ``curve_min_at_risk`` are at risk and at least
    ``curve_min_events`` events have happened since the last shown step; hidden steps are
    collapsed into the next shown one (its jump carries their events), so a curve only moves
    in steps of at least that many events. Rows without events (censoring only) are not
    steps. The counts beside the curve (at risk, events since the last shown step) are rounded
    when rounding is on; other counts (``n_censored``) are not published. A group with no
    step to show is removed; a curve with no group left is blocked.
Figures
    Drawn only from checked outputs; a figure whose source is blocked is blocked.
Text numbers
    A count in the running text follows the frequency rule (and rounding); a number derived
    from other outputs needs all of them checked and not blocked.
Row-level data
    Always blocked: an output with a person or spell key column, or declared row-level.

Statuses: ``passed``, ``suppressed`` (some cells, rows or steps withheld, each with its
reason) and ``blocked`` (nothing may be shown, with the reason). The reasons never contain the
withheld values, so the output-check log can travel with the report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import Enum
from typing import Any, Literal

import numpy as np
import pandas as pd

from pipeline.errors import DisclosureError, StudyDefinitionError
from reports.audit import audit_frame, interval_audit


# --- classes, statuses and rules -----------------------------------------------------------------


class DisclosureClass(str, Enum):
    """What kind of output it is; each class has its own rules."""

    FREQUENCY = "frequency"
    MAGNITUDE = "magnitude"
    MODEL = "model"
    SURVIVAL_CURVE = "survival_curve"
    FIGURE = "figure"
    TEXT_NUMBER = "text_number"
    ROW_LEVEL = "row_level"

    @property
    def label_sv(self) -> str:
        return {
            "frequency": "frekvenstabell",
            "magnitude": "magnitudtabell",
            "model": "modellresultat",
            "survival_curve": "överlevnads-/incidenskurva",
            "figure": "figur",
            "text_number": "tal i text",
            "row_level": "data på individnivå",
        }[self.value]


class Status(str, Enum):
    PASSED = "passed"
    SUPPRESSED = "suppressed"
    BLOCKED = "blocked"

    @property
    def label_sv(self) -> str:
        return {"passed": "godkänd", "suppressed": "godkänd med undertryckta uppgifter", "blocked": "stoppad"}[self.value]


RULE_LABELS_SV = {
    "min_cell_count": "för få personer i cellen (primär undertryckning)",
    "disclosive_zero": "nollor/hel cell röjer en egenskap hos alla i en grupp",
    "secondary": "sekundär undertryckning: annars räknebar ur marginaler",
    "linked": "samma uppgift undertryckt i länkad tabell",
    "min_contributors": "för få bidragsgivare",
    "dominance": "dominansregeln (N-K)",
    "p_percent": "p-procentregeln",
    "min_events": "för få händelser bakom skattningen",
    "min_persons": "för få personer bakom skattningen",
    "min_residual_df": "för få residualfrihetsgrader",
    "events_unknown": "antal händelser/personer saknas, kan inte kontrolleras",
    "curve_at_risk": "för få i risk vid steget",
    "curve_events": "för få händelser sedan föregående visade steg",
    "curve_group": "gruppen har inget steg som kan visas",
    "row_level": "data på individnivå lämnar aldrig databasen",
    "source_blocked": "bygger på en stoppad eller okontrollerad utdata",
    "nothing_left": "inget återstår efter undertryckning",
    "extreme_share": "andelen är 0 % eller 100 % av gruppen och röjer allas utfall",
    "audit": "övriga publicerade tal skulle ringa in värdet snävare än tröskeln",
}

DISCLOSIVE_ZERO_MODES = ("suppress", "flag", "off")


@dataclass(frozen=True)
class DisclosureRules:
    """Thresholds of every rule; read from the study file's ``[disclosure]`` table (keys = field names).

    Attributes
    ----------
    min_cell_count : int
        Smallest count of persons (or contributors) that may be shown; default 10.
    disclosive_zeros : {"suppress", "flag", "off"}
        What to do with a group whose whole count falls in one category.
    secondary_suppression : bool
        Protect primary-suppressed cells against recovery from margins and linked tables.
    dominance : tuple of (n, k)
        N-K dominance rules: sensitive if the n largest contributions exceed k per cent
        (n is 1 or 2: the two largest contributions are what the tables keep).
    p_percent : float or None
        p-percent rule; None switches it off.
    min_events_per_estimate : int
        Fewest events behind a model estimate.
    min_residual_df : int
        Fewest residual degrees of freedom of a fitted model.
    curve_min_at_risk, curve_min_events : int or None
        Curve step thresholds; None = ``min_cell_count``.
    rounding_base : int or None
        Round published counts to a multiple of this (e.g. 5 or 10); None = no rounding.
    """

    min_cell_count: int = 10
    disclosive_zeros: str = "suppress"
    secondary_suppression: bool = True
    dominance: tuple[tuple[int, float], ...] = ((1, 85.0), (2, 90.0))
    p_percent: float | None = 10.0
    min_events_per_estimate: int = 10
    min_residual_df: int = 10
    curve_min_at_risk: int | None = None
    curve_min_events: int | None = None
    rounding_base: int | None = None

    def __post_init__(self) -> None:
        errors = self._errors()
        if errors:
            raise StudyDefinitionError("[disclosure]: " + "; ".join(errors))

    def _errors(self) -> list[str]:
        errors = []
        for name in ("min_cell_count", "min_events_per_estimate", "min_residual_df"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                errors.append(f"{name} must be a whole number ≥ 1, got {v!r}")
        for name in ("curve_min_at_risk", "curve_min_events", "rounding_base"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                errors.append(f"{name} must be a whole number ≥ 1 (or left out), got {v!r}")
        if self.disclosive_zeros not in DISCLOSIVE_ZERO_MODES:
            errors.append(f"disclosive_zeros must be one of {', '.join(DISCLOSIVE_ZERO_MODES)}, got {self.disclosive_zeros!r}")
        if not isinstance(self.secondary_suppression, bool):
            errors.append(f"secondary_suppression must be true or false, got {self.secondary_suppression!r}")
        for rule in self.dominance:
            if len(rule) != 2 or rule[0] not in (1, 2) or not (0 < float(rule[1]) <= 100):
                errors.append(f"dominance rules are [n, k] with n = 1 or 2 and 0 < k ≤ 100, got {list(rule)!r}")
        if self.p_percent is not None and not (0 < float(self.p_percent) < 100):
            errors.append(f"p_percent must be between 0 and 100 (or left out), got {self.p_percent!r}")
        return errors

    @property
    def at_risk_threshold(self) -> int:
        return self.curve_min_at_risk or self.min_cell_count

    @property
    def curve_events_threshold(self) -> int:
        return self.curve_min_events or self.min_cell_count

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any] | None) -> "DisclosureRules":
        """Rules from a study file's ``[disclosure]`` table; unknown keys are an error, missing keys keep defaults."""
        if not table:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise StudyDefinitionError(
                f"[disclosure]: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}"
            )
        values = dict(table)
        if "dominance" in values:
            try:
                values["dominance"] = tuple((int(n), float(k)) for n, k in values["dominance"])
            except (TypeError, ValueError):
                raise StudyDefinitionError(
                    f"[disclosure]: dominance must be a list of [n, k] pairs, e.g. [[1, 85], [2, 90]]; got {table['dominance']!r}"
                ) from None
        for name in ("p_percent", "curve_min_at_risk", "curve_min_events", "rounding_base"):
            if values.get(name, 1) in (0, False, "off", "none"):
                values[name] = None
        return cls(**values)

    def for_class(self, cls: DisclosureClass) -> dict[str, Any]:
        """The thresholds that apply to one class (written to the output-check log)."""
        rounding = {"rounding_base": self.rounding_base}
        if cls is DisclosureClass.FREQUENCY:
            return {"min_cell_count": self.min_cell_count, "disclosive_zeros": self.disclosive_zeros,
                    "secondary_suppression": self.secondary_suppression, **rounding}
        if cls is DisclosureClass.MAGNITUDE:
            return {"min_cell_count": self.min_cell_count, "dominance": [list(r) for r in self.dominance],
                    "p_percent": self.p_percent, "secondary_suppression": self.secondary_suppression, **rounding}
        if cls is DisclosureClass.MODEL:
            return {"min_events_per_estimate": self.min_events_per_estimate, "min_residual_df": self.min_residual_df,
                    "min_cell_count": self.min_cell_count, **rounding}
        if cls is DisclosureClass.SURVIVAL_CURVE:
            return {"curve_min_at_risk": self.at_risk_threshold, "curve_min_events": self.curve_events_threshold, **rounding}
        if cls is DisclosureClass.TEXT_NUMBER:
            return {"min_cell_count": self.min_cell_count, **rounding}
        return {}


def rule_set_text(cls: DisclosureClass, thresholds: Mapping[str, Any]) -> str:
    """One line naming the rules and thresholds, for the log (``min_cell_count=10; …``)."""
    if not thresholds:
        return "härledd från kontrollerade utdata" if cls is not DisclosureClass.ROW_LEVEL else "alltid stoppad"
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in thresholds.items())


def round_count(value: float, base: int | None) -> int:
    """Round a count to the nearest multiple of ``base`` (halves up); unchanged if ``base`` is None."""
    if base is None or base <= 1:
        return int(value)
    return int(math.floor(value / base + 0.5) * base)


# --- declarations ------------------------------------------------------------------------------


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


# --- checked outputs -----------------------------------------------------------------------------

_ISSUED = object()  # only this module can make a CheckedOutput


@dataclass(frozen=True)
class Reason:
    """Why a cell, row or step was withheld (never its value)."""

    location: str
    rule: str
    detail: str = ""

    def text(self) -> str:
        label = RULE_LABELS_SV.get(self.rule, self.rule)
        return f"{self.location}: {label}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class RunInfo:
    """Who and when, for the log."""

    run_at: datetime
    code_version: str
    run_by: str = "koord report"
    environment: tuple[tuple[str, str], ...] = ()  # (package, version) that made the numbers


@dataclass(frozen=True)
class CheckedOutput:
    """An output after disclosure control: what may be published, its status and the reasons.

    Made only by `check_outputs`; renderers accept nothing else. Published frames are handed
    out as copies; suppressed cells are None (shown as ``..``). Reading the tables of a blocked
    output raises `DisclosureError`.
    """

    output_id: str
    declaration: OutputDeclaration
    status: Status
    reasons: tuple[Reason, ...]
    n_suppressed: int
    n_cells: int
    thresholds: Mapping[str, Any]
    run: RunInfo
    _tables: Mapping[str, pd.DataFrame] = field(repr=False, default_factory=dict)
    value: float | None = None  # text numbers
    source_ids: tuple[str, ...] = ()
    flags: tuple[Reason, ...] = ()  # noted for the human checker, nothing withheld
    meta: Mapping[str, Any] = field(default_factory=dict)  # e.g. group/time columns of a curve
    _token: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._token is not _ISSUED:
            raise DisclosureError(
                f"output {self.output_id!r}: a CheckedOutput is made only by reports.disclosure.check_outputs"
            )

    @property
    def disclosure_class(self) -> DisclosureClass:
        return self.declaration.disclosure_class

    @property
    def is_blocked(self) -> bool:
        return self.status is Status.BLOCKED

    def table(self, key: str | None = None) -> pd.DataFrame:
        """A copy of a published table (the only one if ``key`` is None)."""
        if self.is_blocked:
            raise DisclosureError(f"output {self.output_id!r} is blocked by disclosure control and cannot be shown")
        if key is None:
            if len(self._tables) != 1:
                raise KeyError(f"output {self.output_id!r} has tables {list(self._tables)}; name one")
            key = next(iter(self._tables))
        return self._tables[key].copy()

    @property
    def table_keys(self) -> tuple[str, ...]:
        return tuple(self._tables)

    def reason_text(self) -> str:
        return "; ".join(r.text() for r in self.reasons)


def require_checked(obj: object, what: str = "output") -> CheckedOutput:
    """Return ``obj`` if it is a CheckedOutput that may be shown, else raise `DisclosureError`."""
    if not isinstance(obj, CheckedOutput):
        raise DisclosureError(
            f"{what}: only outputs checked by disclosure control can be rendered, got {type(obj).__name__}"
        )
    if obj.is_blocked:
        raise DisclosureError(f"{what}: output {obj.output_id!r} is blocked by disclosure control")
    return obj


def _issue(**kwargs: Any) -> CheckedOutput:
    return CheckedOutput(_token=_ISSUED, **kwargs)


# --- the suppression engine (frequency and magnitude tables) ------------------------------------

_Key = tuple[str, str, Hashable, Hashable]  # output id, table, row, col


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[_Key, _Key] = {}

    def find(self, k: _Key) -> _Key:
        self.parent.setdefault(k, k)
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: _Key, b: _Key) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _location(key: _Key) -> str:
    _, table, row, col = key
    return f"{table} / {row} / {col}"


def secondary_suppression(
    values: Mapping[_Key, float],
    equations: Sequence[tuple[_Key, ...]],
    primary: Mapping[_Key, Reason],
    *,
    margins: Iterable[_Key] = (),
    links: Iterable[tuple[_Key, _Key]] = (),
) -> dict[_Key, Reason]:
    """Extend a primary suppression pattern until no equation gives a withheld cell back.

    Parameters
    ----------
    values : mapping cell -> value
        Every cell of the linked tables (used to pick the smallest complement).
    equations : sequence of cell tuples
        Members of each additive relation (total and parts alike: one unknown member is
        recoverable whichever it is).
    primary : mapping cell -> Reason
        Cells withheld by the primary rules.
    margins : cells that are totals; chosen as complements only when no inner cell can be.
    links : pairs of cells that publish the same number; withheld together.

    Returns
    -------
    dict cell -> Reason
        Every withheld cell, primary and secondary, each with its reason.
    """
    uf = _UnionFind()
    for k in values:
        uf.find(k)
    for a, b in links:
        if a not in values or b not in values:
            raise DisclosureError(f"link between unknown cells {a!r} and {b!r}")
        if not math.isclose(float(values[a]), float(values[b]), rel_tol=1e-9, abs_tol=1e-9):
            raise DisclosureError(f"linked cells {_location(a)} and {_location(b)} publish different numbers")
        uf.union(a, b)
    members: dict[_Key, list[_Key]] = {}
    for k in values:
        members.setdefault(uf.find(k), []).append(k)
    margin_classes = {uf.find(k) for k in margins}

    # Suppression state per class of linked cells: the primary or the secondary reason.
    cls_reason: dict[_Key, Reason] = {}
    for k, reason in primary.items():
        cls_reason.setdefault(uf.find(k), reason)
    class_equations = [tuple(dict.fromkeys(uf.find(k) for k in eq)) for eq in equations]
    order = {c: i for i, c in enumerate(members)}

    def preference(c: _Key) -> tuple[int, float, int]:
        # Smallest non-zero inner cell first, then margins, then zeros (a withheld zero protects little).
        v = abs(float(values[c]))
        rank = (0 if v > 0 else 2) + (1 if c in margin_classes else 0)
        return (rank, v, order[c])

    changed = True
    while changed:
        changed = False
        for eq in class_equations:
            hidden = [c for c in eq if c in cls_reason]
            if len(hidden) != 1:
                continue
            candidates = [c for c in eq if c not in cls_reason]
            if not candidates:
                continue
            pick = min(candidates, key=preference)
            cls_reason[pick] = Reason("", "secondary", f"skyddar {_location(hidden[0])}")
            changed = True

    withheld: dict[_Key, Reason] = {}
    for cls, reason in cls_reason.items():
        for k in members[cls]:
            if k in primary:
                withheld[k] = replace(primary[k], location=_location(k))
            else:
                copies = ", ".join(_location(m) for m in members[cls] if m != k)
                withheld[k] = Reason(_location(k), "linked", f"samma tal som {copies}") if reason.rule != "secondary" else (
                    replace(reason, location=_location(k), detail=reason.detail + (f"; samma tal som {copies}" if copies else ""))
                )
    return withheld


def _ref_key(ref: CellRef) -> _Key:
    return (ref.output_id, ref.table, ref.row, ref.col)


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


def _person_key_columns() -> set[str]:
    """Column names that identify a person or a spell: their presence makes an output row-level.

    The person key of the delivery contracts (``LopNr``/``person_id``) and the identifier
    columns (``*_id``) of the analysis tables' keys (``spell_id``).
    """
    from data_schemas.extracts import EXTRACTS
    from data_schemas.tables import TABLES

    keys = {n.lower() for e in EXTRACTS for c in e.columns if c.is_person_key for n in (c.name, c.stg_name)}
    keys |= {c.lower() for t in TABLES for c in t.key if c.endswith("_id")}
    return keys


def _row_level_columns(frame: pd.DataFrame) -> list[str]:
    names = [str(c) for c in frame.columns] + [str(n) for n in frame.index.names if n is not None]
    keys = _person_key_columns()
    return [n for n in names if n.lower() in keys]


# --- checking -------------------------------------------------------------------------------------


def _status(n_suppressed: int, nothing_left: bool) -> Status:
    if nothing_left:
        return Status.BLOCKED
    return Status.SUPPRESSED if n_suppressed else Status.PASSED


def _publish_counts(values: pd.DataFrame, withheld: set[tuple[Hashable, Hashable]], base: int | None) -> pd.DataFrame:
    out = values.astype(object).copy()
    for r in values.index:
        for c in values.columns:
            out.at[r, c] = None if (r, c) in withheld else round_count(float(values.at[r, c]), base)
    return out


def _linked_system(
    candidates: Sequence[FrequencyOutput | MagnitudeOutput], models: Sequence[ModelOutput], rules: DisclosureRules,
) -> dict[str, Any]:
    """Every cell of the linked tables with its value, the relations among them and the primary pattern."""
    values: dict[_Key, float] = {}
    equations: list[tuple[_Key, ...]] = []
    margins: list[_Key] = []
    primary: dict[_Key, Reason] = {}
    flags: dict[str, list[Reason]] = {}
    links: list[tuple[_Key, _Key]] = []
    count_keys: set[_Key] = set()
    for out in candidates:
        oid = output_id_of(out)
        flags[oid] = []
        for tkey, table in out.tables.items():
            is_count = isinstance(table, CountTable)
            frame = table.values if is_count else table.totals
            for r in frame.index:
                for c in frame.columns:
                    values[(oid, tkey, r, c)] = float(frame.at[r, c])
                    if is_count:
                        count_keys.add((oid, tkey, r, c))
            equations += [tuple((oid, tkey, *cell) for cell in (eq.total, *eq.parts)) for eq in table.equations]
            margins += [(oid, tkey, *cell) for cell in table.margin_cells]
            if is_count:
                p, f = _primary_frequency(oid, tkey, table, rules)
                flags[oid] += f
            else:
                p = _primary_magnitude(oid, tkey, table, rules)
            primary.update(p)
        for link in out.links:
            if isinstance(link, Link):
                links.append((_ref_key(link.a), _ref_key(link.b)))
            else:
                equations.append(tuple(_ref_key(ref) for ref in (link.total, *link.parts)))
                margins.append(_ref_key(link.total))
    model_keys: set[_Key] = set()
    for model in models:
        oid = output_id_of(model)
        for shared in model.shared_counts:
            key = (oid, "summary", shared.row, shared.column)
            try:
                values[key] = float(model.summary[shared.column].iloc[shared.row])
            except (KeyError, IndexError, TypeError, ValueError):
                raise DisclosureError(f"model output {oid!r}: shared count row {shared.row}, column {shared.column!r} "
                                      "is not a number of its summary") from None
            model_keys.add(key)
            count_keys.add(key)
            links.append((key, _ref_key(shared.cell)))
    unknown = [k for eq in equations for k in eq if k not in values] + [k for pair in links for k in pair if k not in values]
    if unknown:
        raise DisclosureError(f"link to a cell that no checked table has: {_location(unknown[0])} (output {unknown[0][0]!r})")
    for eq in equations:
        total, parts = values[eq[0]], sum(values[k] for k in eq[1:])
        if not math.isclose(total, parts, rel_tol=1e-9, abs_tol=1e-6):
            raise DisclosureError(f"linked cells do not add up: {_location(eq[0])} is not the sum of its parts")
    return {"values": values, "equations": equations, "margins": margins, "primary": primary, "links": links,
            "flags": flags, "count_keys": count_keys, "model_keys": model_keys}


def _count_relations(
    equations: Sequence[tuple[_Key, ...]], links: Sequence[tuple[_Key, _Key]], count_keys: set[_Key],
) -> tuple[list[tuple[_Key, ...]], list[tuple[_Key, _Key]]]:
    """The relations among counts only (magnitude tables' sums of amounts are not counts)."""
    return ([eq for eq in equations if all(k in count_keys for k in eq)],
            [pair for pair in links if pair[0] in count_keys and pair[1] in count_keys])


def _protect(
    values: Mapping[_Key, float],
    equations: Sequence[tuple[_Key, ...]],
    primary: Mapping[_Key, Reason],
    margins: Sequence[_Key],
    links: Sequence[tuple[_Key, _Key]],
    count_keys: set[_Key],
    rules: DisclosureRules,
) -> dict[_Key, Reason]:
    """Secondary suppression, then the audit until no withheld count is pinned narrower than the threshold.

    The heuristic (`secondary_suppression`) leaves no equation with one unknown, but several
    equations together, or two withheld cells whose sum is small, can still pin a cell. The
    audit (`reports.audit.interval_audit`) finds such a cell; one more cell of the relations
    that pin it is withheld (the smallest non-zero inner cell first) and the pattern solved
    again, until the audit passes or nothing is left to withhold.
    """
    count_eqs, count_links = _count_relations(equations, links, count_keys)
    margin_set = set(margins)
    extra: dict[_Key, Reason] = {}
    withheld = secondary_suppression(values, equations, primary, margins=margins, links=links)
    for _ in range(len(count_keys) + 1):
        targets = [k for k in count_keys if k in withheld]
        if not targets:
            break
        published = {k: (None if k in withheld else float(round_count(values[k], rules.rounding_base))) for k in count_keys}
        intervals = interval_audit(published, count_eqs, count_links, rounding_base=rules.rounding_base, targets=targets)
        narrow = sorted((k for k in targets if intervals[k].width < rules.min_cell_count), key=repr)
        if not narrow:
            break
        pick = _widening_cell(narrow[0], withheld, count_eqs, count_links, values, margin_set)
        if pick is None:
            break  # nothing left to withhold around it; the report's audit says so
        extra[pick] = Reason("", "audit", f"skyddar {_location(narrow[0])}")
        withheld = secondary_suppression(values, equations, {**primary, **extra}, margins=margins, links=links)
    return withheld


def _widening_cell(
    target: _Key,
    withheld: Mapping[_Key, Reason],
    equations: Sequence[tuple[_Key, ...]],
    links: Sequence[tuple[_Key, _Key]],
    values: Mapping[_Key, float],
    margins: set[_Key],
) -> _Key | None:
    """A published cell whose withholding loosens the relations that pin ``target``.

    Searches the equations of the target (and its linked copies) first, then those reached
    through the other withheld cells in them; within one round the smallest non-zero inner
    cell, then margins, then zeros.
    """
    same: dict[_Key, set[_Key]] = {}
    for a, b in links:
        same.setdefault(a, {a}).add(b)
        same.setdefault(b, {b}).add(a)
    frontier, seen_cells, seen_eqs = set(same.get(target, {target})), set(), set()
    while frontier:
        seen_cells |= frontier
        candidates, reached = [], set()
        for i, eq in enumerate(equations):
            if i in seen_eqs or not frontier.intersection(eq):
                continue
            seen_eqs.add(i)
            for k in eq:
                if k in withheld:
                    reached |= same.get(k, {k})
                else:
                    candidates.append(k)
        if candidates:
            return min(candidates, key=lambda k: ((0 if values[k] > 0 else 2) + (1 if k in margins else 0),
                                                  abs(values[k]), repr(k)))
        frontier = reached - seen_cells
    return None


def _check_tables(
    candidates: Sequence[FrequencyOutput | MagnitudeOutput],
    rules: DisclosureRules,
    run: RunInfo,
    models: Sequence[ModelOutput] = (),
) -> tuple[dict[str, CheckedOutput], dict[_Key, Reason]]:
    """Frequency and magnitude tables of all candidates, solved as one linked system.

    The models' shared counts (`SharedCount`) join the system as cells linked to the count
    table cells they repeat. Returns the checked tables and the withheld shared model counts
    (key ``(model id, 'summary', row, column)``).
    """
    system = _linked_system(candidates, models, rules)
    values, equations, margins, primary, links, flags = (
        system["values"], system["equations"], system["margins"], system["primary"], system["links"], system["flags"])
    if rules.secondary_suppression:
        withheld = _protect(values, equations, primary, margins, links, system["count_keys"], rules)
    else:
        withheld = {k: replace(r, location=_location(k)) for k, r in primary.items()}

    checked = {}
    for out in candidates:
        oid = output_id_of(out)
        tables: dict[str, pd.DataFrame] = {}
        reasons: list[Reason] = []
        n_cells = 0
        for tkey, table in out.tables.items():
            hidden = {(k[2], k[3]) for k in withheld if k[0] == oid and k[1] == tkey}
            reasons += [r for k, r in withheld.items() if k[0] == oid and k[1] == tkey]
            if isinstance(table, CountTable):
                tables[tkey] = _publish_counts(table.values, hidden, rules.rounding_base)
                n_cells += table.values.size
            else:
                tables[tkey] = _publish_magnitude(table, hidden, rules.rounding_base)
                n_cells += table.totals.size
        n_suppressed = len(reasons)
        nothing_left = n_cells > 0 and n_suppressed == n_cells
        if nothing_left:
            reasons.append(Reason("hela utdatan", "nothing_left"))
        checked[oid] = _issue(
            output_id=oid, declaration=out.declaration, status=_status(n_suppressed, nothing_left),
            reasons=tuple(reasons), n_suppressed=n_suppressed, n_cells=n_cells,
            thresholds=rules.for_class(out.declaration.disclosure_class), run=run,
            _tables=tables, flags=tuple(flags[oid]),
        )
    return checked, {k: r for k, r in withheld.items() if k in system["model_keys"]}


def _publish_magnitude(table: MagnitudeTable, withheld: set[tuple[Hashable, Hashable]], base: int | None) -> pd.DataFrame:
    """Long frame: row, col, value (sum or mean), n_contributors (rounded); withheld cells None."""
    rows = []
    for r in table.totals.index:
        for c in table.totals.columns:
            n = int(table.n_contributors.at[r, c])
            hidden = (r, c) in withheld
            total = float(table.totals.at[r, c])
            value = None if hidden or n == 0 else (total / n if table.statistic == "mean" else total)
            rows.append({"row": r, "col": c, "value": value,
                         "n_contributors": None if hidden else round_count(n, base)})
    frame = pd.DataFrame(rows, columns=["row", "col", "value", "n_contributors"]).astype(object)
    return frame.where(frame.notna(), None)


def _sanitise_diagnostics(text: object) -> object:
    """Diagnostics JSON without count-like entries (``n_*``, ``*events*``, nested counts): flags and statistics stay."""
    if not isinstance(text, str) or not text.strip():
        return text
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None  # unreadable: cannot be checked, so not published

    def keep(key: str, value: Any) -> bool:
        if isinstance(value, bool) or value is None:
            return True
        k = key.lower()
        if k.startswith("n_") or any(w in k for w in _COUNT_WORDS):
            return False
        return isinstance(value, (int, float, str))

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if isinstance(v, dict) or keep(str(k), v)}
        return value

    return json.dumps(clean(data), ensure_ascii=False, sort_keys=True)


_COUNT_WORDS = ("event", "count", "persons", "spells", "days", "rows", "cells", "controls", "treated_n", "size")


def _arm_events(diagnostics: object) -> float | None:
    """The fewest events in any arm, when a row's diagnostics state ``events_per_arm``."""
    if not isinstance(diagnostics, str):
        return None
    try:
        arms = json.loads(diagnostics).get("events_per_arm")
    except (json.JSONDecodeError, AttributeError):
        return None
    if isinstance(arms, dict) and arms:
        values = [float(v) for v in arms.values() if isinstance(v, (int, float))]
        return min(values) if values else None
    return None


def _complement_model_counts(
    summary: pd.DataFrame, hide: pd.Series, fit_keys: Sequence[str], reasons: list[Reason], where
) -> pd.Series:
    """Rows whose counts are withheld: the withheld rows, and complements where levels add up.

    The persons and events beside the estimates of one dimension's levels (same analysis,
    population, term, estimand and arm) add up to the population's, which is published too:
    when exactly one level's counts are withheld, the smallest other level's counts are
    withheld as well (its estimate stays), until no group has exactly one.
    """
    hidden = hide.copy()
    group_cols = [c for c in ("analysis_id", "sex", "subgroup", "term", "estimand", "arm") if c in summary.columns]
    levels = summary[summary["subgroup"].notna() & (summary["subgroup"] != "all")]
    events = pd.to_numeric(summary["n_events"], errors="coerce").fillna(float("inf"))
    changed = True
    while changed:
        changed = False
        for _, group in levels.groupby(group_cols, dropna=False, sort=False):
            withheld = [i for i in group.index if hidden[i]]
            shown = [i for i in group.index if not hidden[i]]
            if len(withheld) != 1 or not shown:
                continue
            pick = min(shown, key=lambda i: (events[i], i))
            hidden[pick] = True
            reasons.append(Reason(where(summary.loc[pick]), "secondary",
                                  f"antalen skyddar {where(summary.loc[withheld[0]])}; skattningen visas"))
            changed = True
    return hidden


# Estimands that are shares of a group: 0 % or 100 % says the same of everyone in it.
SHARE_ESTIMANDS = ("cumulative_incidence", "risk", "proportion", "share", "survival", "cif")
# Estimands computed from two such shares: they give a withheld share back from the other.
SHARE_CONTRASTS = ("risk_difference", "risk_ratio")
# Shares are shown with one decimal in per cent: within half a unit of that of 0 or 1 reads as 0 % or 100 %.
EXTREME_SHARE_MARGIN = 0.0005


def is_extreme_share(estimate: object) -> bool:
    """True when a share (0-1) would read as 0,0 % or 100,0 %."""
    try:
        x = float(estimate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not math.isnan(x) and (x < EXTREME_SHARE_MARGIN or x > 1 - EXTREME_SHARE_MARGIN)


def _check_model(
    out: ModelOutput, rules: DisclosureRules, run: RunInfo, linked_hidden: Mapping[tuple[int, str], Reason] | None = None,
) -> CheckedOutput:
    """Per row: persons and events (the fewest in any compared arm, when stated); per fit: residual df.

    A share of 0 % or 100 % of a group (`SHARE_ESTIMANDS`) is withheld like a small count,
    and with it the contrasts (`SHARE_CONTRASTS`) of the same comparison, which would give it
    back. Counts the linked system withholds (``linked_hidden``: (row, column) -> reason, from
    the model's `SharedCount`s) are withheld here too.

    Published: the tidy columns and the label columns `MODEL_LABELS` (``n_persons`` and
    ``n_events`` rounded when rounding is on); other extra columns (further counts, sums of
    days, intermediate estimates) are not published. Withheld rows keep only their labels.
    """
    from analyses.results import SUMMARY_COLUMNS

    oid = output_id_of(out)
    summary = out.summary.reset_index(drop=True).copy()
    missing = [c for c in (*MODEL_KEYS, "term", "estimate", "n_persons", "n_events") if c not in summary.columns]
    if missing:
        raise DisclosureError(f"model output {oid!r}: the summary lacks column(s) {', '.join(missing)}")
    fit_keys = [*MODEL_KEYS, *(["sex"] if "sex" in summary.columns else [])]
    count_columns = ["n_persons", "n_events"]
    label_columns = [c for c in (*fit_keys, *MODEL_LABELS, "method", "estimand", "term") if c in summary.columns]
    reasons: list[Reason] = []
    hide = pd.Series(False, index=summary.index)

    def where(row: pd.Series) -> str:
        return " / ".join(str(row[c]) for c in (*fit_keys, "term"))

    for _, fit in summary.groupby(fit_keys, dropna=False, sort=False):
        n_params = int(fit["n_parameters"].max()) if "n_parameters" in fit.columns else len(fit)
        n_persons = pd.to_numeric(fit["n_persons"], errors="coerce").max()
        if pd.isna(n_persons):
            continue  # reported per row below
        if float(n_persons) - n_params < rules.min_residual_df:
            for i in fit.index:
                hide[i] = True
                reasons.append(Reason(where(summary.loc[i]), "min_residual_df", f"under {rules.min_residual_df}"))
    for i, row in summary.iterrows():
        if hide[i]:
            continue
        n_persons = pd.to_numeric(pd.Series([row["n_persons"]]), errors="coerce").iloc[0]
        n_events = pd.to_numeric(pd.Series([row["n_events"]]), errors="coerce").iloc[0]
        arm_events = _arm_events(row.get("diagnostics"))
        if arm_events is not None and not pd.isna(n_events):
            n_events = min(float(n_events), arm_events)
        if pd.isna(n_persons) or (out.event_based and pd.isna(n_events)):
            hide[i] = True
            reasons.append(Reason(where(row), "events_unknown"))
        elif n_persons < rules.min_cell_count:
            hide[i] = True
            reasons.append(Reason(where(row), "min_persons", f"under {rules.min_cell_count}"))
        elif out.event_based and n_events < rules.min_events_per_estimate:
            hide[i] = True
            detail = f"under {rules.min_events_per_estimate}" + (" i någon arm" if arm_events is not None else "")
            reasons.append(Reason(where(row), "min_events", detail))

    if "estimand" in summary.columns:
        comparison = [c for c in (*fit_keys, "horizon_days", "landmark_day") if c in summary.columns]
        extreme = [i for i, row in summary.iterrows()
                   if not hide[i] and row["estimand"] in SHARE_ESTIMANDS and is_extreme_share(row["estimate"])]
        for i in extreme:
            hide[i] = True
            reasons.append(Reason(where(summary.loc[i]), "extreme_share"))
            same = (summary[comparison].astype(str) == summary.loc[i, comparison].astype(str)).all(axis=1)
            for j in summary.index[same & summary["estimand"].isin(SHARE_CONTRASTS) & ~hide]:
                hide[j] = True
                reasons.append(Reason(where(summary.loc[j]), "extreme_share",
                                      f"skulle ge tillbaka andelen i {where(summary.loc[i])}"))

    counts_hidden = _complement_model_counts(summary, hide, fit_keys, reasons, where)
    for (i, col), reason in (linked_hidden or {}).items():
        if col not in count_columns:
            raise DisclosureError(f"model output {oid!r}: only {count_columns} can be shared counts, got {col!r}")
        counts_hidden[i] = True
        reasons.append(replace(reason, location=where(summary.loc[i])))

    keep = list(dict.fromkeys([*SUMMARY_COLUMNS, *label_columns]))
    published = summary.reindex(columns=[c for c in keep if c in summary.columns]).astype(object)
    published["diagnostics"] = [_sanitise_diagnostics(d) for d in published.get("diagnostics", [None] * len(published))]
    for col in published.columns:
        if col not in label_columns:
            published.loc[hide, col] = None
    for col in count_columns:
        published.loc[counts_hidden, col] = None
        ok = ~counts_hidden & published[col].notna()
        published.loc[ok, col] = [round_count(float(x), rules.rounding_base) for x in published.loc[ok, col]]
    published = published.where(published.notna(), None)
    n_suppressed = int(counts_hidden.sum())
    nothing_left = len(summary) == 0 or bool(hide.all())
    if nothing_left:
        reasons.append(Reason("hela utdatan", "nothing_left"))
    return _issue(
        output_id=oid, declaration=out.declaration, status=_status(n_suppressed, nothing_left),
        reasons=tuple(reasons), n_suppressed=n_suppressed, n_cells=len(summary),
        thresholds=rules.for_class(DisclosureClass.MODEL), run=run, _tables={"summary": published},
    )


def _check_curve(out: CurveOutput, rules: DisclosureRules, run: RunInfo) -> CheckedOutput:
    oid = output_id_of(out)
    need = [*out.group_columns, out.time_column, "n_at_risk", "n_events"]
    missing = [c for c in need if c not in out.curve.columns]
    if missing:
        raise DisclosureError(f"curve output {oid!r}: lacks column(s) {', '.join(missing)}")
    min_risk, min_events = rules.at_risk_threshold, rules.curve_events_threshold
    share_columns = [c for c in out.curve.columns if c in SHARE_ESTIMANDS]
    reasons: list[Reason] = []
    shown_rows = []
    n_steps = n_hidden = 0
    groups = out.curve.groupby(list(out.group_columns), sort=False, dropna=False) if out.group_columns else [((), out.curve)]
    for gkey, g in groups:
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        label = ", ".join(f"{c}={v}" for c, v in zip(out.group_columns, gkey)) or "kurvan"
        g = g.sort_values(out.time_column, kind="stable")
        pending = 0.0
        group_rows = []
        group_reasons = []
        for i, (_, row) in enumerate(g.iterrows()):
            at_risk, events = float(row["n_at_risk"]), float(row["n_events"])
            if i == 0 and events == 0:
                # The curve's start (time 0, nobody has had the event yet).
                n_steps += 1
                if at_risk >= min_risk:
                    group_rows.append({**row.to_dict(), "n_events": 0.0})
                else:
                    n_hidden += 1
                    group_reasons.append(Reason(f"{label}, start", "curve_at_risk", f"under {min_risk}"))
                continue
            if events == 0:
                continue  # censoring only: no step
            n_steps += 1
            pending += events
            if any(is_extreme_share(row[c]) for c in share_columns):
                n_hidden += 1
                group_reasons.append(Reason(f"{label}, t={row[out.time_column]}", "extreme_share"))
            elif at_risk < min_risk:
                n_hidden += 1
                group_reasons.append(Reason(f"{label}, t={row[out.time_column]}", "curve_at_risk", f"under {min_risk}"))
            elif pending < min_events:
                n_hidden += 1
                group_reasons.append(Reason(f"{label}, t={row[out.time_column]}", "curve_events", f"under {min_events}"))
            else:
                group_rows.append({**row.to_dict(), "n_events": pending})
                pending = 0.0
        if not any(r["n_events"] > 0 for r in group_rows):
            reasons.append(Reason(label, "curve_group"))
            n_hidden += len(group_rows)
            continue
        reasons += group_reasons
        shown_rows += group_rows
    # Counts other than those the rule checked (e.g. n_censored) are not published.
    columns = [c for c in out.curve.columns if not str(c).startswith("n_") or c in ("n_at_risk", "n_events")]
    published = pd.DataFrame(shown_rows, columns=list(out.curve.columns))[columns].astype(object)
    for col in ("n_at_risk", "n_events"):
        published[col] = [round_count(float(x), rules.rounding_base) for x in published[col]]
    nothing_left = published.empty
    if nothing_left:
        reasons.append(Reason("hela utdatan", "nothing_left"))
    return _issue(
        output_id=oid, declaration=out.declaration, status=_status(n_hidden, nothing_left),
        reasons=tuple(reasons), n_suppressed=n_hidden, n_cells=n_steps,
        thresholds=rules.for_class(DisclosureClass.SURVIVAL_CURVE), run=run, _tables={"curve": published},
        meta={"group_columns": tuple(out.group_columns), "time_column": out.time_column},
    )


def _check_derived(out: FigureOutput | TextNumberOutput, checked: Mapping[str, CheckedOutput], rules: DisclosureRules, run: RunInfo) -> CheckedOutput:
    oid = output_id_of(out)
    bad = [s for s in out.source_ids if s not in checked or checked[s].is_blocked]
    thresholds = rules.for_class(out.declaration.disclosure_class)
    common = dict(output_id=oid, declaration=out.declaration, thresholds=thresholds, run=run, source_ids=tuple(out.source_ids))
    if bad:
        return _issue(status=Status.BLOCKED, reasons=(Reason(", ".join(bad), "source_blocked"),), n_suppressed=1, n_cells=1, **common)
    if isinstance(out, TextNumberOutput) and out.is_count:
        n = float(out.value)
        if 0 < n < rules.min_cell_count:
            return _issue(status=Status.SUPPRESSED, reasons=(Reason("talet", "min_cell_count", f"under {rules.min_cell_count}"),),
                          n_suppressed=1, n_cells=1, value=None, **common)
        return _issue(status=Status.PASSED, reasons=(), n_suppressed=0, n_cells=1, value=round_count(n, rules.rounding_base), **common)
    if isinstance(out, TextNumberOutput):
        if not out.source_ids:
            raise DisclosureError(f"text number {oid!r}: a derived number must name the checked outputs it comes from")
        return _issue(status=Status.PASSED, reasons=(), n_suppressed=0, n_cells=1, value=out.value, **common)
    if not out.source_ids:
        raise DisclosureError(f"figure {oid!r}: a figure must name the checked outputs it is drawn from")
    return _issue(status=Status.PASSED, reasons=(), n_suppressed=0, n_cells=len(out.source_ids), **common)


def _blocked_row_level(out: Output, cols: Sequence[str], rules: DisclosureRules, run: RunInfo) -> CheckedOutput:
    detail = f"nyckelkolumn {', '.join(cols)}" if cols else "deklarerad som individdata"
    return _issue(
        output_id=output_id_of(out), declaration=out.declaration, status=Status.BLOCKED,
        reasons=(Reason("hela utdatan", "row_level", detail),), n_suppressed=1, n_cells=1,
        thresholds=rules.for_class(DisclosureClass.ROW_LEVEL), run=run,
    )


def _frames_of(out: Output) -> list[pd.DataFrame]:
    if isinstance(out, FrequencyOutput):
        return [t.values for t in out.tables.values()]
    if isinstance(out, MagnitudeOutput):
        return [t.totals for t in out.tables.values()]
    if isinstance(out, ModelOutput):
        return [out.summary]
    if isinstance(out, CurveOutput):
        return [out.curve]
    if isinstance(out, RowLevelOutput):
        return [out.frame]
    return []


def check_outputs(
    candidates: Sequence[Output],
    rules: DisclosureRules,
    run: RunInfo,
) -> dict[str, CheckedOutput]:
    """Check every candidate output by the rules of its declared class.

    Tables (frequency and magnitude) are checked together so that links across outputs hold;
    figures and derived text numbers after their sources.

    Returns
    -------
    dict output id -> CheckedOutput, in the candidates' order.

    Raises
    ------
    DisclosureError
        An output is given as the wrong type for its declared class, or an id repeats.
    """
    ids = [output_id_of(c) for c in candidates]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DisclosureError(f"output id(s) declared twice: {', '.join(dupes)}")
    checked: dict[str, CheckedOutput] = {}
    tables: list[FrequencyOutput | MagnitudeOutput] = []
    models: list[ModelOutput] = []
    derived: list[FigureOutput | TextNumberOutput] = []
    for out in candidates:
        expected = _EXPECTED_CLASS.get(type(out))
        if expected is None:
            raise DisclosureError(f"{type(out).__name__} is not a declared output type")
        if out.declaration.disclosure_class is not expected:
            raise DisclosureError(
                f"output {output_id_of(out)!r} is declared as {out.declaration.disclosure_class.value} "
                f"but given as {type(out).__name__}"
            )
        key_cols = sorted({c for f in _frames_of(out) for c in _row_level_columns(f)})
        if isinstance(out, RowLevelOutput) or key_cols:
            checked[output_id_of(out)] = _blocked_row_level(out, key_cols, rules, run)
        elif isinstance(out, (FrequencyOutput, MagnitudeOutput)):
            tables.append(out)
        elif isinstance(out, ModelOutput):
            models.append(out)
        elif isinstance(out, CurveOutput):
            checked[output_id_of(out)] = _check_curve(out, rules, run)
        else:
            derived.append(out)
    checked_tables, model_withheld = _check_tables(tables, rules, run, models)
    checked.update(checked_tables)
    for model in models:
        oid = output_id_of(model)
        linked = {(k[2], k[3]): r for k, r in model_withheld.items() if k[0] == oid}
        checked[oid] = _check_model(model, rules, run, linked)
    for out in derived:  # text numbers may feed figures and vice versa: sources first
        checked[output_id_of(out)] = _check_derived(out, checked, rules, run)
    return {i: checked[i] for i in ids}


# --- the audit of what was published ---------------------------------------------------------------


def _published_count(checked: CheckedOutput, key: _Key) -> float | None:
    """The number a checked output publishes in a cell (None when withheld)."""
    _, tkey, row, col = key
    frame = checked.table(tkey)
    if checked.disclosure_class is DisclosureClass.MODEL:
        value = frame[col].iloc[row]
    else:
        value = frame.at[row, col]
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and not pd.isna(value):
        return float(value)
    return None


def audit_report(candidates: Sequence[Output], checked: Mapping[str, CheckedOutput], rules: DisclosureRules) -> pd.DataFrame:
    """Attack the published numbers: the interval every withheld count can lie in.

    The relations are those the outputs declare (margins, flow steps, links across tables,
    models' shared counts); the values are what the checked outputs publish (rounded when
    rounding is on), never the true ones. Returns `reports.audit.audit_frame`: one row per
    withheld count with its interval and ``protected`` (width at least ``min_cell_count``).
    A blocked output publishes nothing: its cells count as withheld.
    """
    tables = [c for c in candidates if isinstance(c, (FrequencyOutput, MagnitudeOutput)) and output_id_of(c) in checked]
    models = [c for c in candidates if isinstance(c, ModelOutput) and output_id_of(c) in checked]
    system = _linked_system(tables, models, rules)
    count_keys = system["count_keys"]
    equations, links = _count_relations(system["equations"], system["links"], count_keys)
    published: dict[_Key, float | None] = {}
    for key in count_keys:
        out = checked[key[0]]
        published[key] = None if out.is_blocked else _published_count(out, key)
    intervals = interval_audit(published, equations, links, rounding_base=rules.rounding_base)
    return audit_frame(intervals, rules.min_cell_count)
