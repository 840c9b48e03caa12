"""Swedish number formatting for the report: decimal comma, no-break space, "12,3 %", "< 0,001".

Conventions (Språkrådet, SCB's publishing rules):

- thousands are separated by a no-break space (U+00A0) so a number never breaks over lines:
  ``12 345``; the decimal mark is a comma: ``0,85``;
- negative numbers carry a real minus sign (U+2212): ``−3,2``;
- per cent has a (no-break) space before the sign: ``12,3 %``;
- p-values below 0,001 are written ``< 0,001``;
- a value withheld by disclosure control is written ``..`` (SCB: "uppgift inte tillgänglig
  eller för osäker för att anges"); a value that does not exist (the reference group's
  interval, an estimate that could not be made, a share of nobody) is written ``.`` (SCB:
  "uppgift kan inte förekomma"). Each table explains the symbols it shows
  (`symbol_notes`), so a reader never confuses "not shown" with "not there".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from numbers import Number

from reports.disclosure.checked import is_withheld

NBSP = "\u00a0"
MINUS = "\u2212"
EN_DASH = "\u2013"
SUPPRESSED = ".."  # SCB: not available / too uncertain to be shown (here: withheld by disclosure control)
NOT_APPLICABLE = "."  # SCB: cannot occur (here: no such value, or it could not be computed)
SUPPRESSED_NOTE = (
    "Två punkter (..) betyder att uppgiften inte redovisas: den vilar på för få personer eller "
    "händelser, eller skulle kunna räknas fram ur andra uppgifter (röjandekontroll)."
)
NOT_APPLICABLE_NOTE = (
    "En punkt (.) betyder att uppgiften inte finns: den gäller inte raden (t.ex. jämförelsegruppens "
    "intervall) eller kunde inte beräknas (t.ex. ingen i gruppen)."
)
_SYMBOL_NOTES = ((SUPPRESSED, SUPPRESSED_NOTE), (NOT_APPLICABLE, NOT_APPLICABLE_NOTE))
SYMBOL_NOTES = tuple(note for _, note in _SYMBOL_NOTES)


def missing_symbol(value: object) -> str:
    """``..`` for a cell disclosure control withheld, ``.`` for any other missing value."""
    return SUPPRESSED if is_withheld(value) else NOT_APPLICABLE


def symbols_in(text: str) -> set[str]:
    """The missing-value symbols a formatted cell shows (``..``, ``.``), as whole words.

    ``"12,3 (..)"`` shows ``..``; ``"0,5"``, ``"Godkänd."`` and ``"..."`` show none.
    """
    found = set()
    for word in text.replace("(", " ").replace(")", " ").replace("/", " ").split():
        if word in (SUPPRESSED, NOT_APPLICABLE):
            found.add(word)
    return found


def symbol_notes(texts: Iterable[str]) -> tuple[str, ...]:
    """The notes explaining the symbols the given cells show, ``..`` before ``.``."""
    shown: set[str] = set()
    for text in texts:
        shown |= symbols_in(text)
    return tuple(note for symbol, note in _SYMBOL_NOTES if symbol in shown)


def is_missing(value: object) -> bool:
    """True for None, NaN and pandas' missing markers."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pd.NA raise or compare unequal to themselves
    except (TypeError, ValueError):
        return True


def scaled(value: object, factor: float) -> object:
    """``factor * value``, or the value itself when missing (a withheld cell stays withheld)."""
    return value if is_missing(value) else factor * float(value)  # type: ignore[arg-type]


def _group_thousands(digits: str) -> str:
    groups = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return NBSP.join(groups)


