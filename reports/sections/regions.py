"""Section: differences between the 21 regions (mandate question 2): uptake of coordination, return to work, variation.

Reads the results tables `koord analyse` writes for the regions (``region_uptake``,
``region_rtw``, ``region_variation``; their rows are kept out of the association's chapters by
`reports.sections._results.OWN_CHAPTER_TABLES`). What it publishes, all through disclosure control:

``regioner_upptag`` (frequency)
    Spells still followed at day 14 and of them coordinated within 90 days, per home region,
    for women, men and everyone: one table per population with margins (the national total is
    the sum of the regions) and linked equations everyone = women + men, so secondary
    suppression and the audit hold across regions and sexes.
``regionmodell:upptag`` (model)
    Observed, expected and standardised shares, observed/expected (O/E) with funnel limits,
    and the shrunken O/E with ranks. Its spells and coordinated are the frequency table's
    cells (`SharedCount`); its estimates give those counts back (share × spells, O/E ×
    expected), so a withheld count withholds the region's estimates, and an estimate the
    model rules withhold withholds the counts.
``regionmodell:skillnader``
    Gaps within regions (odds ratios women/men, born abroad/in Sweden, low/high education)
    with Holm's correction; the events behind each arm are checked (``events_per_arm``), no
    counts are published.
``regionmodell:atergang``
    Return to work per region: shares at 90 and 180 days and O/E of the rate, shrunken O/E
    with ranks; no counts are published, and a withheld region is complemented across
    regions and across women, men and everyone.
``regionmodell:variation``
    Variance, median odds/rate ratio, ICC and the proportional change in variance; no counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
from markupsafe import Markup

from data_schemas.tables import SEXES
from reports.disclosure import CheckedOutput, FigureOutput, FrequencyOutput, ModelOutput, Output, SharedCount
from reports.figures import funnel_figure, tile_map_figure
from reports.formatting import NOT_APPLICABLE, format_interval, format_number, format_percent, format_ratio, is_missing, scaled, format_estimate_interval
from reports.inputs import ReportInputs
from reports.labels import REGION_GAP_SV, SEX_PLURAL_SV, SEX_SINGULAR_SV, region_letter, value_label
from reports.outputs import declaration, instance_id
from reports.sections._results import results_table
from reports.sections import RenderContext, Section, register
from reports.sections._build import TOTAL, counts_shared_with_tables, units_by_sex_tables
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView, count_cell

UPTAKE, RTW, VARIATION = "region_uptake", "region_rtw", "region_variation"
COUNTS_ID = "regioner_upptag"
UPTAKE_ID = instance_id("regionmodell", "upptag")
GAPS_ID = instance_id("regionmodell", "skillnader")
RTW_ID = instance_id("regionmodell", "atergang")
VARIATION_ID = instance_id("regionmodell", "variation")
FUNNEL_ID = instance_id("figur_tratt", "upptag")
MAP_ID = instance_id("figur_regionkarta", "upptag")

POPULATIONS = ("all", *SEXES)  # everyone, women, men
COORDINATED, NOT_COORDINATED = "koordinerad", "ej_koordinerad"
NATIONAL = "all"  # level of the national rows
REGION_ESTIMANDS = ("observed_share", "expected_share", "observed_expected_ratio", "standardised_share",
                    "shrunken_observed_expected_ratio")
GAP_TERMS = tuple(REGION_GAP_SV)
FUNNEL_COLUMNS = ("expected", "funnel_low_95", "funnel_high_95", "funnel_low_95_poisson", "funnel_high_95_poisson",
                  "funnel_low_998", "funnel_high_998", "funnel_low_998_poisson", "funnel_high_998_poisson")
FLAG_COLUMNS = ("outside_95", "outside_998", "is_possibly_under_reporting")
RANK_COLUMNS = ("median_rank", "rank_low", "rank_high")
LABELS = ("start_year", "measure")
SEX_ADDS_UP = (("sex", "all", tuple(SEXES)),)

# Tiles of the map: (column, row), row 0 at the top (north). Approximates Sweden's geography.
TILE_LAYOUT: dict[str, tuple[int, int]] = {
    "25": (3, 0),
    "24": (2, 1),
    "23": (1, 2), "22": (2, 2),
    "20": (1, 3), "21": (2, 3),
    "17": (0, 4), "18": (1, 4), "19": (2, 4), "03": (3, 4),
    "14": (0, 5), "05": (1, 5), "04": (2, 5), "01": (3, 5),
    "13": (0, 6), "06": (1, 6), "08": (2, 6), "09": (3, 6),
    "07": (1, 7), "10": (2, 7),
    "12": (1, 8),
}


def _region_name(code: object) -> str:
    return "Riket" if str(code) == NATIONAL else value_label("home_region_code", str(code))


def _population_title(population: str) -> str:
    return "Samtliga" if population == "all" else SEX_PLURAL_SV[population]


def _read(inputs, table: str) -> pd.DataFrame | None:
    return results_table(inputs, table)


def _fill_from(frame: pd.DataFrame, column: str, source: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Missing ``column`` taken from ``source``'s row with the same ``keys`` (e.g. persons of a region's share row)."""
    lookup = source.dropna(subset=[column]).drop_duplicates(list(keys)).set_index(list(keys))[column]
    filled = [row[column] if not is_missing(row[column]) else lookup.get(tuple(row[k] for k in keys))
              for _, row in frame.iterrows()]
    return frame.assign(**{column: pd.array([None if is_missing(v) else int(v) for v in filled], dtype="Int64")})


