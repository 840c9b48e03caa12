"""Design matrices from spells: confounders as indicator columns against a reference level.

Every covariate is categorical: its values are read from `spells` as text by one SQL
expression (`COVARIATE_SQL`; booleans become 'true'/'false', NULL becomes 'missing'), so the
same definition serves the pandas designs and the DuckDB aggregation of person-time. The
reference level of each covariate is its most frequent level in the analysed population;
levels with fewer than `min_level_size` spells or without events are merged into the
reference (a level with no events has an infinite log hazard ratio), and the merge is
recorded in the plan so it can be reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

MISSING_LEVEL = "missing"

# covariate name -> DuckDB expression over the `spells` analysis table
COVARIATE_SQL: dict[str, str] = {
    "sex": "sex",
    "age_group": "age_group",
    "diagnosis_group": "diagnosis_group",
    "diagnosis_chapter_group": "diagnosis_chapter_group",
    "is_exhaustion_disorder": "is_exhaustion_disorder",
    "occupation_status": "occupation_status",
    "is_extent_below_100": "extent_at_start_pct < 100",
    "has_prior_sick_leave": "has_prior_sick_leave",
    "education_group": "education_group",
    "is_born_in_sweden": "is_born_in_sweden",
    "home_region_code": "home_region_code",
    "start_year": "year(spell_start_date)",
}
KNOWN_COVARIATES: tuple[str, ...] = tuple(COVARIATE_SQL)

# The confounders the cohort provides: the list (diagnosis group implies its chapter).
CONFOUNDERS: tuple[str, ...] = (
    "sex", "age_group", "diagnosis_group", "occupation_status", "is_extent_below_100",
    "has_prior_sick_leave", "education_group", "is_born_in_sweden", "home_region_code", "start_year",
)
# Dimensions the mandate asks effects by.
DIMENSIONS: tuple[str, ...] = ("sex", "age_group", "diagnosis_chapter_group", "diagnosis_group", "home_region_code")


def covariate_select_sql(names: Iterable[str]) -> str:
    """``coalesce(cast(<expr> as varchar), 'missing') as <name>, ...`` for a select on `spells`."""
    return ",\n       ".join(
        f"coalesce(cast(({COVARIATE_SQL[name]}) as varchar), '{MISSING_LEVEL}') as {name}" for name in names
    )


def slug(level: str) -> str:
    """A level as part of a column name: letters, digits and _ only."""
    return re.sub(r"[^0-9A-Za-z]+", "_", str(level)).strip("_") or "blank"


def indicator_name(covariate: str, level: str) -> str:
    return f"{covariate}__{slug(level)}"


@dataclass(frozen=True)
class CovariatePlan:
    """Levels of one covariate: the reference, the levels with their own column, merged ones."""

    name: str
    reference: str
    levels: tuple[str, ...]  # non-reference levels, each an indicator column
    merged: tuple[str, ...] = ()  # sparse levels counted as the reference

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(indicator_name(self.name, lv) for lv in self.levels)


@dataclass(frozen=True)
class LevelPlan:
    """Indicator coding of a set of covariates, fixed on one population and reused on others."""

    covariates: tuple[CovariatePlan, ...] = field(default_factory=tuple)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for cov in self.covariates for c in cov.columns)

    def describe(self) -> dict[str, dict[str, object]]:
        """Reference and merged levels per covariate, for the diagnostics of a result."""
        return {c.name: {"reference": c.reference, "merged_into_reference": list(c.merged)} for c in self.covariates}


def plan_levels(frame: pd.DataFrame, covariates: Iterable[str], min_level_size: int,
                events: pd.Series | np.ndarray | None = None, weights: np.ndarray | None = None) -> LevelPlan:
    """Choose reference levels and merge sparse ones.

    Parameters
    ----------
    frame : DataFrame
        One row per unit counted (spell, or trial entry), with the covariates as text.
    covariates : names of covariate columns.
    min_level_size : a level with fewer (weighted) rows is merged into the reference.
    events : optional 0/1 per row; a level with no event is merged too.
    weights : optional row weights for the counts.
    """
    plans = []
    w = np.ones(len(frame)) if weights is None else np.asarray(weights, dtype=float)
    ev = None if events is None else np.asarray(events, dtype=float)
    for name in covariates:
        values = frame[name].astype(str).to_numpy()
        counts = pd.Series(w).groupby(values).sum()
        if counts.empty:
            plans.append(CovariatePlan(name, MISSING_LEVEL, ()))
            continue
        reference = str(counts.sort_values(ascending=False, kind="stable").index[0])
        sparse = counts[counts < min_level_size].index
        if ev is not None:
            event_counts = pd.Series(ev * w).groupby(values).sum()
            sparse = sparse.union(event_counts[event_counts <= 0].index)
        merged = tuple(sorted(str(v) for v in sparse if v != reference))
        levels = tuple(sorted(str(v) for v in counts.index if v != reference and v not in merged))
        plans.append(CovariatePlan(name, reference, levels, merged))
    return LevelPlan(tuple(plans))


def indicators(frame: pd.DataFrame, plan: LevelPlan) -> pd.DataFrame:
    """The plan's indicator columns (float 0/1) for ``frame``; unseen levels count as reference."""
    out = {}
    for cov in plan.covariates:
        values = frame[cov.name].astype(str).to_numpy()
        for level, column in zip(cov.levels, cov.columns):
            out[column] = (values == level).astype("float64")
    return pd.DataFrame(out, index=frame.index)


def exposure_by_level(exposure: np.ndarray, level_values: np.ndarray, levels: Iterable[str],
                      prefix: str) -> dict[str, np.ndarray]:
    """One exposure column per level (exposure × [level]): the per-level effects of an interaction."""
    exposure = np.asarray(exposure, dtype=float)
    level_values = np.asarray(level_values).astype(str)
    return {f"{prefix}__{slug(level)}": exposure * (level_values == level) for level in levels}


def present_levels(values: Iterable[str], order: Iterable[str] | None = None) -> list[str]:
    """Levels present in ``values``, in the order of ``order`` first (a code list), then sorted."""
    seen = pd.unique(np.asarray(list(values)).astype(str))
    ordered = [lv for lv in (order or ()) if lv in set(seen)]
    return ordered + sorted(lv for lv in seen if lv not in set(ordered))


def level_order(name: str) -> tuple[str, ...]:
    """Code-list order of a dimension's levels, where the contracts define one."""
    from data_schemas import tables

    orders: Mapping[str, tuple[str, ...]] = {
        "sex": tables.SEXES,
        "age_group": tuple(g for g, _, _ in tables.AGE_GROUPS),
        "diagnosis_chapter_group": tables.CHAPTER_GROUPS,
        "diagnosis_group": tables.DIAGNOSIS_GROUPS,
        "home_region_code": tables.REGION_CODES,
    }
    return tuple(orders.get(name, ()))
