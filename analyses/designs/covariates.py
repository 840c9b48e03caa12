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
import scipy.sparse

from data_schemas import tables
from data_schemas.tables import age_band_5_sql, prior_sick_days_band_sql

MISSING_LEVEL = "missing"

# covariate name -> DuckDB expression over the `spells` analysis table
COVARIATE_SQL: dict[str, str] = {
    "sex": "sex",
    "age_group": "age_group",
    # five-year bands (data_schemas.tables.AGE_BANDS_5): finer adjustment for age, by choice (see CONFOUNDERS)
    "age_band_5": age_band_5_sql("age_years"),
    "diagnosis_group": "diagnosis_group",
    "diagnosis_chapter_group": "diagnosis_chapter_group",
    "is_exhaustion_disorder": "is_exhaustion_disorder",
    "occupation_status": "occupation_status",
    "is_extent_below_100": "extent_at_start_pct < 100",
    "has_prior_sick_leave": "has_prior_sick_leave",
    # Days of sick leave in the year (two years) before the spell, in bands 0, 1-29, 30-89,
    # 90-179, 180+ (data_schemas.tables.PRIOR_SICK_DAYS_BANDS): among the strongest confounders
    # of coordination and of return to work in register studies (a yes/no loses most of it).
    "prior_sick_days_365_band": prior_sick_days_band_sql("prior_sick_days_365"),
    "prior_sick_days_730_band": prior_sick_days_band_sql("prior_sick_days_730"),
    "education_group": "education_group",
    "is_born_in_sweden": "is_born_in_sweden",
    "birth_region_code": "birth_region_code",
    "home_region_code": "home_region_code",
    "start_year": "year(spell_start_date)",
}
KNOWN_COVARIATES: tuple[str, ...] = tuple(COVARIATE_SQL)

# The confounders the cohort provides: the list (diagnosis group implies its chapter).
CONFOUNDERS: tuple[str, ...] = (
    "sex", "age_group", "diagnosis_group", "occupation_status", "is_extent_below_100",
    "prior_sick_days_365_band", "education_group", "is_born_in_sweden", "home_region_code", "start_year",
)
# Five-year bands (`age_band_5`) are a study's choice for national data: at the demo's and the tests'
# sizes the trial weeks' propensity models merge bands under min_level_size into the reference, and
# balance is then checked on levels the weights never saw (measured: pooled |SMD| 0.105 > 0.1).
# The case-mix regions are compared at (issue 11): the patients' characteristics at spell start.
REGION_CASE_MIX: tuple[str, ...] = (
    "sex", "age_group", "diagnosis_group", "occupation_status", "education_group", "is_born_in_sweden",
    "prior_sick_days_365_band", "is_extent_below_100",
)
# What is known of a spell at day 14 that predicts a long spell (issue 12's need model): never
# coordination, nor the home region (need is the patient's, not the region's).
NEED_PREDICTORS: tuple[str, ...] = (
    "sex", "age_group", "diagnosis_group", "occupation_status", "education_group", "birth_region_code",
    "prior_sick_days_730_band", "is_extent_below_100", "start_year",
)
# Dimensions the mandate asks effects by.
DIMENSIONS: tuple[str, ...] = ("sex", "age_group", "diagnosis_chapter_group", "diagnosis_group", "home_region_code")


def covariate_select_sql(names: Iterable[str]) -> str:
    """``coalesce(cast(<expr> as varchar), 'missing') as <name>, ...`` for a select on `spells`."""
    return ",\n       ".join(
        f"coalesce(cast(({COVARIATE_SQL[name]}) as varchar), '{MISSING_LEVEL}') as {name}" for name in names
    )


def fetch_categorical(con, sql: str) -> pd.DataFrame:
    """The query's rows as a DataFrame with every text column categorical.

    Covariates are text with a handful of levels; as Python strings a million-row table of
    them costs gigabytes, as categoricals one small integer per value.
    """
    return con.sql(sql).to_arrow_table().to_pandas(strings_to_categorical=True)


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
        codes, uniques = _factorised_text(frame[name])
        labels = [str(u) for u in uniques]
        counts = pd.Series(np.bincount(codes, weights=w, minlength=len(labels)), index=labels).sort_index()
        if counts.empty:
            plans.append(CovariatePlan(name, MISSING_LEVEL, ()))
            continue
        reference = str(counts.sort_values(ascending=False, kind="stable").index[0])
        sparse = counts[counts < min_level_size].index
        if ev is not None:
            event_counts = pd.Series(np.bincount(codes, weights=ev * w, minlength=len(labels)), index=labels)
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


def level_codes(frame: pd.DataFrame, cov: CovariatePlan) -> np.ndarray:
    """Per row the index of its level in ``cov.levels`` (-1: the reference, a merged or an unseen level).

    Factorised once per column, so the string comparisons cost the distinct values, not the rows.
    """
    codes, uniques = _factorised_text(frame[cov.name])
    position = {level: i for i, level in enumerate(cov.levels)}
    lookup = np.array([position.get(str(u), -1) for u in uniques], dtype=np.int64)
    return lookup[codes]


def _factorised_text(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of the values read as text (as ``astype(str)`` would, so a missing value is its own level).

    Categorical columns factorise from their codes; text columns by hashing the strings once.
    Unused categories do not appear.
    """
    if values.isna().any():
        values = values.astype(str)
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64), pd.Index(uniques)


def indicator_matrix(frame: pd.DataFrame, plan: LevelPlan, leading_ones: bool = False,
                     trailing: np.ndarray | None = None) -> scipy.sparse.csr_matrix:
    """The plan's indicator columns as a sparse matrix (same columns and values as `indicators`).

    ``leading_ones`` adds an intercept column in front; ``trailing`` (n × k numbers) adds
    columns at the end. Designs of many entries are mostly zeros: built from level codes, they
    cost the non-zeros, not rows × columns.
    """
    n = len(frame)
    blocks_rows, blocks_cols, blocks_vals = [], [], []
    offset = 0
    if leading_ones:
        blocks_rows.append(np.arange(n)), blocks_cols.append(np.zeros(n, np.int64)), blocks_vals.append(np.ones(n))
        offset = 1
    for cov in plan.covariates:
        codes = level_codes(frame, cov)
        rows = np.flatnonzero(codes >= 0)
        blocks_rows.append(rows), blocks_cols.append(offset + codes[rows]), blocks_vals.append(np.ones(len(rows)))
        offset += len(cov.levels)
    if trailing is not None:
        extra = np.asarray(trailing, dtype=float).reshape(n, -1)
        for j in range(extra.shape[1]):
            blocks_rows.append(np.arange(n)), blocks_cols.append(np.full(n, offset)), blocks_vals.append(extra[:, j])
            offset += 1
    matrix = scipy.sparse.coo_matrix((np.concatenate(blocks_vals), (np.concatenate(blocks_rows),
                                                                     np.concatenate(blocks_cols))), shape=(n, offset))
    return matrix.tocsr()


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
    orders: Mapping[str, tuple[str, ...]] = {
        "sex": tables.SEXES,
        "age_group": tuple(g for g, _, _ in tables.AGE_GROUPS),
        "diagnosis_chapter_group": tables.CHAPTER_GROUPS,
        "diagnosis_group": tables.DIAGNOSIS_GROUPS,
        "home_region_code": tables.REGION_CODES,
    }
    return tuple(orders.get(name, ()))
