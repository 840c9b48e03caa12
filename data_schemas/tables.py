"""Contracts of the analysis tables that `koord build` writes (schema `main`), and their check.

Each `Table` states its grain, its key, every column with type, nullability and allowed
values, and the rules between columns and tables that must hold. `check_contract(con, table)`
verifies a built table and raises `ContractViolation` listing every breach; the build runs it
before it commits. The definitions the columns carry (end reasons and their precedence, age
and education groups, the home-region fallback) are written here once and used by the build.

Time origin of every spell: day 0 = the spell's first day (`spell_start_date`). Follow-up
intervals are (start_day, stop_day] in days since spell start; a spell's event happens at
`followup_days = end_date - spell_start_date + 1`. The first GC001 on date d gives
`t_c = d - spell_start_date`: person-time (0, t_c] is unexposed, (t_c, followup_days] exposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from data_schemas.codes import EXHAUSTION_DISORDER, code_list, codes, diagnosis_groups, regions
from data_schemas.study import RELAPSE_RULES
from koord.errors import ContractViolation
from koord.sql import sql_literal, sql_name, sql_values

# --- Definitions the analysis tables carry ------------------------------------------------

# Sex as the analysis tables spell it, from LISA's `Kon` code list (label 'Man' -> 'man').
SEX_BY_CODE: dict[str, str] = {c.code: c.label_en.lower() for c in code_list("sex")}
SEXES: tuple[str, ...] = tuple(sorted(SEX_BY_CODE.values(), reverse=True))  # ('woman', 'man')

# Competing events in order of precedence when they end follow-up on the same date.
COMPETING_EVENTS: tuple[str, ...] = ("death", "emigration", "sickness_compensation", "age_65")
END_REASONS: tuple[str, ...] = ("return_to_work", *COMPETING_EVENTS, "censored")
# The full order on one end_date: competing events, then a relapse (reason 'censored'), then
# return to work, then plain censoring.
END_PRECEDENCE: tuple[str, ...] = (*COMPETING_EVENTS, "relapse", "return_to_work", "censored")
AGE_65_BIRTHDAY = (7, 1)  # only the birth year is known: the 65th birthday is taken as 1 July

AGE_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("16-29", 16, 29),
    ("30-39", 30, 39),
    ("40-49", 40, 49),
    ("50-59", 50, 59),
    ("60-64", 60, 64),
)
# Five-year age bands for adjustment (the youngest, with few sick-listed, 16-24): fine enough that
# age confounds nothing within a band (`age_group` above is for reporting by age).
AGE_BANDS_5: tuple[tuple[str, int, int], ...] = (
    ("16-24", 16, 24), ("25-29", 25, 29), ("30-34", 30, 34), ("35-39", 35, 39), ("40-44", 40, 44),
    ("45-49", 45, 49), ("50-54", 50, 54), ("55-59", 55, 59), ("60-64", 60, 64),
)
# SUN 2000 levels (LISA Sun2000Niva): pre-secondary, upper-secondary, post-secondary.
EDUCATION_GROUPS: dict[str, tuple[int, ...]] = {"low": (1, 2), "medium": (3, 4), "high": (5, 6, 7)}
EDUCATION_GROUP_VALUES: tuple[str, ...] = (*EDUCATION_GROUPS, "unknown")

# Home region at spell start = LISA residence on 31 December of the year before the start
# year. When the person has no LISA row that year: the nearest earlier year, else the start
# year, else the nearest later year. A person with no LISA row at all is excluded.
HOME_REGION_SOURCES: tuple[str, ...] = ("year_before", "earlier_year", "start_year", "later_year")

# AGI (monthly earnings) exist from January 2019: earlier months are unobserved, not zero.
AGI_FIRST_MONTH = date(2019, 1, 1)

# The named exposure sub-window of `spells.is_coordinated_first_90_days` (day indices 0-89).
FIRST_DAYS_WINDOW = 90
# The lookback of `spells.prior_sick_days_365` and `has_prior_sick_leave`: days of the
# person's other spells on days -365 .. -1 before the start.
PRIOR_SICK_LEAVE_DAYS = 365
# Bands of prior sick days (prior_sick_days_365, prior_sick_days_730) as confounders: lower edges
# of the bands after '0' (0, 1-29, 30-89, 90-179, 180+). The amount of earlier sick leave, not a
# yes/no, is among the strongest confounders of coordination and return to work.
PRIOR_SICK_DAYS_BANDS = (1, 30, 90, 180)


def prior_sick_days_band_labels(edges: tuple[int, ...] = PRIOR_SICK_DAYS_BANDS) -> tuple[str, ...]:
    """'0', '1-29', '30-89', '90-179', '180+' for the default edges."""
    inner = tuple(f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:]))
    return ("0", *inner, f"{edges[-1]}+")


def prior_sick_days_band_sql(column: str, edges: tuple[int, ...] = PRIOR_SICK_DAYS_BANDS) -> str:
    """A DuckDB case expression giving the band label of ``column``."""
    labels = prior_sick_days_band_labels(edges)
    whens = [f"when {column} < {edges[0]} then '{labels[0]}'"]
    whens += [f"when {column} < {hi} then '{lab}'" for hi, lab in zip(edges[1:], labels[1:-1])]
    return "case " + " ".join(whens) + f" else '{labels[-1]}' end"

COLLABORATION_EVENT_COLUMNS: dict[str, str] = {c: f"n_fk_{c.lower()}" for c in codes("collaboration_event")}


def age_band_5_sql(age_column: str) -> str:
    """DuckDB CASE mapping an age in years to its `AGE_BANDS_5` label (NULL outside)."""
    whens = " ".join(f"when {age_column} between {lo} and {hi} then '{label}'" for label, lo, hi in AGE_BANDS_5)
    return f"case {whens} end"


def age_group_sql(age_column: str) -> str:
    """DuckDB CASE mapping an age in years to its `AGE_GROUPS` label (NULL outside)."""
    whens = " ".join(f"when {age_column} between {lo} and {hi} then '{label}'" for label, lo, hi in AGE_GROUPS)
    return f"case {whens} end"


def education_group_sql(level_column: str) -> str:
    """DuckDB CASE mapping a SUN 2000 level (INTEGER) to `EDUCATION_GROUPS`, else 'unknown'."""
    whens = " ".join(f"when {level_column} in ({', '.join(map(str, lv))}) then '{g}'" for g, lv in EDUCATION_GROUPS.items())
    return f"case {whens} else 'unknown' end"


# --- Contract declarations -----------------------------------------------------------------


@dataclass(frozen=True)
class TableColumn:
    """One column of an analysis table."""

    name: str
    sql_type: str  # DuckDB type as information_schema reports it
    description: str
    nullable: bool = False
    allowed: tuple[Any, ...] | None = None  # allowed values (besides NULL when nullable)
    description_sv: str = ""  # the description in Swedish, for the report and the data dictionary


@dataclass(frozen=True)
class Rule:
    """A condition every row must meet (a DuckDB expression; NULL counts as met)."""

    description: str
    sql: str


@dataclass(frozen=True)
class TableCheck:
    """A condition on the whole table or between tables: `sql` returns the number of breaches."""

    description: str
    sql: str


@dataclass(frozen=True)
class Table:
    """An analysis table: its grain, key, columns and the rules it must meet."""

    name: str
    grain: str  # "one row per ..."
    description: str
    key: tuple[str, ...]
    columns: tuple[TableColumn, ...]
    rules: tuple[Rule, ...] = ()
    checks: tuple[TableCheck, ...] = ()
    schema: str = "main"
    grain_sv: str = ""  # the grain in Swedish ("en rad per ..."), for the report and the data dictionary

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> TableColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


C = TableColumn
REGION_CODES = tuple(r.code for r in regions())
REGION_NAMES = tuple(r.name for r in regions())
CHAPTER_GROUPS = tuple(c.code for c in code_list("chapter_groups"))
DIAGNOSIS_GROUPS = tuple(dict.fromkeys(g.group for g in diagnosis_groups()))

PERSONS = Table(
    name="persons",
    grain="one row per person with at least one spell in the study population",
    grain_sv="en rad per person med minst ett sjukfall i studiepopulationen",
    description="The persons of the study population, with what LISA and the death register say of them.",
    key=("person_id",),
    columns=(
        C("person_id", "BIGINT", "Pseudonymised person number (LopNr).",
          description_sv="Pseudonymiserat personnummer (LopNr)."),
        C("sex", "VARCHAR", "Sex per LISA (the latest year the person is in LISA).",
          description_sv="Kön enligt LISA (det senaste år personen finns i LISA).", allowed=SEXES),
        C("birth_year", "INTEGER", "Year of birth per LISA (the latest year).",
          description_sv="Födelseår enligt LISA (det senaste året)."),
        C("death_date", "DATE", "Date of death (death register; day 00 read as the 15th); NULL if alive at extraction.",
          description_sv="Dödsdatum (dödsorsaksregistret; dag 00 läses som den 15:e); NULL om personen levde vid uttaget.", nullable=True),
        C("n_spells", "INTEGER", "Number of the person's spells in the study population (>= 1).",
          description_sv="Antal sjukfall för personen i studiepopulationen (>= 1)."),
    ),
    rules=(Rule("n_spells >= 1", "n_spells >= 1"),),
    checks=(
        TableCheck(
            "n_spells equals the person's rows in spells",
            "select count(*) from main.persons p full join (select person_id, count(*) n from main.spells group by 1) s "
            "using (person_id) where p.n_spells is distinct from s.n",
        ),
    ),
)

_EVENT_COLUMNS = tuple(f"event_{r}" for r in END_REASONS if r != "censored")
# How a spell ends, in Swedish words, for the Swedish descriptions of the event columns.
_END_REASON_WORDS_SV = {"return_to_work": "återgång i arbete", "death": "dödsfall", "emigration": "utvandring",
                        "sickness_compensation": "sjuk- eller aktivitetsersättning",
                        "age_65": "att personen fyller 65 år"}

SPELLS = Table(
    name="spells",
    grain="one row per sick-leave spell (sjukfall) in the study population",
    grain_sv="en rad per sjukfall i studiepopulationen",
    description=(
        "Spells built from FK benefit periods by the gap rule, restricted to the study population, "
        "with coordination exposure, collaboration events, outcome and covariates at start."
    ),
    key=("spell_id",),
    columns=(
        C("spell_id", "BIGINT", "Spell key, stable for a given delivery and study (order of person and start).",
          description_sv="Sjukfallets nyckel, stabil för en given leverans och studie (ordnad efter person och start)."),
        C("person_id", "BIGINT", "Pseudonymised person number.",
          description_sv="Pseudonymiserat personnummer (löpnummer)."),
        C("sex", "VARCHAR", "Sex per LISA.", description_sv="Kön enligt LISA.", allowed=SEXES),
        C("spell_start_date", "DATE", "Day 0: the earliest InsjuknandeDatum of the spell's periods (includes the employer's sick-pay days).",
          description_sv=("Dag 0: det tidigaste InsjuknandeDatum bland sjukfallets perioder (arbetsgivarens sjuklönedagar "
           "ingår).")),
        C("spell_end_date", "DATE", "The spell's last benefit day (latest TomDatum); NULL if open at extraction.",
          description_sv="Sjukfallets sista ersättningsdag (senaste TomDatum); NULL om det pågår vid uttaget.", nullable=True),
        C("is_open_at_extraction", "BOOLEAN", "Some period is open (no TomDatum) or ends after the extraction date.",
          description_sv="Någon period pågår (saknar TomDatum) eller slutar efter uttagsdatum."),
        C("end_date", "DATE", "Date follow-up of the spell ends: its event or censoring (see end_reason). Under the "
          "relapse rule 'continue' it may lie in a later spell of the spell's relapse chain (n_relapse_spells > 0).",
          description_sv=("Datum då sjukfallets uppföljning slutar: vid händelse eller censurering (se end_reason). Med "
           "återfallsregeln 'continue' kan det ligga i ett senare sjukfall i återfallskedjan (n_relapse_spells >"
           " 0).")),
        C("spell_days", "INTEGER", "spell_end_date - spell_start_date + 1; open spells measured to the extraction date.",
          description_sv="spell_end_date - spell_start_date + 1; pågående sjukfall mäts till uttagsdatum."),
        C("followup_days", "INTEGER", "end_date - spell_start_date + 1: the time of the event or censoring.",
          description_sv="end_date - spell_start_date + 1: tiden till händelse eller censurering."),
        C(
            "end_reason",
            "VARCHAR",
            "How follow-up ends. Competing events during the spell end follow-up on their date (death, emigration; "
            "SA/AE start the day before; age_65 on 1 July of birth year + 65); after the last day but within the "
            "relapse window they give the reason with end_date = the last day. Same end_date: death > emigration > "
            "sickness_compensation > age_65 > relapse (censored) > return_to_work. return_to_work: the spell ended, "
            "no competing event within the window, the window is observed before extraction (and with "
            "earnings_confirmed, AGI pay > 0 the month after). Otherwise censored. A relapse (a new spell within the "
            "window, study.toml [outcome] relapse): 'continue' (default) the follow-up runs on through the new spell "
            "and any relapse of it (the spell's relapse chain), competing events in the gaps between its spells end "
            "it on the last day before them, and the return to work is the end of the chain's last spell (a "
            "sustained return); 'censor' the spell is censored on its last day; 'event' the return to work counts "
            "all the same (any return).",
            description_sv=("Hur uppföljningen slutar. Konkurrerande händelser under sjukfallet avslutar uppföljningen på sitt "
             "datum (död, utvandring; SA/AE dagen före ersättningens start; age_65 den 1 juli det år personen "
             "fyller 65); efter sista dagen men inom återfallsfönstret ger de orsaken med end_date = sista dagen. "
             "Vid samma end_date: death > emigration > sickness_compensation > age_65 > återfall (censored) > "
             "return_to_work. return_to_work: sjukfallet avslutades, ingen konkurrerande händelse inom fönstret, "
             "fönstret är observerat före uttaget (och med earnings_confirmed AGI-lön > 0 månaden efter). Annars "
             "censored. Vid återfall (ett nytt sjukfall inom fönstret, study.toml [outcome] relapse): 'continue' "
             "(standard): uppföljningen fortsätter genom det nya sjukfallet och dess eventuella återfall "
             "(sjukfallets återfallskedja), konkurrerande händelser i glappen mellan kedjans sjukfall avslutar den"
             " sista dagen före dem, och återgången i arbete är slutet på kedjans sista sjukfall (varaktig "
             "återgång); 'censor': sjukfallet censureras sin sista dag; 'event': återgången i arbete räknas ändå "
             "(varje återgång)."),
            allowed=END_REASONS,
        ),
        C("is_relapse_within_window", "BOOLEAN", "A new spell of the person starts at most relapse_window_days after spell_end_date "
          "(this spell's own last day), under every relapse rule: with 'continue' the follow-up then runs on into that "
          "spell, with 'censor' the spell is censored on its last day, with 'event' its end may still be a return to work.",
          description_sv=("Ett nytt sjukfall för personen börjar högst relapse_window_days efter spell_end_date (sjukfallets "
           "egen sista dag), oavsett återfallsregel: med 'continue' fortsätter uppföljningen då in i det "
           "sjukfallet, med 'censor' censureras sjukfallet sin sista dag, med 'event' kan dess slut ändå vara "
           "återgång i arbete.")),
        C("n_relapse_spells", "INTEGER", "Later spells of the spell's relapse chain, into which its follow-up runs on "
          "unless a competing event ends it first (relapse rule 'continue'; 0 under 'censor' and 'event'). Those that "
          "are in the study population are not rows of spells: the attrition table counts them at its step "
          "'relapse_continuation'.",
          description_sv=("Senare sjukfall i återfallskedjan som uppföljningen fortsätter in i, om ingen konkurrerande händelse"
           " avslutar den först (återfallsregeln 'continue'; 0 med 'censor' och 'event'). De som ingår i "
           "studiepopulationen är inte egna rader i spells: bortfallstabellen räknar dem i steget "
           "'relapse_continuation'.")),
        C("n_benefit_periods", "INTEGER", "Benefit periods (of the benefits the study counts) in the spell, duplicates included.",
          description_sv="Antal ersättningsperioder (för de förmåner studien räknar) i sjukfallet, dubbletter inräknade."),
        C("has_rhp", "BOOLEAN", "The spell includes a rehabilitation benefit (RHP) period.",
          description_sv="Sjukfallet innehåller en period med rehabiliteringspenning (RHP)."),
        C("first_fk_period_date", "DATE", "First day paid by FK (day 15 for employees, whose first 14 days the employer pays).",
          description_sv="Första dag som FK betalat (dag 15 för anställda, vars första 14 dagar arbetsgivaren betalar)."),
        C("diagnosis_code", "VARCHAR", "The spell's diagnosis: the first registered (earliest FomDatum with a valid code), canonical ICD-10-SE.",
          description_sv=("Sjukfallets diagnos: den först registrerade (tidigaste FomDatum med giltig kod), normaliserad "
           "ICD-10-SE."), nullable=True),
        C("diagnosis_group", "VARCHAR", "Reporting group of diagnosis_code (data_schemas/codes/diagnosis_groups.csv).",
          description_sv="Redovisningsgrupp för diagnosis_code (data_schemas/codes/diagnosis_groups.csv).", allowed=DIAGNOSIS_GROUPS),
        C("diagnosis_chapter_group", "VARCHAR", "psychiatric, musculoskeletal, other or unknown.",
          description_sv=("Grupp av diagnoskapitel: psychiatric (psykiatriska), musculoskeletal (muskuloskeletala), other "
           "(övriga) eller unknown (okänd)."), allowed=CHAPTER_GROUPS),
        C("is_exhaustion_disorder", "BOOLEAN", f"diagnosis_code is {EXHAUSTION_DISORDER} (utmattningssyndrom).",
          description_sv=f"diagnosis_code är {EXHAUSTION_DISORDER} (utmattningssyndrom)."),
        C("extent_at_start_pct", "INTEGER", "Extent of the spell's first period (per cent of full time).",
          description_sv="Omfattning i sjukfallets första period (procent av heltid).", allowed=tuple(int(c) for c in codes("extent"))),
        C("extent_at_end_pct", "INTEGER", "Extent of the spell's last period.",
          description_sv="Omfattning i sjukfallets sista period.", allowed=tuple(int(c) for c in codes("extent"))),
        C("has_extent_reduction", "BOOLEAN", "The extent went down at some point (partial return); segments in intermediate.int_spell_extents_segmented.",
          description_sv=("Omfattningen sänktes någon gång (partiell återgång); segmenten finns i "
           "intermediate.int_spell_extents_segmented.")),
        C("occupation_status", "VARCHAR", "FK's occupation status at the first period's start.",
          description_sv="Sysselsättning enligt Försäkringskassan vid första periodens start.", allowed=codes("occupation_status_fk")),
        C("home_region_code", "VARCHAR", "Region of residence per LISA of the year before the start year (fallback: home_region_source).",
          description_sv="Bosättningsregion enligt LISA året före startåret (reservregel: home_region_source).", allowed=REGION_CODES),
        C("home_region_name", "VARCHAR", "Name of home_region_code.",
          description_sv="Namn på home_region_code.", allowed=REGION_NAMES),
        C("home_region_year", "INTEGER", "The LISA year home region, education, income and birth region come from.",
          description_sv="Det LISA-år som hemregion, utbildning, inkomst och födelseregion hämtas från."),
        C(
            "home_region_source",
            "VARCHAR",
            "Which LISA year was used: year_before (the rule), else earlier_year (nearest), else start_year, else later_year (nearest).",
            description_sv=("Vilket LISA-år som användes: year_before (regeln), annars earlier_year (närmast före), annars "
             "start_year, annars later_year (närmast efter)."),
            allowed=HOME_REGION_SOURCES,
        ),
        C("birth_year", "INTEGER", "Year of birth per LISA.", description_sv="Födelseår enligt LISA."),
        C("age_years", "INTEGER", "year(spell_start_date) - birth_year.",
          description_sv="Ålder i år: year(spell_start_date) - birth_year."),
        C("age_group", "VARCHAR", "Age group: " + ", ".join(g for g, _, _ in AGE_GROUPS) + ".",
          description_sv="Åldersgrupp: " + ", ".join(g for g, _, _ in AGE_GROUPS) + ".", allowed=tuple(g for g, _, _ in AGE_GROUPS)),
        C("education_level", "INTEGER", "SUN 2000 level 1-7 (LISA, home_region_year).",
          description_sv="SUN 2000-nivå 1-7 (LISA, home_region_year).", nullable=True, allowed=tuple(range(1, 8))),
        C(
            "education_group",
            "VARCHAR",
            "low (levels 1-2, pre-secondary), medium (3-4, upper-secondary), high (5-7, post-secondary), unknown.",
            description_sv="low (nivå 1-2, förgymnasial), medium (3-4, gymnasial), high (5-7, eftergymnasial), unknown (okänd).",
            allowed=EDUCATION_GROUP_VALUES,
        ),
        C("disposable_income_hsek", "BIGINT", "Individual disposable income, hundreds of SEK (LISA, home_region_year).",
          description_sv="Individens disponibla inkomst i hundratal kronor (LISA, home_region_year).", nullable=True),
        C("birth_region_code", "VARCHAR", "Region of birth (FodGrEg4): 1 Sweden, 2 Nordic, 3 EU/EEA, 4 rest of the world.",
          description_sv="Födelseregion (FodGrEg4): 1 Sverige, 2 Norden, 3 EU/EES, 4 övriga världen.", nullable=True, allowed=codes("birth_region")),
        C("is_born_in_sweden", "BOOLEAN", "birth_region_code is Sweden; NULL when unknown.",
          description_sv="birth_region_code är Sverige; NULL om okänd.", nullable=True),
        C("prior_sick_days_365", "INTEGER", "Days of the person's other spells (any extent, employer days included) in the 365 days before spell start. "
          "The designs adjust for it in bands 0, 1-29, 30-89, 90-179, 180+ (PRIOR_SICK_DAYS_BANDS, covariate "
          "prior_sick_days_365_band).",
          description_sv=("Dagar i personens andra sjukfall (oavsett omfattning, arbetsgivardagar inräknade) under de 365 "
           "dagarna före sjukfallets start. Analyserna justerar för dem i klasserna 0, 1-29, 30-89, 90-179, 180+"
           " (PRIOR_SICK_DAYS_BANDS, kovariaten prior_sick_days_365_band).")),
        C("has_prior_sick_leave", "BOOLEAN", "prior_sick_days_365 > 0 (descriptive; the designs use the amount).",
          description_sv="prior_sick_days_365 > 0 (beskrivande; analyserna använder antalet dagar)."),
        C("prior_sick_days_730", "INTEGER", "Days of the person's other spells (any extent, employer days included) in the 730 days before spell start.",
          description_sv=("Dagar i personens andra sjukfall (oavsett omfattning, arbetsgivardagar inräknade) under de 730 "
           "dagarna före sjukfallets start.")),
        C("first_gc001_date", "DATE", "First care contact with KVÅ GC001 in [spell_start_date, end_date], any region.",
          description_sv="Första vårdkontakt med KVÅ-kod GC001 i [spell_start_date, end_date], oavsett region.", nullable=True),
        C("days_to_first_gc001", "INTEGER", "t_c = first_gc001_date - spell_start_date (0 = the first day).",
          description_sv="t_c = first_gc001_date - spell_start_date (0 = första dagen).", nullable=True),
        C("n_gc001", "INTEGER", "Care contacts with GC001 in [spell_start_date, end_date].",
          description_sv="Antal vårdkontakter med GC001 i [spell_start_date, end_date]."),
        C("is_coordinated", "BOOLEAN", "A GC001 contact in [spell_start_date, end_date].",
          description_sv="Någon vårdkontakt med GC001 i [spell_start_date, end_date]."),
        C("is_coordinated_first_90_days", "BOOLEAN", f"The first GC001 on day index 0-{FIRST_DAYS_WINDOW - 1} of the spell (and within follow-up).",
          description_sv=f"Första GC001 på dagindex 0-{FIRST_DAYS_WINDOW - 1} i sjukfallet (och inom uppföljningen)."),
        C("first_gc001_care_level", "VARCHAR", "Care level of the first GC001 contact (PV, SSV, PSY).",
          description_sv="Vårdnivå för den första GC001-kontakten (PV, SSV, PSY).", nullable=True, allowed=codes("care_level")),
        C("first_gc001_region_code", "VARCHAR", "Region that gave the first GC001 contact.",
          description_sv="Region som gav den första GC001-kontakten.", nullable=True, allowed=REGION_CODES),
        C("is_gc001_in_home_region", "BOOLEAN", "first_gc001_region_code = home_region_code; NULL if not coordinated.",
          description_sv="first_gc001_region_code = home_region_code; NULL om ej koordinerat.", nullable=True),
        C("first_dv077_date", "DATE", "First care contact with KVÅ DV077 in [spell_start_date, end_date].",
          description_sv="Första vårdkontakt med KVÅ-kod DV077 i [spell_start_date, end_date].", nullable=True),
        C("days_to_first_dv077", "INTEGER", "first_dv077_date - spell_start_date (0 = the first day).",
          description_sv="first_dv077_date - spell_start_date (0 = första dagen).", nullable=True),
        C("n_dv077", "INTEGER", "Care contacts with DV077 in [spell_start_date, end_date].",
          description_sv="Antal vårdkontakter med DV077 i [spell_start_date, end_date]."),
        C("first_aw026_date", "DATE", "First care contact with KVÅ AW026 (follow-up of the rehabilitation plan) in [spell_start_date, end_date].",
          description_sv=("Första vårdkontakt med KVÅ-kod AW026 (uppföljning av rehabiliteringsplanen) i [spell_start_date, "
           "end_date]."), nullable=True),
        C("days_to_first_aw026", "INTEGER", "first_aw026_date - spell_start_date (0 = the first day).",
          description_sv="first_aw026_date - spell_start_date (0 = första dagen).", nullable=True),
        C("n_aw026", "INTEGER", "Care contacts with AW026 in [spell_start_date, end_date].",
          description_sv="Antal vårdkontakter med AW026 i [spell_start_date, end_date]."),
        *(c for code, col in COLLABORATION_EVENT_COLUMNS.items() for c in (
            C(col, "INTEGER", f"FK collaboration events {code} in [spell_start_date, end_date].",
              description_sv=f"Antal samverkanshändelser {code} hos FK i [spell_start_date, end_date]."),
            C(f"days_to_first_{col[2:]}", "INTEGER", f"Day of the first FK collaboration event {code} in "
              "[spell_start_date, end_date] - spell_start_date (0 = the first day); NULL if none.",
              description_sv=f"Dagindex för första samverkanshändelse {code} hos FK i [spell_start_date, end_date], "
              "räknat från spell_start_date (0 = första dagen); NULL om ingen.", nullable=True),
        )),
        C("days_to_first_avst_employer", "INTEGER", "Day index of the first reconciliation meeting (AVST) in "
          "[spell_start_date, end_date] with the employer taking part (DeltagArbetsgivare = 1); NULL if none.",
          description_sv=("Dagindex för första avstämningsmöte (AVST) i [spell_start_date, end_date] där arbetsgivaren deltog "
           "(DeltagArbetsgivare = 1); NULL om inget."), nullable=True),
        C("is_registered_af_at_start", "BOOLEAN", "An AF registration period (af_inskrivning) runs on spell_start_date "
          "(registered on or before it, not deregistered before it).",
          description_sv=("En inskrivningsperiod vid AF (af_inskrivning) pågår på spell_start_date (inskriven senast den dagen "
           "och inte avaktualiserad före den).")),
        C("days_to_af_registration", "INTEGER", "Day index of the first AF registration starting in "
          "[spell_start_date, end_date] - spell_start_date; NULL if none.",
          description_sv=("Dagindex för första inskrivning vid AF som börjar i [spell_start_date, end_date], räknat från "
           "spell_start_date; NULL om ingen."), nullable=True),
        C(
            "earnings_before_sek",
            "DOUBLE",
            "Mean monthly AGI cash pay over the 12 calendar months before the start month, months from "
            f"{AGI_FIRST_MONTH:%Y-%m} only (a month without AGI rows counts 0); NULL if no such month.",
            description_sv=("Genomsnittlig kontant månadslön enligt AGI under de 12 kalendermånaderna före startmånaden, endast månader "
             f"från {AGI_FIRST_MONTH:%Y-%m} (en månad utan AGI-rader räknas som 0); NULL om ingen sådan månad."),
            nullable=True,
        ),
        C(
            "earnings_after_sek",
            "BIGINT",
            "AGI cash pay in the calendar month after the month of spell_end_date (0 if none); NULL for open spells "
            f"or a month before {AGI_FIRST_MONTH:%Y-%m} or after the extraction month. (With return_to_work = "
            "'earnings_confirmed' and the relapse rule 'continue', the return to work reads the month after the last "
            "spell of the relapse chain instead.)",
            description_sv=("Kontant lön enligt AGI i kalendermånaden efter månaden för spell_end_date (0 om ingen); NULL för pågående "
             f"sjukfall eller en månad före {AGI_FIRST_MONTH:%Y-%m} eller efter uttagsmånaden. (Med return_to_work = "
             "'earnings_confirmed' och återfallsregeln 'continue' avläses i stället månaden efter återfallskedjans "
             "sista sjukfall.)"),
            nullable=True,
        ),
        C("has_earnings_month_after", "BOOLEAN", "earnings_after_sek > 0; NULL when earnings_after_sek is NULL.",
          description_sv="earnings_after_sek > 0; NULL när earnings_after_sek är NULL.", nullable=True),
    ),
    rules=(
        Rule("end_date on or after spell_start_date", "end_date >= spell_start_date"),
        Rule("followup_days = end_date - spell_start_date + 1", "followup_days = end_date - spell_start_date + 1"),
        Rule("followup_days <= spell_days unless the follow-up runs on into relapses", "n_relapse_spells > 0 or followup_days <= spell_days"),
        Rule("n_relapse_spells >= 0", "n_relapse_spells >= 0"),
        Rule("a chained follow-up follows a relapse", "n_relapse_spells = 0 or is_relapse_within_window"),
        Rule("spell_end_date is NULL exactly when open", "(spell_end_date is null) = is_open_at_extraction"),
        Rule("spell_days = spell_end_date - spell_start_date + 1", "spell_end_date is null or spell_days = spell_end_date - spell_start_date + 1"),
        Rule("first_fk_period_date on or after spell_start_date", "first_fk_period_date >= spell_start_date"),
        Rule("is_coordinated exactly when first_gc001_date", "is_coordinated = (first_gc001_date is not null)"),
        Rule("n_gc001 > 0 exactly when coordinated", "(n_gc001 > 0) = is_coordinated"),
        Rule("days_to_first_gc001 = first_gc001_date - spell_start_date", "days_to_first_gc001 is not distinct from (first_gc001_date - spell_start_date)"),
        Rule("coordination within follow-up", "days_to_first_gc001 is null or days_to_first_gc001 between 0 and followup_days - 1"),
        Rule(
            "is_coordinated_first_90_days matches days_to_first_gc001",
            f"is_coordinated_first_90_days = coalesce(days_to_first_gc001 < {FIRST_DAYS_WINDOW}, false)",
        ),
        Rule("is_gc001_in_home_region NULL exactly when not coordinated", "(is_gc001_in_home_region is null) = not is_coordinated"),
        Rule("first_dv077_date within follow-up", "first_dv077_date is null or first_dv077_date between spell_start_date and end_date"),
        Rule("(n_dv077 > 0) exactly when first_dv077_date", "(n_dv077 > 0) = (first_dv077_date is not null)"),
        Rule("first_aw026_date within follow-up", "first_aw026_date is null or first_aw026_date between spell_start_date and end_date"),
        Rule("(n_aw026 > 0) exactly when first_aw026_date", "(n_aw026 > 0) = (first_aw026_date is not null)"),
        Rule("days_to_first_aw026 = first_aw026_date - spell_start_date", "days_to_first_aw026 is not distinct from (first_aw026_date - spell_start_date)"),
        Rule(
            "return_to_work only after a closed spell, on its last day or (relapse rule 'continue') later in its chain",
            "end_reason <> 'return_to_work' or (spell_end_date is not null and (n_relapse_spells > 0 or end_date = spell_end_date))",
        ),
        Rule("relapse only after a closed spell", "not is_relapse_within_window or spell_end_date is not null"),
        Rule("age_group matches age_years", f"age_group = {age_group_sql('age_years')}"),
        Rule("age_years = year(spell_start_date) - birth_year", "age_years = year(spell_start_date) - birth_year"),
        Rule("education_group matches education_level", f"education_group = {education_group_sql('education_level')}"),
        Rule("prior_sick_days_365 within 0-365", "prior_sick_days_365 between 0 and 365"),
        Rule("has_prior_sick_leave = prior_sick_days_365 > 0", "has_prior_sick_leave = (prior_sick_days_365 > 0)"),
        Rule("prior_sick_days_730 within prior_sick_days_365-730", "prior_sick_days_730 between prior_sick_days_365 and 730"),
        Rule("days_to_first_dv077 = first_dv077_date - spell_start_date", "days_to_first_dv077 is not distinct from (first_dv077_date - spell_start_date)"),
        *(Rule(f"days_to_first_{col[2:]} NULL exactly when {col} = 0", f"(days_to_first_{col[2:]} is null) = ({col} = 0)")
          for col in COLLABORATION_EVENT_COLUMNS.values()),
        Rule("employer meeting within follow-up and not before the first AVST",
             "days_to_first_avst_employer is null or (days_to_first_avst_employer between days_to_first_fk_avst and followup_days - 1)"),
        Rule("AF registration within follow-up", "days_to_af_registration is null or days_to_af_registration between 0 and followup_days - 1"),
        Rule("is_exhaustion_disorder matches diagnosis_code", f"is_exhaustion_disorder = coalesce(diagnosis_code = '{EXHAUSTION_DISORDER}', false)"),
        Rule("diagnosis_group unknown exactly when no diagnosis", "(diagnosis_code is null) <= (diagnosis_group = 'unknown')"),
        Rule("has_earnings_month_after = earnings_after_sek > 0", "has_earnings_month_after is not distinct from (earnings_after_sek > 0)"),
        Rule("earnings are not negative", "coalesce(earnings_before_sek, 0) >= 0 and coalesce(earnings_after_sek, 0) >= 0"),
    ),
    checks=(
        TableCheck(
            "every spell's person is in persons with the same sex",
            "select count(*) from main.spells s left join main.persons p using (person_id) where p.sex is distinct from s.sex",
        ),
        TableCheck(
            "spells of one person do not overlap",
            "select count(*) from (select spell_start_date, lag(end_date) over (partition by person_id order by spell_start_date) prev_end "
            "from main.spells) where spell_start_date <= prev_end",
        ),
    ),
)

PERSON_TIME = Table(
    name="person_time",
    grain="one row per spell x time band x coordination state with days at risk",
    grain_sv="en rad per sjukfall, tidsband och koordineringsstatus, med dagar i riskmängden",
    description=(
        "Follow-up of each spell split (Lexis) by time since spell start and by coordination state; exposure "
        "starts exactly at t_c (no immortal time). Input of Poisson models, sequential trials and landmarks."
    ),
    key=("spell_id", "time_band", "is_coordinated"),
    columns=(
        C("spell_id", "BIGINT", "Spell key (spells.spell_id).", description_sv="Sjukfallets nyckel (spells.spell_id)."),
        C("person_id", "BIGINT", "Pseudonymised person number.",
          description_sv="Pseudonymiserat personnummer (löpnummer)."),
        C("time_band", "VARCHAR", "Band of days since spell start, e.g. '0-14' = day indices 0-14 = interval (0, 15].",
          description_sv="Tidsband i dagar sedan sjukfallets start, t.ex. '0-14' = dagindex 0-14 = intervallet (0, 15]."),
        C("band_start_day", "INTEGER", "First day index of the band (its interval starts at band_start_day).",
          description_sv="Tidsbandets första dagindex (dess intervall börjar vid band_start_day)."),
        C("is_coordinated", "BOOLEAN", "Exposed: the interval lies after t_c, the day index of the first GC001.",
          description_sv="Exponerad: intervallet ligger efter t_c, dagindex för första GC001."),
        C("start_day", "INTEGER", "Interval start, days since spell start (exclusive).",
          description_sv="Intervallets start i dagar sedan sjukfallets start (ej inräknad)."),
        C("stop_day", "INTEGER", "Interval end, days since spell start (inclusive).",
          description_sv="Intervallets slut i dagar sedan sjukfallets start (inräknad)."),
        C("days_at_risk", "INTEGER", "stop_day - start_day.",
          description_sv="Dagar i riskmängden: stop_day - start_day."),
        *(C(col, "INTEGER", f"1 if the spell ends by {col.removeprefix('event_')} at stop_day (its last interval), else 0.",
            description_sv=f"1 om sjukfallet slutar med {_END_REASON_WORDS_SV[col.removeprefix('event_')]} vid stop_day "
            "(dess sista intervall), annars 0.", allowed=(0, 1)) for col in _EVENT_COLUMNS),
    ),
    rules=(
        Rule("start_day >= 0", "start_day >= 0"),
        Rule("stop_day > start_day", "stop_day > start_day"),
        Rule("days_at_risk = stop_day - start_day", "days_at_risk = stop_day - start_day"),
        Rule("interval within its band", "start_day >= band_start_day"),
        Rule("at most one event per row", " + ".join(_EVENT_COLUMNS) + " <= 1"),
    ),
    checks=(
        TableCheck(
            "days at risk of a spell sum to its followup_days (every spell present)",
            "select count(*) from (select spell_id, sum(days_at_risk) d from main.person_time group by 1) p "
            "full join main.spells s using (spell_id) where p.d is distinct from s.followup_days",
        ),
        TableCheck(
            "exposed time starts exactly at t_c (days_to_first_gc001), never before; none if not coordinated",
            "select count(*) from main.spells s left join (select spell_id, min(start_day) filter (where is_coordinated) e, "
            "max(stop_day) filter (where not is_coordinated) u from main.person_time group by 1) p using (spell_id) "
            "where p.e is distinct from s.days_to_first_gc001 or p.u > s.days_to_first_gc001",
        ),
        TableCheck(
            "events: one on the last interval for each end reason but censored, none otherwise",
            "select count(*) from main.spells s join (select spell_id, "
            + ", ".join(f"sum({c}) {c}" for c in _EVENT_COLUMNS)
            + ", sum(" + " + ".join(_EVENT_COLUMNS) + ") filter (where stop_day <> s2.followup_days) off_last "
            "from main.person_time join main.spells s2 using (spell_id) group by 1) p using (spell_id) where "
            + " or ".join(f"{c} <> (s.end_reason = '{c.removeprefix('event_')}')::integer" for c in _EVENT_COLUMNS)
            + " or off_last > 0",
        ),
    ),
)

ATTRITION = Table(
    name="attrition",
    grain="one row per inclusion step x sex ('all', 'woman', 'man')",
    grain_sv="en rad per urvalssteg och kön ('all' = samtliga, 'woman' = kvinnor, 'man' = män)",
    description=(
        "Every inclusion step in order with the persons and spells remaining, among them the benefit periods "
        "whose code the study does not know (named in the step's description) and the spells the FSJP rule "
        "drops (fsjp_rule 'drop_spell', FK's). Sex is LISA's; persons not in LISA "
        "count only under 'all' until the step that excludes them."
    ),
    key=("step_order", "sex"),
    columns=(
        C("step_order", "INTEGER", "Order of the step (1 = the delivery).",
          description_sv="Stegets ordningsnummer (1 = leveransen)."),
        C("step", "VARCHAR", "Step name.", description_sv="Stegets namn."),
        C("description_sv", "VARCHAR", "What the step keeps, in Swedish, with the study's values.",
          description_sv="Stegets beskrivning på svenska: vad det behåller, med studiens värden."),
        C("sex", "VARCHAR", "'all', 'woman' or 'man'.",
          description_sv="'all' (samtliga), 'woman' (kvinnor) eller 'man' (män).", allowed=("all", *SEXES)),
        C("n_persons", "BIGINT", "Persons remaining.", description_sv="Antal kvarvarande personer."),
        C("n_spells", "BIGINT", "Spells remaining; NULL at the steps before spells are built.",
          description_sv="Antal kvarvarande sjukfall; NULL i stegen innan sjukfallen har byggts.", nullable=True),
        C("n_benefit_periods", "BIGINT", "Benefit periods remaining (rows, duplicates included).",
          description_sv="Antal kvarvarande ersättningsperioder (rader, dubbletter inräknade)."),
    ),
    rules=(Rule("counts are not negative", "n_persons >= 0 and coalesce(n_spells, 0) >= 0 and n_benefit_periods >= 0"),),
    checks=(
        TableCheck(
            "each step keeps at most what the previous kept",
            "select count(*) from (select n_persons, n_spells, n_benefit_periods, "
            "lag(n_persons) over w p0, lag(n_spells) over w s0, lag(n_benefit_periods) over w b0 "
            "from main.attrition window w as (partition by sex order by step_order)) "
            "where n_persons > p0 or n_spells > s0 or n_benefit_periods > b0",
        ),
        TableCheck(
            "women and men add up to at most all",
            "select count(*) from (select step_order, sum(n_persons) filter (where sex <> 'all') ws, "
            "sum(n_persons) filter (where sex = 'all') a from main.attrition group by 1) where ws > a",
        ),
        TableCheck(
            "the last step is the study population of spells and persons",
            "select count(*) from main.attrition a left join (select 'all' sex, count(*) n_spells, count(distinct person_id) n_persons "
            "from main.spells union all select sex, count(*), count(distinct person_id) from main.spells group by sex) s "
            "using (sex) where a.step_order = (select max(step_order) from main.attrition) "
            "and (a.n_spells <> coalesce(s.n_spells, 0) or a.n_persons <> coalesce(s.n_persons, 0))",
        ),
    ),
)

_RCU_COUNTS = (
    "n_contacts",
    "n_care_units",
    "n_care_units_recording_gc001",
    "n_gc001_contacts",
    "n_contacts_without_unit",
    "n_spells",
)

REGION_CARE_UNITS = Table(
    name="region_care_units",
    grain="one row per care region x calendar year of the delivery's care contacts",
    grain_sv="en rad per vårdgivande region och kalenderår för leveransens vårdkontakter",
    description=(
        "How completely each region's care units record KVÅ GC001, to stand beside every regional comparison: "
        "a region whose units barely record GC001 may be under-reporting rather than not coordinating. Counts "
        "cover every care contact of the delivery (recording practice is a property of the care units), not "
        "only the study population's; the region is the one that gave the care. Years run from the first to "
        f"the last contact year of the delivery, each with all {len(REGION_CODES)} regions (0 where no contacts); the last year "
        "is covered only up to the extraction date. n_spells gives the region's spell volume (study population, "
        "by home region)."
    ),
    key=("care_region_code", "year"),
    columns=(
        C("care_region_code", "VARCHAR", "Region that gave the care (the contacts' Region).",
          description_sv="Region som gav vården (kontakternas Region).", allowed=REGION_CODES),
        C("care_region_name", "VARCHAR", "Name of care_region_code.",
          description_sv="Namn på care_region_code.", allowed=REGION_NAMES),
        C("year", "INTEGER", "Calendar year of the contacts (every year from the first to the last contact year of the delivery).",
          description_sv="Kalenderår för kontakterna (varje år från leveransens första till sista kontaktår)."),
        C("n_contacts", "BIGINT", "Care contacts given by the region that year (all contacts of the delivery, any KVÅ code or none).",
          description_sv="Antal vårdkontakter som regionen gav det året (alla leveransens kontakter, med eller utan KVÅ-kod)."),
        C("n_care_units", "BIGINT", "Distinct care units (care_unit_id, NULL not counted) with at least one contact that year.",
          description_sv="Antal olika vårdenheter (care_unit_id, NULL räknas inte) med minst en kontakt det året."),
        C("n_care_units_recording_gc001", "BIGINT", "Distinct care units with at least one GC001 contact that year.",
          description_sv="Antal olika vårdenheter med minst en GC001-kontakt det året."),
        C(
            "share_care_units_recording_gc001",
            "DOUBLE",
            "n_care_units_recording_gc001 / n_care_units; NULL when n_care_units = 0. A low share flags possible "
            "under-reporting of GC001, not absent coordination.",
            description_sv=("n_care_units_recording_gc001 / n_care_units; NULL när n_care_units = 0. En låg andel tyder på möjlig"
             " underrapportering av GC001, inte på utebliven koordinering."),
            nullable=True,
        ),
        C("n_gc001_contacts", "BIGINT", "Care contacts with KVÅ GC001 given by the region that year (any care unit, or none).",
          description_sv="Antal vårdkontakter med KVÅ-kod GC001 som regionen gav det året (oavsett vårdenhet, eller utan)."),
        C("n_contacts_without_unit", "BIGINT", "Care contacts with no care unit (care_unit_id NULL): not in n_care_units.",
          description_sv="Antal vårdkontakter utan vårdenhet (care_unit_id NULL): ingår inte i n_care_units."),
        C(
            "n_spells",
            "BIGINT",
            "The region's spell volume: spells of the study population (spells) starting that year whose home region "
            "(home_region_code) it is; 0 for years outside the study period.",
            description_sv=("Regionens sjukfallsvolym: sjukfall i studiepopulationen (spells) som börjar det året med regionen "
             "som hemregion (home_region_code); 0 för år utanför studieperioden."),
        ),
    ),
    rules=(
        Rule("counts are not negative", " and ".join(f"{c} >= 0" for c in _RCU_COUNTS)),
        Rule("units recording GC001 at most the units", "n_care_units_recording_gc001 <= n_care_units"),
        Rule("GC001 contacts at most the contacts", "n_gc001_contacts <= n_contacts"),
        Rule("contacts without a unit at most the contacts", "n_contacts_without_unit <= n_contacts"),
        Rule("a unit recording GC001 has a GC001 contact", "n_gc001_contacts >= n_care_units_recording_gc001"),
        Rule(
            "share = units recording / units, NULL exactly when no units",
            "share_care_units_recording_gc001 is not distinct from "
            "(n_care_units_recording_gc001 / nullif(n_care_units, 0))::double",
        ),
        Rule("share within [0, 1]", "share_care_units_recording_gc001 between 0 and 1"),
    ),
    checks=(
        TableCheck(
            "every region is present in every year, and the years have no gap",
            "select (select count(*) from (select year, count(*) n from main.region_care_units group by 1) "
            f"where n <> {len(REGION_CODES)}) + (select count(*) from (select count(distinct year) n, "
            "coalesce(max(year) - min(year) + 1, 0) span from main.region_care_units) where n <> span)",
        ),
        TableCheck(
            "the years run from the first to the last contact year, and every dated contact is counted once",
            "select count(*) from (select min(year(contact_date)) y0, max(year(contact_date)) y1, count(contact_date) n "
            "from staging.stg_vard__care_contacts) c, (select min(year) y0, max(year) y1, coalesce(sum(n_contacts), 0) n "
            "from main.region_care_units) r where c.y0 is distinct from r.y0 or c.y1 is distinct from r.y1 or c.n <> r.n",
        ),
        TableCheck(
            "n_spells adds up to the spells starting in the table's years",
            "select count(*) from (select coalesce(sum(n_spells), 0) n from main.region_care_units) r, "
            "(select count(*) n from main.spells where year(spell_start_date) in (select year from main.region_care_units)) s "
            "where r.n <> s.n",
        ),
    ),
)

SPELL_COLLABORATION_EVENTS = Table(
    name="spell_collaboration_events",
    grain="one row per spell in the study population x FK collaboration event during its follow-up",
    grain_sv=("en rad per sjukfall i studiepopulationen och samverkanshändelse hos Försäkringskassan under dess "
     "uppföljning"),
    description=(
        "FK's collaboration events (fk_samverkan: reconciliation meetings AVST, 4 § information INFO4, the employer's "
        "plan PLAN, joint mapping with AF AFKART) dated within the spell's follow-up [spell_start_date, end_date], "
        "with the day index and, for AVST, who took part. Identical repeated events keep a row each (event_seq)."
    ),
    key=("spell_id", "event_seq"),
    columns=(
        C("spell_id", "BIGINT", "Spell key (spells.spell_id).", description_sv="Sjukfallets nyckel (spells.spell_id)."),
        C("person_id", "BIGINT", "Pseudonymised person number.",
          description_sv="Pseudonymiserat personnummer (löpnummer)."),
        C("event_seq", "INTEGER", "1, 2, ... per spell in order of date, type and participation.",
          description_sv="1, 2, ... per sjukfall i ordning efter datum, typ och deltagande."),
        C("event_date", "DATE", "Date of the event (HandelseDatum).",
          description_sv="Datum för händelsen (HandelseDatum)."),
        C("event_type", "VARCHAR", "AVST, INFO4, PLAN or AFKART.",
          description_sv="AVST, INFO4, PLAN eller AFKART.", allowed=tuple(COLLABORATION_EVENT_COLUMNS)),
        C("day_index", "INTEGER", "event_date - spell_start_date (0 = the spell's first day).",
          description_sv="event_date - spell_start_date (0 = sjukfallets första dag)."),
        C("has_care_participated", "BOOLEAN", "AVST: health care took part; NULL when not recorded or not an AVST.",
          description_sv="AVST: hälso- och sjukvården deltog; NULL om det inte registrerats eller inte är ett AVST.", nullable=True),
        C("has_employer_participated", "BOOLEAN", "AVST: the employer took part; NULL when not recorded or not an AVST.",
          description_sv="AVST: arbetsgivaren deltog; NULL om det inte registrerats eller inte är ett AVST.", nullable=True),
        C("has_af_participated", "BOOLEAN", "AVST: AF took part; NULL when not recorded or not an AVST.",
          description_sv="AVST: Arbetsförmedlingen deltog; NULL om det inte registrerats eller inte är ett AVST.", nullable=True),
    ),
    rules=(
        Rule("day_index >= 0", "day_index >= 0"),
        Rule("event_seq >= 1", "event_seq >= 1"),
        Rule("participation only for AVST",
             "event_type = 'AVST' or (has_care_participated is null and has_employer_participated is null "
             "and has_af_participated is null)"),
    ),
    checks=(
        TableCheck(
            "every event lies within its spell's follow-up, on the day index from its start",
            "select count(*) from main.spell_collaboration_events e left join main.spells s using (spell_id) "
            "where s.spell_id is null or e.person_id <> s.person_id or e.event_date not between s.spell_start_date and s.end_date "
            "or e.day_index <> e.event_date - s.spell_start_date",
        ),
        TableCheck(
            "the events per type add up to spells' counts (n_fk_<type>)",
            "select count(*) from main.spells s left join (select spell_id, "
            + ", ".join(f"count(*) filter (where event_type = '{code}') {col}" for code, col in COLLABORATION_EVENT_COLUMNS.items())
            + " from main.spell_collaboration_events group by 1) e using (spell_id) where "
            + " or ".join(f"coalesce(e.{col}, 0) <> s.{col}" for col in COLLABORATION_EVENT_COLUMNS.values()),
        ),
        TableCheck(
            "spells' days_to_first_avst_employer is the first AVST with the employer taking part",
            "select count(*) from main.spells s left join (select spell_id, min(day_index) d from main.spell_collaboration_events "
            "where event_type = 'AVST' and has_employer_participated group by 1) e using (spell_id) "
            "where e.d is distinct from s.days_to_first_avst_employer",
        ),
    ),
)

SURVEY_ITEM_COLUMNS = {  # the survey's items (enkat_samverkan F1-F8) as survey_responses names them
    "F1_FK": "item_fk", "F2_AF": "item_af", "F3_Arbetsgivare": "item_employer", "F4_Kommun": "item_municipality",
    "F5_Internt": "item_internal", "F6_Tid": "item_time", "F7_Rutiner": "item_routines", "F8_Kompetens": "item_training",
}
CARE_LEVELS = tuple(c.code for c in code_list("care_level"))

SURVEY_RESPONSES = Table(
    name="survey_responses",
    grain="one row per respondent of the coordinators' survey",
    grain_sv="en rad per svarande i enkäten till personal som utför koordinering",
    description=(
        "The survey of staff who perform coordination (enkat_samverkan), rows not quarantined, with the "
        "respondent's region, healthcare region (sjukvårdsregion: the region group of the survey's weighting "
        "classes) and care level. Items as answered: 1 (strongly disagree) to 5 (strongly agree), 6 don't know, "
        "NULL no answer. The survey has no sex."
    ),
    key=("respondent_id",),
    columns=(
        C("respondent_id", "VARCHAR", "Respondent (RespondentId).",
          description_sv="Id för den svarande (RespondentId)."),
        C("region_code", "VARCHAR", "Region of the respondent's unit.",
          description_sv="Region för den svarandes enhet.", allowed=REGION_CODES),
        C("region_name", "VARCHAR", "Name of region_code.",
          description_sv="Namn på region_code.", allowed=REGION_NAMES),
        C("healthcare_region_code", "VARCHAR", "Healthcare region (sjukvårdsregion) of region_code; Halland counted with Västra.",
          description_sv="Sjukvårdsregion för region_code; Halland räknas till Västra."),
        C("healthcare_region_name", "VARCHAR", "Name of healthcare_region_code.",
          description_sv="Namn på healthcare_region_code."),
        C("care_level", "VARCHAR", "Care level of the respondent's unit: PV, SSV or PSY.",
          description_sv="Vårdnivå för den svarandes enhet: PV, SSV eller PSY.", allowed=CARE_LEVELS),
        C("response_date", "DATE", "Date answered.", description_sv="Svarsdatum.", nullable=True),
        *(C(col, "INTEGER", f"{item}: 1-5, 6 = don't know, NULL = no answer.",
            description_sv=f"{item}: 1-5, 6 = vet inte, NULL = inget svar.", nullable=True, allowed=(1, 2, 3, 4, 5, 6))
          for item, col in SURVEY_ITEM_COLUMNS.items()),
    ),
)

SURVEY_FRAME = Table(
    name="survey_frame",
    grain="one row per region x care level of the survey's frame",
    grain_sv="en rad per region och vårdnivå i enkätens urvalsram",
    description=(
        "The survey's frame (enkat_urval, optional: the evaluators' own, not in the delivery specification): staff "
        "who perform coordination invited, beside the respondents, per region and care level. Without the frame "
        "the cells with respondents, n_invited NULL (the response rate is then not computed)."
    ),
    key=("region_code", "care_level"),
    columns=(
        C("region_code", "VARCHAR", "Region.", description_sv="Urvalsramens region.", allowed=REGION_CODES),
        C("healthcare_region_code", "VARCHAR", "Healthcare region (sjukvårdsregion) of region_code.",
          description_sv="Sjukvårdsregion för region_code."),
        C("care_level", "VARCHAR", "PV, SSV or PSY.", description_sv="PV, SSV eller PSY.", allowed=CARE_LEVELS),
        C("n_invited", "BIGINT", "Staff invited (AntalIUrval); NULL when the frame was not delivered or lacks the cell.",
          description_sv="Antal inbjudna (AntalIUrval); NULL när urvalsramen inte levererats eller saknar cellen.",
          nullable=True),
        C("n_respondents", "BIGINT", "Respondents in survey_responses of the cell.",
          description_sv="Antal svarande i cellen (i survey_responses)."),
    ),
    rules=(
        Rule("n_invited > 0", "n_invited > 0"),
        Rule("n_respondents >= 0", "n_respondents >= 0"),
    ),
    checks=(
        TableCheck(
            "n_respondents adds up to survey_responses",
            "select count(*) from (select coalesce(sum(n_respondents), 0) n from main.survey_frame) f, "
            "(select count(*) n from main.survey_responses) r where f.n <> r.n",
        ),
    ),
)

SPELL_NEGATIVE_CONTROL_OUTCOMES = Table(
    name="spell_negative_control_outcomes",
    grain="one row per spell in the study population x negative-control outcome of the study",
    grain_sv="en rad per sjukfall i studiepopulationen och negativt kontrollutfall i studien",
    description=(
        "Negative-control outcomes (issue 14; study.toml [negative_controls]): per spell and outcome the day index of "
        "the first care contact (vard_kontakter, any region and care level) whose MAIN diagnosis falls in the outcome's "
        "ICD-10 ranges during the spell's follow-up [spell_start_date, end_date], and the number of days with one. "
        "Coordination cannot plausibly cause these contacts, so their hazard ratios after the first GC001 estimate the "
        "designs' systematic error."
    ),
    key=("spell_id", "outcome_id"),
    columns=(
        C("spell_id", "BIGINT", "Spell key (spells.spell_id).", description_sv="Sjukfallets nyckel (spells.spell_id)."),
        C("person_id", "BIGINT", "Pseudonymised person number.",
          description_sv="Pseudonymiserat personnummer (löpnummer)."),
        C("outcome_id", "VARCHAR", "Negative-control outcome (its id in the study file's list of negative controls).",
          description_sv="Negativt kontrollutfall (dess id i studiefilens lista över negativa kontroller)."),
        C("first_contact_day", "INTEGER", "Day index (contact_date - spell_start_date, 0 = the first day) of the first "
          "contact with a main diagnosis in the outcome's ranges in [spell_start_date, end_date]; NULL if none. As an "
          "event of the time-varying designs it happens at time first_contact_day + 1.",
          description_sv=("Dagindex (contact_date - spell_start_date, 0 = första dagen) för första kontakt med en huvuddiagnos "
           "inom utfallets intervall i [spell_start_date, end_date]; NULL om ingen. Som händelse i de "
           "tidsberoende analyserna inträffar den vid tiden first_contact_day + 1."), nullable=True),
        C("n_contact_days", "INTEGER", "Distinct dates with such a contact in the follow-up (0 when none).",
          description_sv="Antal olika dagar med en sådan kontakt under uppföljningen (0 om inga)."),
    ),
    rules=(
        Rule("first_contact_day NULL exactly when no contact day", "(first_contact_day is null) = (n_contact_days = 0)"),
        Rule("n_contact_days >= 0", "n_contact_days >= 0"),
        Rule("first_contact_day >= 0", "first_contact_day is null or first_contact_day >= 0"),
    ),
    checks=(
        TableCheck(
            "every spell has one row per outcome, and the first contact lies within its follow-up",
            "select count(*) from main.spell_negative_control_outcomes n left join main.spells s using (spell_id) "
            "where s.spell_id is null or n.person_id <> s.person_id or n.first_contact_day >= s.followup_days",
        ),
        TableCheck(
            "as many rows as spells x outcomes",
            "select count(*) from (select count(*) n, count(distinct outcome_id) k, count(distinct spell_id) m "
            "from main.spell_negative_control_outcomes) t, (select count(*) m from main.spells) s "
            "where t.n <> t.k * s.m or (t.k > 0 and t.m <> s.m)",
        ),
    ),
)

_RULE_COVARIATES = ("sex", "spell_start_date", "diagnosis_group", "diagnosis_chapter_group", "is_exhaustion_disorder",
                    "age_years", "age_group", "occupation_status", "extent_at_start_pct", "prior_sick_days_365", "has_prior_sick_leave",
                    "prior_sick_days_730", "education_group", "birth_region_code", "is_born_in_sweden", "home_region_code")

SPELL_RELAPSE_OUTCOMES = Table(
    name="spell_relapse_outcomes",
    grain="one row per relapse rule ('continue', 'censor', 'event') x spell the rule analyses",
    grain_sv="en rad per återfallsregel ('continue', 'censor', 'event') och sjukfall som regeln analyserar",
    description=(
        "The relapse sensitivity's input (issue 14; study.toml [outcome] relapse): each spell's follow-up, end reason and "
        "first GC001 under every relapse rule, with the confounders at its start as in spells. Under 'continue' the "
        "spells that continue an earlier studied spell's relapse chain have no row (they are part of its follow-up); "
        "under 'censor' and 'event' every spell of the study population has one. The rows of the study's own rule "
        "(is_study_rule) are the spells of spells, with the same follow-up, end reason and days_to_first_gc001."
    ),
    key=("relapse_rule", "spell_id"),
    columns=(
        C("relapse_rule", "VARCHAR", "The relapse rule (see spells.end_reason).",
          description_sv="Återfallsregeln (se spells.end_reason).", allowed=RELAPSE_RULES),
        C("is_study_rule", "BOOLEAN", "relapse_rule is the study's own ([outcome] relapse).",
          description_sv="relapse_rule är studiens egen ([outcome] relapse)."),
        C("spell_id", "BIGINT", "Spell key (a spells.spell_id, or a spell of the study population that the study's rule "
          "leaves out as part of an earlier spell's follow-up).",
          description_sv=("Sjukfallets nyckel (ett spells.spell_id, eller ett sjukfall i studiepopulationen som studiens regel "
           "utelämnar eftersom det ingår i ett tidigare sjukfalls uppföljning).")),
        C("person_id", "BIGINT", "Pseudonymised person number.",
          description_sv="Pseudonymiserat personnummer (löpnummer)."),
        C("end_date", "DATE", "Date follow-up ends under the rule.",
          description_sv="Datum då uppföljningen slutar enligt regeln."),
        C("followup_days", "INTEGER", "end_date - spell_start_date + 1 under the rule.",
          description_sv="end_date - spell_start_date + 1 enligt regeln."),
        C("end_reason", "VARCHAR", "How follow-up ends under the rule (as spells.end_reason).",
          description_sv="Hur uppföljningen slutar enligt regeln (som spells.end_reason).", allowed=END_REASONS),
        C("is_relapse_within_window", "BOOLEAN", "As spells.is_relapse_within_window (the same under every rule).",
          description_sv="Som spells.is_relapse_within_window (densamma under alla regler)."),
        C("n_relapse_spells", "INTEGER", "As spells.n_relapse_spells: later spells of the chain ('continue' only).",
          description_sv="Som spells.n_relapse_spells: senare sjukfall i kedjan (endast 'continue')."),
        C("days_to_first_gc001", "INTEGER", "Day index of the first GC001 in [spell_start_date, end_date] under the rule; "
          "NULL if none.",
          description_sv="Dagindex för första GC001 i [spell_start_date, end_date] enligt regeln; NULL om ingen.", nullable=True),
        *(SPELLS.column(name) for name in _RULE_COVARIATES),
    ),
    rules=(
        Rule("followup_days = end_date - spell_start_date + 1", "followup_days = end_date - spell_start_date + 1"),
        Rule("coordination within follow-up", "days_to_first_gc001 is null or days_to_first_gc001 between 0 and followup_days - 1"),
        Rule("only 'continue' runs on into relapses", "relapse_rule = 'continue' or n_relapse_spells = 0"),
    ),
    checks=(
        TableCheck(
            "the study rule's rows are spells, with the same follow-up, end reason and first GC001",
            "select count(*) from (select * from main.spell_relapse_outcomes where is_study_rule) r "
            "full join main.spells s using (spell_id) where r.spell_id is null or s.spell_id is null "
            "or r.followup_days <> s.followup_days or r.end_reason <> s.end_reason "
            "or r.days_to_first_gc001 is distinct from s.days_to_first_gc001 or r.sex <> s.sex "
            "or r.prior_sick_days_365 <> s.prior_sick_days_365 or r.home_region_code <> s.home_region_code",
        ),
        TableCheck(
            "'censor' and 'event' analyse the same spells, and 'continue' no spell they do not",
            "select count(*) from (select spell_id, list(relapse_rule order by relapse_rule) rules "
            "from main.spell_relapse_outcomes group by spell_id) where not list_contains(rules, 'censor') "
            "or not list_contains(rules, 'event')",
        ),
    ),
)

TABLES: tuple[Table, ...] = (PERSONS, SPELLS, PERSON_TIME, ATTRITION, REGION_CARE_UNITS, SPELL_COLLABORATION_EVENTS,
                             SURVEY_RESPONSES, SURVEY_FRAME, SPELL_NEGATIVE_CONTROL_OUTCOMES, SPELL_RELAPSE_OUTCOMES)


def table(name: str) -> Table:
    for t in TABLES:
        if t.name == name:
            return t
    raise KeyError(f"unknown analysis table {name!r}; known: {', '.join(t.name for t in TABLES)}")


# --- The check ------------------------------------------------------------------------------


def contract_breaches(con, contract: Table | str) -> list[str]:
    """Every way the built table breaks its contract (empty when it meets it).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to the warehouse (inside or outside the build's transaction).
    contract : Table or str
        The contract, or the name of an analysis table.
    """
    t = table(contract) if isinstance(contract, str) else contract
    found = con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
        "and table_catalog = current_database() order by ordinal_position",
        [t.schema, t.name],
    ).fetchall()
    if not found:
        return [f"{t.qualified}: the table does not exist"]
    breaches: list[str] = []
    have = dict(found)
    for c in t.columns:
        if c.name not in have:
            breaches.append(f"{t.qualified}: column {c.name} is missing")
        elif have[c.name] != c.sql_type:
            breaches.append(f"{t.qualified}: column {c.name} is {have[c.name]}, expected {c.sql_type}")
    declared = set(t.column_names)
    for name in have:
        if name not in declared:
            breaches.append(f"{t.qualified}: column {name} is not declared in data_schemas/tables.py")
    present = [c for c in t.columns if c.name in have]

    # One scan for every row-level condition: nulls, allowed values, rules.
    probes: list[tuple[str, str]] = []  # (message, count expression)
    for c in present:
        col = sql_name(c.name)
        if not c.nullable:
            probes.append((f"column {c.name}: {{n}} rows are NULL", f"count_if({col} is null)"))
        if c.allowed is not None:
            allowed = ", ".join(sql_literal(v) for v in c.allowed)
            bad = f"{col} is not null and {col} not in ({allowed})"
            probes.append(
                (f"column {c.name}: {{n}} rows hold a value outside ({allowed}), e.g. {{example}}",
                 f"count_if({bad}), min({col}::varchar) filter (where {bad})")
            )
    if len(present) == len(t.columns):
        for r in t.rules:
            probes.append((f"rule '{r.description}': {{n}} rows break it", f"count_if(not ({r.sql}))"))
    if probes:
        select = ", ".join(expr for _, expr in probes)
        row = con.execute(f"select {select} from {t.qualified}").fetchone()
        i = 0
        for message, expr in probes:
            n = row[i]
            example = row[i + 1] if ", min(" in expr else None
            i += 2 if ", min(" in expr else 1
            if n:
                breaches.append(f"{t.qualified}: " + message.format(n=n, example=repr(example)))

    if all(k in have for k in t.key):
        keys = ", ".join(sql_name(k) for k in t.key)
        dup = con.execute(
            f"select count(*) from (select {keys} from {t.qualified} group by all having count(*) > 1)"
        ).fetchone()[0]
        if dup:
            breaches.append(f"{t.qualified}: key ({', '.join(t.key)}) is not unique: {dup} values repeat")
    if len(present) == len(t.columns):
        for chk in t.checks:
            try:
                n = con.execute(chk.sql).fetchone()[0]
            except Exception as exc:  # a table the check reads is missing or broken
                breaches.append(f"{t.qualified}: check '{chk.description}' could not run: {exc}")
                continue
            if n:
                breaches.append(f"{t.qualified}: check '{chk.description}': {n} breaches")
    return breaches


def check_contract(con, contract: Table | str) -> None:
    """Verify a built analysis table against its contract.

    Raises
    ------
    ContractViolation
        Listing every breach: missing, undeclared or mistyped columns, NULLs where none are
        allowed, values outside their lists, a repeated key, broken rules and checks.
    """
    t = table(contract) if isinstance(contract, str) else contract
    breaches = contract_breaches(con, t)
    if breaches:
        raise ContractViolation(
            f"{t.qualified} breaks its contract ({len(breaches)} breach{'es' if len(breaches) > 1 else ''}):\n"
            + "\n".join(f"  - {b}" for b in breaches)
        )