# --- collect --------------------------------------------------------------------------------------


def _uptake_rows(uptake: pd.DataFrame) -> pd.DataFrame:
    rows = uptake[(uptake["measure"] == "uptake") & (uptake["start_year"].astype(str) == "all")
                  & (uptake["term"] == "home_region") & uptake["estimand"].isin(REGION_ESTIMANDS)]
    shares = rows[rows["estimand"] == "observed_share"]
    return _fill_from(rows.reset_index(drop=True), "n_persons", shares, ("sex", "level"))


def _count_tables(rows: pd.DataFrame) -> tuple[dict, list]:
    """Spells and coordinated per region and population, from the regions' observed-share rows."""
    shares = rows[(rows["estimand"] == "observed_share") & (rows["level"] != NATIONAL)]
    return units_by_sex_tables(shares, COUNTS_ID, COORDINATED, NOT_COORDINATED, POPULATIONS)


def _shared_counts(rows: pd.DataFrame, tables: dict) -> tuple[SharedCount, ...]:
    """Each row's coordinated (``n_events``) and spells (``n_spells``) as the count table's cells, when equal."""
    return counts_shared_with_tables(rows, tables, COUNTS_ID, COORDINATED,
                                     lambda row: TOTAL if row["level"] == NATIONAL else row["level"])


def _gap_rows(uptake: pd.DataFrame) -> pd.DataFrame:
    rows = uptake[(uptake["estimand"] == "odds_ratio") & uptake["term"].isin(GAP_TERMS)
                  & (uptake["start_year"].astype(str) == "all")].reset_index(drop=True)
    shares = uptake[(uptake["estimand"] == "observed_share") & (uptake["start_year"].astype(str) == "all")
                    & (uptake["measure"] == "uptake")]
    rows = _fill_from(rows, "n_persons", shares, ("sex", "level"))
    diagnostics = []
    for _, r in rows.iterrows():
        try:
            d = json.loads(r["diagnostics"]) if isinstance(r["diagnostics"], str) else {}
        except json.JSONDecodeError:
            d = {}
        if not isinstance(d, dict):
            d = {}
        if all(not is_missing(r.get(c)) for c in ("share_level", "n_spells_level", "share_reference", "n_spells_reference")):
            # The events (and non-events) in each compared arm: an odds ratio rests on both.
            arms = {}
            for arm in ("level", "reference"):
                n, share = float(r[f"n_spells_{arm}"]), float(r[f"share_{arm}"])
                arms[arm] = int(round(min(share, 1 - share) * n))
            d["events_per_arm"] = arms
        diagnostics.append(json.dumps(d, ensure_ascii=False))
    return rows.assign(diagnostics=diagnostics)


def _rtw_rows(rtw: pd.DataFrame) -> pd.DataFrame:
    rows = rtw[rtw["start_year"].astype(str) == "all"].reset_index(drop=True)
    source = rows[rows["estimand"] == "observed_expected_ratio"]
    return _fill_from(rows, "n_persons", source, ("sex", "level", "measure"))


def _variation_rows(variation: pd.DataFrame, uptake: pd.DataFrame | None, rtw: pd.DataFrame | None) -> pd.DataFrame:
    """Variation measures with the persons and events of the national population they describe (for the rules)."""
    rows = variation.reset_index(drop=True).copy()
    national = []
    for frame, measures in ((uptake, {"uptake": "uptake", "coordination_rate": "uptake"}),
                            (rtw, {"share_90": "share_90", "share_180": "share_180", "rate": "share_90"})):
        if frame is None:
            continue
        n = frame[(frame["level"] == NATIONAL) & (frame["estimand"] == "observed_share") & (frame["start_year"].astype(str) == "all")]
        for target, source in measures.items():
            for _, r in n[n["measure"] == source].iterrows():
                national.append({"sex": r["sex"], "measure": target, "n_persons": r["n_persons"], "n_events": r["n_events"]})
    national_frame = pd.DataFrame(national, columns=["sex", "measure", "n_persons", "n_events"])
    same_fit = rows.dropna(subset=["n_events"])[["sex", "measure", "start_year", "n_events"]]
    rows = _fill_from(rows, "n_events", same_fit, ("sex", "measure", "start_year"))
    rows = _fill_from(rows, "n_events", national_frame, ("sex", "measure"))
    return _fill_from(rows, "n_persons", national_frame, ("sex", "measure"))


