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
    D("tidmodell", C.MODEL, "Tid till första koordineringsinsatsen och stödet efter den",
      "Kumulativ incidens av första GC001 vid dag 30, 60, 90 och 180 och mediandagen, efter kön, ålder, diagnos, "
      "hemregion och startår; stödkedjan efter första GC001 (plan, uppföljning, FK informerad, avstämningsmöte) och "
      "antalet koordineringskontakter (results.coordination_timing)."),
    D("behovsmodell", C.MODEL, "Koordinering efter behov",
      "Behovsmodellens AUC och kalibrering, andel koordinerade inom 90 dagar per behovsdecil, koncentrationsindex, "
      "skillnader vid lika behov och andelen med stort behov utan koordinering per hemregion (results.coordination_need)."),
    D("ouppfyllt_behov", C.FREQUENCY, "Sjukfall med stort behov med och utan koordinering inom 90 dagar per hemregion",
      "Sjukfall i de tre högsta behovsdecilerna, med och utan första GC001 inom 90 dagar, efter hemregion, för samtliga, "
      "kvinnor och män (results.coordination_need, measure unmet_need)."),
    D("strategimodell", C.MODEL, "Tidig eller senare koordinering: emulerade strategier",
      "Kumulativ incidens av återgång i arbete vid 180 och 365 dagar per strategi (första koordinering senast dag 30, "
      "60, 90, ingen inom 90 dagar) och skillnaderna mellan dem, med diagnostik (results.coordination_timing_strategies)."),
    D("tidkurva", C.SURVIVAL_CURVE, "Kumulativ incidens i kapitlet om behov och tid",
      "Kurvor ur results.cif_curves för analyserna coordination_timing och coordination_timing_strategies: skattning, "
      "antal i risk och händelser per steg."),
    D("figur_tid_kurva", C.FIGURE, "Figur: tid till första koordineringsinsatsen", "Ritad ur en kontrollerad kurva."),
    D("figur_behovsgradient", C.FIGURE, "Figur: koordinering inom 90 dagar efter behov",
      "Ritad ur kontrollerade modellresultat."),
    D("figur_strategier", C.FIGURE, "Figur: återgång i arbete per strategi för koordineringens tidpunkt",
      "Ritad ur en kontrollerad kurva."),
    D("samverkanmodell", C.MODEL, "Samverkan med Försäkringskassan, Arbetsförmedlingen och arbetsgivare",
      "Försäkringskassans samverkanshändelser per 1 000 sjukfall och per koordinerat sjukfall, vem som deltog i "
      "avstämningsmötena, första 4 §-information och avstämningsmöte efter första GC001, inskrivning vid "
      "Arbetsförmedlingen bland arbetslösa och återgång i arbete efter samverkansform (results.collaboration)."),
    D("enkatmodell", C.MODEL, "Samordnarnas enkät om samverkan",
      "Svarsfrekvens per vårdnivå och region, andel som instämmer per påstående (viktat för bortfall), "
      "samverkansindex med Cronbachs alfa, Rao–Scott-test mellan regioner och vårdnivåer, och per region indexet "
      "bredvid andelen koordinerade och åter i arbete (ekologisk jämförelse) (results.survey)."),
    D("tidsserie", C.MODEL, "Före och efter lagen: avbruten tidsserie",
      "Andelen sjukfall åter i arbete inom 90 och 180 dagar per startmånad, och den segmenterade modellens "
      "nivå- och trendförändring vid lagen och pandemiperioden (results.interrupted_time_series)."),
    D("figur_tidsserie", C.FIGURE, "Figur: andel åter i arbete per startmånad före och efter lagen",
      "Ritad ur kontrollerade modellresultat."),
)

OUTPUTS += (  # issue 14: reports.sections.negative_controls
    D("kalibreringmodell", C.MODEL, "Negativa kontroller och kalibrerade konfidensintervall",
      "Kvoten efter första koordineringsinsatsen för varje negativ kontroll (vårdkontakter som koordineringen inte kan "
      "påverka), per modell och för samtliga, kvinnor och män (results.negative_controls); det systematiska felets "
      "fördelning (medelvärde, spridning, EASE) och huvudresultaten med kalibrerade intervall och p-värden "
      "(results.calibration)."),
)
OUTPUTS += (  # issue 15: reports.sections.proposals
    D("scenariomodell", C.MODEL, "Underlag för förslag: scenarier för koordineringen",
      "Andelen åter i arbete efter 90, 180 och 365 dagar i varje scenario och utan förändring (g-formeln), "
      "förändringen mot i dag, andelen koordinerade inom 90 dagar, och den observerade andelen som modellernas "
      "förlopp kontrolleras mot, för samtliga, kvinnor och män (results.scenarios)."),
)
OUTPUTS += (  # issue 14: reports.sections.relapse
    D("aterinsjuknandemodell", C.MODEL, "Känslighet för regeln om återinsjuknande",
      "Huvudresultatens kvot efter första koordineringsinsatsen (Cox- och Poissonmodellen) när ett nytt sjukfall inom "
      "fönstret fortsätter sjukfallet, censurerar det eller räknas som återgång, för samtliga, kvinnor, män och per "
      "diagnoskapitel (results.sensitivity_relapse)."),
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
