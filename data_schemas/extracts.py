"""The delivery contracts: one declaration per register extract of `shared/extracts.md`.

Each `Extract` states its grain, its columns (register name, project name, type, whether the
column must be present and may be empty, code list or pattern), its row rules and known
caveats. Ingestion validates against these, the synthetic generator writes them, staging
renames by them and the data dictionary is rendered from them: each fact is written once.

Column types (``dtype``):

- ``integer``: whole number (``LopNr`` must be positive, see ``positive``);
- ``decimal``: number, a comma is accepted as decimal mark;
- ``text``: free text; ``pattern`` (a regular expression on the whole value) may restrict it;
- ``code``: a value from the code list ``codes`` (see `data_schemas.codes`);
- ``date``: ``YYYY-MM-DD`` or ``YYYYMMDD``; with ``day_may_be_unknown`` a day ``00`` is
  accepted and read as the 15th of the month (the raw table flags it);
- ``yearmonth``: ``YYYYMM``.

Names as delivered. A column's ``name`` is the concept's name in the raw layer (and what the
quarantine and warnings name); the file may deliver it under another name: ``aliases`` lists
the register's names, each with the years it is used (LISA renames variables when their
method changes: ``SyssStat11`` to 2018, ``SyssStat19`` from 2019), ``alias_pattern`` a family
of names (the project-prefixed key ``P1105_LopNr_PersonNr``). With ``accepts_own_name=False``
only the aliases are accepted. ``refused_names`` are names that look alike but hold something
else (``SUN2020Niva`` is the detailed 3-digit code, not the 7-level education): offered
without an accepted name, the file is refused naming them. Two accepted names of one concept
in one file are an error. Names are matched case-insensitively; the delivered name of every
column is recorded per file in ``raw._columns``.

Codes as labels. A code column's ``code_labels`` lists text labels a register may deliver
instead of the codes (`scb_bakgrund`'s region of birth: ``Sverige`` for 1, ...); a label,
matched case-insensitively, is read as its code in the raw layer (counted as a warning), any
other value is quarantined naming the codes and the labels.

Current identity. In SCB's person files a ``LopNr`` may repeat when a person's identity number
changed; ``SenPNr = 1`` marks the row of the current identity (``Extract.current_identity``
names the column). The column is optional: when delivered, the repeated rows are kept in the
raw layer and counted (warning ``senpnr_repeat``), and the intermediate layer uses the rows
with ``SenPNr = 1``; a person (and year) with no such row keeps all its rows, as without the
column. Without the column nothing changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from data_schemas.codes import codes

DTYPES = ("integer", "decimal", "text", "code", "date", "yearmonth")

# DuckDB type of each contract type in the raw layer.
RAW_SQL_TYPE = {
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "text": "VARCHAR",
    "code": "VARCHAR",
    "date": "DATE",
    "yearmonth": "VARCHAR",
}


@dataclass(frozen=True)
class Alias:
    """A name a column is delivered under, in the years given (None = no limit)."""

    name: str
    from_year: int | None = None
    to_year: int | None = None

    def years_text(self, swedish: bool = False) -> str:
        """The years the name is used: '2015-2018', 'to 2018', 'from 2019' (Swedish: '2015–2018', 't.o.m. 2018', 'fr.o.m. 2019')."""
        dash, until, since = ("–", "t.o.m.", "fr.o.m.") if swedish else ("-", "to", "from")
        if self.from_year and self.to_year:
            return f"{self.from_year}{dash}{self.to_year}"
        if self.to_year:
            return f"{until} {self.to_year}"
        if self.from_year:
            return f"{since} {self.from_year}"
        return ""

    def covers(self, year: int | None) -> bool:
        if year is None:
            return True
        return (self.from_year is None or year >= self.from_year) and (self.to_year is None or year <= self.to_year)


@dataclass(frozen=True)
class Column:
    """One column of an extract as delivered."""

    name: str  # the register's name, matched case-insensitively
    stg_name: str  # the project's name, used from staging on
    dtype: str
    description: str
    required: bool = True  # the column must be present in the file
    nullable: bool = False  # an empty value is allowed
    codes: str | None = None  # code list name, for dtype "code"
    pattern: str | None = None  # full-match regex for text
    positive: bool = False  # integers that must be > 0 (LopNr)
    min_value: float | None = None
    max_value: float | None = None
    day_may_be_unknown: bool = False  # dates: day 00 allowed
    is_person_key: bool = False
    icd10: bool = False  # holds ICD-10 codes as registered (normalised in staging)
    kva: bool = False  # holds space-separated KVÅ codes
    aliases: tuple[Alias, ...] = ()  # other names the column is delivered under (per year)
    alias_pattern: str | None = None  # full-match regex (case-insensitive) of further accepted names
    accepts_own_name: bool = True  # False: only the aliases are accepted in a file
    refused_names: tuple[str, ...] = ()  # look-alike names that hold something else
    refused_reason: str = ""  # what a refused name holds, for the refusal
    on_unknown_code: str = "quarantine"  # code columns: "quarantine" the row, or "warn" and keep it
    code_labels: tuple[tuple[str, str], ...] = ()  # code columns: (label as delivered, code) read as the code
    description_sv: str = ""  # the description in Swedish, for the report and the data dictionary
    refused_reason_sv: str = ""  # refused_reason in Swedish, for the data dictionary

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"column {self.name}: unknown dtype {self.dtype!r}")
        if self.dtype == "code" and not self.codes:
            raise ValueError(f"column {self.name}: a code column needs a code list")
        if self.on_unknown_code not in ("quarantine", "warn"):
            raise ValueError(f"column {self.name}: on_unknown_code must be 'quarantine' or 'warn'")
        if self.on_unknown_code == "warn" and self.dtype != "code":
            raise ValueError(f"column {self.name}: on_unknown_code applies to code columns only")
        if self.code_labels and self.dtype != "code":
            raise ValueError(f"column {self.name}: code_labels apply to code columns only")
        if any(code not in self.allowed_codes() for _label, code in self.code_labels):
            raise ValueError(f"column {self.name}: a label maps to a code not in code list {self.codes!r}")
        if len({label.lower() for label, _code in self.code_labels}) != len(self.code_labels):
            raise ValueError(f"column {self.name}: a label is listed twice")
        accepted = {n.lower() for n in self.delivered_names()}
        if accepted & {n.lower() for n in self.refused_names}:
            raise ValueError(f"column {self.name}: a name is both accepted and refused")

    def delivered_names(self) -> tuple[str, ...]:
        """The names accepted in a file, the preferred first (the pattern aside)."""
        return ((self.name,) if self.accepts_own_name else ()) + tuple(a.name for a in self.aliases)

    def delivered_name_for(self, year: int | None) -> str:
        """The name a real delivery of `year` carries (the first alias covering it, else the own name)."""
        for a in self.aliases:
            if (a.from_year or a.to_year) and year is not None and a.covers(year):
                return a.name
        return self.delivered_names()[0]

    def accepts(self, delivered: str) -> bool:
        key = delivered.strip().lower()
        if key in {n.lower() for n in self.delivered_names()}:
            return True
        return bool(self.alias_pattern and re.fullmatch(self.alias_pattern, delivered.strip(), re.IGNORECASE))

    def alias(self, delivered: str) -> Alias | None:
        key = delivered.strip().lower()
        return next((a for a in self.aliases if a.name.lower() == key), None)

    def names_text(self) -> str:
        """The accepted names for people: `SyssStat11` (to 2018), `SyssStat19` (from 2019)."""
        parts = ([f"'{self.name}'"] if self.accepts_own_name else []) + [
            f"'{a.name}'" + (f" ({a.years_text()})" if a.years_text() else "") for a in self.aliases]
        if self.alias_pattern:
            parts.append(f"names matching {self.alias_pattern}")
        return ", ".join(parts)

    @property
    def raw_sql_type(self) -> str:
        return RAW_SQL_TYPE[self.dtype]

    def allowed_codes(self) -> tuple[str, ...]:
        return codes(self.codes) if self.codes else ()

    def labels_text(self) -> str:
        """The accepted labels for people: 'Sverige' = 1, 'Norden utom Sverige' = 2, ..."""
        return ", ".join(f"'{label}' = {code}" for label, code in self.code_labels)


@dataclass(frozen=True)
class PeriodRule:
    """`end` may not be before `start` (both date columns of the same row)."""

    start: str
    end: str

    @property
    def reason(self) -> str:
        return f"{self.end} before {self.start}"


@dataclass(frozen=True)
class Extract:
    """One register extract: a file (or one file per year) of a delivery."""

    name: str  # file stem, and raw table name (schema `raw`)
    source: str  # register holder
    title_sv: str
    grain: str  # "one row per ..."
    description: str
    columns: tuple[Column, ...]
    yearly: bool = False  # one file per year: `<name>_<YYYY>`, loaded into one table with `year`
    person_level: bool = True  # identified by LopNr
    periods: tuple[PeriodRule, ...] = ()
    caveats: tuple[str, ...] = ()
    staging_table: str = ""  # stg_<register>__<entity>s
    optional: bool = False  # the build runs without it (its staging view is then empty)
    current_identity: str | None = None  # column marking a repeated LopNr's current row (SenPNr = 1)
    unique_key: tuple[str, ...] = ()  # columns no two rows may share (2nd and later rows quarantined)
    grain_sv: str = ""  # the grain in Swedish ("en rad per ..."), for the report and the data dictionary
    caveats_sv: tuple[str, ...] = ()  # the caveats in Swedish, one per caveat

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name.lower() == name.lower():
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def column_delivered_as(self, delivered: str, key_name: str | None = None) -> Column | None:
        """The contract column a delivered name stands for (None: not in the contract).

        `key_name` is the person key's name that `manifest.toml` gives, accepted besides the
        recognised ones.
        """
        for c in self.columns:
            if c.accepts(delivered) or (c.is_person_key and key_name and delivered.strip().lower() == key_name.strip().lower()):
                return c
        return None

    @property
    def required_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    def file_stem_matches(self, stem: str) -> int | None | bool:
        """For a file stem: False if not this extract; the year for yearly extracts; True otherwise."""
        stem = stem.lower()
        if self.yearly:
            m = re.fullmatch(re.escape(self.name) + r"_(\d{4})", stem)
            return int(m.group(1)) if m else False
        return stem == self.name


LOPNR = Column(
    "LopNr",
    "person_id",
    "integer",
    "Pseudonymised person number (löpnummer), the same in every file of one delivery.",
    description_sv="Pseudonymiserat personnummer (löpnummer), detsamma i alla filer i en leverans.",
    positive=True,
    is_person_key=True,
    aliases=(Alias("LopNr_PersonNr"), Alias("PersonLopNr")),
    alias_pattern=r"P\d+_LopNr_PersonNr",  # project-prefixed: P1105_LopNr_PersonNr
)


def _lopnr() -> Column:
    return LOPNR


def _senpnr() -> Column:
    return Column(
        "SenPNr",
        "is_current_identity",
        "code",
        "Latest identity: 1 = the row of the person's current identity number, 0 = an earlier one "
        "(a LopNr repeats when the identity number changed).",
        description_sv=("Senaste identitet: 1 = raden för personens nuvarande identitetsnummer, 0 = ett tidigare (ett LopNr "
         "upprepas när identitetsnumret har ändrats)."),
        codes="binary",
        required=False,
        nullable=True,
    )


# Region of birth as text, as SCB's background files may deliver it (extracts.md), besides
# the code list's own labels.
BIRTH_REGION_LABELS = (
    ("Sverige", "1"),
    ("Norden utom Sverige", "2"),
    ("EU28 utom Norden", "3"),
    ("EU/EES utom Norden", "3"),
    ("Övriga världen", "4"),
)


EXTRACTS: tuple[Extract, ...] = (
    Extract(
        name="scb_lisa",
        source="SCB",
        title_sv="LISA – longitudinell integrationsdatabas för sjukförsäkrings- och arbetsmarknadsstudier",
        grain="one row per person registered in Sweden on 31 December of the year, aged 16 or more",
        grain_sv="en rad per person folkbokförd i Sverige den 31 december respektive år, 16 år eller äldre",
        description="Population and socio-economics, one file per year.",
        yearly=True,
        staging_table="stg_scb__lisa_years",
        columns=(
            _lopnr(),
            Column("Kon", "sex_code", "code", "Sex: 1 man, 2 kvinna.",
                   description_sv="Kön: 1 man, 2 kvinna.", codes="sex"),
            Column("FodelseAr", "birth_year", "integer", "Year of birth.",
                   description_sv="Födelseår.", min_value=1900, max_value=2030),
            Column("Lan", "region_code", "code", "County (= region) of residence on 31 December.",
                   description_sv="Folkbokföringslän (= region) den 31 december.", codes="regions"),
            Column(
                "Kommun",
                "municipality_code",
                "text",
                "Municipality of residence; its first two digits are Lan.",
                description_sv="Folkbokföringskommun; de två första siffrorna är Lan.",
                pattern=r"\d{4}",
                nullable=True,
            ),
            Column(
                "Sun2000Niva",
                "education_level",
                "code",
                "Highest education, 7 levels (SUN 2000/2020 'Old' level).",
                description_sv="Högsta utbildningsnivå i 7 nivåer (SUN 2000/2020, nivå 'Old').",
                codes="education",
                nullable=True,
                accepts_own_name=False,
                aliases=(Alias("Sun2000Niva_Old", to_year=2018), Alias("SUN2020Niva_Old", from_year=2019)),
                refused_names=("Sun2000Niva", "SUN2020Niva"),
                refused_reason="the detailed 3-digit SUN code (e.g. 106, 310, 526), not the 7-level education",
                refused_reason_sv="den detaljerade tresiffriga SUN-koden (t.ex. 106, 310, 526), inte utbildningsnivån i 7 nivåer",
            ),
            Column(
                "DispInkPersF04",
                "disposable_income_hsek",
                "integer",
                "Individual disposable income, hundreds of SEK; may be negative.",
                description_sv="Individens disponibla inkomst i hundratal kronor; kan vara negativ.",
                nullable=True,
                aliases=(Alias("DispInk04"), Alias("DispInk")),
            ),
            Column(
                "SyssStat",
                "lisa_employment_code",
                "code",
                "Employment status in November (6 is treated as not employed).",
                description_sv="Sysselsättningsstatus i november (6 räknas som ej förvärvsarbetande).",
                codes="employment_status_lisa",
                nullable=True,
                aliases=(Alias("SyssStat11", to_year=2018), Alias("SyssStat19", from_year=2019)),
            ),
            Column("FodGrEg4", "birth_region_code", "code",
                   "Region of birth; scb_bakgrund's, when delivered, takes precedence.",
                   description_sv="Födelseregion; uppgiften i scb_bakgrund går före när den levereras.",
                   codes="birth_region", nullable=True, required=False),
            _senpnr(),
        ),
        current_identity="SenPNr",
        caveats=(
            "A person who died or emigrated during the year has no row for that year.",
            "A LopNr may repeat within a year when the identity number changed (SenPNr): the row with SenPNr = 1 is used.",
            "Residence is that of 31 December; the home region at a spell's start is taken from the year before.",
        ),
        caveats_sv=(
            "En person som avled eller utvandrade under året saknar rad för det året.",
            ("Ett LopNr kan förekomma flera gånger inom ett år om identitetsnumret har ändrats (SenPNr): raden med"
             " SenPNr = 1 används."),
            "Bosättningen avser den 31 december; hemregionen vid ett sjukfalls start hämtas från året före.",
        ),
    ),
    Extract(
        name="scb_bakgrund",
        source="SCB",
        title_sv="Bakgrundsuppgifter (födelseregion)",
        grain="one row per person",
        grain_sv="en rad per person",
        description="Background: region of birth, as codes 1-4 or as their labels. Optional: without it the region "
                    "of birth comes from LISA.",
        staging_table="stg_scb__person_backgrounds",
        optional=True,
        current_identity="SenPNr",
        columns=(
            _lopnr(),
            Column(
                "FodGrEg4",
                "birth_region_code",
                "code",
                "Region of birth: 1 Sweden, 2 Nordic countries but Sweden, 3 EU/EEA outside the Nordics, "
                "4 rest of the world; the labels are read as these codes.",
                description_sv=("Födelseregion: 1 Sverige, 2 Norden utom Sverige, 3 EU/EES utom Norden, 4 övriga världen; "
                 "benämningarna läses som dessa koder."),
                codes="birth_region",
                nullable=True,
                code_labels=BIRTH_REGION_LABELS,
            ),
            _senpnr(),
        ),
        caveats=(
            "When delivered, its region of birth is the person's; LISA's FodGrEg4 fills in for persons it lacks or leaves empty.",
        ),
        caveats_sv=(
            ("När filen levereras gäller dess födelseregion; LISA:s FodGrEg4 fyller i för personer som saknas i "
             "den eller saknar uppgift."),
        ),
    ),
    Extract(
        name="scb_dodsorsak",
        source="SCB (Socialstyrelsen's cause-of-death register)",
        title_sv="Dödsorsaksregistret",
        grain="one row per deceased person",
        grain_sv="en rad per avliden person",
        description="Deaths.",
        staging_table="stg_scb__deaths",
        columns=(
            _lopnr(),
            Column("DodDatum", "death_date", "date", "Date of death.",
                   description_sv="Dödsdatum.", day_may_be_unknown=True),
            Column("UlOrsak", "underlying_cause_icd10", "text", "Underlying cause of death (ICD-10).",
                   description_sv="Underliggande dödsorsak (ICD-10).", nullable=True, required=False, icd10=True),
        ),
        caveats=("Rarely only year and month are known (day 00); read as the 15th and flagged.",),
        caveats_sv=(
            "I sällsynta fall är bara år och månad kända (dag 00); dagen läses som den 15:e och flaggas.",
        ),
    ),
    Extract(
        name="scb_migrationer",
        source="SCB (RTB)",
        title_sv="Migrationer",
        grain="one row per registered move across the border",
        grain_sv="en rad per registrerad in- eller utvandring",
        description="Immigrations and emigrations.",
        staging_table="stg_scb__migrations",
        columns=(
            _lopnr(),
            Column("Datum", "migration_date", "date", "Date of the move.",
                   description_sv="Datum för in- eller utvandringen."),
            Column("Posttyp", "migration_type", "code", "Inv immigration, Utv emigration.",
                   description_sv="Inv invandring, Utv utvandring.", codes="migration_type"),
        ),
    ),
    Extract(
        name="fk_midas_sjukpenning",
        source="Försäkringskassan (MiDAS)",
        title_sv="Sjukpenningperioder (MiDAS)",
        grain="one row per benefit period paid by FK",
        grain_sv="en rad per ersättningsperiod som Försäkringskassan betalat ut",
        description="Periods of sickness, rehabilitation and preventive sickness benefit. Spells (sjukfall) are built from these.",
        staging_table="stg_fk__benefit_periods",
        periods=(PeriodRule("FomDatum", "TomDatum"),),
        columns=(
            _lopnr(),
            Column(
                "Formankod",
                "benefit_code",
                "code",
                "SJP, RHP, FSJP (ASJP unconfirmed); an unknown code is kept with a warning and the study decides whether it counts.",
                description_sv=("SJP, RHP, FSJP (ASJP obekräftad); en okänd kod behålls med en varning och studien avgör om den "
                 "räknas."),
                codes="sickness_benefit",
                on_unknown_code="warn",
            ),
            Column("FomDatum", "period_start_date", "date", "First day of the period.",
                   description_sv="Periodens första dag."),
            Column("TomDatum", "period_end_date", "date", "Last day; empty = ongoing at extraction.",
                   description_sv="Periodens sista dag; tom = pågående vid uttaget.", nullable=True),
            Column("Omfattning", "extent_pct", "code", "Extent, per cent of full time.",
                   description_sv="Omfattning i procent av heltid.", codes="extent"),
            Column(
                "Diagnos",
                "diagnosis_code_raw",
                "text",
                "ICD-10-SE code from the medical certificate, as registered.",
                description_sv="ICD-10-SE-kod från läkarintyget, som den registrerats.",
                nullable=True,
                icd10=True,
            ),
            Column("Sysselsattning", "occupation_status", "code", "Occupation at the period's start.",
                   description_sv="Sysselsättning vid periodens start.", codes="occupation_status_fk"),
            Column(
                "InsjuknandeDatum",
                "sick_start_date",
                "date",
                "First day of the sick period this period belongs to, including the employer's sick-pay days.",
                description_sv="Första dagen i den sjukperiod som perioden hör till, arbetsgivarens sjuklönedagar inräknade.",
            ),
        ),
        caveats=(
            "An employee's first 14 days are paid by the employer and are not in MiDAS: the first FK period starts on day 15 while InsjuknandeDatum gives day 1.",
            "Periods of one person may overlap (corrections, re-decisions) or repeat exactly (double deliveries).",
            "A new period starting within 5 days of the previous end continues the spell (insjuknanderegeln, SFB 27:32).",
            "FSJP periods are usually excluded from sick-leave statistics.",
            "A spell's diagnosis is the first registered (as in FK's statistics).",
        ),
        caveats_sv=(
            ("För anställda betalar arbetsgivaren de första 14 dagarna, som inte finns i MiDAS: den första "
             "FK-perioden börjar dag 15 medan InsjuknandeDatum anger dag 1."),
            "En persons perioder kan överlappa (rättelser, omprövningar) eller upprepas exakt (dubbelleveranser).",
            ("En ny period som börjar inom 5 dagar efter föregående periods slut fortsätter sjukfallet "
             "(insjuknanderegeln, SFB 27:32)."),
            "FSJP-perioder brukar inte räknas med i sjukfrånvarostatistiken.",
            "Ett sjukfalls diagnos är den först registrerade (som i Försäkringskassans statistik).",
        ),
    ),
    Extract(
        name="fk_midas_ersattning",
        source="Försäkringskassan (MiDAS)",
        title_sv="Sjuk- och aktivitetsersättning",
        grain="one row per compensation decision period",
        grain_sv="en rad per beslutsperiod för sjuk- eller aktivitetsersättning",
        description="Sickness and activity compensation (permanent or long-term).",
        staging_table="stg_fk__compensation_periods",
        periods=(PeriodRule("FomDatum", "TomDatum"),),
        columns=(
            _lopnr(),
            Column("Formankod", "benefit_code", "code", "SA or AE.",
                   description_sv="SA eller AE.", codes="compensation_benefit"),
            Column("FomDatum", "period_start_date", "date", "Start.", description_sv="Periodens start."),
            Column("TomDatum", "period_end_date", "date", "End; empty = ongoing.",
                   description_sv="Periodens slut; tom = pågående.", nullable=True),
            Column("Omfattning", "extent_pct", "code", "Extent, per cent.",
                   description_sv="Omfattning i procent.", codes="extent"),
        ),
    ),
    Extract(
        name="fk_samverkan",
        source="Försäkringskassan (case records)",
        title_sv="Samverkanshändelser i sjukfall",
        grain="one row per collaboration event in an FK sickness case",
        grain_sv="en rad per samverkanshändelse i ett sjukfallsärende hos Försäkringskassan",
        description="Reconciliation meetings, 4 § information, employers' plans and joint mappings with AF.",
        staging_table="stg_fk__collaboration_events",
        columns=(
            _lopnr(),
            Column("HandelseDatum", "event_date", "date", "Date of the event.", description_sv="Datum för händelsen."),
            Column("HandelseTyp", "event_type", "code", "AVST, INFO4, PLAN or AFKART.",
                   description_sv="AVST, INFO4, PLAN eller AFKART.", codes="collaboration_event"),
            Column("DeltagVard", "has_care_participated", "code", "AVST: health care took part.",
                   description_sv="AVST: hälso- och sjukvården deltog.", codes="binary", nullable=True, required=False),
            Column("DeltagArbetsgivare", "has_employer_participated", "code", "AVST: the employer took part.",
                   description_sv="AVST: arbetsgivaren deltog.", codes="binary", nullable=True, required=False),
            Column("DeltagAF", "has_af_participated", "code", "AVST: AF took part.",
                   description_sv="AVST: Arbetsförmedlingen deltog.", codes="binary", nullable=True, required=False),
        ),
        caveats=("Modelled on FK's case handling; the exact register form is unconfirmed.",),
        caveats_sv=(
            "Utformad efter Försäkringskassans ärendehandläggning; registrets exakta form är obekräftad.",
        ),
    ),
    Extract(
        name="vard_kontakter",
        source="Regions' patient administrative systems and the National Patient Register",
        title_sv="Vårdkontakter",
        grain="one row per care contact",
        grain_sv="en rad per vårdkontakt",
        description="Care contacts with KVÅ procedure codes (GC001 coordination, DV077 rehabilitation plan, AW026 its follow-up).",
        staging_table="stg_vard__care_contacts",
        columns=(
            _lopnr(),
            Column("Region", "care_region_code", "code", "Region that gave the care.",
                   description_sv="Region som gav vården.", codes="regions"),
            Column("VardenhetId", "care_unit_id", "text", "Care unit, pseudonymised.",
                   description_sv="Vårdenhet, pseudonymiserad.", nullable=True),
            Column("Vardniva", "care_level", "code", "PV, SSV or PSY.",
                   description_sv="PV, SSV eller PSY.", codes="care_level"),
            Column("Vardgivartyp", "provider_type", "code", "OFF or PRIV.",
                   description_sv="OFF eller PRIV.", codes="provider_type", nullable=True, required=False),
            Column("KontaktDatum", "contact_date", "date", "Date of the contact.",
                   description_sv="Datum för vårdkontakten."),
            Column("Kontakttyp", "contact_type", "code", "BES, TEL, DIG or ADM.",
                   description_sv="BES, TEL, DIG eller ADM.", codes="contact_type", nullable=True),
            Column("Yrkesgrupp", "profession", "code", "Profession of the care giver.",
                   description_sv="Yrkesgrupp för den som gav vården.", codes="profession", nullable=True),
            Column("Atgarder", "kva_codes_raw", "text", "KVÅ codes, space-separated.",
                   description_sv="KVÅ-koder, åtskilda av mellanslag.", nullable=True, kva=True),
            Column("Diagnoser", "diagnosis_codes_raw", "text", "ICD-10-SE codes, space-separated; the first is the main diagnosis.",
                   description_sv="ICD-10-SE-koder, åtskilda av mellanslag; den första är huvuddiagnosen.", nullable=True, icd10=True),
        ),
        caveats=(
            "Primary care comes only from the regions' own systems: its coverage may differ between regions.",
            "Care, and so coordination, may be given in a region other than the home region.",
        ),
        caveats_sv=(
            "Primärvården kommer bara från regionernas egna system: täckningen kan skilja sig mellan regioner.",
            "Vård, och därmed koordinering, kan ges i en annan region än hemregionen.",
        ),
    ),
    Extract(
        name="af_inskrivning",
        source="Arbetsförmedlingen",
        title_sv="Inskrivningsperioder vid Arbetsförmedlingen",
        grain="one row per registration period as job seeker",
        grain_sv="en rad per inskrivningsperiod som arbetssökande",
        description="Registration periods as job seeker.",
        staging_table="stg_af__registration_periods",
        periods=(PeriodRule("InskrDatum", "AvaktDatum"),),
        columns=(
            _lopnr(),
            Column("InskrDatum", "registration_date", "date", "Registered as job seeker.",
                   description_sv="Datum för inskrivning som arbetssökande."),
            Column("AvaktDatum", "deregistration_date", "date", "Deregistered; empty = still registered.",
                   description_sv="Datum för avaktualisering; tom = fortfarande inskriven.", nullable=True),
            Column("SokandeKategori", "jobseeker_category", "code", "ARBL, DELT, PROG or OVR.",
                   description_sv="ARBL, DELT, PROG eller OVR.", codes="jobseeker_category"),
        ),
    ),
    Extract(
        name="skv_agi_manad",
        source="Skatteverket via SCB",
        title_sv="Arbetsgivardeklarationer på individnivå (AGI)",
        grain="one row per person, month of payment and employer",
        grain_sv="en rad per person, utbetalningsmånad och arbetsgivare",
        description="Monthly earnings from employers' declarations (from 2019).",
        staging_table="stg_skv__monthly_earnings",
        columns=(
            _lopnr(),
            Column("Period", "payment_month", "yearmonth", "Month of payment, YYYYMM.",
                   description_sv="Utbetalningsmånad, ÅÅÅÅMM."),
            Column("ArbetsgivarId", "employer_id", "text", "Employer, pseudonymised.",
                   description_sv="Arbetsgivare, pseudonymiserad."),
            Column("KontantErsattning", "cash_pay_sek", "integer", "Cash pay in SEK.",
                   description_sv="Kontant ersättning i kronor."),
        ),
    ),
    Extract(
        name="enkat_samverkan",
        source="The evaluators' survey",
        title_sv="Enkät till personal som utför koordinering",
        grain="one row per respondent",
        grain_sv="en rad per svarande",
        description="Survey of staff who perform coordination; items 1 (strongly disagree) to 5 (strongly agree), 6 don't know.",
        person_level=False,
        staging_table="stg_enkat__responses",
        optional=True,  # the register build runs without the survey (survey_responses is then empty)
        columns=(
            Column("RespondentId", "respondent_id", "text", "Respondent.", description_sv="Id för den svarande."),
            Column("Region", "region_code", "code", "Region.", description_sv="Den svarandes region.", codes="regions"),
            Column("Vardniva", "care_level", "code", "Care level of the respondent's unit.",
                   description_sv="Vårdnivå för den svarandes enhet.", codes="care_level"),
            Column("SvarsDatum", "response_date", "date", "Date answered.", description_sv="Svarsdatum."),
            Column("F1_FK", "item_fk", "code", "Collaboration with FK works well.",
                   description_sv="Samverkan med Försäkringskassan fungerar bra.", codes="likert", nullable=True),
            Column("F2_AF", "item_af", "code", "Collaboration with AF works well.",
                   description_sv="Samverkan med Arbetsförmedlingen fungerar bra.", codes="likert", nullable=True),
            Column("F3_Arbetsgivare", "item_employer", "code", "Collaboration with employers works well.",
                   description_sv="Samverkan med arbetsgivare fungerar bra.", codes="likert", nullable=True),
            Column("F4_Kommun", "item_municipality", "code", "Collaboration with municipalities works well.",
                   description_sv="Samverkan med kommuner fungerar bra.", codes="likert", nullable=True),
            Column("F5_Internt", "item_internal", "code", "Internal coordination within care works well.",
                   description_sv="Den interna samordningen inom vården fungerar bra.", codes="likert", nullable=True),
            Column("F6_Tid", "item_time", "code", "I have enough time for coordination.",
                   description_sv="Jag har tillräckligt med tid för koordinering.", codes="likert", nullable=True),
            Column("F7_Rutiner", "item_routines", "code", "My unit has documented routines for offering coordination.",
                   description_sv="Min enhet har dokumenterade rutiner för att erbjuda koordinering.", codes="likert", nullable=True),
            Column("F8_Kompetens", "item_training", "code", "I have had enough training for the task.",
                   description_sv="Jag har fått tillräcklig utbildning för uppdraget.", codes="likert", nullable=True),
        ),
        caveats=("Not register data: a survey of staff, one row per respondent.",),
        caveats_sv=(
            "Inte registerdata: en enkät till personal, en rad per svarande.",
        ),
        unique_key=("RespondentId",),
    ),
    Extract(
        name="enkat_urval",
        source="The evaluators' own survey frame (not in the delivery specification extracts.md)",
        title_sv="Enkätens urvalsram: inbjudna per region och vårdnivå",
        grain="one row per region x care level",
        grain_sv="en rad per region och vårdnivå",
        description="The survey's frame: how many staff who perform coordination were invited, per region and care "
                    "level (the survey is a census attempt). Optional: without it the survey's response rate is not "
                    "computed and respondents are taken as the whole frame of their class (no non-response weighting, "
                    "no finite-population correction).",
        person_level=False,
        optional=True,
        staging_table="stg_enkat__frame_cells",
        columns=(
            Column("Region", "region_code", "code", "Region.", description_sv="Urvalsramens region.", codes="regions"),
            Column("Vardniva", "care_level", "code", "Care level of the invited staff's units.",
                   description_sv="Vårdnivå för de inbjudnas enheter.", codes="care_level"),
            Column("AntalIUrval", "n_invited", "integer", "Staff who perform coordination invited (the frame count).",
                   description_sv="Inbjuden personal som utför koordinering (urvalsramens antal).",
                   positive=True),
        ),
        caveats=("The evaluators' own frame, kept beside the survey; not register data.",),
        caveats_sv=(
            "Utvärderarnas egen urvalsram, som hör till enkäten; inte registerdata.",
        ),
        unique_key=("Region", "Vardniva"),
    ),
)


@lru_cache(maxsize=None)
def extracts_by_name() -> dict[str, Extract]:
    return {e.name: e for e in EXTRACTS}


def extract(name: str) -> Extract:
    try:
        return extracts_by_name()[name]
    except KeyError:
        raise KeyError(f"unknown extract {name!r}; known: {', '.join(extracts_by_name())}") from None


def match_file_stem(stem: str) -> tuple[Extract, int | None] | None:
    """The extract a file stem names, with its year for yearly extracts; None if unknown."""
    for e in EXTRACTS:
        m = e.file_stem_matches(stem)
        if m is False:
            continue
        return e, (m if e.yearly else None)
    return None


@dataclass(frozen=True)
class RawLayout:
    """Meta columns every raw table carries besides the contract's columns."""

    year: str = "year"  # yearly extracts only
    source_file: str = "_source_file"
    source_line: str = "_source_line"  # CSV: line in the file (header = 1); Parquet/SAS: row number
    day_unknown_suffix: str = "_day_unknown"  # date columns with day_may_be_unknown


RAW = RawLayout()
