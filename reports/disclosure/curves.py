"""Survival and cumulative-incidence curves: steps shown only with enough at risk and enough events since the last."""

from __future__ import annotations

import pandas as pd

from koord.errors import DisclosureError
from reports.disclosure.checked import CheckedOutput, Reason, RunInfo, _issue, _status
from reports.disclosure.declarations import CurveOutput, output_id_of
from reports.disclosure.models import SHARE_ESTIMANDS, is_extreme_share
from reports.disclosure.rules import DisclosureClass, DisclosureRules, round_count


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
