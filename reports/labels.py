"""Swedish labels for the values of the analysis tables, derived from the code lists where they exist.

Values and code lists are declared once in `data_schemas`; this module only adds the Swedish
words a reader needs where no code list carries them (plural sex headings, age and education
groups, booleans).
"""

from __future__ import annotations

from collections.abc import Hashable

from data_schemas.codes import code_list, labels_sv, regions

SEX_PLURAL_SV = {"woman": "Kvinnor", "man": "Män", "all": "Totalt"}
SEX_SINGULAR_SV = {"woman": "kvinnor", "man": "män", "all": "samtliga"}

EDUCATION_GROUP_SV = {
    "low": "Förgymnasial (SUN 2000 nivå 1–2)",
    "medium": "Gymnasial (nivå 3–4)",
    "high": "Eftergymnasial (nivå 5–7)",
    "unknown": "Uppgift saknas",
}

YES_NO_SV = {True: "Ja", False: "Nej"}
MISSING_SV = "Uppgift saknas"

END_REASON_SV = {
    "return_to_work": "Återgång i arbete",
    "sickness_compensation": "Sjuk- eller aktivitetsersättning",
    "death": "Död",
    "emigration": "Utvandring",
    "age_65": "Fyllde 65 år",
    "censored": "Censurerad (uppföljningen slut eller återfall)",
}

ARM_SV = {True: "Koordinerad", False: "Ej koordinerad", "coordinated": "Koordinerad", "uncoordinated": "Ej koordinerad",
          "not_coordinated": "Ej koordinerad", "1": "Koordinerad", "0": "Ej koordinerad", 1: "Koordinerad", 0: "Ej koordinerad",
          "coordination_now": "Koordinering nu", "not_now": "Inte nu", "koordinerad": "Koordinerad",
          "ej_koordinerad": "Ej koordinerad"}
# Levels the analysis designs write besides the code lists' values.
DESIGN_LEVELS_SV = {"other_levels": "Övriga (sammanslagna, för få händelser var för sig)", "missing": "Uppgift saknas",
                    "true": "Ja", "false": "Nej"}

# What a subgroup variable is called in the text.
SUBGROUP_SV = {
    "all": "Samtliga",
    "overall": "Samtliga",
    "sex": "Kön",
    "age_group": "Åldersgrupp",
    "diagnosis_group": "Diagnosgrupp",
    "diagnosis_chapter_group": "Diagnoskapitel",
    "home_region_code": "Hemregion",
    "home_region_name": "Hemregion",
    "region": "Hemregion",
    "region_code": "Hemregion",
    "education_group": "Utbildning",
    "occupation_status": "Sysselsättning",
    "is_born_in_sweden": "Född i Sverige",
    "birth_region_code": "Födelseregion",
    "is_extent_below_100": "Sjukskriven på deltid vid start",
    "prior_sick_days_365_band": "Sjukskrivningsdagar året före",
    "prior_sick_days_730_band": "Sjukskrivningsdagar två år före",
    "start_year": "Startår",
    "age_band_5": "Ålder (femårsklass)",
    "days_since_spell_start": "Dagar sedan sjukfallets start",
}

ESTIMAND_SV = {
    "hazard_ratio": "Hasardkvot (HR)",
    "subdistribution_hazard_ratio": "Subdistributions-hasardkvot",
    "cause_specific_hazard_ratio": "Orsaksspecifik hasardkvot",
    "rate_ratio": "Incidenskvot (IRR)",
    "risk_difference": "Riskskillnad",
    "risk_ratio": "Riskkvot",
    "cumulative_incidence": "Kumulativ incidens",
    "survival": "Andel kvar i sjukfall",
    "restricted_mean": "Begränsad medeltid",
    "heterogeneity_wald_chi2": "Wald χ² (lika samband)",
    "e_value": "E-värde",
}

