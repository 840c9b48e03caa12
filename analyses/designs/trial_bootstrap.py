"""Person-level bootstrap of the emulated trials (step 4 of `trial_emulation`).

1. Resample: persons are drawn with replacement, each carrying all their entries (every trial
   and spell); a replicate is a frequency weight per entry.
2. Refit: the propensity model (pooled over the trial weeks, or of every trial week) is
   re-estimated on the replicate (the replicate's own penalised score equation), by chord
   iterations from the full-sample estimate with the full-sample inverse information, falling
   back to Newton–Raphson with step halving; a refit that does not converge raises
   ConvergenceError (it never hands on an unconverged estimate).
   A per-week model whose drawn entries are all of one arm has no finite estimate and takes its
   limit (propensity 0 or 1 in that week). In the pooled model a week drawn without treated
   only moves its week indicator, which the ridge penalty keeps finite.
3. Weigh: the replicate's analysis weights from the refitted models (`trial_weights`); the
   caller estimates its curves from them.
4. Intervals: bootstrap standard errors and percentile intervals at `CONFIDENCE_LEVEL`
   (`analyses.results`), the percentiles derived from it.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd

from analyses.designs.specs import TargetTrialParameters
from analyses.designs.trial_weights import WeekModel, analysis_weights, base_weights, model_label
from analyses.estimators.logistic import fitted_probability, newton_logistic, ridge_penalty
from analyses.results import CONFIDENCE_LEVEL
from koord.errors import ConvergenceError

REFIT_MAX_STEPS = 50  # chord steps before the Newton fallback, and Newton steps before ConvergenceError
# The last step of every coefficient must be below this: at 1e-6 the replicates' risk
# differences agree with a 1e-8 refit to 1e-9.
REFIT_TOLERANCE = 1e-6


# --- 1. resample ------------------------------------------------------------------------------------


def person_frequencies(person_index: np.ndarray, n_persons: int, rng: np.random.Generator) -> np.ndarray:
    """How often each entry's person is drawn in one replicate (persons resampled with replacement)."""
    counts = np.bincount(rng.integers(0, n_persons, n_persons), minlength=n_persons)
    return counts[person_index].astype(float)


# --- 2. refit ----------------------------------------------------------------------------------------


def refit_models(models: list[WeekModel], y: np.ndarray, base: np.ndarray, params: TargetTrialParameters,
                 update: str, max_steps: int = REFIT_MAX_STEPS, tolerance: float = REFIT_TOLERANCE) -> list[WeekModel]:
    """The propensity models refitted on a bootstrap replicate (frequency weights in ``base``).

    Both updates solve the replicate's own penalised score equation from the full-sample
    estimate. 'chord' iterates beta <- beta + I^-1 U*(beta) with the full-sample inverse
    information I^-1 (the chord method: each step one pass over the sparse design, no new
    information matrix; its first step is the estimating-function bootstrap of Hu & Kalbfleisch
    2000), falling back to Newton–Raphson with step halving (`newton_logistic`) from the
    full-sample estimate if it has not converged in ``max_steps`` steps. 'newton' uses that
    directly. ``tolerance`` bounds the last step of every coefficient.

    A week whose drawn entries are all controls (or all treated) has no finite estimate: the
    unpenalised intercept tends to -inf (+inf), the penalised slopes to 0 and every propensity
    of the week to 0 (1). The refit takes that limit (`_one_arm_limit`) instead of iterating
    towards it (unconverged iterations were once handed on silently), so the week's drawn
    controls weigh (1 - P) / (1 - 0), P the replicate's share treated (its drawn treated
    P / 1). A week with no drawn entry keeps its model, which weighs nobody.

    Raises
    ------
    ConvergenceError
        Neither update converged for a week's model.
    """
    out = []
    for m in models:
        yr, wr = y[m.rows], base[m.rows]
        drawn_treated, drawn_controls = float((wr * yr).sum()), float((wr * (1 - yr)).sum())
        if not drawn_treated or not drawn_controls:
            # one arm only (or no entry) of this week drawn: no finite estimate; the limit, see above
            out.append(m if not drawn_treated and not drawn_controls else
                       WeekModel(m.week, m.rows, m.x, _one_arm_limit(len(m.beta), treated=bool(drawn_treated)),
                                 m.info_inverse))
            continue
        beta, converged = m.beta, False
        if update == "chord":
            penalty = ridge_penalty(len(m.beta), params.ps_ridge)
            for _ in range(max_steps):
                mu = fitted_probability(m.x, beta)
                step = m.info_inverse @ (m.x.T @ (wr * (yr - mu)) - penalty * beta)
                beta = beta + step
                if np.max(np.abs(step)) < tolerance:
                    converged = True
                    break
        if not converged:
            try:
                beta = newton_logistic(m.x, yr, wr, params.ps_ridge, start=m.beta, max_steps=max_steps,
                                       tolerance=tolerance, what=f"bootstrap refit of the propensity model "
                                       f"of {model_label(m.week)}").beta
            except ConvergenceError as error:
                raise ConvergenceError(f"{error} (update {update!r}; rerun with another seed or "
                                       "bootstrap_refit_ps = false)") from None
        out.append(WeekModel(m.week, m.rows, m.x, beta, m.info_inverse))
    return out


