"""The key numbers the summary, the chapters and the conclusions quote, read from checked outputs.

Each finding is one estimate for everyone, women and men, with its interval and whether the
design's diagnostics pass; a number quoted in text is recorded with `RenderContext.cite`.
Only estimates whose diagnostics pass are stated as findings; the text says the others are
uncertain (`Finding.passes`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from data_schemas.tables import SEXES
from reports.formatting import format_interval, format_number, format_ratio, is_missing, scaled
from reports.labels import SEX_PLURAL_SV
from reports.sections import RenderContext
from reports.sections._results import RATIO_ESTIMANDS, design_of, is_main_row, population_of

POPULATIONS = ("all", *SEXES)


@dataclass(frozen=True)
class Estimate:
    population: str  # 'all', 'woman', 'man'
    label: str  # "samtliga", "kvinnor", "män"
    value: float
    text: str  # the estimate and its interval as printed: "1,45 (95 % KI 1,38–1,52)"
    point: str  # the estimate alone: "1,45"
    passes: bool | None
    low: float = float("nan")
    high: float = float("nan")

    def direction(self, null: float) -> int:
        """+1 when the whole interval lies above ``null``, -1 below, 0 when it covers it (or is unknown)."""
        if self.low > null:
            return 1
        if self.high < null:
            return -1
        return 0


@dataclass(frozen=True)
class Finding:
    output_id: str
    estimates: tuple[Estimate, ...]

    @property
    def passes(self) -> bool | None:
        flags = [e.passes for e in self.estimates if e.passes is not None]
        return None if not flags else all(flags)

    @property
    def failing(self) -> list[str]:
        return [e.label for e in self.estimates if e.passes is False]

    def get(self, population: str) -> Estimate | None:
        return next((e for e in self.estimates if e.population == population), None)


class Quoted(dict):
    """A chapter's quoted texts for the summary and conclusions: a text the chapter did not quote is None."""

    def __missing__(self, key: str) -> None:
        return None


def quoted(ctx: RenderContext, section_key: str) -> Quoted:
    return Quoted(ctx.findings.get(section_key) or {})


def diagnostics_pass(text: object) -> bool | None:
    try:
        value = json.loads(text).get("passes") if isinstance(text, str) else None
    except (json.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, bool) else None


def _float(value: object) -> float:
    return float("nan") if is_missing(value) else float(value)  # type: ignore[arg-type]


def _label(population: str) -> str:
    return "samtliga" if population == "all" else SEX_PLURAL_SV.get(population, population).lower()


def _models(ctx: RenderContext, design: str):
    for model in ctx.with_prefix("modell:"):
        if not model.is_blocked and design_of(model, ctx.meta.analyses) == design:
            yield model


def main_ratio(ctx: RenderContext, design: str, where: str) -> Finding | None:
    """The exposure's ratio for everyone, women and men in the first analysis of ``design``."""
    for model in _models(ctx, design):
        s = model.table("summary")
        rows = {population_of(r): r for _, r in s.iterrows() if is_main_row(r) and r["estimand"] in RATIO_ESTIMANDS}
        found = []
        for p in POPULATIONS:
            r = rows.get(p)
            if r is None or is_missing(r["estimate"]):
                continue
            text = f"{format_ratio(r['estimate'])} (95 % KI {format_interval(r['conf_low'], r['conf_high'])})"
            ctx.cite(model.output_id, f"{where}: kvot, {_label(p)}", text)
            found.append(Estimate(p, _label(p), float(r["estimate"]), text, format_ratio(r["estimate"]),
                                  diagnostics_pass(r["diagnostics"]), _float(r["conf_low"]), _float(r["conf_high"])))
        if found:
            return Finding(model.output_id, tuple(found))
    return None


def trial_difference(ctx: RenderContext, horizon: int, where: str) -> Finding | None:
    """The emulated trials' risk difference at ``horizon`` days, in percentage points."""
    for model in _models(ctx, "target_trial"):
        s = model.table("summary")
        s = s[(s["estimand"] == "risk_difference") & (s["term"] == f"horizon_{horizon}")]
        found = []
        for p in POPULATIONS:
            rows = [r for _, r in s.iterrows() if population_of(r) == p and (
                r.get("subgroup") == "all" or (r.get("subgroup") == "sex" and r.get("level") == p))]
            if not rows or is_missing(rows[0]["estimate"]):
                continue
            r = rows[0]
            pts = lambda x: scaled(x, 100)  # noqa: E731
            point = format_number(pts(r["estimate"]), 1)
            sign = "+" if float(r["estimate"]) > 0 else ""
            text = f"{sign}{point} procentenheter (95 % KI {format_interval(pts(r['conf_low']), pts(r['conf_high']), 1)})"
            ctx.cite(model.output_id, f"{where}: riskskillnad dag {horizon}, {_label(p)}", text)
            found.append(Estimate(p, _label(p), pts(r["estimate"]), text, f"{sign}{point}",
                                  diagnostics_pass(r["diagnostics"]), _float(pts(r["conf_low"])), _float(pts(r["conf_high"]))))
        if found:
            return Finding(model.output_id, tuple(found))
    return None


def summary_rows(ctx: RenderContext, output_id: str) -> pd.DataFrame | None:
    return ctx.summary(output_id)


__all__ = ["Estimate", "Finding", "Quoted", "quoted", "diagnostics_pass", "main_ratio", "summary_rows", "trial_difference"]
