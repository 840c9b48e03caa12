"""The common immutable result of every estimator: a tidy summary, diagnostics and long tables."""

from __future__ import annotations

import copy
import html
import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import stats

SUMMARY_COLUMNS = [
    "analysis_id",
    "method",
    "estimand",
    "term",
    "subgroup",
    "level",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "n_persons",
    "n_events",
    "diagnostics",
]

CONFIDENCE_LEVEL = 0.95
Z_95 = float(stats.norm.ppf(0.5 + CONFIDENCE_LEVEL / 2))

_NUMERIC_COLUMNS = ("estimate", "std_error", "conf_low", "conf_high", "p_value")
_COUNT_COLUMNS = ("n_persons", "n_events")


def _to_jsonable(value: Any) -> Any:
    """numpy scalars and arrays as plain Python values, so diagnostics serialise to JSON."""
    if isinstance(value, Mapping):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None  # JSON has no NaN/inf
    return value


def diagnostics_json(diagnostics: Mapping[str, Any]) -> str:
    """The diagnostics mapping as compact, key-sorted JSON text (NaN and inf become null)."""
    return json.dumps(_to_jsonable(diagnostics), sort_keys=True, ensure_ascii=False)


def make_summary(
    rows: Iterable[Mapping[str, Any]],
    *,
    analysis_id: str,
    method: str,
    diagnostics: Mapping[str, Any],
) -> pd.DataFrame:
    """Build a tidy summary frame: SUMMARY_COLUMNS first, then any extra columns the rows carry.

    Parameters
    ----------
    rows
        One mapping per summary line with at least ``estimand``, ``term`` and ``estimate``;
        missing standard columns are filled with None/NaN.
    analysis_id, method
        Written on every row.
    diagnostics
        Stored as JSON text in the ``diagnostics`` column of every row.
    """
    frame = pd.DataFrame(list(rows))
    frame["analysis_id"] = analysis_id
    frame["method"] = method
    frame["diagnostics"] = diagnostics_json(diagnostics)
    for column in SUMMARY_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    for column in _NUMERIC_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype("float64")
    for column in _COUNT_COLUMNS:
        frame[column] = pd.array(frame[column], dtype="Int64")
    extra = [c for c in frame.columns if c not in SUMMARY_COLUMNS]
    return frame[SUMMARY_COLUMNS + extra].reset_index(drop=True)


def wald_row(estimate_log: float, std_error: float, *, ratio: bool) -> dict[str, float]:
    """Estimate, 95 % CI and two-sided Wald p for a coefficient on the log scale.

    With ``ratio`` the estimate and interval are exponentiated (hazard or rate ratio) while
    ``std_error`` stays the standard error of the log ratio.
    """
    z = estimate_log / std_error if std_error > 0 else np.nan
    low, high = estimate_log - Z_95 * std_error, estimate_log + Z_95 * std_error
    transform = np.exp if ratio else (lambda v: v)
    return {
        "estimate": float(transform(estimate_log)),
        "std_error": float(std_error),
        "conf_low": float(transform(low)),
        "conf_high": float(transform(high)),
        "p_value": float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else np.nan,
    }


