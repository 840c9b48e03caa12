"""Swedish words for the output-check log and the appendix: locations, reasons and rules.

Pure functions, no I/O. `reports.disclosure` names what it withheld with location codes
(``personer / 4:bort / unknown``, ``tv_cox / sex / woman / woman / is_coordinated``,
``arm=koordinerad, t=30``) and rule keys (`RULE_LABELS_SV`); the person who checks output
reads them here as words:

- `location_sv`: ``'personer / 4:bort / unknown'`` -> ``'personer, tas bort i steg 4, okänt kön'``;
- `reason_sv`: a withholding `Reason` -> ``'undertryckt: färre än 10 personer'``;
- `rule_sv`: the rule behind a withholding (``'primär undertryckning: minst 10 personer per cell'``);
- `published_rule_sv`: the rule a published number passed;
- `rules_text_sv`: one sentence per disclosure class with the thresholds in force;
- `defaults_text_sv`: where the thresholds are set and what the defaults are, and why.

Nothing here sees a withheld value: the inputs are codes, rule keys and thresholds.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import fields
from typing import Any

from reports.disclosure import RULE_LABELS_SV, DisclosureClass, DisclosureRules, Reason
from reports.labels import (
    ARM_SV,
    DESIGN_LEVELS_SV,
    EDUCATION_GROUP_SV,
    END_REASON_SV,
    ESTIMAND_SV,
    MISSING_SV,
    SUBGROUP_SV,
    YES_NO_SV,
    subgroup_label,
    value_label,
)

TOTAL_CODE = "Totalt"  # reports.sections._build.TOTAL
MISSING_CODE = "__saknas__"  # reports.sections._build.MISSING
# The measures of the regional results tables (column ``measure``).
MEASURE_SV = {"uptake": "koordinering inom 90 dagar", "share_90": "återgång i arbete inom 90 dagar",
              "share_180": "återgång i arbete inom 180 dagar", "rate": "återgång i arbete per persontid",
              "coordination_rate": "första GC001 per persontid", "data_quality": "registrering av GC001"}
SEX_SV = {"woman": "kvinnor", "man": "män", "unknown": "okänt kön", "all": "samtliga"}
ARM_PLURAL_SV = {"koordinerad": "koordinerade", "ej_koordinerad": "ej koordinerade"}

# Table keys of the report's outputs that are not variable names (reports/sections/*.py).
TABLE_SV = {
    "personer": "personer",
    "sjukfall": "sjukfall",
    "filer": "filer",
    "fore": "inkomst före sjukfallet",
    "efter": "inkomst efter sjukfallet",
    "summary": "resultattabell",
    "curve": "kurva",
}
# Variables whose values are the rows of a table (Tabell 1's blocks) beside `labels.SUBGROUP_SV`.
VARIABLE_SV = {
    **SUBGROUP_SV,
    "diagnosis_chapter_group": "Diagnoskapitel",
    "occupation_status": "Sysselsättning vid start",
    "education_group": "Utbildningsnivå",
    "extent_at_start_pct": "Sjukskrivningens omfattning vid start",
    "has_prior_sick_leave": "Sjukskriven under de 365 dagarna före",
    "prior_sick_days_365_band": "Sjukskrivningsdagar under de 365 dagarna före",
    "prior_sick_days_730_band": "Sjukskrivningsdagar under de 730 dagarna före",
    "is_coordinated": "Koordineringsinsats under sjukfallet",
    "is_coordinated_first_90_days": "Koordineringsinsats inom sjukfallets första 90 dagar",
    "end_reason": "Uppföljningen slutade med",
    "arm": "Grupp",
    "cause": "Händelse",
}
# Column names of the published tables, for the log's "what number" column.
COLUMN_SV = {
    "estimate": "skattning",
    "std_error": "standardfel",
    "conf_low": "nedre konfidensgräns",
    "conf_high": "övre konfidensgräns",
    "p_value": "p-värde",
    "n_persons": "antal personer",
    "n_events": "antal händelser",
    "n_at_risk": "antal i risk",
    "cif": "kumulativ incidens",
    "cumulative_incidence": "kumulativ incidens",
    "survival": "andel kvar",
    "value": "belopp",
    "n_contributors": "antal bidragsgivare",
    "rows_in": "antal rader",
}
CURVE_COLUMN_SV = {**COLUMN_SV, "estimate": "skattning", "n_events": "händelser sedan föregående visade steg"}
TERM_SV = {"is_coordinated": "koordinering", "heterogeneity_test": "test av lika samband"}
LOCATION_WORDS_SV = {"hela utdatan": "hela utdatan", "talet": "talet", "kurvan": "hela kurvan"}

# Labels that are common words (lower-cased inside a location), not names (regions, diagnoses).
_COMMON_LABELS = {
    *YES_NO_SV.values(), *(v for v in ARM_SV.values()), *END_REASON_SV.values(), *DESIGN_LEVELS_SV.values(),
    *EDUCATION_GROUP_SV.values(), MISSING_SV,
}
_FLOW_ROW = re.compile(r"^(\d+):(kvar|bort)$")
_UNDER = re.compile(r"\bunder (\d+(?:[.,]\d+)?)")


def _lower(label: str) -> str:
    return label[:1].lower() + label[1:] if label in _COMMON_LABELS else label


def _code(part: str) -> Hashable:
    """A location part back as the value it was written from, where that is unambiguous."""
    return {"True": True, "False": False, "None": None, "nan": None}.get(part, part)


def _number_text(x: float | int) -> str:
    return f"{float(x):g}".replace(".", ",")


def _axis_sv(part: str) -> str:
    """A column of a table (sex, arm, total) or any code, in words."""
    if part == TOTAL_CODE:
        return "totalt"
    if part == MISSING_CODE:
        return "uppgift saknas"
    if part in SEX_SV:
        return SEX_SV[part]
    if part in ARM_PLURAL_SV:
        return ARM_PLURAL_SV[part]
    if part in COLUMN_SV:
        return COLUMN_SV[part]
    return _value_sv(None, part)


def _value_sv(variable: str | None, part: str) -> str:
    """A row value: flow steps, totals and missing, else the variable's label (or common codes)."""
    m = _FLOW_ROW.match(part)
    if m:
        step, kind = m.groups()
        return f"kvar efter steg {step}" if kind == "kvar" else f"tas bort i steg {step}"
    if part == TOTAL_CODE:
        return "totalt"
    if part == MISSING_CODE:
        return "uppgift saknas"
    value = _code(part)
    if variable is not None:
        return _lower(value_label(variable, value))
    if isinstance(value, bool):
        return YES_NO_SV[value].lower()
    if value is None:
        return "uppgift saknas"
    if part in END_REASON_SV:
        return _lower(END_REASON_SV[part])
    if part in SEX_SV:
        return SEX_SV[part]
    if part in ARM_PLURAL_SV:
        return ARM_PLURAL_SV[part]
    if part in DESIGN_LEVELS_SV:
        return _lower(DESIGN_LEVELS_SV[part])
    if part.isdigit() and len(part) == 2:  # two-digit codes of the report's tables are regions (länskoder)
        return value_label("home_region_code", part)
    return part


