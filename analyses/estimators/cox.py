"""Cox proportional-hazards regression on (start, stop] rows: Newton–Raphson in numpy, R's conventions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.linalg
from scipy import stats

from analyses.estimators._common import (
    as_tuple,
    check,
    numeric_column,
    raise_if,
    require_columns,
    spec_name,
    unique_names,
)
from analyses.results import Result, coefficient_rows, make_summary
from koord.errors import ContractViolation, ConvergenceError

TIES = ("efron", "breslow")

# A coefficient this many standard deviations of its covariate from zero (a hazard ratio of
# e^10 = 22 000 per SD) only arises when the partial likelihood has no maximum (monotone likelihood).
_DIVERGED_BETA_TIMES_SD = 10.0


@dataclass(frozen=True)
class CoxSpec:
    """What to fit with :func:`fit_cox`.

    Parameters
    ----------
    stop : str
        Column with the end of each row's interval (time of event or censoring).
    event : str
        Column with 1 (event at ``stop``) or 0 (censored or the row continues).
    covariates : tuple of str
        Numeric covariate columns (callers build indicator columns for categories).
    start : str, optional
        Column with the start of each row's interval, for counting-process (start, stop] rows
        (time-varying covariates, left truncation). A row is at risk at t if start < t <= stop,
        as in R's ``coxph``. None: every row is at risk from time -inf.
    strata : tuple of str
        Columns whose combinations get separate baseline hazards.
    weights : str, optional
        Non-negative case weights. Rows of weight 0 are dropped and counted
        (``diagnostics['n_rows_zero_weight']``). Integer weights equal replicated rows under
        Breslow ties; Efron's correction counts tied event rows, not weights, as R's does.
    cluster : str, optional
        Column identifying the person (or other cluster); gives the robust sandwich SE from
        summed dfbeta residuals, as R's ``coxph(..., cluster = id)``.
    ties : {'efron', 'breslow'}
        Handling of tied event times.
    analysis_id : str
        Written on every summary row.
    max_iter : int
        Newton–Raphson iterations before giving up with ConvergenceError.
    """

    stop: str
    event: str
    covariates: tuple[str, ...]
    start: str | None = None
    strata: tuple[str, ...] = ()
    weights: str | None = None
    cluster: str | None = None
    ties: str = "efron"
    analysis_id: str = "cox"
    max_iter: int = 30

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", as_tuple(self.covariates))
        object.__setattr__(self, "strata", as_tuple(self.strata))
        if not self.covariates:
            raise ContractViolation("CoxSpec: at least one covariate is needed")
        unique_names(self.covariates, "covariates", "CoxSpec")
        if self.ties not in TIES:
            raise ContractViolation(f"CoxSpec: ties={self.ties!r}; expected one of {TIES}")


@dataclass(frozen=True, eq=False)
class CoxResult(Result):
    """Result of :func:`fit_cox` with the fitted model's numbers on the log-hazard scale.

    Attributes
    ----------
    coef : pandas.Series
        Log hazard ratios by covariate.
    se : pandas.Series
        Model-based standard errors (inverse information).
    robust_se : pandas.Series or None
        Cluster-robust standard errors (None without ``cluster``).
    loglik : float
        Log partial likelihood at the estimate.
    vcov : pandas.DataFrame
        The variance matrix behind ``summary['std_error']``: robust with a cluster, else model-based.
    """

    coef: pd.Series = field(kw_only=True)
    se: pd.Series = field(kw_only=True)
    robust_se: pd.Series | None = field(kw_only=True)
    loglik: float = field(kw_only=True)
    vcov: pd.DataFrame = field(kw_only=True)


# ---------------------------------------------------------------------------------------------
# The risk-set structure: every row's range of event times, found by sorting once.
# Covariates are held transposed (p × n, C order) so every pass over the rows is contiguous.
# ---------------------------------------------------------------------------------------------


@dataclass
class _RiskSets:
    """Rows and distinct (stratum, event time) pairs, indexed e = 0..E-1 in sorted order.

    Row i is at risk at the event times e with ``lo[i] <= e < hi[i]``; an event row's own
    event time is ``hi[i] - 1``.
    """

    n_event_times: int
    lo: np.ndarray  # (n,) int
    hi: np.ndarray  # (n,) int
    hi_and_death: np.ndarray  # (n,) 2 * hi + is_death: one bincount gives leaving and death sums
    death_rows: np.ndarray  # indexes of event rows
    death_time: np.ndarray  # their event-time index
    has_entry: bool  # False: no start column, every row at risk from the first event time


def build_risk_sets(
    stop: np.ndarray, event: np.ndarray, start: np.ndarray | None, stratum: np.ndarray
) -> _RiskSets:
    """Index the risk sets of counting-process rows (start, stop] within strata."""
    n = len(stop)
    if start is None:
        times, inverse = np.unique(stop, return_inverse=True)
        stop_rank = inverse.astype(np.int64) + 1
        start_rank = np.zeros(n, dtype=np.int64)  # below every time
    else:
        times, inverse = np.unique(np.concatenate([start, stop]), return_inverse=True)
        start_rank = inverse[:n].astype(np.int64) + 1
        stop_rank = inverse[n:].astype(np.int64) + 1
    block = len(times) + 2
    stop_key = stratum * block + stop_rank
    start_key = stratum * block + start_rank
    is_death = event > 0
    event_keys = np.unique(stop_key[is_death])
    # at risk at event key k if start_key < k <= stop_key (same stratum block by construction)
    lo = np.searchsorted(event_keys, start_key, side="right")
    hi = np.searchsorted(event_keys, stop_key, side="right")
    death_rows = np.flatnonzero(is_death)
    has_entry = start is not None or bool(stratum.any())
    return _RiskSets(len(event_keys), lo, hi, 2 * hi + is_death, death_rows, hi[death_rows] - 1, has_entry)


def _bincount_rows(index: np.ndarray, rows: np.ndarray, length: int) -> np.ndarray:
    """For each row r of ``rows`` (q × m): sums of r by ``index`` -> (length × q)."""
    return np.stack([np.bincount(index, weights=r, minlength=length) for r in rows], axis=1)


def _reverse_cumsum(values: np.ndarray) -> np.ndarray:
    return np.cumsum(values[::-1], axis=0)[::-1]


def _at_risk_and_death_sums(rs: _RiskSets, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``rows`` (q × n) over each event time's risk set and over its deaths -> 2 × (E × q).

    Rows at risk at e are those with hi > e minus those with lo > e; the sums run from the last
    time backwards so that small late risk sets carry no rounding from large early ones.
    """
    n_times = rs.n_event_times
    by_exit = _bincount_rows(rs.hi_and_death, rows, 2 * (n_times + 1))
    leaving = by_exit[0::2] + by_exit[1::2]  # rows by hi
    deaths = by_exit[1::2][1:]  # event rows by hi, i.e. by their event time hi - 1
    at_risk = _reverse_cumsum(leaving)[1:]
    if rs.has_entry:
        at_risk -= _reverse_cumsum(_bincount_rows(rs.lo, rows, n_times + 1))[1:]
    return at_risk, deaths


