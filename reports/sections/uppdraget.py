"""Section: the government's question the report answers (from the mandate)."""

from __future__ import annotations

from markupsafe import Markup

from reports.sections import RenderContext, Section, no_outputs, register


def render(ctx: RenderContext) -> Markup:
    return ctx.render("sections/uppdraget.html.j2")


SECTION = register(Section("uppdraget", "Uppdraget, frågorna och avgränsningar", 20, no_outputs, render))
