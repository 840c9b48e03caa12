"""Design-based estimation for a census attempt with non-response: weighting classes, Taylor variance, tests.

The coordinators' survey invites every member of staff who performs coordination (a census
attempt); those who answer are treated as a simple random sample of the frame within each
weighting class (missing at random within class). So each class is a stratum with

- weight ``w_h = N_h / n_h`` (frame count over respondents in the class),
- the finite-population correction ``1 - n_h / N_h`` on its variance,
- design degrees of freedom ``n - H`` (respondents minus classes).

This is the design R's ``survey`` package builds with
``svydesign(ids = ~1, strata = ~class, fpc = ~N_h, data = d)``; the functions below give the
same numbers as ``svymean``/``svyby``/``svyciprop``/``svychisq(statistic = "F")`` on it, and
the tests check them against hand arithmetic. The variance code is written here with numpy and
scipy because samplics (the maintained Python survey library) is not installable in this
environment and statsmodels has no stratified design-based variance with an FPC; the formulas
are the textbook ones (Wolter 2007, ch. 6; Lohr 2022, ch. 9; Korn & Graubard 1998; Rao & Scott
1984; Feldt 1965).

Without a frame (`AntalIUrval` not delivered) the caller gives ``population=None``: every
weight is 1 and no FPC is applied (respondents taken as the whole class, variance as for a
sample from a large population).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
MIN_CLASS_RESPONDENTS = 20
KORN_GRAUBARD_MAX_N_EFF = 60  # below this effective n, Korn-Graubard instead of the logit interval
KORN_GRAUBARD_P_EDGE = 0.1  # or when the share is below 0.1 or above 0.9


# --- weighting classes --------------------------------------------------------------------------


def collapse_classes(cells: pd.DataFrame, group_order: Sequence[str], level_order: Sequence[str],
                     min_respondents: int = MIN_CLASS_RESPONDENTS) -> pd.DataFrame:
    """Weighting classes from region group x care level cells, collapsing small ones.

    Parameters
    ----------
    cells : one row per (``region_group``, ``care_level``) with ``n_respondents``.
    group_order, level_order : the neighbour order of region groups and care levels.
    min_respondents : a class with fewer respondents is merged.

    Rule. Within each region group the classes are runs of neighbouring care levels (in
    ``level_order``); while a group has more than one class and one of them is below the
    minimum, the smallest such class is merged into its smaller neighbouring run. A region
    group that is then still one class below the minimum (the whole group has too few
    respondents) is merged with the neighbouring region group in ``group_order`` (the next
    one, the last one with the previous), care level by care level, and the rule is applied
    again. Ties go to the earlier group and level.

    Returns the cells with ``weighting_class`` (a label ``group+group:level+level``) added.
    """
    out = cells.copy().reset_index(drop=True)
    size = {(r.region_group, r.care_level): int(r.n_respondents) for r in out.itertuples()}
    blocks = [((g,), [[lv] for lv in level_order if (g, lv) in size]) for g in group_order
              if any((g, lv) in size for lv in level_order)]

    def n_run(groups, run):
        return sum(size.get((g, lv), 0) for g in groups for lv in run)

    while True:
        for groups, runs in blocks:
            while len(runs) > 1:
                ns = [n_run(groups, r) for r in runs]
                small = [i for i, k in enumerate(ns) if k < min_respondents]
                if not small:
                    break
                i = min(small, key=lambda i: (ns[i], i))
                neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(runs)]
                j = min(neighbours, key=lambda j: (ns[j], j))
                a, b = sorted((i, j))
                runs[a:b + 1] = [runs[a] + runs[b]]
        small_blocks = [k for k, (groups, runs) in enumerate(blocks)
                        if len(runs) == 1 and n_run(groups, runs[0]) < min_respondents]
        if not small_blocks or len(blocks) == 1:
            break
        k = small_blocks[0]
        j = k + 1 if k + 1 < len(blocks) else k - 1
        a, b = sorted((k, j))
        groups = blocks[a][0] + blocks[b][0]
        levels = [lv for lv in level_order if any((g, lv) in size for g in groups)]
        blocks[a:b + 1] = [(groups, [[lv] for lv in levels])]

    name = {}
    for groups, runs in blocks:
        for run in runs:
            label = "+".join(groups) + ":" + "+".join(run)
            for g in groups:
                for lv in run:
                    name[(g, lv)] = label
    out["weighting_class"] = [name[(r.region_group, r.care_level)] for r in out.itertuples()]
    return out


def class_weights(n_respondents: np.ndarray, population: np.ndarray | None) -> np.ndarray:
    """Weight of a respondent per class: frame count / respondents (1 without a frame)."""
    n_respondents = np.asarray(n_respondents, float)
    if population is None:
        return np.ones_like(n_respondents)
    population = np.asarray(population, float)
    if np.any(population < n_respondents):
        raise ValueError("a class has more respondents than its frame count")
    return population / n_respondents


def kish_effective_n(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2."""
    w = np.asarray(weights, float)
    return float(w.sum() ** 2 / np.sum(w ** 2)) if len(w) else 0.0


