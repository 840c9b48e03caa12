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

    def years_text(self) -> str:
        if self.from_year and self.to_year:
            return f"{self.from_year}-{self.to_year}"
        if self.to_year:
            return f"to {self.to_year}"
        if self.from_year:
            return f"from {self.from_year}"
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
        description="Population and socio-economics, one file per year.",
        yearly=True,
        staging_table="stg_scb__lisa_years",
        columns=(
            _lopnr(),
            Column("Kon", "sex_code", "code", "Sex: 1 man, 2 kvinna.", codes="sex"),
            Column("FodelseAr", "birth_year", "integer", "Year of birth.", min_value=1900, max_value=2030),
            Column("Lan", "region_code", "code", "County (= region) of residence on 31 December.", codes="regions"),
            Column(
                "Kommun",
                "municipality_code",
                "text",
                "Municipality of residence; its first two digits are Lan.",
                pattern=r"\d{4}",
                nullable=True,
            ),
            Column(
                "Sun2000Niva",
                "education_level",
                "code",
                "Highest education, 7 levels (SUN 2000/2020 'Old' level).",
                codes="education",
                nullable=True,
                accepts_own_name=False,
                aliases=(Alias("Sun2000Niva_Old", to_year=2018), Alias("SUN2020Niva_Old", from_year=2019)),
                refused_names=("Sun2000Niva", "SUN2020Niva"),
                refused_reason="the detailed 3-digit SUN code (e.g. 106, 310, 526), not the 7-level education",
            ),
            Column(
                "DispInkPersF04",
                "disposable_income_hsek",
                "integer",
                "Individual disposable income, hundreds of SEK; may be negative.",
                nullable=True,
                aliases=(Alias("DispInk04"), Alias("DispInk")),
            ),
            Column(
                "SyssStat",
                "lisa_employment_code",
                "code",
                "Employment status in November (6 is treated as not employed).",
                codes="employment_status_lisa",
                nullable=True,
                aliases=(Alias("SyssStat11", to_year=2018), Alias("SyssStat19", from_year=2019)),
            ),
            Column("FodGrEg4", "birth_region_code", "code",
                   "Region of birth; scb_bakgrund's, when delivered, takes precedence.",
                   codes="birth_region", nullable=True, required=False),
            _senpnr(),
        ),
        current_identity="SenPNr",
        caveats=(
            "A person who died or emigrated during the year has no row for that year.",
            "A LopNr may repeat within a year when the identity number changed (SenPNr): the row with SenPNr = 1 is used.",
            "Residence is that of 31 December; the home region at a spell's start is taken from the year before.",
        ),
    ),
    Extract(
        name="scb_bakgrund",
        source="SCB",
        title_sv="Bakgrundsuppgifter (födelseregion)",
        grain="one row per person",
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
                codes="birth_region",
                nullable=True,
                code_labels=BIRTH_REGION_LABELS,
            ),
            _senpnr(),
        ),
        caveats=(
            "When delivered, its region of birth is the person's; LISA's FodGrEg4 fills in for persons it lacks or leaves empty.",
        ),
    ),
    Extract(
        name="scb_dodsorsak",
        source="SCB (Socialstyrelsen's cause-of-death register)",
        title_sv="Dödsorsaksregistret",
        grain="one row per deceased person",
        description="Deaths.",
        staging_table="stg_scb__deaths",
        columns=(
            _lopnr(),
            Column("DodDatum", "death_date", "date", "Date of death.", day_may_be_unknown=True),
            Column("UlOrsak", "underlying_cause_icd10", "text", "Underlying cause of death (ICD-10).", nullable=True, required=False, icd10=True),
        ),
        caveats=("Rarely only year and month are known (day 00); read as the 15th and flagged.",),
    ),
    Extract(
        name="scb_migrationer",
        source="SCB (RTB)",
        title_sv="Migrationer",
        grain="one row per registered move across the border",
        description="Immigrations and emigrations.",
        staging_table="stg_scb__migrations",
        columns=(
            _lopnr(),
            Column("Datum", "migration_date", "date", "Date of the move."),
            Column("Posttyp", "migration_type", "code", "Inv immigration, Utv emigration.", codes="migration_type"),
        ),
    ),
    Extract(
        name="fk_midas_sjukpenning",
        source="Försäkringskassan (MiDAS)",
        title_sv="Sjukpenningperioder (MiDAS)",
        grain="one row per benefit period paid by FK",
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
                codes="sickness_benefit",
                on_unknown_code="warn",
            ),
            Column("FomDatum", "period_start_date", "date", "First day of the period."),
            Column("TomDatum", "period_end_date", "date", "Last day; empty = ongoing at extraction.", nullable=True),
            Column("Omfattning", "extent_pct", "code", "Extent, per cent of full time.", codes="extent"),
            Column(
                "Diagnos",
                "diagnosis_code_raw",
                "text",
                "ICD-10-SE code from the medical certificate, as registered.",
                nullable=True,
                icd10=True,
            ),
            Column("Sysselsattning", "occupation_status", "code", "Occupation at the period's start.", codes="occupation_status_fk"),
            Column(
                "InsjuknandeDatum",
                "sick_start_date",
                "date",
                "First day of the sick period this period belongs to, including the employer's sick-pay days.",
            ),
        ),
        caveats=(
            "An employee's first 14 days are paid by the employer and are not in MiDAS: the first FK period starts on day 15 while InsjuknandeDatum gives day 1.",
            "Periods of one person may overlap (corrections, re-decisions) or repeat exactly (double deliveries).",
            "A new period starting within 5 days of the previous end continues the spell (insjuknanderegeln, SFB 27:32).",
            "FSJP periods are usually excluded from sick-leave statistics.",
            "A spell's diagnosis is the first registered (as in FK's statistics).",
        ),
    ),
    Extract(
        name="fk_midas_ersattning",
        source="Försäkringskassan (MiDAS)",
        title_sv="Sjuk- och aktivitetsersättning",
        grain="one row per compensation decision period",
        description="Sickness and activity compensation (permanent or long-term).",
        staging_table="stg_fk__compensation_periods",
        periods=(PeriodRule("FomDatum", "TomDatum"),),
        columns=(
            _lopnr(),
            Column("Formankod", "benefit_code", "code", "SA or AE.", codes="compensation_benefit"),
            Column("FomDatum", "period_start_date", "date", "Start."),
            Column("TomDatum", "period_end_date", "date", "End; empty = ongoing.", nullable=True),
            Column("Omfattning", "extent_pct", "code", "Extent, per cent.", codes="extent"),
        ),
    ),
    Extract(
        name="fk_samverkan",
        source="Försäkringskassan (case records)",
        title_sv="Samverkanshändelser i sjukfall",
        grain="one row per collaboration event in an FK sickness case",
        description="Reconciliation meetings, 4 § information, employers' plans and joint mappings with AF.",
        staging_table="stg_fk__collaboration_events",
        columns=(
            _lopnr(),
            Column("HandelseDatum", "event_date", "date", "Date of the event."),
            Column("HandelseTyp", "event_type", "code", "AVST, INFO4, PLAN or AFKART.", codes="collaboration_event"),
            Column("DeltagVard", "has_care_participated", "code", "AVST: health care took part.", codes="binary", nullable=True, required=False),
            Column("DeltagArbetsgivare", "has_employer_participated", "code", "AVST: the employer took part.", codes="binary", nullable=True, required=False),
            Column("DeltagAF", "has_af_participated", "code", "AVST: AF took part.", codes="binary", nullable=True, required=False),
        ),
        caveats=("Modelled on FK's case handling; the exact register form is unconfirmed.",),
    ),
    Extract(
        name="vard_kontakter",
        source="Regions' patient administrative systems and the National Patient Register",
        title_sv="Vårdkontakter",
        grain="one row per care contact",
        description="Care contacts with KVÅ procedure codes (GC001 coordination, DV077 rehabilitation plan, AW026 its follow-up).",
        staging_table="stg_vard__care_contacts",
        columns=(
            _lopnr(),
            Column("Region", "care_region_code", "code", "Region that gave the care.", codes="regions"),
            Column("VardenhetId", "care_unit_id", "text", "Care unit, pseudonymised.", nullable=True),
            Column("Vardniva", "care_level", "code", "PV, SSV or PSY.", codes="care_level"),
            Column("Vardgivartyp", "provider_type", "code", "OFF or PRIV.", codes="provider_type", nullable=True, required=False),
            Column("KontaktDatum", "contact_date", "date", "Date of the contact."),
            Column("Kontakttyp", "contact_type", "code", "BES, TEL, DIG or ADM.", codes="contact_type", nullable=True),
            Column("Yrkesgrupp", "profession", "code", "Profession of the care giver.", codes="profession", nullable=True),
            Column("Atgarder", "kva_codes_raw", "text", "KVÅ codes, space-separated.", nullable=True, kva=True),
            Column("Diagnoser", "diagnosis_codes_raw", "text", "ICD-10-SE codes, space-separated; the first is the main diagnosis.", nullable=True, icd10=True),
        ),
        caveats=(
            "Primary care comes only from the regions' own systems: its coverage may differ between regions.",
            "Care, and so coordination, may be given in a region other than the home region.",
        ),
    ),
    Extract(
        name="af_inskrivning",
        source="Arbetsförmedlingen",
        title_sv="Inskrivningsperioder vid Arbetsförmedlingen",
        grain="one row per registration period as job seeker",
        description="Registration periods as job seeker.",
        staging_table="stg_af__registration_periods",
        periods=(PeriodRule("InskrDatum", "AvaktDatum"),),
        columns=(
            _lopnr(),
            Column("InskrDatum", "registration_date", "date", "Registered as job seeker."),
            Column("AvaktDatum", "deregistration_date", "date", "Deregistered; empty = still registered.", nullable=True),
            Column("SokandeKategori", "jobseeker_category", "code", "ARBL, DELT, PROG or OVR.", codes="jobseeker_category"),
        ),
    ),
    Extract(
        name="skv_agi_manad",
        source="Skatteverket via SCB",
        title_sv="Arbetsgivardeklarationer på individnivå (AGI)",
        grain="one row per person, month of payment and employer",
        description="Monthly earnings from employers' declarations (from 2019).",
        staging_table="stg_skv__monthly_earnings",
        columns=(
            _lopnr(),
            Column("Period", "payment_month", "yearmonth", "Month of payment, YYYYMM."),
            Column("ArbetsgivarId", "employer_id", "text", "Employer, pseudonymised."),
            Column("KontantErsattning", "cash_pay_sek", "integer", "Cash pay in SEK."),
        ),
    ),
    Extract(
        name="enkat_samverkan",
        source="The evaluators' survey",
        title_sv="Enkät till personal som utför koordinering",
        grain="one row per respondent",
        description="Survey of staff who perform coordination; items 1 (strongly disagree) to 5 (strongly agree), 6 don't know.",
        person_level=False,
        staging_table="stg_enkat__responses",
        optional=True,  # the register build runs without the survey (survey_responses is then empty)
        columns=(
            Column("RespondentId", "respondent_id", "text", "Respondent."),
            Column("Region", "region_code", "code", "Region.", codes="regions"),
            Column("Vardniva", "care_level", "code", "Care level of the respondent's unit.", codes="care_level"),
            Column("SvarsDatum", "response_date", "date", "Date answered."),
            Column("F1_FK", "item_fk", "code", "Collaboration with FK works well.", codes="likert", nullable=True),
            Column("F2_AF", "item_af", "code", "Collaboration with AF works well.", codes="likert", nullable=True),
            Column("F3_Arbetsgivare", "item_employer", "code", "Collaboration with employers works well.", codes="likert", nullable=True),
            Column("F4_Kommun", "item_municipality", "code", "Collaboration with municipalities works well.", codes="likert", nullable=True),
            Column("F5_Internt", "item_internal", "code", "Internal coordination within care works well.", codes="likert", nullable=True),
            Column("F6_Tid", "item_time", "code", "I have enough time for coordination.", codes="likert", nullable=True),
            Column("F7_Rutiner", "item_routines", "code", "My unit has documented routines for offering coordination.", codes="likert", nullable=True),
            Column("F8_Kompetens", "item_training", "code", "I have had enough training for the task.", codes="likert", nullable=True),
        ),
        caveats=("Not register data: a survey of staff, one row per respondent.",),
        unique_key=("RespondentId",),
    ),
    Extract(
        name="enkat_urval",
        source="The evaluators' own survey frame (not in the delivery specification extracts.md)",
        title_sv="Enkätens urvalsram: inbjudna per region och vårdnivå",
        grain="one row per region x care level",
        description="The survey's frame: how many staff who perform coordination were invited, per region and care "
                    "level (the survey is a census attempt). Optional: without it the survey's response rate is not "
                    "computed and respondents are taken as the whole frame of their class (no non-response weighting, "
                    "no finite-population correction).",
        person_level=False,
        optional=True,
        staging_table="stg_enkat__frame_cells",
        columns=(
            Column("Region", "region_code", "code", "Region.", codes="regions"),
            Column("Vardniva", "care_level", "code", "Care level of the invited staff's units.", codes="care_level"),
            Column("AntalIUrval", "n_invited", "integer", "Staff who perform coordination invited (the frame count).",
                   positive=True),
        ),
        caveats=("The evaluators' own frame, kept beside the survey; not register data.",),
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
