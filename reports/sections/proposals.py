"""Section: grounds for proposals (mandate question 5, issue 15), from the g-formula's scenarios.

Reads the results table ``scenarios`` (kept out of the association's chapters by
`reports.sections._results.OWN_CHAPTER_TABLES`) and publishes it through disclosure control as
one model output, ``scenariomodell:scenarier``: per scenario and population (everyone, women,
men) the standardised share back at work, the change against the natural course, the share
coordinated within 90 days, and the observed share the natural course is checked against. The
counts behind the estimates are read by the rules, not published.

What the text states as a finding: only a scenario whose row passes its diagnostics (the
natural course reproduces the observed share within the tolerance, enough events) and whose
interval excludes no change. A scenario that passes but whose interval includes zero is
reported as no clear change; one that fails is reported as uncertain, in words.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd
from markupsafe import Markup

from data_schemas.tables import SEXES
from reports.disclosure import ModelOutput, Output
from reports.formatting import format_interval, format_number, format_percent, is_missing, scaled
from reports.labels import SEX_PLURAL_SV
from reports.outputs import declaration, instance_id
from reports.sections._results import results_table
from reports.sections import RenderContext, Section, register
from reports.sections._build import first_where, published_ids, rows_where, table_notes
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView

TABLE = "scenarios"
OUTPUT_ID = instance_id("scenariomodell", "scenarier")
MAIN_HORIZON = 180
POPULATIONS = (*SEXES, "all")  # the table's columns: kvinnor, män, alla
SEX_ADDS_UP = (("sex", "all", tuple(SEXES)),)
UNPUBLISHED = ("n_persons", "n_events", "n_spells")
SCENARIO_SV = {
    "uptake": "Alla regioner når den fjärdedel av regionerna som koordinerar mest",
    "earlier": "Koordinering som nu ges dag 31–90 ges senast dag 30",
}
SCENARIO_TEXT_SV = {  # completes "Om ...": the scenario as a condition
    "uptake": "varje region nådde samma andel sjukfall med koordinering inom 90 dagar som den fjärdedel av "
              "regionerna som koordinerar mest",
    "earlier": "den koordinering som i dag ges dag 31–90 i sjukfallet i stället gavs senast dag 30",
}
COLUMN_SV = {"woman": "Kvinnor", "man": "Män", "all": "Alla"}
PP_DECIMALS = 2  # scenario effects are tenths of a percentage point: one decimal would blur their intervals


def _read(inputs) -> pd.DataFrame | None:
    return results_table(inputs, TABLE)


def collect(inputs) -> Sequence[Output]:
    frame = _read(inputs)
    if frame is None:
        return []
    rows = frame.drop(columns=[c for c in ("comparator", "n_bootstrap") if c in frame.columns])
    for c in ("n_persons", "n_events", "n_spells"):  # nullable integers as floats for the rules
        if c in rows.columns:
            rows[c] = pd.to_numeric(rows[c], errors="coerce").astype(float)
    unpublished = tuple(c for c in UNPUBLISHED if c in rows.columns)
    return [ModelOutput(declaration("scenariomodell"), rows, output_id=OUTPUT_ID,
                        label_columns=("measure", "term", "horizon"), unpublished_columns=unpublished,
                        additive_labels=SEX_ADDS_UP)]


# --- helpers --------------------------------------------------------------------------------------


def _pop(frame: pd.DataFrame | None, population: str, **where: object) -> pd.Series | None:
    subgroup = "all" if population == "all" else "sex"
    return first_where(frame, sex=population, subgroup=subgroup, **where)


def _shown(r: pd.Series | None) -> bool:
    return r is not None and not is_missing(r["estimate"])


def _pp(value: object) -> str:
    """A difference of shares in percentage points, signed: '+1,2'."""
    if is_missing(value):
        return format_number(value)
    text = format_number(100 * float(value), PP_DECIMALS)
    return text if text.startswith(("−", "-")) or float(value) == 0 else f"+{text}"


def _pp_ci(r: pd.Series | None) -> str:
    if not _shown(r):
        return format_number(None if r is None else r["estimate"])
    scale = lambda v: scaled(v, 100)  # noqa: E731
    return f"{_pp(r['estimate'])} ({format_interval(scale(r['conf_low']), scale(r['conf_high']), PP_DECIMALS)})"


def _size_text(r: pd.Series | None, unit: bool = True) -> str:
    """For running text, the size without its sign: '0,4 procentenheter (95 % KI 0,2–0,5)' or '0,4 (0,2–0,5)'."""
    if not _shown(r):
        return format_number(None if r is None else r["estimate"])
    scale = lambda v: scaled(v, 100)  # noqa: E731
    interval = format_interval(scale(r["conf_low"]), scale(r["conf_high"]), PP_DECIMALS)
    size = format_number(abs(100 * float(r["estimate"])), PP_DECIMALS)
    return f"{size} procentenheter (95 % KI {interval})" if unit else f"{size} ({interval})"


def _direction(r: pd.Series | None) -> str:
    return "minska" if _shown(r) and float(r["estimate"]) < 0 else "öka"


def _pct(value: object) -> str:
    return format_percent(scaled(value, 100), 1)  # type: ignore[arg-type]


def _passes(r: pd.Series | None) -> bool | None:
    """The row's published pass flag (None when withheld or not stated)."""
    if r is None or is_missing(r.get("diagnostics")):
        return None
    try:
        value = json.loads(r["diagnostics"]).get("passes")
    except (TypeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, bool) else None


