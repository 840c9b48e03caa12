"""Sequential target-trial emulation: start coordination now vs not now, over the first weeks of the spell.

The protocol each emulated trial follows (Hernán & Robins' target trial; Danaei et al. 2013's
sequential trials):

- Trials. One trial starts on each trial day d = first_trial_day + i * trial_interval_days
  over ``n_trial_weeks`` weeks (default: every day from the entry day 14 through day 104, 13
  weeks; week k holds days 14 + 7k .. 20 + 7k). The first trial day is the entry day because a
  spell is only in the study if it lasted beyond it: before it no return to work can be
  observed, so a trial starting earlier would hold immortal time.
- Eligibility at time zero d: follow-up still running (``followup_days > d``: no return to
  work nor competing event nor censoring by day d) and not yet coordinated (no GC001 before
  day d). Spells of one person, and one spell on several days, may enter several trials.
- Arms. "Starts coordination now": the first GC001 falls on days [d, d + grace_days); "does
  not start now": every other eligible spell. With the default grace of one day the treated
  arm starts on the trial's own day, so time zero is the start of coordination in both arms
  and no follow-up time is immortal. A longer grace period (e.g. weekly trials with
  grace_days = 7, the sensitivity analysis) keeps time zero at d for both arms and accepts
  that the treated are then event-free from d until their GC001 (immortal time that biases
  the treated arm towards fewer early returns to work).
- Controls may start coordination later: the estimand is the effect of starting now versus
  not starting now and following the usual course of care afterwards (an observational
  analogue of intention to treat, per-trial "now vs later or never"), averaged over all
  eligible trial entries (the trial-population average effect).
- Confounding: a propensity model per trial week (ridge-penalised logistic regression on the
  baseline confounders and the days since spell start at time zero) gives stabilised inverse
  probability of treatment weights, P(treated) / P(treated | X, d) and its complement,
  truncated at the 1st and 99th percentile; controls are sampled (``controls_per_treated``
  per treated entry in each trial) and carry the inverse sampling fraction as a weight.
- Outcome: return to work with competing events (sickness compensation, death, emigration,
  age 65) by the weighted Aalen–Johansen estimator per arm, pooled over trials, at 90, 180 and
  365 days after time zero; risk differences and risk ratios with 95 % percentile intervals
  from a person-level bootstrap (persons resampled with all their entries; the propensity
  models refitted in every replicate, by chord iterations with the full-sample information).
- Diagnostics per result: covariate balance (|SMD| pooled over trials, before and after
  weighting, and per week), equipoise (preference score), positivity (overlap of the
  propensity distributions), minimum detectable risk difference, events per arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse

from analyses.designs._models import finish_summary, populations
from analyses.designs.covariates import (
    indicator_matrix,
    indicator_name,
    level_codes,
    level_order,
    plan_levels,
    present_levels,
)
from analyses.designs.diagnostics import (
    equipoise,
    flags,
    minimum_detectable_difference,
    positivity,
)
from analyses.designs.specs import AnalysisSpec, TargetTrialParameters
from analyses.estimators import AalenJohansenSpec, fit_aalen_johansen
from analyses.results import Result
from data_schemas.tables import COMPETING_EVENTS
from pipeline.errors import ContractViolation

ARMS = {True: "coordination_now", False: "not_now"}
CAUSE_RETURN_TO_WORK, CAUSE_COMPETING, CAUSE_CENSORED = 1, 2, 0
DAY_COVARIATE = "days_since_spell_start"


def outcome_cause(end_reason: pd.Series) -> np.ndarray:
    """1 return to work, 2 a competing event, 0 censored; any other reason is a contract breach."""
    reason = end_reason.astype(str)
    cause = np.select([reason.eq("return_to_work"), reason.isin(COMPETING_EVENTS), reason.eq("censored")],
                      [CAUSE_RETURN_TO_WORK, CAUSE_COMPETING, CAUSE_CENSORED], default=-1)
    if (cause < 0).any():
        bad = sorted(reason[cause < 0].unique())
        raise ContractViolation(f"spells.end_reason holds values the trial cannot classify: {bad}")
    return cause


def trial_days(params: TargetTrialParameters) -> np.ndarray:
    """Time zero of every trial, days since spell start."""
    first = params.first_trial_day
    return np.arange(first, first + 7 * params.n_trial_weeks, params.trial_interval_days)


@dataclass(frozen=True)
class TrialEntries:
    """The expanded trial data: one row per (spell, trial) kept, and the per-trial counts.

    ``entries`` columns: spell_id, person_id, trial_day, trial_week, treated (bool), time
    (days from time zero to the end of follow-up), cause (1/2/0), sampling_weight and the
    spell's covariates. ``per_trial``: trial_day, n_eligible, n_treated, n_controls,
    n_controls_kept, sampling_fraction.
    """

    entries: pd.DataFrame
    per_trial: pd.DataFrame


def expand_trials(spells: pd.DataFrame, params: TargetTrialParameters, covariates: tuple[str, ...],
                  rng: np.random.Generator) -> TrialEntries:
    """Eligible (spell, trial) pairs, arms and outcomes; controls sampled per trial.

    Parameters
    ----------
    spells : one row per spell: spell_id, person_id, followup_days, days_to_first_gc001 (NaN
        if never coordinated during follow-up), end_reason and ``covariates``.
    params : the trial protocol (``first_trial_day`` resolved).
    rng : source of the control sampling.
    """
    followup = spells["followup_days"].to_numpy(dtype=float)
    t_c = pd.to_numeric(spells["days_to_first_gc001"], errors="coerce").to_numpy(dtype=float)
    cause = outcome_cause(spells["end_reason"])
    t_c_or_never = np.where(np.isnan(t_c), np.inf, t_c)
    pieces, per_trial = [], []
    for d in trial_days(params):
        eligible = (followup > d) & (t_c_or_never >= d)
        treated = eligible & (t_c_or_never < d + params.grace_days)
        controls = eligible & ~treated
        n_treated, n_controls = int(treated.sum()), int(controls.sum())
        fraction = 1.0
        if n_treated and params.controls_per_treated > 0 and n_controls:
            fraction = min(1.0, params.controls_per_treated * n_treated / n_controls)
        kept = controls & (rng.random(len(spells)) < fraction) if fraction < 1 else controls
        per_trial.append({"trial_day": int(d), "n_eligible": int(eligible.sum()), "n_treated": n_treated,
                          "n_controls": n_controls, "n_controls_kept": int(kept.sum()) if n_treated else 0,
                          "sampling_fraction": fraction})
        if not n_treated:
            continue  # no contrast in this trial
        rows = np.flatnonzero(treated | kept)
        piece = spells.iloc[rows][["spell_id", "person_id", *covariates]].copy()
        piece["trial_day"] = int(d)
        piece["treated"] = treated[rows]
        piece["time"] = followup[rows] - d
        piece["cause"] = cause[rows]
        piece["sampling_weight"] = np.where(treated[rows], 1.0, 1.0 / fraction)
        pieces.append(piece)
    per_trial_frame = pd.DataFrame(per_trial)
    if not pieces:
        columns = ["spell_id", "person_id", *covariates, "trial_day", "treated", "time", "cause", "sampling_weight"]
        return TrialEntries(pd.DataFrame(columns=columns), per_trial_frame)
    entries = pd.concat(pieces, ignore_index=True)
    entries["trial_week"] = (entries["trial_day"] - params.first_trial_day) // 7
    return TrialEntries(entries, per_trial_frame)


# --- propensity model --------------------------------------------------------------------------


def _ridge_penalty(p: int, ridge: float) -> np.ndarray:
    """The L2 penalty per coefficient: ``ridge`` on all but the intercept (column 0)."""
    penalty = np.full(p, ridge)
    penalty[0] = 0.0
    return penalty


def _fitted_probability(x: np.ndarray | scipy.sparse.spmatrix, beta: np.ndarray) -> np.ndarray:
    """expit(x beta), the linear predictor clipped so exp cannot overflow."""
    return 1 / (1 + np.exp(-np.clip(x @ beta, -35, 35)))


def fit_logistic(x: np.ndarray | scipy.sparse.spmatrix, y: np.ndarray, weights: np.ndarray, ridge: float = 0.0,
                 start: np.ndarray | None = None, max_iter: int = 50, tol: float = 1e-9) -> np.ndarray:
    """Weighted logistic regression by Newton–Raphson with an L2 penalty on all but column 0.

    Maximises sum w [y x'b - log(1 + exp(x'b))] - ridge/2 * |b[1:]|^2. Column 0 of ``x`` must
    be the intercept. The penalty keeps the estimates finite when a level has no treated.
    ``x`` may be a scipy sparse matrix (indicator designs are mostly zeros: the information
    matrix then costs the non-zeros, not rows × columns²).
    """
    p = x.shape[1]
    beta = np.zeros(p) if start is None else start.astype(float).copy()
    penalty = _ridge_penalty(p, ridge)
    for _ in range(max_iter):
        mu = _fitted_probability(x, beta)
        score = x.T @ (weights * (y - mu)) - penalty * beta
        step = np.linalg.solve(_information(x, mu, weights, penalty) + 1e-10 * np.eye(p), score)
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    return beta


@dataclass
class _WeekModel:
    """Design matrix, fitted coefficients and inverse information of one trial week's propensity model."""

    rows: np.ndarray  # indexes into the entries
    x: np.ndarray | scipy.sparse.csr_matrix
    beta: np.ndarray
    info_inverse: np.ndarray  # inverse of the penalised information at beta (for the bootstrap update)