def collect(inputs: ReportInputs) -> Sequence[Output]:
    uptake, rtw, variation = _read(inputs, UPTAKE), _read(inputs, RTW), _read(inputs, VARIATION)
    outputs: list[Output] = []
    if uptake is not None:
        rows = _uptake_rows(uptake)
        tables, links = _count_tables(rows)
        if tables:
            outputs.append(FrequencyOutput(declaration(COUNTS_ID), tables, output_id=COUNTS_ID, links=tuple(links)))
        outputs.append(ModelOutput(
            declaration("regionmodell"), rows, output_id=UPTAKE_ID, shared_counts=_shared_counts(rows, tables),
            label_columns=LABELS, statistic_columns=(*FUNNEL_COLUMNS, *FLAG_COLUMNS, *RANK_COLUMNS),
            count_columns=("n_spells",), unpublished_columns=("n_persons",), estimates_reveal_counts=True,
        ))
        outputs.append(FigureOutput(declaration("figur_tratt"), source_ids=(UPTAKE_ID,), output_id=FUNNEL_ID))
        outputs.append(FigureOutput(declaration("figur_regionkarta"), source_ids=(UPTAKE_ID,), output_id=MAP_ID))
        gaps = _gap_rows(uptake)
        if len(gaps):
            outputs.append(ModelOutput(
                declaration("regionmodell"), gaps, output_id=GAPS_ID, label_columns=LABELS,
                statistic_columns=("p_holm", "is_significant_holm"), unpublished_columns=("n_persons", "n_events"),
            ))
    if rtw is not None:
        outputs.append(ModelOutput(
            declaration("regionmodell"), _rtw_rows(rtw), output_id=RTW_ID, label_columns=LABELS,
            statistic_columns=("outside_95", "outside_998", *RANK_COLUMNS), unpublished_columns=("n_persons", "n_events"),
            estimates_reveal_counts=True, additive_labels=SEX_ADDS_UP,
        ))
    if variation is not None:
        outputs.append(ModelOutput(
            declaration("regionmodell"), _variation_rows(variation, uptake, rtw), output_id=VARIATION_ID,
            label_columns=LABELS, unpublished_columns=("n_persons", "n_events"),
        ))
    return outputs


# --- render ---------------------------------------------------------------------------------------


def _pick(frame: pd.DataFrame, **where: object) -> pd.DataFrame:
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column].astype(str) == str(value)
    return frame[mask]


def _one(frame: pd.DataFrame | None, **where: object) -> pd.Series | None:
    if frame is None:
        return None
    d = _pick(frame, **where)
    return d.iloc[0] if len(d) else None


def _is_true(value: object) -> bool:
    return not is_missing(value) and bool(value)


def _ratio_ci(r: pd.Series | None) -> str:
    return format_estimate_interval(r)


def _share(value: object) -> str:
    return format_percent(scaled(value, 100))  # type: ignore[arg-type]


def _region_frame(uptake: pd.DataFrame, population: str) -> pd.DataFrame:
    """One row per region: the shares, O/E with limits and flags, shrunken O/E with ranks; sorted by shrunken O/E."""
    d = _pick(uptake, sex=population)
    d = d[d["level"] != NATIONAL]
    out = []
    for code in dict.fromkeys(d["level"]):
        g = d[d["level"] == code]
        row = {"level": code, "name": _region_name(code)}
        for estimand in REGION_ESTIMANDS:
            e = g[g["estimand"] == estimand]
            row[estimand] = e.iloc[0] if len(e) else None
        out.append(row)
    frame = pd.DataFrame(out)
    if frame.empty:
        return frame
    key = [np.nan if r is None or is_missing(r["estimate"]) else float(r["estimate"])
           for r in frame["shrunken_observed_expected_ratio"]]
    return frame.assign(_key=key).sort_values(["_key", "name"], ascending=[False, True], na_position="last").drop(columns="_key")


def _funnel_panel(uptake: pd.DataFrame, population: str) -> pd.DataFrame:
    d = _pick(uptake, sex=population, estimand="observed_expected_ratio")
    d = d[d["level"] != NATIONAL]
    return d.assign(name=[_region_name(c) for c in d["level"]])