RATIO_ESTIMANDS = {"hazard_ratio", "subdistribution_hazard_ratio", "cause_specific_hazard_ratio", "rate_ratio",
                   "risk_ratio", "odds_ratio"}


# The regions' letters (länsbokstäver), for tiles and compact labels.
REGION_LETTERS_SV = {
    "01": "AB", "03": "C", "04": "D", "05": "E", "06": "F", "07": "G", "08": "H", "09": "I", "10": "K", "12": "M",
    "13": "N", "14": "O", "17": "S", "18": "T", "19": "U", "20": "W", "21": "X", "22": "Y", "23": "Z", "24": "AC",
    "25": "BD",
}

# The chapter on differences between regions: measures and terms in Swedish.
REGION_MEASURE_SV = {
    "uptake": "koordinering inom 90 dagar",
    "share_90": "återgång i arbete inom 90 dagar",
    "share_180": "återgång i arbete inom 180 dagar",
    "rate": "återgång i arbete per persontid",
    "coordination_rate": "koordinering per persontid",
}
REGION_ESTIMAND_SV = {
    "observed_share": "Observerad andel",
    "expected_share": "Förväntad andel",
    "standardised_share": "Standardiserad andel",
    "observed_expected_ratio": "Observerat/förväntat (O/F)",
    "shrunken_observed_expected_ratio": "Krympt O/F",
    "odds_ratio": "Oddskvot",
    "median_odds_ratio": "Medianoddskvot (MOR)",
    "median_rate_ratio": "Medianintensitetskvot (MRR)",
    "variance": "Varians mellan regioner",
    "icc_latent": "Andel av variationen mellan regioner (ICC)",
    "proportional_change_in_variance": "Förändring av variansen vid justering",
    "overdispersion_phi": "Överspridning (φ)",
    "between_region_variance_tau2": "Varians mellan regioner (τ²)",
}
REGION_GAP_SV = {
    "woman_vs_man": ("Kvinnor jämfört med män", "kvinnor och män"),
    "born_abroad_vs_sweden": ("Födda utomlands jämfört med i Sverige", "födda utomlands och födda i Sverige"),
    "education_low_vs_high": ("Förgymnasial jämfört med eftergymnasial utbildning",
                              "personer med förgymnasial och med eftergymnasial utbildning"),
}


def region_letter(code: Hashable) -> str:
    return REGION_LETTERS_SV.get(str(code), str(code))


def age_group_sv(label: str) -> str:
    return label.replace("-", "–") + " år"


