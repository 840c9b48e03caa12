"""Section: needs-based and timely coordination (mandate question 4): time to coordination, need, unmet need, earlier coordination.

Reads the results tables of issue 12 (``coordination_timing``, ``coordination_need``,
``coordination_timing_strategies``, kept out of the association's chapters by
`reports.sections._results.OWN_CHAPTER_TABLES`) and their curves in ``cif_curves``. What it
publishes, all through disclosure control; counts behind the estimates are read by the rules
but not published, except the unmet need, which is a count table of its own:

``tidmodell:forsta``, ``tidmodell:kedja``, ``tidmodell:dos`` (model)
    Cumulative incidence of the first GC001 by day 30/60/90/180 and the median day, by sex,
    age, diagnosis group, region and start year; the chain of support after the first GC001;
    the dose. A share times its spells is close to its events, so a withheld estimate is
    complemented across a dimension's levels and across women, men and everyone.
``behovsmodell:modell``, ``:gradient``, ``:koncentration``, ``:skillnader``, ``:ouppfyllt`` (model)
    The need model's AUC and calibration, uptake within 90 days per need decile (the figure),
    the concentration index, the national gaps at equal need, and the unmet share per region.
``ouppfyllt_behov`` (frequency)
    High-need spells with and without coordination within 90 days per region, for everyone,
    women and men, with margins (the national total is the sum of the regions) and linked
    equations everyone = women + men; the unmet shares share these cells (`SharedCount`), so a
    withheld count withholds its share.
``strategimodell:strategier`` (model)
    Return to work at 180 and 365 days per timing strategy and the contrasts, with the rows'
    diagnostics; findings are stated only for rows whose diagnostics pass.
``tidkurva:forsta_gc001``, ``tidkurva:strategier`` (curves) and their figures.

The strategies' curves are drawn here, not in the association chapter: they answer this
chapter's question (does earlier coordination go with earlier return to work).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd
from markupsafe import Markup

from data_schemas.tables import SEXES
from reports.disclosure import CheckedOutput, CurveOutput, FigureOutput, FrequencyOutput, ModelOutput, Output, SharedCount
from reports.figures import gradient_figure, incidence_lines_figure
from reports.formatting import format_estimate_interval, format_number, format_percent, is_missing, scaled
from reports.inputs import ReportInputs
from reports.labels import NEED_GAP_SV, SEX_PLURAL_SV, SEX_SINGULAR_SV, TIMING_MEASURE_SV, need_group_label, strategy_label, value_label
from reports.outputs import declaration, instance_id
from reports.sections._results import results_table
from reports.sections import RenderContext, Section, register
from reports.sections._build import (
    TOTAL,
    counts_shared_with_tables,
    first_where,
    published_ids,
    rows_where,
    table_notes,
    units_by_sex_tables,
)
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView, count_cell

TIMING, NEED, STRATEGIES, CURVES = "coordination_timing", "coordination_need", "coordination_timing_strategies", "cif_curves"
FIRST_ID = instance_id("tidmodell", "forsta")
CHAIN_ID = instance_id("tidmodell", "kedja")
DOSE_ID = instance_id("tidmodell", "dos")
NEED_MODEL_ID = instance_id("behovsmodell", "modell")
GRADIENT_ID = instance_id("behovsmodell", "gradient")
CONCENTRATION_ID = instance_id("behovsmodell", "koncentration")
GAPS_ID = instance_id("behovsmodell", "skillnader")
UNMET_ID = instance_id("behovsmodell", "ouppfyllt")
UNMET_COUNTS_ID = "ouppfyllt_behov"
STRATEGY_ID = instance_id("strategimodell", "strategier")
FIRST_CURVE_ID = instance_id("tidkurva", "forsta_gc001")
STRATEGY_CURVE_ID = instance_id("tidkurva", "strategier")
FIRST_FIGURE_ID = instance_id("figur_tid_kurva", "forsta_gc001")
GRADIENT_FIGURE_ID = instance_id("figur_behovsgradient", "upptag")
STRATEGY_FIGURE_ID = instance_id("figur_strategier", "atergang")
ALL_IDS = (FIRST_ID, CHAIN_ID, DOSE_ID, NEED_MODEL_ID, GRADIENT_ID, CONCENTRATION_ID, GAPS_ID, UNMET_ID, UNMET_COUNTS_ID,
           STRATEGY_ID, FIRST_CURVE_ID, STRATEGY_CURVE_ID, FIRST_FIGURE_ID, GRADIENT_FIGURE_ID, STRATEGY_FIGURE_ID)

POPULATIONS = ("all", *SEXES)  # everyone, women, men
MAIN = ("all", "sex")  # subgroups of the rows for everyone, women and men
SEX_ADDS_UP = (("sex", "all", tuple(SEXES)),)
CIF_DAYS = (30, 60, 90, 180)
SUPPORT = ("plan_dv077", "plan_followup_aw026", "fk_informed_info4", "fk_meeting_avst", "fk_informed_or_meeting")
UNMET, MET = "utan_koordinering", "med_koordinering"
FIRST_ARM = "first_gc001"
COMPARATOR = "none_within_90"
REGION = "home_region_code"
UNPUBLISHED = ("n_persons", "n_events")


def _read(inputs, table: str) -> pd.DataFrame | None:
    return results_table(inputs, table)


def _population_title(population: object) -> str:
    return "Samtliga" if str(population) == "all" else SEX_PLURAL_SV.get(str(population), str(population))


# --- collect --------------------------------------------------------------------------------------


def _model(key: str, rows: pd.DataFrame, output_id: str, **options) -> ModelOutput:
    options.setdefault("unpublished_columns", UNPUBLISHED)
    return ModelOutput(declaration(key), rows, output_id=output_id, **options)


def _unmet_tables(shares: pd.DataFrame) -> tuple[dict, list]:
    """High-need spells without and with coordination per region and population, from the unmet shares."""
    return units_by_sex_tables(shares[shares["subgroup"] == REGION], UNMET_COUNTS_ID, UNMET, MET, POPULATIONS)


def _unmet_shared(shares: pd.DataFrame, tables: dict) -> tuple[SharedCount, ...]:
    """Each share's unmet (``n_events``) and high-need spells (``n_spells``) as the count table's cells, when equal."""
    return counts_shared_with_tables(shares, tables, UNMET_COUNTS_ID, UNMET,
                                     lambda row: str(row["level"]) if row["subgroup"] == REGION else TOTAL)


def _curve_output(curves: pd.DataFrame | None, analysis_id: str, output_id: str) -> CurveOutput | None:
    if curves is None or "analysis_id" not in curves.columns:
        return None
    d = rows_where(curves, analysis_id=analysis_id, subgroup=MAIN)
    if d.empty:
        return None
    d = d.drop(columns=["analysis_id"])
    groups = tuple(c for c in ("arm", "cause", "sex", "subgroup", "level") if c in d.columns)
    return CurveOutput(declaration("tidkurva"), d, group_columns=groups, output_id=output_id)


def collect(inputs: ReportInputs) -> Sequence[Output]:
    timing, need, strategies = _read(inputs, TIMING), _read(inputs, NEED), _read(inputs, STRATEGIES)
    curves = _read(inputs, CURVES)
    outputs: list[Output] = []
    revealing = {"estimates_reveal_counts": True, "additive_labels": SEX_ADDS_UP}
    if timing is not None:
        first = rows_where(timing, measure=("cif_first_gc001", "median_day_first_gc001"))
        if len(first):
            outputs.append(_model("tidmodell", first, FIRST_ID, label_columns=("measure", "day"), **revealing))
        chain = rows_where(timing, measure=SUPPORT)
        if len(chain):
            outputs.append(_model("tidmodell", chain, CHAIN_ID, label_columns=("measure", "day"), **revealing))
        dose = rows_where(timing, measure="dose_gc001")
        if len(dose):
            outputs.append(_model("tidmodell", dose, DOSE_ID, label_columns=("measure",), **revealing))
        curve = _curve_output(curves, TIMING, FIRST_CURVE_ID)
        if curve is not None:
            outputs += [curve, FigureOutput(declaration("figur_tid_kurva"), (FIRST_CURVE_ID,), FIRST_FIGURE_ID)]
    if need is not None:
        quality = rows_where(need, measure=("need_model_auc", "need_calibration"))
        if len(quality):
            outputs.append(_model("behovsmodell", quality, NEED_MODEL_ID, label_columns=("measure",),
                                  statistic_columns=("predicted",)))
        gradient = rows_where(need, measure="uptake_by_need")
        if len(gradient):
            outputs.append(_model("behovsmodell", gradient, GRADIENT_ID, label_columns=("measure",),
                                  statistic_columns=("predicted",), **revealing))
            outputs.append(FigureOutput(declaration("figur_behovsgradient"), (GRADIENT_ID,), GRADIENT_FIGURE_ID))
        concentration = rows_where(need, measure="concentration_index", subgroup=MAIN)  # per region: in the design only
        if len(concentration):
            outputs.append(_model("behovsmodell", concentration, CONCENTRATION_ID, label_columns=("measure",)))
        gaps = rows_where(need, measure="gap_at_equal_need", subgroup=MAIN)  # national gaps; per region only in the design
        if len(gaps):
            outputs.append(_model("behovsmodell", gaps, GAPS_ID, label_columns=("measure",)))
        shares = rows_where(need, measure="unmet_need", estimand="share")
        if len(shares):
            tables, links = _unmet_tables(shares)
            if tables:
                outputs.append(FrequencyOutput(declaration("ouppfyllt_behov"), tables, output_id=UNMET_COUNTS_ID,
                                               links=tuple(links)))
            outputs.append(_model("behovsmodell", shares, UNMET_ID, label_columns=("measure",),
                                  shared_counts=_unmet_shared(shares, tables), count_columns=("n_spells",),
                                  unpublished_columns=("n_persons",), **revealing))
    if strategies is not None:
        rows = rows_where(strategies, subgroup=MAIN)
        if len(rows):
            # 'horizon' only: a share of 0 % or 100 % then withholds every contrast at its horizon
            outputs.append(_model("strategimodell", rows, STRATEGY_ID, label_columns=("horizon",)))
        curve = _curve_output(curves, STRATEGIES, STRATEGY_CURVE_ID)
        if curve is not None:
            outputs += [curve, FigureOutput(declaration("figur_strategier"), (STRATEGY_CURVE_ID,), STRATEGY_FIGURE_ID)]
    return outputs


# --- render helpers -------------------------------------------------------------------------------


def _population_row(frame: pd.DataFrame | None, population: str, **where: object) -> pd.Series | None:
    """The row of everyone (subgroup 'all') or of women or men (subgroup 'sex')."""
    if population == "all":
        return first_where(frame, sex="all", subgroup="all", **where)
    return first_where(frame, sex=population, subgroup="sex", **where)


def _pct(value: object, decimals: int = 1) -> str:
    return format_percent(scaled(value, 100), decimals)  # type: ignore[arg-type]


def _share_ci(r: pd.Series | None) -> str:
    """``'16,6 % (16,1–17,1)'``; ``..`` when withheld."""
    return format_estimate_interval(r, 1, scale=100, percent=True)


def _points_ci(r: pd.Series | None) -> str:
    """A risk difference in percentage points with its interval: ``'4,3 (2,7 till 6,8)'``."""
    return format_estimate_interval(r, 1, scale=100)


def _ratio_ci(r: pd.Series | None, decimals: int = 2) -> str:
    return format_estimate_interval(r, decimals)


def _day(r: pd.Series | None) -> str:
    return format_number(None if r is None else r["estimate"])


def _day_ci(r: pd.Series | None) -> str:
    return format_estimate_interval(r, 0)


def _diagnostics(r: pd.Series | None) -> dict:
    if r is None or not isinstance(r.get("diagnostics"), str):
        return {}
    try:
        value = json.loads(r["diagnostics"])
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _levels(frame: pd.DataFrame, subgroup: str) -> list[str]:
    levels = list(dict.fromkeys(rows_where(frame, subgroup=subgroup)["level"].astype(str)))
    if subgroup == REGION:
        return sorted(levels, key=lambda c: value_label(REGION, c))
    return levels


# --- tables ---------------------------------------------------------------------------------------


def _first_table(ctx: RenderContext, first: pd.DataFrame) -> TableView:
    header = (HeaderCell("Grupp"), *(HeaderCell(f"Inom {d} dagar (95 % KI)") for d in CIF_DAYS),
              HeaderCell("Mediandag bland koordinerade (95 % KI)"))
    rows = []
    for p in POPULATIONS:
        cells = [DataCell(_share_ci(_population_row(first, p, measure="cif_first_gc001", day=d)), "interval")
                 for d in CIF_DAYS]
        cells.append(DataCell(_day_ci(_population_row(first, p, measure="median_day_first_gc001")), "interval"))
        rows.append(Row(_population_title(p), tuple(cells)))
    out = ctx.get(FIRST_ID)
    return TableView("tabell-tid-forsta", "Andel sjukfall som fått sin första koordineringsinsats (GC001) inom 30, 60, 90 "
                     "och 180 dagar från sjukfallets början, och mediandagen för den första insatsen bland dem som fick en, "
                     "samtliga, kvinnor och män. Sjukfall som pågick dag 14.",
                     (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Kumulativ incidens (Aalen–Johansen) där återgång i arbete och andra sätt att lämna "
                                   "sjukfallet räknas som konkurrerande händelser. Dag 1 är sjukfallets första dag."),
                     published_ids(out))


def _dimension_table(ctx: RenderContext, first: pd.DataFrame, dimensions: Sequence[str], table_id: str, caption: str) -> TableView | None:
    header = (HeaderCell("Grupp"), HeaderCell("Inom 30 dagar"), HeaderCell("Inom 90 dagar (95 % KI)"), HeaderCell("Inom 180 dagar"),
              HeaderCell("Inom 90 dagar, kvinnor"), HeaderCell("Inom 90 dagar, män"), HeaderCell("Mediandag"))
    groups = []
    for dimension in dimensions:
        rows = []
        for level in _levels(rows_where(first, sex="all"), dimension):
            def cif(day: int, sex: str = "all") -> pd.Series | None:
                return first_where(first, sex=sex, subgroup=dimension, level=level, measure="cif_first_gc001", day=day)
            rows.append(Row(value_label(dimension, level), (
                DataCell(_pct(None if cif(30) is None else cif(30)["estimate"]), "percent"),
                DataCell(_share_ci(cif(90)), "interval"),
                DataCell(_pct(None if cif(180) is None else cif(180)["estimate"]), "percent"),
                DataCell(_pct(None if cif(90, "woman") is None else cif(90, "woman")["estimate"]), "percent"),
                DataCell(_pct(None if cif(90, "man") is None else cif(90, "man")["estimate"]), "percent"),
                DataCell(_day(first_where(first, sex="all", subgroup=dimension, level=level, measure="median_day_first_gc001")), "number"),
            )))
        if rows:  # one dimension needs no heading: the caption names it
            groups.append(RowGroup(_dimension_title(dimension) if len(dimensions) > 1 else "", tuple(rows)))
    if not groups:
        return None
    out = ctx.get(FIRST_ID)
    return TableView(table_id, caption, (header,), tuple(groups),
                     table_notes([out], "Kumulativ andel med första GC001 inom dagarna från sjukfallets början; kvinnor och män "
                                   "inom 90 dagar. Mediandag: bland dem i gruppen som fick en första insats."), published_ids(out))


def _dimension_title(dimension: str) -> str:
    return {"age_group": "Åldersgrupp", "start_year": "Startår", "diagnosis_group": "Diagnosgrupp",
            REGION: "Hemregion"}.get(dimension, dimension)


def _chain_table(ctx: RenderContext, chain: pd.DataFrame) -> TableView:
    header = (HeaderCell("Stöd efter första GC001"), HeaderCell("Inom dagar"),
              *(HeaderCell(f"{_population_title(p)} (95 % KI)") for p in POPULATIONS))
    rows = []
    for measure in SUPPORT:
        r = {p: _population_row(chain, p, measure=measure) for p in POPULATIONS}
        day = next((x["day"] for x in r.values() if x is not None and not is_missing(x["day"])), None)
        rows.append(Row(TIMING_MEASURE_SV[measure][:1].upper() + TIMING_MEASURE_SV[measure][1:],
                        (DataCell(format_number(day), "number"), *(DataCell(_share_ci(r[p]), "interval") for p in POPULATIONS))))
    out = ctx.get(CHAIN_ID)
    return TableView("tabell-tid-kedja", "Stödkedjan: andel koordinerade sjukfall med respektive stöd inom angivet antal dagar "
                     "från den första koordineringsinsatsen, samtliga, kvinnor och män.",
                     (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Kumulativ incidens räknad från dagen för första GC001; stöd samma dag eller före räknas "
                                   "som givet direkt. Sjukfall som avslutas först räknas som konkurrerande händelse."),
                     published_ids(out))


def _chain_region_table(ctx: RenderContext, chain: pd.DataFrame) -> TableView | None:
    levels = _levels(rows_where(chain, sex="all"), REGION)
    if not levels:
        return None
    header = (HeaderCell("Hemregion"), HeaderCell("Plan inom 30 dagar"),
              *(HeaderCell(f"FK informerad eller möte inom 90 dagar, {SEX_SINGULAR_SV[p]}") for p in POPULATIONS))
    rows = []
    for level in levels:
        plan = first_where(chain, sex="all", subgroup=REGION, level=level, measure="plan_dv077")
        fk = [first_where(chain, sex=p, subgroup=REGION, level=level, measure="fk_informed_or_meeting") for p in POPULATIONS]
        rows.append(Row(value_label(REGION, level), (DataCell(_pct(None if plan is None else plan["estimate"]), "percent"),
                                                     *(DataCell(_pct(None if r is None else r["estimate"]), "percent") for r in fk))))
    out = ctx.get(CHAIN_ID)
    return TableView("tabell-tid-kedja-regioner", "Stödkedjan per hemregion: rehabiliteringsplan (DV077) inom 30 dagar "
                     "(samtliga) och Försäkringskassan informerad eller avstämningsmöte inom 90 dagar från första GC001.",
                     (header,), (RowGroup("", tuple(rows)),), table_notes([out]), published_ids(out))


def _dose_table(ctx: RenderContext, dose: pd.DataFrame) -> TableView | None:
    shares = rows_where(dose, estimand="share", subgroup="dose")
    levels = list(dict.fromkeys(shares["level"].astype(str)))
    if not levels:
        return None
    header = (HeaderCell("Antal GC001 per koordinerat sjukfall"), *(HeaderCell(_population_title(p)) for p in POPULATIONS))
    rows = [Row(level, tuple(DataCell(_pct(None if (r := first_where(shares, sex=p, level=level)) is None else r["estimate"]), "percent")
                             for p in POPULATIONS)) for level in levels]
    for estimand, label in (("median", "Median (95 % KI)"), ("mean", "Medelvärde (95 % KI)")):
        cells = []
        for p in POPULATIONS:
            r = _population_row(dose, p, estimand=estimand)
            cells.append(DataCell(_ratio_ci(r, 0 if estimand == "median" else 1), "interval"))
        rows.append(Row(label, tuple(cells), "total"))
    out = ctx.get(DOSE_ID)
    return TableView("tabell-tid-dos", "Antal koordineringskontakter (GC001) per koordinerat sjukfall: fördelning, median "
                     "och medelvärde, samtliga, kvinnor och män.", (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Antalet växer med uppföljningstiden: långa eller pågående sjukfall hinner få fler kontakter."),
                     published_ids(out))


def _gradient_table(ctx: RenderContext, gradient: pd.DataFrame) -> TableView:
    header = (HeaderCell("Behovsdecil"), HeaderCell("Förväntad andel långa sjukfall"),
              *(HeaderCell(f"{_population_title(p)}: koordinerade inom 90 dagar (95 % KI)") for p in POPULATIONS))
    rows = []
    for level in dict.fromkeys(rows_where(gradient, sex="all")["level"].astype(str)):
        everyone = first_where(gradient, sex="all", level=level)
        predicted = None if everyone is None or "predicted" not in everyone.index else everyone["predicted"]
        rows.append(Row(need_group_label(level), (DataCell(_pct(predicted, 0), "percent"),
                                                  *(DataCell(_share_ci(first_where(gradient, sex=p, level=level)), "interval")
                                                    for p in POPULATIONS))))
    out = ctx.get(GRADIENT_ID)
    return TableView("tabell-behov-gradient", "Andel koordinerade inom 90 dagar per behovsdecil, samtliga, kvinnor och män.",
                     (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Behovsdecil: sjukfallen som pågick dag 14 ordnade efter behovsmodellens förutsagda "
                                   "sannolikhet att sjukfallet varar längre än 90 dagar, i tio lika stora grupper (samma "
                                   "gränser för kvinnor och män). Förväntad andel: gruppens genomsnittliga förutsagda "
                                   "sannolikhet."), published_ids(out))


def _gap_table(ctx: RenderContext, gaps: pd.DataFrame) -> TableView:
    header = (HeaderCell("Jämförelse och grupp"), HeaderCell("Oddskvot (95 % KI)"), HeaderCell("Skillnad, procentenheter (95 % KI)"))
    groups = []
    for term, (title, _) in NEED_GAP_SV.items():
        rows = []
        for p in POPULATIONS:
            odds = _population_row(gaps, p, term=term, estimand="odds_ratio")
            diff = _population_row(gaps, p, term=term, estimand="risk_difference")
            if odds is None and diff is None:
                continue
            rows.append(Row(_population_title(p), (DataCell(_ratio_ci(odds), "interval"), DataCell(_points_ci(diff), "interval"))))
        if rows:
            groups.append(RowGroup(title, tuple(rows)))
    out = ctx.get(GAPS_ID)
    return TableView("tabell-behov-skillnader", "Skillnader i koordinering inom 90 dagar vid lika behov.", (header,), tuple(groups),
                     table_notes([out], "Jämförelsen görs mellan sjukfall med samma förutsagda behov (logistisk modell med behovet "
                                   "som flexibel kurva). Oddskvot över 1 och positiv skillnad: den först nämnda gruppen får "
                                   "oftare koordinering vid samma behov."), published_ids(out))


def _unmet_table(ctx: RenderContext, unmet: pd.DataFrame) -> TableView | None:
    counts = ctx.get(UNMET_COUNTS_ID)
    tables = {} if counts is None or counts.is_blocked else {k: counts.table(k) for k in counts.table_keys}
    levels = _levels(rows_where(unmet, sex="all"), REGION)
    if not levels:
        return None
    header = (HeaderCell("Hemregion", rowspan=2), *(HeaderCell(_population_title(p), colspan=3, scope="colgroup") for p in POPULATIONS))
    sub = tuple(h for _ in POPULATIONS for h in (HeaderCell("Stort behov"), HeaderCell("Utan koordinering"), HeaderCell("Andel utan")))
    rows = []
    for level in [*levels, TOTAL]:
        cells = []
        for p in POPULATIONS:
            table = tables.get(p)
            r = (first_where(unmet, sex=p, subgroup=REGION, level=level) if level != TOTAL else _population_row(unmet, p))
            in_table = table is not None and level in table.index
            cells += [count_cell(table.at[level, TOTAL] if in_table else None),
                      count_cell(table.at[level, UNMET] if in_table else None),
                      DataCell(_pct(None if r is None else r["estimate"]), "percent")]
        rows.append(Row("Riket" if level == TOTAL else value_label(REGION, level), tuple(cells), "total" if level == TOTAL else ""))
    out = ctx.get(UNMET_ID)
    return TableView("tabell-behov-ouppfyllt", "Sjukfall med stort behov (de tre högsta behovsdecilerna) och av dem de som inte "
                     "fått någon koordineringsinsats inom 90 dagar, per hemregion, samtliga, kvinnor och män.",
                     (header, sub), (RowGroup("", tuple(rows)),), table_notes([out, counts]), published_ids(out, counts))


def _strategy_table(ctx: RenderContext, strategies: pd.DataFrame) -> TableView | None:
    """Per population, horizon and strategy: the share back at work, and the difference and ratio against none within 90 days."""
    risks = rows_where(strategies, estimand="cumulative_incidence")
    arms = list(dict.fromkeys(risks["term"].astype(str)))
    if not arms:
        return None
    header = (HeaderCell("Uppföljning och strategi"), HeaderCell("Åter i arbete (95 % KI)"),
              HeaderCell("Skillnad mot ingen inom 90 dagar, procentenheter (95 % KI)"),
              HeaderCell("Riskkvot (95 % KI)"), HeaderCell("Diagnostik"))
    groups = []
    for p in POPULATIONS:
        rows = []
        for horizon in dict.fromkeys(risks["horizon"].astype(str)):
            for arm in arms:
                risk = _population_row(risks, p, term=arm, horizon=horizon)
                where = {"term": f"{arm}_vs_{COMPARATOR}", "horizon": horizon}
                diff = _population_row(strategies, p, estimand="risk_difference", **where)
                ratio = _population_row(strategies, p, estimand="risk_ratio", **where)
                verdict = "" if diff is None else ("godkänd" if _passes(diff) else "ej godkänd")
                rows.append(Row(f"Dag {format_number(float(horizon))}, {_short_strategy(arm)}", (
                    DataCell(_share_ci(risk), "interval"),
                    DataCell(_points_ci(diff) if arm != COMPARATOR else "referens", "interval"),
                    DataCell(_ratio_ci(ratio) if arm != COMPARATOR else "1,00", "interval"),
                    DataCell(verdict, "flag", numeric=False)), "total" if arm == COMPARATOR else ""))
        groups.append(RowGroup(_population_title(p), tuple(rows)))
    out = ctx.get(STRATEGY_ID)
    return TableView("tabell-strategier", "Andel åter i arbete vid dag 180 och 365 från sjukfallets början per strategi för när "
                     "den första koordineringsinsatsen ges, och skillnaden mot ingen koordinering inom 90 dagar, samtliga, "
                     "kvinnor och män.", (header,), tuple(groups),
                     table_notes([out], "Emulerade strategier (klona–censurera–vikta) bland sjukfall som pågick dag 14 utan "
                                   "koordinering dessförinnan; 95 % bootstrapintervall.",
                            "Diagnostik: om jämförelsen klarar gränserna för balans, positivitet, händelser per arm och "
                            "styrka. En skillnad som inte är godkänd redovisas men är osäker och tolkas inte."), published_ids(out))


def _lower_first(text: str) -> str:
    """``'Depression (F32–F33)' -> 'depression (F32–F33)'``: mid-sentence, codes keep their case."""
    return text[:1].lower() + text[1:]


def _short_strategy(arm: str) -> str:
    """``'by_day_30' -> 'senast dag 30'``: the strategy without its common first words, for table rows and lists."""
    return strategy_label(arm).replace("Första koordinering ", "").lower()


def _passes(r: pd.Series | None) -> bool:
    return r is not None and _diagnostics(r).get("passes") is True


# --- texts ----------------------------------------------------------------------------------------


def _texts(ctx: RenderContext, first, chain, dose, quality, concentration, gaps, unmet, strategies) -> dict:
    """The numbers quoted in the running text, each cited from its checked output."""
    t: dict = dict.fromkeys(("cif", "cif90_sex", "median", "diagnosis_range", "region_range", "dose_median", "auc",
                             "auc_horizon", "slope", "concentration", "concentration_above_zero", "concentration_sex",
                             "unmet", "unmet_sex", "unmet_range"))
    t.update(chain=[], gaps=[], strategies=[])
    if first is not None:
        cif = {(p, d): _population_row(first, p, measure="cif_first_gc001", day=d) for p in POPULATIONS for d in CIF_DAYS}
        if all(cif[("all", d)] is not None and not is_missing(cif[("all", d)]["estimate"]) for d in (30, 90, 180)):
            t["cif"] = {d: ctx.cite(FIRST_ID, f"Tid: andel med första GC001 inom {d} dagar, samtliga", _pct(cif[("all", d)]["estimate"]))
                        for d in (30, 90, 180)}
            t["cif90_sex"] = [(SEX_SINGULAR_SV[s], ctx.cite(FIRST_ID, f"Tid: andel inom 90 dagar, {SEX_SINGULAR_SV[s]}",
                                                            _share_ci(cif[(s, 90)])))
                              for s in SEXES if cif[(s, 90)] is not None and not is_missing(cif[(s, 90)]["estimate"])]
        median = _population_row(first, "all", measure="median_day_first_gc001")
        if median is not None and not is_missing(median["estimate"]):
            t["median"] = ctx.cite(FIRST_ID, "Tid: mediandag för första GC001, samtliga", _day(median))
        d90 = rows_where(first, sex="all", subgroup="diagnosis_group", measure="cif_first_gc001", day=90)
        d90 = d90[d90["estimate"].notna()]
        if len(d90) >= 2:
            hi, lo = d90.loc[d90["estimate"].astype(float).idxmax()], d90.loc[d90["estimate"].astype(float).idxmin()]
            t["diagnosis_range"] = (
                ctx.cite(FIRST_ID, "Tid: högst andel inom 90 dagar, diagnosgrupp",
                         f"{_lower_first(value_label('diagnosis_group', hi['level']))} ({_pct(hi['estimate'])})"),
                ctx.cite(FIRST_ID, "Tid: lägst andel inom 90 dagar, diagnosgrupp",
                         f"{_lower_first(value_label('diagnosis_group', lo['level']))} ({_pct(lo['estimate'])})"))
        r90 = rows_where(first, sex="all", subgroup=REGION, measure="cif_first_gc001", day=90)
        r90 = r90[r90["estimate"].notna()]
        if len(r90) >= 2:
            t["region_range"] = (
                ctx.cite(FIRST_ID, "Tid: lägst andel inom 90 dagar, hemregion",
                         f"{_pct(r90['estimate'].astype(float).min())}"),
                ctx.cite(FIRST_ID, "Tid: högst andel inom 90 dagar, hemregion",
                         f"{_pct(r90['estimate'].astype(float).max())}"))
    if chain is not None:
        t["chain"] = []
        for measure in ("plan_dv077", "fk_informed_or_meeting"):
            r = {p: _population_row(chain, p, measure=measure) for p in POPULATIONS}
            if r["all"] is None or is_missing(r["all"]["estimate"]):
                continue
            t["chain"].append({
                "label": TIMING_MEASURE_SV[measure], "day": format_number(r["all"]["day"]),
                "all": ctx.cite(CHAIN_ID, f"Stödkedja: {TIMING_MEASURE_SV[measure]}, samtliga", _pct(r["all"]["estimate"])),
                "sex": [(SEX_SINGULAR_SV[s], ctx.cite(CHAIN_ID, f"Stödkedja: {TIMING_MEASURE_SV[measure]}, {SEX_SINGULAR_SV[s]}",
                                                      _pct(r[s]["estimate"])))
                        for s in SEXES if r[s] is not None and not is_missing(r[s]["estimate"])],
            })
    if dose is not None:
        median = _population_row(dose, "all", estimand="median")
        if median is not None and not is_missing(median["estimate"]):
            t["dose_median"] = ctx.cite(DOSE_ID, "Dos: median antal GC001 per koordinerat sjukfall", format_number(median["estimate"]))
    if quality is not None:
        auc = rows_where(quality, sex="all", subgroup="all", estimand="auc")
        auc = auc[auc["estimate"].notna()]
        if len(auc):
            r = auc.iloc[0]
            t["auc"] = ctx.cite(NEED_MODEL_ID, "Behov: behovsmodellens AUC, samtliga", _ratio_ci(r))
            t["auc_horizon"] = str(r["term"]).replace("need_", "")
            slope = first_where(quality, sex="all", subgroup="all", estimand="calibration_slope", term=r["term"])
            if slope is not None and not is_missing(slope["estimate"]):
                t["slope"] = ctx.cite(NEED_MODEL_ID, "Behov: kalibreringslutning, samtliga", _ratio_ci(slope))
    if concentration is not None:
        ci = {p: _population_row(concentration, p, estimand="concentration_index") for p in POPULATIONS}
        if ci["all"] is not None and not is_missing(ci["all"]["estimate"]):
            low = ci["all"]["conf_low"]
            t["concentration"] = ctx.cite(CONCENTRATION_ID, "Behov: koncentrationsindex, samtliga", _ratio_ci(ci["all"], 3))
            t["concentration_above_zero"] = not is_missing(low) and float(low) > 0
            t["concentration_sex"] = [(SEX_SINGULAR_SV[s], ctx.cite(CONCENTRATION_ID, f"Behov: koncentrationsindex, {SEX_SINGULAR_SV[s]}",
                                                                    _ratio_ci(ci[s], 3)))
                                      for s in SEXES if ci[s] is not None and not is_missing(ci[s]["estimate"])]
    if gaps is not None:
        t["gaps"] = []
        for term, (_, words) in NEED_GAP_SV.items():
            odds = _population_row(gaps, "all", term=term, estimand="odds_ratio")
            diff = _population_row(gaps, "all", term=term, estimand="risk_difference")
            if odds is None or is_missing(odds["estimate"]):
                continue
            lo, hi = odds["conf_low"], odds["conf_high"]
            sure = not is_missing(lo) and not is_missing(hi) and (float(lo) > 1 or float(hi) < 1)
            t["gaps"].append({"words": words, "sure": sure,
                              "odds": ctx.cite(GAPS_ID, f"Behov: oddskvot vid lika behov, {words}", _ratio_ci(odds)),
                              "diff": None if diff is None or is_missing(diff["estimate"]) else
                              ctx.cite(GAPS_ID, f"Behov: skillnad vid lika behov, {words}", _points_ci(diff))})
    if unmet is not None:
        r = {p: _population_row(unmet, p) for p in POPULATIONS}
        if r["all"] is not None and not is_missing(r["all"]["estimate"]):
            t["unmet"] = ctx.cite(UNMET_ID, "Ouppfyllt behov: andel utan koordinering, riket", _share_ci(r["all"]))
            t["unmet_sex"] = [(SEX_SINGULAR_SV[s], ctx.cite(UNMET_ID, f"Ouppfyllt behov: andel, {SEX_SINGULAR_SV[s]}", _pct(r[s]["estimate"])))
                              for s in SEXES if r[s] is not None and not is_missing(r[s]["estimate"])]
        regional = rows_where(unmet, sex="all", subgroup=REGION)
        regional = regional[regional["estimate"].notna()]
        if len(regional) >= 2:
            lo = regional.loc[regional["estimate"].astype(float).idxmin()]
            hi = regional.loc[regional["estimate"].astype(float).idxmax()]
            t["unmet_range"] = (
                ctx.cite(UNMET_ID, "Ouppfyllt behov: lägst andel, hemregion", f"{value_label(REGION, lo['level'])} ({_pct(lo['estimate'])})"),
                ctx.cite(UNMET_ID, "Ouppfyllt behov: högst andel, hemregion", f"{value_label(REGION, hi['level'])} ({_pct(hi['estimate'])})"))
    if strategies is not None:
        t["strategies"] = _strategy_texts(ctx, strategies)
    return t


def _strategy_texts(ctx: RenderContext, strategies: pd.DataFrame) -> list[dict]:
    """Per population and horizon: each strategy against none within 90 days, sorted into findings and the uncertain.

    A difference is a finding (higher or lower) only when its diagnostics pass and its interval
    excludes 0; with passing diagnostics and an interval across 0 it is "no sure difference";
    with failing diagnostics it is uncertain, whatever its interval.
    """
    out = []
    for p in POPULATIONS:
        for horizon in dict.fromkeys(rows_where(strategies, estimand="risk_difference")["horizon"].astype(str)):
            kinds: dict[str, list[str]] = {"higher": [], "lower": [], "none": [], "uncertain": []}
            terms = dict.fromkeys(rows_where(strategies, estimand="risk_difference", horizon=horizon)["term"].astype(str))
            for term in (t for t in terms if t.endswith(f"_vs_{COMPARATOR}")):
                r = _population_row(strategies, p, term=term, estimand="risk_difference", horizon=horizon)
                if r is None or is_missing(r["estimate"]):
                    continue
                arm = term.split("_vs_")[0]
                day = format_number(float(horizon))
                where = f"Strategier: {strategy_label(arm).lower()} mot ingen inom 90 dagar, dag {day}, {SEX_SINGULAR_SV[p]}"
                low, high = float(r["conf_low"]), float(r["conf_high"])
                kind = ("uncertain" if not _passes(r) else "higher" if low > 0 else "lower" if high < 0 else "none")
                kinds[kind].append(f"{_short_strategy(arm)} "
                                   f"({ctx.cite(STRATEGY_ID, where, _points_ci(r))})")
            if any(kinds.values()):
                out.append({"population": _population_title(p), "horizon": format_number(float(horizon)), **kinds})
    return out


# --- render ---------------------------------------------------------------------------------------


def render(ctx: RenderContext) -> Markup:
    if not any(ctx.get(i) is not None for i in ALL_IDS):
        return ctx.render("sections/timing.html.j2", missing=True)
    first, chain, dose = ctx.summary(FIRST_ID), ctx.summary(CHAIN_ID), ctx.summary(DOSE_ID)
    quality, gradient = ctx.summary(NEED_MODEL_ID), ctx.summary(GRADIENT_ID)
    concentration, gaps, unmet = ctx.summary(CONCENTRATION_ID), ctx.summary(GAPS_ID), ctx.summary(UNMET_ID)
    strategies = ctx.summary(STRATEGY_ID)
    figures = {}
    curve, figure = ctx.get(FIRST_CURVE_ID), ctx.get(FIRST_FIGURE_ID)
    if curve is not None and figure is not None and not figure.is_blocked and not curve.is_blocked:
        figures["first"] = incidence_lines_figure(
            figure, curve, figure_id="figur-tid-forsta", line_column="sex", line_label=_population_title,
            lines_sv="samtliga, kvinnor och män", outcome_sv="första koordineringsinsats", where={"arm": FIRST_ARM},
            max_day=365, marks=(90,),
            caption="Figur. Andel sjukfall som fått sin första koordineringsinsats (GC001), efter dagar sedan sjukfallets "
                    "början, samtliga, kvinnor och män, med 95 % konfidensband. Sjukfall som pågick dag 14; återgång i arbete "
                    "och andra avslut räknas som konkurrerande händelser. Den prickade linjen är dag 90, lagens avsikt.")
    figure = ctx.get(GRADIENT_FIGURE_ID)
    if gradient is not None and figure is not None and not figure.is_blocked:
        rows = rows_where(gradient, sex=POPULATIONS)
        figures["gradient"] = gradient_figure(
            figure, ctx.get(GRADIENT_ID), figure_id="figur-behov-gradient", rows=rows, x_column="level",
            x_label=lambda g: str(g), series_column="sex", series_label=_population_title,
            x_axis_sv="Behovsdecil (1 = minst, 10 = störst risk för långt sjukfall)",
            y_axis_sv="Koordinerade inom 90 dagar",
            caption="Figur. Andel som fått koordinering inom 90 dagar, efter behov, samtliga, kvinnor och män, med 95 % "
                    "konfidensintervall. Behov är den förutsagda sannolikheten att ett sjukfall som pågår dag 14 varar längre "
                    "än 90 dagar, skattad ur det som är känt dag 14 (ålder, kön, diagnos, sysselsättning, utbildning, "
                    "födelseregion, tidigare sjukskrivning, sjukskrivningens omfattning och startår). Decil 10 är den "
                    "tiondel med störst risk.")
    curve, figure = ctx.get(STRATEGY_CURVE_ID), ctx.get(STRATEGY_FIGURE_ID)
    if curve is not None and figure is not None and not figure.is_blocked and not curve.is_blocked:
        figures["strategies"] = incidence_lines_figure(
            figure, curve, figure_id="figur-strategier", panel_column="sex", panel_label=_population_title,
            line_column="arm", line_label=strategy_label, lines_sv="strategierna", outcome_sv="återgång i arbete",
            max_day=365,
            caption="Figur. Andel åter i arbete efter dagar sedan sjukfallets början under varje strategi för när den första "
                    "koordineringsinsatsen ges, samtliga, kvinnor och män (emulerade strategier med viktning; skuggat: 95 % "
                    "konfidensband). Kurvorna visar samband under modellens antaganden, inte säkert orsak och verkan.")
    tables = {
        "first": _first_table(ctx, first) if first is not None else None,
        "diagnosis": _dimension_table(ctx, first, ("diagnosis_group",), "tabell-tid-diagnos",
                                      "Första koordineringsinsatsen per diagnosgrupp.") if first is not None else None,
        "region": _dimension_table(ctx, first, (REGION,), "tabell-tid-region",
                                   "Första koordineringsinsatsen per hemregion (regioner i bokstavsordning).") if first is not None else None,
        "other": _dimension_table(ctx, first, ("age_group", "start_year"), "tabell-tid-ovriga",
                                  "Första koordineringsinsatsen per åldersgrupp och startår.") if first is not None else None,
        "chain": _chain_table(ctx, chain) if chain is not None else None,
        "chain_region": _chain_region_table(ctx, chain) if chain is not None else None,
        "dose": _dose_table(ctx, dose) if dose is not None else None,
        "gradient": _gradient_table(ctx, gradient) if gradient is not None else None,
        "gaps": _gap_table(ctx, gaps) if gaps is not None else None,
        "unmet": _unmet_table(ctx, unmet) if unmet is not None else None,
        "strategies": _strategy_table(ctx, strategies) if strategies is not None else None,
    }
    blocked = [c for c in (ctx.get(i) for i in ALL_IDS) if c is not None and c.is_blocked]
    text = _texts(ctx, first, chain, dose, quality, concentration, gaps, unmet, strategies)
    ctx.findings["tid_och_behov"] = text
    return ctx.render("sections/timing.html.j2", missing=False, figures=figures, tables=tables, text=text, blocked=blocked,
                      has_need=any(x is not None for x in (quality, gradient, concentration, gaps, unmet)),
                      has_strategies=strategies is not None)


SECTION = register(Section("tid_och_behov", "Behovsprövad och snabb insats?", 67, collect, render))