# --- the design -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StratifiedDesign:
    """Respondents as a stratified simple random sample (one stratum per weighting class).

    stratum : class label per respondent.
    population : the class's frame count N_h per respondent, or None (no frame: weight 1, no FPC).
    """

    stratum: np.ndarray
    population: np.ndarray | None = None

    def __post_init__(self) -> None:
        s = np.asarray(self.stratum)
        codes, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
        object.__setattr__(self, "_codes", inverse)
        object.__setattr__(self, "_n_h", counts)
        if self.population is not None:
            pop = np.asarray(self.population, float)
            N_h = np.array([pop[inverse == h][0] for h in range(len(codes))])
            if np.any(N_h < counts):
                raise ValueError("a stratum has more respondents than its frame count")
            object.__setattr__(self, "_N_h", N_h)
        else:
            object.__setattr__(self, "_N_h", None)

    @property
    def n(self) -> int:
        return int(len(self._codes))

    @property
    def n_strata(self) -> int:
        return int(len(self._n_h))

    @property
    def df(self) -> int:
        """Design degrees of freedom: respondents minus strata."""
        return self.n - self.n_strata

    @property
    def weights(self) -> np.ndarray:
        if self._N_h is None:
            return np.ones(self.n)
        return (self._N_h / self._n_h)[self._codes]

    @property
    def fpc(self) -> np.ndarray:
        """1 - n_h / N_h per stratum (1 without a frame)."""
        if self._N_h is None:
            return np.ones(self.n_strata)
        return 1.0 - self._n_h / self._N_h

    def total_variance(self, z: np.ndarray) -> float:
        """Variance of the weighted total of a linearised variable ``z`` (already weighted):
        sum_h (1 - f_h) n_h / (n_h - 1) sum_i (z_i - zbar_h)^2; strata of one respondent add 0."""
        z = np.asarray(z, float)
        H = self.n_strata
        sums = np.bincount(self._codes, weights=z, minlength=H)
        means = sums / self._n_h
        ss = np.bincount(self._codes, weights=(z - means[self._codes]) ** 2, minlength=H)
        factor = np.where(self._n_h > 1, self._n_h / np.maximum(self._n_h - 1, 1), 0.0)
        return float(np.sum(self.fpc * factor * ss))

    def covariance(self, Z: np.ndarray) -> np.ndarray:
        """Covariance matrix of the weighted totals of the columns of ``Z`` (already weighted)."""
        Z = np.asarray(Z, float)
        H = self.n_strata
        means = np.vstack([np.bincount(self._codes, weights=Z[:, j], minlength=H) for j in range(Z.shape[1])]).T / self._n_h[:, None]
        D = Z - means[self._codes]
        factor = np.where(self._n_h > 1, self._n_h / np.maximum(self._n_h - 1, 1), 0.0) * self.fpc
        return (D * factor[self._codes][:, None]).T @ D


@dataclass(frozen=True)
class Estimate:
    """A weighted mean or share over a domain with its linearised standard error."""

    estimate: float
    std_error: float
    n: int  # respondents in the domain
    n_effective: float  # design-effective n: p(1 - p) / var for shares, s^2 / var for means
    weighted_n: float  # sum of weights in the domain (estimated frame count)
    df: int  # design degrees of freedom