# ---------------------------------------------------------------------------------------------
# Partial likelihood, score and information in one pass
# ---------------------------------------------------------------------------------------------


@dataclass
class _Tied:
    """Tied deaths at each event time, split into pseudo-deaths (Efron) or kept whole (Breslow).

    With d tied deaths Efron's k-th pseudo-death (k = 0..d-1) sees the risk set less k/d of
    the deaths' weight. Only scalars are kept per pseudo-death; covariate sums stay per event
    time, so ties cost O(deaths) rather than O(deaths × p).
    """

    time_of_pseudo: np.ndarray  # (K,) event-time index of each pseudo-death
    fraction: np.ndarray  # (K,) k/d (0 for Breslow)
    n_pseudo: np.ndarray  # (E,) pseudo-deaths per event time
    mean_weight: np.ndarray  # (E,) death weight carried by each pseudo-death


def _tied(risk_sets: _RiskSets, weights: np.ndarray, ties: str) -> _Tied:
    n_times = risk_sets.n_event_times
    n_deaths = np.bincount(risk_sets.death_time, minlength=n_times)
    death_weight = np.bincount(risk_sets.death_time, weights=weights[risk_sets.death_rows], minlength=n_times)
    n_pseudo = n_deaths if ties == "efron" else np.ones(n_times, dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(n_pseudo)[:-1]])
    time_of_pseudo = np.repeat(np.arange(n_times), n_pseudo)
    k = np.arange(len(time_of_pseudo)) - first[time_of_pseudo]
    fraction = k / n_pseudo[time_of_pseudo]
    return _Tied(time_of_pseudo, fraction, n_pseudo, death_weight / n_pseudo)