def _table_location_sv(table: str, row: str, col: str) -> str:
    if table in VARIABLE_SV and table not in TABLE_SV:
        return f"{VARIABLE_SV[table]}: {_value_sv(table, row)}, {_axis_sv(col)}"
    if table in SEX_SV:  # one block per sex (avslut, regioner); its rows are end reasons or regions
        return f"{SEX_SV[table]}: {_value_sv(None, row)}, {_axis_sv(col)}"
    if table in ("fore", "efter"):  # earnings: rows are sexes
        return f"{TABLE_SV[table]}, {_axis_sv(row)}, {_axis_sv(col)}"
    return f"{TABLE_SV.get(table, table)}, {_value_sv(None, row)}, {_axis_sv(col)}"


def model_location_sv(
    analysis_id: Any = None,
    subgroup: Any = None,
    level: Any = None,
    sex: Any = None,
    term: Any = None,
    estimand: Any = None,
    **labels: Any,
) -> str:
    """One row of a model's estimate table in words: analysis, population, sex, term, estimand and row labels."""
    parts = [f"analys {analysis_id}"] if analysis_id not in (None, "") else []
    parts.append(subgroup_label(None if subgroup is None else str(subgroup), level))
    if sex not in (None, "", "all") and str(subgroup) != "sex" and not _is_nan(sex):
        parts.append(SEX_SV.get(str(sex), str(sex)))
    for name in ("arm", "cause"):
        value = labels.get(name)
        if value is not None and not _is_nan(value) and value != "":
            parts.append(_lower(value_label("end_reason" if name == "cause" else name, value)))
    if labels.get("horizon_days") is not None and not _is_nan(labels["horizon_days"]):
        parts.append(f"horisont {_number_text(labels['horizon_days'])} dagar")
    if labels.get("landmark_day") is not None and not _is_nan(labels["landmark_day"]):
        parts.append(f"landmärke dag {_number_text(labels['landmark_day'])}")
    measure = labels.get("measure")
    if measure not in (None, "") and not _is_nan(measure):
        parts.append(MEASURE_SV.get(str(measure), str(measure)))
    year = labels.get("start_year")
    if year not in (None, "", "all") and not _is_nan(year):
        parts.append(f"startår {year}")
    if term not in (None, "") and not _is_nan(term):
        parts.append(f"term: {term_sv(str(term))}")
    if estimand not in (None, "") and not _is_nan(estimand):
        label = ESTIMAND_SV.get(str(estimand), str(estimand))
        parts.append(label[:1].lower() + label[1:])
    return ", ".join(parts)