_DENSE_LIMIT = 1_000_000  # cells of a propensity design kept dense (below this, dense products are faster)


def logistic_information(x: np.ndarray | scipy.sparse.spmatrix, beta: np.ndarray, weights: np.ndarray,
                         ridge: float) -> np.ndarray:
    """Penalised information matrix X' diag(w mu (1 - mu)) X + ridge (intercept unpenalised) at ``beta``."""
    return _information(x, _fitted_probability(x, beta), weights, _ridge_penalty(len(beta), ridge))


def _information(x: np.ndarray | scipy.sparse.spmatrix, mu: np.ndarray, weights: np.ndarray,
                 penalty: np.ndarray) -> np.ndarray:
    curvature = weights * mu * (1 - mu)
    if scipy.sparse.issparse(x):  # the sparse product costs the non-zeros, not rows × columns²
        info = (x.T.multiply(curvature[None, :]) @ x).toarray()
    else:
        info = (x * curvature[:, None]).T @ x
    return info + np.diag(penalty)


def _week_models(entries: pd.DataFrame, confounders: tuple[str, ...], params: TargetTrialParameters) -> list[_WeekModel]:
    models = []
    y_all = entries["treated"].to_numpy(dtype=float)
    w_all = entries["sampling_weight"].to_numpy(dtype=float)
    for _, group in entries.groupby("trial_week", sort=True):
        rows = group.index.to_numpy()
        plan = plan_levels(group, confounders, params.min_level_size, weights=w_all[rows])
        day = group["trial_day"].to_numpy(dtype=float)
        day_sd = day.std()
        day_col = (day - day.mean()) / day_sd if day_sd > 0 else np.zeros(len(day))
        x = indicator_matrix(group, plan, leading_ones=True, trailing=day_col)
        if x.shape[0] * x.shape[1] <= _DENSE_LIMIT:  # small weeks: dense products are faster
            x = x.toarray()
        beta = fit_logistic(x, y_all[rows], w_all[rows], params.ps_ridge)
        info = logistic_information(x, beta, w_all[rows], params.ps_ridge)
        models.append(_WeekModel(rows, x, beta, np.linalg.pinv(info, hermitian=True)))
    return models