@dataclass
class _Fit:
    loglik: float
    score: np.ndarray | None
    information: np.ndarray | None
    # per event time, kept for the score residuals
    risk: np.ndarray | None = None
    s1: np.ndarray | None = None  # (E, p) weighted covariate sums over the risk set
    d1: np.ndarray | None = None  # (E, p) the same over the deaths
    inv: np.ndarray | None = None  # (E, 5): sums over pseudo-deaths of 1/D, f/D, 1/D^2, f/D^2, f^2/D^2


class _CoxProblem:
    """Data, risk sets and work buffers for repeated evaluation at different beta."""

    def __init__(self, xt: np.ndarray, weights: np.ndarray, rs: _RiskSets, tied: _Tied) -> None:
        self.xt, self.weights, self.rs, self.tied = xt, weights, rs, tied
        p, n = xt.shape
        self.z = np.empty((p + 1, n))  # [w r; w r x] for the risk-set sums
        self.scaled = np.empty((p, n))  # sqrt(w r H) x for the information
        self.death_x_sum = xt[:, rs.death_rows] @ weights[rs.death_rows]

    def evaluate(self, beta: np.ndarray) -> _Fit:
        xt, w, rs, tied = self.xt, self.weights, self.rs, self.tied
        eta = beta @ xt
        risk = np.exp(eta)
        z = self.z
        np.multiply(w, risk, out=z[0])
        np.multiply(xt, z[0], out=z[1:])
        at_risk, death_sums = _at_risk_and_death_sums(rs, z)  # (E, 1+p): S0, S1 and D0, D1
        deaths = rs.death_rows
        e, f = tied.time_of_pseudo, tied.fraction
        denom = at_risk[e, 0] - f * death_sums[e, 0]
        mean_weight = tied.mean_weight
        loglik = float(w[deaths] @ eta[deaths] - tied.mean_weight[e] @ np.log(denom))
        n_times = rs.n_event_times
        inv = np.column_stack([
            np.bincount(e, weights=v, minlength=n_times)
            for v in (1 / denom, f / denom, denom ** -2.0, f / denom ** 2, f ** 2 / denom ** 2)
        ])
        a, b, c0, c1, c2 = inv.T
        s1, d1 = at_risk[:, 1:], death_sums[:, 1:]
        score = self.death_x_sum - (mean_weight * a) @ s1 + (mean_weight * b) @ d1
        # S2 part: sum_i w_i r_i x_i x_i' times the hazard over i's risk interval, less the
        # Efron share a death does not get at its own time.
        cumhaz = np.concatenate([[0.0], np.cumsum(mean_weight * a)])
        row_hazard = cumhaz[rs.hi] - cumhaz[rs.lo]
        row_hazard[deaths] -= (mean_weight * b)[rs.death_time]
        np.multiply(xt, np.sqrt(z[0] * row_hazard), out=self.scaled)
        s2_part = _crossprod(self.scaled)
        # sum over pseudo-deaths of meanwt * xbar_k xbar_k', xbar_k = (S1 - f D1) / (S0 - f D0)
        cross = (s1 * (mean_weight * c1)[:, None]).T @ d1
        outer = (s1 * (mean_weight * c0)[:, None]).T @ s1 - cross - cross.T \
            + (d1 * (mean_weight * c2)[:, None]).T @ d1
        return _Fit(loglik, score, s2_part - outer, risk, s1, d1, inv)