def _is_nan(x: Any) -> bool:
    return isinstance(x, float) and x != x


def curve_location_sv(groups: Mapping[str, Any], time: Any = None) -> str:
    """A curve's group (``{'arm': 'koordinerad', 'sex': 'woman'}``) and step time in words."""
    parts = [_curve_group_sv(str(k), str(v)) for k, v in groups.items()]
    if not parts:
        parts = ["hela kurvan"]
    if time is not None:
        parts.append(f"dag {_number_text(time)}" if isinstance(time, (int, float)) else f"dag {time}")
    return ", ".join(parts)


def _curve_group_sv(column: str, value: str) -> str:
    if column == "sex":
        return SEX_SV.get(value, value)
    if value in ARM_PLURAL_SV:
        return ARM_PLURAL_SV[value]
    if column in ("cause", "event", "end_reason") or value in END_REASON_SV:
        return _lower(END_REASON_SV.get(value, value))
    return _lower(value_label(column, _code(value)))


def term_sv(term: str) -> str:
    """A model term in words: the exposure, the heterogeneity test, ``horizon_90`` -> 'horisont 90 dagar'."""
    m = re.fullmatch(r"(horizon|landmark)_(\d+)", term)
    if m:
        return f"{'horisont' if m.group(1) == 'horizon' else 'landmärke'} {m.group(2)} dagar"
    return TERM_SV.get(term, term)


def location_sv(location: str) -> str:
    """A location code of `reports.disclosure` in Swedish words (unknown parts passed through).

    ``'personer / 4:bort / unknown'`` -> ``'personer, tas bort i steg 4, okänt kön'``;
    ``'is_coordinated / True / woman'`` -> ``'Koordineringsinsats under sjukfallet: koordinerad, kvinnor'``;
    ``'rtw_cox / sex / woman / woman / is_coordinated'`` -> ``'analys rtw_cox, Kön: Kvinnor, term: koordinering'``;
    ``'arm=koordinerad, t=30'`` -> ``'koordinerade, dag 30'``.
    """
    text = str(location).strip()
    if text in LOCATION_WORDS_SV:
        return LOCATION_WORDS_SV[text]
    parts = [p.strip() for p in text.split(" / ")]
    if len(parts) == 3:
        return _table_location_sv(*parts)
    if len(parts) == 2:  # a group of a table (flags of the disclosive-zero rule)
        table, group = parts
        name = VARIABLE_SV.get(table) or TABLE_SV.get(table) or SEX_SV.get(table) or table
        return f"{name}: gruppen {_axis_sv(group)}"
    if len(parts) in (4, 5):  # analysis_id / subgroup / level [/ sex] / term
        analysis, subgroup, level = parts[0], parts[1], _code(parts[2])
        sex = parts[3] if len(parts) == 5 else None
        return model_location_sv(analysis, subgroup, level, sex=sex, term=parts[-1])
    if "=" in text or text.startswith("kurvan"):
        return _curve_location_text_sv(text)
    return text


