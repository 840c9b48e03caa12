"""Pure builders shared by sections: counts from aggregate frames to `CountTable`s with their equations."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from data_schemas.tables import SEXES
from koord.errors import ContractViolation
from reports.disclosure import CellRef, CheckedOutput, CountTable, Equation, LinkedEquation, SharedCount, with_margins

TOTAL = "Totalt"
MISSING = "__saknas__"  # row label of NULL values, so the rows add up to the margin
UNKNOWN_SEX = "unknown"
FLOW_OUTPUT = "bortfall"  # the inclusion flow's output, and the keys of its tables per measure
FLOW_TABLES = {"n_persons": "personer", "n_spells": "sjukfall"}
FLOW_PERSONS = FLOW_TABLES["n_persons"]


def rows_where(frame: pd.DataFrame, **where: object) -> pd.DataFrame:
    """Rows whose columns equal the values (a tuple: any of them; a number: numerically equal), renumbered."""
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            mask &= pd.to_numeric(frame[column], errors="coerce") == float(value)
            continue
        values = tuple(map(str, value)) if isinstance(value, tuple) else (str(value),)
        mask &= frame[column].astype(str).isin(values)
    return frame[mask].reset_index(drop=True)


def first_where(frame: pd.DataFrame | None, **where: object) -> pd.Series | None:
    """The first row `rows_where` finds; None when there is none (or no frame)."""
    if frame is None:
        return None
    rows = rows_where(frame, **where)
    return rows.iloc[0] if len(rows) else None


def table_notes(outputs: Sequence[CheckedOutput | None], *notes: str) -> tuple[str, ...]:
    """The notes under a table (the symbols' explanations are added by `TableView` from the cells it shows)."""
    return tuple(notes)


def published_ids(*outputs: CheckedOutput | None) -> tuple[str, ...]:
    """The ids of the checked outputs a table is read from (absent and blocked ones left out)."""
    return tuple(o.output_id for o in outputs if o is not None and not o.is_blocked)


def crosstab_by_sex(
    counts: pd.DataFrame,
    *,
    value_column: str = "value",
    categories: Sequence[Hashable] | None = None,
    group_axis: str | None = "columns",
) -> CountTable:
    """Counts by category (rows) and sex (columns) with both margins.

    Parameters
    ----------
    counts : DataFrame
        One row per (sex, value) with ``n``; NULL values become the row `MISSING`.
    categories : values in the order to show; values not listed follow in sorted order.
        Categories with no count in either sex are left out (an empty row says nothing).
    """
    frame = counts.copy()
    frame[value_column] = frame[value_column].astype(object).where(frame[value_column].notna(), MISSING)
    unknown_sex = sorted(set(frame["sex"]) - set(SEXES))
    if unknown_sex:
        raise ContractViolation(f"sex values {unknown_sex} are not {SEXES} (data_schemas.tables.SEXES)")
    wide = frame.pivot_table(index=value_column, columns="sex", values="n", aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=list(SEXES), fill_value=0)
    order = list(categories or [])
    rest = sorted((v for v in wide.index if v not in order and v != MISSING), key=str)
    rows = [v for v in order if v in wide.index] + rest + ([MISSING] if MISSING in wide.index else [])
    wide = wide.reindex(pd.Index(rows, dtype=object))
    wide = wide[wide.sum(axis=1) > 0]
    wide.index.name = None
    wide.columns.name = None
    return with_margins(wide.astype("int64"), total_label=TOTAL, group_axis=group_axis)  # type: ignore[arg-type]


def attrition_table(attrition: pd.DataFrame, measure: str) -> CountTable | None:
    """The inclusion flow of one measure (``n_persons`` or ``n_spells``) as a count table.

    Rows ``'<k>:kvar'`` hold what remains after step k and ``'<k>:bort'`` what step k removed;
    columns women, men, unknown sex (counted under 'all' only, when any) and the total.
    Equations: each row's total is the sum over sex; each step's remainder plus what the
    next step removed is the previous remainder. Returns None when the measure is empty.
    """
    data = attrition[attrition[measure].notna()]
    if data.empty:
        return None
    wide = data.pivot_table(index="step_order", columns="sex", values=measure, aggfunc="sum")
    if "all" not in wide.columns:
        raise ContractViolation("attrition has no rows with sex = 'all'")
    wide = wide.reindex(columns=[*SEXES, "all"]).fillna(0).astype("int64").sort_index()
    wide[UNKNOWN_SEX] = wide["all"] - wide[list(SEXES)].sum(axis=1)
    if (wide[UNKNOWN_SEX] < 0).any():
        raise ContractViolation(f"attrition {measure}: women and men add up to more than all")
    columns = [*SEXES] + ([UNKNOWN_SEX] if (wide[UNKNOWN_SEX] > 0).any() else []) + ["all"]
    wide = wide[columns].rename(columns={"all": TOTAL})
    rows: list[pd.Series] = []
    equations: list[Equation] = []
    steps = list(wide.index)
    for i, k in enumerate(steps):
        kept = f"{k}:kvar"
        rows.append(wide.loc[k].rename(kept))
        if i:
            removed = f"{k}:bort"
            diff = wide.loc[steps[i - 1]] - wide.loc[k]
            if (diff < 0).any():
                raise ContractViolation(f"attrition {measure}: step {k} keeps more than step {steps[i - 1]}")
            rows.append(diff.rename(removed))
            prev = f"{steps[i - 1]}:kvar"
            equations += [Equation((prev, c), ((kept, c), (removed, c))) for c in wide.columns]
    table = pd.DataFrame(rows)
    sex_cols = [c for c in table.columns if c != TOTAL]
    equations += [Equation((r, TOTAL), tuple((r, c) for c in sex_cols)) for r in table.index]
    return CountTable(table.astype("int64"), tuple(equations), group_axis=None)


def counts_single_column(values: pd.Series, column: str) -> CountTable:
    """A list of counts without published sums (e.g. rows per delivered file)."""
    frame = pd.DataFrame({column: values.astype("int64")})
    frame.index = [str(i) for i in frame.index]
    return CountTable(frame, (), group_axis=None)


def is_number(x: object) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def units_by_sex_tables(rows: pd.DataFrame, output_id: str, event: str, no_event: str,
                        populations: Sequence[str] = ("all", *SEXES)) -> tuple[dict, list]:
    """Per population a count table of units (rows: e.g. regions) × (``event``, ``no_event``) with margins.

    ``rows``: one row per population (``sex``) and unit (``level``) with ``n_spells`` (the
    unit's spells) and ``n_events`` (those with the event). Also the equations everyone = women
    + men, cell by cell, where they hold: secondary suppression and the audit then hold across
    the sexes as well as across the units.
    """
    order = sorted(set(rows["level"].astype(str)))
    tables = {}
    for population in populations:
        d = rows[rows["sex"] == population].set_index("level")
        if d.empty:
            continue
        spells, events = d["n_spells"].astype("int64"), d["n_events"].astype("int64")
        wide = pd.DataFrame({event: events, no_event: spells - events}).reindex([c for c in order if c in d.index])
        wide.index.name, wide.columns.name = None, None
        tables[population] = with_margins(wide.astype("int64"), total_label=TOTAL, group_axis="rows")
    links = []
    if all(p in tables for p in ("all", *SEXES)):
        every, parts = tables["all"].values, [tables[s].values for s in SEXES]
        for r in every.index:
            for c in every.columns:
                if all(r in p.index for p in parts) and every.at[r, c] == sum(p.at[r, c] for p in parts):
                    links.append(LinkedEquation(CellRef(output_id, "all", r, c),
                                                tuple(CellRef(output_id, s, r, c) for s in SEXES)))
    return tables, links


def counts_shared_with_tables(rows: pd.DataFrame, tables: dict, output_id: str, event: str,
                              row_label) -> tuple[SharedCount, ...]:
    """Each model row's ``n_events`` and ``n_spells`` as the cells of `units_by_sex_tables`' tables, when equal.

    ``row_label(row)`` names the table row a model row describes (a unit, or `TOTAL`).
    """
    shared = []
    for i, row in rows.reset_index(drop=True).iterrows():
        table = tables.get(str(row["sex"]))
        if table is None:
            continue
        r = row_label(row)
        if r not in table.values.index:
            continue
        for column, cell in (("n_events", event), ("n_spells", TOTAL)):
            value = row[column]
            if value is not None and not pd.isna(value) and float(value) == float(table.values.at[r, cell]):
                shared.append(SharedCount(int(i), column, CellRef(output_id, str(row["sex"]), r, cell)))
    return tuple(shared)