def weighted_mean(design: StratifiedDesign, y: np.ndarray, domain: np.ndarray | None = None) -> Estimate:
    """Weighted (ratio) mean of ``y`` over ``domain`` with Taylor-linearised variance.

    ``domain`` is a boolean mask (rows outside it, or with y NaN, contribute 0 to the
    linearised variable but keep their stratum: the domain size is random). The linearised
    variable is z_i = w_i d_i (y_i - ybar) / sum(w d).
    """
    y = np.asarray(y, float)
    d = np.ones(design.n, bool) if domain is None else np.asarray(domain, bool).copy()
    d &= ~np.isnan(y)
    w = design.weights
    wd = np.where(d, w, 0.0)
    total_w = wd.sum()
    n = int(d.sum())
    if n == 0:
        return Estimate(np.nan, np.nan, 0, 0.0, 0.0, design.df)
    yd = np.where(d, y, 0.0)
    mean = float(np.sum(wd * yd) / total_w)
    z = wd * (yd - mean) / total_w
    var = design.total_variance(z)
    se = float(np.sqrt(var))
    # element variance of y in the domain (weighted), for the design-effective n
    s2 = float(np.sum(wd * (yd - mean) ** 2) / total_w) * (n / (n - 1) if n > 1 else 1.0)
    n_eff = s2 / var if var > 0 else float(n)
    return Estimate(mean, se, n, float(n_eff), float(total_w), design.df)


# --- intervals for shares -------------------------------------------------------------------------