def _curve_location_text_sv(text: str) -> str:
    groups: dict[str, str] = {}
    words = []
    for piece in (p.strip() for p in text.split(", ")):
        key, sep, value = piece.partition("=")
        if piece == "start":
            words.append("kurvans start")
        elif piece == "kurvan":
            continue
        elif sep and key == "t":
            words.append(f"dag {value}")
        elif sep:
            groups[key] = value
        else:
            words.append(piece)
    head = [_curve_group_sv(k, v) for k, v in groups.items()] or ([] if words else ["hela kurvan"])
    return ", ".join([*head, *words])


# --- reasons and rules ------------------------------------------------------------------------------


def _threshold(reason: Reason, fallback: int | float | None) -> str:
    """The threshold the check applied: from the reason's detail (``under 10``), else the rules'."""
    m = _UNDER.search(reason.detail or "")
    if m:
        return m.group(1).replace(".", ",")
    return "" if fallback is None else _number_text(fallback)


def _dominance_text(detail: str, rules: DisclosureRules) -> str:
    m = re.search(r"n=(\d+),\s*k=([\d.]+)", detail or "")
    if m:
        n, k = int(m.group(1)), float(m.group(2))
        return f"{_largest_sv(n)} utgör mer än {_number_text(k)} % av summan"
    return "ett eller två bidrag dominerar summan (" + _dominance_rules_sv(rules) + ")"


def _dominance_rules_sv(rules: DisclosureRules) -> str:
    return " eller ".join(f"{_largest_sv(n)} är mer än {_number_text(k)} %" for n, k in rules.dominance)


def _largest_sv(n: int) -> str:
    return "det största bidraget" if n == 1 else ("de två största bidragen" if n == 2 else f"de {n} största bidragen")


_STOPPING_RULES = {"row_level", "source_blocked", "nothing_left"}


def reason_sv(reason: Reason, rules: DisclosureRules | None = None) -> str:
    """Why a number was withheld, in Swedish: ``'undertryckt: färre än 10 personer'``.

    Every key of `RULE_LABELS_SV` has its own words; an unknown key falls back to its label
    (or the key). Thresholds come from the reason's detail when it states them (what the
    check applied), else from ``rules``. The text never contains a withheld value.
    """
    rules = rules or DisclosureRules()
    rule, detail = reason.rule, reason.detail or ""
    if rule == "min_cell_count":
        return f"undertryckt: färre än {_threshold(reason, rules.min_cell_count)} personer"
    if rule == "disclosive_zero":
        return "undertryckt: alla i gruppen har samma värde, så nollorna och den fulla cellen röjer en egenskap hos alla i gruppen"
    if rule == "secondary":
        if detail.startswith("antalen"):
            return ("undertryckt (sekundärt): antalen vore annars räknebara ur de andra nivåernas antal och totalen; "
                    "skattningen visas")
        return "undertryckt (sekundärt): annars räknebar ur summor i samma eller länkade tabeller"
    if rule == "linked":
        return "undertryckt: samma tal är undertryckt i en länkad tabell"
    if rule == "min_contributors":
        return f"undertryckt: färre än {_threshold(reason, rules.min_cell_count)} bidragsgivare"
    if rule == "dominance":
        return "undertryckt (dominansregeln): " + _dominance_text(detail, rules)
    if rule == "p_percent":
        m = re.search(r"p=([\d.]+)", detail)
        p = _number_text(float(m.group(1))) if m else _number_text(rules.p_percent or 0)
        return (f"undertryckt (p-procentregeln): resten utöver de två största bidragen är mindre än {p} % av det största, "
                "så det näst största bidraget kunde uppskatta det största för nära")
    if rule == "min_events":
        arm = " i någon jämförd grupp" if "arm" in detail else ""
        return f"undertryckt: färre än {_threshold(reason, rules.min_events_per_estimate)} händelser bakom skattningen{arm}"
    if rule == "min_persons":
        return f"undertryckt: färre än {_threshold(reason, rules.min_cell_count)} personer bakom skattningen"
    if rule == "min_residual_df":
        return (f"undertryckt: modellen har färre än {_threshold(reason, rules.min_residual_df)} residualfrihetsgrader "
                "(personer minus skattade parametrar)")
    if rule == "events_unknown":
        return "undertryckt: antal personer eller händelser saknas, så skattningen kan inte kontrolleras"
    if rule == "curve_at_risk":
        return f"undertryckt: färre än {_threshold(reason, rules.at_risk_threshold)} i risk vid steget"
    if rule == "curve_events":
        return (f"undertryckt: färre än {_threshold(reason, rules.curve_events_threshold)} händelser sedan föregående "
                "visade steg (händelserna räknas in i nästa visade steg)")
    if rule == "curve_group":
        return (f"undertryckt: gruppen har inget steg med minst {_number_text(rules.at_risk_threshold)} i risk och "
                f"{_number_text(rules.curve_events_threshold)} händelser")
    if rule == "extreme_share":
        extra = " (skulle annars ge tillbaka en sådan andel)" if detail.startswith("skulle") else ""
        return "undertryckt: andelen är 0 % eller 100 % av gruppen" + extra
    if rule == "audit":
        return (f"undertryckt: intervallet som övriga publicerade tal ger är smalare än "
                f"{_number_text(rules.min_cell_count)}")
    if rule == "undeclared_diagnostic":
        return "undertryckt: måttet finns inte bland de diagnostiska mått som får publiceras"
    if rule == "row_level":
        return "stoppad: data på individnivå lämnar aldrig den säkra miljön"
    if rule == "source_blocked":
        return "stoppad: bygger på en stoppad eller okontrollerad utdata"
    if rule == "nothing_left":
        return "stoppad: inget återstår efter undertryckning"
    label = RULE_LABELS_SV.get(rule, rule)
    return f"undertryckt: {label}"