def _one_arm_limit(p: int, treated: bool) -> np.ndarray:
    """The coefficients' limit when one arm is empty: intercept ±inf (propensity 1 or 0), slopes 0.

    `fitted_probability` clips the linear predictor, so the propensity is within 1e-15 of 0 or 1.
    """
    beta = np.zeros(p)
    beta[0] = np.inf if treated else -np.inf
    return beta


# --- 3. weigh ----------------------------------------------------------------------------------------


def replicate_weights(models: list[WeekModel], entries: pd.DataFrame, params: TargetTrialParameters,
                      rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The analysis weights of each of ``params.bootstrap_replicates`` replicates, in turn.

    Draws from ``rng`` once per replicate (before its weights are computed), so the replicates
    are reproducible from the seed.
    """
    persons, person_index = np.unique(entries["person_id"].to_numpy(), return_inverse=True)
    treated = entries["treated"].to_numpy()
    for _ in range(params.bootstrap_replicates):
        frequency = person_frequencies(person_index, len(persons), rng)
        base = base_weights(entries, frequency)
        replicate = models
        if params.bootstrap_refit_ps:
            replicate = refit_models(models, treated.astype(float), base, params, params.bootstrap_ps_update)
        weights, _, _ = analysis_weights(replicate, entries, base, params)
        yield weights


# --- 4. intervals ------------------------------------------------------------------------------------


def interval_percentiles(level: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """The percentiles of the bootstrap distribution that bound a ``level`` interval (2.5 and 97.5 at 95 %)."""
    return 100 * (1 - level) / 2, 100 * (1 + level) / 2


def percentile_interval(values: np.ndarray, level: float = CONFIDENCE_LEVEL) -> tuple[float, float, float]:
    """Bootstrap SD and the `interval_percentiles` of the finite replicates (NaN with fewer than two)."""
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan"), float("nan")
    low, high = interval_percentiles(level)
    return float(values.std(ddof=1)), float(np.percentile(values, low)), float(np.percentile(values, high))


def percentile_band(replicates: np.ndarray | None, n_points: int,
                    level: float = CONFIDENCE_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise `interval_percentiles` of replicated curves (replicates × points); NaN with fewer than two."""
    if replicates is None or len(replicates) < 2:
        return np.full(n_points, np.nan), np.full(n_points, np.nan)
    low, high = interval_percentiles(level)
    return np.percentile(replicates, low, axis=0), np.percentile(replicates, high, axis=0)


__all__ = ["REFIT_MAX_STEPS", "REFIT_TOLERANCE", "interval_percentiles", "percentile_band",
           "percentile_interval", "person_frequencies", "refit_models", "replicate_weights"]
