"""Input checks and small helpers shared by the estimators: every problem named, all at once."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import patsy

from koord.errors import ContractViolation


def require_columns(data: pd.DataFrame, spec: Any, fields: dict[str, Iterable[str | None]]) -> None:
    """Raise ContractViolation listing every spec field whose column is not in ``data``.

    Parameters
    ----------
    data
        The estimator's input frame.
    spec
        The spec, named in the message.
    fields
        Spec field name -> the column names it refers to (None entries are skipped).
    """
    problems = []
    for field_name, columns in fields.items():
        for column in columns:
            if column is not None and column not in data.columns:
                problems.append(f"{field_name}={column!r}")
    if problems:
        available = ", ".join(map(str, data.columns[:30]))
        raise ContractViolation(
            f"{spec_name(spec)}: the data have no column for {', '.join(problems)} "
            f"(columns present: {available}{' …' if len(data.columns) > 30 else ''})"
        )


def _first_rows(mask: np.ndarray, index: pd.Index, k: int = 3) -> str:
    rows = index[np.flatnonzero(mask)[:k]].tolist()
    return ", ".join(map(str, rows))


def numeric_column(data: pd.DataFrame, column: str, what: str, errors: list[str]) -> np.ndarray:
    """``data[column]`` as float64; a non-numeric or missing value is appended to ``errors``."""
    series = data[column]
    if series.dtype == bool or str(series.dtype) == "boolean":
        series = series.astype("float64")
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        errors.append(
            f"{what} column {column!r}: {int(bad.sum())} missing, non-numeric or infinite "
            f"value(s) (first at row index {_first_rows(bad, data.index)})"
        )
    return values


def check(condition_bad: np.ndarray, message: str, data: pd.DataFrame, errors: list[str]) -> None:
    """Append ``message`` with a count and the first offending row indexes when any row is bad."""
    if condition_bad.any():
        errors.append(
            f"{message}: {int(condition_bad.sum())} row(s) (first at row index "
            f"{_first_rows(condition_bad, data.index)})"
        )


def plain_design(formula_rhs: str, frame: pd.DataFrame) -> pd.DataFrame | None:
    """The design of a formula that only adds numeric columns ("a + b + c", or "1"), without patsy.

    Same columns and names as patsy's (Intercept first); None for any other formula, which
    patsy builds. The designs of the analyses are sums of indicator columns: patsy's
    per-term machinery costs seconds on hundreds of thousands of cells.
    """
    design = pd.DataFrame({"Intercept": np.ones(len(frame))}, index=frame.index)
    if formula_rhs.strip() == "1":
        return design
    terms = [t.strip() for t in formula_rhs.split("+")]
    if not terms or any(not t.isidentifier() or t not in frame.columns for t in terms) or len(set(terms)) < len(terms):
        return None
    columns = frame[terms]
    if not all(pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d) for d in columns.dtypes):
        return None
    if columns.isna().to_numpy().any():
        return None  # patsy raises the error for people
    return pd.concat([design, columns.astype(float)], axis=1)


def formula_design(data: pd.DataFrame, formula_rhs: str, spec: Any) -> pd.DataFrame:
    """The design matrix of a patsy right-hand side (treatment coding, 'Intercept' first).

    Raises ContractViolation naming the spec when the formula cannot be built from the data.
    """
    plain = plain_design(formula_rhs, data)
    if plain is not None:
        return plain
    try:
        return patsy.dmatrix(formula_rhs, data, NA_action="raise", return_type="dataframe")
    except (patsy.PatsyError, NameError) as error:
        raise ContractViolation(f"{spec_name(spec)}: formula {formula_rhs!r} cannot be built from the data: "
                                f"{str(error).splitlines()[0]}") from None


def spec_name(spec: Any) -> str:
    """'CoxSpec 'cox_main'' — the spec's type and analysis id, to start an error message."""
    analysis_id = getattr(spec, "analysis_id", None)
    return f"{type(spec).__name__} {analysis_id!r}" if analysis_id else type(spec).__name__


def raise_if(errors: list[str], spec: Any) -> None:
    """Raise one ContractViolation naming every collected problem."""
    if errors:
        raise ContractViolation(f"{spec_name(spec)}: " + "; ".join(errors))


def unique_names(names: tuple[str, ...], what: str, spec_type: str) -> None:
    """Raise ContractViolation when a column is named twice (e.g. among the covariates)."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ContractViolation(f"{spec_type}: {what} {repeated} listed more than once")


def group_labels(data: pd.DataFrame, group: str | None) -> tuple[np.ndarray, list[Any]]:
    """Integer group codes (0..G-1, sorted by value) and the group values; one group if None."""
    if group is None:
        return np.zeros(len(data), dtype=np.int64), [None]
    values = data[group]
    if values.isna().any():
        raise ContractViolation(
            f"group column {group!r}: {int(values.isna().sum())} missing value(s) "
            f"(first at row index {_first_rows(values.isna().to_numpy(), data.index)})"
        )
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), list(uniques)


def subgroup_label(group: str | None, value: Any) -> str | None:
    """'sex=woman' style label for a summary row, None for the whole population."""
    return None if group is None else f"{group}={value}"


def as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """A column name or a sequence of names as a tuple (empty for None)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def step_lookup(curve_times: np.ndarray, values: np.ndarray, at: np.ndarray, before: float) -> np.ndarray:
    """Right-continuous step function: the value at the last curve time <= each ``at``.

    ``before`` is the value before the first curve time (1 for survival, 0 for incidence).
    """
    position = np.searchsorted(curve_times, at, side="right") - 1
    out = np.where(position >= 0, values[np.clip(position, 0, None)] if len(values) else before, before)
    return out.astype("float64")