def value_label(variable: str, value: Hashable) -> str:
    """The Swedish label of one value of an analysis-table column (falls back to the value)."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING_SV
    if isinstance(value, str) and value in DESIGN_LEVELS_SV:
        return DESIGN_LEVELS_SV[value]
    if variable == "sex":
        return SEX_PLURAL_SV.get(str(value), str(value))
    if variable in ("age_group", "age_band_5"):
        return age_group_sv(str(value))
    if variable == "education_group":
        return EDUCATION_GROUP_SV.get(str(value), str(value))
    if variable in ("diagnosis_group",):
        return {c.code: c.label_sv for c in code_list("diagnosis_groups")}.get(str(value), str(value))
    if variable == "diagnosis_chapter_group":
        return {c.code: c.label_sv for c in code_list("chapter_groups")}.get(str(value), str(value))
    if variable in ("home_region_code", "region_code", "region", "first_gc001_region_code"):
        return {r.code: r.name for r in regions()}.get(str(value), str(value))
    if variable == "occupation_status":
        return labels_sv("occupation_status_fk").get(str(value), str(value))
    if variable == "birth_region_code":
        return labels_sv("birth_region").get(str(value), str(value))
    if variable in ("extent_at_start_pct", "extent_at_end_pct"):
        return labels_sv("extent").get(str(value), f"{value} %")
    if variable == "end_reason":
        return END_REASON_SV.get(str(value), str(value))
    if variable in ("arm", "is_coordinated", "treatment", "exposure"):
        return ARM_SV.get(value, str(value))
    if isinstance(value, bool):
        return YES_NO_SV[value]
    return str(value)


def subgroup_label(subgroup: str | None, level: Hashable) -> str:
    """``('age_group', '30-39') -> 'Åldersgrupp: 30–39 år'``; overall rows -> 'Samtliga'."""
    if subgroup in (None, "", "all", "overall") or (isinstance(subgroup, float) and subgroup != subgroup):
        return "Samtliga"
    return f"{SUBGROUP_SV.get(str(subgroup), str(subgroup))}: {value_label(str(subgroup), level)}"


# The chapter on needs-based and timely coordination (`reports.sections.timing`): measures, strategies, need groups.
TIMING_MEASURE_SV = {
    "cif_first_gc001": "första koordineringsinsatsen (GC001)",
    "median_day_first_gc001": "dag för första koordineringsinsatsen (median)",
    "plan_dv077": "rehabiliteringsplan (DV077)",
    "plan_followup_aw026": "uppföljning av rehabiliteringsplanen (AW026)",
    "fk_informed_info4": "Försäkringskassan informerad (4 §)",
    "fk_meeting_avst": "avstämningsmöte med Försäkringskassan",
    "fk_informed_or_meeting": "Försäkringskassan informerad eller avstämningsmöte",
    "dose_gc001": "antal koordineringskontakter per koordinerat sjukfall",
    "need_model_auc": "behovsmodellens förmåga att skilja (AUC)",
    "need_calibration": "behovsmodellens kalibrering",
    "uptake_by_need": "koordinering inom 90 dagar efter behov",
    "concentration_index": "koncentrationsindex för koordinering efter behov",
    "gap_at_equal_need": "skillnad i koordinering vid lika behov",
    "unmet_need": "stort behov utan koordinering inom 90 dagar",
    "strategy_risk": "återgång i arbete per strategi",
    "strategy_contrast": "skillnad i återgång i arbete mellan strategier",
}
NEED_GAP_SV = {
    "woman_vs_man": ("Kvinnor jämfört med män", "kvinnor och män"),
    "born_abroad_vs_sweden": ("Födda utomlands jämfört med i Sverige", "födda utomlands och födda i Sverige"),
}


def strategy_label(strategy: Hashable) -> str:
    """``'by_day_30' -> 'Första koordinering senast dag 30'``; ``'none_within_90' -> 'Ingen koordinering inom 90 dagar'``."""
    text = str(strategy)
    for prefix, words in (("by_day_", "Första koordinering senast dag {}"), ("none_within_", "Ingen koordinering inom {} dagar")):
        if text.startswith(prefix) and text[len(prefix):].isdigit():
            return words.format(text[len(prefix):])
    return text.replace("_", " ")


def need_group_label(group: Hashable, n_groups: int = 10) -> str:
    """``'1' -> '1 (minst behov)'``, ``'10' -> '10 (störst behov)'``: need deciles, 1 the lowest predicted need."""
    text = str(group)
    if text == "1":
        return "1 (minst behov)"
    if text == str(n_groups):
        return f"{text} (störst behov)"
    return text


def covariate_label(indicator: str, *, in_sentence: bool = False) -> str:
    """A design's covariate level (``education_group__high``, as `analyses.designs.covariates.indicator_name`
    writes it) in Swedish: "Utbildning: Eftergymnasial (nivå 5–7)" ("utbildning: ..." in a sentence)."""
    variable, _, level = indicator.partition("__")
    name = SUBGROUP_SV.get(variable, "Annan bakgrundsfaktor")
    if in_sentence:
        name = name[:1].lower() + name[1:]
    if not level:
        return name
    if variable in ("age_group", "age_band_5"):
        level = level.replace("_", "-")  # the slug of "50-59"
    text = value_label(variable, level)
    if text == level and "_" in level:  # a slug no code list knows: its words, not its id
        text = level.replace("_", " ")
    return f"{name}: {text}"
