"""Disclosure classes, statuses, the rules' thresholds (`DisclosureRules`) and rounding."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from koord.errors import StudyDefinitionError


class DisclosureClass(str, Enum):
    """What kind of output it is; each class has its own rules."""

    FREQUENCY = "frequency"
    MAGNITUDE = "magnitude"
    MODEL = "model"
    SURVIVAL_CURVE = "survival_curve"
    FIGURE = "figure"
    TEXT_NUMBER = "text_number"
    ROW_LEVEL = "row_level"

    @property
    def label_sv(self) -> str:
        return {
            "frequency": "frekvenstabell",
            "magnitude": "magnitudtabell",
            "model": "modellresultat",
            "survival_curve": "överlevnads-/incidenskurva",
            "figure": "figur",
            "text_number": "tal i text",
            "row_level": "data på individnivå",
        }[self.value]


class Status(str, Enum):
    PASSED = "passed"
    SUPPRESSED = "suppressed"
    BLOCKED = "blocked"

    @property
    def label_sv(self) -> str:
        return {"passed": "godkänd", "suppressed": "godkänd med undertryckta uppgifter", "blocked": "stoppad"}[self.value]


RULE_LABELS_SV = {
    "min_cell_count": "för få personer i cellen (primär undertryckning)",
    "disclosive_zero": "nollor/hel cell röjer en egenskap hos alla i en grupp",
    "secondary": "sekundär undertryckning: annars räknebar ur marginaler",
    "linked": "samma uppgift undertryckt i länkad tabell",
    "min_contributors": "för få bidragsgivare",
    "dominance": "dominansregeln (N-K)",
    "p_percent": "p-procentregeln",
    "min_events": "för få händelser bakom skattningen",
    "min_persons": "för få personer bakom skattningen",
    "min_residual_df": "för få residualfrihetsgrader",
    "events_unknown": "antal händelser/personer saknas, kan inte kontrolleras",
    "curve_at_risk": "för få i risk vid steget",
    "curve_events": "för få händelser sedan föregående visade steg",
    "curve_group": "gruppen har inget steg som kan visas",
    "row_level": "data på individnivå lämnar aldrig databasen",
    "source_blocked": "bygger på en stoppad eller okontrollerad utdata",
    "nothing_left": "inget återstår efter undertryckning",
    "extreme_share": "andelen är 0 % eller 100 % av gruppen och röjer allas utfall",
    "audit": "övriga publicerade tal skulle ringa in värdet snävare än tröskeln",
    "undeclared_diagnostic": "diagnostiskt mått som inte är deklarerat som publicerbart",
}

DISCLOSIVE_ZERO_MODES = ("suppress", "flag", "off")


@dataclass(frozen=True)
class DisclosureRules:
    """Thresholds of every rule; read from the study file's ``[disclosure]`` table (keys = field names).

    Attributes
    ----------
    min_cell_count : int
        Smallest count of persons (or contributors) that may be shown; default 10.
    disclosive_zeros : {"suppress", "flag", "off"}
        What to do with a group whose whole count falls in one category.
    secondary_suppression : bool
        Protect primary-suppressed cells against recovery from margins and linked tables.
    dominance : tuple of (n, k)
        N-K dominance rules: sensitive if the n largest contributions exceed k per cent
        (n is 1 or 2: the two largest contributions are what the tables keep).
    p_percent : float or None
        p-percent rule; None switches it off.
    min_events_per_estimate : int
        Fewest events behind a model estimate.
    min_residual_df : int
        Fewest residual degrees of freedom of a fitted model.
    curve_min_at_risk, curve_min_events : int or None
        Curve step thresholds; None = ``min_cell_count``.
    rounding_base : int or None
        Round published counts to a multiple of this (e.g. 5 or 10); None = no rounding.
    """

    min_cell_count: int = 10
    disclosive_zeros: str = "suppress"
    secondary_suppression: bool = True
    dominance: tuple[tuple[int, float], ...] = ((1, 85.0), (2, 90.0))
    p_percent: float | None = 10.0
    min_events_per_estimate: int = 10
    min_residual_df: int = 10
    curve_min_at_risk: int | None = None
    curve_min_events: int | None = None
    rounding_base: int | None = None

    def __post_init__(self) -> None:
        errors = self._errors()
        if errors:
            raise StudyDefinitionError("[disclosure]: " + "; ".join(errors))

    def _errors(self) -> list[str]:
        errors = []
        for name in ("min_cell_count", "min_events_per_estimate", "min_residual_df"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                errors.append(f"{name} must be a whole number ≥ 1, got {v!r}")
        for name in ("curve_min_at_risk", "curve_min_events", "rounding_base"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                errors.append(f"{name} must be a whole number ≥ 1 (or left out), got {v!r}")
        if self.disclosive_zeros not in DISCLOSIVE_ZERO_MODES:
            errors.append(f"disclosive_zeros must be one of {', '.join(DISCLOSIVE_ZERO_MODES)}, got {self.disclosive_zeros!r}")
        if not isinstance(self.secondary_suppression, bool):
            errors.append(f"secondary_suppression must be true or false, got {self.secondary_suppression!r}")
        for rule in self.dominance:
            if len(rule) != 2 or rule[0] not in (1, 2) or not (0 < float(rule[1]) <= 100):
                errors.append(f"dominance rules are [n, k] with n = 1 or 2 and 0 < k ≤ 100, got {list(rule)!r}")
        if self.p_percent is not None and not (0 < float(self.p_percent) < 100):
            errors.append(f"p_percent must be between 0 and 100 (or left out), got {self.p_percent!r}")
        return errors

    @property
    def at_risk_threshold(self) -> int:
        return self.curve_min_at_risk or self.min_cell_count

    @property
    def curve_events_threshold(self) -> int:
        return self.curve_min_events or self.min_cell_count

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any] | None) -> "DisclosureRules":
        """Rules from a study file's ``[disclosure]`` table; unknown keys are an error, missing keys keep defaults."""
        if not table:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise StudyDefinitionError(
                f"[disclosure]: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}"
            )
        values = dict(table)
        if "dominance" in values:
            try:
                values["dominance"] = tuple((int(n), float(k)) for n, k in values["dominance"])
            except (TypeError, ValueError):
                raise StudyDefinitionError(
                    f"[disclosure]: dominance must be a list of [n, k] pairs, e.g. [[1, 85], [2, 90]]; got {table['dominance']!r}"
                ) from None
        for name in ("p_percent", "curve_min_at_risk", "curve_min_events", "rounding_base"):
            if values.get(name, 1) in (0, False, "off", "none"):
                values[name] = None
        return cls(**values)

    def for_class(self, cls: DisclosureClass) -> dict[str, Any]:
        """The thresholds that apply to one class (written to the output-check log)."""
        rounding = {"rounding_base": self.rounding_base}
        if cls is DisclosureClass.FREQUENCY:
            return {"min_cell_count": self.min_cell_count, "disclosive_zeros": self.disclosive_zeros,
                    "secondary_suppression": self.secondary_suppression, **rounding}
        if cls is DisclosureClass.MAGNITUDE:
            return {"min_cell_count": self.min_cell_count, "dominance": [list(r) for r in self.dominance],
                    "p_percent": self.p_percent, "secondary_suppression": self.secondary_suppression, **rounding}
        if cls is DisclosureClass.MODEL:
            return {"min_events_per_estimate": self.min_events_per_estimate, "min_residual_df": self.min_residual_df,
                    "min_cell_count": self.min_cell_count, **rounding}
        if cls is DisclosureClass.SURVIVAL_CURVE:
            return {"curve_min_at_risk": self.at_risk_threshold, "curve_min_events": self.curve_events_threshold, **rounding}
        if cls is DisclosureClass.TEXT_NUMBER:
            return {"min_cell_count": self.min_cell_count, **rounding}
        return {}


def rule_set_text(cls: DisclosureClass, thresholds: Mapping[str, Any]) -> str:
    """One line naming the rules and thresholds, for the log (``min_cell_count=10; …``)."""
    if not thresholds:
        return "härledd från kontrollerade utdata" if cls is not DisclosureClass.ROW_LEVEL else "alltid stoppad"
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in thresholds.items())


def round_count(value: float, base: int | None) -> int:
    """Round a count to the nearest multiple of ``base`` (halves up); unchanged if ``base`` is None."""
    if base is None or base <= 1:
        return int(value)
    return int(math.floor(value / base + 0.5) * base)
