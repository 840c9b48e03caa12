"""Section: the summary with the key numbers, each read from a checked output."""

from __future__ import annotations

from markupsafe import Markup

from data_schemas.tables import SEXES
from reports.formatting import format_count, format_percent, is_missing
from reports.labels import SEX_PLURAL_SV
from reports.sections import RenderContext, Section, no_outputs, register
from reports.sections._build import TOTAL
from reports.sections._findings import quoted


def population_numbers(ctx: RenderContext) -> dict[str, dict[str, str]]:
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


def render(ctx: RenderContext) -> Markup:
    statuses = {"blocked": 0, "suppressed": 0, "passed": 0}
    for c in ctx.checked.values():
        statuses[c.status.value] += 1
    return ctx.render(
        "sections/summary.html.j2", population=population_numbers(ctx), rtw=quoted(ctx, "rtw"),
        regions=quoted(ctx, "regioner"), timing=quoted(ctx, "tid_och_behov"),
        collaboration=quoted(ctx, "samverkan"), has_proposals="underlag_forslag" in ctx.findings,
        statuses=statuses, sexes=[(s, SEX_PLURAL_SV[s]) for s in SEXES] + [(TOTAL, "Totalt")],
        has_results=ctx.meta.has_results, has_tables=ctx.meta.has_analysis_tables,
    )


SECTION = register(Section("sammanfattning", "Sammanfattning", 10, no_outputs, render, summarises=True))
