"""Shared machinery of the designs: adjusted exposure models, populations, per-row diagnostics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from analyses.designs.covariates import (
    LevelPlan,
    exposure_by_level,
    indicators,
    level_order,
    plan_levels,
    present_levels,
    slug,
)
from analyses.designs.specs import CommonParameters
from analyses.estimators import CoxSpec, PoissonSpec, fit_cox, fit_poisson
from analyses.results import diagnostics_json, make_summary, wald_row

EXPOSURE = "is_coordinated"
POOLED_LEVELS = "other_levels"  # exposure term shared by levels too sparse for their own


@dataclass(frozen=True)
class Population:
    """A population an analysis is run in: everyone, or the women or the men."""

    sex: str  # 'all', 'woman', 'man'

    @property
    def subgroup(self) -> str:
        return "all" if self.sex == "all" else "sex"

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        return np.ones(len(frame), dtype=bool) if self.sex == "all" else (frame["sex"] == self.sex).to_numpy()


def populations(params: CommonParameters, spells: pd.DataFrame) -> Iterator[Population]:
    """Everyone, then each sex present (when ``by_sex``), in the contracts' order."""
    yield Population("all")
    if params.by_sex:
        for sex in present_levels(spells["sex"], level_order("sex")):
            yield Population(sex)


@dataclass(frozen=True)
class PopulationData:
    """One population's model rows, its spells and the confounders adjusted for in it."""

    population: Population
    rows: pd.DataFrame
    spells: pd.DataFrame
    confounders: tuple[str, ...]


def population_data(params: CommonParameters, rows: pd.DataFrame, spells: pd.DataFrame) -> Iterator[PopulationData]:
    """Each population with model rows: everyone, then each sex (sex is no confounder within a sex)."""
    for population in populations(params, spells):
        sub = rows.loc[population.mask(rows)].reset_index(drop=True)
        if sub.empty:
            continue
        spells_sub = spells.loc[population.mask(spells)].reset_index(drop=True)
        confounders = tuple(c for c in params.confounders if not (population.sex != "all" and c == "sex"))
        yield PopulationData(population, sub, spells_sub, confounders)


@dataclass(frozen=True)
class ExposureTerm:
    """An exposure column of a model and the units it describes."""

    column: str
    subgroup: str  # the dimension the term belongs to ('all' for the main term)
    level: str
    mask: np.ndarray  # rows of the units the term describes (for counts)


def split_exposure(rows: pd.DataFrame, exposure: np.ndarray, dimension: str, event: np.ndarray,
                   min_events: int) -> tuple[dict[str, np.ndarray], list[ExposureTerm], list[str]]:
    """Exposure × level columns for a dimension; levels with too few exposed events share one term.

    Returns the columns, their terms, and the sparse levels pooled (whose effect is estimated
    together, not reported per level).
    """
    values = rows[dimension].astype(str).to_numpy()
    levels = present_levels(values, level_order(dimension))
    exposed_events = {lv: float((exposure * event)[values == lv].sum()) for lv in levels}
    unexposed_events = {lv: float(((1 - exposure) * event)[values == lv].sum()) for lv in levels}
    own = [lv for lv in levels if exposed_events[lv] >= max(min_events, 1) and unexposed_events[lv] >= 1]
    sparse = [lv for lv in levels if lv not in own]
    columns = exposure_by_level(exposure, values, own, EXPOSURE)
    terms = [ExposureTerm(f"{EXPOSURE}__{slug(lv)}", dimension, lv, values == lv) for lv in own]
    if sparse and (exposure * np.isin(values, sparse)).sum() > 0:
        column = f"{EXPOSURE}__{POOLED_LEVELS}"
        columns[column] = exposure * np.isin(values, sparse)
        terms.append(ExposureTerm(column, dimension, POOLED_LEVELS, np.isin(values, sparse)))
    return columns, terms, sparse


@dataclass(frozen=True)
class ModelFit:
    """Exposure coefficients of one fitted model with their (robust) covariance."""

    coef: pd.Series
    vcov: pd.DataFrame
    diagnostics: Mapping[str, Any]
    plan: LevelPlan


def fit_exposure_cox(rows: pd.DataFrame, exposures: Mapping[str, np.ndarray], confounders: tuple[str, ...],
                     params: CommonParameters, analysis_id: str, spell_level: pd.DataFrame) -> ModelFit:
    """Cox of return to work on exposure columns + confounder indicators, person-clustered SE.

    ``rows`` carry start, stop, event, person_id and the confounders as text; the confounder
    levels are planned on ``spell_level`` (one row per spell, with ``event``).
    """
    plan = plan_levels(spell_level, confounders, params.min_level_size, events=spell_level["event"].to_numpy())
    design = indicators(rows, plan)
    design = design.loc[:, design.std(axis=0) > 0]
    for name, column in exposures.items():
        design[name] = column
    design["start"], design["stop"], design["event"] = rows["start"].to_numpy(), rows["stop"].to_numpy(), rows["event"].to_numpy()
    design["person_id"] = rows["person_id"].to_numpy()
    covariates = tuple(exposures) + tuple(c for c in design.columns if "__" in c and c not in exposures)
    result = fit_cox(design, CoxSpec(stop="stop", event="event", start="start", covariates=covariates,
                                      cluster="person_id", ties="efron", analysis_id=analysis_id))
    names = list(exposures)
    return ModelFit(result.coef[names], result.vcov.loc[names, names],
                    {"converged": result.diagnostics.get("converged"), "n_iter": result.diagnostics.get("n_iter"),
                     "n_covariates": len(covariates), "se_type": result.diagnostics.get("se_type")}, plan)