def _locations_sv(text: str) -> str:
    return " samt ".join(location_sv(p) for p in text.split(", ")) if " / " in text else location_sv(text)


def detail_sv(reason: Reason) -> str:
    """What the reason's detail adds beyond `reason_sv`, in words: which cell a secondary suppression protects,
    where else the same number is published, the key columns of row-level data. Empty when nothing."""
    out = []
    for piece in (p.strip() for p in (reason.detail or "").split("; ")):
        if not piece:
            continue
        if piece.startswith("antalen skyddar "):
            out.append("skyddar " + location_sv(piece.removeprefix("antalen skyddar ")))
        elif piece.startswith("skyddar "):
            out.append("skyddar " + location_sv(piece.removeprefix("skyddar ")))
        elif piece.startswith("samma tal som "):
            out.append("samma tal som " + _locations_sv(piece.removeprefix("samma tal som ")))
        elif piece.startswith("skulle ge tillbaka andelen i "):
            out.append("skyddar andelen i " + location_sv(piece.removeprefix("skulle ge tillbaka andelen i ")))
        elif piece.startswith("nyckelkolumn"):
            out.append(piece)
        elif piece == "deklarerad som individdata":
            out.append(piece)
    return "; ".join(out)


def flag_sv(reason: Reason, rules: DisclosureRules | None = None) -> str:
    """A note for the human checker (nothing withheld): ``'flaggad för manuell granskning: …'``."""
    if reason.rule == "disclosive_zero":
        return "flaggad för manuell granskning: alla i gruppen har samma värde (nollor och en full cell)"
    text = reason_sv(reason, rules)
    return "flaggad för manuell granskning: " + text.split(": ", 1)[-1]


def rule_sv(rule: str, rules: DisclosureRules | None = None) -> str:
    """The rule that withheld a number: ``'primär undertryckning: minst 10 personer per cell'``."""
    rules = rules or DisclosureRules()
    n = _number_text(rules.min_cell_count)
    names = {
        "min_cell_count": f"primär undertryckning: minst {n} personer per cell",
        "disclosive_zero": "röjande nollor: en grupp där alla har samma värde visas inte",
        "secondary": "sekundär undertryckning: inget undertryckt tal får kunna räknas fram ur summor",
        "linked": "länkade tabeller: samma tal undertrycks överallt där det publiceras",
        "min_contributors": f"minst {n} bidragsgivare per cell",
        "dominance": f"dominansregeln: {_dominance_rules_sv(rules)} av summan",
        "p_percent": f"p-procentregeln (p = {_number_text(rules.p_percent or 0)} %)",
        "min_events": f"minst {_number_text(rules.min_events_per_estimate)} händelser bakom en skattning",
        "min_persons": f"minst {n} personer bakom en skattning",
        "min_residual_df": f"minst {_number_text(rules.min_residual_df)} residualfrihetsgrader per modell",
        "events_unknown": "antal personer och händelser måste vara kända",
        "curve_at_risk": f"minst {_number_text(rules.at_risk_threshold)} i risk vid ett visat kurvsteg",
        "curve_events": f"minst {_number_text(rules.curve_events_threshold)} händelser mellan visade kurvsteg",
        "curve_group": "en kurvgrupp visas bara med minst ett steg som klarar reglerna",
        "extreme_share": "andelar på 0 % eller 100 % av en grupp visas inte",
        "audit": f"granskning: inget undertryckt antal får kunna ringas in snävare än {n}",
        "undeclared_diagnostic": "bara diagnostiska mått som är deklarerade som publicerbara visas",
        "row_level": "data på individnivå lämnar aldrig den säkra miljön",
        "source_blocked": "bygger bara på kontrollerade, publicerade utdata",
        "nothing_left": "en utdata utan något kvar att visa stoppas",
    }
    return names.get(rule, RULE_LABELS_SV.get(rule, rule))


