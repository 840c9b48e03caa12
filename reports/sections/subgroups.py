"""Section: the association by subgroup (age, diagnosis group ...) for women and men, with forest plots.

Home region is not a subgroup here: per-region estimates of the association, in code order, read
as a ranking of the regions and mislead (issue 11). The regions have their own chapter
(`reports.sections.regions`); only the test of equal association across regions stays here.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from markupsafe import Markup

from koord.errors import DisclosureError
from reports.disclosure import FigureOutput, Output
from reports.figures import forest_figure
from reports.inputs import RESULTS_SCHEMA, ReportInputs
from reports.labels import ESTIMAND_SV, SEX_PLURAL_SV, SUBGROUP_SV, value_label
from reports.outputs import declaration, instance_id
from reports.sections import RenderContext, Section, register
from reports.sections._results import (
    analysis_title,
    design_of,
    find_results,
    is_heterogeneity_test,
    is_subgroup_row,
    model_id,
    population_of,
    row_label,
)
from reports.names import RESULT_DESIGNS
from reports.views import model_table_view


def forest_id(table: str, dimension: str) -> str:
    return instance_id("figur_forest", f"{table}:{dimension}")


REGION_SUBGROUPS = ("home_region_code", "home_region_name", "region", "region_code")


def is_region_row(row: pd.Series) -> bool:
    return str(row.get("subgroup")) in REGION_SUBGROUPS


def subgroup_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """Estimates per level of a dimension, regions left out (`REGION_SUBGROUPS`)."""
    return summary[[is_subgroup_row(r) and not is_region_row(r) for _, r in summary.iterrows()]]


def collect(inputs: ReportInputs) -> Sequence[Output]:
    """One forest plot per analysis and dimension with subgroup estimates."""
    outputs: list[Output] = []
    for table in find_results(inputs).summaries:
        summary = inputs.query(f'select * from {RESULTS_SCHEMA}."{table}"')
        for dimension in dict.fromkeys(subgroup_rows(summary)["subgroup"]):
            outputs.append(FigureOutput(declaration("figur_forest"), source_ids=(model_id(table),),
                                        output_id=forest_id(table, str(dimension))))
    return outputs


def _forest(ctx: RenderContext, model, table: str, dimension: str, rows: pd.DataFrame):
    figure_output = ctx.get(forest_id(table, dimension))
    if figure_output is None or figure_output.is_blocked:
        return None
    rows = rows.assign(population=[population_of(r) for _, r in rows.iterrows()])
    by_sex = rows[rows["population"].isin(["woman", "man"])]
    plotted = by_sex if len(by_sex) else rows
    plotted = plotted.assign(label=[value_label(dimension, r["level"]) for _, r in plotted.iterrows()])
    estimand = str(plotted["estimand"].iloc[0])
    name = SUBGROUP_SV.get(dimension, dimension)
    try:
        return forest_figure(
            figure_output, [model], figure_id=f"figur-forest-{table}-{dimension}", rows=plotted, label_column="label",
            series_column="population", series_label=lambda v: SEX_PLURAL_SV.get(str(v), "Samtliga"),
            estimand_sv=ESTIMAND_SV.get(estimand, estimand),
            caption=f"{ESTIMAND_SV.get(estimand, estimand)} för återgång i arbete under koordinering per "
                    f"{name.lower()}, kvinnor och män. Linjerna visar 95 % konfidensintervall; "
                    "värden över 1 betyder snabbare återgång under koordinering.",
        )
    except DisclosureError:
        return None  # every estimate withheld: the table says so


# The forest plots drawn: the design made for subgroups when it ran (else the first result design),
# per dimension other than sex (women and men are in every plot); one figure per dimension.
FOREST_DESIGNS = ("heterogeneity", *RESULT_DESIGNS)
# Sex is in every plot; the diagnosis chapters repeat the diagnosis groups the mandate asks for, so they are
# drawn only when no analysis has diagnosis groups.
REPEATS = {"diagnosis_chapter_group": "diagnosis_group"}


def render(ctx: RenderContext) -> Markup:
    if not ctx.meta.has_results:
        return ctx.render("sections/subgroups.html.j2", missing=True, parts=[], figures=[], views=[])
    designs = ctx.meta.analyses
    candidates = [m for m in ctx.with_prefix("modell:") if not m.is_blocked and design_of(m, designs) in FOREST_DESIGNS]
    candidates.sort(key=lambda m: FOREST_DESIGNS.index(design_of(m, designs)))
    figures, views, drawn = [], [], set()
    present = {str(d) for m in candidates for d in subgroup_rows(m.table("summary"))["subgroup"]}
    skipped = {"sex", *(d for d, better in REPEATS.items() if better in present)}
    for model in candidates:
        table = model.output_id.split(":", 1)[1]
        rows = subgroup_rows(model.table("summary"))
        if rows.empty:
            continue
        for d in dict.fromkeys(rows["subgroup"]):
            if str(d) in skipped or str(d) in drawn:
                continue
            f = _forest(ctx, model, table, str(d), rows[rows["subgroup"] == d])
            if f is not None:
                figures.append(f)
                drawn.add(str(d))
        views.append(model_table_view(
            [model], table_id=f"tabell-undergrupper-{table}",
            caption=f"Skattningar per undergrupp, samtliga, kvinnor och män, med test av lika samband: {analysis_title(model, designs)}.",
            row_label=row_label,
            row_filter=lambda r: (is_subgroup_row(r) and not is_region_row(r)) or is_heterogeneity_test(r),
        ))
    return ctx.render("sections/subgroups.html.j2", missing=False, figures=figures, views=[v for v in views if v])


SECTION = register(Section("undergrupper", "Ålder, kön och diagnos", 60, collect, render))