def logit_interval(p: float, se: float, df: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """CI of a share on the logit scale (R: svyciprop(method = "logit")): logit(p) +- t_df se / (p (1 - p))."""
    if not 0 < p < 1 or not np.isfinite(se):
        return (np.nan, np.nan)
    t = stats.t.ppf(0.5 + confidence / 2, df)
    eta = np.log(p / (1 - p))
    half = t * se / (p * (1 - p))
    lo, hi = eta - half, eta + half
    return (float(1 / (1 + np.exp(-lo))), float(1 / (1 + np.exp(-hi))))


def korn_graubard_interval(p: float, se: float, n: int, df: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Korn-Graubard (1998) CI: Clopper-Pearson at the effective n, adjusted to the design df.

    n_eff = p (1 - p) / se^2 (the respondent count n when the variance is 0 or p is 0 or 1),
    capped at n; then n* = n_eff (t_{n-1} / t_df)^2 and x* = p n*, and the Clopper-Pearson
    limits Beta(a/2; x*, n* - x* + 1), Beta(1 - a/2; x* + 1, n* - x*). (R: svyciprop(method =
    "beta") computes the same with n_eff from the design effect.)
    """
    alpha = 1 - confidence
    if n <= 0 or not np.isfinite(p):
        return (np.nan, np.nan)
    n_eff = p * (1 - p) / se ** 2 if (0 < p < 1 and se > 0) else float(n)
    n_eff = min(n_eff, float(n))
    if n > 1 and df > 0:
        n_eff *= (stats.t.ppf(1 - alpha / 2, n - 1) / stats.t.ppf(1 - alpha / 2, df)) ** 2
    x = p * n_eff
    lo = 0.0 if x <= 0 else float(stats.beta.ppf(alpha / 2, x, n_eff - x + 1))
    hi = 1.0 if x >= n_eff else float(stats.beta.ppf(1 - alpha / 2, x + 1, n_eff - x))
    return (lo, hi)


def share_interval(est: Estimate, confidence: float = CONFIDENCE,
                   max_n_eff: float = KORN_GRAUBARD_MAX_N_EFF) -> tuple[float, float, str]:
    """The CI of a share and its method: Korn-Graubard for small domains (effective n below
    ``max_n_eff``, or the share below `KORN_GRAUBARD_P_EDGE` or above 1 minus it),
    else the logit interval."""
    p = est.estimate
    if not np.isfinite(p):
        return (np.nan, np.nan, "none")
    if est.n_effective < max_n_eff or p < KORN_GRAUBARD_P_EDGE or p > 1 - KORN_GRAUBARD_P_EDGE:
        return (*korn_graubard_interval(p, est.std_error, est.n, est.df, confidence), "korn_graubard")
    return (*logit_interval(p, est.std_error, est.df, confidence), "logit")


def mean_interval(est: Estimate, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """t interval of a mean with the design df."""
    t = stats.t.ppf(0.5 + confidence / 2, max(est.df, 1))
    return (est.estimate - t * est.std_error, est.estimate + t * est.std_error)


# --- reliability ---------------------------------------------------------------------------------


def cronbach_alpha(items: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float, int]:
    """Cronbach's alpha of the columns of ``items`` (complete rows only) with Feldt's (1965) CI.

    alpha = k / (k - 1) (1 - sum var_j / var(sum)), sample variances (ddof 1). Feldt:
    1 - (1 - alpha) F_{1-a/2}(n - 1, (n - 1)(k - 1)) and 1 - (1 - alpha) F_{a/2}(...).
    Returns (alpha, low, high, n complete rows). Unweighted: reliability of the index among
    those who answered every item.
    """
    X = np.asarray(items, float)
    X = X[~np.isnan(X).any(axis=1)]
    n, k = X.shape
    if n < 3 or k < 2:
        return (np.nan, np.nan, np.nan, int(n))
    item_var = X.var(axis=0, ddof=1).sum()
    total_var = X.sum(axis=1).var(ddof=1)
    alpha = float(k / (k - 1) * (1 - item_var / total_var)) if total_var > 0 else np.nan
    a = 1 - confidence
    d1, d2 = n - 1, (n - 1) * (k - 1)
    lo = 1 - (1 - alpha) * stats.f.ppf(1 - a / 2, d1, d2)
    hi = 1 - (1 - alpha) * stats.f.ppf(a / 2, d1, d2)
    return (alpha, float(lo), float(hi), int(n))


# --- Rao-Scott ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RaoScott:
    """Second-order Rao-Scott test of independence in a groups x categories table, F form."""

    pearson: float  # Pearson X^2 of the weighted table scaled to the respondent count
    f_statistic: float  # X^2 / sum of the generalised design effects
    ndf: float
    ddf: float
    p_value: float
    mean_design_effect: float
    n: int


def rao_scott_test(design: StratifiedDesign, group: np.ndarray, category: np.ndarray,
                   domain: np.ndarray | None = None) -> RaoScott:
    """Rao-Scott second-order corrected test of group x category independence (R: svychisq(statistic = "F")).

    The cell shares p (weighted, over the domain), their linearised covariance V, and the
    interaction contrasts C (the residual of the full model matrix on the main effects):
    Delta = (C' D^{-1} C / n)^{-1} (C' D^{-1} V D^{-1} C) with D = diag(p); Pearson X^2 on the
    weighted table scaled to n respondents; F = X^2 / tr(Delta) on d0 = tr(Delta)^2 / tr(Delta^2)
    and d0 * (design df) degrees of freedom.
    """
    g = np.asarray(group).astype(str)
    c = np.asarray(category).astype(str)
    d = np.ones(design.n, bool) if domain is None else np.asarray(domain, bool)
    rows = sorted(set(g[d]))
    cols = sorted(set(c[d]))
    nr, nc = len(rows), len(cols)
    n = int(d.sum())
    if nr < 2 or nc < 2:
        return RaoScott(np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, n)
    # cell indicators in column-major order (rows vary fastest), as expand.grid
    cells = [(r, k) for k in cols for r in rows]
    w = np.where(d, design.weights, 0.0)
    W = w.sum()
    I = np.column_stack([((g == r) & (c == k) & d).astype(float) for r, k in cells])
    p = (w[:, None] * I).sum(axis=0) / W
    Z = w[:, None] * (I - p[None, :]) / W
    V = design.covariance(Z)
    ri = np.array([rows.index(r) for r, _ in cells])
    ki = np.array([cols.index(k) for _, k in cells])
    X1 = np.column_stack([np.ones(len(cells))] + [(ri == j).astype(float) for j in range(1, nr)]
                         + [(ki == j).astype(float) for j in range(1, nc)])
    inter = np.column_stack([((ri == a) & (ki == b)).astype(float) for b in range(1, nc) for a in range(1, nr)])
    beta, *_ = np.linalg.lstsq(X1, inter, rcond=None)
    C = inter - X1 @ beta
    iD = np.diag(np.where(p > 0, 1 / np.where(p > 0, p, 1), 0.0))
    denom = C.T @ (iD / n) @ C
    numr = C.T @ iD @ V @ iD @ C
    Delta = np.linalg.solve(denom, numr)
    tr = float(np.trace(Delta))
    d0 = tr ** 2 / float(np.trace(Delta @ Delta))
    table = (p * n).reshape(nc, nr).T  # groups x categories
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    pearson = float(np.sum((table - expected) ** 2 / np.where(expected > 0, expected, np.inf)))
    f = pearson / tr
    ddf = d0 * design.df
    return RaoScott(pearson, float(f), float(d0), float(ddf), float(stats.f.sf(f, d0, ddf)),
                    tr / ((nr - 1) * (nc - 1)), n)


__all__ = [
    "Estimate", "RaoScott", "StratifiedDesign", "class_weights", "collapse_classes", "cronbach_alpha",
    "kish_effective_n", "korn_graubard_interval", "logit_interval", "mean_interval", "rao_scott_test",
    "share_interval", "weighted_mean",
]