def verdict(r: pd.Series | None) -> str:
    """'finding', 'no_change', 'uncertain' or 'withheld' for one scenario row."""
    if not _shown(r):
        return "withheld"
    if _passes(r) is not True:
        return "uncertain"
    low, high = r["conf_low"], r["conf_high"]
    if is_missing(low) or is_missing(high) or float(low) <= 0 <= float(high):
        return "no_change"
    return "finding"


VERDICT_SV = {"finding": "Slutsats", "no_change": "Ingen säker förändring", "uncertain": "Osäker (diagnostiken godkänns inte)",
              "withheld": "Redovisas inte"}


# --- tables ---------------------------------------------------------------------------------------


def _scenario_table(ctx: RenderContext, frame: pd.DataFrame) -> TableView:
    header = (HeaderCell("Scenario"), *(HeaderCell(f"{COLUMN_SV[p]}, procentenheter (95 % KI)") for p in POPULATIONS),
              HeaderCell("Bedömning, alla"))
    rows = []
    for term, label in SCENARIO_SV.items():
        cells = [DataCell(_pp_ci(_pop(frame, p, estimand="risk_difference", term=term, horizon=MAIN_HORIZON)), "interval")
                 for p in POPULATIONS]
        cells.append(DataCell(VERDICT_SV[verdict(_pop(frame, "all", estimand="risk_difference", term=term,
                                                      horizon=MAIN_HORIZON))], "text"))
        rows.append(Row(label, tuple(cells)))
    out = ctx.get(OUTPUT_ID)
    return TableView("tabell-scenarier", f"Förändring i andelen åter i arbete efter {MAIN_HORIZON} dagar i varje scenario "
                     "jämfört med i dag, i procentenheter, för kvinnor, män och alla. Sjukfall som pågick dag 14.",
                     (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Standardiserade skattningar (g-formeln) ur modeller för när koordineringen börjar, "
                                   "återgång i arbete och andra avslut av sjukfallet, justerade för kön, ålder, diagnos, "
                                   "sysselsättning, tidigare sjukskrivning, utbildning, födelseland, hemregion och startår. "
                                   "Intervallen kommer från bootstrap där personer dras om. Slutsats: diagnostiken "
                                   "godkänns och intervallet utesluter ingen förändring."), published_ids(out))


def _size_table(ctx: RenderContext, frame: pd.DataFrame) -> TableView:
    header = (HeaderCell("Andel med koordinering inom 90 dagar"), *(HeaderCell(COLUMN_SV[p]) for p in POPULATIONS))
    labels = {"natural_course": "I dag (modellens förlopp)", **SCENARIO_SV}
    rows = [Row(label, tuple(DataCell(_pct(r["estimate"]) if _shown(r := _pop(frame, p, estimand="coordination_uptake",
                                                                                term=term)) else _pct(None), "percent")
                             for p in POPULATIONS))
            for term, label in labels.items()]
    out = ctx.get(OUTPUT_ID)
    return TableView("tabell-scenarier-storlek", "Hur mycket scenarierna ändrar koordineringen: andelen sjukfall med en "
                     "första koordineringsinsats inom 90 dagar i dag och i varje scenario, för kvinnor, män och alla.",
                     (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Andelen räknar insatser medan sjukfallet pågår; i det andra scenariot flyttas "
                                   "insatserna tidigare, så fler hinner ges innan sjukfallet slutar."), published_ids(out))