def format_number(value: object, decimals: int = 0, *, group: bool = True) -> str:
    """``1234.56 -> '1 234,6'`` with ``decimals=1``; withheld -> ``..``, other missing -> ``.``.

    Parameters
    ----------
    value : number or None
    decimals : int
        Digits after the decimal comma, rounded half away from zero on the number as written
        (``2.675 -> '2,68'``, as a reader rounding by hand would).
    group : bool
        Separate thousands with a no-break space (off for years and codes).
    """
    if is_missing(value):
        return missing_symbol(value)
    x = float(value)  # type: ignore[arg-type]
    if math.isinf(x):
        return "∞" if x > 0 else MINUS + "∞"
    rounded = Decimal(repr(abs(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{rounded:f}"
    whole, _, frac = text.partition(".")
    whole = _group_thousands(whole) if group else whole
    sign = MINUS if x < 0 and float(text) != 0 else ""
    return sign + whole + ("," + frac if frac else "")


def format_count(value: object) -> str:
    """A count of persons, spells or events: ``12 345``."""
    return format_number(value, 0)


def format_percent(value: object, decimals: int = 1) -> str:
    """A percentage already on the 0–100 scale: ``12.345 -> '12,3 %'``."""
    if is_missing(value):
        return missing_symbol(value)
    return f"{format_number(value, decimals)}{NBSP}%"


def format_share(value: object, decimals: int = 1) -> str:
    """A proportion on the 0–1 scale as a percentage: ``0.123 -> '12,3 %'``."""
    if is_missing(value):
        return missing_symbol(value)
    return format_percent(float(value) * 100, decimals)  # type: ignore[arg-type]


def format_ratio(value: object, decimals: int = 2) -> str:
    """A hazard or rate ratio: ``0.8512 -> '0,85'``."""
    return format_number(value, decimals)


def format_interval(low: object, high: object, decimals: int = 2) -> str:
    """A confidence interval ``0,78–0,93`` (en dash), ``−2,6 till 4,5`` when an end is negative.

    ``..`` if either end is withheld, else ``.`` if either end is missing.
    """
    if is_missing(low) or is_missing(high):
        return SUPPRESSED if is_withheld(low) or is_withheld(high) else NOT_APPLICABLE
    joiner = " till " if float(low) < 0 or float(high) < 0 else EN_DASH  # type: ignore[arg-type]
    return f"{format_number(low, decimals)}{joiner}{format_number(high, decimals)}"


def format_estimate_interval(row: Mapping[str, object] | None, decimals: int = 2, *, scale: float = 1.0,
                             percent: bool = False, prefix: str = "") -> str:
    """A results row's estimate with its interval: ``'1,23 (1,10–1,37)'``, ``'16,6 % (16,1–17,1)'`` with ``percent``.

    ``scale`` multiplies estimate and ends (100: a share as per cent or points); ``prefix`` reads
    ``<prefix>estimate``, ``<prefix>conf_low``, ``<prefix>conf_high``. A missing row or estimate
    gives its symbol alone (``..`` withheld, ``.`` absent).
    """
    estimate = None if row is None else row[f"{prefix}estimate"]
    if is_missing(estimate):
        return format_number(estimate)
    point = scaled(estimate, scale)
    head = format_percent(point, decimals) if percent else format_number(point, decimals)
    low, high = (scaled(row[f"{prefix}{end}"], scale) for end in ("conf_low", "conf_high"))  # type: ignore[index]
    return f"{head} ({format_interval(low, high, decimals)})"


def format_p_value(value: object) -> str:
    """``< 0,001`` below one in a thousand, three decimals below 0,01, else two."""
    if is_missing(value):
        return missing_symbol(value)
    p = float(value)  # type: ignore[arg-type]
    if p < 0.001:
        return f"<{NBSP}0,001"
    return format_number(p, 3 if p < 0.01 else 2)


def format_date(value: object) -> str:
    """ISO dates, the Swedish standard (SS-ISO 8601): ``2025-03-31``."""
    if is_missing(value):
        return missing_symbol(value)
    if isinstance(value, datetime):
        if (value.hour, value.minute, value.second) == (0, 0, 0):
            return value.date().isoformat()  # a date that went through a timestamp type
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def format_value(value: object, kind: str) -> str:
    """Format by kind: ``count``, ``percent``, ``share``, ``ratio``, ``p``, ``number1``, ``number2``, ``text``."""
    if kind == "count":
        return format_count(value)
    if kind == "percent":
        return format_percent(value)
    if kind == "share":
        return format_share(value)
    if kind == "ratio":
        return format_ratio(value)
    if kind == "p":
        return format_p_value(value)
    if kind.startswith("number"):
        return format_number(value, int(kind[6:] or 0))
    if kind == "date":
        return format_date(value)
    if is_missing(value):
        return missing_symbol(value)
    if isinstance(value, Number) and not isinstance(value, bool):
        return format_number(value, 0)
    return str(value)
