"""What the reader calls each analysis: the one mapping from analysis ids and designs to Swedish names.

Analysis ids (``tv_cox``, ``naive_ever``, the results tables' names) are the project's internal
names; no table, figure or sentence of the report shows them. A section that names an analysis
asks here. An analysis a study adds under its own id is named by its design; an unknown design
gets a neutral name rather than its id.
"""

from __future__ import annotations

# By design (analyses.designs.specs.DESIGNS): the name in a table's group heading or a sentence.
DESIGN_SV = {
    "time_varying_cox": "Cox-modell med koordinering som tidsberoende exponering",
    "time_varying_poisson": "Poissonmodell med koordinering som tidsberoende exponering",
    "target_trial": "Emulerade försök: koordinering nu jämfört med inte nu",
    "landmark": "Jämförelse från en fast dag i sjukfallet (landmärkesanalys)",
    "naive_ever_coordinated": "Naiv jämförelse: någon gång koordinerade mot aldrig koordinerade",
    "heterogeneity": "Skillnader i sambandet mellan grupper",
    "e_value": "E-värde: hur stark en okänd förväxlingsfaktor skulle behöva vara",
    "region_uptake": "Koordinering per region, standardiserad",
    "region_rtw": "Återgång i arbete per region, standardiserad",
    "region_variation": "Variation mellan regioner",
    "coordination_timing": "När den första koordineringsinsatsen kommer",
    "coordination_need": "Koordinering efter behov",
    "coordination_timing_strategies": "Tidig eller sen koordinering",
    "collaboration": "Samverkan i sjukfallen",
    "survey": "Enkät till samordnare",
    "negative_controls": "Negativa kontroller",
    "calibration": "Empirisk kalibrering",
    "interrupted_time_series": "Före och efter lagen (avbruten tidsserie)",
    "relapse_sensitivity": "Känslighet för regeln om återinsjuknande",
    "scenarios": "Scenarier för förslag",
}

# Short names, for running text and figure legends ("enligt Cox-modellen").
SHORT_SV = {
    "time_varying_cox": "Cox-modellen",
    "time_varying_poisson": "Poissonmodellen",
    "target_trial": "de emulerade försöken",
    "landmark": "landmärkesanalysen",
    "naive_ever_coordinated": "den naiva jämförelsen",
}

# Designs that estimate the association of question 1 (their ratios are results); the naive
# comparison is shown only in the method appendix, as the bias it is.
RESULT_DESIGNS = ("time_varying_cox", "time_varying_poisson", "target_trial", "landmark")
BIAS_DEMONSTRATION_DESIGNS = ("naive_ever_coordinated",)


def design_name(design: str | None) -> str:
    return DESIGN_SV.get(design or "", "Analys")


def short_name(design: str | None) -> str:
    return SHORT_SV.get(design or "", design_name(design).lower())


__all__ = ["BIAS_DEMONSTRATION_DESIGNS", "DESIGN_SV", "RESULT_DESIGNS", "SHORT_SV", "design_name", "short_name"]
