"""Section: the conclusions, one paragraph per question of the mandate, from the numbers the chapters quote.

A claim is stated as a finding only when its estimate's diagnostics pass and its interval
excludes "no difference"; otherwise the paragraph says the answer is uncertain, and why.
Rendered after the chapters (`Section.summarises`): it reads `RenderContext.findings`.
"""

from __future__ import annotations

from markupsafe import Markup

from reports.sections import RenderContext, Section, no_outputs, register
from reports.sections._findings import Finding, quoted
from reports.sections.summary import population_numbers


def verdict(finding: Finding | None, null: float) -> dict | None:
    """What the text may say about a finding: per population the direction, and whether it is firm."""
    if finding is None:
        return None
    out = {"firm": [], "uncertain": [], "none": []}
    for e in finding.estimates:
        if e.passes is False:
            out["uncertain"].append(e)
        elif e.direction(null) == 0:
            out["none"].append(e)
        else:
            out["firm"].append(e)
    out["up"] = [e for e in out["firm"] if e.direction(null) > 0]
    out["down"] = [e for e in out["firm"] if e.direction(null) < 0]
    return out


def render(ctx: RenderContext) -> Markup:
    rtw = quoted(ctx, "rtw")
    return ctx.render(
        "sections/conclusions.html.j2",
        trial=verdict(rtw.get("trial"), 0.0), cox=verdict(rtw.get("cox"), 1.0), rtw=rtw,
        regions=quoted(ctx, "regioner"), timing=quoted(ctx, "tid_och_behov"),
        collaboration=quoted(ctx, "samverkan"), proposals=ctx.findings.get("underlag_forslag"),
        has_results=ctx.meta.has_results, population=population_numbers(ctx),
    )


SECTION = register(Section("slutsatser", "Slutsatser", 84, no_outputs, render, summarises=True))
