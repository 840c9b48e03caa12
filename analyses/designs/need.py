"""Is coordination given by need? A cross-fitted need model and uptake, targeting and unmet need over it (issue 12).

Need is the predicted probability that a spell still followed at the entry day (day 14) lasts
beyond each horizon (90, 180 days), from what is known of it at day 14 only
(`covariates.NEED_PREDICTORS`: never coordination, nor the home region). The model is a
ridge-penalised logistic regression on indicator columns of those categories, not gradient
boosting: the predictors are a handful of categorical variables, so a main-effects logistic
model already uses nearly all the information they carry (trees would add interactions of
categories, whose gain in AUC is small for register predictors of long sick leave), and it is
transparent (odds ratios anyone can read), exactly reproducible offline with the project's own
validated Newton-Raphson (`estimators.logistic.newton_logistic`) and adds no dependency. On
the synthetic 20 000-person warehouse, scikit-learn's histogram gradient boosting on the same
predictors and folds reached a cross-fitted AUC of 0.747 (90 days) and 0.773 (180 days)
against the logistic model's 0.754 and 0.780. The model is cross-fitted: folds are drawn at
random by person (all spells of a person in one fold) and each spell is scored by the model
fitted on the other folds, so no spell's own outcome scores it.

Measures (the ``measure`` column of the summary; every row also carries ``sex`` and ``n_spells``):

- ``need_model_auc``: cross-fitted AUC per horizon with DeLong's 95 % CI.
- ``need_calibration``: observed share lasting beyond the horizon per need group (Wilson CI,
  mean predicted need in ``predicted``; groups of that horizon's need, for the first horizon
  the ``need_group``), and the slope and intercept of the logistic recalibration
  logit P(outcome) = a + b logit(need) (ideal 0 and 1).
- ``uptake_by_need``: share with a first GC001 within the uptake window per need group (the
  groups of the whole population, so women and men are compared at the same need).
- ``concentration_index``: the concentration index of uptake over ranked need (and its
  Wagstaff-normalised form), everyone, women, men and per home region.
- ``gap_at_equal_need``: odds ratio and standardised risk difference of uptake between women
  and men and between those born abroad and in Sweden at equal need (per home region with Holm p).
- ``unmet_need``: high-need spells (top need groups) without uptake, as count and share.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse
from scipy import stats

from analyses.designs._models import finish_summary, holm, populations
from analyses.designs.covariates import (
    LevelPlan,
    indicator_matrix,
    level_codes,
    level_order,
    plan_levels,
    present_levels,
)
from analyses.designs.specs import AnalysisSpec, NeedParameters
from analyses.estimators.logistic import LogisticSpec, fit_logistic, fitted_probability, newton_logistic
from analyses.results import Result, Z_95, wald_row
from koord.errors import ContractViolation, ConvergenceError

DEFAULT_ENTRY_DAY = 14
REGION = "home_region_code"
METHOD = "logistic"
SPLINE_KNOTS = 4  # knots of the restricted cubic spline of logit(need) in the gap models
GAPS = (  # (term, characteristic, level compared, reference level, only in everyone)
    ("woman_vs_man", "sex", "woman", "man", True),
    ("born_abroad_vs_sweden", "is_born_in_sweden", "false", "true", False),
)


# --- the need model ----------------------------------------------------------------------------------


def person_folds(person_id: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold 0..folds-1 per row, drawn at random by person (a person's rows share a fold), sizes balanced."""
    persons, inverse = np.unique(np.asarray(person_id), return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(persons))
    fold_of_person = np.empty(len(persons), dtype=np.int64)
    fold_of_person[order] = np.arange(len(persons)) % folds
    return fold_of_person[inverse]


def fractional_rank(values: np.ndarray) -> np.ndarray:
    """Rank / n in (0, 1], ties given their mean rank."""
    values = np.asarray(values, dtype=float)
    return stats.rankdata(values, method="average") / len(values) if len(values) else np.zeros(0)


def _entry_day(params: NeedParameters) -> int:
    return DEFAULT_ENTRY_DAY if params.entry_day is None else int(params.entry_day)


