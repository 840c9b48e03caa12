"""The study file's choices as a readable Swedish table for the report's appendix (not raw TOML).

Each known setting has a Swedish label and a way to show its value; a setting the table does
not know is listed under "Övriga inställningar" with its value, so nothing the study chose is
hidden from the reader. Analyses are named by `reports.names`, never by their ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.formatting import format_date
from reports.names import design_name
from reports.sections.negative_controls import OUTCOME_SV

TABLE_SV = {"study": "Studien", "period": "Studieperiod", "population": "Population", "spells": "Sjukfall",
            "delivery": "Leveransen", "outcome": "Utfall", "person_time": "Persontid", "disclosure": "Röjandekontroll",
            "negative_controls": "Negativa kontroller", "analyses": "Analyser"}

SETTING_SV = {
    ("study", "name"): "Studiens namn",
    ("study", "description"): "Beskrivning",
    ("period", "spell_start_from"): "Sjukfall som börjar från och med",
    ("period", "spell_start_to"): "Sjukfall som börjar till och med",
    ("population", "age_min_years"): "Lägsta ålder vid sjukfallets start, år",
    ("population", "age_max_years"): "Högsta ålder vid sjukfallets start, år",
    ("population", "min_spell_days"): "Kortaste sjukfall som ingår, dagar",
    ("spells", "gap_days"): "Perioder med högst så här många dagars uppehåll bildar ett sjukfall (insjuknanderegeln)",
    ("spells", "include_rhp"): "Rehabiliteringspenning räknas in",
    ("spells", "include_asjp"): "Arbetslöshetsförsäkringens sjukpenning räknas in",
    ("spells", "extra_sick_leave_codes"): "Ytterligare förmånskoder som räknas som sjukskrivning",
    ("spells", "fsjp_rule"): "Förebyggande sjukpenning",
    ("delivery", "missing_lisa_years"): "Om ett LISA-år saknas i leveransen",
    ("outcome", "relapse_window_days"): "Fönster för återinsjuknande efter sjukfallets sista dag, dagar",
    ("outcome", "relapse"): "Nytt sjukfall inom fönstret",
    ("outcome", "return_to_work"): "Definition av återgång i arbete",
    ("person_time", "time_bands"): "Tidsintervall sedan sjukfallets start (första dag i varje intervall)",
    ("disclosure", "min_cell_count"): "Minsta antal personer eller händelser i en cell",
    ("disclosure", "disclosive_zeros"): "Grupper där alla hamnar i en kategori",
    ("disclosure", "secondary_suppression"): "Sekundär undertryckning över länkade tabeller",
    ("disclosure", "rounding_base"): "Avrundning av antal (0 = ingen)",
    ("disclosure", "min_events_per_estimate"): "Minsta antal händelser bakom en skattning",
    ("disclosure", "min_residual_df"): "Minsta antal residualfrihetsgrader i en modell",
    ("disclosure", "dominance"): "Dominansregel (n bidrag, högst procent av summan)",
    ("disclosure", "p_percent"): "p-procentregel, procent",
    ("disclosure", "curve_min_at_risk"): "Kurvor: minsta antal i risk per steg",
    ("disclosure", "curve_min_events"): "Kurvor: minsta antal händelser per steg",
    ("analyses", "run"): "Analyser som körs",
}

VALUE_SV = {
    "drop_spell": "sjukfallet tas bort (Försäkringskassans regel)",
    "refuse": "bygget stoppas", "allow": "bygget fortsätter, uppgifterna saknas",
    "benefit_end": "sjukfallet avslutas utan nytt sjukfall eller annan händelse inom fönstret",
    "earnings_confirmed": "som ovan, och arbetsinkomst månaden efter",
    "continue": "fortsätter det första sjukfallet", "censor": "censurerar det första sjukfallet",
    "event": "återgången räknas ändå",
    "suppress": "undertrycks", "flag": "markeras", "off": "ingen åtgärd",
    True: "ja", False: "nej",
}

# The analyses' ids map to their design (analyses.designs.specs); listed by their Swedish names.
ANALYSIS_DESIGN = {"tv_cox": "time_varying_cox", "tv_poisson": "time_varying_poisson", "naive_ever": "naive_ever_coordinated"}


def _value(key: tuple[str, str], value: Any) -> str:
    if key == ("analyses", "run"):
        return "; ".join(dict.fromkeys(design_name(ANALYSIS_DESIGN.get(v, v)) for v in value))
    if isinstance(value, bool) or (isinstance(value, str) and value in VALUE_SV):
        return VALUE_SV[value]
    if isinstance(value, list):
        return ", ".join(_value(key, v) for v in value) if value else "inga"
    if hasattr(value, "isoformat"):
        return format_date(value)
    return str(value)


def study_choice_rows(tables: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group heading, [(setting, value)]) for every table of the study file, in the file's order."""
    out = []
    other = []
    for table, settings in tables.items():
        if not isinstance(settings, Mapping):
            continue
        if table == "negative_controls":
            rows = [(OUTCOME_SV.get(str(o.get("id")), "Egen kontroll"), f"ICD-10 {', '.join(o.get('icd', []))}")
                    for o in settings.get("outcomes", [])]
            out.append((TABLE_SV[table] + " (vårdkontakt med huvuddiagnos; skälen står i studiefilen)", rows))
            continue
        rows = []
        for name, value in settings.items():
            label = SETTING_SV.get((table, name))
            if label is None:
                other.append((f"{TABLE_SV.get(table, table)}: {name.replace('_', ' ')}", _value((table, name), value)))
            else:
                rows.append((label, _value((table, name), value)))
        if rows:
            out.append((TABLE_SV.get(table, table.replace("_", " ")), rows))
    if other:
        out.append(("Övriga inställningar", other))
    return out


__all__ = ["SETTING_SV", "study_choice_rows"]