def _replicate_models(models: list[_WeekModel], y: np.ndarray, base: np.ndarray, params: TargetTrialParameters,
                      update: str, max_iter: int = 50, tol: float = 1e-6) -> list[_WeekModel]:
    """The propensity models refitted on a bootstrap replicate (frequency weights in ``base``).

    Both updates solve the replicate's own penalised score equation from the full-sample
    estimate. 'chord' iterates beta <- beta + I^-1 U*(beta) with the full-sample inverse
    information I^-1 (the chord method: each step one pass over the sparse design, no new
    information matrix; its first step is the estimating-function bootstrap of Hu & Kalbfleisch
    2000), falling back to Newton steps if it has not converged in ``max_iter`` steps.
    'newton' recomputes the information in every step. ``tol`` bounds the last step of every
    coefficient: at 1e-6 the replicates' risk differences agree with a 1e-8 refit to 1e-9.
    """
    out = []
    for m in models:
        yr, wr = y[m.rows], base[m.rows]
        beta, converged = m.beta, False
        if update == "chord":
            penalty = _ridge_penalty(len(m.beta), params.ps_ridge)
            for _ in range(max_iter):
                mu = _fitted_probability(m.x, beta)
                step = m.info_inverse @ (m.x.T @ (wr * (yr - mu)) - penalty * beta)
                beta = beta + step
                if np.max(np.abs(step)) < tol:
                    converged = True
                    break
        if not converged:
            beta = fit_logistic(m.x, yr, wr, params.ps_ridge, start=m.beta, max_iter=max_iter, tol=tol)
        out.append(_WeekModel(m.rows, m.x, beta, m.info_inverse))
    return out


