"""Weighted logistic regression with an optional ridge penalty: damped Newton–Raphson in numpy, R's glm conventions.

`fit_logistic(data, LogisticSpec(...)) -> LogisticResult`, as the other estimators. Without a
penalty it is R's ``glm(y ~ x1 + x2, family = binomial, weights = w)`` (y 0/1, or the share of
successes among w trials, as ``cbind(successes, failures)``); tests hold it to R's fitted
values on `../shared/reference` and to statsmodels. The penalty ``ridge`` maximises

    sum_i w_i [y_i x_i'b - log(1 + exp(x_i'b))] - ridge / 2 * |b[1:]|^2

(the intercept, column 0, unpenalised), which keeps the estimates finite when a covariate
level has no successes (the propensity models of the trial emulation).

The matrix-level pieces (`fitted_probability`, `ridge_penalty`, `logistic_information` and
`newton_logistic`) serve callers that refit one design many times (the trial bootstrap); like
`fit_logistic`, `newton_logistic` raises ConvergenceError instead of returning an unconverged
estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse

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

MAX_NEWTON_STEPS = 50  # Newton–Raphson steps before giving up with ConvergenceError
STEP_TOLERANCE = 1e-9  # converged when no coefficient moves by this much in a step
LINEAR_PREDICTOR_BOUND = 35.0  # x'b is clipped to ±35 (expit within 6e-16 of 0 or 1) so exp cannot overflow
SOLVE_JITTER = 1e-10  # added to the information's diagonal in the Newton solve (a singular design still steps)
MAX_STEP_HALVINGS = 30  # halvings of a Newton step that lowers the objective before ConvergenceError
OBJECTIVE_SLACK = 1e-12  # a step is taken in full unless it lowers the objective by more than this, relative
INTERCEPT = "Intercept"

Design = np.ndarray | scipy.sparse.spmatrix


@dataclass(frozen=True)
class LogisticSpec:
    """What to fit with :func:`fit_logistic`.

    Parameters
    ----------
    outcome : str
        Column with 0/1 outcomes, or the share of successes among the row's ``weights`` trials.
    covariates : tuple of str
        Numeric covariate columns (callers build indicator columns for categories); an
        intercept is always added in front, named 'Intercept'. Columns with a pandas sparse
        dtype (``pd.DataFrame.sparse.from_spmatrix``) keep the design sparse: an indicator
        design of many rows is mostly zeros, and its information matrix then costs the
        non-zeros, not rows × columns².
    weights : str, optional
        Non-negative case weights (R's prior weights: frequency weights or numbers of trials).
    ridge : float
        L2 penalty on every coefficient but the intercept (0: plain maximum likelihood).
    max_steps : int
        Newton–Raphson steps before giving up with ConvergenceError.
    tolerance : float
        Converged when no coefficient moves by ``tolerance`` or more in a step.
    analysis_id : str
        Written on every summary row and named in errors.
    """

    outcome: str
    covariates: tuple[str, ...] = ()
    weights: str | None = None
    ridge: float = 0.0
    max_steps: int = MAX_NEWTON_STEPS
    tolerance: float = STEP_TOLERANCE
    analysis_id: str = "logistic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", as_tuple(self.covariates))
        unique_names(self.covariates, "covariates", "LogisticSpec")
        problems = []
        if INTERCEPT in self.covariates:
            problems.append(f"the intercept is added by the model; {INTERCEPT!r} cannot be a covariate")
        if not np.isfinite(self.ridge) or self.ridge < 0:
            problems.append(f"ridge={self.ridge!r} must be a non-negative number")
        if self.max_steps < 1:
            problems.append(f"max_steps={self.max_steps!r} must be at least 1")
        if not self.tolerance > 0:
            problems.append(f"tolerance={self.tolerance!r} must be positive")
        if problems:
            raise ContractViolation("LogisticSpec: " + "; ".join(problems))


@dataclass(frozen=True, eq=False)
class LogisticResult(Result):
    """Result of :func:`fit_logistic`; coefficients on the log-odds scale, as R's ``coef(glm(...))``.

    ``summary``: one row per term: 'odds_ratio' (exp(coef), Wald interval on the ratio scale,
    ``std_error`` of the log odds ratio, two-sided normal p as R's ``summary.glm`` for the
    binomial family) and 'odds' for the intercept (the odds in the reference cell);
    ``n_events`` is the weighted number of successes, sum w y, rounded; ``n_persons`` is left
    empty (rows need not be persons).

    Attributes
    ----------
    coef : pandas.Series
        Log odds (ratios) by term, the intercept first.
    se : pandas.Series
        Standard errors from the inverse information (R's ``vcov(glm(...))`` without a penalty;
        with one, the inverse of the penalised information: the curvature of the penalised
        likelihood, not a sampling variance of the shrunken estimate).
    vcov : pandas.DataFrame
        That inverse information (a pseudo-inverse, so a singular design still gives one).
    converged : bool
        Always True: an unconverged fit raises ConvergenceError.
    n_iter : int
        Newton–Raphson steps taken.
    """

    coef: pd.Series = field(kw_only=True)
    se: pd.Series = field(kw_only=True)
    vcov: pd.DataFrame = field(kw_only=True)
    converged: bool = field(kw_only=True)
    n_iter: int = field(kw_only=True)


# --- the matrix-level model ----------------------------------------------------------------------


def ridge_penalty(p: int, ridge: float) -> np.ndarray:
    """The L2 penalty per coefficient: ``ridge`` on all but the intercept (column 0)."""
    penalty = np.full(p, ridge)
    penalty[0] = 0.0
    return penalty


def fitted_probability(x: Design, beta: np.ndarray) -> np.ndarray:
    """expit(x beta), the linear predictor clipped to ±`LINEAR_PREDICTOR_BOUND` so exp cannot overflow."""
    return 1 / (1 + np.exp(-np.clip(x @ beta, -LINEAR_PREDICTOR_BOUND, LINEAR_PREDICTOR_BOUND)))


def _information(x: Design, mu: np.ndarray, weights: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    curvature = weights * mu * (1 - mu)
    if scipy.sparse.issparse(x):  # the sparse product costs the non-zeros, not rows × columns²
        info = (x.T.multiply(curvature[None, :]) @ x).toarray()
    else:
        info = (x * curvature[:, None]).T @ x
    return info + np.diag(penalty)


def logistic_information(x: Design, beta: np.ndarray, weights: np.ndarray, ridge: float) -> np.ndarray:
    """Penalised information matrix X' diag(w mu (1 - mu)) X + ridge (intercept unpenalised) at ``beta``."""
    return _information(x, fitted_probability(x, beta), weights, ridge_penalty(len(beta), ridge))


@dataclass(frozen=True)
class NewtonFit:
    """A converged Newton–Raphson fit: the estimate, the steps taken and the size of the last one."""

    beta: np.ndarray
    n_steps: int
    last_step: float


def _penalised_loglik(eta: np.ndarray, y: np.ndarray, weights: np.ndarray, penalty: np.ndarray,
                      beta: np.ndarray) -> float:
    """sum w [y eta - log(1 + exp(eta))] - 1/2 sum penalty b^2, the objective Newton–Raphson maximises."""
    return float(weights @ (y * eta - np.logaddexp(0.0, eta)) - 0.5 * penalty @ beta**2)


def newton_logistic(x: Design, y: np.ndarray, weights: np.ndarray, ridge: float, start: np.ndarray | None = None,
                    *, max_steps: int = MAX_NEWTON_STEPS, tolerance: float = STEP_TOLERANCE,
                    what: str = "logistic model", names: tuple[str, ...] | None = None) -> NewtonFit:
    """Penalised weighted logistic regression by Newton–Raphson with step halving, from ``start`` (default 0).

    Column 0 of ``x`` must be the intercept; ``x`` may be a scipy sparse matrix. Converged when
    no coefficient moves by ``tolerance`` or more in a (full) Newton step. A step that lowers the
    penalised log-likelihood is halved until it does not (at most `MAX_STEP_HALVINGS` times):
    plain Newton–Raphson can cycle between two points far from the maximum (seen in bootstrap
    refits of sparse propensity designs); with halving it converges whenever a maximum exists
    (the objective is concave). Steps that raise the objective are taken in full, so where
    plain Newton–Raphson converges both give the same numbers.

    Raises
    ------
    ConvergenceError
        No convergence in ``max_steps`` steps, halving that cannot raise the objective, or a
        step that is not finite; the message names ``what`` and (with ``names``) the
        coefficients still moving most.
    """
    p = x.shape[1]
    beta = np.zeros(p) if start is None else np.asarray(start, dtype=float).copy()
    penalty = ridge_penalty(p, ridge)
    eta = x @ beta
    objective = _penalised_loglik(eta, y, weights, penalty, beta)
    step = np.zeros(p)
    for n_steps in range(1, max_steps + 1):
        mu = 1 / (1 + np.exp(-np.clip(eta, -LINEAR_PREDICTOR_BOUND, LINEAR_PREDICTOR_BOUND)))
        score = x.T @ (weights * (y - mu)) - penalty * beta
        step = np.linalg.solve(_information(x, mu, weights, penalty) + SOLVE_JITTER * np.eye(p), score)
        largest = float(np.max(np.abs(step)))
        if largest < tolerance:
            return NewtonFit(beta + step, n_steps, largest)
        if not np.isfinite(largest):
            raise ConvergenceError(f"{what}: the Newton–Raphson step {n_steps} is not finite "
                                   "(a covariate with non-finite values, or weights that overflow)")
        for _ in range(MAX_STEP_HALVINGS + 1):
            candidate = beta + step
            eta_candidate = x @ candidate
            value = _penalised_loglik(eta_candidate, y, weights, penalty, candidate)
            if value >= objective - OBJECTIVE_SLACK * abs(objective):
                break
            step = step / 2
        else:
            raise ConvergenceError(f"{what}: step {n_steps} of Newton–Raphson cannot raise the penalised "
                                   f"log-likelihood even when halved {MAX_STEP_HALVINGS} times")
        beta, eta, objective = candidate, eta_candidate, value
    moving = ""
    if names is not None:
        order = np.argsort(-np.abs(step))[:3]
        moving = f"; still moving most: {', '.join(str(names[i]) for i in order)}"
    raise ConvergenceError(
        f"{what}: Newton–Raphson did not converge in {max_steps} steps (the last step moved a coefficient "
        f"by {float(np.max(np.abs(step))):.3g}, the tolerance is {tolerance:g}){moving}. A covariate level "
        "in which every row, or none, has the outcome makes the estimate infinite: merge sparse levels or "
        "set a ridge penalty"
    )


# --- the estimator ---------------------------------------------------------------------------------


def _design(data: pd.DataFrame, spec: LogisticSpec, errors: list[str]) -> Design:
    """The intercept and the covariate columns: sparse if every covariate column is sparse, else dense."""
    n = len(data)
    columns = list(spec.covariates)
    if columns and all(isinstance(data[c].dtype, pd.SparseDtype) for c in columns):
        covariates = data[columns].sparse.to_coo().tocsr().astype(float)
        bad = [c for c in columns
               if not (np.isfinite(data[c].sparse.sp_values).all() and np.isfinite(data[c].sparse.fill_value))]
        for c in bad:
            errors.append(f"covariate column {c!r}: missing, non-numeric or infinite value(s)")
        return scipy.sparse.hstack([scipy.sparse.csr_matrix(np.ones((n, 1))), covariates], format="csr")
    return np.column_stack([np.ones(n)] + [numeric_column(data, c, "covariate", errors) for c in columns])


def fit_logistic(data: pd.DataFrame, spec: LogisticSpec) -> LogisticResult:
    """Logistic regression of ``spec.outcome`` on an intercept and ``spec.covariates`` (Newton–Raphson).

    Returns
    -------
    LogisticResult
        Coefficients, standard errors and inverse information, the steps taken; see its
        docstring for the summary's conventions.

    Raises
    ------
    ContractViolation
        Missing columns, missing or non-numeric values, an outcome outside [0, 1], negative
        weights or no positive weight (every problem named at once).
    ConvergenceError
        Newton–Raphson did not converge in ``spec.max_steps`` steps (e.g. a level that
        separates the outcome without a ridge penalty).
    """
    require_columns(data, spec, {"outcome": [spec.outcome], "covariates": spec.covariates,
                                 "weights": [spec.weights]})
    errors: list[str] = []
    y = numeric_column(data, spec.outcome, "outcome", errors)
    check((y < 0) | (y > 1), f"outcome column {spec.outcome!r} must lie in [0, 1]", data, errors)
    weights = numeric_column(data, spec.weights, "weights", errors) if spec.weights else np.ones(len(data))
    check(weights < 0, f"weights column {spec.weights!r} must be non-negative", data, errors)
    x = _design(data, spec, errors)
    raise_if(errors, spec)
    if not weights.sum() > 0:
        raise ContractViolation(f"{spec_name(spec)}: no row with a positive weight")
    names = (INTERCEPT, *spec.covariates)
    fit = newton_logistic(x, y, weights, spec.ridge, max_steps=spec.max_steps, tolerance=spec.tolerance,
                          what=f"logistic model {spec.analysis_id!r}", names=names)
    vcov = np.linalg.pinv(logistic_information(x, fit.beta, weights, spec.ridge), hermitian=True)
    se = np.sqrt(np.diag(vcov))
    diagnostics = {
        "converged": True, "n_iter": fit.n_steps, "last_step": fit.last_step, "tolerance": spec.tolerance,
        "ridge": spec.ridge, "se_type": "penalised_information" if spec.ridge > 0 else "model",
        "n_rows": len(data), "sum_weights": float(weights.sum()), "sparse_design": scipy.sparse.issparse(x),
    }
    n_events = int(round(float((weights * y).sum())))
    rows = coefficient_rows(names, fit.beta, se, estimand="odds_ratio", intercept_estimand="odds", n_events=n_events)
    summary = make_summary(rows, analysis_id=spec.analysis_id, method="logistic", diagnostics=diagnostics)
    index = pd.Index(names, name="term")
    return LogisticResult(
        analysis_id=spec.analysis_id, method="logistic", summary=summary, diagnostics=diagnostics, tables={},
        coef=pd.Series(fit.beta, index=index, name="coef"), se=pd.Series(se, index=index, name="se"),
        vcov=pd.DataFrame(vcov, index=index, columns=index), converged=True, n_iter=fit.n_steps,
    )


__all__ = [
    "INTERCEPT", "LINEAR_PREDICTOR_BOUND", "MAX_NEWTON_STEPS", "MAX_STEP_HALVINGS", "OBJECTIVE_SLACK", "SOLVE_JITTER",
    "STEP_TOLERANCE",
    "LogisticResult", "LogisticSpec", "NewtonFit", "fit_logistic", "fitted_probability", "logistic_information",
    "newton_logistic", "ridge_penalty",
]
