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


def _copy_out(value: Any) -> Any:
    if isinstance(value, (pd.DataFrame, pd.Series, np.ndarray)):
        return value.copy()
    return value


@dataclass(frozen=True, eq=False)
class Result:
    """An estimator's output; immutable.

    Frames and mappings are copied when the result is made and handed out as copies, so no
    caller can change the numbers of a result another caller holds. Results compare by
    identity (``eq=False``): frames have no single truth value.

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
        missing = [c for c in SUMMARY_COLUMNS if c not in self.summary.columns]
        if missing:
            raise ValueError(f"Result summary lacks the standard columns {missing}")
        extra = [c for c in self.summary.columns if c not in SUMMARY_COLUMNS]
        object.__setattr__(self, "summary", self.summary[SUMMARY_COLUMNS + extra].copy())
        object.__setattr__(self, "diagnostics", copy.deepcopy(dict(self.diagnostics)))
        object.__setattr__(self, "tables", {str(k): v.copy() for k, v in dict(self.tables).items()})
        for name, value in vars(self).items():
            if isinstance(value, (pd.DataFrame, pd.Series, np.ndarray)):
                object.__setattr__(self, name, value.copy())

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name == "diagnostics":
            return copy.deepcopy(value)
        if name == "tables":
            return {k: v.copy() for k, v in value.items()}
        return _copy_out(value)

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