def _propensity(models: list[_WeekModel], n: int) -> np.ndarray:
    ps = np.empty(n)
    for m in models:
        ps[m.rows] = _fitted_probability(m.x, m.beta)
    return ps


def _weighted_percentiles(values: np.ndarray, weights: np.ndarray, pcts: tuple[float, float]) -> tuple[float, float]:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    picks = [values[order][min(np.searchsorted(cum, p / 100, side="left"), len(values) - 1)] for p in pcts]
    return float(picks[0]), float(picks[1])


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
    for arm, arm_mask in (("treated", treated), ("control", ~treated)):
        cut = np.zeros(len(ps), dtype=bool)
        for stratum in np.unique(strata[arm_mask]):
            mask = arm_mask & (strata == stratum)
            low, high = _weighted_percentiles(raw[mask], base_weights[mask], truncation)
            out[mask] = np.clip(raw[mask], low, high)
            cut |= mask & ((raw < low) | (raw > high))
        w = base_weights[arm_mask]
        report[f"{arm}_share_truncated"] = float((base_weights * cut).sum() / w.sum()) if arm_mask.any() else 0.0
        report[f"{arm}_max_weight"] = float(out[arm_mask].max()) if arm_mask.any() else 0.0
    return out, report


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2."""
    return float(weights.sum() ** 2 / (weights**2).sum()) if len(weights) else 0.0


# --- outcome --------------------------------------------------------------------------------------


def cumulative_incidence_at(time: np.ndarray, cause: np.ndarray, weights: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Weighted Aalen–Johansen cumulative incidence of cause 1 at integer times ``at``.

    Vectorised with bincount on integer event times (days), for the bootstrap; the point
    estimates come from `analyses.estimators.fit_aalen_johansen`, which this matches (tests).
    All causes at one time are handled together, with S(t-) from before that time, as R does;
    rows censored at t are at risk at t.
    """
    t = np.asarray(time, dtype=np.int64)
    horizon = int(max(t.max(initial=0), np.max(at, initial=0))) + 1
    leave = np.bincount(t, weights=weights, minlength=horizon)
    any_event = np.bincount(t, weights=weights * (cause > 0), minlength=horizon)
    event_1 = np.bincount(t, weights=weights * (cause == CAUSE_RETURN_TO_WORK), minlength=horizon)
    at_risk = np.cumsum(leave[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard_all = np.where(at_risk > 0, any_event / at_risk, 0.0)
        hazard_1 = np.where(at_risk > 0, event_1 / at_risk, 0.0)
    survival = np.cumprod(1 - hazard_all)
    survival_before = np.concatenate([[1.0], survival[:-1]])
    cif = np.cumsum(survival_before * hazard_1)
    return cif[np.asarray(at, dtype=np.int64)]


@dataclass(frozen=True)
class _Curves:
    """CIF of return to work per arm at the horizons and on the curve grid."""

    horizons: dict[bool, np.ndarray]
    grid: dict[bool, np.ndarray]


def _curves(entries: pd.DataFrame, weights: np.ndarray, horizons: np.ndarray, grid: np.ndarray) -> _Curves:
    treated = entries["treated"].to_numpy()
    time, cause = entries["time"].to_numpy(), entries["cause"].to_numpy()
    at = np.concatenate([horizons, grid])
    out_h, out_g = {}, {}
    for arm in (True, False):
        m = treated == arm
        values = cumulative_incidence_at(time[m], cause[m], weights[m], at)
        out_h[arm], out_g[arm] = values[: len(horizons)], values[len(horizons):]
    return _Curves(out_h, out_g)


def _curves_by_estimator(entries: pd.DataFrame, weights: np.ndarray, horizons: np.ndarray,
                         grid: np.ndarray) -> _Curves:
    """Point estimates from the validated `fit_aalen_johansen` (weighted, one curve per arm)."""
    frame = pd.DataFrame({"time": entries["time"].to_numpy(dtype=float), "cause": entries["cause"].to_numpy(),
                          "arm": np.where(entries["treated"].to_numpy(), ARMS[True], ARMS[False]), "weight": weights})
    frame = frame.loc[frame["weight"] > 0]
    result = fit_aalen_johansen(frame, AalenJohansenSpec(time="time", cause="cause", censor_value=CAUSE_CENSORED,
                                                          group="arm", weights="weight"))
    at = np.concatenate([horizons, grid]).astype(float)
    table = result.cif_at(at)
    table = table.loc[table["cause"] == CAUSE_RETURN_TO_WORK]
    out_h, out_g = {}, {}
    for arm in (True, False):
        values = table.loc[table["group"] == ARMS[arm]].set_index("time")["cif"].reindex(at).to_numpy()
        out_h[arm], out_g[arm] = values[: len(horizons)], values[len(horizons):]
    return _Curves(out_h, out_g)


def _weights_for(models: list[_WeekModel], entries: pd.DataFrame, frequency: np.ndarray,
                 params: TargetTrialParameters, refit: bool) -> tuple[np.ndarray, dict[str, float], np.ndarray]:
    """Final analysis weights (IPTW × sampling weight × frequency) and the propensity scores."""
    treated = entries["treated"].to_numpy()
    base = entries["sampling_weight"].to_numpy(dtype=float) * frequency
    if refit:
        models = _replicate_models(models, treated.astype(float), base, params, params.bootstrap_ps_update)
    ps = _propensity(models, len(entries))
    present = base > 0
    w = np.zeros(len(entries))
    weeks = entries["trial_week"].to_numpy()
    w_present, report = iptw(ps[present], treated[present], base[present], params.weight_truncation,
                             strata=weeks[present])
    w[present] = w_present * base[present]
    return w, report, ps


@dataclass(frozen=True)
class TrialAnalysis:
    """Everything one population's trial gives: entries, weights, curves, bootstrap and balance."""

    entries: pd.DataFrame
    per_trial: pd.DataFrame
    weights: np.ndarray
    ps: np.ndarray
    weight_report: dict[str, float]
    point: _Curves
    replicates: list[_Curves]
    balance: pd.DataFrame
    horizons: np.ndarray
    grid: np.ndarray


def analyse_trials(spells: pd.DataFrame, params: TargetTrialParameters, rng: np.random.Generator,
                   progress=None) -> TrialAnalysis | None:
    """Expand, weight, estimate and bootstrap the trials of one population (None: no treated)."""
    confounders = tuple(params.confounders)
    covariates = tuple(dict.fromkeys([*confounders, "sex", "diagnosis_chapter_group"]))
    expanded = expand_trials(spells, params, covariates, rng)
    entries = expanded.entries
    if entries.empty or not entries["treated"].any() or entries["treated"].all():
        return None
    confounders = tuple(c for c in confounders if entries[c].nunique() > 1)
    models = _week_models(entries, confounders, params)
    ones = np.ones(len(entries))
    weights, report, ps = _weights_for(models, entries, ones, params, refit=False)
    horizons = np.asarray(params.horizons, dtype=np.int64)
    grid = np.arange(0, params.curve_max_day + 1, params.curve_step_days, dtype=np.int64)
    point = _curves_by_estimator(entries, weights, horizons, grid)
    persons, person_index = np.unique(entries["person_id"].to_numpy(), return_inverse=True)
    replicates = []
    for b in range(params.bootstrap_replicates):
        counts = np.bincount(rng.integers(0, len(persons), len(persons)), minlength=len(persons))
        frequency = counts[person_index].astype(float)
        w_b, _, _ = _weights_for(models, entries, frequency, params, refit=params.bootstrap_refit_ps)
        replicates.append(_curves(entries, w_b, horizons, grid))
        if progress and (b + 1) % 50 == 0:
            progress(b + 1)
    balance = covariate_balance(entries, confounders, weights, params)
    report["effective_sample_size_treated"] = effective_sample_size(weights[entries["treated"].to_numpy()])
    report["effective_sample_size_control"] = effective_sample_size(weights[~entries["treated"].to_numpy()])
    return TrialAnalysis(entries, expanded.per_trial, weights, ps, report, point, replicates, balance, horizons, grid)


def covariate_balance(entries: pd.DataFrame, confounders: tuple[str, ...], weights: np.ndarray,
                      params: TargetTrialParameters) -> pd.DataFrame:
    """SMD of every confounder level and the day of time zero, before and after weighting.

    Pooled over all trials (``trial_week`` 'all') and per trial week. Before weighting the
    entries carry their sampling weights only. The SMD of a level indicator is
    (p_treated - p_control) / sqrt((p_t (1 - p_t) + p_c (1 - p_c)) / 2), the means with the
    comparison's weights and the variances with the sampling weights (as
    `diagnostics.standardised_mean_differences`, which this equals); the shares come from
    weighted counts per level, so no entries × levels matrix is built.
    """
    plan = plan_levels(entries, confounders, min_level_size=1)
    treated = entries["treated"].to_numpy()
    base = entries["sampling_weight"].to_numpy(dtype=float)
    week_codes, week_labels = pd.factorize(entries["trial_week"], sort=True)
    groupings = [(np.zeros(len(entries), np.int64), ["all"]), (week_codes, [str(k) for k in week_labels])]
    frames = []
    for groups, labels in groupings:
        n_groups = len(labels)
        n_t = np.bincount(groups[treated], minlength=n_groups)
        n_c = np.bincount(groups[~treated], minlength=n_groups)
        names, before, after = [], [], []
        # the reference levels are shown too: balance of every level, not only the coded ones
        for cov in plan.covariates:
            levels = [*cov.levels, cov.reference]
            codes = level_codes(entries, cov)
            codes = np.where(codes >= 0, codes, len(cov.levels))  # every present level is planned (min size 1)
            shares = {}
            for key, w in (("w", weights), ("b", base)):
                for arm, mask in (("t", treated), ("c", ~treated)):
                    counts = np.bincount(groups[mask] * len(levels) + codes[mask], weights=w[mask],
                                         minlength=n_groups * len(levels)).reshape(n_groups, len(levels))
                    with np.errstate(divide="ignore", invalid="ignore"):
                        shares[key + arm] = counts / counts.sum(axis=1, keepdims=True)
            sd = np.sqrt((shares["bt"] * (1 - shares["bt"]) + shares["bc"] * (1 - shares["bc"])) / 2)
            names.extend(indicator_name(cov.name, lv) for lv in levels)
            before.append(_smd(shares["bt"] - shares["bc"], sd))
            after.append(_smd(shares["wt"] - shares["wc"], sd))
        day = entries["trial_day"].to_numpy(dtype=float)
        moments = {}
        for key, w in (("w", weights), ("b", base)):
            for arm, mask in (("t", treated), ("c", ~treated)):
                total = np.bincount(groups[mask], weights=w[mask], minlength=n_groups)
                with np.errstate(divide="ignore", invalid="ignore"):
                    mean = np.bincount(groups[mask], weights=w[mask] * day[mask], minlength=n_groups) / total
                    var = np.bincount(groups[mask], weights=w[mask] * (day[mask] - mean[groups[mask]]) ** 2,
                                      minlength=n_groups) / total
                moments[key + arm] = (mean, var)
        day_sd = np.sqrt((moments["bt"][1] + moments["bc"][1]) / 2)
        names.append(DAY_COVARIATE)
        before.append(_smd(moments["bt"][0] - moments["bc"][0], day_sd)[:, None])
        after.append(_smd(moments["wt"][0] - moments["wc"][0], day_sd)[:, None])
        before_all, after_all = np.hstack(before), np.hstack(after)
        for g, label in enumerate(labels):
            if not n_t[g] and not n_c[g]:
                continue
            frames.append(pd.DataFrame({"trial_week": label, "covariate": names, "smd_before": before_all[g],
                                        "smd_after": after_all[g], "n_treated": int(n_t[g]), "n_control": int(n_c[g])}))
    return pd.concat(frames, ignore_index=True)


def _smd(difference: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Difference over SD; 0 for a constant column, infinite for a difference without spread, NaN for an empty arm."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, difference / sd, np.where(np.abs(difference) > 0, np.inf, np.where(
            np.isnan(difference), np.nan, 0.0)))