def rounding_sv(rules: DisclosureRules) -> str:
    base = rules.rounding_base
    return "ingen avrundning" if not base or base <= 1 else f"avrundning till närmaste {base}"


def _small_cells_sv(n: int, unit: str = "personer") -> str:
    if n <= 1:
        return f"inga celler undertrycks för att de har få {unit}"
    if n == 2:
        return f"celler med 1 {'person' if unit == 'personer' else unit} undertrycks"
    return f"celler med 1–{n - 1} {unit} undertrycks"


def published_rule_sv(cls: DisclosureClass, rules: DisclosureRules, *, count: bool = False) -> str:
    """The rule a published number passed (short, for one row of the log)."""
    rounded = f"; {rounding_sv(rules)}" if count else ""
    if cls is DisclosureClass.FREQUENCY:
        return f"minst {rules.min_cell_count} personer per cell; inget tal räknebart ur summor{rounded}"
    if cls is DisclosureClass.MAGNITUDE:
        p = f", p-procentregeln {_number_text(rules.p_percent)} %" if rules.p_percent is not None else ""
        return (f"minst {rules.min_cell_count} bidragsgivare, dominansregeln ({_dominance_rules_sv(rules)}){p}"
                + rounded)
    if cls is DisclosureClass.MODEL:
        return (f"minst {rules.min_events_per_estimate} händelser och {rules.min_cell_count} personer bakom skattningen, "
                f"minst {rules.min_residual_df} residualfrihetsgrader" + rounded)
    if cls is DisclosureClass.SURVIVAL_CURVE:
        return (f"minst {rules.at_risk_threshold} i risk och {rules.curve_events_threshold} händelser sedan "
                "föregående visade steg" + rounded)
    if cls is DisclosureClass.TEXT_NUMBER:
        return (f"antal: minst {rules.min_cell_count} personer{rounded}" if count
                else "härlett ur kontrollerade, publicerade utdata")
    if cls is DisclosureClass.FIGURE:
        return "ritad bara ur kontrollerade, publicerade utdata"
    return "stoppas alltid"


