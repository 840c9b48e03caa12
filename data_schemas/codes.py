"""Code lists as data: loads `codes/*.csv` and offers ICD-10 normalisation and grouping.

Every code list is written once, in `data_schemas/codes/`; validation, the synthetic
generator, staging and the data dictionary read it from here.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CODES_DIR = Path(__file__).parent / "codes"


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(CODES_DIR / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class Code:
    code: str
    label_sv: str
    label_en: str


@lru_cache(maxsize=None)
def code_list(name: str) -> tuple[Code, ...]:
    """Return the codes of list `name` (from `enums.csv`, or `regions`, `kva`, `diagnosis_groups`)."""
    if name == "regions":
        return tuple(Code(r["region_code"], r["region_name"], r["region_name"]) for r in _read_csv("regions.csv"))
    if name == "kva":
        return tuple(Code(r["kva_code"], r["label_sv"], r["label_en"]) for r in _read_csv("kva.csv"))
    if name == "diagnosis_groups":
        return tuple(Code(r["diagnosis_group"], r["label_sv"], r["label_en"]) for r in _read_csv("diagnosis_groups.csv"))
    if name == "chapter_groups":
        return tuple(Code(r["chapter_group"], r["label_sv"], r["label_en"]) for r in _read_csv("chapter_groups.csv"))
    rows = [r for r in _read_csv("enums.csv") if r["code_list"] == name]
    if not rows:
        raise KeyError(f"unknown code list {name!r}")
    return tuple(Code(r["code"], r["label_sv"], r["label_en"]) for r in rows)


def codes(name: str) -> tuple[str, ...]:
    """The allowed code values of list `name`."""
    return tuple(c.code for c in code_list(name))


def labels_sv(name: str) -> dict[str, str]:
    return {c.code: c.label_sv for c in code_list(name)}


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    population_2023: int


@lru_cache(maxsize=None)
def regions() -> tuple[Region, ...]:
    """The 21 regions (= counties since 2019) with their approximate 2023 population."""
    return tuple(
        Region(r["region_code"], r["region_name"], int(r["population_2023"])) for r in _read_csv("regions.csv")
    )


# The six healthcare regions (sjukvårdsregioner, Hälso- och sjukvårdsförordningen 2017:80), in
# a neighbour order north to south. Halland, which the ordinance splits between Södra and
# Västra, is counted with Västra (its larger part).
HEALTHCARE_REGION_ORDER = ("NORR", "MELLAN", "STHLM_GOTL", "SYDOST", "VASTRA", "SODRA")


@lru_cache(maxsize=None)
def healthcare_regions() -> dict[str, tuple[str, str]]:
    """Region code -> (healthcare region code, its name): the survey's region groups."""
    return {r["region_code"]: (r["healthcare_region"], r["healthcare_region_name"])
            for r in _read_csv("healthcare_regions.csv")}


# --- ICD-10-SE -------------------------------------------------------------------------
# Registered diagnoses arrive as `F43.8A`, `F438A`, `f32.1`, `M54-`, ` F41 `. The canonical
# form is the register's own: upper case, no dot, no dash or space (`F438A`).
_ICD_CANONICAL = re.compile(r"^[A-Z][0-9]{2}[0-9A-Z]{0,3}$")
_ICD_STRIP = re.compile(r"[\s.\-]")


def normalise_icd10(raw: str | None) -> str | None:
    """Canonical ICD-10-SE code (`F438A`) or None when empty or not a code."""
    if raw is None:
        return None
    code = _ICD_STRIP.sub("", str(raw)).upper()
    return code if _ICD_CANONICAL.match(code) else None


def is_canonical_icd10(raw: str | None) -> bool:
    return raw is not None and _ICD_CANONICAL.match(raw) is not None


def normalise_icd10_sql(column: str) -> str:
    """DuckDB expression with the same result as `normalise_icd10` for `column`."""
    stripped = f"upper(regexp_replace({column}, '[\\s.\\-]', '', 'g'))"
    return f"case when regexp_full_match({stripped}, '[A-Z][0-9]{{2}}[0-9A-Z]{{0,3}}') then {stripped} end"


@dataclass(frozen=True)
class DiagnosisGroup:
    group: str
    label_sv: str
    label_en: str
    chapter_group: str
    icd_from: str
    icd_to: str

    @property
    def width(self) -> int:
        """Number of three-character categories covered (smaller = more specific)."""
        def ordinal(c: str) -> int:
            return (ord(c[0]) - ord("A")) * 100 + int(c[1:3])
        return ordinal(self.icd_to) - ordinal(self.icd_from) + 1


@lru_cache(maxsize=None)
def diagnosis_groups() -> tuple[DiagnosisGroup, ...]:
    """Reporting groups, most specific first; the last is `unknown`."""
    rows = [
        DiagnosisGroup(r["diagnosis_group"], r["label_sv"], r["label_en"], r["chapter_group"], r["icd_from"], r["icd_to"])
        for r in _read_csv("diagnosis_groups.csv")
    ]
    ranged = sorted((g for g in rows if g.icd_from), key=lambda g: g.width)
    return tuple(ranged) + tuple(g for g in rows if not g.icd_from)


def diagnosis_group_of(code: str | None) -> str:
    """Reporting group of a canonical ICD-10 code (most specific range wins)."""
    if not code:
        return "unknown"
    cat = code[:3]
    for g in diagnosis_groups():
        if g.icd_from and g.icd_from <= cat <= g.icd_to:
            return g.group
    return "unknown"


def chapter_group_of(group: str) -> str:
    return {g.group: g.chapter_group for g in diagnosis_groups()}[group]


def diagnosis_group_sql(canonical_column: str) -> str:
    """DuckDB CASE expression mapping a canonical code column to its reporting group."""
    cat = f"substr({canonical_column}, 1, 3)"
    whens = [
        f"when {cat} between '{g.icd_from}' and '{g.icd_to}' then '{g.group}'"
        for g in diagnosis_groups()
        if g.icd_from
    ]
    return "case " + " ".join(whens) + " else 'unknown' end"


def chapter_group_sql(group_column: str) -> str:
    whens = [f"when '{g.group}' then '{g.chapter_group}'" for g in diagnosis_groups()]
    return f"case {group_column} " + " ".join(whens) + " else 'unknown' end"


EXHAUSTION_DISORDER = "F438A"  # utmattningssyndrom, a Swedish extension of ICD-10
