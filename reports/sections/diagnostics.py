"""Section: the diagnostics that gate each main estimate (balance, equipoise, power, events) and their pass/fail."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from reports.disclosure import CheckedOutput, require_checked
from reports.formatting import NOT_APPLICABLE, format_number, is_missing
from reports.labels import covariate_label
from reports.sections import RenderContext, Section, no_outputs, register
from reports.sections._results import RATIO_ESTIMANDS, analysis_title, population_of, row_label
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView

# (key in the results' diagnostics, heading, decimals); each with an optional '<key>_pass' flag.
DIAGNOSTICS = (
    ("max_abs_smd", "Största |SMD|", 3),
    ("equipoise", "Ekvipoise", 2),
    ("support_share", "Andel inom gemensamt stöd", 2),
    ("mdrr", "Minsta upptäckbara kvot (MDRR)", 2),
    ("mde_risk_difference", "Minsta upptäckbara riskskillnad", 3),
)
FLAGS = (("events_pass", "Tillräckligt många händelser per arm"), ("immortal_time_safe", "Fri från odödlig tid"),
         ("converged", "Modellen konvergerade"))
PASS_SV = {True: "✓ godkänd", False: "✗ ej godkänd", None: "ej tillämplig"}


def is_diagnosed_row(row) -> bool:
    """The estimates the diagnostics gate: each design's comparison for everyone, women and men."""
    own_population = row.get("subgroup") == "all" or (row.get("subgroup") == "sex" and population_of(row) == row.get("level"))
    return own_population and row.get("estimand") in (*RATIO_ESTIMANDS, "risk_difference")


def _diagnostics(text: object) -> Mapping[str, Any]:
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _cell(value: Any, passed: Any, decimals: int) -> DataCell:
    if is_missing(value) and passed is None:
        return DataCell(NOT_APPLICABLE, "text", numeric=False)
    number = "" if is_missing(value) else format_number(value, decimals)
    flag = PASS_SV.get(passed if passed in (True, False) else None)
    text = f"{number} ({flag})" if number and passed in (True, False) else (number or flag)
    return DataCell(text, "diagnostic", numeric=False)


def diagnostics_view(outputs: list[CheckedOutput], analyses: Mapping[str, Mapping[str, Any]]) -> TableView | None:
    """Main estimates' diagnostics; columns no result states are left out."""
    found: list[tuple[CheckedOutput, list[tuple[str, Mapping[str, Any]]]]] = []
    for o in outputs:
        require_checked(o, "diagnostics table")
        rows = []
        for _, r in o.table("summary").iterrows():
            if not is_diagnosed_row(r) or is_missing(r["estimate"]):
                continue  # diagnostics of a withheld estimate are withheld with it
            d = _diagnostics(r["diagnostics"])
            if d:
                rows.append((row_label(r), d))
        if rows:
            found.append((o, rows))
    if not found:
        return None
    stated = {k for _, rows in found for _, d in rows for k, v in d.items() if v is not None}
    values = [(k, h, dec) for k, h, dec in DIAGNOSTICS if k in stated or f"{k}_pass" in stated]
    flags = [(k, h) for k, h in FLAGS if k in stated]
    header = (HeaderCell("Analys och grupp"), *(HeaderCell(h) for _, h, _ in values),
              *(HeaderCell(h) for _, h in flags), HeaderCell("Samlat"))
    groups = []
    for o, rows in found:
        body = []
        for label, d in rows:
            cells = [_cell(d.get(k), d.get(f"{k}_pass"), dec) for k, _, dec in values]
            cells += [DataCell(PASS_SV.get(d.get(k) if d.get(k) in (True, False) else None), "flag", numeric=False) for k, _ in flags]
            overall = d.get("passes")
            cells.append(DataCell(PASS_SV.get(overall if overall in (True, False) else None), "flag", numeric=False))
            body.append(Row(label, tuple(cells), "pass" if overall is True else ("fail" if overall is False else "")))
        groups.append(RowGroup(analysis_title(o, analyses), tuple(body)))
    return TableView(
        "tabell-diagnostik", "Diagnostik för huvudskattningarna: värde och om gränsen uppfylls.", (header,), tuple(groups),
        ("SMD: standardiserad medelvärdesskillnad mellan jämförda grupper efter justering (gräns 0,1). Ekvipoise: andel med "
         "preferensskattning mellan 0,3 och 0,7 (gräns 0,2). MDRR: den minsta kvot studien har 80 % styrka att upptäcka. "
         "Ej tillämplig: diagnostiken gäller inte designen.",),
        tuple(o.output_id for o, _ in found),
    )


def balance_failures(outputs: list[CheckedOutput], analyses: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per diagnosed estimate that fails the balance limit: the covariate that fails, pooled and per trial week."""
    out, seen = [], set()
    for o in outputs:
        for _, r in o.table("summary").iterrows():
            if not is_diagnosed_row(r) or is_missing(r["estimate"]):
                continue
            d = _diagnostics(r["diagnostics"])
            weeks = d.get("unbalanced_weeks") or {}
            if d.get("max_abs_smd_pass") is not False and not weeks:
                continue
            key = (o.output_id, population_of(r))
            if key in seen:
                continue  # one sentence per population, not per horizon
            seen.add(key)
            worst = d.get("max_abs_smd_covariate")
            out.append({
                "analysis": analysis_title(o, analyses), "population": row_label(r).split(" · ")[0].lower(),
                "pooled": covariate_label(worst, in_sentence=True) if worst and d.get("max_abs_smd_pass") is False else None,
                "pooled_smd": format_number(d.get("max_abs_smd"), 2) if not is_missing(d.get("max_abs_smd")) else None,
                "weeks": [(int(w) + 1, covariate_label(str(v.get("max_abs_smd_covariate")), in_sentence=True),
                           format_number(v.get("max_abs_smd_after"), 2))
                          for w, v in sorted(weeks.items(), key=lambda kv: int(kv[0])) if isinstance(v, Mapping)],
            })
    return out


def render(ctx: RenderContext) -> Markup:
    if not ctx.meta.has_results:
        return ctx.render("sections/diagnostics.html.j2", missing=True, view=None, balance=[])
    outputs = [c for c in ctx.with_prefix("modell:") if not c.is_blocked]
    return ctx.render("sections/diagnostics.html.j2", missing=False, view=diagnostics_view(outputs, ctx.meta.analyses),
                      balance=balance_failures(outputs, ctx.meta.analyses))


SECTION = register(Section("diagnostik", "Diagnostik", 70, no_outputs, render))