def _check_table(ctx: RenderContext, frame: pd.DataFrame) -> TableView:
    horizons = sorted({int(h) for h in pd.to_numeric(rows_where(frame, estimand="observed_cumulative_incidence")["horizon"])})
    header = (HeaderCell("Grupp"), *(HeaderCell(f"Dag {h}: observerad / modellen") for h in horizons),
              HeaderCell("Godkänd"))
    rows = []
    for p in POPULATIONS:
        cells = []
        for h in horizons:
            observed = _pop(frame, p, estimand="observed_cumulative_incidence", horizon=h)
            model = _pop(frame, p, estimand="cumulative_incidence", term="natural_course", horizon=h)
            cells.append(DataCell(f"{_pct(None if observed is None else observed['estimate'])} / "
                                  f"{_pct(None if model is None else model['estimate'])}", "text"))
        check = _pop(frame, p, estimand="cumulative_incidence", term="natural_course", horizon=MAIN_HORIZON)
        ok = None
        if check is not None and not is_missing(check.get("diagnostics")):
            ok = json.loads(check["diagnostics"]).get("natural_course_pass")
        unknown = format_number(check.get("diagnostics") if check is not None and is_missing(check.get("diagnostics")) else None)
        cells.append(DataCell("✓ Ja" if ok is True else ("✗ Nej" if ok is False else unknown), "text"))
        rows.append(Row(COLUMN_SV[p], tuple(cells)))
    out = ctx.get(OUTPUT_ID)
    return TableView("tabell-scenarier-kontroll", "Kontroll av modellerna: andelen åter i arbete som faktiskt observerades "
                     "(Aalen–Johansen) och som modellerna ger utan förändring, för kvinnor, män och alla.",
                     (header,), (RowGroup("", tuple(rows)),),
                     table_notes([out], "Godkänd: modellernas förlopp ligger inom 1 procentenhet från det observerade vid "
                                   "alla tidpunkter. Bara scenarier vars kontroll godkänns redovisas som slutsatser."),
                     published_ids(out))


# --- texts ----------------------------------------------------------------------------------------


def _texts(ctx: RenderContext, frame: pd.DataFrame) -> list[dict]:
    out = []
    for term in SCENARIO_SV:
        r = _pop(frame, "all", estimand="risk_difference", term=term, horizon=MAIN_HORIZON)
        v = verdict(r)
        item = {"condition": SCENARIO_TEXT_SV[term], "label": SCENARIO_SV[term], "verdict": v, "all": None, "sexes": []}
        if v != "withheld":
            item["all"] = ctx.cite(OUTPUT_ID, f"Underlag för förslag: {term}, alla, dag {MAIN_HORIZON}", _size_text(r))
            item["direction"] = _direction(r)
            for s in SEXES:
                rs = _pop(frame, s, estimand="risk_difference", term=term, horizon=MAIN_HORIZON)
                if _shown(rs):
                    item["sexes"].append((SEX_PLURAL_SV[s].lower(), _direction(rs),
                                          ctx.cite(OUTPUT_ID, f"Underlag för förslag: {term}, {s}, dag {MAIN_HORIZON}",
                                                   _size_text(rs, unit=False))))
        natural = _pop(frame, "all", estimand="coordination_uptake", term="natural_course")
        scenario = _pop(frame, "all", estimand="coordination_uptake", term=term)
        if _shown(natural) and _shown(scenario):
            item["uptake"] = (ctx.cite(OUTPUT_ID, "Underlag för förslag: koordinerade inom 90 dagar i dag",
                                       _pct(natural["estimate"])),
                              ctx.cite(OUTPUT_ID, f"Underlag för förslag: koordinerade inom 90 dagar, {term}",
                                       _pct(scenario["estimate"])))
        out.append(item)
    return out


def render(ctx: RenderContext) -> Markup:
    checked = ctx.get(OUTPUT_ID)
    if checked is None:
        return ctx.render("sections/underlag_forslag.html.j2", missing=True)
    frame = ctx.summary(OUTPUT_ID)
    if frame is None:
        return ctx.render("sections/underlag_forslag.html.j2", missing=False, blocked=[checked], tables={}, texts=[])
    tables = {"scenarios": _scenario_table(ctx, frame), "size": _size_table(ctx, frame), "check": _check_table(ctx, frame)}
    texts = _texts(ctx, frame)
    ctx.findings["underlag_forslag"] = _conclusion(texts)
    return ctx.render("sections/underlag_forslag.html.j2", missing=False, blocked=[], tables=tables,
                      texts=texts, horizon=MAIN_HORIZON)


def _conclusion(texts: list[dict]) -> str | None:
    """One sentence for the conclusions: the scenarios stated as findings, the others as uncertain."""
    found = [t for t in texts if t["verdict"] == "finding"]
    unsure = [t for t in texts if t["verdict"] in ("no_change", "uncertain")]
    parts = [f"om {t['condition']} skulle andelen åter i arbete efter {MAIN_HORIZON} dagar {t['direction']} med {t['all']}"
             for t in found]
    sentence = ("Enligt modellerna " + " och ".join(parts) + ".") if parts else ""
    if unsure:
        sentence += (" " if sentence else "") + ("För " + " och ".join(f"scenariot ”{t['label']}”" for t in unsure)
                                                 + " går det inte att säga att andelen skulle ändras säkert.")
    return sentence or None


SECTION = register(Section("underlag_forslag", "Underlag för förslag", 85, collect, render))