def coefficient_rows(
    names: Iterable[str],
    log_estimates: Any,
    std_errors: Any,
    *,
    estimand: str,
    intercept_estimand: str | None = None,
    n_persons: Any = None,
    n_events: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One summary row per coefficient of a log-linear model, on the ratio scale.

    ``estimand`` names the ratio ('hazard_ratio', 'odds_ratio', ...); the term 'Intercept'
    gets ``intercept_estimand`` ('odds', 'rate') when given. Each row carries the Wald interval
    (`wald_row`), ``coef`` on the log scale, then the per-coefficient ``extra`` columns in order.
    """
    rows = []
    for j, name in enumerate(names):
        row = {"estimand": intercept_estimand if intercept_estimand and name == "Intercept" else estimand,
               "term": name, "subgroup": None, "level": None, "n_persons": n_persons, "n_events": n_events}
        row.update(wald_row(log_estimates[j], std_errors[j], ratio=True))
        row["coef"] = log_estimates[j]
        for column, values in (extra or {}).items():
            row[column] = values[j]
        rows.append(row)
    return rows


def _read_only_array(array: Any) -> Any:
    """A read-only copy of a column's array, or None for kinds pandas cannot hold read-only here.

    numpy-backed columns (numbers, booleans, text as objects) and pandas' masked numbers
    (Int64, Float64, boolean) are frozen; others (categorical, datetime, arrow) are not.
    """
    if isinstance(array, np.ndarray):
        out = array.copy()
        out.flags.writeable = False
        return out
    if isinstance(array, pd.arrays.NumpyExtensionArray):
        return _read_only_array(array.to_numpy())
    if isinstance(array, (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)):
        data, mask = _read_only_array(array._data), _read_only_array(array._mask)
        return type(array)(data, mask)
    return None


def _frozen(value: Any) -> tuple[Any, bool]:
    """A copy of ``value`` whose numbers are read-only, and whether that worked.

    Frames and series are rebuilt column by column on read-only arrays, so handing out a
    shallow copy (`_hand_out`) costs nothing and a write into it raises ValueError instead of
    changing the result. Where a column cannot be frozen the copy stays writable (and is
    handed out as a deep copy).
    """
    if isinstance(value, np.ndarray):
        return _read_only_array(value), True
    if isinstance(value, pd.Series):
        array = _read_only_array(value.array)
        if array is None:
            return value.copy(), False
        return pd.Series(array, index=value.index, name=value.name, copy=False), True
    if isinstance(value, pd.DataFrame):
        arrays = [_read_only_array(value.iloc[:, j].array) for j in range(value.shape[1])]
        if any(a is None for a in arrays):
            return value.copy(), False
        frame = pd.DataFrame(dict(enumerate(arrays)), index=value.index, copy=False)
        frame.columns = value.columns
        frame.attrs = copy.deepcopy(value.attrs)
        return frame, True
    return value, True


def _hand_out(value: Any, frozen: bool) -> Any:
    """A view of a frozen frame, series or array (shares the read-only numbers); a deep copy otherwise."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy(deep=not frozen)
    if isinstance(value, np.ndarray):
        return value.view() if frozen else value.copy()
    return value


@dataclass(frozen=True, eq=False)
class Result:
    """An estimator's output; immutable.

    Frames, series and arrays are copied once, when the result is made, onto read-only
    arrays; every access hands out a view of them (a new frame object sharing the read-only
    numbers, at no cost however long the table): a caller may add or replace columns of
    what it got, but writing into its values (``frame.loc[i, c] = v``) raises ValueError
    ("assignment destination is read-only") and never changes the result; ``.copy()`` gives a
    writable frame. Columns pandas cannot hold read-only (categorical, datetime) make their
    frame a deep copy on every access instead. ``diagnostics`` (small) is deep-copied on
    access. So no caller can change the numbers of a result another caller holds. Results
    compare by identity (``eq=False``): frames have no single truth value.

    Attributes
    ----------
    analysis_id : str
        The spec's id, written on every summary row.
    method : str
        'cox', 'poisson', 'aalen_johansen', 'kaplan_meier', 'fine_gray', ...
    summary : pandas.DataFrame
        Tidy: SUMMARY_COLUMNS first (extra columns after). Ratios are on the ratio scale, with
        ``estimand`` naming which ('hazard_ratio', 'rate_ratio', ...).
    diagnostics : Mapping
        Convergence and bookkeeping facts, e.g. ``{'converged': True, 'n_iter': 5}``; also
        stored as JSON text in the summary's ``diagnostics`` column.
    tables : Mapping[str, pandas.DataFrame]
        Long tables such as curves (``{'cif': ...}``).
    """

    analysis_id: str
    method: str
    summary: pd.DataFrame
    diagnostics: Mapping[str, Any]
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fields = dict(vars(self))  # as given (attribute access would hand out views)
        missing = [c for c in SUMMARY_COLUMNS if c not in fields["summary"].columns]
        if missing:
            raise ValueError(f"Result summary lacks the standard columns {missing}")
        extra = [c for c in fields["summary"].columns if c not in SUMMARY_COLUMNS]
        thawed = set()  # fields ('summary') and tables ('tables/<name>') handed out as deep copies
        for name, value in fields.items():
            if name == "summary":
                value = value[SUMMARY_COLUMNS + extra]
            if name == "diagnostics":
                object.__setattr__(self, name, copy.deepcopy(dict(value)))
            elif name == "tables":
                tables = {}
                for key, table in dict(value).items():
                    tables[str(key)], ok = _frozen(table)
                    if not ok:
                        thawed.add(f"tables/{key}")
                object.__setattr__(self, name, tables)
            elif isinstance(value, (pd.DataFrame, pd.Series, np.ndarray)):
                frozen, ok = _frozen(value)
                object.__setattr__(self, name, frozen)
                if not ok:
                    thawed.add(name)
        object.__setattr__(self, "_thawed", frozenset(thawed))

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name == "diagnostics":
            return copy.deepcopy(value)
        if name == "tables":
            thawed = object.__getattribute__(self, "_thawed")
            return {k: _hand_out(v, f"tables/{k}" not in thawed) for k, v in value.items()}
        if isinstance(value, (pd.DataFrame, pd.Series, np.ndarray)):
            return _hand_out(value, name not in object.__getattribute__(self, "_thawed"))
        return value

    # -- rendering (separate from the numbers) ---------------------------------------------

    def _display_frame(self) -> pd.DataFrame:
        frame = self.summary
        shown = ["estimand", "term", "subgroup", "level", "estimate", "conf_low", "conf_high",
                 "std_error", "p_value", "n_persons", "n_events"]
        frame = frame[[c for c in shown if frame[c].notna().any()]]
        return frame

    def to_text(self) -> str:
        """Plain-text rendering: a heading, the summary table and the diagnostics."""
        frame = self._display_frame()
        lines = [f"{self.analysis_id} ({self.method})"]
        lines.append(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        diagnostics = ", ".join(f"{k}={v}" for k, v in sorted(self.diagnostics.items()))
        lines.append(f"diagnostics: {diagnostics}")
        return "\n".join(lines)

    def to_html(self) -> str:
        """HTML rendering: a caption, the summary table and the diagnostics as a list."""
        frame = self._display_frame()
        table = frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="",
                              classes="koord-result", border=0)
        items = "".join(
            f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>"
            for k, v in sorted(self.diagnostics.items())
        )
        title = html.escape(f"{self.analysis_id} ({self.method})")
        return f'<section class="koord-result"><h3>{title}</h3>{table}<ul>{items}</ul></section>'
