"""Section: the limitations of the data and the methods, and of what disclosure control leaves out."""

from __future__ import annotations

from markupsafe import Markup

from reports.sections import RenderContext, Section, no_outputs, register


def render(ctx: RenderContext) -> Markup:
    withheld = [c for c in ctx.checked.values() if c.n_suppressed]
    return ctx.render("sections/begransningar.html.j2", n_withheld=len(withheld))


SECTION = register(Section("begransningar", "Begränsningar", 80, no_outputs, render))
