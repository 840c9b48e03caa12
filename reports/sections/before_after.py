"""Section: before and after the law, an interrupted time series of the monthly share back at work (issue 14).

Reads ``results.interrupted_time_series`` (kept out of the association chapters by
`_results.OWN_CHAPTER_TABLES`). Publishes, through disclosure control:

``tidsserie:modell`` (model)
    The level change, slope change, pre-law trend and pandemic ratios, for everyone, women and
    men at each horizon, quasi-Poisson and Newey–West.
``tidsserie:manad`` (model)
    The monthly shares (everyone, women, men; each horizon), with the fitted and counterfactual
    shares as statistics; a share reveals its counts, so a withheld month is complemented across
    women, men and everyone.
``figur_tidsserie:atergang`` (figure) drawn from the monthly shares at the longest horizon.

The text says plainly that this is context: the pandemic began six weeks after the law.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from markupsafe import Markup

from data_schemas.tables import SEXES
from reports.disclosure import FigureOutput, ModelOutput, Output
from reports.figures import time_series_figure
from reports.formatting import format_estimate_interval, format_number, is_missing
from reports.inputs import RESULTS_SCHEMA, ReportInputs
from reports.labels import SEX_PLURAL_SV, SEX_SINGULAR_SV
from reports.outputs import declaration, instance_id
from reports.sections import RenderContext, Section, register
from reports.sections._build import first_where
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView

ITS = "interrupted_time_series"
MODEL_ID = instance_id("tidsserie", "modell")
MONTHLY_ID = instance_id("tidsserie", "manad")
FIGURE_ID = instance_id("figur_tidsserie", "atergang")
POPULATIONS = ("all", *SEXES)
TERMS_SV = (
    ("law_level", "Nivåförändring vid lagen (kvot)"),
    ("law_slope", "Förändring av trenden per år efter lagen (kvot)"),
    ("trend", "Trend per år före lagen (kvot)"),
    ("pandemic", "Pandemiperioden (kvot)"),
)
# (adjustment, variance, heading): the main analysis compares spells of the same make-up
MODELS_SV = (("case_mix", "quasi_poisson", "Huvudanalys: justerad för sjukfallens sammansättning"),
             ("crude", "quasi_poisson", "Ojusterad andel"),
             ("crude", "newey_west", "Ojusterad andel, Newey–West-fel"))


def _title(population: object) -> str:
    return "Samtliga" if population == "all" else SEX_PLURAL_SV.get(str(population), str(population)).capitalize()


def collect(inputs: ReportInputs) -> Sequence[Output]:
    if ITS not in inputs.tables_in(RESULTS_SCHEMA):
        return []
    frame = inputs.query(f'select * from {RESULTS_SCHEMA}."{ITS}"')
    frame = frame[frame["sex"].astype(str).isin(POPULATIONS)].reset_index(drop=True)
    if frame.empty:
        return []
    outputs: list[Output] = []
    model = frame[frame["estimand"] != "monthly_share"].reset_index(drop=True)
    if len(model):
        outputs.append(ModelOutput(declaration("tidsserie"), model, output_id=MODEL_ID,
                                   label_columns=("horizon_days", "variance", "adjustment"), unpublished_columns=("n_persons", "n_events")))
    monthly = frame[frame["estimand"] == "monthly_share"].reset_index(drop=True)
    if len(monthly):
        outputs.append(ModelOutput(declaration("tidsserie"), monthly, output_id=MONTHLY_ID,
                                   label_columns=("horizon_days", "month"),
                                   statistic_columns=("fitted_share", "counterfactual_share"),
                                   count_columns=("n_spells",), unpublished_columns=("n_persons",),
                                   estimates_reveal_counts=True, additive_labels=(("sex", "all", tuple(SEXES)),)))
        outputs.append(FigureOutput(declaration("figur_tidsserie"), (MONTHLY_ID,), FIGURE_ID))
    return outputs


def _ratio_ci(r: pd.Series | None) -> str:
    return format_estimate_interval(r)


def _model_table(ctx: RenderContext, model: pd.DataFrame) -> TableView:
    horizons = sorted({int(h) for h in model["horizon_days"].dropna()})
    header = (HeaderCell("Förändring"), *(HeaderCell(f"{_title(p)}, {h} dagar (95 % KI)") for h in horizons for p in POPULATIONS))
    groups = []
    for adjustment, variance, heading in MODELS_SV:
        body = []
        for term, label in TERMS_SV:
            cells = tuple(DataCell(_ratio_ci(first_where(model, term=term, variance=variance, adjustment=adjustment,
                                                         sex=p, horizon_days=h)), "interval")
                          for h in horizons for p in POPULATIONS)
            body.append(Row(label, cells))
        groups.append(RowGroup(heading, tuple(body)))
    out = ctx.get(MODEL_ID)
    notes = ["Kvoter av andelar med 95 % konfidensintervall. En nivåkvot på 1 betyder att andelen inte ändrades när "
             "lagen trädde i kraft den 1 februari 2020; en trendkvot på 1 att den årliga trenden inte ändrades. Modellen "
             "tar hänsyn till trenden före lagen, kalendermånaden och pandemiperioden. Huvudanalysen jämför dessutom "
             "sjukfall med samma ålder, kön, diagnosgrupp, sysselsättning, tidigare sjukskrivning, omfattning, "
             "utbildning och födelseland, eftersom sammansättningen av sjukfallen ändras över tid. Standardfelen tillåter "
             "överspridning (kvasi-Poisson); Newey–West-felen tillåter dessutom att närliggande månader liknar varandra."]
    return TableView("tabell-fore-efter", "Andelen åter i arbete före och efter lagen: segmenterad regression, samtliga, "
                     "kvinnor och män.", (header,), tuple(groups), tuple(notes), (MODEL_ID,))


def render(ctx: RenderContext) -> Markup:
    model, monthly = ctx.summary(MODEL_ID), ctx.summary(MONTHLY_ID)
    if model is None and monthly is None:
        return ctx.render("sections/fore_efter.html.j2", missing=True)
    text: dict = {}
    horizons = sorted({int(h) for h in model["horizon_days"].dropna()}) if model is not None else []
    if model is not None and horizons:
        h = horizons[-1]
        text["horizon"] = format_number(h)
        text["level"] = [(SEX_SINGULAR_SV.get(p, "samtliga") if p != "all" else "samtliga",
                          ctx.cite(MODEL_ID, f"Före och efter lagen: nivåkvot, {h} dagar, {p}",
                                   _ratio_ci(first_where(model, term="law_level", adjustment="case_mix", sex=p, horizon_days=h))))
                         for p in POPULATIONS if first_where(model, term="law_level", adjustment="case_mix", sex=p, horizon_days=h) is not None]
        r = first_where(model, term="law_level", adjustment="case_mix", sex="all", horizon_days=h)
        text["level_clear"] = (r is not None and not is_missing(r["conf_low"])
                               and (float(r["conf_low"]) > 1 or float(r["conf_high"]) < 1))
    figure = None
    checked_figure = ctx.get(FIGURE_ID)
    if monthly is not None and checked_figure is not None and not checked_figure.is_blocked and horizons:
        h = horizons[-1]
        rows = monthly[(monthly["horizon_days"].astype(float) == h) & monthly["sex"].astype(str).isin(SEXES)]
        if rows["estimate"].notna().any():
            figure = time_series_figure(
                checked_figure, ctx.get(MONTHLY_ID), figure_id="figur-fore-efter", rows=rows, series_column="sex",
                series_label=_title, marks=(("2020-02-01", "Lagen"),), shaded=("2020-03-01", "2022-02-28", "Pandemin"),
                y_axis_sv=f"Åter i arbete inom {h} dagar",
                caption=f"Figur. Andel sjukfall åter i arbete inom {h} dagar efter månaden då sjukfallet började, kvinnor och "
                        "män: månadsvärden (punkter), den segmenterade modellen (heldragen linje) och modellen utan brott vid "
                        "lagen (streckad). Det grå fältet är pandemiperioden.")
    return ctx.render("sections/fore_efter.html.j2", missing=False, text=text, figure=figure,
                      table=_model_table(ctx, model) if model is not None else None)


SECTION = register(Section("fore_efter", "Före och efter lagen", 75, collect, render))