def _crossprod(at: np.ndarray) -> np.ndarray:
    """at @ at.T for a (p × n) C-ordered array through BLAS syrk, without copying it."""
    upper = scipy.linalg.blas.dsyrk(1.0, at.T, trans=1)
    return np.triu(upper) + np.triu(upper, 1).T


def _score_residuals(problem: _CoxProblem, fit: _Fit) -> np.ndarray:
    """Per-row score residuals as R's agscore3: integral of (x_i - xbar(t)) dM_i(t) -> (p × n).

    Written into the problem's work buffer (no further evaluation may follow).
    """
    xt, rs, tied = problem.xt, problem.rs, problem.tied
    a, b, c0, c1, c2 = fit.inv.T
    mw = tied.mean_weight
    s1, d1 = fit.s1, fit.d1
    hazard_at = mw * a  # sum_k h_k
    x_hazard_at = mw[:, None] * (s1 * c0[:, None] - d1 * c1[:, None])  # sum_k h_k xbar_k
    efron_hazard = mw * b  # sum_k h_k f_k
    efron_x_hazard = mw[:, None] * (s1 * c1[:, None] - d1 * c2[:, None])  # sum_k h_k f_k xbar_k
    mean_xbar = (s1 * a[:, None] - d1 * b[:, None]) / tied.n_pseudo[:, None]
    cumhaz = np.concatenate([[0.0], np.cumsum(hazard_at)])
    cum_x_hazard = np.hstack([np.zeros((xt.shape[0], 1)), np.cumsum(x_hazard_at, axis=0).T])  # (p, E+1)
    risk = fit.risk
    deaths, t = rs.death_rows, rs.death_time
    resid = problem.scaled
    np.multiply(xt, cumhaz[rs.hi] - cumhaz[rs.lo], out=resid)
    for j in range(xt.shape[0]):  # one contiguous row per covariate; p is small
        resid[j] -= cum_x_hazard[j][rs.hi] - cum_x_hazard[j][rs.lo]
        resid[j] *= -risk
        # deaths: + (x_i - mean xbar over the pseudo-deaths) and back the hazard share they skip
        x_dead = xt[j, deaths]
        resid[j, deaths] += (x_dead - mean_xbar[t, j]) + risk[deaths] * (
            x_dead * efron_hazard[t] - efron_x_hazard[t, j]
        )
    return resid


# ---------------------------------------------------------------------------------------------
# Newton–Raphson
# ---------------------------------------------------------------------------------------------


def _solve(information: np.ndarray, score: np.ndarray, names: tuple[str, ...], what: str) -> np.ndarray:
    try:
        factor = scipy.linalg.cho_factor(information)
    except np.linalg.LinAlgError:
        raise ConvergenceError(
            f"{what}: the information matrix is not positive definite; the covariates "
            f"{', '.join(names)} are collinear, or one has no variation among those at risk at "
            "the event times"
        ) from None
    return scipy.linalg.cho_solve(factor, score)