def _region_table(ctx: RenderContext, uptake_out: CheckedOutput, uptake: pd.DataFrame) -> TableView:
    counts = ctx.get(COUNTS_ID)
    count_tables = {} if counts is None or counts.is_blocked else {k: counts.table(k) for k in counts.table_keys}
    quality = "is_possibly_under_reporting" in uptake.columns and uptake["is_possibly_under_reporting"].notna().any()
    header = (HeaderCell("Hemregion"), HeaderCell("Sjukfall"), HeaderCell("Koordi\u00adnerade"), HeaderCell("Observerad andel"),
              HeaderCell("Förväntad andel"), HeaderCell("O/F (95 % KI)"), HeaderCell("Krympt O/F"),
              HeaderCell("Rang (95 % int.)"), HeaderCell("Utanför 99,8 %"),
              *([HeaderCell("Möjlig under\u00adrapportering")] if quality else []))
    groups = []
    for population in POPULATIONS:
        frame = _region_frame(uptake, population)
        if frame.empty:
            continue
        table = count_tables.get(population)
        rows = []
        for _, r in frame.iterrows():
            oe, shrunk, observed = r["observed_expected_ratio"], r["shrunken_observed_expected_ratio"], r["observed_share"]
            spells = table.at[r["level"], TOTAL] if table is not None and r["level"] in table.index else None
            coordinated = table.at[r["level"], COORDINATED] if table is not None and r["level"] in table.index else None
            if shrunk is not None and not is_missing(shrunk["median_rank"]):
                rank = f"{format_number(shrunk['median_rank'])} ({format_number(shrunk['rank_low'])}–{format_number(shrunk['rank_high'])})"
            else:
                rank = format_number(None if shrunk is None else shrunk["median_rank"])
            outside = (format_number(None if oe is None else oe["estimate"]) if oe is None or is_missing(oe["estimate"])
                       else ("ja" if _is_true(oe["outside_998"]) else "nej"))
            under = "ja" if oe is not None and _is_true(oe.get("is_possibly_under_reporting")) else (
                "nej" if oe is not None and not is_missing(oe.get("is_possibly_under_reporting"))
                else format_number(None if oe is None else oe.get("is_possibly_under_reporting")))
            rows.append(Row(r["name"], (
                count_cell(spells), count_cell(coordinated),
                DataCell(_share(None if observed is None else observed["estimate"]), "percent"),
                DataCell(_share(None if r["expected_share"] is None else r["expected_share"]["estimate"]), "percent"),
                DataCell(_ratio_ci(oe), "interval"),
                DataCell(format_ratio(None if shrunk is None else shrunk["estimate"]), "ratio"),
                DataCell(rank, "text"),
                DataCell(outside, "text", numeric=False),
                *([DataCell(under, "text", numeric=False)] if quality else []),
            )))
        national = _one(uptake, sex=population, level=NATIONAL, estimand="observed_share")
        if national is not None and table is not None and TOTAL in table.index:
            rows.append(Row("Riket", (count_cell(table.at[TOTAL, TOTAL]), count_cell(table.at[TOTAL, COORDINATED]),
                                      DataCell(_share(national["estimate"]), "percent"), DataCell(NOT_APPLICABLE, "text"),
                                      DataCell("1,00 (referens)", "text"), DataCell(NOT_APPLICABLE, "text"), DataCell(NOT_APPLICABLE, "text"),
                                      DataCell(NOT_APPLICABLE, "text", False), *([DataCell(NOT_APPLICABLE, "text", False)] if quality else [])), "total"))
        groups.append(RowGroup(_population_title(population), tuple(rows)))
    notes = ["O/F: observerat antal koordinerade delat med det antal som väntas om regionens sjukfall hade fått "
             "koordinering som i hela landet, givet ålder, diagnos och övrig bakgrund (indirekt standardisering); 1 = som "
             "riket. Krympt O/F drar osäkra skattningar mot 1 (empirisk Bayes); rangen 1 är högst, med 95 % intervall.",
             "Utanför 99,8 %: regionen ligger utanför trattdiagrammets 99,8-procentsgräns som tar hänsyn till överspridning.",
             *(["Möjlig underrapportering: få av regionens vårdenheter registrerar GC001, så låga andelar kan bero på "
                "registreringen och inte på färre insatser."] if quality else [])]
    outputs = [uptake_out] + ([counts] if counts is not None and not counts.is_blocked else [])
    return TableView("tabell-regioner-koordinering",
                     "Koordinering inom 90 dagar per hemregion, samtliga, kvinnor och män, ordnade efter krympt O/F "
                     "(högst först). Sjukfall som fortfarande följdes dag 14.",
                     (header,), tuple(groups), tuple(notes), tuple(o.output_id for o in outputs))


def _gap_table(gaps_out: CheckedOutput, gaps: pd.DataFrame) -> TableView:
    header = (HeaderCell("Hemregion"), *(HeaderCell(f"{REGION_GAP_SV[t][0]}, oddskvot (95 % KI)") for t in GAP_TERMS))
    d = _pick(gaps, sex="all")
    codes = sorted((c for c in dict.fromkeys(d["level"]) if c != NATIONAL), key=_region_name)
    rows = []
    for code in [NATIONAL, *codes]:
        cells = []
        for term in GAP_TERMS:
            r = _one(d, level=code, term=term)
            text = _ratio_ci(r)
            if r is not None and _is_true(r.get("is_significant_holm")):
                text += " *"
            cells.append(DataCell(text, "interval"))
        rows.append(Row(_region_name(code), tuple(cells), "total" if code == NATIONAL else ""))
    notes = ["Oddskvoten jämför oddsen för koordinering inom 90 dagar mellan grupperna inom regionen, justerat för ålder "
             "och diagnos; över 1 betyder att den först nämnda gruppen oftare får koordinering.",
             "* = skild från 1 även efter Holms korrektion för att 21 regioner prövas (5 % nivå)."]
    return TableView("tabell-regioner-skillnader", "Skillnader i koordinering inom regionerna, samtliga (regioner i bokstavsordning).",
                     (header,), (RowGroup("", tuple(rows)),), tuple(notes), (gaps_out.output_id,))


