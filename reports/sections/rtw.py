"""Section: return to work by coordination: curves, main estimates for everyone, women and men, other estimates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

import pandas as pd

from reports.disclosure import CheckedOutput, Output, require_checked
from reports.formatting import format_interval, format_number, format_percent, is_missing, scaled
from reports.figures import cif_figure
from reports.inputs import ReportInputs
from reports.labels import SEX_PLURAL_SV, value_label
from reports.sections import RenderContext, Section, register
from reports.sections._results import (
    CURVE_ESTIMATES,
    analysis_title,
    design_of,
    collect_results,
    curve_figure_id,
    MAIN_SUBGROUPS,
    is_heterogeneity_test,
    is_main_row,
    is_subgroup_row,
    row_label,
)
from reports.names import RESULT_DESIGNS
from reports.sections._findings import main_ratio, trial_difference
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView, count_cell, model_table_view

RTW_CAUSES = ("return_to_work", "rtw", "1", 1)


def collect(inputs: ReportInputs) -> Sequence[Output]:
    return collect_results(inputs)


def models(ctx: RenderContext) -> list[CheckedOutput]:
    return [c for c in ctx.with_prefix("modell:") if not c.is_blocked]


def _curve_figures(ctx: RenderContext) -> tuple[list, list[CheckedOutput]]:
    """One figure per checked curve table: panels by sex, lines by arm, return to work only."""
    figures, blocked = [], []
    for curve in ctx.with_prefix("kurva:"):
        table = curve.output_id.split(":", 1)[1]
        figure = ctx.get(curve_figure_id(table))
        if curve.is_blocked or figure is None or figure.is_blocked:
            blocked.append(curve)
            continue
        data = curve.table("curve")
        groups = list(curve.meta.get("group_columns", ()))
        estimate = next(c for c in CURVE_ESTIMATES if c in data.columns)
        where = {}
        if "subgroup" in groups:  # the main curves only; subgroup curves are not drawn
            where["subgroup"] = MAIN_SUBGROUPS
            groups = [g for g in groups if g not in ("subgroup", "level")]
        if "cause" in groups:
            causes = [c for c in data["cause"].unique() if str(c) in map(str, RTW_CAUSES)]
            if not causes:
                continue
            where["cause"] = causes[0]
            groups.remove("cause")
        panel = "sex" if "sex" in groups else None
        lines = [g for g in groups if g != panel]
        line = lines[0] if lines else None
        figures.append(cif_figure(
            figure, curve, figure_id=f"figur-{table}", estimate_column=estimate, where=where,
            caption="Andel som återgått i arbete efter dagar sedan sjukfallets början, med 95 % konfidensintervall. "
                    "Kurvorna visar bara steg som vilar på tillräckligt många händelser.",
            panel_column=panel, line_column=line,
            panel_label=lambda v: "Samtliga" if str(v) == "all" else SEX_PLURAL_SV.get(str(v), str(v)),
            line_label=lambda v, _line=line: value_label(_line or "arm", v),
            outcome_sv="återgång i arbete",
        ))
    return figures, blocked


TRIAL_ESTIMANDS = ("cumulative_incidence", "risk_difference", "risk_ratio")


def is_trial_row(row: pd.Series) -> bool:
    return row.get("estimand") in TRIAL_ESTIMANDS and str(row.get("term", "")).startswith("horizon_")


def trial_table_view(model: CheckedOutput, analyses: Mapping[str, Mapping[str, Any]]) -> TableView | None:
    """Emulated trials: per population and horizon the share back at work in each arm, the difference and the ratio."""
    require_checked(model, "trial table")
    s = model.table("summary")
    s = s[[is_trial_row(r) for _, r in s.iterrows()]]
    if s.empty:
        return None
    header = (HeaderCell("Grupp och uppföljningstid"), HeaderCell("Åter i arbete, koordinering nu"),
              HeaderCell("Åter i arbete, inte nu"), HeaderCell("Riskskillnad, procentenheter (95 % KI)"),
              HeaderCell("Riskkvot (95 % KI)"), HeaderCell("Personer"), HeaderCell("Händelser"))
    keys = [c for c in ("sex", "subgroup", "level", "term") if c in s.columns]
    rows = []
    for _, g in s.groupby(keys, sort=False, dropna=False):
        first = g.iloc[0]

        def pick(estimand: str, arm: str | None = None) -> pd.Series | None:
            m = g[g["estimand"] == estimand]
            if arm is not None and "arm" in m.columns:
                m = m[m["arm"] == arm]
            return m.iloc[0] if len(m) else None

        def share(r: pd.Series | None) -> DataCell:
            return DataCell(format_percent(None if r is None else scaled(r["estimate"], 100)), "percent")

        def with_ci(r: pd.Series | None, scale: float, decimals: int) -> DataCell:
            if r is None or is_missing(r["estimate"]):
                return DataCell(format_number(None if r is None else r["estimate"]), "interval")
            v = lambda x: scaled(x, scale)  # noqa: E731
            return DataCell(f"{format_number(v(r['estimate']), decimals)} ({format_interval(v(r['conf_low']), v(r['conf_high']), decimals)})", "interval")

        diff = pick("risk_difference")
        counts = diff if diff is not None else first
        rows.append(Row(row_label(first.drop(labels=["arm"], errors="ignore")), (
            share(pick("cumulative_incidence", "coordination_now")), share(pick("cumulative_incidence", "not_now")),
            with_ci(diff, 100.0, 1), with_ci(pick("risk_ratio"), 1.0, 2),
            count_cell(counts["n_persons"]), count_cell(counts["n_events"]),
        )))
    return TableView(
        f"tabell-forsok-{model.output_id.split(':', 1)[1]}",
        "Emulerade försök: andel som återgått i arbete vid uppföljningstiden, koordinering nu jämfört med inte nu.",
        (header,), (RowGroup("", tuple(rows)),),
        (), (model.output_id,),
    )


def is_result_model(output: CheckedOutput, analyses: Mapping[str, Mapping[str, Any]]) -> bool:
    """Designs whose estimates answer question 1 (the naive comparison is in the method appendix)."""
    return design_of(output, analyses) in RESULT_DESIGNS


def render(ctx: RenderContext) -> Markup:
    if not ctx.meta.has_results:
        return ctx.render("sections/rtw.html.j2", missing=True)
    designs = ctx.meta.analyses
    outputs = [o for o in models(ctx) if is_result_model(o, designs)]
    blocked = [c for c in ctx.with_prefix("modell:") if c.is_blocked]
    main = model_table_view(
        outputs, table_id="tabell-huvudresultat",
        caption="Samband mellan koordinering och återgång i arbete: kvot för samtliga, kvinnor och män, per analys.",
        row_label=row_label, row_filter=is_main_row, group_title=lambda o: analysis_title(o, designs),
        notes=["Kvot över 1 betyder snabbare återgång i arbete under koordinering än utan (ännu) koordinering. "
               "KI: 95 % konfidensintervall."],
    )
    trials = [v for v in (trial_table_view(o, designs) for o in outputs) if v is not None]
    extra = [o for o in models(ctx) if design_of(o, designs) in ("e_value", *RESULT_DESIGNS)]
    other = model_table_view(
        extra, table_id="tabell-ovriga-skattningar",
        caption="Övriga skattningar per analys: andelar per jämförelsegrupp, jämförelser från fasta dagar och E-värden.",
        row_label=row_label,
        row_filter=lambda r: not (is_main_row(r) or is_subgroup_row(r) or is_heterogeneity_test(r) or is_trial_row(r)),
        group_title=lambda o: analysis_title(o, designs),
    )
    figures, blocked_curves = _curve_figures(ctx)
    text = {"cox": main_ratio(ctx, "time_varying_cox", "Kapitel 3"),
            "trial": trial_difference(ctx, 180, "Kapitel 3"),
            "evalue": _evalue(ctx)}
    ctx.findings["rtw"] = text
    return ctx.render("sections/rtw.html.j2", missing=False, main=main, other=other, figures=figures, trials=trials,
                      blocked=blocked + blocked_curves, text=text)


def _evalue(ctx: RenderContext) -> str | None:
    """The E-value of the main estimate for everyone (the strength an unmeasured confounder would need)."""
    for model in models(ctx):
        if design_of(model, ctx.meta.analyses) != "e_value":
            continue
        s = model.table("summary")
        rows = s[(s["term"] == "e_value_point") & (s["subgroup"] == "all")]
        if len(rows) and not is_missing(rows.iloc[0]["estimate"]):
            return ctx.cite(model.output_id, "Kapitel 3: E-värde, samtliga", format_number(rows.iloc[0]["estimate"], 2))
    return None


SECTION = register(Section("rtw", "Återgång i arbete efter koordinering", 50, collect, render))