def newton_raphson(evaluate, p: int, names: tuple[str, ...], max_iter: int, x_sd: np.ndarray,
                   what: str = "Cox model"):
    """Maximise a log partial likelihood from beta = 0 by Newton–Raphson with step halving.

    Converged when every coefficient moves by less than 1e-9 × max(1, |beta|): Newton's
    quadratic convergence reaches that in a few steps, far tighter than R's relative
    log-likelihood criterion. A coefficient that keeps growing (monotone likelihood) is
    reported by name.

    Returns
    -------
    beta, fit, n_iter, loglik_null
    """
    beta = np.zeros(p)
    fit = evaluate(beta)
    loglik_null = fit.loglik
    names_array = np.asarray(names)
    for iteration in range(1, max_iter + 1):
        step = _solve(fit.information, fit.score, names, what)
        candidate = evaluate(beta + step)
        halvings = 0
        while not np.isfinite(candidate.loglik) or candidate.loglik < fit.loglik - 1e-12 * abs(fit.loglik):
            halvings += 1
            if halvings > 40:
                raise ConvergenceError(f"{what}: step halving failed to increase the likelihood")
            step = step / 2
            candidate = evaluate(beta + step)
        beta, fit = beta + step, candidate
        diverged = np.abs(beta) * x_sd > _DIVERGED_BETA_TIMES_SD
        if diverged.any():
            raise ConvergenceError(
                f"{what}: the coefficient of {', '.join(names_array[diverged])} grows without bound "
                "(monotone likelihood: the covariate separates events from non-events in the risk "
                "sets, e.g. a level with no events); drop or merge that covariate's levels"
            )
        if np.all(np.abs(step) <= 1e-9 * np.maximum(1.0, np.abs(beta))):
            return beta, fit, iteration, loglik_null
    moving = names_array[np.argsort(-np.abs(step))[:3]]
    raise ConvergenceError(
        f"{what}: no convergence in {max_iter} Newton–Raphson iterations; the coefficients still "
        f"moving most: {', '.join(moving)} (a coefficient growing without bound means the "
        "covariate separates events from non-events)"
    )


# ---------------------------------------------------------------------------------------------
# Public estimator
# ---------------------------------------------------------------------------------------------


def _prepare(data: pd.DataFrame, spec: CoxSpec):
    require_columns(
        data,
        spec,
        {
            "stop": [spec.stop],
            "event": [spec.event],
            "covariates": spec.covariates,
            "start": [spec.start],
            "strata": spec.strata,
            "weights": [spec.weights],
            "cluster": [spec.cluster],
        },
    )
    errors: list[str] = []
    stop = numeric_column(data, spec.stop, "stop", errors)
    event = numeric_column(data, spec.event, "event", errors)
    xt = np.empty((len(spec.covariates), len(data)))  # transposed: one contiguous row per covariate
    for j, column in enumerate(spec.covariates):
        xt[j] = numeric_column(data, column, "covariate", errors)
    start = numeric_column(data, spec.start, "start", errors) if spec.start else None
    weights = numeric_column(data, spec.weights, "weights", errors) if spec.weights else np.ones(len(data))
    check(~np.isin(event, (0.0, 1.0)) & np.isfinite(event), f"event column {spec.event!r} must be 0 or 1", data, errors)
    if start is not None:
        check(stop <= start, f"stop ({spec.stop!r}) must be after start ({spec.start!r})", data, errors)
    check(weights < 0, f"weights column {spec.weights!r} must be non-negative", data, errors)
    for column in spec.strata + ((spec.cluster,) if spec.cluster else ()):
        check(data[column].isna().to_numpy(), f"column {column!r} has missing values", data, errors)
    raise_if(errors, spec)
    if len(data) == 0 or event.sum() == 0:
        raise ContractViolation(f"{spec_name(spec)}: no events in the data ({len(data)} rows)")
    constant = [c for c, row in zip(spec.covariates, xt) if row.min() == row.max()]
    if constant:
        raise ContractViolation(f"{spec_name(spec)}: covariate(s) {constant} have the same value on every row")
    if spec.strata:
        stratum = pd.MultiIndex.from_frame(data[list(spec.strata)]).factorize()[0].astype(np.int64) \
            if len(spec.strata) > 1 else pd.factorize(data[spec.strata[0]])[0].astype(np.int64)
    else:
        stratum = np.zeros(len(data), dtype=np.int64)
    return stop, event, start, xt, weights, stratum


