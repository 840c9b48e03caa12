"""Sequential target-trial emulation: start coordination now vs not now, over the first weeks of the spell.

The protocol each emulated trial follows (Hernán & Robins' target trial; Danaei et al. 2013's
sequential trials), in the order `analyse_trials` carries it out:

1. Trials (this module, `expand_trials`). One trial starts on each trial day
   d = first_trial_day + i * trial_interval_days over ``n_trial_weeks`` weeks (default: every
   day from the entry day 14 through day 104, 13 weeks; week k holds days 14 + 7k .. 20 + 7k).
   The first trial day is the entry day because a spell is only in the study if it lasted
   beyond it: before it no return to work can be observed, so a trial starting earlier would
   hold immortal time.
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
     eligible trial entries (the trial-population average effect). Controls are sampled
     (``controls_per_treated`` per treated entry in each trial) and carry the inverse sampling
     fraction as a weight.
2. Confounding (`trial_weights`): a propensity model pooled over the trial weeks, with an
   indicator per week (``ps_model`` 'per_week': one model per week; ridge-penalised logistic
   regression, `analyses.estimators.fit_logistic`, on the baseline confounders and the days
   since spell start at time zero) gives stabilised inverse probability of treatment weights,
   P(treated) / P(treated | X, d) and its complement, truncated at the 1st and 99th
   percentile within arm and trial week.
3. Outcome (`trial_outcome`): return to work with competing events (sickness compensation,
   death, emigration, age 65) by the weighted Aalen–Johansen estimator per arm, pooled over
   trials, at 90, 180 and 365 days after time zero and on the curve grid.
4. Bootstrap (`trial_bootstrap`): persons resampled with all their entries; the propensity
   models refitted in every replicate (chord iterations with the full-sample information,
   Newton–Raphson with step halving as fallback; ConvergenceError if neither converges; a
   week drawn with one arm only takes the limit, propensity 0 or 1).
5. Summary and diagnostics (`trial_outcome`, `trial_weights`): risk differences and risk
   ratios with percentile intervals at `CONFIDENCE_LEVEL`; covariate balance (|SMD| pooled
   over trials, before and after weighting, and per week), equipoise (preference score),
   positivity (overlap of the propensity distributions), minimum detectable risk
   difference, events per arm.
6. Populations (`target_trial`): everyone, each sex and each chapter group, one after the
   other from one random stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analyses.designs._models import finish_summary, populations
from analyses.designs.covariates import level_order, present_levels
from analyses.designs.specs import AnalysisSpec, TargetTrialParameters
from analyses.designs.trial_bootstrap import replicate_weights
from analyses.designs.trial_outcome import (
    ARMS,
    TrialCurves,
    arm_curves,
    curve_rows,
    outcome_cause,
    summary_rows,
)
from analyses.designs.trial_weights import (
    analysis_weights,
    base_weights,
    covariate_balance,
    effective_sample_size,
    week_models,
)
from analyses.results import Result
from koord.errors import ContractViolation


# --- 1. trials -----------------------------------------------------------------------------------


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


# --- 2.-5. one population: weights, outcome, bootstrap, summary figures --------------------------


@dataclass(frozen=True)
class TrialAnalysis:
    """Everything one population's trial gives: entries, weights, curves, bootstrap and balance."""

    entries: pd.DataFrame
    per_trial: pd.DataFrame
    weights: np.ndarray
    ps: np.ndarray
    weight_report: dict[str, float]
    point: TrialCurves
    replicates: list[TrialCurves]
    balance: pd.DataFrame
    horizons: np.ndarray
    grid: np.ndarray


def analyse_trials(spells: pd.DataFrame, params: TargetTrialParameters, rng: np.random.Generator,
                   progress=None) -> TrialAnalysis | None:
    """Expand, weight, estimate and bootstrap the trials of one population (None: no treated).

    Raises ConvergenceError when a propensity model, or its refit in a bootstrap replicate,
    does not converge.
    """
    confounders = tuple(params.confounders)
    covariates = tuple(dict.fromkeys([*confounders, "sex", "diagnosis_chapter_group"]))
    expanded = expand_trials(spells, params, covariates, rng)
    entries = expanded.entries
    if entries.empty or not entries["treated"].any() or entries["treated"].all():
        return None
    confounders = tuple(c for c in confounders if entries[c].nunique() > 1)
    # 2. confounding
    models = week_models(entries, confounders, params)
    weights, report, ps = analysis_weights(models, entries, base_weights(entries, np.ones(len(entries))), params)
    # 3. outcome
    horizons = np.asarray(params.horizons, dtype=np.int64)
    grid = np.arange(0, params.curve_max_day + 1, params.curve_step_days, dtype=np.int64)
    point = arm_curves(entries, weights, horizons, grid)
    # 4. bootstrap
    replicates = []
    for b, w_b in enumerate(replicate_weights(models, entries, params, rng), 1):
        replicates.append(arm_curves(entries, w_b, horizons, grid))
        if progress and b % 50 == 0:
            progress(b)
    # 5. balance and weights' figures (the summary rows are `trial_outcome.summary_rows`)
    balance = covariate_balance(entries, confounders, weights)
    report["effective_sample_size_treated"] = effective_sample_size(weights[entries["treated"].to_numpy()])
    report["effective_sample_size_control"] = effective_sample_size(weights[~entries["treated"].to_numpy()])
    return TrialAnalysis(entries, expanded.per_trial, weights, ps, report, point, replicates, balance, horizons, grid)


# --- 6. every population ---------------------------------------------------------------------------


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
                   "n_trial_weeks": params.n_trial_weeks, "ps_model": params.ps_model,
                   "bootstrap_replicates": params.bootstrap_replicates,
                   "populations": bookkeeping}
    summary = finish_summary(rows, spec.id, "aalen_johansen_iptw", diagnostics)
    tables = {"cif_curves": pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
              "balance": pd.concat(balances, ignore_index=True) if balances else pd.DataFrame(),
              "per_trial": pd.concat(per_trials, ignore_index=True) if per_trials else pd.DataFrame()}
    return Result(analysis_id=spec.id, method="aalen_johansen_iptw", summary=summary, diagnostics=diagnostics,
                  tables=tables)


__all__ = ["ARMS", "TrialAnalysis", "TrialEntries", "analyse_trials", "expand_trials", "outcome_cause",
           "target_trial", "trial_days"]