def _rtw_table(rtw_out: CheckedOutput, rtw: pd.DataFrame) -> TableView:
    header = (HeaderCell("Hemregion"), HeaderCell("Åter i arbete inom 90 dagar"), HeaderCell("Inom 180 dagar"),
              HeaderCell("O/F, återgång per persontid (95 % KI)"), HeaderCell("Krympt O/F"), HeaderCell("Rang (95 % intervall)"),
              HeaderCell("Utanför 99,8 %"))
    d = _pick(rtw, sex="all")
    shrunken = _pick(d, measure="rate", estimand="shrunken_observed_expected_ratio")["estimate"].dropna().astype(float)
    ranked = len(shrunken) > 1 and float(shrunken.max() - shrunken.min()) >= 0.005
    if not ranked:
        header = header[:4] + header[6:]
    rows = []
    for code in dict.fromkeys(d.loc[d["level"] != NATIONAL, "level"]):
        s90 = _one(d, level=code, measure="share_90", estimand="observed_share")
        s180 = _one(d, level=code, measure="share_180", estimand="observed_share")
        oe = _one(d, level=code, measure="rate", estimand="observed_expected_ratio")
        shrunk = _one(d, level=code, measure="rate", estimand="shrunken_observed_expected_ratio")
        rank = format_number(None if shrunk is None else shrunk["median_rank"]) if shrunk is None or is_missing(shrunk["median_rank"]) else (
            f"{format_number(shrunk['median_rank'])} ({format_number(shrunk['rank_low'])}–{format_number(shrunk['rank_high'])})")
        outside = (format_number(None if oe is None else oe["estimate"]) if oe is None or is_missing(oe["estimate"])
                   else ("ja" if _is_true(oe["outside_998"]) else "nej"))
        sort_by = shrunk if ranked else oe
        cells = (DataCell(_share(None if s90 is None else s90["estimate"]), "percent"),
                 DataCell(_share(None if s180 is None else s180["estimate"]), "percent"),
                 DataCell(_ratio_ci(oe), "interval"))
        if ranked:
            cells += (DataCell(format_ratio(None if shrunk is None else shrunk["estimate"]), "ratio"), DataCell(rank, "text"))
        rows.append((np.nan if sort_by is None or is_missing(sort_by["estimate"]) else float(sort_by["estimate"]), _region_name(code),
                     Row(_region_name(code), (*cells, DataCell(outside, "text", numeric=False)))))
    rows.sort(key=lambda t: (-t[0] if t[0] == t[0] else float("inf"), t[1]))
    national_shares = [_one(d, level=NATIONAL, measure=m, estimand="observed_share") for m in ("share_90", "share_180")]
    national = [Row("Riket", tuple(DataCell(_share(None if r is None else r["estimate"]), "percent") for r in national_shares)
                    + (DataCell("1,00 (referens)", "text"), *([DataCell(NOT_APPLICABLE, "text"), DataCell(NOT_APPLICABLE, "text")] if ranked else []),
                       DataCell(NOT_APPLICABLE, "text", False)),
                    "total")]
    notes = ["O/F: observerat antal återgångar i arbete delat med det antal som väntas med rikets takt, givet regionens "
             "sjukfall (ålder, diagnos och övrig bakgrund), räknat på tid i sjukfall. Över 1 = snabbare återgång än väntat."]
    if not ranked:
        notes.append("Regionerna skiljer sig inte mer än slumpen förklarar (skattad varians mellan regionerna 0): de krympta "
                     "kvoterna är 1 för alla och en rangordning säger ingenting, så de visas inte.")
    return TableView("tabell-regioner-atergang", "Återgång i arbete per hemregion, samtliga, ordnade efter " + ("krympt O/F" if ranked else "O/F") + " (högst först).",
                     (header,), (RowGroup("", tuple(r for *_, r in rows) + tuple(national)),), tuple(notes), (rtw_out.output_id,))