def fit_cox(data: pd.DataFrame, spec: CoxSpec) -> CoxResult:
    """Fit a Cox model by Newton–Raphson on the log partial likelihood.

    Reproduces R ``survival::coxph`` (3.5): Efron or Breslow ties, counting-process risk sets
    (at risk at t if start < t <= stop), strata, case weights, and with ``cluster`` the robust
    variance from dfbeta residuals summed per cluster.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (start, stop] interval.
    spec : CoxSpec

    Returns
    -------
    CoxResult
        ``summary`` holds one 'hazard_ratio' row per covariate: estimate exp(coef), CI on the
        ratio scale, ``std_error`` the SE of the log hazard ratio (robust if a cluster is given;
        ``diagnostics['se_type']`` says which).

    Raises
    ------
    ContractViolation
        Missing columns, missing or invalid values (all listed at once), no events.
    ConvergenceError
        Monotone likelihood (a coefficient diverges), a singular information matrix, or no
        convergence within ``spec.max_iter`` iterations.
    """
    stop, event, start, xt, weights, stratum = _prepare(data, spec)
    n_rows = len(data)
    zero_weight = weights == 0
    if zero_weight.any():  # no information; dropped (and counted) so Efron's tie counts match R without them
        keep = ~zero_weight
        data, stop, event, xt, weights, stratum = (data.loc[keep], stop[keep], event[keep], xt[:, keep],
                                                   weights[keep], stratum[keep])
        start = start[keep] if start is not None else None
        if event.sum() == 0:
            raise ContractViolation(f"{spec_name(spec)}: no events among the rows with positive weight")
    x_sd = np.array([row.std() for row in xt])
    xt -= xt.mean(axis=1)[:, None]  # centred, as R does, so exp(x beta) stays in range
    rs = build_risk_sets(stop, event, start, stratum)
    problem = _CoxProblem(xt, weights, rs, _tied(rs, weights, spec.ties))
    names = spec.covariates
    beta, fit, n_iter, loglik_null = newton_raphson(problem.evaluate, len(names), names, spec.max_iter, x_sd)
    vcov_model = np.linalg.inv(fit.information)
    vcov_model = (vcov_model + vcov_model.T) / 2
    se_model = np.sqrt(np.diag(vcov_model))

    robust_se = None
    vcov_used = vcov_model
    n_clusters = None
    if spec.cluster:
        codes, uniques = pd.factorize(data[spec.cluster])
        n_clusters = len(uniques)
        resid = _score_residuals(problem, fit)
        resid *= weights
        summed = _bincount_rows(codes, resid, n_clusters)  # (clusters × p)
        dfbeta = summed @ vcov_model
        vcov_used = dfbeta.T @ dfbeta
        robust_se = np.sqrt(np.diag(vcov_used))
    se_used = robust_se if robust_se is not None else se_model

    n_events = int(event.sum())
    lr = 2 * (fit.loglik - loglik_null)
    diagnostics = {
        "converged": True,
        "n_iter": n_iter,
        "ties": spec.ties,
        "loglik": fit.loglik,
        "loglik_null": loglik_null,
        "lr_test_chi2": lr,
        "lr_test_df": len(names),
        "lr_test_p": float(stats.chi2.sf(lr, len(names))),
        "se_type": f"robust_cluster:{spec.cluster}" if spec.cluster else "model",
        "n_rows": n_rows,
        "n_rows_zero_weight": int(zero_weight.sum()),
        "n_strata": int(stratum.max()) + 1,
        "n_clusters": n_clusters,
        "weighted": spec.weights is not None,
        "risk_set": "start < t <= stop" if spec.start else "t <= stop",
    }
    n_persons = n_clusters if n_clusters is not None else len(data)
    rows = coefficient_rows(names, beta, se_used, estimand="hazard_ratio", n_persons=n_persons, n_events=n_events,
                            extra={"se_model": se_model,
                                   "se_robust": robust_se if robust_se is not None else np.full(len(names), np.nan)})
    summary = make_summary(rows, analysis_id=spec.analysis_id, method="cox", diagnostics=diagnostics)
    index = pd.Index(names, name="term")
    return CoxResult(
        analysis_id=spec.analysis_id,
        method="cox",
        summary=summary,
        diagnostics=diagnostics,
        tables={},
        coef=pd.Series(beta, index=index, name="coef"),
        se=pd.Series(se_model, index=index, name="se"),
        robust_se=pd.Series(robust_se, index=index, name="robust_se") if robust_se is not None else None,
        loglik=float(fit.loglik),
        vcov=pd.DataFrame(vcov_used, index=index, columns=index),
    )
