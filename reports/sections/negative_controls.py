"""Section: negative controls and empirically calibrated confidence intervals (issue 14), right after the main results.

Reads the results tables ``negative_controls`` and ``calibration`` (kept out of the
association's chapters by `reports.sections._results.OWN_CHAPTER_TABLES`). What it publishes,
all through disclosure control as model outputs; the persons and events behind the estimates are
read by the rules but not published:

``kalibreringmodell:negativa``
    The hazard (rate) ratio after the first coordination of each negative-control outcome, per
    design (Cox, Poisson) and population (everyone, women, men).
``kalibreringmodell:noll``
    The fitted distribution of the systematic error per design and population: its mean and
    standard deviation (log scale, profile-likelihood intervals) and the expected absolute
    systematic error (EASE) against CohortMethod's limit 0.25.
``kalibreringmodell:kalibrerade``
    The main hazard ratios (everyone, women, men and the diagnosis chapter groups) with the
    calibrated interval and p-value beside the uncalibrated ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from markupsafe import Markup

from data_schemas.tables import SEXES
from reports.disclosure import CheckedOutput, ModelOutput, Output
from reports.formatting import format_estimate_interval, format_number, format_p_value, is_missing
from reports.labels import SEX_PLURAL_SV, SEX_SINGULAR_SV, value_label
from reports.outputs import declaration, instance_id
from reports.sections._results import results_table
from reports.sections import RenderContext, Section, register
from reports.sections._build import first_where, published_ids, table_notes
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView

NEGATIVE, CALIBRATION = "negative_controls", "calibration"
CONTROLS_ID = instance_id("kalibreringmodell", "negativa")
NULL_ID = instance_id("kalibreringmodell", "noll")
CALIBRATED_ID = instance_id("kalibreringmodell", "kalibrerade")
ALL_IDS = (CONTROLS_ID, NULL_ID, CALIBRATED_ID)
POPULATIONS = ("all", *SEXES)
SEX_ADDS_UP = (("sex", "all", tuple(SEXES)),)
UNPUBLISHED = ("n_persons", "n_events")
EASE_LIMIT = 0.25
SOURCE_SV = {"tv_cox": "Cox-modellen", "tv_poisson": "Poissonmodellen"}
# The default study's negative controls (study.toml [negative_controls]); another study's ids are shown as written.
OUTCOME_SV = {
    "eye": "Ögonsjukdomar (H00–H59)",
    "ear": "Öroninfektioner (H60–H75)",
    "dental_oral": "Tänder, mun och käkar (K00–K14)",
    "skin_infection": "Hudinfektioner (L00–L08)",
    "ingrown_nail": "Nagelsjukdomar, mest nageltrång (L60)",
    "urinary_tract_infection": "Urinvägsinfektion (N30, N39.0)",
    "allergic_rhinitis": "Allergisk snuva (J30)",
    "anal_disorders": "Hemorrojder och andra sjukdomar i ändtarmsöppningen (K60–K64)",
    "viral_warts": "Vårtor (B07)",
}


def _read(inputs, table: str) -> pd.DataFrame | None:
    return results_table(inputs, table)


def _model(rows: pd.DataFrame, output_id: str, labels: tuple[str, ...], statistics: tuple[str, ...] = ()) -> ModelOutput:
    rows = rows.copy()
    for c in ("n_persons", "n_events"):  # nullable integers as floats for the rules
        rows[c] = pd.to_numeric(rows[c], errors="coerce").astype(float)
    keep = [c for c in rows.columns if c in (*SUMMARY, *labels, *statistics, "sex")]
    return ModelOutput(declaration("kalibreringmodell"), rows[keep], output_id=output_id, label_columns=labels,
                       statistic_columns=statistics, unpublished_columns=UNPUBLISHED, additive_labels=SEX_ADDS_UP)


SUMMARY = ("analysis_id", "method", "estimand", "term", "subgroup", "level", "estimate", "std_error", "conf_low",
           "conf_high", "p_value", "n_persons", "n_events", "diagnostics")


def collect(inputs) -> Sequence[Output]:
    outputs: list[Output] = []
    negative = _read(inputs, NEGATIVE)
    if negative is not None:
        # an *_id column reads as a row-level key to the disclosure check: the outcome is a label
        negative = negative.rename(columns={"outcome_id": "negative_control"})
        outputs.append(_model(negative, CONTROLS_ID, ("source", "negative_control")))
    calibration = _read(inputs, CALIBRATION)
    if calibration is not None:
        nulls = calibration[calibration["kind"] == "null"].reset_index(drop=True)
        if len(nulls):
            outputs.append(_model(nulls, NULL_ID, ("source", "kind"), ("n_controls", "ease_below_threshold")))
        calibrated = calibration[calibration["kind"] == "calibrated"].reset_index(drop=True)
        if len(calibrated):
            outputs.append(_model(calibrated, CALIBRATED_ID, ("source", "kind"),
                                  ("uncalibrated_estimate", "uncalibrated_conf_low", "uncalibrated_conf_high",
                                   "uncalibrated_p_value")))
    return outputs


# --- render ---------------------------------------------------------------------------------------


def _population(frame: pd.DataFrame | None, population: str, **where: object) -> pd.Series | None:
    return first_where(frame, sex=population, subgroup="all" if population == "all" else "sex", **where)


def _ratio_ci(r: pd.Series | None, prefix: str = "") -> str:
    return format_estimate_interval(r, 2, prefix=prefix)


def _title(population: str) -> str:
    return "Samtliga" if population == "all" else SEX_PLURAL_SV.get(population, population)


def _sources(frame: pd.DataFrame) -> list[str]:
    return [s for s in SOURCE_SV if s in set(frame["source"].astype(str))]


def _controls_table(ctx: RenderContext, controls: pd.DataFrame) -> TableView:
    sources = _sources(controls)
    # one row group per model and a column per population: six interval columns side by side do not fit the page
    header = (HeaderCell("Negativ kontroll (huvuddiagnos vid vårdkontakt)"),
              *(HeaderCell(f"{SEX_SINGULAR_SV[p].capitalize()} (95 % KI)") for p in POPULATIONS))
    outcomes = list(dict.fromkeys(controls["negative_control"].astype(str)))
    groups = tuple(
        RowGroup(SOURCE_SV[s].capitalize(), tuple(
            Row(OUTCOME_SV.get(o, o), tuple(DataCell(_ratio_ci(_population(controls, p, source=s, negative_control=o)),
                                                     "interval") for p in POPULATIONS))
            for o in outcomes))
        for s in sources)
    out = ctx.get(CONTROLS_ID)
    return TableView("tabell-negativa-kontroller", "Negativa kontroller: kvoten mellan takten för en första vårdkontakt med "
                     "diagnosen medan sjukfallet är koordinerat och innan eller utan koordinering, samtliga, kvinnor och "
                     "män. Utan systematiskt fel vore alla kvoter nära 1.", (header,), groups,
                     table_notes([out], "Samma modeller som huvudresultaten: samma justering, samma start för uppföljningen "
                                   "och samma tidsberoende exponering; bara utfallet är ett annat. Sjukfall med en sådan "
                                   "kontakt innan uppföljningen börjar ingår inte för den diagnosen."), published_ids(out))


def _null_table(ctx: RenderContext, nulls: pd.DataFrame) -> TableView:
    header = (HeaderCell("Modell och grupp"), HeaderCell("Medelfel, logskala (95 % KI)"),
              HeaderCell("Spridning, logskala (95 % KI)"), HeaderCell("Förväntat absolut systematiskt fel (EASE)"),
              HeaderCell("Under gränsen 0,25"))
    groups = []
    for s in _sources(nulls):
        rows = []
        for p in POPULATIONS:
            mu, sigma, ease = (_population(nulls, p, source=s, term=t) for t in ("mu", "sigma", "ease"))
            if mu is None and ease is None:
                continue
            ok = None if ease is None or is_missing(ease["estimate"]) else float(ease["estimate"]) < EASE_LIMIT
            rows.append(Row(_title(p), (
                DataCell(_number_ci(mu, 3), "interval"), DataCell(_number_ci(sigma, 3), "interval"),
                DataCell(format_number(None if ease is None else ease["estimate"], 3), "number"),
                DataCell({True: "ja", False: "nej"}.get(ok) or format_number(None if ease is None else ease["estimate"]), "flag", numeric=False))))
        groups.append(RowGroup(SOURCE_SV[s], tuple(rows)))
    out = ctx.get(NULL_ID)
    return TableView("tabell-nollfordelning", "Det systematiska felets fördelning, skattad ur de negativa kontrollerna: "
                     "medelvärde och spridning av felet i den logaritmerade kvoten, och det förväntade absoluta felet.",
                     (header,), tuple(groups),
                     table_notes([out], "Fördelningen skattas som i R-paketet EmpiricalCalibration (Schuemie m.fl. 2014, 2018): "
                                   "varje negativ kontrolls skattning antas vara normalfördelad kring ett gemensamt medelfel "
                                   "med spridningen av både slumpen och det systematiska felet. Intervallen är "
                                   "profillikelihoodintervall. OHDSI:s CohortMethod godtar en design med EASE under 0,25."),
                     published_ids(out))


def _number_ci(r: pd.Series | None, decimals: int) -> str:
    return format_estimate_interval(r, decimals)


def _calibrated_table(ctx: RenderContext, calibrated: pd.DataFrame) -> TableView:
    header = (HeaderCell("Modell och grupp"), HeaderCell("Kvot (95 % KI)"), HeaderCell("p-värde"),
              HeaderCell("Kalibrerad kvot (95 % KI)"), HeaderCell("Kalibrerat p-värde"))
    groups = []
    for s in _sources(calibrated):
        rows = []
        for p in POPULATIONS:
            sub = calibrated[(calibrated["source"].astype(str) == s) & (calibrated["sex"].astype(str) == p)]
            for _, r in sub.iterrows():
                own = r["subgroup"] in ("all", "sex")
                label = _title(p) if own else f"{_title(p)}: {value_label(str(r['subgroup']), r['level'])}"
                rows.append(Row(label, (
                    DataCell(_ratio_ci(r, "uncalibrated_"), "interval"),
                    DataCell(format_p_value(r["uncalibrated_p_value"]), "p"),
                    DataCell(_ratio_ci(r), "interval"), DataCell(format_p_value(r["p_value"]), "p"))))
        groups.append(RowGroup(SOURCE_SV[s], tuple(rows)))
    out = ctx.get(CALIBRATED_ID)
    return TableView("tabell-kalibrerade", "Huvudresultaten före och efter empirisk kalibrering: kvoten mellan takten för "
                     "återgång i arbete medan sjukfallet är koordinerat och innan eller utan koordinering, samtliga, kvinnor, "
                     "män och per diagnoskapitel.", (header,), tuple(groups),
                     table_notes([out], "Den kalibrerade kvoten är kvoten rensad från det skattade medelfelet, och dess intervall "
                                   "och p-värde räknar med det systematiska felets spridning utöver slumpen. Diagnoskapitlen "
                                   "kalibreras med sin grupps fördelning (samtliga, kvinnor eller män): de negativa "
                                   "kontrollerna körs inte per diagnoskapitel."), published_ids(out))


def _ease_words(ctx: RenderContext, nulls: pd.DataFrame | None) -> list[str]:
    """One sentence per design: EASE for everyone against 0.25, in words."""
    out = []
    if nulls is None:
        return out
    for s in _sources(nulls):
        ease = _population(nulls, "all", source=s, term="ease")
        if ease is None or is_missing(ease["estimate"]):
            continue
        value = ctx.cite(NULL_ID, f"text: EASE, {SOURCE_SV[s]}", format_number(ease["estimate"], 2))
        if float(ease["estimate"]) < EASE_LIMIT:
            out.append(f"För {SOURCE_SV[s]} är det förväntade absoluta systematiska felet {value}, under gränsen 0,25: "
                       "designens systematiska fel är litet nog för att resultaten ska kunna tolkas.")
        else:
            out.append(f"För {SOURCE_SV[s]} är det förväntade absoluta systematiska felet {value}, över gränsen 0,25: "
                       "designens systematiska fel är för stort för att resultaten ska kunna tolkas som effekter, också "
                       "efter kalibrering.")
    return out


def _main_words(ctx: RenderContext, calibrated: pd.DataFrame | None) -> list[str]:
    """The Cox model's main estimate for everyone, women and men, before and after calibration."""
    out = []
    if calibrated is None:
        return out
    for p in POPULATIONS:
        r = _population(calibrated, p, source="tv_cox", kind="calibrated")
        if r is None or is_missing(r["estimate"]) or is_missing(r["uncalibrated_estimate"]):
            continue
        before = ctx.cite(CALIBRATED_ID, f"text: okalibrerad kvot, {p}", _ratio_ci(r, "uncalibrated_"))
        after = ctx.cite(CALIBRATED_ID, f"text: kalibrerad kvot, {p}", _ratio_ci(r))
        out.append(f"{_title(p)}: {before} före och {after} efter kalibrering.")
    return out


def render(ctx: RenderContext) -> Markup:
    if not any(ctx.get(i) is not None for i in ALL_IDS):
        return ctx.render("sections/negative_controls.html.j2", missing=True)
    controls, nulls, calibrated = (ctx.summary(i) for i in ALL_IDS)
    tables = {"controls": None if controls is None else _controls_table(ctx, controls),
              "null": None if nulls is None else _null_table(ctx, nulls),
              "calibrated": None if calibrated is None else _calibrated_table(ctx, calibrated)}
    outcomes = [] if controls is None else [OUTCOME_SV.get(o, o)
                                            for o in dict.fromkeys(controls["negative_control"].astype(str))]
    text = {"ease": _ease_words(ctx, nulls), "main": _main_words(ctx, calibrated),
            "outcomes": [o[:1].lower() + o[1:] for o in outcomes]}
    return ctx.render("sections/negative_controls.html.j2", missing=False, tables=tables, text=text)


SECTION = register(Section("negativa_kontroller", "Negativa kontroller och kalibrerade konfidensintervall", 55, collect,
                           render))

__all__ = ["ALL_IDS", "CALIBRATED_ID", "CONTROLS_ID", "NULL_ID", "OUTCOME_SV", "SECTION", "collect", "render"]