def _trend_table(variation_out: CheckedOutput, variation: pd.DataFrame) -> TableView | None:
    d = _pick(variation, term="uptake_adjusted", estimand="median_odds_ratio")
    years = sorted(y for y in dict.fromkeys(d["start_year"].astype(str)) if y != "all")
    if not years:
        return None
    header = (HeaderCell("Startår"), *(HeaderCell(f"{_population_title(p)}, MOR (95 % KI)") for p in POPULATIONS))
    rows = [Row(year, tuple(DataCell(_ratio_ci(_one(d, start_year=year, sex=p)), "interval") for p in POPULATIONS))
            for year in [*years, "all"]]
    rows[-1] = Row("Alla år", rows[-1].cells, "total")
    notes = ["Medianoddskvoten (MOR) mellan regionerna efter justering för bakgrund, skattad för sjukfall som började "
             "respektive år; 1 betyder ingen skillnad. Intervallen är 95 % profillikelihoodintervall."]
    return TableView("tabell-regioner-trend", "Variation mellan regionerna i koordinering per startår (medianoddskvot).",
                     (header,), (RowGroup("", tuple(rows)),), tuple(notes), (variation_out.output_id,))


def _texts(ctx: RenderContext, uptake: pd.DataFrame | None, gaps: pd.DataFrame | None, rtw: pd.DataFrame | None,
           variation: pd.DataFrame | None) -> dict:
    """The numbers quoted in the running text, each cited from its checked output."""
    t: dict = dict.fromkeys(("mor", "mor_ci", "mor_sex", "mor_null", "icc", "pcv", "pcv_negative", "pcv_sex", "mrr",
                             "mrr_coordination", "trend", "national_share", "outside", "shrunk_high", "shrunk_low",
                             "quality_known", "under_reporting", "gaps", "rtw_range", "rtw_outside", "rtw_national_90"))
    if variation is not None:
        mor = {p: _one(variation, term="uptake_adjusted", estimand="median_odds_ratio", sex=p, start_year="all") for p in POPULATIONS}
        mor_null = _one(variation, term="uptake_null", estimand="median_odds_ratio", sex="all", start_year="all")
        pcv = {p: _one(variation, term="uptake_adjusted", estimand="proportional_change_in_variance", sex=p, start_year="all")
               for p in POPULATIONS}
        icc = _one(variation, term="uptake_adjusted", estimand="icc_latent", sex="all", start_year="all")
        if mor["all"] is not None and not is_missing(mor["all"]["estimate"]):
            t["mor"] = ctx.cite(VARIATION_ID, "Regioner: MOR för koordinering, samtliga", format_ratio(mor["all"]["estimate"]))
            t["mor_ci"] = ctx.cite(VARIATION_ID, "Regioner: MOR för koordinering, samtliga, KI",
                                   format_interval(mor["all"]["conf_low"], mor["all"]["conf_high"]))
            t["mor_sex"] = [(SEX_SINGULAR_SV[s], ctx.cite(VARIATION_ID, f"Regioner: MOR för koordinering, {SEX_SINGULAR_SV[s]}",
                                                          _ratio_ci(mor[s]))) for s in SEXES if mor[s] is not None]
        if mor_null is not None and not is_missing(mor_null["estimate"]):
            t["mor_null"] = ctx.cite(VARIATION_ID, "Regioner: MOR utan justering, samtliga", format_ratio(mor_null["estimate"]))
        if icc is not None and not is_missing(icc["estimate"]):
            t["icc"] = ctx.cite(VARIATION_ID, "Regioner: ICC, samtliga", format_percent(100 * float(icc["estimate"])))
        if pcv["all"] is not None and not is_missing(pcv["all"]["estimate"]):
            value = float(pcv["all"]["estimate"])
            t["pcv"] = ctx.cite(VARIATION_ID, "Regioner: förändring av variansen vid justering, samtliga",
                                format_percent(100 * abs(value), 0))
            t["pcv_negative"] = value < 0
            t["pcv_sex"] = [(SEX_SINGULAR_SV[s], ctx.cite(VARIATION_ID, f"Regioner: förändring av variansen, {SEX_SINGULAR_SV[s]}",
                                                          format_percent(100 * float(pcv[s]["estimate"]), 0)))
                            for s in SEXES if pcv[s] is not None and not is_missing(pcv[s]["estimate"])]
        mrr = _one(variation, term="rtw_rate_adjusted", estimand="median_rate_ratio", sex="all", start_year="all")
        if mrr is not None and not is_missing(mrr["estimate"]):
            t["mrr"] = ctx.cite(VARIATION_ID, "Regioner: MRR för återgång i arbete, samtliga", _ratio_ci(mrr))
        mrr_c = _one(variation, term="coordination_rate_adjusted", estimand="median_rate_ratio", sex="all", start_year="all")
        if mrr_c is not None and not is_missing(mrr_c["estimate"]):
            t["mrr_coordination"] = ctx.cite(VARIATION_ID, "Regioner: MRR för koordinering per persontid, samtliga", _ratio_ci(mrr_c))
        years = _pick(variation, term="uptake_adjusted", estimand="median_odds_ratio", sex="all")
        years = years[(years["start_year"].astype(str) != "all") & years["estimate"].notna()].sort_values("start_year")
        if len(years) >= 2:
            first, last = years.iloc[0], years.iloc[-1]
            t["trend"] = {
                "first_year": str(first["start_year"]), "last_year": str(last["start_year"]),
                "first": ctx.cite(VARIATION_ID, f"Regioner: MOR {first['start_year']}, samtliga", _ratio_ci(first)),
                "last": ctx.cite(VARIATION_ID, f"Regioner: MOR {last['start_year']}, samtliga", _ratio_ci(last)),
                "low": ctx.cite(VARIATION_ID, "Regioner: lägsta MOR per år, samtliga", format_ratio(years["estimate"].astype(float).min())),
                "high": ctx.cite(VARIATION_ID, "Regioner: högsta MOR per år, samtliga", format_ratio(years["estimate"].astype(float).max())),
                "overlap": bool(float(last["conf_low"]) <= float(first["conf_high"]) and float(first["conf_low"]) <= float(last["conf_high"])),
                "direction": "lägre" if float(last["estimate"]) < float(first["estimate"]) else "högre",
            }
    if uptake is not None:
        national = _one(uptake, sex="all", level=NATIONAL, estimand="observed_share")
        if national is not None and not is_missing(national["estimate"]):
            t["national_share"] = ctx.cite(UPTAKE_ID, "Regioner: andel koordinerade inom 90 dagar, riket", _share(national["estimate"]))
        outside = {}
        for p in POPULATIONS:
            d = _pick(uptake, sex=p, estimand="observed_expected_ratio")
            d = d[(d["level"] != NATIONAL) & d["estimate"].notna()]
            high = [f"{_region_name(r['level'])} ({format_ratio(r['estimate'])})" for _, r in d.iterrows()
                    if _is_true(r["outside_998"]) and float(r["estimate"]) > 1]
            low = [f"{_region_name(r['level'])} ({format_ratio(r['estimate'])})" for _, r in d.iterrows()
                   if _is_true(r["outside_998"]) and float(r["estimate"]) < 1]
            outside[p] = {"high": [ctx.cite(UPTAKE_ID, f"Regioner: över 99,8-procentsgränsen, {SEX_SINGULAR_SV[p]}", x) for x in high],
                          "low": [ctx.cite(UPTAKE_ID, f"Regioner: under 99,8-procentsgränsen, {SEX_SINGULAR_SV[p]}", x) for x in low],
                          "n": len(d), "title": SEX_SINGULAR_SV[p]}
        t["outside"] = outside
        shrunk = _pick(uptake, sex="all", estimand="shrunken_observed_expected_ratio")
        shrunk = shrunk[(shrunk["level"] != NATIONAL) & shrunk["estimate"].notna()]
        if len(shrunk):
            hi = shrunk.loc[shrunk["estimate"].astype(float).idxmax()]
            lo = shrunk.loc[shrunk["estimate"].astype(float).idxmin()]
            t["shrunk_high"] = ctx.cite(UPTAKE_ID, "Regioner: högst krympt O/F, samtliga", f"{_region_name(hi['level'])} ({format_ratio(hi['estimate'])})")
            t["shrunk_low"] = ctx.cite(UPTAKE_ID, "Regioner: lägst krympt O/F, samtliga", f"{_region_name(lo['level'])} ({format_ratio(lo['estimate'])})")
        flagged = _pick(uptake, sex="all", estimand="observed_expected_ratio")
        known = flagged["is_possibly_under_reporting"].notna() if "is_possibly_under_reporting" in flagged.columns else pd.Series(False, index=flagged.index)
        t["quality_known"] = bool(known.any())
        t["under_reporting"] = [ctx.cite(UPTAKE_ID, "Regioner: möjlig underrapportering av GC001", _region_name(r["level"]))
                                for _, r in flagged[known].iterrows() if _is_true(r["is_possibly_under_reporting"])]
    if gaps is not None:
        gap_texts = []
        for term in GAP_TERMS:
            national = {p: _one(gaps, term=term, level=NATIONAL, sex=p) for p in POPULATIONS}
            d = _pick(gaps, term=term, sex="all")
            significant = [f"{_region_name(r['level'])} ({format_ratio(r['estimate'])})" for _, r in d.iterrows()
                           if r["level"] != NATIONAL and _is_true(r.get("is_significant_holm"))]
            n_regions = int((d["level"] != NATIONAL).sum())
            gap_texts.append({
                "label": REGION_GAP_SV[term][1],
                "national": ctx.cite(GAPS_ID, f"Regioner: {REGION_GAP_SV[term][0].lower()}, riket", _ratio_ci(national["all"])),
                "by_sex": [(SEX_SINGULAR_SV[s], ctx.cite(GAPS_ID, f"Regioner: {REGION_GAP_SV[term][0].lower()}, riket, {SEX_SINGULAR_SV[s]}",
                                                         _ratio_ci(national[s]))) for s in SEXES if national[s] is not None],
                "significant": [ctx.cite(GAPS_ID, f"Regioner: {REGION_GAP_SV[term][0].lower()}, signifikant efter Holm", x) for x in significant],
                "n_regions": n_regions,
            })
        t["gaps"] = gap_texts
    if rtw is not None:
        d = _pick(rtw, sex="all", measure="rate", estimand="observed_expected_ratio")
        d = d[(d["level"] != NATIONAL) & d["estimate"].notna()]
        if len(d):
            t["rtw_range"] = (ctx.cite(RTW_ID, "Regioner: lägsta O/F för återgång i arbete", format_ratio(d["estimate"].astype(float).min())),
                              ctx.cite(RTW_ID, "Regioner: högsta O/F för återgång i arbete", format_ratio(d["estimate"].astype(float).max())))
            t["rtw_outside"] = [ctx.cite(RTW_ID, "Regioner: återgång i arbete utanför 99,8-procentsgränsen",
                                         f"{_region_name(r['level'])} ({format_ratio(r['estimate'])})")
                                for _, r in d.iterrows() if _is_true(r["outside_998"])]
        n90 = _one(rtw, sex="all", level=NATIONAL, measure="share_90", estimand="observed_share")
        if n90 is not None and not is_missing(n90["estimate"]):
            t["rtw_national_90"] = ctx.cite(RTW_ID, "Regioner: andel åter i arbete inom 90 dagar, riket", _share(n90["estimate"]))
    return t


