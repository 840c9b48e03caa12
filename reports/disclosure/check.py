"""The entry point: `check_outputs` checks every candidate by its class; `audit_report` attacks what was published.

Tables (frequency and magnitude) and the counts models share with them are solved as one
linked system (`reports.disclosure.suppression`), models after them (`models`), curves on their
own (`curves`), figures and numbers derived from other outputs after their sources; row-level
data is blocked (`primary`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from koord.errors import DisclosureError
from reports.audit import audit_frame, interval_audit
from reports.disclosure.checked import CheckedOutput, Reason, RunInfo, _issue
from reports.disclosure.curves import _check_curve
from reports.disclosure.declarations import (
    _EXPECTED_CLASS,
    CurveOutput,
    FigureOutput,
    FrequencyOutput,
    MagnitudeOutput,
    ModelOutput,
    Output,
    RowLevelOutput,
    TextNumberOutput,
    _Key,
    output_id_of,
)
from reports.disclosure.models import _check_model
from reports.disclosure.primary import _blocked_row_level, _row_level_columns
from reports.disclosure.rules import DisclosureClass, DisclosureRules, Status, round_count
from reports.disclosure.suppression import _check_tables, _count_relations, _linked_system


# --- checking -------------------------------------------------------------------------------------


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
