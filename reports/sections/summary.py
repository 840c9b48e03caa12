"""Section: the summary with the key numbers, each read from a checked output."""

from __future__ import annotations

import json

from markupsafe import Markup

from data_schemas.tables import SEXES
from reports.formatting import format_count, format_interval, format_percent, format_ratio, is_missing
from reports.labels import SEX_PLURAL_SV
from reports.sections import RenderContext, Section, no_outputs, register
from reports.sections._build import TOTAL
from reports.sections._results import RATIO_ESTIMANDS, analysis_title, is_main_row, population_of


def _population(ctx: RenderContext) -> dict[str, dict[str, str]]:
    """Spells and share coordinated per sex, from Tabell 1's published cells."""
    t1 = ctx.get("tabell1")
    if t1 is None or t1.is_blocked:
        return {}
    first = t1.table(t1.table_keys[0])
    out = {}
    for col in (*SEXES, TOTAL):
        n = first.at[TOTAL, col]
        share = None
        if "is_coordinated" in t1.table_keys:
            coord = t1.table("is_coordinated")
            if True in coord.index and not is_missing(coord.at[True, col]) and not is_missing(coord.at[TOTAL, col]) and coord.at[TOTAL, col]:
                share = 100.0 * coord.at[True, col] / coord.at[TOTAL, col]
        label = SEX_PLURAL_SV.get(col, "Totalt").lower()
        out[col] = {"spells": ctx.cite("tabell1", f"Sammanfattning: sjukfall, {label}", format_count(n)),
                    "coordinated": ctx.cite("tabell1", f"Sammanfattning: andel koordinerade, {label}", format_percent(share))}
    return out


def _passes(diagnostics: object) -> bool | None:
    """The overall pass/fail of a row's diagnostics (None when not stated)."""
    try:
        value = json.loads(diagnostics).get("passes") if isinstance(diagnostics, str) else None
    except (json.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, bool) else None


def _main_estimates(ctx: RenderContext) -> dict | None:
    """The first analysis (in the report's order) with a ratio for women and men."""
    for model in ctx.with_prefix("modell:"):
        if model.is_blocked:
            continue
        s = model.table("summary")
        rows = {population_of(r): r for _, r in s.iterrows() if is_main_row(r) and r["estimand"] in RATIO_ESTIMANDS}
        if not rows:
            continue
        title = analysis_title(model, ctx.meta.analyses)
        shown = []
        for p, r in sorted(rows.items(), key=lambda kv: ("all", *SEXES).index(kv[0]) if kv[0] in ("all", *SEXES) else 9):
            label = SEX_PLURAL_SV[p] if p in SEXES else "Samtliga"
            estimate, interval = format_ratio(r["estimate"]), format_interval(r["conf_low"], r["conf_high"])
            ctx.cite(model.output_id, f"Sammanfattning: {title}, {label.lower()}", f"{estimate} ({interval})")
            shown.append({"label": label, "estimate": estimate, "interval": interval,
                          "shown": not is_missing(r["estimate"]), "passes": _passes(r["diagnostics"])})
        return {"title": title, "estimand": str(next(iter(rows.values()))["estimand"]), "rows": shown}
    return None


def render(ctx: RenderContext) -> Markup:
    statuses = {"blocked": 0, "suppressed": 0, "passed": 0}
    for c in ctx.checked.values():
        statuses[c.status.value] += 1
    return ctx.render(
        "sections/summary.html.j2", population=_population(ctx), main=_main_estimates(ctx), statuses=statuses,
        sexes=[(s, SEX_PLURAL_SV[s]) for s in SEXES] + [(TOTAL, "Totalt")], has_results=ctx.meta.has_results,
        has_tables=ctx.meta.has_analysis_tables,
    )


SECTION = register(Section("sammanfattning", "Sammanfattning", 10, no_outputs, render))