def render(ctx: RenderContext) -> Markup:
    uptake_out = ctx.get(UPTAKE_ID)
    if uptake_out is None:
        return ctx.render("sections/regions.html.j2", missing=True)
    uptake = ctx.summary(UPTAKE_ID)
    gaps, rtw, variation = ctx.summary(GAPS_ID), ctx.summary(RTW_ID), ctx.summary(VARIATION_ID)
    figures = []
    if uptake is not None:
        panels = [(_population_title(p), _funnel_panel(uptake, p)) for p in POPULATIONS]
        funnel_out = ctx.get(FUNNEL_ID)
        if funnel_out is not None and not funnel_out.is_blocked and any(len(d) for _, d in panels):
            figures.append(funnel_figure(
                funnel_out, uptake_out, figure_id="figur-regioner-tratt", panels=panels, label_column="name",
                measure_sv="koordinering inom 90 dagar",
                caption="Figur. Trattdiagram: kvoten observerat/förväntat antal koordinerade inom 90 dagar per hemregion mot "
                        "förväntat antal, samtliga, kvinnor och män. Heldragna linjer är 95- och 99,8-procentsgränser som tar "
                        "hänsyn till överspridning mellan regioner, streckade linjer exakta Poissongränser; regioner utanför "
                        "99,8-procentsgränsen är namngivna.",
            ))
        map_out = ctx.get(MAP_ID)
        map_panels = [(_population_title(p), _pick(uptake, sex=p, estimand="shrunken_observed_expected_ratio")
                       .merge(_pick(uptake, sex=p, estimand="observed_expected_ratio")[["level", "is_possibly_under_reporting"]],
                              on="level", how="left", suffixes=("_x", ""))) for p in POPULATIONS]
        map_panels = [(title, d[d["level"] != NATIONAL]) for title, d in map_panels]
        if map_out is not None and not map_out.is_blocked and any(d["estimate"].notna().any() for _, d in map_panels):
            letters = ", ".join(f"{region_letter(c)} {_region_name(c)}" for c in sorted(TILE_LAYOUT, key=region_letter))
            figures.append(tile_map_figure(
                map_out, uptake_out, figure_id="figur-regioner-karta", panels=map_panels, layout=TILE_LAYOUT,
                letter=region_letter, name=_region_name, value_sv="Krympt O/F för koordinering",
                caption="Figur. Regionerna som rutkarta (norr uppåt), färgade efter krympt kvot observerat/förväntat för "
                        "koordinering inom 90 dagar: blått mer, rött mindre än väntat givet sjukfallens bakgrund. Streckade "
                        "rutor: regionen kan underrapportera GC001. Länsbokstäver: " + letters + ".",
            ))
    tables = []
    if uptake is not None:
        tables.append(_region_table(ctx, uptake_out, uptake))
    gap_view = _gap_table(ctx.get(GAPS_ID), gaps) if gaps is not None else None
    rtw_view = _rtw_table(ctx.get(RTW_ID), rtw) if rtw is not None else None
    trend_view = _trend_table(ctx.get(VARIATION_ID), variation) if variation is not None else None
    blocked = [c for c in (ctx.get(i) for i in (COUNTS_ID, UPTAKE_ID, GAPS_ID, RTW_ID, VARIATION_ID)) if c is not None and c.is_blocked]
    text = ctx.findings["regioner"] = _texts(ctx, uptake, gaps, rtw, variation)
    return ctx.render("sections/regions.html.j2", missing=False, figures=figures, tables=tables, gap_view=gap_view,
                      rtw_view=rtw_view, trend_view=trend_view, text=text,
                      blocked=blocked)


SECTION = register(Section("regioner", "Skillnader mellan regioner", 65, collect, render))
