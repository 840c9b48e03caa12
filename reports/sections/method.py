"""Section (appendix 1): how the analyses are done, and the naive comparison shown as the bias it is.

The naive comparison (ever coordinated against never, from the spell's start) is not a result:
it gives the coordinated the time before their first contact, when they could not yet return to
work as coordinated patients. Shown beside the main analysis it measures that immortal-time bias.
"""

from __future__ import annotations

from markupsafe import Markup

from reports.names import BIAS_DEMONSTRATION_DESIGNS, RESULT_DESIGNS
from reports.sections import RenderContext, Section, no_outputs, register
from reports.sections._findings import main_ratio
from reports.sections._results import analysis_title, design_of, is_main_row, row_label
from reports.views import model_table_view


def render(ctx: RenderContext) -> Markup:
    designs = ctx.meta.analyses
    models = [m for m in ctx.with_prefix("modell:") if not m.is_blocked]
    shown = [m for m in models if design_of(m, designs) in BIAS_DEMONSTRATION_DESIGNS]
    main = next((m for m in models if design_of(m, designs) == RESULT_DESIGNS[0]), None)
    view = None
    if shown:
        view = model_table_view(
            [*([main] if main is not None else []), *shown], table_id="tabell-naiv-jamforelse",
            caption="Huvudanalysen bredvid den naiva jämförelsen (någon gång koordinerade mot aldrig koordinerade): "
                    "skillnaden är felet som odödlig tid ger.",
            row_label=row_label, row_filter=is_main_row, group_title=lambda o: analysis_title(o, designs),
            notes=["Kvot över 1 betyder snabbare återgång i arbete för de koordinerade. KI: 95 % konfidensintervall."],
        )
    text = {"naive": main_ratio(ctx, BIAS_DEMONSTRATION_DESIGNS[0], "Bilaga 1: naiv jämförelse") if shown else None,
            "main": main_ratio(ctx, RESULT_DESIGNS[0], "Bilaga 1: huvudanalys") if shown else None}
    return ctx.render("sections/method.html.j2", view=view, text=text, has_results=ctx.meta.has_results)


SECTION = register(Section("metod", "Så gjordes analyserna", 71, no_outputs, render))
