"""Section: collaboration with FK, AF, employers and municipalities (mandate question 3, issue 13), from the registers.

Reads the results table ``collaboration`` (kept out of the association's chapters by
`reports.sections._results.OWN_CHAPTER_TABLES`). What it publishes, all through disclosure
control as model outputs (``samverkanmodell:<instance>``); the counts behind the estimates are
read by the rules but not published (``n_persons``, ``n_events``, ``n_meetings``). A rate times
its spells, or a share times its meetings, gives the events back, so a withheld estimate is
withheld whole and complemented across women, men and everyone:

``samverkanmodell:handelser``
    Reconciliation meetings (AVST), 4 § information (INFO4), employers' plans (PLAN) and joint
    mappings with AF (AFKART) per 1 000 eligible spells and per coordinated spell, by sex, home
    region, diagnosis group and start year.
``samverkanmodell:deltagande``
    The share of AVST where health care, the employer and AF took part, by sex and home region.
``samverkanmodell:ordning``
    Among coordinated spells: the first INFO4 and the first AVST within 30/60/90 days of the
    first GC001 (cumulative incidence) and whether the first AVST came before or after it.
``samverkanmodell:af``
    The unemployed: registered at AF at the start, registration during the spell, and the rate
    ratio of registration while coordinated.
``samverkanmodell:atergang``
    Return to work by collaboration state (association): coordinated without and with an
    employer in a reconciliation meeting, against not coordinated.

Municipalities have no register in the delivery: the chapter says so, and the coordinators'
survey (the next chapter) is where their part is described.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from markupsafe import Markup

from data_schemas.tables import SEXES
from reports.disclosure import CheckedOutput, ModelOutput, Output
from reports.formatting import format_estimate_interval, format_number, format_percent, is_missing, scaled
from reports.labels import SEX_PLURAL_SV, SEX_SINGULAR_SV, value_label
from reports.outputs import declaration, instance_id
from reports.sections._results import results_table
from reports.sections import RenderContext, Section, register
from reports.sections._build import first_where, published_ids, rows_where, table_notes
from reports.sections.timing import SECTION as TIMING_SECTION
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView

TABLE = "collaboration"
EVENTS_ID = instance_id("samverkanmodell", "handelser")
PARTICIPATION_ID = instance_id("samverkanmodell", "deltagande")
SEQUENCE_ID = instance_id("samverkanmodell", "ordning")
AF_ID = instance_id("samverkanmodell", "af")
RTW_ID = instance_id("samverkanmodell", "atergang")
ALL_IDS = (EVENTS_ID, PARTICIPATION_ID, SEQUENCE_ID, AF_ID, RTW_ID)

POPULATIONS = ("all", *SEXES)
SEX_ADDS_UP = (("sex", "all", tuple(SEXES)),)
REGION = "home_region_code"
UNPUBLISHED = ("n_persons", "n_events", "n_meetings")
EVENT_SV = {"AVST": "avstämningsmöten", "INFO4": "information enligt 4 § (vården till FK)",
            "PLAN": "arbetsgivarens plan för återgång", "AFKART": "gemensamma kartläggningar med AF"}
PARTICIPANT_SV = {"care": "vården", "employer": "arbetsgivaren", "af": "Arbetsförmedlingen"}
SEQUENCE_SV = {"first_info4_after_gc001": "första information enligt 4 §",
               "first_avst_after_gc001": "första avstämningsmöte"}
ORDER_SV = {"before": "före", "same_day": "samma dag", "after": "efter"}
RTW_SV = {"coordinated_no_employer_avst": "Koordinerade, utan arbetsgivare i avstämningsmöte",
          "coordinated_employer_avst": "Koordinerade, arbetsgivaren med i avstämningsmöte",
          "employer_vs_no_employer": "Med arbetsgivare mot utan (bland koordinerade)"}
SEQUENCE_DAYS = (30, 60, 90)
AF_DAYS = (30, 60, 90, 180)


def _read(inputs) -> pd.DataFrame | None:
    return results_table(inputs, TABLE)


# --- collect --------------------------------------------------------------------------------------


def _model(rows: pd.DataFrame, output_id: str, labels: tuple[str, ...]) -> ModelOutput:
    rows = rows.drop(columns=[c for c in ("interpretation",) if c in rows.columns])
    rows = rows.drop(columns=[c for c in rows.columns if rows[c].isna().all() and c in ("n_meetings",)])
    for c in ("n_persons", "n_events", "n_spells", "n_meetings"):  # nullable integers as floats for the rules
        if c in rows.columns:
            rows[c] = pd.to_numeric(rows[c], errors="coerce").astype(float)
    unpublished = tuple(c for c in UNPUBLISHED if c in rows.columns)
    return ModelOutput(declaration("samverkanmodell"), rows, output_id=output_id, label_columns=labels,
                       unpublished_columns=unpublished, estimates_reveal_counts=True, additive_labels=SEX_ADDS_UP)


def collect(inputs) -> Sequence[Output]:
    frame = _read(inputs)
    if frame is None:
        return []
    outputs: list[Output] = []
    for output_id, measures, labels in (
            (EVENTS_ID, ("rate_per_1000_eligible", "rate_per_coordinated"), ("measure", "term")),
            (PARTICIPATION_ID, ("participation",), ("measure", "term")),
            (SEQUENCE_ID, ("first_info4_after_gc001", "first_avst_after_gc001", "avst_vs_gc001"), ("measure", "term", "day")),
            (AF_ID, ("af_registered_at_start", "af_registration", "af_registration_coordination_rr"), ("measure", "term", "day")),
            (RTW_ID, ("rtw_collaboration_rr",), ("measure", "term"))):
        rows = rows_where(frame, measure=measures)
        if len(rows):
            outputs.append(_model(rows, output_id, labels))
    return outputs


# --- render helpers -------------------------------------------------------------------------------


def _pop(frame: pd.DataFrame | None, population: str, **where: object) -> pd.Series | None:
    if population == "all":
        return first_where(frame, sex="all", subgroup="all", **where)
    return first_where(frame, sex=population, subgroup="sex", **where)


def _title(population: str) -> str:
    return "Samtliga" if population == "all" else SEX_PLURAL_SV.get(population, population)


def _pct(value: object, decimals: int = 1) -> str:
    return format_percent(scaled(value, 100), decimals)  # type: ignore[arg-type]


def _share_ci(r: pd.Series | None) -> str:
    return format_estimate_interval(r, 1, scale=100, percent=True)


def _number_ci(r: pd.Series | None, decimals: int) -> str:
    return format_estimate_interval(r, decimals)


def _number(r: pd.Series | None, decimals: int) -> str:
    return format_number(None if r is None else r["estimate"], decimals)


def _regions(frame: pd.DataFrame) -> list[str]:
    levels = list(dict.fromkeys(rows_where(frame, sex="all", subgroup=REGION)["level"].astype(str)))
    return sorted(levels, key=lambda c: value_label(REGION, c))


# --- tables ---------------------------------------------------------------------------------------


def _events_table(ctx: RenderContext, events: pd.DataFrame) -> TableView:
    header = (HeaderCell("Händelse hos Försäkringskassan"),
              *(HeaderCell(f"Per 1 000 sjukfall, {SEX_SINGULAR_SV[p]} (95 % KI)") for p in POPULATIONS),
              HeaderCell("Per koordinerat sjukfall, samtliga (95 % KI)"))
    rows = []
    for code, label in EVENT_SV.items():
        cells = [DataCell(_number_ci(_pop(events, p, measure="rate_per_1000_eligible", term=code), 0), "interval")
                 for p in POPULATIONS]
        cells.append(DataCell(_number_ci(_pop(events, "all", measure="rate_per_coordinated", term=code), 2), "interval"))
        rows.append(Row(label[:1].upper() + label[1:], tuple(cells)))
    out = ctx.get(EVENTS_ID)
    return TableView("tabell-samverkan-handelser", "Försäkringskassans samverkanshändelser under sjukfallet per 1 000 sjukfall "
                     "och per koordinerat sjukfall, samtliga, kvinnor och män. Sjukfall som pågick dag 14.",
                     (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Händelser daterade under sjukfallets uppföljning. Ett sjukfall kan ha flera händelser "
                                   "och en person flera sjukfall; intervallen tar hänsyn till det (klustrade på person)."),
                     published_ids(out))


def _region_table(ctx: RenderContext, events: pd.DataFrame, participation: pd.DataFrame | None) -> TableView | None:
    levels = _regions(events)
    if not levels:
        return None
    header = (HeaderCell("Hemregion"), HeaderCell("Avstämningsmöten per 1 000"), HeaderCell("4 §-information per 1 000"),
              HeaderCell("4 §-information per koordinerat sjukfall"), HeaderCell("Arbetsgivaren med i mötet"),
              HeaderCell("AF med i mötet"))
    rows = []
    for level in levels:
        def rate(measure: str, term: str) -> pd.Series | None:
            return first_where(events, sex="all", subgroup=REGION, level=level, measure=measure, term=term)

        def share(term: str) -> pd.Series | None:
            return first_where(participation, sex="all", subgroup=REGION, level=level, term=term)
        rows.append(Row(value_label(REGION, level), (
            DataCell(_number(rate("rate_per_1000_eligible", "AVST"), 0), "number"),
            DataCell(_number(rate("rate_per_1000_eligible", "INFO4"), 0), "number"),
            DataCell(_number(rate("rate_per_coordinated", "INFO4"), 2), "number"),
            DataCell(_pct(None if share("employer") is None else share("employer")["estimate"]), "percent"),
            DataCell(_pct(None if share("af") is None else share("af")["estimate"]), "percent"))))
    outs = [ctx.get(EVENTS_ID), ctx.get(PARTICIPATION_ID)]
    return TableView("tabell-samverkan-regioner", "Samverkan per hemregion (regioner i bokstavsordning): avstämningsmöten och "
                     "4 §-information per 1 000 sjukfall, 4 §-information per koordinerat sjukfall och andelen "
                     "avstämningsmöten där arbetsgivaren respektive Arbetsförmedlingen deltog, samtliga.",
                     (header,), (RowGroup("", tuple(rows)),),
                     table_notes(outs, "Skillnader mellan regioner kan bero på att regionerna registrerar koordinering (GC001) "
                                  "olika fullständigt; se kapitlet om regionerna."), published_ids(*outs))


def _participation_table(ctx: RenderContext, participation: pd.DataFrame) -> TableView:
    header = (HeaderCell("Deltog i avstämningsmötet"), *(HeaderCell(f"{_title(p)} (95 % KI)") for p in POPULATIONS))
    rows = [Row(label[:1].upper() + label[1:], tuple(DataCell(_share_ci(_pop(participation, p, term=term)), "interval")
                                                     for p in POPULATIONS))
            for term, label in PARTICIPANT_SV.items()]
    out = ctx.get(PARTICIPATION_ID)
    return TableView("tabell-samverkan-deltagande", "Vem deltog i avstämningsmötena: andel möten där vården, arbetsgivaren "
                     "och Arbetsförmedlingen deltog, samtliga, kvinnor och män.", (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Andel av de möten där deltagandet är registrerat (Wilsonintervall per möte). "
                                   "Arbetsgivaren kan bara delta för den som har en arbetsgivare."), published_ids(out))


def _sequence_table(ctx: RenderContext, sequence: pd.DataFrame) -> TableView:
    header = (HeaderCell("Grupp"), *(HeaderCell(f"{SEQUENCE_SV[m][:1].upper() + SEQUENCE_SV[m][1:]} inom {d} dagar")
                                     for m in SEQUENCE_SV for d in SEQUENCE_DAYS))
    rows = []
    for p in POPULATIONS:
        rows.append(Row(_title(p), tuple(DataCell(_share_ci(_pop(sequence, p, measure=m, day=d)), "interval")
                                         for m in SEQUENCE_SV for d in SEQUENCE_DAYS)))
    out = ctx.get(SEQUENCE_ID)
    return TableView("tabell-samverkan-ordning", "Bland koordinerade sjukfall: andel med en första information enligt 4 § "
                     "och ett första avstämningsmöte inom 30, 60 och 90 dagar från den första koordineringsinsatsen "
                     "(GC001), samtliga, kvinnor och män.", (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Kumulativ incidens (Aalen–Johansen) med sjukfallets slut som konkurrerande händelse; "
                                   "en händelse samma dag som eller före den första insatsen räknas som given direkt."),
                     published_ids(out))


def _af_table(ctx: RenderContext, af: pd.DataFrame) -> TableView:
    header = (HeaderCell("Grupp"), HeaderCell("Inskrivna vid start"),
              *(HeaderCell(f"Inskrivna inom {d} dagar") for d in AF_DAYS), HeaderCell("Kvot medan koordinerade (95 % KI)"))
    rows = []
    for p in POPULATIONS:
        start = _pop(af, p, measure="af_registered_at_start")
        cells = [DataCell(_share_ci(start), "interval")]
        cells += [DataCell(_pct(None if (r := _pop(af, p, measure="af_registration", day=d)) is None else r["estimate"]),
                           "percent") for d in AF_DAYS]
        cells.append(DataCell(_number_ci(_pop(af, p, measure="af_registration_coordination_rr"), 2), "interval"))
        rows.append(Row(_title(p), tuple(cells)))
    out = ctx.get(AF_ID)
    return TableView("tabell-samverkan-af", "Arbetslösa vid sjukfallets start: andel inskrivna vid Arbetsförmedlingen vid "
                     "start, andel av de övriga som skrevs in inom 30, 60, 90 och 180 dagar, och kvoten mellan takten "
                     "för inskrivning medan sjukfallet är koordinerat och innan eller utan koordinering, samtliga, "
                     "kvinnor och män.", (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Inskrivning räknad från sjukfallets första dag med sjukfallets slut som konkurrerande "
                                   "händelse. Kvoten kommer från en Poissonmodell där koordineringen börjar dagen efter den "
                                   "första insatsen (ingen odödlig tid), justerad för ålder, diagnoskapitel och kön. Ett "
                                   "samband, inte säkert orsak och verkan."), published_ids(out))


def _rtw_table(ctx: RenderContext, rtw: pd.DataFrame) -> TableView:
    header = (HeaderCell("Jämförelse"), *(HeaderCell(f"{_title(p)} (95 % KI)") for p in POPULATIONS))
    rows = [Row(label, tuple(DataCell(_number_ci(_pop(rtw, p, term=term), 2), "interval") for p in POPULATIONS))
            for term, label in RTW_SV.items()]
    out = ctx.get(RTW_ID)
    return TableView("tabell-samverkan-atergang", "Återgång i arbete efter samverkan: kvot mellan takten för återgång i "
                     "arbete medan sjukfallet är koordinerat utan respektive med arbetsgivaren i ett avstämningsmöte, "
                     "jämfört med okoordinerad tid, samtliga, kvinnor och män.", (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Tillstånden byts den dag de börjar (koordinering dagen efter första GC001, arbetsgivaren "
                                   "dagen efter mötet), så ingen tid räknas fel. Samma justering som huvudanalysens "
                                   "Poissonmodell. Ett samband: vilka sjukfall som får arbetsgivaren till ett möte är inte "
                                   "slumpat."), published_ids(out))


# --- texts ----------------------------------------------------------------------------------------


TEXT_KEYS = ("avst", "avst_sex", "info4_per_coordinated", "participation", "info4_90", "avst_90", "before", "after",
             "af_start", "af_90", "af_rr", "af_rr_sure", "af_rr_sex", "rtw")


def _texts(ctx: RenderContext, events, participation, sequence, af, rtw) -> dict:
    t: dict = dict.fromkeys(TEXT_KEYS)
    if events is not None:
        avst = {p: _pop(events, p, measure="rate_per_1000_eligible", term="AVST") for p in POPULATIONS}
        if avst["all"] is not None and not is_missing(avst["all"]["estimate"]):
            t["avst"] = ctx.cite(EVENTS_ID, "Samverkan: avstämningsmöten per 1 000 sjukfall, samtliga", _number(avst["all"], 0))
            t["avst_sex"] = [(SEX_SINGULAR_SV[s], ctx.cite(EVENTS_ID, f"Samverkan: avstämningsmöten per 1 000, {SEX_SINGULAR_SV[s]}",
                                                           _number(avst[s], 0)))
                             for s in SEXES if avst[s] is not None and not is_missing(avst[s]["estimate"])]
        info = _pop(events, "all", measure="rate_per_coordinated", term="INFO4")
        if info is not None and not is_missing(info["estimate"]):
            t["info4_per_coordinated"] = ctx.cite(EVENTS_ID, "Samverkan: 4 §-information per koordinerat sjukfall",
                                                  _number(info, 2))
    if participation is not None:
        t["participation"] = [(PARTICIPANT_SV[term], ctx.cite(PARTICIPATION_ID, f"Samverkan: {PARTICIPANT_SV[term]} deltog",
                                                              _pct(r["estimate"])))
                              for term in PARTICIPANT_SV
                              if (r := _pop(participation, "all", term=term)) is not None and not is_missing(r["estimate"])]
    if sequence is not None:
        for measure, key in (("first_info4_after_gc001", "info4_90"), ("first_avst_after_gc001", "avst_90")):
            r = _pop(sequence, "all", measure=measure, day=90)
            if r is not None and not is_missing(r["estimate"]):
                t[key] = ctx.cite(SEQUENCE_ID, f"Samverkan: {SEQUENCE_SV[measure]} inom 90 dagar", _share_ci(r))
        before = first_where(sequence, sex="all", measure="avst_vs_gc001", level="before")
        after = first_where(sequence, sex="all", measure="avst_vs_gc001", level="after")
        if before is not None and after is not None and not is_missing(before["estimate"]) and not is_missing(after["estimate"]):
            t["before"] = ctx.cite(SEQUENCE_ID, "Samverkan: första mötet före första GC001", _pct(before["estimate"]))
            t["after"] = ctx.cite(SEQUENCE_ID, "Samverkan: första mötet efter första GC001", _pct(after["estimate"]))
    if af is not None:
        start = _pop(af, "all", measure="af_registered_at_start")
        if start is not None and not is_missing(start["estimate"]):
            t["af_start"] = ctx.cite(AF_ID, "Samverkan: arbetslösa inskrivna vid AF vid start", _pct(start["estimate"]))
        r90 = _pop(af, "all", measure="af_registration", day=90)
        if r90 is not None and not is_missing(r90["estimate"]):
            t["af_90"] = ctx.cite(AF_ID, "Samverkan: inskrivna vid AF inom 90 dagar", _share_ci(r90))
        rr = {p: _pop(af, p, measure="af_registration_coordination_rr") for p in POPULATIONS}
        if rr["all"] is not None and not is_missing(rr["all"]["estimate"]):
            low, high = rr["all"]["conf_low"], rr["all"]["conf_high"]
            t["af_rr"] = ctx.cite(AF_ID, "Samverkan: kvot för inskrivning vid AF medan koordinerad", _number_ci(rr["all"], 2))
            t["af_rr_sure"] = not is_missing(low) and (float(low) > 1 or float(high) < 1)
            t["af_rr_sex"] = [(SEX_SINGULAR_SV[s], ctx.cite(AF_ID, f"Samverkan: kvot för inskrivning vid AF, {SEX_SINGULAR_SV[s]}",
                                                            _number_ci(rr[s], 2)))
                              for s in SEXES if rr[s] is not None and not is_missing(rr[s]["estimate"])]
    if rtw is not None:
        t["rtw"] = []
        for term, label in RTW_SV.items():
            r = _pop(rtw, "all", term=term)
            if r is not None and not is_missing(r["estimate"]):
                t["rtw"].append((label.lower(), ctx.cite(RTW_ID, f"Samverkan: återgång, {label.lower()}", _number_ci(r, 2))))
    return t


# --- render ---------------------------------------------------------------------------------------


def render(ctx: RenderContext) -> Markup:
    if not any(ctx.get(i) is not None for i in ALL_IDS):
        return ctx.render("sections/collaboration.html.j2", missing=True)
    events, participation = ctx.summary(EVENTS_ID), ctx.summary(PARTICIPATION_ID)
    sequence, af, rtw = ctx.summary(SEQUENCE_ID), ctx.summary(AF_ID), ctx.summary(RTW_ID)
    tables = {
        "events": _events_table(ctx, events) if events is not None else None,
        "regions": _region_table(ctx, events, participation) if events is not None else None,
        "participation": _participation_table(ctx, participation) if participation is not None else None,
        "sequence": _sequence_table(ctx, sequence) if sequence is not None else None,
        "af": _af_table(ctx, af) if af is not None else None,
        "rtw": _rtw_table(ctx, rtw) if rtw is not None else None,
    }
    blocked = [c for c in (ctx.get(i) for i in ALL_IDS) if c is not None and c.is_blocked]
    text = _texts(ctx, events, participation, sequence, af, rtw)
    ctx.findings["samverkan"] = text
    return ctx.render("sections/collaboration.html.j2", missing=False, tables=tables, text=text, blocked=blocked)


SECTION = register(Section("samverkan", "Samverkan i sjukfallen enligt registren",
                           TIMING_SECTION.order + 1, collect, render))