def rules_text_sv(disclosure_class: DisclosureClass, rules: DisclosureRules) -> str:
    """The rules of one class with the thresholds in force, as one Swedish sentence."""
    cls, r = disclosure_class, rules
    rounding = rounding_sv(r)
    secondary = ("sekundär undertryckning över länkade tabeller, granskad så att inget undertryckt antal kan "
                 f"ringas in snävare än {r.min_cell_count}" if r.secondary_suppression else "ingen sekundär undertryckning")
    if cls is DisclosureClass.FREQUENCY:
        zeros = {
            "suppress": "nollor som röjer en egenskap hos alla i en grupp undertrycks",
            "flag": "nollor som röjer en egenskap hos alla i en grupp flaggas för manuell granskning",
            "off": "nollor som röjer en egenskap hos alla i en grupp kontrolleras inte",
        }.get(r.disclosive_zeros, f"röjande nollor: {r.disclosive_zeros}")
        return _sentence([_small_cells_sv(r.min_cell_count), zeros, secondary, rounding])
    if cls is DisclosureClass.MAGNITUDE:
        parts = [_small_cells_sv(r.min_cell_count, "bidragsgivare"),
                 f"en cell undertrycks om {_dominance_rules_sv(r)} av summan (dominansregeln)"]
        if r.p_percent is not None:
            parts.append(f"p-procentregeln med p = {_number_text(r.p_percent)} %")
        return _sentence([*parts, secondary, f"{rounding} av antalet bidragsgivare"])
    if cls is DisclosureClass.MODEL:
        return _sentence([
            f"skattningar som vilar på färre än {r.min_events_per_estimate} händelser (i den minsta jämförda gruppen) "
            f"eller färre än {r.min_cell_count} personer undertrycks",
            f"modeller med färre än {r.min_residual_df} residualfrihetsgrader undertrycks helt",
            "andelar på 0 % eller 100 % av en grupp undertrycks",
            "antal bredvid skattningarna som annars vore räknebara ur de andra nivåernas antal undertrycks",
            f"{rounding} av antal personer och händelser",
        ])
    if cls is DisclosureClass.SURVIVAL_CURVE:
        return _sentence([
            f"ett kurvsteg visas bara när minst {r.at_risk_threshold} är i risk och minst {r.curve_events_threshold} "
            "händelser har inträffat sedan föregående visade steg; dolda steg slås ihop med nästa visade",
            "steg med andelen 0 % eller 100 % visas inte",
            f"{rounding} av antal i risk och händelser",
        ])
    if cls is DisclosureClass.FIGURE:
        return _sentence(["ritas bara ur kontrollerade utdata", "en figur vars källa är stoppad stoppas"])
    if cls is DisclosureClass.TEXT_NUMBER:
        return _sentence([
            f"antal i texten följer regeln för frekvenstabeller ({_small_cells_sv(r.min_cell_count)})",
            "tal härledda ur andra utdata kräver att alla källor är kontrollerade och inte stoppade",
            rounding,
        ])
    if cls is DisclosureClass.ROW_LEVEL:
        return "Stoppas alltid: data på individnivå lämnar aldrig den säkra miljön."
    return ""


def _sentence(parts: list[str]) -> str:
    text = "; ".join(p for p in parts if p)
    return text[:1].upper() + text[1:] + "." if text else ""


# --- where the rules are set ------------------------------------------------------------------------

def _toml_value(value: Any) -> str:
    if value is None:
        return "0"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def changed_from_defaults(rules: DisclosureRules) -> list[tuple[str, str]]:
    """The ``[disclosure]`` keys whose value differs from the default, as (key, TOML value) pairs."""
    default = DisclosureRules()
    out = []
    for f in fields(DisclosureRules):
        value, base = getattr(rules, f.name), getattr(default, f.name)
        if value != base:
            out.append((f.name, _toml_value(value)))
    return out


def defaults_text_sv(rules: DisclosureRules | None = None) -> str:
    """Where the thresholds are set, the defaults, why no rounding by default, and this run's deviations."""
    d = DisclosureRules()
    text = (
        "Tröskelvärden, avrundningsbas och regler sätts i studiefilens tabell [disclosure] (study.toml); "
        "nycklar som inte anges där får standardvärdena. Standardvärdena är minst "
        f"{d.min_cell_count} personer per cell (min_cell_count = {d.min_cell_count}), röjande nollor undertrycks "
        f'(disclosive_zeros = "{d.disclosive_zeros}"), sekundär undertryckning över länkade tabeller '
        f"(secondary_suppression = true), minst {d.min_events_per_estimate} händelser bakom en skattning "
        f"(min_events_per_estimate = {d.min_events_per_estimate}), minst {d.min_residual_df} residualfrihetsgrader "
        f"(min_residual_df = {d.min_residual_df}), dominansregeln {_toml_value(d.dominance)} och p-procentregeln "
        f"p = {_number_text(d.p_percent or 0)} % för belopp, samma tröskel för kurvornas steg som för celler, och "
        "ingen avrundning (rounding_base = 0). Ingen avrundning är standard eftersom rapportens tabeller då går "
        "ihop för läsaren, och exakt undertryckning med ett granskat mönster ger ett känt skydd: granskningen visar "
        "att inget undertryckt antal kan ringas in snävare än tröskeln av de publicerade talen. Avrundning av alla "
        "publicerade antal till närmaste 5 eller 10 finns som alternativ med rounding_base = 5 eller 10."
    )
    if rules is not None:
        changed = changed_from_defaults(rules)
        if changed:
            text += " I den här körningen avviker: " + ", ".join(f"{k} = {v}" for k, v in changed) + "."
        else:
            text += " Den här körningen använder standardvärdena."
    return text
