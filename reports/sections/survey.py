"""Section: the coordinators' own view of collaboration (the survey of issue 13), through disclosure control.

Reads ``results.survey`` (`analyses.designs.survey`). What it publishes, all as model outputs
(``enkatmodell``): respondents behind every estimate are read by the rules (fewer than the
threshold withholds the row, like a register cell) but not published.

``enkatmodell:svar``
    Response rate (AAPOR RR1) for everyone, per care level and per region (persons rule only).
``enkatmodell:instammer``
    The share agreeing (4-5) per item, weighted for non-response, for everyone (also
    unweighted), per care level and per region; a share of 0 % or 100 % and a share with
    fewer than the threshold agreeing are withheld (the estimand is published as ``share``).
``enkatmodell:index``
    The collaboration index per region (weighted), Cronbach's alpha, the Rao-Scott tests and
    the Spearman correlations of the ecological comparison.
``enkatmodell:register``
    Beside the index, each region's uptake and return to work from the registers: shares of
    spells, so checked like register cells (events rule, 0 % and 100 % withheld, a withheld
    share's row withheld whole).

The survey has no sex, so this chapter has no figures for women and men; the text says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from markupsafe import Markup

from reports.disclosure import CheckedOutput, ModelOutput, Output
from reports.formatting import format_estimate_interval, format_number, format_percent, is_missing, scaled
from reports.inputs import ReportInputs
from reports.labels import value_label
from reports.outputs import declaration, instance_id
from reports.sections._results import results_table
from reports.sections import RenderContext, Section, register
from reports.sections._build import first_where, published_ids, rows_where, table_notes
from reports.sections.timing import SECTION as TIMING_SECTION
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView

SURVEY = "survey"
RESPONSE_ID = instance_id("enkatmodell", "svar")
AGREE_ID = instance_id("enkatmodell", "instammer")
INDEX_ID = instance_id("enkatmodell", "index")
REGISTER_ID = instance_id("enkatmodell", "register")
ALL_IDS = (RESPONSE_ID, AGREE_ID, INDEX_ID, REGISTER_ID)
REGISTER_TERMS = ("region_uptake", "region_rtw")
REGION = "region_code"
CARE_LEVELS_SV = {"PV": "Primärvård", "SSV": "Specialiserad somatisk vård", "PSY": "Specialiserad psykiatri"}
ITEMS_SV = {
    "F1_FK": "Samverkan med Försäkringskassan fungerar bra",
    "F2_AF": "Samverkan med Arbetsförmedlingen fungerar bra",
    "F3_Arbetsgivare": "Samverkan med arbetsgivare fungerar bra",
    "F4_Kommun": "Samverkan med kommunen fungerar bra",
    "F5_Internt": "Samordningen inom vården fungerar bra",
    "F6_Tid": "Jag har tillräckligt med tid för koordinering",
    "F7_Rutiner": "Enheten har dokumenterade rutiner för att erbjuda koordinering",
    "F8_Kompetens": "Jag har fått tillräcklig utbildning för uppdraget",
}
LABELS = ("weighting", "term", "measure")


def _read(inputs) -> pd.DataFrame | None:
    return results_table(inputs, SURVEY)


def _tidy(rows: pd.DataFrame, estimand: str | None = None) -> pd.DataFrame:
    """The rows with ``measure`` = their estimand (and the estimand renamed, e.g. to ``share``)."""
    out = rows.assign(measure=rows["estimand"].astype(str))
    if estimand:
        out["estimand"] = estimand
    if "weighting" not in out.columns:
        out["weighting"] = "none"
    for column in ("n_persons", "n_events"):  # plain floats: the rules fill a missing count
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    return out


def collect(inputs: ReportInputs) -> Sequence[Output]:
    survey = _read(inputs)
    if survey is None:
        return []
    outputs: list[Output] = []
    response = rows_where(survey, estimand="response_rate", subgroup=("all", "care_level", REGION))
    if len(response) and response["estimate"].notna().any():
        outputs.append(ModelOutput(declaration("enkatmodell"), _tidy(response), output_id=RESPONSE_ID,
                                   event_based=False, label_columns=LABELS, unpublished_columns=("n_persons", "n_events")))
    agree = pd.concat([
        rows_where(survey, estimand="share_agree", subgroup="all"),
        rows_where(survey, estimand="share_agree", subgroup=("care_level", REGION), weighting="weighted"),
    ], ignore_index=True)
    if len(agree):
        outputs.append(ModelOutput(declaration("enkatmodell"), _tidy(agree, "share"), output_id=AGREE_ID,
                                   label_columns=LABELS, unpublished_columns=("n_persons", "n_events")))
    ecological = rows_where(survey, estimand="ecological")
    register_rows = ecological[ecological["term"].astype(str).isin(REGISTER_TERMS)].reset_index(drop=True)
    index = pd.concat([
        rows_where(survey, estimand="collaboration_index", subgroup=("all", REGION), weighting="weighted"),
        rows_where(survey, estimand=("cronbach_alpha", "rao_scott")),
        ecological[~ecological["term"].astype(str).isin(REGISTER_TERMS)],
    ], ignore_index=True)
    if len(register_rows):
        outputs.append(ModelOutput(declaration("enkatmodell"), _tidy(register_rows, "share"), output_id=REGISTER_ID,
                                   label_columns=LABELS, estimates_reveal_counts=True,
                                   unpublished_columns=("n_persons", "n_events")))
    if len(index):
        outputs.append(ModelOutput(declaration("enkatmodell"), _tidy(index), output_id=INDEX_ID, event_based=False,
                                   label_columns=LABELS, statistic_columns=("p_holm",),
                                   unpublished_columns=("n_persons", "n_events")))
    return outputs


# --- render ---------------------------------------------------------------------------------------


def _pct(value: object) -> str:
    return format_percent(scaled(value, 100), 1)  # type: ignore[arg-type]


def _share_ci(r: pd.Series | None) -> str:
    return format_estimate_interval(r, 1, scale=100, percent=True)


def _number_ci(r: pd.Series | None, decimals: int = 2) -> str:
    return format_estimate_interval(r, decimals)


def _p(value: object) -> str:
    if is_missing(value):
        return format_number(value)
    return "< 0,001" if float(value) < 0.001 else format_number(float(value), 3)


def _regions(frame: pd.DataFrame, **where: object) -> list[str]:
    levels = set(rows_where(frame, subgroup=REGION, **where)["level"].astype(str))
    return sorted(levels, key=lambda c: value_label("home_region_code", c))


def _response_table(ctx: RenderContext, response: pd.DataFrame) -> TableView:
    groups = [RowGroup("", (Row("Samtliga", (DataCell(_pct(first_where(response, subgroup="all")["estimate"]
                                                               if first_where(response, subgroup="all") is not None else None), "percent"),)),))]
    groups.append(RowGroup("Vårdnivå", tuple(
        Row(CARE_LEVELS_SV[lv], (DataCell(_pct(r["estimate"] if (r := first_where(response, subgroup="care_level", level=lv)) is not None else None), "percent"),))
        for lv in CARE_LEVELS_SV)))
    groups.append(RowGroup("Region", tuple(
        Row(value_label("home_region_code", c), (DataCell(_pct(first_where(response, subgroup=REGION, level=c)["estimate"]), "percent"),))
        for c in _regions(response))))
    out = ctx.get(RESPONSE_ID)
    return TableView("tabell-enkat-svar", "Andel av de inbjudna som svarade på enkäten (svarsfrekvens, AAPOR RR1), samtliga, "
                     "per vårdnivå och per region.", ((HeaderCell("Grupp"), HeaderCell("Svarsfrekvens")),), tuple(groups),
                     table_notes([out], "Inbjudna enligt utvärderarnas egen urvalsram."), published_ids(out))


def _agree_table(ctx: RenderContext, agree: pd.DataFrame, index: pd.DataFrame | None) -> TableView:
    header = (HeaderCell("Påstående"), HeaderCell("Samtliga, viktat (95 % KI)"), HeaderCell("Samtliga, oviktat"),
              *(HeaderCell(v) for v in CARE_LEVELS_SV.values()))
    rows = []
    for item, label in ITEMS_SV.items():
        cells = [DataCell(_share_ci(first_where(agree, term=item, subgroup="all", weighting="weighted")), "interval"),
                 DataCell(_pct(r["estimate"]) if (r := first_where(agree, term=item, subgroup="all", weighting="unweighted")) is not None
                          else format_percent(None), "percent")]
        for lv in CARE_LEVELS_SV:
            r = first_where(agree, term=item, subgroup="care_level", level=lv)
            cells.append(DataCell(_share_ci(r), "interval"))
        rows.append(Row(label, tuple(cells)))
    out = ctx.get(AGREE_ID)
    return TableView(
        "tabell-enkat-instammer", "Andel som instämmer (svar 4 eller 5 på skalan 1–5) per påstående, bland dem som svarade "
        "1–5, samtliga och per vårdnivå, viktat för bortfall.",
        (header,), (RowGroup("", tuple(rows)),),
        table_notes([out], "Svaret ”vet inte” räknas inte med i andelen men redovisas för sig i resultattabellen. Vikter: "
                      "antal inbjudna delat med antal svarande i varje viktklass (sjukvårdsregion × vårdnivå). "
                      "Intervall på logitskala, eller Korn–Graubard när underlaget är litet."),
        published_ids(out))


def _tests_table(ctx: RenderContext, index: pd.DataFrame) -> TableView | None:
    """Rao–Scott tests of differences between regions and between care levels per item (a table of its own: width)."""
    rows = []
    for item, label in ITEMS_SV.items():
        found = [first_where(index, measure="rao_scott", term=item, subgroup=dim) for dim in (REGION, "care_level")]
        if all(r is None for r in found):
            continue
        rows.append(Row(label, tuple(DataCell(_p(r["p_holm"] if r is not None else None), "p") for r in found)))
    if not rows:
        return None
    idx = ctx.get(INDEX_ID)
    return TableView(
        "tabell-enkat-test", "Skillnader i andelen som instämmer mellan regioner och mellan vårdnivåer: p-värden per "
        "påstående.", ((HeaderCell("Påstående"), HeaderCell("Mellan regioner, p (Holm)"),
                       HeaderCell("Mellan vårdnivåer, p (Holm)")),), (RowGroup("", tuple(rows)),),
        table_notes([idx], "Test: Rao–Scott (andra ordningens korrektion, F-form), som tar hänsyn till vikterna och urvalet; "
                      "p-värden justerade med Holm över de åtta påståendena."),
        published_ids(idx))


def _region_table(ctx: RenderContext, agree: pd.DataFrame | None, index: pd.DataFrame,
                  register: pd.DataFrame | None) -> TableView | None:
    regions = _regions(index, measure="ecological", term="region_index")
    if not regions:
        return None
    header = (HeaderCell("Region"), HeaderCell("Samverkansindex 1–5, viktat (95 % KI)"),
              HeaderCell("Instämmer om FK, viktat"), HeaderCell("Koordinerade inom 90 dagar"),
              HeaderCell("Åter i arbete inom 180 dagar"))
    rows = []
    for c in regions:
        idx = first_where(index, measure="ecological", term="region_index", level=c)
        fk = first_where(agree, term="F1_FK", subgroup=REGION, level=c) if agree is not None else None
        up = first_where(register, measure="ecological", term="region_uptake", level=c)
        rtw = first_where(register, measure="ecological", term="region_rtw", level=c)
        rows.append(Row(value_label("home_region_code", c), (
            DataCell(_number_ci(idx), "interval"), DataCell(_share_ci(fk), "interval"),
            DataCell(_pct(up["estimate"] if up is not None else None), "percent"),
            DataCell(_pct(rtw["estimate"] if rtw is not None else None), "percent"))))
    out, ag, reg = ctx.get(INDEX_ID), ctx.get(AGREE_ID), ctx.get(REGISTER_ID)
    return TableView(
        "tabell-enkat-region", "Samordnarnas samverkansindex per region bredvid regionens andel sjukfall med koordinering "
        "inom 90 dagar och andel åter i arbete inom 180 dagar (regioner i bokstavsordning).", (header,),
        (RowGroup("", tuple(rows)),),
        table_notes([out, ag, reg], "Ekologisk jämförelse: regioner jämförs, inte personer. Indexet är medelvärdet av svaren 1–5 "
                          "på de fyra påståendena om samverkan med Försäkringskassan, Arbetsförmedlingen, arbetsgivare och "
                          "kommunen (minst tre besvarade). Sjukfall som pågick dag 14."),
        published_ids(out, ag, reg))


def _texts(ctx: RenderContext, response, agree, index) -> dict:
    t: dict = {}
    if response is not None and (r := first_where(response, subgroup="all")) is not None and not is_missing(r["estimate"]):
        t["response"] = ctx.cite(RESPONSE_ID, "Enkät: svarsfrekvens, samtliga", _pct(r["estimate"]))
        levels = [(CARE_LEVELS_SV[lv], x) for lv in CARE_LEVELS_SV
                  if (x := first_where(response, subgroup="care_level", level=lv)) is not None and not is_missing(x["estimate"])]
        if levels:
            lo, hi = min(levels, key=lambda p: p[1]["estimate"]), max(levels, key=lambda p: p[1]["estimate"])
            t["response_range"] = (hi[0].lower(), ctx.cite(RESPONSE_ID, f"Enkät: svarsfrekvens, {hi[0]}", _pct(hi[1]["estimate"])),
                                   lo[0].lower(), ctx.cite(RESPONSE_ID, f"Enkät: svarsfrekvens, {lo[0]}", _pct(lo[1]["estimate"])))
    if agree is not None:
        fk_w = first_where(agree, term="F1_FK", subgroup="all", weighting="weighted")
        fk_u = first_where(agree, term="F1_FK", subgroup="all", weighting="unweighted")
        if fk_w is not None and not is_missing(fk_w["estimate"]):
            t["fk"] = ctx.cite(AGREE_ID, "Enkät: instämmer om FK, viktat", _share_ci(fk_w))
        if fk_u is not None and not is_missing(fk_u["estimate"]):
            t["fk_unweighted"] = ctx.cite(AGREE_ID, "Enkät: instämmer om FK, oviktat", _pct(fk_u["estimate"]))
    if index is not None:
        a = first_where(index, measure="cronbach_alpha")
        if a is not None and not is_missing(a["estimate"]):
            t["alpha"] = ctx.cite(INDEX_ID, "Enkät: Cronbachs alfa", _number_ci(a))
        i = first_where(index, measure="collaboration_index", subgroup="all")
        if i is not None and not is_missing(i["estimate"]):
            t["index"] = ctx.cite(INDEX_ID, "Enkät: samverkansindex, samtliga", _number_ci(i))
        for key, term in (("rho_uptake", "spearman_index_uptake"), ("rho_rtw", "spearman_index_rtw")):
            r = first_where(index, measure="ecological", term=term)
            if r is not None and not is_missing(r["estimate"]):
                t[key] = ctx.cite(INDEX_ID, f"Enkät: Spearman {term}", _number_ci(r))
    return t


def render(ctx: RenderContext) -> Markup:
    if not any(ctx.get(i) is not None for i in ALL_IDS):
        return ctx.render("sections/survey.html.j2", missing=True)
    response, agree, index = ctx.summary(RESPONSE_ID), ctx.summary(AGREE_ID), ctx.summary(INDEX_ID)
    register = ctx.summary(REGISTER_ID)
    tables = {
        "response": _response_table(ctx, response) if response is not None else None,
        "agree": _agree_table(ctx, agree, index) if agree is not None else None,
        "tests": _tests_table(ctx, index) if index is not None else None,
        "region": _region_table(ctx, agree, index, register) if index is not None else None,
    }
    blocked = [c for c in (ctx.get(i) for i in ALL_IDS) if c is not None and c.is_blocked]
    return ctx.render("sections/survey.html.j2", missing=False, tables=tables, text=_texts(ctx, response, agree, index),
                      blocked=blocked, has_frame=response is not None)


SECTION = register(Section("enkat", "Samordnarnas bild av samverkan (enkät)", TIMING_SECTION.order + 2, collect, render))