def need_outcome(spells: pd.DataFrame, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(lasts beyond the horizon, outcome known): unknown when open at extraction with spell_days <= horizon."""
    days = spells["spell_days"].to_numpy()
    is_open = spells["is_open_at_extraction"].to_numpy(dtype=bool)
    return (days > horizon).astype(float), ~(is_open & (days <= horizon))


def cross_fitted_need(spells: pd.DataFrame, params: NeedParameters) -> pd.DataFrame:
    """Cross-fitted need of every spell still followed at the entry day.

    The model is fitted on frequency-weighted covariate patterns (the predictors are
    categorical, so the patterns' likelihood is the rows' likelihood, at a fraction of the
    cost). Levels are planned on the whole need population: the plan uses counts of the
    predictors only, never the outcome, so it leaks nothing across folds.

    Returns
    -------
    DataFrame
        One row per spell of the need population, in the order of ``spells``: spell_id, fold,
        need_<h> per horizon, need_rank (fractional rank of the first horizon's need, ties at
        their mean, in (0, 1]) and need_group (1..n_groups by need_rank). ``attrs['diagnostics']``
        holds the fit counts.
    """
    entry = _entry_day(params)
    population = spells.loc[spells["followup_days"].to_numpy() > entry]
    out = pd.DataFrame({"spell_id": population["spell_id"].to_numpy()}, index=population.index)
    if population.empty:
        raise ContractViolation(f"need model: no spell is followed beyond the entry day {entry}")
    fold = person_folds(population["person_id"].to_numpy(), params.folds, params.seed)
    out["fold"] = fold
    plan = plan_levels(population, params.confounders, params.min_level_size)
    pattern, first_row = _patterns(population, plan)
    x = indicator_matrix(population.iloc[first_row], plan, leading_ones=True)
    n_patterns = len(first_row)
    diagnostics: dict[str, Any] = {"folds": params.folds, "n_covariate_patterns": int(n_patterns),
                                   "n_model_columns": int(x.shape[1]), "levels": plan.describe(),
                                   "fold_sizes": np.bincount(fold, minlength=params.folds).tolist(), "horizons": {}}
    for horizon in params.need_horizons:
        y, known = need_outcome(population, horizon)
        need = np.empty(len(population))
        for k in range(params.folds):
            train = known & (fold != k)
            # no warm start from another fold's fit: it would carry this fold's outcomes in, if only by rounding
            beta = _fit_patterns(x, pattern[train], y[train], n_patterns, params.ps_ridge,
                                 what=f"need model (horizon {horizon}, fold {k})")
            scored = fold == k
            need[scored] = fitted_probability(x, beta)[pattern[scored]]
        out[f"need_{horizon}"] = need
        diagnostics["horizons"][str(horizon)] = {"n_in_fit": int(known.sum()), "n_unknown_outcome": int((~known).sum()),
                                                 "n_lasting_beyond": int(y[known].sum())}
    first = out[f"need_{params.need_horizons[0]}"].to_numpy()
    out["need_rank"] = fractional_rank(first)
    out["need_group"] = need_groups(out["need_rank"].to_numpy(), params.n_groups)
    _, tie_sizes = np.unique(first, return_counts=True)
    diagnostics["need_ties"] = {"n_distinct_need": int(len(tie_sizes)), "n_spells": int(len(first)),
                           "n_spells_tied": int(tie_sizes[tie_sizes > 1].sum()), "largest_tie": int(tie_sizes.max())}
    diagnostics["levels_merged"] = {c.name: list(c.merged) for c in plan.covariates if c.merged}
    out.attrs["diagnostics"] = diagnostics
    return out.reset_index(drop=True)


def need_groups(rank: np.ndarray, n_groups: int) -> np.ndarray:
    """Group 1..n_groups of a fractional rank: ceil(rank x groups), so tied spells share a group."""
    return np.clip(np.ceil(np.asarray(rank) * n_groups - 1e-9), 1, n_groups).astype(np.int64)


def _patterns(frame: pd.DataFrame, plan: LevelPlan) -> tuple[np.ndarray, np.ndarray]:
    """Per row the index of its covariate pattern (its combination of planned levels), and one row of each pattern."""
    sizes = [len(c.levels) + 1 for c in plan.covariates]
    if np.prod(np.asarray(sizes, dtype=float)) < 2.0**62:  # the levels as digits of one mixed-radix integer
        key = np.zeros(len(frame), dtype=np.int64)
        for cov, size in zip(plan.covariates, sizes):
            key = key * size + (level_codes(frame, cov) + 1)
    else:
        key = np.column_stack([level_codes(frame, cov) for cov in plan.covariates])
    _, first_row, pattern = np.unique(key, axis=0 if key.ndim > 1 else None, return_index=True, return_inverse=True)
    return pattern.ravel(), first_row


def _fit_patterns(x: scipy.sparse.csr_matrix, pattern: np.ndarray, y: np.ndarray, n_patterns: int, ridge: float,
                  what: str) -> np.ndarray:
    """Coefficients of the ridge logistic model fitted to rows given as (pattern, outcome)."""
    events = np.bincount(pattern, weights=y, minlength=n_patterns)
    trials = np.bincount(pattern, minlength=n_patterns).astype(float)
    used = trials > 0
    share = np.divide(events, trials, out=np.zeros(n_patterns), where=used)
    fit = newton_logistic(x[used], share[used], trials[used], ridge, what=what)
    return fit.beta


# --- the estimators of the rows -----------------------------------------------------------------------


def wilson_interval(successes: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score 95 % interval of a binomial share (sensible at shares near 0 or 1)."""
    k, n = np.asarray(successes, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + Z_95**2 / (2 * n)) / (1 + Z_95**2 / n)
        half = Z_95 * np.sqrt(p * (1 - p) / n + Z_95**2 / (4 * n**2)) / (1 + Z_95**2 / n)
    return centre - half, centre + half


def delong_auc(score: np.ndarray, outcome: np.ndarray) -> tuple[float, float]:
    """AUC and its DeLong standard error, by midranks (Sun & Xu 2014): O(n log n), ties count one half."""
    score, outcome = np.asarray(score, float), np.asarray(outcome).astype(bool)
    pos, neg = score[outcome], score[~outcome]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        return float("nan"), float("nan")
    rank_all = stats.rankdata(np.concatenate([pos, neg]))
    rank_pos, rank_neg = stats.rankdata(pos), stats.rankdata(neg)
    v10 = (rank_all[:m] - rank_pos) / n  # per positive: share of negatives scored below it
    v01 = 1 - (rank_all[m:] - rank_neg) / m  # per negative: share of positives scored above it
    auc = float(v10.mean())
    var = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
    return auc, float(np.sqrt(var))


def concentration_index(y: np.ndarray, rank: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Concentration index C = 2 cov(y, R) / mean(y) and its standard error.

    Parameters
    ----------
    y : outcome per unit (here uptake 0/1).
    rank : fractional rank R of the ranking variable (here need) in the population, ties at
        their mean rank.
    weights : optional frequency weights (means and covariance weighted).

    Returns
    -------
    (C, se)
        Positive C: y is concentrated among the high-ranked. The standard error is Kakwani,
        Wagstaff & van Doorslaer (1997): var(C) = [sum w a^2 / W - (1 + C)^2] / W with
        a_i = (y_i / mu)(2 R_i - 1 - C) + 2 - q_{i-1} - q_i, q the concentration curve's
        ordinates (cumulative share of y, units ordered by rank).
    """
    y, rank = np.asarray(y, float), np.asarray(rank, float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, float)
    total = w.sum()
    mu = float(w @ y / total) if total > 0 else float("nan")
    if not total > 0 or not mu > 0:
        return float("nan"), float("nan")
    r_mean = float(w @ rank / total)
    cov = float(w @ ((y - mu) * (rank - r_mean)) / total)
    c = 2 * cov / mu
    order = np.argsort(rank, kind="stable")
    q = np.cumsum((w * y)[order]) / (mu * total)
    q_before = np.concatenate([[0.0], q[:-1]])
    a = (y[order] / mu) * (2 * rank[order] - 1 - c) + 2 - q_before - q
    var = (float(w[order] @ a**2) / total - (1 + c) ** 2) / total
    return float(c), float(np.sqrt(var)) if var > 0 else float("nan")


def _restricted_cubic_spline(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Harrell's restricted (natural) cubic spline basis beyond the linear term: k - 2 columns."""
    k = len(knots)
    if k < 3:
        return np.zeros((len(x), 0))
    scale = (knots[-1] - knots[0]) ** 2
    def cube(v: np.ndarray) -> np.ndarray:
        return np.maximum(v, 0.0) ** 3
    last, before = knots[-1], knots[-2]
    columns = [(cube(x - knots[j]) - cube(x - before) * (last - knots[j]) / (last - before)
                + cube(x - last) * (before - knots[j]) / (last - before)) / scale for j in range(k - 2)]
    return np.column_stack(columns)


def need_basis(need: np.ndarray) -> np.ndarray:
    """logit(need) and its restricted cubic spline terms (knots at Harrell's quantiles): the 'equal need' adjustment."""
    logit = np.log(need) - np.log1p(-need)
    quantiles = {3: (0.10, 0.5, 0.90), 4: (0.05, 0.35, 0.65, 0.95), 5: (0.05, 0.275, 0.5, 0.725, 0.95)}[SPLINE_KNOTS]
    knots = np.unique(np.quantile(logit, quantiles))
    return np.column_stack([logit, _restricted_cubic_spline(logit, knots)])


# --- the analysis --------------------------------------------------------------------------------------


def _row(measure: str, estimand: str, term: str, subgroup: str, level: str, sex: str, **values: Any) -> dict[str, Any]:
    row = {"estimand": estimand, "term": term, "subgroup": subgroup, "level": level, "sex": sex, "measure": measure}
    row.update(values)
    return row


def _where(sex: str, subgroup: str | None = None, level: str | None = None) -> tuple[str, str]:
    """(subgroup, level) of a row of a sex population, or of a level of a dimension within it."""
    if subgroup is not None:
        return subgroup, level
    return ("all", "all") if sex == "all" else ("sex", sex)


def _level_masks(values: pd.Series) -> list[tuple[str, np.ndarray]]:
    """(level, row mask) per level present, in code-list order; the text is compared once per distinct value."""
    codes, uniques = pd.factorize(values.astype(str) if values.isna().any() else values, sort=False)
    position = {str(u): i for i, u in enumerate(uniques)}
    return [(level, codes == position[level]) for level in present_levels([str(u) for u in uniques],
                                                                            level_order(values.name))]


def _share_rows(data: pd.DataFrame, success: str, by: str, measure: str, estimand: str, term: str, sex: str,
                subgroup: str, predicted: str | None = None) -> list[dict[str, Any]]:
    """One share row (Wilson CI) per level of ``by``: n_spells, n_events, n_persons and the mean ``predicted``."""
    aggregations = {"n_spells": (success, "size"), "n_events": (success, "sum"), "n_persons": ("person_id", "nunique")}
    if predicted:
        aggregations["predicted"] = (predicted, "mean")
    cells = data.groupby(by, observed=True, sort=True).agg(**aggregations)
    low, high = wilson_interval(cells["n_events"].to_numpy(), cells["n_spells"].to_numpy())
    rows = []
    for (level, cell), lo, hi in zip(cells.iterrows(), low, high):
        share = cell["n_events"] / cell["n_spells"]
        rows.append(_row(measure, estimand, term, subgroup, str(level), sex, estimate=share,
                         std_error=np.sqrt(share * (1 - share) / cell["n_spells"]), conf_low=lo, conf_high=hi,
                         n_persons=int(cell["n_persons"]), n_events=int(cell["n_events"]),
                         n_spells=int(cell["n_spells"]),
                         **({"predicted": float(cell["predicted"])} if predicted else {})))
    return rows


def _need_model_rows(data: pd.DataFrame, params: NeedParameters, sex: str) -> list[dict[str, Any]]:
    """AUC, calibration by need group and the recalibration slope and intercept, per horizon."""
    rows = []
    subgroup, level = _where(sex)
    for horizon in params.need_horizons:
        term = f"need_{horizon}"
        known = data.loc[data[f"known_{horizon}"]]
        y, need = known[f"beyond_{horizon}"].to_numpy(), known[term].to_numpy()
        auc, se = delong_auc(need, y)
        counts = {"n_persons": int(known["person_id"].nunique()), "n_events": int(y.sum()), "n_spells": len(known)}
        rows.append(_row("need_model_auc", "auc", term, subgroup, level, sex, estimate=auc, std_error=se,
                         conf_low=max(auc - Z_95 * se, 0.0), conf_high=min(auc + Z_95 * se, 1.0), **counts))
        rows += _share_rows(known, f"beyond_{horizon}", f"group_{horizon}", "need_calibration", "observed_share",
                            term, sex, "need_group", predicted=term)
        try:
            fit, _, _ = _fit_grouped({"logit_need": np.log(need) - np.log1p(-need)}, y, f"calibration_{term}_{sex}",
                                     keys=("logit_need",))
        except ConvergenceError:
            continue
        for estimand, name in (("calibration_intercept", "Intercept"), ("calibration_slope", "logit_need")):
            rows.append(_row("need_calibration", estimand, term, subgroup, level, sex,
                             **wald_row(float(fit.coef[name]), float(fit.se[name]), ratio=False), **counts))
    return rows


def _concentration_row(data: pd.DataFrame, sex: str, subgroup: str, level: str) -> list[dict[str, Any]]:
    """Concentration index of uptake over need ranked within ``data``, raw and Wagstaff-normalised."""
    y = data["uptake"].to_numpy(dtype=float)
    c, se = concentration_index(y, fractional_rank(data["need_rank"].to_numpy()))
    mu = float(y.mean()) if len(y) else float("nan")
    counts = {"n_persons": int(data["person_id"].nunique()), "n_events": int(y.sum()), "n_spells": len(y)}
    rows = []
    for estimand, scale in (("concentration_index", 1.0), ("concentration_index_normalised", 1 / (1 - mu))):
        values = wald_row(c * scale, se * scale, ratio=False) if np.isfinite(se) else {"estimate": c * scale}
        rows.append(_row("concentration_index", estimand, "uptake_over_need", subgroup, level, sex,
                         mean_uptake=mu, **values, **counts))
    return rows


def _fit_grouped(columns: dict[str, np.ndarray], y: np.ndarray, analysis_id: str,
                 keys: tuple[str, ...]) -> tuple[Any, np.ndarray, np.ndarray]:
    """Logistic model of ``y`` on ``columns``, fitted on the distinct covariate rows with their counts.

    The covariates here are functions of need (which takes one value per covariate pattern and
    fold) and a 0/1 characteristic: the distinct rows are few, and their weighted likelihood is
    the rows'. ``keys`` are columns that determine all the others. Returns the fit, the
    distinct rows' covariates and the count of rows behind each (its weight).
    """
    frame = pd.DataFrame(columns)
    key = np.zeros(len(frame), dtype=np.int64)
    for column in keys:
        codes = np.unique(frame[column].to_numpy(), return_inverse=True)[1].ravel()
        key = key * (int(codes.max()) + 1) + codes
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    trials = np.bincount(inverse).astype(float)
    grouped = frame.iloc[first].reset_index(drop=True)
    grouped["share"] = np.bincount(inverse, weights=y) / trials
    grouped["trials"] = trials
    fit = fit_logistic(grouped, LogisticSpec("share", tuple(frame.columns), weights="trials", analysis_id=analysis_id))
    return fit, grouped[list(frame.columns)].to_numpy(float), trials


def _gap_fit(data: pd.DataFrame, characteristic: str, level: str, reference: str, basis: np.ndarray,
             analysis_id: str, min_size: int, min_events: int = 10) -> tuple[Any, np.ndarray, np.ndarray, str | None]:
    """Logistic model of uptake on the need basis + the compared characteristic (rows of the two levels).

    Returns the fit (None with a note when it cannot be made), the rows compared, the
    characteristic of those rows (1 = the level), the note, and the risk difference with its SE.
    """
    values = data[characteristic].astype(str).to_numpy()
    compared = np.isin(values, (level, reference))
    x = (values[compared] == level).astype(float)
    y = data["uptake"].to_numpy(dtype=float)[compared]
    sizes = [int((x == v).sum()) for v in (1, 0)]
    events = [float(y[x == v].sum()) for v in (1, 0)]
    # an odds ratio rests on the events and the non-events of both groups: with a handful of either
    # the estimate runs off to a boundary and its interval is meaningless
    non_events = [size - e for size, e in zip(sizes, events)]
    if min(sizes) < min_size or min(events + non_events) < min_events:
        return None, compared, x, "too few spells, events or non-events in a compared group", None
    columns = {f"need_{j}": basis[compared, j] for j in range(basis.shape[1])}
    columns["gap"] = x
    try:
        fit, design, trials = _fit_grouped(columns, y, analysis_id, keys=("need_0", "gap"))
    except ConvergenceError as error:
        return None, compared, x, f"model did not converge: {error}", None
    return fit, compared, x, None, _risk_difference(fit, design[:, :-1], trials)


def _risk_difference(fit: Any, basis: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Standardised risk difference (characteristic set to 1 vs 0 for everyone) with its delta-method SE."""
    design = np.column_stack([np.ones(len(basis)), basis, np.zeros(len(basis))])
    beta = fit.coef.to_numpy()
    share = weights / weights.sum()
    gradients = []
    means = []
    for value in (1.0, 0.0):
        design[:, -1] = value
        p = fitted_probability(design, beta)
        means.append(float(share @ p))
        gradients.append(share @ (design * (p * (1 - p))[:, None]))
    gradient = gradients[0] - gradients[1]
    return means[0] - means[1], float(np.sqrt(gradient @ fit.vcov.to_numpy() @ gradient))


def _gap_rows(data: pd.DataFrame, params: NeedParameters, sex: str, notes: dict[str, Any]) -> list[dict[str, Any]]:
    """Odds ratio and standardised risk difference of uptake at equal need; the sex gap also per region."""
    rows = []
    basis = need_basis(np.clip(data["need"].to_numpy(), 1e-9, 1 - 1e-9))
    subgroup, level_all = _where(sex)
    for term, characteristic, level, reference, everyone_only in GAPS:
        if everyone_only and sex != "all":
            continue
        fit, compared, x, note, difference = _gap_fit(data, characteristic, level, reference, basis,
                                                      f"gap_{term}_{sex}", params.min_level_size, params.min_events)
        counts = {"n_persons": int(data.loc[compared, "person_id"].nunique()),
                  "n_events": int(data["uptake"].to_numpy()[compared].sum()), "n_spells": int(compared.sum()),
                  "n_spells_level": int(x.sum()), "n_spells_reference": int((1 - x).sum())}
        if fit is None:
            rows.append(_row("gap_at_equal_need", "odds_ratio", term, subgroup, level_all, sex, note=note, **counts))
            continue
        rows.append(_row("gap_at_equal_need", "odds_ratio", term, subgroup, level_all, sex,
                         **wald_row(float(fit.coef["gap"]), float(fit.se["gap"]), ratio=True), **counts))
        rd, se = difference
        rows.append(_row("gap_at_equal_need", "risk_difference", term, subgroup, level_all, sex,
                         **wald_row(rd, se, ratio=False), **counts))
        if characteristic != "sex":
            continue
        regional = []
        for region, inside in _level_masks(data[REGION]):
            sub = data.loc[inside].reset_index(drop=True)
            fit, compared, x, note, _ = _gap_fit(sub, characteristic, level, reference, basis[inside],
                                              f"gap_{term}_{region}", params.min_level_size, params.min_events)
            counts = {"n_persons": int(sub.loc[compared, "person_id"].nunique()),
                      "n_events": int(sub["uptake"].to_numpy()[compared].sum()), "n_spells": int(compared.sum()),
                      "n_spells_level": int(x.sum()), "n_spells_reference": int((1 - x).sum())}
            if fit is None:
                rows.append(_row("gap_at_equal_need", "odds_ratio", term, REGION, region, sex, note=note, **counts))
                continue
            row = _row("gap_at_equal_need", "odds_ratio", term, REGION, region, sex,
                       **wald_row(float(fit.coef["gap"]), float(fit.se["gap"]), ratio=True), **counts)
            regional.append(row)
            rows.append(row)
        for row, p in zip(regional, holm([r["p_value"] for r in regional])):
            row["p_holm"] = p
        notes["regions_sex_gap_significant_after_holm"] = sorted(r["level"] for r in regional if r["p_holm"] < 0.05)
    return rows


def _unmet_rows(data: pd.DataFrame, params: NeedParameters, sex: str) -> list[dict[str, Any]]:
    """High-need spells without uptake: count and share (Wilson), in the whole population and per region."""
    high = data.loc[data["need_group"].to_numpy() > params.n_groups - params.high_need_groups]
    high = high.assign(unmet=(~high["uptake"]).astype(int), all="all" if sex == "all" else sex)
    rows = []
    for by, subgroup in (("all", _where(sex)[0]), (REGION, REGION)):
        for share in _share_rows(high.assign(**{by: high[by].astype(str)}), "unmet", by, "unmet_need", "share",
                                 "high_need_without_uptake", sex, subgroup):
            count = dict(share, estimand="count", estimate=float(share["n_events"]), std_error=np.nan,
                         conf_low=np.nan, conf_high=np.nan)
            rows += [count, share]
    return rows


def coordination_need(spec: AnalysisSpec, spells: pd.DataFrame,
                      progress: Callable[[str], None] | None = None) -> Result:
    """The need analysis: need model quality, uptake by need, concentration, gaps at equal need, unmet need.

    Rows: see the module docstring; for everyone, women and men.
    """
    params: NeedParameters = spec.parameters
    say = progress or (lambda message: None)
    need = cross_fitted_need(spells, params)
    say("need model cross-fitted")
    entry = _entry_day(params)
    population = spells.loc[spells["followup_days"].to_numpy() > entry].reset_index(drop=True)
    data = pd.concat([population[["person_id", "sex", "is_born_in_sweden", REGION]], need], axis=1)
    data["need"] = need[f"need_{params.need_horizons[0]}"]
    for horizon in params.need_horizons:
        beyond, known = need_outcome(population, horizon)
        data[f"beyond_{horizon}"], data[f"known_{horizon}"] = beyond, known
        data[f"group_{horizon}"] = need_groups(fractional_rank(need[f"need_{horizon}"].to_numpy()), params.n_groups)
    window = params.uptake_window_days
    first_gc001 = population["days_to_first_gc001"].to_numpy(dtype=float)
    data["uptake"] = first_gc001 < window  # NaN (never) compares False
    left_out = (population["is_open_at_extraction"].to_numpy(dtype=bool)
                & (population["followup_days"].to_numpy() < window) & ~data["uptake"].to_numpy())
    uptake_data = data.loc[~left_out].reset_index(drop=True)
    rows: list[dict[str, Any]] = []
    notes: dict[str, Any] = {}
    for population_ in populations(params, data):
        sex = population_.sex
        sub = data.loc[population_.mask(data)].reset_index(drop=True)
        rows += _need_model_rows(sub, params, sex)
        up = uptake_data.loc[population_.mask(uptake_data)].reset_index(drop=True)
        if up.empty:
            continue
        rows += _share_rows(up, "uptake", "need_group", "uptake_by_need", "share",
                            "uptake", sex, "need_group", predicted="need")
        subgroup, level = _where(sex)
        rows += _concentration_row(up, sex, subgroup, level)
        if sex == "all":
            for region, inside in _level_masks(up[REGION]):
                rows += _concentration_row(up.loc[inside], sex, REGION, region)
        rows += _gap_rows(up, params, sex, notes)
        rows += _unmet_rows(up, params, sex)
        say(f"need rows for {sex}")
    model = need.attrs["diagnostics"]
    diagnostics = {
        "design": spec.design, "entry_day": entry, "need_horizons": list(params.need_horizons),
        "n_spells_input": int(len(spells)), "n_need_population": int(len(population)),
        "n_not_followed_to_entry": int(len(spells) - len(population)),
        "need_model": {"model": "ridge logistic, main effects of categories", "ridge": params.ps_ridge,
                       "predictors": list(params.confounders), **model},
        "uptake_window_days": window, "n_uptake_population": int(len(uptake_data)),
        "n_left_out_of_uptake": int(left_out.sum()),
        "high_need_groups": params.high_need_groups, "need_groups": params.n_groups, **notes,
    }
    summary = finish_summary(rows, spec.id, METHOD, diagnostics)
    return Result(analysis_id=spec.id, method=METHOD, summary=summary, diagnostics=diagnostics, tables={})


__all__ = ["concentration_index", "coordination_need", "cross_fitted_need", "delong_auc", "fractional_rank",
           "need_basis", "need_groups", "need_outcome", "person_folds", "wilson_interval"]
