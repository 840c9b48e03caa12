"""Inverse probability of treatment weights of the emulated trials (step 2 of `trial_emulation`).

1. Propensity: a ridge-penalised logistic regression of starting coordination on the baseline
   confounders (indicator columns) and the standardised day of time zero, sampling-weighted
   (`analyses.estimators.fit_logistic`); sparse designs stay sparse. By default
   (``ps_model = "pooled"``) one model over all trial weeks with an indicator per trial week
   (Danaei et al. 2013's pooled model of the sequential trials); ``"per_week"`` fits one model
   per trial week instead. Why pooled: a week of a small population holds few starts of
   coordination (the pooled "other diagnoses" of 20 000 persons: about 85 per week against
   some 55 coefficients), and the ridge penalty that keeps a week's model finite then shrinks
   the confounders' coefficients so far that much of the confounding stays: in the simulation
   study (R = 10 x 20 000 persons) the per-week models left the "other" group's risk
   difference +0.013, +0.017, +0.010 too high at 90, 180, 365 days (unweighted: +0.022,
   +0.017, +0.011; weighted by the true propensity: +0.006, +0.002, -0.002), the pooled model
   +0.004, +0.004, +0.001; in `koord validate` (R = 20 x 20 000, seeds 1-20) the group's bias
   fell from +0.015, +0.017, +0.009 to +0.004, +0.006, +0.004 (MC SE 0.003-0.004) and its
   bootstrap SE's error from +87 to +123 % to -16 to +17 %. The pooled model assumes the
   confounders act alike in every week (the week's own level of coordination is its indicator).
2. Weights: stabilised weights P(treated) / P(treated | X, d) and their complement, truncated
   at percentiles within each arm and trial week; times the sampling (and, in a bootstrap
   replicate, frequency) weight they are the analysis weights.
3. Balance: the standardised mean difference of every confounder level and of the day of time
   zero, before and after weighting, pooled over the trials and per trial week
   (`diagnostics.level_smd`, `diagnostics.numeric_smd`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse

from analyses.designs.covariates import indicator_matrix, indicator_name, level_codes, plan_levels
from analyses.designs.diagnostics import level_smd, numeric_smd, weighted_quantiles
from analyses.designs.specs import TargetTrialParameters
from analyses.estimators.logistic import LogisticSpec, fit_logistic, fitted_probability

DAY_COVARIATE = "days_since_spell_start"
DENSE_DESIGN_CELLS = 1_000_000  # propensity designs up to this many cells are dense (dense products are faster)
_TREATED, _SAMPLING_WEIGHT = "treated", "sampling_weight"


# --- 1. propensity ---------------------------------------------------------------------------------


POOLED_WEEK = -1  # `WeekModel.week` of the pooled model (all trial weeks)
WEEK_COVARIATE = "trial_week_level"  # the pooled model's indicator of the trial week


@dataclass(frozen=True)
class WeekModel:
    """One propensity model: its entries, design, coefficients and inverse information.

    ``week``: the trial week it models, or `POOLED_WEEK` for the pooled model of all weeks.
    """

    week: int
    rows: np.ndarray  # indexes into the entries
    x: np.ndarray | scipy.sparse.csr_matrix  # intercept first, then the covariates of `LogisticResult.coef`
    beta: np.ndarray
    info_inverse: np.ndarray  # inverse of the penalised information at beta (for the bootstrap update)


def _design_frame(x: np.ndarray | scipy.sparse.csr_matrix, names: list[str], y: np.ndarray,
                  w: np.ndarray) -> pd.DataFrame:
    """The covariate columns of ``x`` (without its intercept) beside the outcome and the weights."""
    covariates = x[:, 1:]
    if scipy.sparse.issparse(covariates):
        frame = pd.DataFrame.sparse.from_spmatrix(covariates, columns=names)
    else:
        frame = pd.DataFrame(covariates, columns=names)
    return frame.assign(**{_TREATED: y, _SAMPLING_WEIGHT: w})


def model_label(week: int) -> str:
    """How a propensity model is named in messages: its trial week, or all weeks pooled."""
    return "all trial weeks (pooled)" if week == POOLED_WEEK else f"trial week {week}"


def week_models(entries: pd.DataFrame, confounders: tuple[str, ...], params: TargetTrialParameters) -> list[WeekModel]:
    """The propensity models: one over all trial weeks (``ps_model`` 'pooled') or one per week ('per_week').

    The pooled model adds an indicator per trial week (`WEEK_COVARIATE`, the largest week the
    reference) to the confounders; levels are planned over the entries each model fits.

    Raises ConvergenceError (from `fit_logistic`) when a model does not converge.
    """
    models = []
    y_all = entries["treated"].to_numpy(dtype=float)
    w_all = entries["sampling_weight"].to_numpy(dtype=float)
    if params.ps_model == "pooled":
        weeks = entries["trial_week"].to_numpy()
        frame = entries[list(confounders)].assign(**{WEEK_COVARIATE: pd.Categorical(weeks.astype(str))})
        groups = [(POOLED_WEEK, frame, (*confounders, WEEK_COVARIATE))]
    else:
        groups = [(week, group, confounders) for week, group in entries.groupby("trial_week", sort=True)]
    for week, group, covariates in groups:
        rows = group.index.to_numpy()
        plan = plan_levels(group, covariates, params.min_level_size, weights=w_all[rows])
        day = entries["trial_day"].to_numpy(dtype=float)[rows]
        day_sd = day.std()
        day_col = (day - day.mean()) / day_sd if day_sd > 0 else np.zeros(len(day))
        x = indicator_matrix(group, plan, leading_ones=True, trailing=day_col)
        if x.shape[0] * x.shape[1] <= DENSE_DESIGN_CELLS:  # small weeks: dense products are faster
            x = x.toarray()
        names = [*plan.columns, DAY_COVARIATE]
        fit = fit_logistic(_design_frame(x, names, y_all[rows], w_all[rows]),
                           LogisticSpec(outcome=_TREATED, covariates=tuple(names), weights=_SAMPLING_WEIGHT,
                                        ridge=params.ps_ridge,
                                        analysis_id="propensity_pooled" if week == POOLED_WEEK else f"propensity_week_{week}"))
        models.append(WeekModel(int(week), rows, x, fit.coef.to_numpy(), fit.vcov.to_numpy()))
    return models


def propensity(models: list[WeekModel], n: int) -> np.ndarray:
    """Every entry's propensity score from its week's model."""
    ps = np.empty(n)
    for m in models:
        ps[m.rows] = fitted_probability(m.x, m.beta)
    return ps


# --- 2. weights -------------------------------------------------------------------------------------


def iptw(ps: np.ndarray, treated: np.ndarray, base_weights: np.ndarray, truncation: tuple[float, float],
         strata: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Stabilised inverse probability of treatment weights, truncated at percentiles per arm and stratum.

    w = P(A=1) / ps for the treated and P(A=0) / (1 - ps) for the controls, with P(A=1) the
    (sampling-weighted) share treated over all trials, so that both arms are weighted to the
    whole trial population (including its mix of trial days). The percentiles are taken within
    each arm and stratum (trial week), sampling-weighted: with few treated among many controls,
    percentiles over all entries would be those of the controls and flatten every treated
    weight, and pooled over weeks they would cut most in the weeks with the rarest treatment
    and unbalance the trial days.

    Returns the truncated weights and a report (marginal share, shares truncated).
    """
    treated = np.asarray(treated, dtype=bool)
    strata = np.zeros(len(ps), dtype=np.int64) if strata is None else np.asarray(strata)
    share = float((base_weights * treated).sum() / base_weights.sum())
    raw = np.where(treated, share / ps, (1 - share) / (1 - ps))
    out = raw.copy()
    report: dict[str, float] = {"share_treated": share, "max_raw_weight": float(raw.max()),
                                "truncation_percentiles": list(truncation)}
    quantiles = (truncation[0] / 100, truncation[1] / 100)
    for arm, arm_mask in (("treated", treated), ("control", ~treated)):
        cut = np.zeros(len(ps), dtype=bool)
        for stratum in np.unique(strata[arm_mask]):
            mask = arm_mask & (strata == stratum)
            low, high = (float(v) for v in weighted_quantiles(raw[mask], base_weights[mask], quantiles))
            out[mask] = np.clip(raw[mask], low, high)
            cut |= mask & ((raw < low) | (raw > high))
        w = base_weights[arm_mask]
        report[f"{arm}_share_truncated"] = float((base_weights * cut).sum() / w.sum()) if arm_mask.any() else 0.0
        report[f"{arm}_max_weight"] = float(out[arm_mask].max()) if arm_mask.any() else 0.0
    return out, report


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2."""
    return float(weights.sum() ** 2 / (weights**2).sum()) if len(weights) else 0.0


def base_weights(entries: pd.DataFrame, frequency: np.ndarray) -> np.ndarray:
    """Sampling weight × frequency (1 in the sample, the person's draws in a bootstrap replicate)."""
    return entries["sampling_weight"].to_numpy(dtype=float) * frequency


def analysis_weights(models: list[WeekModel], entries: pd.DataFrame, base: np.ndarray,
                     params: TargetTrialParameters) -> tuple[np.ndarray, dict[str, float], np.ndarray]:
    """Final analysis weights (IPTW × ``base``), the weight report and the propensity scores.

    IPT weights are computed among the entries with a positive ``base`` (in a replicate, the
    drawn persons' entries), truncated per arm and trial week; the others weigh 0.
    """
    treated = entries["treated"].to_numpy()
    ps = propensity(models, len(entries))
    present = base > 0
    w = np.zeros(len(entries))
    weeks = entries["trial_week"].to_numpy()
    w_present, report = iptw(ps[present], treated[present], base[present], params.weight_truncation,
                             strata=weeks[present])
    w[present] = w_present * base[present]
    return w, report, ps


# --- 3. balance -------------------------------------------------------------------------------------


def covariate_balance(entries: pd.DataFrame, confounders: tuple[str, ...], weights: np.ndarray) -> pd.DataFrame:
    """SMD of every confounder level and the day of time zero, before and after weighting.

    Pooled over all trials (``trial_week`` 'all') and per trial week. Before weighting the
    entries carry their sampling weights only; after, the analysis ``weights``; the SD is that
    of the sampling-weighted arms in both (`diagnostics.level_smd`). Every level is shown, the
    reference levels too.
    """
    plan = plan_levels(entries, confounders, min_level_size=1)
    treated = entries["treated"].to_numpy()
    base = entries["sampling_weight"].to_numpy(dtype=float)
    week_codes, week_labels = pd.factorize(entries["trial_week"], sort=True)
    groupings = [(np.zeros(len(entries), np.int64), ["all"]), (week_codes, [str(k) for k in week_labels])]
    day = entries["trial_day"].to_numpy(dtype=float)
    frames = []
    for groups, labels in groupings:
        n_groups = len(labels)
        n_t = np.bincount(groups[treated], minlength=n_groups)
        n_c = np.bincount(groups[~treated], minlength=n_groups)
        names, before, after = [], [], []
        for cov in plan.covariates:
            levels = [*cov.levels, cov.reference]
            codes = level_codes(entries, cov)
            codes = np.where(codes >= 0, codes, len(cov.levels))  # every present level is planned (min size 1)
            names.extend(indicator_name(cov.name, lv) for lv in levels)
            before.append(level_smd(codes, len(levels), treated, base, base, groups, n_groups))
            after.append(level_smd(codes, len(levels), treated, weights, base, groups, n_groups))
        names.append(DAY_COVARIATE)
        before.append(numeric_smd(day, treated, base, base, groups, n_groups)[:, None])
        after.append(numeric_smd(day, treated, weights, base, groups, n_groups)[:, None])
        before_all, after_all = np.hstack(before), np.hstack(after)
        for g, label in enumerate(labels):
            if not n_t[g] and not n_c[g]:
                continue
            frames.append(pd.DataFrame({"trial_week": label, "covariate": names, "smd_before": before_all[g],
                                        "smd_after": after_all[g], "n_treated": int(n_t[g]), "n_control": int(n_c[g])}))
    return pd.concat(frames, ignore_index=True)


__all__ = ["DAY_COVARIATE", "DENSE_DESIGN_CELLS", "POOLED_WEEK", "WEEK_COVARIATE", "WeekModel", "model_label", "analysis_weights", "base_weights",
           "covariate_balance", "effective_sample_size", "iptw", "propensity", "week_models"]
