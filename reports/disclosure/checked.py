"""Checked outputs: what disclosure control lets through, with its status and reasons; only this package issues them.

A `CheckedOutput` carries a sentinel that only `_issue` (called by the checks of this package)
can give it; made anywhere else, or copied with `dataclasses.replace`, it raises
`DisclosureError`. Renderers accept nothing else (`require_checked`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import InitVar, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from koord.errors import DisclosureError
from reports.disclosure.declarations import OutputDeclaration
from reports.disclosure.rules import RULE_LABELS_SV, DisclosureClass, Status


class Withheld(float):
    """A published cell that disclosure control withheld: NaN to arithmetic, ``..`` to the reader.

    Other missing values (a reference group's interval, an estimate that could not be made)
    stay None and are written ``.``, so a table tells "not shown" from "does not exist" (SCB's
    ``..`` and ``.``). Being a float, the marker passes through object frames, copies and
    pickling; converting a column to a numeric dtype turns it into a plain NaN, so views
    format the published objects themselves.
    """

    __slots__ = ()

    def __new__(cls, *_: object) -> "Withheld":
        return super().__new__(cls, "nan")

    def __repr__(self) -> str:
        return "WITHHELD"

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (Withheld, ())


WITHHELD = Withheld()


def is_withheld(value: object) -> bool:
    """True for a cell disclosure control withheld (see `Withheld`)."""
    return isinstance(value, Withheld)


def none_for_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values as None (object dtype), except withheld cells, which keep their marker."""
    out = frame.astype(object)
    keep = out.notna() | out.map(is_withheld)
    return out.where(keep, None)


@dataclass(frozen=True)
class Reason:
    """Why a cell, row or step was withheld (never its value)."""

    location: str
    rule: str
    detail: str = ""

    def text(self) -> str:
        label = RULE_LABELS_SV.get(self.rule, self.rule)
        return f"{self.location}: {label}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class RunInfo:
    """Who and when, for the log."""

    run_at: datetime
    code_version: str
    run_by: str = "koord report"
    environment: tuple[tuple[str, str], ...] = ()  # (package, version) that made the numbers


@dataclass(frozen=True)
class CheckedOutput:
    """An output after disclosure control: what may be published, its status and the reasons.

    Made only by `check_outputs`; renderers accept nothing else. Published frames are handed
    out as copies; withheld cells are `WITHHELD` (shown as ``..``), other missing values None
    (shown as ``.``). Reading the tables of a blocked
    output raises `DisclosureError`.
    """

    output_id: str
    declaration: OutputDeclaration
    status: Status
    reasons: tuple[Reason, ...]
    n_suppressed: int
    n_cells: int
    thresholds: Mapping[str, Any]
    run: RunInfo
    _tables: Mapping[str, pd.DataFrame] = field(repr=False, default_factory=dict)
    value: float | None = None  # text numbers
    source_ids: tuple[str, ...] = ()
    flags: tuple[Reason, ...] = ()  # noted for the human checker, nothing withheld
    meta: Mapping[str, Any] = field(default_factory=dict)  # e.g. group/time columns of a curve
    _token: InitVar[object] = None  # the sentinel of `_issue`; not a field, so `dataclasses.replace` cannot copy it

    def __post_init__(self, _token: object) -> None:
        if not _is_issued(_token):
            raise DisclosureError(
                f"output {self.output_id!r}: a CheckedOutput is made only by reports.disclosure.check_outputs"
            )

    @property
    def disclosure_class(self) -> DisclosureClass:
        return self.declaration.disclosure_class

    @property
    def is_blocked(self) -> bool:
        return self.status is Status.BLOCKED

    def table(self, key: str | None = None) -> pd.DataFrame:
        """A copy of a published table (the only one if ``key`` is None)."""
        if self.is_blocked:
            raise DisclosureError(f"output {self.output_id!r} is blocked by disclosure control and cannot be shown")
        if key is None:
            if len(self._tables) != 1:
                raise KeyError(f"output {self.output_id!r} has tables {list(self._tables)}; name one")
            key = next(iter(self._tables))
        return self._tables[key].copy()

    @property
    def table_keys(self) -> tuple[str, ...]:
        return tuple(self._tables)

    def reason_text(self) -> str:
        return "; ".join(r.text() for r in self.reasons)


def require_checked(obj: object, what: str = "output") -> CheckedOutput:
    """Return ``obj`` if it is a CheckedOutput that may be shown, else raise `DisclosureError`."""
    if not isinstance(obj, CheckedOutput):
        raise DisclosureError(
            f"{what}: only outputs checked by disclosure control can be rendered, got {type(obj).__name__}"
        )
    if obj.is_blocked:
        raise DisclosureError(f"{what}: output {obj.output_id!r} is blocked by disclosure control")
    return obj


def _sentinel() -> tuple[Callable[..., CheckedOutput], Callable[[object], bool]]:
    """The issuer of CheckedOutputs and the test of its sentinel; the sentinel lives only in their closure.

    Only the modules of this package may issue: `_issue` refuses any other caller. (Python
    hides nothing from a determined caller; this keeps every honest path through `check_outputs`.)
    """
    token = object()

    def issue(**kwargs: Any) -> CheckedOutput:
        caller = str(sys._getframe(1).f_globals.get("__name__", ""))
        if caller != _PACKAGE and not caller.startswith(_PACKAGE + "."):
            raise DisclosureError(f"a CheckedOutput is made only by {_PACKAGE}.check_outputs, "
                                  f"not by {caller or 'unknown code'}")
        return CheckedOutput(_token=token, **kwargs)

    def is_issued(candidate: object) -> bool:
        return candidate is token

    return issue, is_issued


_PACKAGE = __name__.rpartition(".")[0]  # reports.disclosure
_issue, _is_issued = _sentinel()


def _status(n_suppressed: int, nothing_left: bool) -> Status:
    if nothing_left:
        return Status.BLOCKED
    return Status.SUPPRESSED if n_suppressed else Status.PASSED