def poisson_design(cells: pd.DataFrame, exposures: Mapping[str, np.ndarray], confounders: tuple[str, ...],
                   params: CommonParameters, spell_level: pd.DataFrame) -> tuple[pd.DataFrame, list[str], LevelPlan]:
    """The design of `fit_exposure_poisson`: (columns incl. events and days_at_risk, model terms, level plan).

    Terms are the band indicators (first band the reference), the exposure columns and the
    confounder indicators; with no ``exposures`` it is the model without exposure terms.
    """
    plan = plan_levels(spell_level, confounders, params.min_level_size, events=spell_level["event"].to_numpy())
    design = indicators(cells, plan)
    design = design.loc[:, design.std(axis=0) > 0]
    bands = pd.get_dummies(cells["band"], prefix="band", prefix_sep="__", dtype="float64")
    bands.columns = [f"band__{slug(c.split('__', 1)[1])}" for c in bands.columns]
    first_band = f"band__{slug(cells.sort_values('band_start')['band'].iloc[0])}"
    bands = bands.drop(columns=[first_band])
    design = pd.concat([design, bands.set_index(design.index)], axis=1)
    for name, column in exposures.items():
        design[name] = column
    design["events"], design["days_at_risk"] = cells["events"].to_numpy(), cells["days_at_risk"].to_numpy()
    terms = list(bands.columns) + list(exposures) + [c for c in design.columns
                                                     if "__" in c and c not in exposures and not c.startswith("band__")]
    return design, terms, plan


def fit_exposure_poisson(cells: pd.DataFrame, exposures: Mapping[str, np.ndarray], confounders: tuple[str, ...],
                         params: CommonParameters, analysis_id: str, spell_level: pd.DataFrame) -> ModelFit:
    """Poisson of events on band + exposure columns + confounder indicators, log(days) offset."""
    design, terms, plan = poisson_design(cells, exposures, confounders, params, spell_level)
    result = fit_poisson(design, PoissonSpec(events="events", exposure="days_at_risk", formula_rhs=" + ".join(terms),
                                             analysis_id=analysis_id))
    names = list(exposures)
    return ModelFit(result.coef[names], result.vcov.loc[names, names],
                    {"converged": result.diagnostics.get("converged"), "n_iter": result.diagnostics.get("n_iter"),
                     "n_covariates": len(terms), "dispersion": result.diagnostics.get("dispersion"),
                     "n_cells": int(len(cells)), "se_type": "model (aggregated cells)"}, plan)


def wald_equality_test(fit: ModelFit, columns: list[str]) -> tuple[float, int, float]:
    """Wald chi-square test that the coefficients of ``columns`` are equal: (chi2, df, p)."""
    if len(columns) < 2:
        return float("nan"), 0, float("nan")
    beta = fit.coef[columns].to_numpy()
    v = fit.vcov.loc[columns, columns].to_numpy()
    contrast = np.hstack([np.ones((len(columns) - 1, 1)), -np.eye(len(columns) - 1)])
    diff = contrast @ beta
    chi2 = float(diff @ np.linalg.solve(contrast @ v @ contrast.T, diff))
    df = len(columns) - 1
    return chi2, df, float(stats.chi2.sf(chi2, df))


def ratio_row(fit: ModelFit, column: str, *, estimand: str, term: str, subgroup: str, level: str, sex: str,
              n_persons: int, n_spells: int, n_events: int, diagnostics: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A summary row for one exposure coefficient, on the ratio scale."""
    se = float(np.sqrt(fit.vcov.loc[column, column]))
    row = {"estimand": estimand, "term": term, "subgroup": subgroup, "level": level, "n_persons": n_persons,
           "n_events": n_events, "sex": sex, "n_spells": n_spells, "row_diagnostics": dict(diagnostics)}
    row.update(wald_row(float(fit.coef[column]), se, ratio=True))
    row.update(extra)
    return row


def finish_summary(rows: list[dict[str, Any]], analysis_id: str, method: str,
                   diagnostics: Mapping[str, Any]) -> pd.DataFrame:
    """Tidy summary with the per-row diagnostics (pass/fail flags) in the ``diagnostics`` column."""
    per_row = [r.pop("row_diagnostics", {}) for r in rows]
    summary = make_summary(rows, analysis_id=analysis_id, method=method, diagnostics=diagnostics)
    summary["diagnostics"] = [diagnostics_json(d) for d in per_row]
    return summary


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error over the list, e.g. the regions)."""
    p = np.asarray(p_values, float)
    if len(p) == 0:
        return []
    order = np.argsort(p)
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()

