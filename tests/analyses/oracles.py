"""Slow, plainly written versions of fast code, kept as oracles the fast code must match.

- `dense_standardised_mean_differences`: the SMD of every column of a dense rows × columns
  matrix, once `analyses.designs.diagnostics.standardised_mean_differences`; the analyses use
  `diagnostics.level_smd` and `diagnostics.numeric_smd`, which get the same numbers from
  weighted counts per group without building the matrix.

(The other oracle of the trial code, `analyses.estimators.fit_aalen_johansen`, stays an
estimator of its own: tests hold the fast `cumulative_incidence_at` to it.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _weighted_mean_var(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = w.sum()
    mean = (w[:, None] * x).sum(axis=0) / total
    var = (w[:, None] * (x - mean) ** 2).sum(axis=0) / total
    return mean, var


def dense_standardised_mean_differences(x: pd.DataFrame | np.ndarray, treated: np.ndarray,
                                        weights: np.ndarray | None = None,
                                        base_weights: np.ndarray | None = None) -> np.ndarray:
    """SMD per column: (mean treated - mean control) / sqrt((var treated + var control) / 2).

    Means use ``weights``; the denominator uses ``base_weights`` (the population before
    weighting, as cobalt and CohortMethod do), so that before and after are on one scale.
    A column constant in both arms has SMD 0; an empty arm gives NaN.
    """
    values = np.asarray(x, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    t = np.asarray(treated, dtype=bool)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float)
    b = w if base_weights is None else np.asarray(base_weights, dtype=float)
    if not t.any() or t.all():
        return np.full(values.shape[1], np.nan)
    mean_t, _ = _weighted_mean_var(values[t], w[t])
    mean_c, _ = _weighted_mean_var(values[~t], w[~t])
    _, var_t = _weighted_mean_var(values[t], b[t])
    _, var_c = _weighted_mean_var(values[~t], b[~t])
    sd = np.sqrt((var_t + var_c) / 2)
    diff = mean_t - mean_c
    with np.errstate(divide="ignore", invalid="ignore"):
        smd = np.where(sd > 0, diff / sd, np.where(np.abs(diff) > 0, np.inf, 0.0))
    return smd
