"""Regional differences (mandate question 2): which regions differ, by how much, and is it the region or its patients?

Three analyses share one set of fits (`regional_fits`), each writing its own results table:

- ``region_uptake``: per home region, the share of eligible spells (still followed at the entry
  day, 14: the employer period is over and FK knows of them) with a first GC001 within the
  uptake window (90 days). Observed O against expected E from a national logistic model of the
  case-mix without region (`expected_counts`), O/E with the exact Poisson interval of O over E
  (Garwood), the indirectly standardised share O/E × the national share, funnel limits with
  over-dispersion (`fit_funnel`), the shrunken (empirical Bayes) O/E from the adjusted
  random-intercept GLMM with its median rank and 95 % rank interval (draws of each region's
  intercept from its conditional distribution), the gaps women-men, born abroad-born in Sweden
  and low-high education at equal case-mix within each region (odds ratios; Holm's correction
  over the regions), the share of care units recording any GC001 per care region and year
  (`region_care_units`, a data-quality flag), and per start year from the law's first year the
  share and O/E (expected from that year's national model).
- ``region_rtw``: return to work by day 90 and 180 (shares, as above) and its rate on
  person-time: a national piecewise-exponential Poisson model of the case-mix and the time
  bands without region gives each region's expected events; O/E is an indirectly standardised
  rate ratio; the shrunken rate ratio comes from a Poisson GLMM of the regions' O with offset
  log E (given the national model, the cells' likelihood depends on a region's intercept only
  through its O and E, so the GLMM has one row per region).
- ``region_variation``: the regions' variance on the log-odds scale (null and adjusted logistic
  GLMMs: variance, median odds ratio, latent ICC with profile-likelihood intervals, and the
  proportional change in variance from null to adjusted, the share of the regional variation
  that is case-mix), on the log-rate scale of return to work and of the first GC001 (Poisson
  GLMMs with offsets from the national models: variance and median rate ratio), the funnels'
  over-dispersion (phi, tau²), and the adjusted uptake variance per start year.

Everything for everyone and for women and men. Inputs are aggregated in DuckDB (`regional_inputs`):
covariate cells per region, never rows per spell, which is what lets a national cohort fit in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analyses.designs._models import holm
from analyses.designs.covariates import CovariatePlan, LevelPlan, covariate_select_sql, indicators, plan_levels
from analyses.designs.specs import AnalysisSpec, RegionalParameters
from analyses.designs.time_varying import aggregate_person_time
from analyses.estimators import (
    ExpectedSpec,
    FunnelSpec,
    GlmmBinomialSpec,
    GlmmPoissonSpec,
    LogisticSpec,
    PoissonSpec,
    fit_funnel,
    fit_glmm_binomial,
    fit_glmm_poisson,
    fit_logistic,
    fit_poisson,
)
from analyses.estimators._common import formula_design
from analyses.estimators.funnel import FUNNEL_LEVELS, expected_probabilities, level_tag, units_from_probabilities
from analyses.results import CONFIDENCE_LEVEL, Result, make_summary
from data_schemas.tables import REGION_CODES, REGION_NAMES
from koord.errors import ConvergenceError

REGION = "home_region_code"
ALL_YEARS = "all"
CARE_UNITS_TABLE = "region_care_units"
REGION_NAME = dict(zip(REGION_CODES, REGION_NAMES))
# The equity gaps within regions: covariate, compared level, reference level, term name.
GAPS: tuple[tuple[str, str, str, str], ...] = (
    ("sex", "woman", "man", "woman_vs_man"),
    ("is_born_in_sweden", "false", "true", "born_abroad_vs_sweden"),
    ("education_group", "low", "high", "education_low_vs_high"),
)
_ALPHA = 1 - CONFIDENCE_LEVEL


# --- inputs: cells aggregated in DuckDB ---------------------------------------------------------------


@dataclass(frozen=True)
class RegionalInputs:
    """What the regional analyses read, aggregated per region × start year × case-mix cell.

    uptake : n_spells (eligible), n_coordinated (first GC001 within the window), n_window_unobserved
        (spells still open at extraction before the window closed: left out).
    rtw : per horizon h, n_known_<h> (status at h observed) and n_rtw_<h> (returned by h).
    rtw_rate : return-to-work events and days at risk per region × case-mix × band (from entry).
    coordination_rate : first-GC001 events and days at risk from the entry day to the window's end,
        per region × case-mix × band; spells coordinated before the entry day are not at risk.
    persons : distinct persons per region and sex (the eligible spells').
    care_units : `region_care_units` (care region × year), or None when the warehouse lacks it.
    """

    uptake: pd.DataFrame
    rtw: pd.DataFrame
    rtw_rate: pd.DataFrame
    coordination_rate: pd.DataFrame
    persons: pd.DataFrame
    care_units: pd.DataFrame | None


def _cells(con: duckdb.DuckDBPyConnection, covariates: tuple[str, ...], entry_day: int, measures: str) -> pd.DataFrame:
    columns = (REGION, "start_year", *covariates)
    return con.execute(f"""
        with eligible as (
            select spell_id, person_id, followup_days, days_to_first_gc001, end_reason, is_open_at_extraction,
                   {covariate_select_sql(columns)}
            from spells
            where followup_days > {int(entry_day)}
        )
        select {', '.join(columns)}, {measures}
        from eligible
        group by all
        order by all
    """).df()


def regional_inputs(con: duckdb.DuckDBPyConnection, params: RegionalParameters) -> RegionalInputs:
    """Aggregate the analysis tables for the regional analyses (only cells leave the database)."""
    covariates = tuple(params.confounders)
    entry, window = int(params.entry_day), int(params.uptake_window_days)
    uptake = _cells(con, covariates, entry, f"""
        count(*) filter (where not (is_open_at_extraction and followup_days < {window}))::double as n_spells,
        count(*) filter (where days_to_first_gc001 < {window})::double as n_coordinated,
        count(*) filter (where is_open_at_extraction and followup_days < {window})::double as n_window_unobserved""")
    rtw = _cells(con, covariates, entry, ", ".join(
        f"count(*) filter (where not (end_reason = 'censored' and followup_days < {h}))::double as n_known_{h}, "
        f"count(*) filter (where end_reason = 'return_to_work' and followup_days <= {h})::double as n_rtw_{h}"
        for h in params.rtw_horizons))
    rate = aggregate_person_time(con, (*covariates, REGION), tuple(params.band_cuts), entry)
    rate = rate.groupby([*covariates, REGION, "band", "band_start"], observed=True, as_index=False)[
        ["days_at_risk", "events"]].sum()
    coordination_rate = _coordination_rate_cells(con, covariates, entry, window, params.coordination_band_cuts)
    persons = con.execute(f"""
        select home_region_code, sex, count(distinct person_id)::bigint as n_persons
        from spells where followup_days > {entry}
        group by all order by all
    """).df()
    present = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
    care_units = con.execute(f"select * from {CARE_UNITS_TABLE} order by all").df() if CARE_UNITS_TABLE in present else None
    return RegionalInputs(uptake, rtw, rate, coordination_rate, persons, care_units)


def _coordination_rate_cells(con, covariates: tuple[str, ...], entry: int, window: int,
                             cuts: tuple[int, ...]) -> pd.DataFrame:
    """Days at risk of a first GC001 (day indices entry .. window - 1, until the GC001 or the end of
    follow-up) and first GC001s, per region × case-mix × band."""
    limits = [entry, *[c for c in cuts if entry < c < window], window]
    bands = ", ".join(f"({lo}, {hi - 1}, '{lo}-{hi - 1}')" for lo, hi in zip(limits[:-1], limits[1:]))
    columns = (REGION, *covariates)
    return con.execute(f"""
        with bands(first_day, last_day, band) as (values {bands}),
        at_risk as (
            select {covariate_select_sql(columns)}, days_to_first_gc001 as t_c,
                   least(coalesce(days_to_first_gc001, {window}), followup_days - 1, {window - 1}) as last_day,
                   days_to_first_gc001 is not null and days_to_first_gc001 <= least(followup_days - 1, {window - 1})
                       as is_event
            from spells
            where followup_days > {entry} and coalesce(days_to_first_gc001, {window}) >= {entry}
        )
        select {', '.join(f'a.{c}' for c in columns)}, b.band, b.first_day as band_start,
               sum(least(a.last_day, b.last_day) - b.first_day + 1)::double as days_at_risk,
               count(*) filter (where a.is_event and a.t_c between b.first_day and b.last_day)::double as events
        from at_risk a join bands b on b.first_day <= a.last_day
        group by all
        order by all
    """).df()


# --- the fits -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PopulationFits:
    """The regional fits of one population (everyone, women or men)."""

    sex: str
    rows_uptake: list[dict[str, Any]] = field(default_factory=list)
    rows_rtw: list[dict[str, Any]] = field(default_factory=list)
    rows_variation: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RegionalFits:
    """Rows of the three results tables and the fits' diagnostics."""

    uptake: pd.DataFrame
    rtw: pd.DataFrame
    variation: pd.DataFrame
    diagnostics: dict[str, Any]


@dataclass(frozen=True)
class CaseMix:
    """Cells with indicator columns of their case-mix (sparse levels merged into the reference)."""

    cells: pd.DataFrame
    columns: tuple[str, ...]
    plan: dict[str, Any]
    levels: LevelPlan

    @property
    def formula(self) -> str:
        return " + ".join(self.columns) if self.columns else "1"


def case_mix(cells: pd.DataFrame, covariates: Iterable[str], weights: np.ndarray, events: np.ndarray,
             min_level_size: int, non_events: np.ndarray | None = None) -> CaseMix:
    """Indicator coding of the case-mix in ``cells``: each covariate's most frequent level is the
    reference; levels with fewer than ``min_level_size`` (weighted) spells, without events or
    (for a binary outcome, ``non_events``) with only events are merged into it, so that no model
    has an infinite coefficient; covariates with one level are left out."""
    covariates = [c for c in covariates if cells[c].nunique() > 1]
    plan = plan_levels(cells, covariates, min_level_size, events=events, weights=weights)
    if non_events is not None:
        only_events = plan_levels(cells, covariates, min_level_size, events=non_events, weights=weights)
        plan = LevelPlan(tuple(
            CovariatePlan(a.name, a.reference, tuple(lv for lv in a.levels if lv not in b.merged),
                          tuple(sorted(set(a.merged) | set(b.merged))))
            for a, b in zip(plan.covariates, only_events.covariates)))
    design = indicators(cells, plan)
    out = pd.concat([cells.reset_index(drop=True), design.reset_index(drop=True)], axis=1)
    return CaseMix(out, tuple(design.columns), {"covariates": covariates, "levels": plan.describe()}, plan)


def _exact_ratio_interval(observed: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) Poisson interval of O divided by E."""
    o = np.asarray(observed, float)
    low = np.where(o > 0, stats.chi2.ppf(_ALPHA / 2, 2 * o) / 2, 0.0)
    high = stats.chi2.ppf(1 - _ALPHA / 2, 2 * (o + 1)) / 2
    return low / expected, high / expected


def _clopper_pearson(successes: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k, n = np.asarray(successes, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, stats.beta.ppf(_ALPHA / 2, k, n - k + 1), 0.0)
        high = np.where(k < n, stats.beta.ppf(1 - _ALPHA / 2, k + 1, n - k), 1.0)
    return low, high


def _rank_summary(draws: np.ndarray, levels: pd.Index) -> pd.DataFrame:
    """Median rank and 95 % rank interval per region from draws (rows: draws; rank 1 = highest)."""
    ranks = (-draws).argsort(axis=1).argsort(axis=1) + 1
    return pd.DataFrame({
        "median_rank": np.median(ranks, axis=0),
        "rank_low": np.quantile(ranks, _ALPHA / 2, axis=0, method="inverted_cdf"),
        "rank_high": np.quantile(ranks, 1 - _ALPHA / 2, axis=0, method="inverted_cdf"),
        "draw_low": np.quantile(draws, _ALPHA / 2, axis=0),
        "draw_high": np.quantile(draws, 1 - _ALPHA / 2, axis=0),
    }, index=levels)


def _funnel_columns(units: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per region the funnel's limits and flags as extra columns of its O/E row."""
    out = {}
    for u in units.to_dict("records"):
        extra = {}
        for level in FUNNEL_LEVELS:
            tag = level_tag(level)
            extra[f"funnel_low_{tag}"] = u[f"lower_{tag}_random_effects"]
            extra[f"funnel_high_{tag}"] = u[f"upper_{tag}_random_effects"]
            extra[f"funnel_low_{tag}_poisson"] = u[f"lower_{tag}_poisson_exact"]
            extra[f"funnel_high_{tag}_poisson"] = u[f"upper_{tag}_poisson_exact"]
            extra[f"outside_{tag}"] = bool(u[f"outside_{tag}"])
        extra["funnel_z"] = u["z"]
        out[str(u["unit"])] = extra
    return out


def _region_row(estimand: str, region: str, sex: str, **values: Any) -> dict[str, Any]:
    row = {"estimand": estimand, "term": "home_region", "subgroup": REGION, "level": region, "sex": sex,
           "region_name": REGION_NAME.get(region, region), "start_year": ALL_YEARS}
    row.update(values)
    return row


def _share_rows(cells: pd.DataFrame, covariates: list[str], successes: str, trials: str, sex: str, measure: str,
                params: RegionalParameters, persons: dict[str, int], what: str,
                notes: dict[str, Any]) -> tuple[list[dict[str, Any]], pd.DataFrame, Any, pd.DataFrame]:
    """Observed, expected, O/E, standardised share and funnel per region for one binary outcome;
    also the cells with the national model's fitted log-odds (``national_logit``)."""
    data = cells.loc[cells[trials] > 0]
    mix = case_mix(data, covariates, data[trials].to_numpy(), data[successes].to_numpy(), params.min_level_size,
                   non_events=(data[trials] - data[successes]).to_numpy())
    if what == "uptake":
        notes["levels"] = mix.plan["levels"]
    spec = ExpectedSpec(successes, trials, mix.formula, REGION, analysis_id=f"{what}_{sex}")
    p = expected_probabilities(mix.cells, spec)
    oe = units_from_probabilities(mix.cells, spec, p)
    offset_cells = mix.cells[[REGION, successes, trials]].assign(national_logit=np.log(p) - np.log1p(-p))
    national = float(oe["observed"].sum() / oe["trials"].sum())
    funnel = None
    positive = oe.loc[oe["observed"] > 0]
    if len(positive) >= 3:
        funnel = fit_funnel(positive, FunnelSpec(analysis_id=f"{what}_funnel_{sex}"))
        limits = _funnel_columns(funnel.units)
    else:
        limits = {}
    if len(positive) < len(oe):
        notes.setdefault("regions_without_events", {})[what] = sorted(str(u) for u in oe.loc[oe["observed"] <= 0, "unit"])
    low, high = _exact_ratio_interval(oe["observed"].to_numpy(), oe["expected"].to_numpy())
    s_low, s_high = _clopper_pearson(oe["observed"].to_numpy(), oe["trials"].to_numpy())
    rows = []
    for i, u in enumerate(oe.itertuples()):
        region = str(u.unit)
        common = {"measure": measure, "n_spells": int(u.trials), "n_events": int(round(u.observed)),
                  "n_persons": persons.get(region), "observed": float(u.observed), "expected": float(u.expected)}
        rows.append(_region_row("observed_share", region, sex, estimate=u.observed / u.trials, conf_low=s_low[i],
                                conf_high=s_high[i], **common))
        rows.append(_region_row("expected_share", region, sex, estimate=u.expected / u.trials, **common))
        rows.append(_region_row("observed_expected_ratio", region, sex, estimate=u.oe, conf_low=low[i],
                                conf_high=high[i], **common, **limits.get(region, {})))
        rows.append(_region_row("standardised_share", region, sex, estimate=u.oe * national,
                                conf_low=low[i] * national, conf_high=high[i] * national, **common))
    n_low, n_high = _clopper_pearson(np.array([oe["observed"].sum()]), np.array([oe["trials"].sum()]))
    rows.append(_region_row("observed_share", "all", sex, estimate=national, measure=measure, term="national",
                            conf_low=float(n_low[0]), conf_high=float(n_high[0]),
                            n_spells=int(oe["trials"].sum()), n_events=int(round(oe["observed"].sum())),
                            n_persons=sum(persons.values()), observed=float(oe["observed"].sum()),
                            expected=float(oe["expected"].sum())) | {"subgroup": "all", "region_name": "Riket"})
    return rows, oe, funnel, offset_cells


def _funnel_variation_rows(funnel, term: str, sex: str, measure: str) -> list[dict[str, Any]]:
    if funnel is None:
        return []
    return [{"estimand": "overdispersion_phi", "term": term, "subgroup": "all", "level": "all", "sex": sex,
             "start_year": ALL_YEARS, "measure": measure, "estimate": funnel.phi,
             "n_regions_outside_998": int(funnel.units["outside_998"].sum())},
            {"estimand": "between_region_variance_tau2", "term": term, "subgroup": "all", "level": "all", "sex": sex,
             "start_year": ALL_YEARS, "measure": measure, "estimate": funnel.tau2}]


def _glmm_rows(fit, term: str, sex: str, estimands: tuple[str, ...], start_year: str = ALL_YEARS,
               **extra: Any) -> list[dict[str, Any]]:
    rows = []
    for r in fit.summary.loc[fit.summary["estimand"].isin(estimands)].to_dict("records"):
        rows.append({"estimand": r["estimand"], "term": term, "subgroup": "all" if start_year == ALL_YEARS else "start_year",
                     "level": "all" if start_year == ALL_YEARS else start_year, "sex": sex, "start_year": start_year,
                     "estimate": r["estimate"], "conf_low": r["conf_low"], "conf_high": r["conf_high"],
                     "n_events": r["n_events"], "n_regions": int(fit.diagnostics["n_groups"]),
                     "converged": bool(fit.diagnostics["converged"]), **extra})
    return rows


def _shrunken_rows(estimand: str, sex: str, measure: str, levels: pd.Index, point: np.ndarray, draws: np.ndarray,
                   counts: pd.DataFrame, persons: dict[str, int]) -> list[dict[str, Any]]:
    ranks = _rank_summary(draws, levels)
    rows = []
    for j, region in enumerate(levels):
        region = str(region)
        c = counts.loc[region] if region in counts.index else None
        rows.append(_region_row(
            estimand, region, sex, measure=measure, estimate=float(point[j]), conf_low=float(ranks["draw_low"].iloc[j]),
            conf_high=float(ranks["draw_high"].iloc[j]), median_rank=float(ranks["median_rank"].iloc[j]),
            rank_low=int(ranks["rank_low"].iloc[j]), rank_high=int(ranks["rank_high"].iloc[j]),
            n_regions=len(levels), n_persons=persons.get(region),
            n_spells=None if c is None or measure == "rate" else int(c["trials"]),
            n_events=None if c is None else int(round(c["observed"]))))
    return rows


def _uptake_glmm(data: pd.DataFrame, sex: str, *, adjusted: bool, profile: bool = True):
    """Random-intercept logistic model of uptake: null (intercept only) or given the national
    case-mix model (its fitted log-odds as offset, the same model that gives E)."""
    spec = GlmmBinomialSpec("n_coordinated", "1", REGION, trials="n_spells",
                            offset="national_logit" if adjusted else None,
                            profile_level=CONFIDENCE_LEVEL if profile else None,
                            analysis_id=f"region_uptake_glmm_{'adjusted' if adjusted else 'null'}_{sex}")
    return fit_glmm_binomial(data, spec)


def _shrunken_uptake(fit, cells: pd.DataFrame, rng: np.random.Generator,
                     n_draws: int) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Shrunken O/E per region: the region's expected uptake with its intercept (the adjusted
    GLMM's, at the conditional mode, and at draws from its conditional distribution) over its
    expected uptake from the national model."""
    offset = cells["national_logit"].to_numpy(float)
    n = cells["n_spells"].to_numpy(float)
    levels = fit.random_effects.index.astype(str)
    position = pd.Index(levels).get_indexer(cells[REGION].astype(str).to_numpy())
    base = np.bincount(position, weights=n / (1 + np.exp(-offset)), minlength=len(levels))
    eta = offset + float(fit.coef["Intercept"])
    modes = fit.random_effects.to_numpy()
    sds = np.sqrt(fit.random_effect_variances.to_numpy())

    def ratio(b: np.ndarray) -> np.ndarray:
        return np.bincount(position, weights=n / (1 + np.exp(-(eta + b[position]))), minlength=len(levels)) / base

    point = ratio(modes)
    draws = np.vstack([ratio(modes + sds * rng.standard_normal(len(levels))) for _ in range(n_draws)])
    return pd.Index(levels), point, draws


def _design_matrix(data: pd.DataFrame, formula: str, names: pd.Index) -> np.ndarray:
    """The design of ``formula`` for ``data`` with the columns ``names`` of a fit (absent ones 0)."""
    design = formula_design(data, formula, "regional design")
    return design.reindex(columns=list(names), fill_value=0.0).to_numpy(float)


def _gap_rows(data: pd.DataFrame, covariates: list[str], sex: str, params: RegionalParameters,
              persons: dict[str, int], notes: dict[str, Any]) -> list[dict[str, Any]]:
    """Odds ratios of uptake for each gap at equal case-mix, nationally and within each region (Holm over regions)."""
    rows = []
    for covariate, level, reference, term in GAPS:
        if covariate not in covariates or (covariate == "sex" and sex != "all"):
            continue
        others = [c for c in covariates if c != covariate]
        results = []
        for region, cells in [("all", data), *[(str(r), g) for r, g in data.groupby(REGION, observed=True)]]:
            cells = cells.loc[cells[covariate].astype(str).isin((level, reference))]
            n_level = float(cells.loc[cells[covariate].astype(str) == level, "n_spells"].sum())
            n_reference = float(cells.loc[cells[covariate].astype(str) == reference, "n_spells"].sum())
            row = {"estimand": "odds_ratio", "term": term, "subgroup": "all" if region == "all" else REGION,
                   "level": region, "sex": sex, "region_name": "Riket" if region == "all" else REGION_NAME.get(region, region),
                   "start_year": ALL_YEARS, "measure": "uptake", "n_spells": int(n_level + n_reference),
                   "n_persons": sum(persons.values()) if region == "all" else persons.get(region),
                   "n_events": int(cells["n_coordinated"].sum()), "n_spells_level": int(n_level),
                   "n_spells_reference": int(n_reference)}
            events_level = float(cells.loc[cells[covariate].astype(str) == level, "n_coordinated"].sum())
            events_reference = float(cells.loc[cells[covariate].astype(str) == reference, "n_coordinated"].sum())
            row["share_level"] = events_level / n_level if n_level else np.nan
            row["share_reference"] = events_reference / n_reference if n_reference else np.nan
            if min(n_level, n_reference) < params.min_level_size or min(events_level, events_reference) < 1:
                row["note"] = "too few spells or events in a compared group"
                results.append(row)
                continue
            mix = case_mix(cells, others, cells["n_spells"].to_numpy(), cells["n_coordinated"].to_numpy(),
                           params.min_level_size, non_events=(cells["n_spells"] - cells["n_coordinated"]).to_numpy())
            design = mix.cells[list(mix.columns)].copy()
            design["gap"] = (mix.cells[covariate].astype(str) == level).astype(float)
            design["share"] = mix.cells["n_coordinated"] / mix.cells["n_spells"]
            design["trials"] = mix.cells["n_spells"]
            try:
                fit = fit_logistic(design, LogisticSpec("share", tuple(c for c in design.columns
                                                                       if c not in ("share", "trials")),
                                                        weights="trials", analysis_id=f"gap_{term}_{region}_{sex}"))
            except ConvergenceError as error:
                row["note"] = f"model did not converge: {error}"
                results.append(row)
                continue
            estimate, se = float(fit.coef["gap"]), float(fit.se["gap"])
            z = stats.norm.ppf(1 - _ALPHA / 2)
            row.update(estimate=np.exp(estimate), std_error=se, conf_low=np.exp(estimate - z * se),
                       conf_high=np.exp(estimate + z * se), p_value=float(2 * stats.norm.sf(abs(estimate / se))))
            results.append(row)
        regional = [r for r in results if r["level"] != "all" and "p_value" in r]
        adjusted = holm([r["p_value"] for r in regional])
        for r, p in zip(regional, adjusted):
            r["p_holm"] = p
            r["is_significant_holm"] = bool(p < _ALPHA)
        notes.setdefault("regions_significant_after_holm", {})[term] = sorted(
            r["level"] for r in regional if r["is_significant_holm"])
        rows += results
    return rows


def _rate_oe(cells: pd.DataFrame, covariates: list[str], sex: str, params: RegionalParameters, what: str,
             notes: dict[str, Any]) -> pd.DataFrame:
    """Observed and expected events per region from a national Poisson model (case-mix + bands, no region).

    Fitted on the cells collapsed over the regions (the model has no region term, so the
    collapsed cells give the same estimates), then applied to each region's cells.
    """
    data = cells.loc[cells["days_at_risk"] > 0]
    keys = [c for c in (*covariates, "band") if data[c].nunique() > 1]
    national = data.groupby(keys, observed=True, as_index=False)[["days_at_risk", "events"]].sum()
    mix = case_mix(national, keys, national["days_at_risk"].to_numpy(), national["events"].to_numpy(),
                   params.min_level_size)
    fit = fit_poisson(mix.cells, PoissonSpec("events", "days_at_risk", mix.formula, analysis_id=f"{what}_national_{sex}"))
    design = indicators(data, mix.levels)
    x = np.column_stack([np.ones(len(data)), design[list(mix.columns)].to_numpy(float)]) if mix.columns else np.ones((len(data), 1))
    expected = data["days_at_risk"].to_numpy() * np.exp(x @ fit.coef.to_numpy())
    out = pd.DataFrame({"unit": data[REGION].astype(str).to_numpy(), "observed": data["events"].to_numpy(),
                        "expected": expected, "trials": data["days_at_risk"].to_numpy()})
    out = out.groupby("unit", sort=True).sum().reset_index()
    out["oe"] = out["observed"] / out["expected"]
    return out




def _rate_glmm(oe: pd.DataFrame, term: str, sex: str, profile: bool):
    """Poisson GLMM of the regions' observed events with offset log(expected): the between-region
    variance of the log rate given the national model."""
    data = oe.rename(columns={"unit": REGION}).loc[lambda d: d["expected"] > 0]
    return fit_glmm_poisson(data, GlmmPoissonSpec("observed", "expected", "1", REGION,
                                                  profile_level=CONFIDENCE_LEVEL if profile else None,
                                                  analysis_id=f"{term}_{sex}"))


def _population_fits(inputs: RegionalInputs, params: RegionalParameters, sex: str, rng: np.random.Generator,
                     say: Callable[[str], None]) -> PopulationFits:
    fits = PopulationFits(sex)
    notes = fits.notes
    covariates = [c for c in params.confounders if not (sex != "all" and c == "sex")]

    def population(frame: pd.DataFrame) -> pd.DataFrame:
        return frame if sex == "all" else frame.loc[frame["sex"].astype(str) == sex]

    persons_frame = population(inputs.persons)
    persons = persons_frame.groupby(REGION)["n_persons"].sum().astype(int).to_dict()

    # uptake: shares, O/E, funnel (the whole period: cells summed over the start years)
    uptake_by_year = population(inputs.uptake)
    uptake = _over_years(uptake_by_year, covariates)
    notes["n_window_unobserved"] = int(uptake["n_window_unobserved"].sum())
    rows, oe_uptake, funnel_uptake, cells = _share_rows(uptake, covariates, "n_coordinated", "n_spells", sex, "uptake", params,
                                                 persons, "uptake", notes)
    fits.rows_uptake.extend(rows)
    fits.rows_variation.extend(_funnel_variation_rows(funnel_uptake, "uptake_funnel", sex, "uptake"))

    # uptake: GLMMs (null and adjusted), shrunken O/E with ranks, PCV
    say(f"    regions ({sex}): uptake GLMMs …")
    eligible = uptake.loc[uptake["n_spells"] > 0]
    null = _uptake_glmm(eligible, sex, adjusted=False)
    adjusted = _uptake_glmm(cells, sex, adjusted=True)
    between = ("variance", "median_odds_ratio", "icc_latent")
    fits.rows_variation.extend(_glmm_rows(null, "uptake_null", sex, between, measure="uptake"))
    fits.rows_variation.extend(_glmm_rows(adjusted, "uptake_adjusted", sex, between, measure="uptake"))
    pcv = (null.variance - adjusted.variance) / null.variance if null.variance > 0 else np.nan
    fits.rows_variation.append({"estimand": "proportional_change_in_variance", "term": "uptake_adjusted",
                                "subgroup": "all", "level": "all", "sex": sex, "start_year": ALL_YEARS,
                                "measure": "uptake", "estimate": pcv, "n_regions": int(adjusted.diagnostics["n_groups"])})
    levels, point, draws = _shrunken_uptake(adjusted, cells, rng, params.rank_draws)
    fits.rows_uptake.extend(_shrunken_rows("shrunken_observed_expected_ratio", sex, "uptake", levels, point, draws,
                                           oe_uptake.set_index(oe_uptake["unit"].astype(str)), persons))

    # uptake: gaps within regions (in everyone: the women-men gap is the gender-equality comparison)
    if sex == "all":
        say(f"    regions ({sex}): gaps within regions …")
        fits.rows_uptake.extend(_gap_rows(eligible, [c for c in covariates if eligible[c].nunique() > 1], sex, params,
                                          persons, notes))

    # uptake per year from the law's first year: shares, O/E from the year's own national model, variance
    for year in sorted(y for y in uptake_by_year["start_year"].astype(str).unique() if int(y) >= params.first_year_of_law):
        year_cells = uptake_by_year.loc[uptake_by_year["start_year"].astype(str) == year]
        year_notes: dict[str, Any] = {}
        rows, _, _, year_offset_cells = _share_rows(year_cells, covariates, "n_coordinated", "n_spells", sex, "uptake", params, {},
                                       "uptake", year_notes)
        for r in rows:
            if r["estimand"] in ("observed_share", "observed_expected_ratio"):
                r["start_year"] = year
                r["n_persons"] = None
                fits.rows_uptake.append({k: v for k, v in r.items() if not k.startswith(("funnel_", "outside_"))})
        try:
            year_fit = _uptake_glmm(year_offset_cells, sex, adjusted=True)
        except ConvergenceError as error:
            notes.setdefault("not_estimated", {})[f"uptake_variance_{year}"] = str(error)
            continue
        fits.rows_variation.extend(_glmm_rows(year_fit, "uptake_adjusted", sex, ("variance", "median_odds_ratio"),
                                              start_year=year, measure="uptake"))

    # return to work: shares by the horizons
    rtw = _over_years(population(inputs.rtw), covariates)
    for h in params.rtw_horizons:
        try:
            rows, _, funnel, _ = _share_rows(rtw, covariates, f"n_rtw_{h}", f"n_known_{h}", sex, f"share_{h}", params,
                                          persons, f"rtw_{h}", notes)
        except ConvergenceError as error:  # e.g. a small population where the national model separates
            notes.setdefault("not_estimated", {})[f"rtw_share_{h}"] = str(error)
            continue
        fits.rows_rtw.extend(rows)
        fits.rows_variation.extend(_funnel_variation_rows(funnel, f"rtw_share_{h}_funnel", sex, f"share_{h}"))

    # return to work: the rate on person-time, its funnel, Poisson GLMM, shrunken rate ratios
    say(f"    regions ({sex}): return-to-work and coordination rates …")
    oe_rate = _rate_oe(population(inputs.rtw_rate), covariates, sex, params, "rtw_rate", notes)
    fits.rows_rtw.extend(_rate_rows(oe_rate, sex, "rate", persons))
    funnel_rate = fit_funnel(oe_rate.loc[oe_rate["observed"] > 0], FunnelSpec(analysis_id=f"rtw_rate_funnel_{sex}"))
    limits = _funnel_columns(funnel_rate.units)
    for r in fits.rows_rtw:
        if r["estimand"] == "observed_expected_ratio" and r.get("measure") == "rate":
            r.update(limits.get(r["level"], {}))
    fits.rows_variation.extend(_funnel_variation_rows(funnel_rate, "rtw_rate_funnel", sex, "rate"))
    rate_fit = _rate_glmm(oe_rate, "rtw_rate_adjusted", sex, profile=True)
    fits.rows_variation.extend(_glmm_rows(rate_fit, "rtw_rate_adjusted", sex, ("variance", "median_rate_ratio"),
                                          measure="rate"))
    shrunk = np.exp(rate_fit.coef["Intercept"] + rate_fit.random_effects.to_numpy())
    sds = np.sqrt(rate_fit.random_effect_variances.to_numpy())
    draws = np.exp(rate_fit.coef["Intercept"] + rate_fit.random_effects.to_numpy()
                   + sds * rng.standard_normal((params.rank_draws, len(sds))))
    fits.rows_rtw.extend(_shrunken_rows("shrunken_observed_expected_ratio", sex, "rate",
                                        rate_fit.random_effects.index.astype(str), shrunk, draws,
                                        oe_rate.set_index(oe_rate["unit"].astype(str)), persons))

    # the first-GC001 rate (the scale the coordination hazard is planted on)
    oe_coordination = _rate_oe(population(inputs.coordination_rate), covariates, sex, params, "coordination_rate", notes)
    coordination_fit = _rate_glmm(oe_coordination, "coordination_rate_adjusted", sex, profile=True)
    fits.rows_variation.extend(_glmm_rows(coordination_fit, "coordination_rate_adjusted", sex,
                                          ("variance", "median_rate_ratio"), measure="coordination_rate"))
    notes["models"] = {name: {k: f.diagnostics[k] for k in ("converged", "n_groups", "n_rows_collapsed", "se_type")}
                     for name, f in (("uptake_null", null), ("uptake_adjusted", adjusted), ("rtw_rate", rate_fit),
                                     ("coordination_rate", coordination_fit))}
    return fits


def _over_years(cells: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """Cells of region × case-mix summed over the start years (and, within a sex, over sex)."""
    keys = [REGION, *covariates]
    counts = [c for c in cells.columns if c.startswith("n_")]
    return cells.groupby(keys, observed=True, as_index=False)[counts].sum()


def _rate_rows(oe: pd.DataFrame, sex: str, measure: str, persons: dict[str, int]) -> list[dict[str, Any]]:
    low, high = _exact_ratio_interval(oe["observed"].to_numpy(), oe["expected"].to_numpy())
    rows = []
    for i, u in enumerate(oe.itertuples()):
        region = str(u.unit)
        rows.append(_region_row("observed_expected_ratio", region, sex, measure=measure, estimate=u.oe,
                                conf_low=low[i], conf_high=high[i], n_events=int(round(u.observed)),
                                n_persons=persons.get(region), observed=float(u.observed), expected=float(u.expected),
                                days_at_risk=float(u.trials)))
    return rows


def _care_unit_rows(care_units: pd.DataFrame | None, params: RegionalParameters,
                    notes: dict[str, Any]) -> list[dict[str, Any]]:
    """Share of care units recording any GC001 per care region and year, flagged against the national share."""
    if care_units is None or care_units.empty:
        notes["data_quality_note"] = f"the warehouse has no {CARE_UNITS_TABLE} table: no data-quality flags"
        return []
    rows = []
    frame = care_units.copy()
    frame["year"] = frame["year"].astype(int)
    frame = frame.loc[frame["year"] >= params.first_year_of_law]
    periods = [(str(y), g) for y, g in frame.groupby("year")] + [(ALL_YEARS, frame)]
    for period, g in periods:
        by_region = g.groupby("care_region_code").agg(units=("n_care_units", "sum"),
                                                      recording=("n_care_units_recording_gc001", "sum"),
                                                      gc001=("n_gc001_contacts", "sum"))
        national = by_region["recording"].sum() / by_region["units"].sum() if by_region["units"].sum() else np.nan
        for region, r in by_region.iterrows():
            share = r["recording"] / r["units"] if r["units"] else np.nan
            rows.append(_region_row("share_care_units_recording_gc001", str(region), "all", measure="data_quality",
                                    estimate=share, n_events=int(r["recording"]), n_care_units=int(r["units"]),
                                    n_gc001_contacts=int(r["gc001"]), national_share=national,
                                    is_possibly_under_reporting=bool(np.isfinite(share)
                                                                     and share < params.under_reporting_ratio * national))
                        | {"start_year": period})
    return rows


def regional_fits(inputs: RegionalInputs, params: RegionalParameters,
                  say: Callable[[str], None] = lambda _: None) -> RegionalFits:
    """Every regional estimate, for everyone and (``by_sex``) for women and men."""
    rng = np.random.default_rng(params.seed)
    sexes = ["all"] + (["woman", "man"] if params.by_sex else [])
    diagnostics: dict[str, Any] = {
        "entry_day": params.entry_day, "uptake_window_days": params.uptake_window_days,
        "rtw_horizons": list(params.rtw_horizons), "case_mix": list(params.confounders),
        "rank_draws": params.rank_draws, "first_year_of_law": params.first_year_of_law,
        "under_reporting_ratio": params.under_reporting_ratio,
        "interval_of_variance": "profile likelihood, 95 %", "multiplicity": "Holm over the regions, per gap",
        "populations": {},
    }
    uptake, rtw, variation = [], [], []
    for sex in sexes:
        fits = _population_fits(inputs, params, sex, rng, say)
        uptake += fits.rows_uptake
        rtw += fits.rows_rtw
        variation += fits.rows_variation
        diagnostics["populations"][sex] = fits.notes
    quality = _care_unit_rows(inputs.care_units, params, diagnostics)
    flagged = {r["level"] for r in quality if r["start_year"] == ALL_YEARS and r["is_possibly_under_reporting"]}
    for r in uptake:
        if r["subgroup"] == REGION:
            r["is_possibly_under_reporting"] = r["level"] in flagged if quality else None
    uptake += quality
    diagnostics["regions_possibly_under_reporting"] = sorted(flagged)
    return RegionalFits(pd.DataFrame(uptake), pd.DataFrame(rtw), pd.DataFrame(variation), diagnostics)


TABLE_OF_DESIGN = {"region_uptake": "uptake", "region_rtw": "rtw", "region_variation": "variation"}
METHOD_OF_DESIGN = {"region_uptake": "indirect_standardisation_glmm", "region_rtw": "indirect_standardisation_glmm",
                    "region_variation": "glmm_laplace"}


def regional_result(spec: AnalysisSpec, fits: RegionalFits) -> Result:
    """The results table of one regional design from the shared fits."""
    rows = getattr(fits, TABLE_OF_DESIGN[spec.design]).to_dict("records")
    summary = make_summary(rows, analysis_id=spec.id, method=METHOD_OF_DESIGN[spec.design],
                           diagnostics={"design": spec.design})
    diagnostics = dict(fits.diagnostics)
    return Result(analysis_id=spec.id, method=METHOD_OF_DESIGN[spec.design], summary=summary,
                  diagnostics=diagnostics, tables={})


__all__ = ["GAPS", "RegionalFits", "RegionalInputs", "regional_fits", "regional_inputs", "regional_result"]