# --- summary ---------------------------------------------------------------------------------------


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    """Bootstrap SD and 2.5/97.5 percentiles (NaN without replicates)."""
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan"), float("nan")
    return float(values.std(ddof=1)), float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def _z_p(estimate: float, se: float) -> float:
    from scipy import stats

    return float(2 * stats.norm.sf(abs(estimate / se))) if se and np.isfinite(se) and se > 0 else float("nan")


def summary_rows(analysis: TrialAnalysis, params: TargetTrialParameters, *, subgroup: str, level: str,
                 sex: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Risk difference, risk ratio and per-arm cumulative incidence at each horizon, with flags."""
    entries = analysis.entries
    treated = entries["treated"].to_numpy()
    time, cause = entries["time"].to_numpy(), entries["cause"].to_numpy()
    balance_all = analysis.balance[analysis.balance["trial_week"] == "all"]
    max_smd = float(np.nanmax(np.abs(balance_all["smd_after"]))) if len(balance_all) else float("nan")
    per_week = analysis.balance[analysis.balance["trial_week"] != "all"]
    week_max = per_week.groupby("trial_week")["smd_after"].apply(lambda s: np.nanmax(np.abs(s)))
    base = entries["sampling_weight"].to_numpy(dtype=float)
    equip = equipoise(analysis.ps, analysis.weight_report["share_treated"], base)
    overlap = positivity(analysis.ps, treated, base)
    support = min(overlap["share_treated_in_support"], overlap["share_control_in_support"])
    n_persons = int(entries["person_id"].nunique())
    rows = []
    for i, h in enumerate(analysis.horizons):
        cif1, cif0 = analysis.point.horizons[True][i], analysis.point.horizons[False][i]
        rep1 = np.array([r.horizons[True][i] for r in analysis.replicates])
        rep0 = np.array([r.horizons[False][i] for r in analysis.replicates])
        events = {arm: float(((cause == CAUSE_RETURN_TO_WORK) & (time <= h) & (treated == flag)).sum())
                  for arm, flag in (("treated", True), ("control", False))}
        rd_se, rd_lo, rd_hi = _interval(rep1 - rep0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_rr = np.log(rep1 / rep0)
        rr_se, rr_lo, rr_hi = _interval(log_rr)
        diag = flags(params, max_abs_smd=max_smd, equipoise_share=equip, support_share=support,
                     mde_risk_difference=minimum_detectable_difference(rd_se), events_per_arm=events)
        diag.update({"share_weeks_balanced": float((week_max < params.max_abs_smd).mean()) if len(week_max) else None,
                     "weights": analysis.weight_report, "positivity": overlap})
        common = {"term": f"horizon_{int(h)}", "subgroup": subgroup, "level": level, "sex": sex, "n_persons": n_persons,
                  "n_events": int(sum(events.values())), "horizon_days": int(h),
                  "n_entries_treated": int(treated.sum()), "n_entries_control": int((~treated).sum()),
                  "cif_treated": cif1, "cif_control": cif0, "n_bootstrap": len(analysis.replicates),
                  "row_diagnostics": diag}
        rows.append({**common, "estimand": "risk_difference", "estimate": cif1 - cif0, "std_error": rd_se,
                     "conf_low": rd_lo, "conf_high": rd_hi, "p_value": _z_p(cif1 - cif0, rd_se)})
        rr = cif1 / cif0 if cif0 > 0 else float("nan")
        rows.append({**common, "estimand": "risk_ratio", "estimate": rr, "std_error": rr_se,
                     "conf_low": float(np.exp(rr_lo)), "conf_high": float(np.exp(rr_hi)),
                     "p_value": _z_p(np.log(rr), rr_se) if rr > 0 else float("nan")})
        for arm, cif, rep in ((True, cif1, rep1), (False, cif0, rep0)):
            se, lo, hi = _interval(rep)
            rows.append({**common, "row_diagnostics": diag, "estimand": "cumulative_incidence", "arm": ARMS[arm],
                         "estimate": cif, "std_error": se, "conf_low": lo, "conf_high": hi})
    bookkeeping = {"weights": analysis.weight_report, "n_trials": int(len(analysis.per_trial)),
                   "n_trials_without_treated": int((analysis.per_trial["n_treated"] == 0).sum()),
                   "n_entries": int(len(entries)), "equipoise": equip, "positivity": overlap,
                   "max_abs_smd_after": max_smd}
    return rows, bookkeeping


def curve_rows(analysis: TrialAnalysis, analysis_id: str, *, subgroup: str, level: str, sex: str) -> pd.DataFrame:
    """Cumulative incidence per arm on the grid with bootstrap intervals and persons at risk / with events."""
    entries = analysis.entries
    treated = entries["treated"].to_numpy()
    time, cause = entries["time"].to_numpy(), entries["cause"].to_numpy()
    person = entries["person_id"].to_numpy()
    grid = analysis.grid
    frames = []
    for arm in (True, False):
        m = treated == arm
        rep = np.array([r.grid[arm] for r in analysis.replicates]) if analysis.replicates else None
        # persons at risk at t: some entry of theirs still followed at t
        last = pd.Series(time[m]).groupby(person[m]).max().to_numpy()
        at_risk = np.array([(last >= t).sum() for t in grid])
        events = np.zeros(len(grid), dtype=np.int64)
        is_event = cause[m] == CAUSE_RETURN_TO_WORK
        for j, t in enumerate(grid):
            lo = grid[j - 1] if j else -1
            events[j] = len(np.unique(person[m][is_event & (time[m] > lo) & (time[m] <= t)]))
        frames.append(pd.DataFrame({
            "analysis_id": analysis_id, "arm": ARMS[arm], "sex": sex, "subgroup": subgroup, "level": level,
            "time": grid.astype(float), "cif": analysis.point.grid[arm],
            "conf_low": np.percentile(rep, 2.5, axis=0) if rep is not None and len(rep) > 1 else np.nan,
            "conf_high": np.percentile(rep, 97.5, axis=0) if rep is not None and len(rep) > 1 else np.nan,
            "n_at_risk": at_risk, "n_events": events,
        }))
    return pd.concat(frames, ignore_index=True)


def target_trial(spec: AnalysisSpec, spells: pd.DataFrame, progress=None) -> Result:
    """Run the trial protocol for everyone, each sex and (for everyone) each chapter group.

    Parameters
    ----------
    spec : design 'target_trial' with ``entry_day`` and ``first_trial_day`` resolved.
    spells : one row per spell (see `expand_trials`), covariates as text.

    Returns
    -------
    Result
        ``summary``: risk differences, risk ratios and per-arm cumulative incidence at each
        horizon; ``tables``: 'cif_curves' (per arm on a grid), 'balance' (SMD before/after,
        pooled and per week), 'per_trial' (counts per trial day).
    """
    params: TargetTrialParameters = spec.parameters
    if params.first_trial_day < params.entry_day:
        raise ContractViolation(f"{spec.id}: first_trial_day {params.first_trial_day} is before the entry day "
                                f"{params.entry_day}; trials there would hold immortal time")
    rng = np.random.default_rng(params.seed)
    # categorical covariates: the trials copy them into millions of entries, and factorising
    # them (propensity designs, balance) then costs their codes, not string hashing
    text = [c for c in spells.columns if spells[c].dtype == object and c not in ("end_reason",)]
    spells = spells.assign(**{c: spells[c].astype("category") for c in text})
    rows: list[dict] = []
    curves, balances, per_trials = [], [], []
    bookkeeping: dict[str, Any] = {}
    runs = [(p.subgroup, p.sex, p.sex, p.mask(spells)) for p in populations(params, spells)]
    if params.by_chapter_group:
        chapters = spells["diagnosis_chapter_group"].astype(str)
        for level in present_levels(chapters, level_order("diagnosis_chapter_group")):
            runs.append(("diagnosis_chapter_group", level, "all", chapters.eq(level).to_numpy()))
    for subgroup, level, sex, mask in runs:
        key = f"{sex}/{subgroup}={level}"
        analysis = analyse_trials(spells.loc[mask].reset_index(drop=True), params, rng,
                                  progress=(lambda b, k=key: progress(f"{k}: {b} bootstrap replicates")) if progress else None)
        if analysis is None:
            bookkeeping[key] = "no trial with both arms"
            continue
        r, book = summary_rows(analysis, params, subgroup=subgroup, level=level, sex=sex)
        rows.extend(r)
        bookkeeping[key] = book
        curves.append(curve_rows(analysis, spec.id, subgroup=subgroup, level=level, sex=sex))
        balances.append(analysis.balance.assign(analysis_id=spec.id, sex=sex, subgroup=subgroup, level=level))
        per_trials.append(analysis.per_trial.assign(sex=sex, subgroup=subgroup, level=level))
    diagnostics = {"design": spec.design, "entry_day": params.entry_day, "first_trial_day": params.first_trial_day,
                   "trial_interval_days": params.trial_interval_days, "grace_days": params.grace_days,
                   "n_trial_weeks": params.n_trial_weeks, "bootstrap_replicates": params.bootstrap_replicates,
                   "populations": bookkeeping}
    summary = finish_summary(rows, spec.id, "aalen_johansen_iptw", diagnostics)
    tables = {"cif_curves": pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
              "balance": pd.concat(balances, ignore_index=True) if balances else pd.DataFrame(),
              "per_trial": pd.concat(per_trials, ignore_index=True) if per_trials else pd.DataFrame()}
    return Result(analysis_id=spec.id, method="aalen_johansen_iptw", summary=summary, diagnostics=diagnostics,
                  tables=tables)


__all__ = ["ARMS", "TrialEntries", "analyse_trials", "cumulative_incidence_at", "effective_sample_size",
           "expand_trials", "fit_logistic", "iptw", "outcome_cause", "target_trial",
           "trial_days"]
