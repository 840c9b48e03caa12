"""The declaration of every output the report may show, with its disclosure class.

An output not declared here cannot be checked (`declaration` raises), so cannot be shown.
Outputs that exist once per analysis carry the key of their declaration and an instance id
(``modell:<analysis_id>``).
"""

from __future__ import annotations

from reports.disclosure import DisclosureClass as C
from reports.disclosure import OutputDeclaration as D

OUTPUTS: tuple[D, ...] = (
    D("karantan", C.FREQUENCY, "Rader i karantän per registerutdrag",
      "Rader som bröt mot leveransens kontrakt, per utdrag (raw._quarantine)."),
    D("leveransfiler", C.FREQUENCY, "Rader per levererad fil",
      "Antal rader i varje fil av leveransen (raw._manifest.rows_in)."),
    D("bortfall", C.FREQUENCY, "Urvalsflöde",
      "Personer och sjukfall kvar efter varje urvalssteg, och hur många varje steg tog bort, efter kön (attrition)."),
    D("tabell1", C.FREQUENCY, "Tabell 1: studiepopulationen efter kön",
      "Sjukfall efter bakgrundsvariabler vid sjukfallets start, för kvinnor, män och totalt (spells)."),
    D("avslut", C.FREQUENCY, "Hur uppföljningen av sjukfallen slutade",
      "Sjukfall efter end_reason, kön och koordinering (spells)."),
    D("inkomst", C.MAGNITUDE, "Arbetsinkomst före och efter sjukfallet",
      "Medelvärde av månadsinkomst (AGI) före sjukfallet och månaden efter, efter kön och koordinering (spells)."),
    D("modell", C.MODEL, "Modellresultat",
      "En resultattabell från koord analyse (schema results), en rad per skattning."),
    D("diagnostik", C.MODEL, "Diagnostik",
      "Diagnostiska mått för analyserna (t.ex. balans, proportionella hasarder, konvergens)."),
    D("kurva", C.SURVIVAL_CURVE, "Kumulativ incidens",
      "Kurvtabell från koord analyse: skattning, antal i risk och händelser per steg."),
    D("figur_kurva", C.FIGURE, "Figur: kumulativ incidens", "Ritad ur en kontrollerad kurva."),
    D("figur_forest", C.FIGURE, "Figur: skattningar per undergrupp", "Ritad ur kontrollerade modellresultat."),
    D("regioner_upptag", C.FREQUENCY, "Sjukfall följda dag 14 och koordinerade inom 90 dagar per hemregion",
      "Sjukfall som fortfarande följdes dag 14 och av dem koordinerade (första GC001 inom 90 dagar), efter hemregion, "
      "för samtliga, kvinnor och män (results.region_uptake)."),
    D("regionmodell", C.MODEL, "Skillnader mellan regioner",
      "Regionernas observerade, förväntade och standardiserade andelar, kvoten observerat/förväntat med trattgränser, "
      "krympta kvoter med rangordning, skillnader inom regioner och variationsmått (results.region_*)."),
    D("figur_tratt", C.FIGURE, "Figur: trattdiagram över regionerna", "Ritad ur kontrollerade modellresultat."),
    D("figur_regionkarta", C.FIGURE, "Figur: regionerna som rutkarta", "Ritad ur kontrollerade modellresultat."),
)

_BY_KEY = {d.key: d for d in OUTPUTS}


def declaration(key: str) -> D:
    """The declaration of output kind ``key``; an undeclared kind is an error."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"output {key!r} is not declared in reports/outputs.py; declared: {', '.join(_BY_KEY)}") from None


def instance_id(key: str, instance: str) -> str:
    """Id of one instance of a declared output: ``modell:rtw_cox``."""
    declaration(key)
    return f"{key}:{instance}"
