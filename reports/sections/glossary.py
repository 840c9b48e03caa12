"""Section (appendix): the glossary — every measure and term of the report in plain Swedish, once."""

from __future__ import annotations

from markupsafe import Markup

from reports.sections import RenderContext, Section, no_outputs, register

# (term, explanation); alphabetical in Swedish order.
GLOSSARY_SV: tuple[tuple[str, str], ...] = (
    ("Avstämningsmöte", "Möte som Försäkringskassan kallar till med den sjukskrivne och t.ex. vården eller arbetsgivaren "
     "för att stämma av arbetsförmåga och åtgärder."),
    ("Censurering", "Uppföljningen av ett sjukfall slutar utan att utfallet har inträffat, t.ex. när data tar slut."),
    ("Diagnostik", "Förbestämda kontroller av att en skattning vilar på jämförbara grupper, tillräckligt många "
     "händelser och tillräcklig styrka. En skattning som inte klarar dem redovisas som osäker."),
    ("E-värde", "Hur starkt en okänd faktor skulle behöva hänga samman med både insatsen och utfallet (som kvot) för att "
     "helt förklara ett observerat samband. Ett högt E-värde betyder ett mer robust samband."),
    ("Emulerat försök", "En analys av registerdata som efterliknar ett försök: vid varje tidpunkt jämförs de som får "
     "insatsen just då med jämförbara som ännu inte fått den."),
    ("Hasardkvot", "Kvoten mellan två takter, här takten för återgång i arbete med och utan koordinering. Över 1 betyder "
     "snabbare återgång med koordinering."),
    ("Konfidensintervall (KI)", "Ett intervall kring en skattning som anger osäkerheten. Ett 95-procentigt intervall tas "
     "fram så att det i 95 fall av 100 innehåller det sanna värdet."),
    ("Konkurrerande händelse", "En händelse som gör att återgång i arbete inte längre kan inträffa inom sjukfallet: "
     "sjuk- eller aktivitetsersättning, dödsfall, utvandring eller 65-årsdagen."),
    ("Koordineringsinsats", "Insats enligt lag (2019:1297), registrerad i vården med KVÅ-koden GC001."),
    ("Medianoddskvot (MOR)", "Mått på hur mycket regionerna skiljer sig: den typiska oddskvoten mellan två patienter med "
     "samma bakgrund i två slumpvis valda regioner. 1 betyder inga skillnader."),
    ("Negativ kontroll", "Ett utfall som insatsen inte kan påverka. Samband med det visar systematiskt fel i metoden."),
    ("Odödlig tid", "Tid före insatsen som felaktigt räknas som tid med insats; gör att en insats som ges sent ser sämre "
     "ut än den är."),
    ("p-värde", "Sannolikheten att få ett minst lika stort samband av slump om det inte fanns något samband."),
    ("Procentenhet", "Skillnaden mellan två andelar: från 40 till 46 procent är 6 procentenheter."),
    ("Riskskillnad", "Skillnaden i andelen som har återgått i arbete vid en viss dag, i procentenheter."),
    ("Röjandekontroll", "Kontroll att ingen uppgift i rapporten vilar på så få personer att någon kan identifieras."),
    ("Sjukfall", "En sammanhängande period med sjukpenning; perioder med högst fem dagars uppehåll räknas som ett sjukfall."),
    ("Standardiserad kvot (observerat/förväntat)", "En regions antal jämfört med det antal regionens patienter skulle ha "
     "haft med rikets genomsnittliga praxis, givet deras ålder, diagnos och bakgrund."),
)


def render(ctx: RenderContext) -> Markup:
    return ctx.render("sections/glossary.html.j2", terms=GLOSSARY_SV)


SECTION = register(Section("ordlista", "Ordlista", 88, no_outputs, render))
