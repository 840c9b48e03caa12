"""The study definition: the choices of the cohort build, read from a TOML file and validated.

A study file (`study.toml` at the repository root is the documented default) holds the
choices evaluators may disagree on: the study period, the age range, the minimum spell
length, the gap rule that joins benefit periods into spells, which benefits count and FK's
rule for preventive sickness benefit (FSJP), the relapse window, the return-to-work definition and the time bands of the person-time table.
Every error in a file is collected and reported at once (`StudyDefinitionError`). The
`[analyses]` table is passed through untouched; whoever runs the analyses validates it.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from data_schemas.codes import codes
from data_schemas.codes import normalise_icd10
from koord.errors import StudyDefinitionError

DEFAULT_STUDY_FILE = Path(__file__).resolve().parents[1] / "study.toml"

RETURN_TO_WORK_DEFINITIONS = ("benefit_end", "earnings_confirmed")
# What a new spell within the relapse window after a spell's last day does to that spell (issue 14):
# 'continue' lets the follow-up run on into it (return to work = a sustained return), 'censor'
# censors the spell on its last day, 'event' counts the return to work anyway (any return).
RELAPSE_RULES = ("continue", "censor", "event")

# What a spell containing preventive sickness benefit (FSJP) becomes. Spells are first built by
# the gap rule from the counted benefits' periods plus, under "drop_spell", the FSJP periods:
#   "drop_spell"  FK's statistics: every spell with at least one FSJP period is dropped whole
#                 (the default);
#   "drop_period" FSJP periods take no part in spells (they neither start, extend nor bridge
#                 one); the other periods form spells as if they were not delivered;
#   "include"     FSJP counts as sick leave like SJP.
FSJP_RULES = ("drop_spell", "drop_period", "include")
# A LISA year the study reads but the delivery lacks: stop the build, or build and warn.
MISSING_LISA_YEAR_RULES = ("refuse", "allow")
FSJP = "FSJP"  # preventive sickness benefit (förebyggande sjukpenning)
ASJP = "ASJP"  # occupational injury sickness benefit (arbetsskadesjukpenning), the spec's code
RHP = "RHP"  # rehabilitation benefit (rehabiliteringspenning)

# The register's youngest LISA population is 16; at 65 a person leaves the sickness insurance's
# working-age population (the 65th birthday is a competing event), so ages are kept within these.
AGE_FLOOR_YEARS = 16
AGE_CEILING_YEARS = 64


# Negative-control outcomes (issue 14): a first care contact whose MAIN diagnosis falls in ranges that
# coordination for return to work cannot plausibly affect within a spell's follow-up. Each range is
# "A00-B99" (three-character categories, both ends included) or one category or code ("L60",
# "N39.0": every code it begins). The documented defaults are study.toml's (a test keeps them equal);
# `koord synth` plants contacts in these ranges. None overlaps a diagnosis the synthetic spells carry.
NEGATIVE_CONTROL_ID_PATTERN = r"^[a-z][a-z0-9_]{0,30}$"


@dataclass(frozen=True)
class NegativeControlOutcome:
    """One negative-control outcome: its id, ICD-10 ranges of the main diagnosis and why it is one."""

    id: str
    icd: tuple[str, ...]
    why: str

    def ranges(self) -> tuple[tuple[str, str], ...]:
        """(first, last) canonical prefixes of equal length per range: "H00-H59" -> ("H00", "H59"), "N39.0" -> ("N390", "N390")."""
        return tuple(parse_icd_range(r) for r in self.icd)

    def matches(self, code: str | None) -> bool:
        """Whether a canonical ICD-10 code (`F438A`) falls in one of the ranges."""
        return bool(code) and any(lo <= code[:len(lo)] <= hi for lo, hi in self.ranges())

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "icd": list(self.icd), "why": self.why}


def parse_icd_range(text: str) -> tuple[str, str]:
    """("first", "last") of an ICD-10 range text; raises ValueError naming what is wrong."""
    parts = [p.strip() for p in str(text).split("-")] if "-" in str(text).strip("- ") else [str(text).strip()]
    if len(parts) not in (1, 2) or not all(parts):
        raise ValueError(f"{text!r} is not a code nor a range 'A00-A99'")
    ends = [normalise_icd10(p) for p in parts]
    if any(e is None for e in ends):
        raise ValueError(f"{text!r}: {', '.join(p for p, e in zip(parts, ends) if e is None)} is not an ICD-10 code")
    lo, hi = ends[0], ends[-1]
    if len(lo) != len(hi):
        raise ValueError(f"{text!r}: both ends must have the same length ('H00-H59', 'N390-N399')")
    if lo > hi:
        raise ValueError(f"{text!r}: the first end is after the last")
    return lo, hi


DEFAULT_NEGATIVE_CONTROLS: tuple[NegativeControlOutcome, ...] = (
    NegativeControlOutcome("eye", ("H00-H59",), "Eye and adnexa (cataract, conjunctivitis, refraction): no pathway "
                           "from coordination of the return to work to the eye within weeks."),
    NegativeControlOutcome("ear", ("H60-H75",), "External and middle ear infections; vertigo (H81), itself a reason "
                           "for sick leave, is left out."),
    NegativeControlOutcome("dental_oral", ("K00-K14",), "Teeth, mouth and jaws: caries and gum disease develop over "
                           "years and are not touched by rehabilitation coordination."),
    NegativeControlOutcome("skin_infection", ("L00-L08",), "Skin infections (impetigo, abscess, cellulitis): acute, "
                           "caused by bacteria, not by the sick-leave process."),
    NegativeControlOutcome("ingrown_nail", ("L60",), "Nail disorders, mostly ingrown toenails: mechanical, unrelated "
                           "to work capacity or coordination."),
    NegativeControlOutcome("urinary_tract_infection", ("N30", "N39.0"), "Cystitis and urinary tract infection: acute "
                           "bacterial infections whose rate coordination cannot change."),
    NegativeControlOutcome("allergic_rhinitis", ("J30",), "Allergic and vasomotor rhinitis: set by pollen season and "
                           "allergy; sinusitis (J32) is a sick-leave diagnosis and is left out."),
    NegativeControlOutcome("anal_disorders", ("K60-K64",), "Haemorrhoids, fissures and other anal disorders: "
                           "mechanical conditions without a path from coordination."),
    NegativeControlOutcome("viral_warts", ("B07",), "Viral warts: a skin virus infection without any relation to "
                           "return-to-work support."),
)


@dataclass(frozen=True)
class Study:
    """The cohort-build choices of one study (defaults = the documented `study.toml`).

    Attributes
    ----------
    name, description : str
        What the study is called and why it makes its choices.
    spell_start_from, spell_start_to : datetime.date
        Spells whose first day (``InsjuknandeDatum``) falls in this closed interval are studied.
        Follow-up runs to the delivery's extraction date (``raw._delivery.extraction_date``).
    age_min_years, age_max_years : int
        Age at spell start, ``year(spell start) - birth year`` (only the birth year is known),
        closed interval within 16-64.
    min_spell_days : int
        A spell is studied only if ``spell_days > min_spell_days`` (FK's statistics: > 14).
    gap_days : int
        A benefit period joins the current spell if its ``InsjuknandeDatum`` minus the spell's
        latest end is at most ``gap_days`` (insjuknanderegeln: 5; ISF's chains: 90).
    include_rhp, include_asjp : bool
        Whether rehabilitation benefit (RHP) and occupational injury sickness benefit (ASJP,
        arbetsskadesjukpenning, part of FK's spells) periods count as sick leave. Sickness
        benefit (SJP) always does.
    fsjp_rule : str
        Preventive sickness benefit (FSJP): ``'drop_spell'`` (FK's statistics: spells are built
        by the gap rule with the FSJP periods taking part, then every spell with an FSJP period
        is dropped whole), ``'drop_period'`` (FSJP periods take no part in spells) or
        ``'include'`` (FSJP counts as sick leave). The study file's deprecated
        ``include_fsjp = true`` means ``'include'``, ``false`` means ``'drop_period'``.
    extra_sick_leave_codes : tuple of str
        Further ``Formankod`` values the study counts as sick leave, e.g. a delivery's own code
        for occupational injury sickness benefit. Periods with a code neither in the code list
        ``sickness_benefit`` nor here take no part in spells (the attrition table counts them).
    relapse_window_days : int
        A new spell starting at most this many days after a spell's last day is a relapse; the
        same window must be free of competing events for a return to work.
    relapse : str
        What a relapse does to the spell before it (`RELAPSE_RULES`): ``'continue'`` (default)
        the relapse continues the spell: its follow-up runs on through the new spell (and any
        relapse of that one, a chain), the return to work is the end of the chain's last spell
        (a sustained return: no new spell within the window), and the later spells of the chain
        are not analysed as spells of their own; ``'censor'`` the spell is censored on its last
        day; ``'event'`` the spell's end counts as a return to work even so (any return, the
        upper bound). Competing events end follow-up under every rule.
    return_to_work : str
        ``'benefit_end'`` or ``'earnings_confirmed'`` (additionally AGI pay > 0 in the calendar
        month after the spell's last month).
    missing_lisa_years : str
        A LISA year the study reads (the year before the first spell start year to the last
        start year: covariates come from the year before a spell starts) that the delivery lacks:
        ``'refuse'`` (default) stops the build with a message naming the years, since every person
        would lack that year's residence, education, income and employment; ``'allow'`` builds,
        warns, and leaves those spells' covariates unknown.
    time_bands : tuple of int
        First day (days since spell start) of each band of ``person_time``; starts at 0,
        strictly increasing; the last band is open.
    negative_controls : tuple of NegativeControlOutcome
        ``[negative_controls] outcomes``: outcomes coordination cannot affect (id, ICD-10 ranges
        of the main diagnosis of a care contact, why), run through the main designs to estimate
        their systematic error (issue 14).
    analyses : Mapping
        The ``[analyses]`` table as written, for the analysis stage (not validated here).
    source : str or None
        The file the study was read from (None for the built-in defaults).
    """

    name: str = "default"
    description: str = "Sick-leave spells starting 2018-01-01 to 2024-06-30, ages 16-64, FK's definitions."
    spell_start_from: date = date(2018, 1, 1)
    spell_start_to: date = date(2024, 6, 30)
    age_min_years: int = 16
    age_max_years: int = 64
    min_spell_days: int = 14
    gap_days: int = 5
    include_rhp: bool = True
    include_asjp: bool = True
    fsjp_rule: str = "drop_spell"
    extra_sick_leave_codes: tuple[str, ...] = ()
    relapse_window_days: int = 30
    relapse: str = "continue"
    return_to_work: str = "benefit_end"
    missing_lisa_years: str = "refuse"
    time_bands: tuple[int, ...] = (0, 15, 31, 61, 91, 181, 366)
    negative_controls: tuple[NegativeControlOutcome, ...] = DEFAULT_NEGATIVE_CONTROLS
    analyses: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    source: str | None = field(default=None, compare=False)

    @property
    def benefit_codes(self) -> tuple[str, ...]:
        """The `Formankod` values the study counts as sick leave: code-list order, then the extra codes."""
        optional = {RHP: self.include_rhp, ASJP: self.include_asjp, FSJP: self.fsjp_rule == "include"}
        listed = tuple(c for c in codes("sickness_benefit") if optional.get(c, True))
        return listed + tuple(c for c in self.extra_sick_leave_codes if c not in listed)

    @property
    def spell_benefit_codes(self) -> tuple[str, ...]:
        """The codes whose periods the gap rule joins into spells: `benefit_codes`, plus FSJP under 'drop_spell'."""
        return self.benefit_codes + ((FSJP,) if self.fsjp_rule == "drop_spell" and FSJP not in self.benefit_codes else ())

    @property
    def spell_dropping_codes(self) -> tuple[str, ...]:
        """Codes of which one period drops its whole spell: FSJP under 'drop_spell', else none."""
        return (FSJP,) if self.fsjp_rule == "drop_spell" else ()

    @property
    def known_benefit_codes(self) -> tuple[str, ...]:
        """The code list `sickness_benefit` and the extra codes: any other code is unknown to the study."""
        listed = codes("sickness_benefit")
        return listed + tuple(c for c in self.extra_sick_leave_codes if c not in listed)

    def time_band_labels(self) -> tuple[str, ...]:
        """Labels of `time_bands`: '0-14', '15-30', ..., '366+' (day indices, both ends included)."""
        b = self.time_bands
        return tuple(f"{lo}-{hi - 1}" for lo, hi in zip(b, b[1:])) + (f"{b[-1]}+",)

    def as_dict(self) -> dict[str, Any]:
        """The choices as plain JSON-able values (dates as ISO strings), for the build record."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("analyses", "source")}
        out["spell_start_from"] = self.spell_start_from.isoformat()
        out["spell_start_to"] = self.spell_start_to.isoformat()
        out["time_bands"] = list(self.time_bands)
        out["extra_sick_leave_codes"] = list(self.extra_sick_leave_codes)
        out["negative_controls"] = [o.as_dict() for o in self.negative_controls]
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False)


# TOML layout: section -> key -> Study field. `[analyses]` is passed through.
_LAYOUT: dict[str, dict[str, str]] = {
    "study": {"name": "name", "description": "description"},
    "period": {"spell_start_from": "spell_start_from", "spell_start_to": "spell_start_to"},
    "population": {"age_min_years": "age_min_years", "age_max_years": "age_max_years", "min_spell_days": "min_spell_days"},
    "spells": {
        "gap_days": "gap_days", "include_rhp": "include_rhp", "include_asjp": "include_asjp",
        "fsjp_rule": "fsjp_rule", "extra_sick_leave_codes": "extra_sick_leave_codes",
    },
    "outcome": {"relapse_window_days": "relapse_window_days", "relapse": "relapse", "return_to_work": "return_to_work"},
    "person_time": {"time_bands": "time_bands"},
    "delivery": {"missing_lisa_years": "missing_lisa_years"},
}
_PASSTHROUGH = ("analyses", "disclosure")  # read by analyses/ and reports/disclosure.py
_FIELD_TYPES = {f.name: f.type for f in fields(Study)}
# Deprecated keys: (section, key) -> what replaced them (read by study_from_mapping).
_DEPRECATED = {("spells", "include_fsjp"): "fsjp_rule"}


def _check_value(where: str, name: str, value: Any, errors: list[str]) -> Any:
    """Type-check one value; append a message and return None when it is wrong."""
    kind = _FIELD_TYPES[name]
    if kind == "str":
        if isinstance(value, str) and value.strip():
            return value
        errors.append(f"{where}: expected a non-empty text, got {value!r}")
    elif kind == "bool":
        if isinstance(value, bool):
            return value
        errors.append(f"{where}: expected true or false, got {value!r}")
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        errors.append(f"{where}: expected a whole number, got {value!r}")
    elif kind == "date":
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        errors.append(f"{where}: expected a date YYYY-MM-DD, got {value!r}")
    elif kind == "tuple[int, ...]":
        if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(value)
        errors.append(f"{where}: expected a non-empty list of whole numbers, got {value!r}")
    elif kind == "tuple[str, ...]":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        errors.append(f"{where}: expected a list of texts, got {value!r}")
    else:  # pragma: no cover - a field added without a checker
        raise TypeError(f"no checker for {name}: {kind}")
    return None


def _check_rules(values: dict[str, Any], errors: list[str]) -> None:
    """Rules between values; only for values that passed their type check."""

    def have(*names: str) -> bool:
        return all(values.get(n) is not None for n in names)

    if have("spell_start_from", "spell_start_to") and values["spell_start_from"] > values["spell_start_to"]:
        errors.append(
            f"[period]: spell_start_from {values['spell_start_from']} is after spell_start_to {values['spell_start_to']}"
        )
    for n in ("age_min_years", "age_max_years"):
        if have(n) and not AGE_FLOOR_YEARS <= values[n] <= AGE_CEILING_YEARS:
            errors.append(
                f"[population] {n}: {values[n]} is outside {AGE_FLOOR_YEARS}-{AGE_CEILING_YEARS} "
                "(LISA covers ages 16+, and the 65th birthday ends follow-up)"
            )
    if have("age_min_years", "age_max_years") and values["age_min_years"] > values["age_max_years"]:
        errors.append(f"[population]: age_min_years {values['age_min_years']} is above age_max_years {values['age_max_years']}")
    if have("min_spell_days") and values["min_spell_days"] < 0:
        errors.append(f"[population] min_spell_days: must be 0 or more, got {values['min_spell_days']}")
    if have("gap_days") and not 1 <= values["gap_days"] <= 365:
        errors.append(
            f"[spells] gap_days: must be 1-365 (1 joins only adjoining periods), got {values['gap_days']}"
        )
    if have("relapse_window_days") and not 1 <= values["relapse_window_days"] <= 365:
        errors.append(f"[outcome] relapse_window_days: must be 1-365, got {values['relapse_window_days']}")
    if have("relapse") and values["relapse"] not in RELAPSE_RULES:
        errors.append(
            f"[outcome] relapse: {values['relapse']!r} is not one of " + ", ".join(repr(r) for r in RELAPSE_RULES)
        )
    if have("return_to_work") and values["return_to_work"] not in RETURN_TO_WORK_DEFINITIONS:
        errors.append(
            f"[outcome] return_to_work: {values['return_to_work']!r} is not one of "
            + ", ".join(repr(d) for d in RETURN_TO_WORK_DEFINITIONS)
        )
    if have("missing_lisa_years") and values["missing_lisa_years"] not in MISSING_LISA_YEAR_RULES:
        errors.append(
            f"[delivery] missing_lisa_years: {values['missing_lisa_years']!r} is not one of "
            + ", ".join(repr(r) for r in MISSING_LISA_YEAR_RULES)
        )
    if have("fsjp_rule") and values["fsjp_rule"] not in FSJP_RULES:
        errors.append(
            f"[spells] fsjp_rule: {values['fsjp_rule']!r} is not one of " + ", ".join(repr(r) for r in FSJP_RULES)
        )
    if have("extra_sick_leave_codes"):
        known = codes("sickness_benefit")
        seen: set[str] = set()
        for code in values["extra_sick_leave_codes"]:
            if not code.strip() or code != code.strip():
                errors.append(f"[spells] extra_sick_leave_codes: {code!r} is not a code (empty or with spaces around it)")
            elif code in known:
                errors.append(
                    f"[spells] extra_sick_leave_codes: {code!r} is a known benefit code (the code list is "
                    f"{', '.join(known)}; include_rhp, include_asjp and fsjp_rule decide those)"
                )
            elif code in seen:
                errors.append(f"[spells] extra_sick_leave_codes: {code!r} is listed twice")
            seen.add(code)
    if have("time_bands"):
        bands = values["time_bands"]
        if bands[0] != 0:
            errors.append(f"[person_time] time_bands: the first band must start at 0, got {bands[0]}")
        if any(b >= c for b, c in zip(bands, bands[1:])):
            errors.append(f"[person_time] time_bands: band starts must be strictly increasing, got {list(bands)}")


NEGATIVE_CONTROLS_SECTION = "negative_controls"
_NEGATIVE_CONTROL_KEYS = ("id", "icd", "why")


def _negative_controls(content: Any, errors: list[str]) -> tuple[NegativeControlOutcome, ...] | None:
    """``[negative_controls] outcomes = [{id, icd, why}, ...]``; every error named with its place."""
    where = f"[{NEGATIVE_CONTROLS_SECTION}]"
    if not isinstance(content, Mapping):
        errors.append(f"{where}: expected a table, got {content!r}")
        return None
    n_before = len(errors)
    for key in content:
        if key != "outcomes":
            errors.append(f"{where} {key}: unknown key (known: outcomes)")
    outcomes = content.get("outcomes", [])
    if not isinstance(outcomes, list) or not all(isinstance(o, Mapping) for o in outcomes):
        errors.append(f"{where} outcomes: expected a list of tables {{id = ..., icd = [...], why = ...}}, got {outcomes!r}")
        return None
    out: list[NegativeControlOutcome] = []
    seen: dict[str, int] = {}
    claimed: list[tuple[str, str, str, str]] = []  # (lo, hi, id, text) of every range so far
    for i, item in enumerate(outcomes, 1):
        place = f"{where} outcomes[{i}]" + (f" ({item['id']})" if isinstance(item.get("id"), str) else "")
        for key in item:
            if key not in _NEGATIVE_CONTROL_KEYS:
                errors.append(f"{place} {key}: unknown key (known: {', '.join(_NEGATIVE_CONTROL_KEYS)})")
        oid, icd, why = item.get("id"), item.get("icd"), item.get("why")
        ok = True
        if not isinstance(oid, str) or not re.match(NEGATIVE_CONTROL_ID_PATTERN, oid):
            errors.append(f"{place} id: expected lower-case letters, digits and _ starting with a letter, got {oid!r}")
            ok = False
        elif oid in seen:
            errors.append(f"{place} id: {oid!r} is used by outcomes[{seen[oid]}] too")
            ok = False
        else:
            seen[oid] = i
        if not isinstance(why, str) or not why.strip():
            errors.append(f"{place} why: a negative control needs its justification in words")
            ok = False
        if not isinstance(icd, list) or not icd or not all(isinstance(r, str) for r in icd):
            errors.append(f"{place} icd: expected a non-empty list of ICD-10 codes or ranges ('H00-H59'), got {icd!r}")
            continue
        for text in icd:
            try:
                lo, hi = parse_icd_range(text)
            except ValueError as exc:
                errors.append(f"{place} icd: {exc}")
                ok = False
                continue
            for olo, ohi, other, otext in claimed:
                n = min(len(lo), len(olo))
                if lo[:n] <= ohi[:n] and olo[:n] <= hi[:n]:
                    errors.append(f"{place} icd: {text!r} overlaps {otext!r} of {other!r}; a contact would count "
                                  "for both outcomes")
                    ok = False
            claimed.append((lo, hi, str(oid), text))
        if ok:
            out.append(NegativeControlOutcome(oid, tuple(icd), why.strip()))
    return tuple(out) if len(errors) == n_before else None


def _resolve_include_fsjp(deprecated: dict[tuple[str, str], Any], values: dict[str, Any], errors: list[str]) -> None:
    """The deprecated ``[spells] include_fsjp``: true = fsjp_rule 'include', false = 'drop_period'.

    Given together with ``fsjp_rule``, the two must agree, else an error names both.
    """
    if ("spells", "include_fsjp") not in deprecated:
        return
    value = deprecated[("spells", "include_fsjp")]
    if not isinstance(value, bool):
        errors.append(f"[spells] include_fsjp: expected true or false, got {value!r} (deprecated: write fsjp_rule)")
        return
    implied = "include" if value else "drop_period"
    if "fsjp_rule" in values:
        given = values["fsjp_rule"]
        if given is not None and given != implied:
            errors.append(
                f"[spells] include_fsjp = {str(value).lower()} contradicts fsjp_rule = {given!r} "
                f"(include_fsjp is deprecated: {str(value).lower()} means fsjp_rule = {implied!r}; remove include_fsjp)"
            )
        return
    values["fsjp_rule"] = implied


def study_from_mapping(data: Mapping[str, Any], source: str | None = None) -> Study:
    """Build a `Study` from parsed TOML; raise `StudyDefinitionError` listing every error.

    Parameters
    ----------
    data : Mapping
        Sections as in `study.toml`. Missing sections and keys take the defaults.
    source : str, optional
        Name of the file, used in the messages.
    """
    errors: list[str] = []
    values: dict[str, Any] = {}
    deprecated: dict[tuple[str, str], Any] = {}
    for section, content in data.items():
        if section == NEGATIVE_CONTROLS_SECTION:
            values["negative_controls"] = _negative_controls(content, errors)
            continue
        if section in _PASSTHROUGH:
            if not isinstance(content, Mapping):
                errors.append(f"[{section}]: expected a table, got {content!r}")
            continue
        if section not in _LAYOUT:
            known = ", ".join(f"[{s}]" for s in (*_LAYOUT, NEGATIVE_CONTROLS_SECTION, *_PASSTHROUGH))
            errors.append(f"[{section}]: unknown section (known: {known})")
            continue
        if not isinstance(content, Mapping):
            errors.append(f"[{section}]: expected a table, got {content!r}")
            continue
        for key, value in content.items():
            if (section, key) in _DEPRECATED:
                deprecated[(section, key)] = value
                continue
            name = _LAYOUT[section].get(key)
            if name is None:
                errors.append(f"[{section}] {key}: unknown key (known: {', '.join(_LAYOUT[section])})")
                continue
            values[name] = _check_value(f"[{section}] {key}", name, value, errors)
    _resolve_include_fsjp(deprecated, values, errors)
    defaults = Study()
    merged = {n: (values[n] if n in values else getattr(defaults, n)) for n in _FIELD_TYPES if n not in ("analyses", "source")}
    _check_rules(merged, errors)
    if errors:
        where = source or "study definition"
        raise StudyDefinitionError(
            f"{where} has {len(errors)} error{'s' if len(errors) > 1 else ''}:\n" + "\n".join(f"  - {e}" for e in errors)
        )
    analyses = data.get("analyses", {})
    return Study(**merged, analyses=MappingProxyType(dict(analyses)), source=source)


def load_study(path: str | Path | None = None) -> Study:
    """Read and validate a study file; None reads the repository's documented `study.toml`.

    Without that file (an installed copy of koord) None gives `Study()`, whose defaults are
    the documented file's (a test keeps them equal).

    Raises
    ------
    StudyDefinitionError
        The file is missing, is not valid TOML, or breaks any rule (all listed at once).
    """
    if path is None:
        if not DEFAULT_STUDY_FILE.is_file():  # installed without the repository: the same defaults
            return Study()
        path = DEFAULT_STUDY_FILE
    path = Path(path)
    if not path.is_file():
        raise StudyDefinitionError(f"study file {path} not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise StudyDefinitionError(f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise StudyDefinitionError(f"{path} is not UTF-8 text: {exc}") from None
    return study_from_mapping(data, source=str(path))


__all__ = ["DEFAULT_NEGATIVE_CONTROLS", "NegativeControlOutcome", "parse_icd_range", "DEFAULT_STUDY_FILE", "FSJP_RULES", "MISSING_LISA_YEAR_RULES", "RELAPSE_RULES", "RETURN_TO_WORK_DEFINITIONS", "Study", "load_study", "study_from_mapping"]
