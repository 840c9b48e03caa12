"""Fine–Gray subdistribution-hazard regression with crr's IPCW weights and sandwich variance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analyses.estimators._common import as_tuple, check, numeric_column, raise_if, require_columns, spec_name, unique_names
from analyses.estimators.cox import newton_raphson
from analyses.results import Result, coefficient_rows, make_summary
from koord.errors import ContractViolation


@dataclass(frozen=True)
class FineGraySpec:
    """What to fit with :func:`fit_fine_gray`.

    Parameters
    ----------
    time : str
        Column with the time of the first event or of censoring (one row per person).
    cause : str
        Column with the cause of the event at ``time``, or ``censor_value``.
    cause_of_interest : Any
        The value of ``cause`` whose subdistribution hazard is modelled; every other value
        except ``censor_value`` is a competing cause.
    covariates : tuple of str
        Numeric covariate columns.
    censor_value : Any
        The value of ``cause`` that means censoring (default 0).
    analysis_id : str
    max_iter : int
    """

    time: str
    cause: str
    cause_of_interest: Any
    covariates: tuple[str, ...]
    censor_value: Any = 0
    analysis_id: str = "fine_gray"
    max_iter: int = 30

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", as_tuple(self.covariates))
        if not self.covariates:
            raise ContractViolation("FineGraySpec: at least one covariate is needed")
        unique_names(self.covariates, "covariates", "FineGraySpec")


@dataclass(frozen=True, eq=False)
class FineGrayResult(Result):
    """Result of :func:`fit_fine_gray` on the log subdistribution-hazard scale.

    Attributes
    ----------
    coef : pandas.Series
    se : pandas.Series
        crr's sandwich standard errors (with the censoring-distribution term); the ones in the summary.
    model_se : pandas.Series
        Inverse-information standard errors, for comparison.
    loglik : float
        Log pseudo partial likelihood at the estimate.
    vcov : pandas.DataFrame
        crr's sandwich variance.
    """

    coef: pd.Series = field(kw_only=True)
    se: pd.Series = field(kw_only=True)
    model_se: pd.Series = field(kw_only=True)
    loglik: float = field(kw_only=True)
    vcov: pd.DataFrame = field(kw_only=True)


@dataclass
class _Fit:
    loglik: float
    score: np.ndarray
    information: np.ndarray
    risk: np.ndarray
    s0: np.ndarray  # (D,) weighted risk-set sums at the distinct failure times
    xbar: np.ndarray  # (D, p)


class _Problem:
    """Data sorted by time with the censoring Kaplan–Meier G(t-) as crr computes it."""

    def __init__(self, time: np.ndarray, status: np.ndarray, x: np.ndarray) -> None:
        order = np.argsort(time, kind="stable")
        self.time, self.status, self.x = time[order], status[order], x[order]
        n = len(time)
        unique, first = np.unique(self.time, return_index=True)
        self.unique_times = unique
        self.at_risk = n - first  # number with time >= u, u in unique times
        n_censored = np.bincount(np.searchsorted(unique, self.time[self.status == 0]), minlength=len(unique))
        self.n_censored = n_censored
        censor_km = np.cumprod(1 - n_censored / self.at_risk)
        before = np.concatenate([[1.0], censor_km[:-1]])  # G(u-) at each unique time
        self.g_before = before[np.searchsorted(unique, self.time)]  # G(t_i-)
        self.is_failure = self.status == 1
        self.is_competing = self.status == 2
        self.failure_times, self.n_failures = np.unique(self.time[self.is_failure], return_counts=True)
        self.g_failure = before[np.searchsorted(unique, self.failure_times)]
        # rows with time >= tau_k: from first_at_or_after[k]; competing rows with time < tau_k
        self.first_at_or_after = np.searchsorted(self.time, self.failure_times, side="left")
        self.row_failure_index = np.searchsorted(self.failure_times, self.time, side="right")  # #tau <= t_i

    def evaluate(self, beta: np.ndarray) -> _Fit:
        x, d = self.x, self.n_failures
        risk = np.exp(x @ beta)
        z = np.column_stack([risk, x * risk[:, None]])
        suffix = np.vstack([np.cumsum(z[::-1], axis=0)[::-1], np.zeros((1, z.shape[1]))])
        competing = np.where(self.is_competing, 1 / self.g_before, 0.0)[:, None] * z
        prefix = np.vstack([np.zeros((1, z.shape[1])), np.cumsum(competing, axis=0)])
        k = self.first_at_or_after
        sums = suffix[k] + self.g_failure[:, None] * prefix[k]  # S0, S1 at each failure time
        s0, xbar = sums[:, 0], sums[:, 1:] / sums[:, :1]
        loglik = float(x[self.is_failure].sum(axis=0) @ beta - d @ np.log(s0))
        score = x[self.is_failure].sum(axis=0) - d @ xbar
        # S2 part as sum_j r_j x_j x_j' c_j, c_j = the failure times' d/S0 weighted by w_j(tau)
        own = np.concatenate([[0.0], np.cumsum(d / s0)])[self.row_failure_index]
        later = np.concatenate([np.cumsum((d * self.g_failure / s0)[::-1])[::-1], [0.0]])[self.row_failure_index]
        c = risk * (own + np.where(self.is_competing, later / self.g_before, 0.0))
        scaled = x * np.sqrt(c)[:, None]
        information = scaled.T @ scaled - (xbar * d[:, None]).T @ xbar
        return _Fit(loglik, score, information, risk, s0, xbar)

    def sandwich_middle(self, fit: _Fit) -> np.ndarray:
        """crr's V2 = sum_i (eta_i + psi_i)(eta_i + psi_i)' (Fortran crrvv), vectorised."""
        x, d, g_fail, s0, xbar = self.x, self.n_failures, self.g_failure, fit.s0, fit.xbar
        risk = fit.risk
        idx = self.row_failure_index  # number of failure times <= t_i
        # eta: dN part and d Lambda part
        eta = np.zeros_like(x)
        own_tau = idx[self.is_failure] - 1
        eta[self.is_failure] = x[self.is_failure] - xbar[own_tau]
        c0 = np.concatenate([[0.0], np.cumsum(d / s0)])
        c1 = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(xbar * (d / s0)[:, None], axis=0)])
        eta -= risk[:, None] * (x * c0[idx][:, None] - c1[idx])
        later_0 = np.concatenate([np.cumsum((d * g_fail / s0)[::-1])[::-1], [0.0]])
        later_1 = np.vstack([np.cumsum((xbar * (d * g_fail / s0)[:, None])[::-1], axis=0)[::-1],
                             np.zeros((1, x.shape[1]))])
        comp = self.is_competing
        eta[comp] -= (risk[comp] / self.g_before[comp])[:, None] * (
            x[comp] * later_0[idx[comp]][:, None] - later_1[idx[comp]]
        )
        # psi: the censoring-distribution term, q(u) at the censoring times u
        censor_times = self.unique_times[self.n_censored > 0]
        # A: competing rows with time < u, weighted r / G(t-)
        weighted = np.where(comp, risk / self.g_before, 0.0)
        a_prefix = np.vstack([np.zeros((1, 1 + x.shape[1])),
                              np.cumsum(np.column_stack([weighted, x * weighted[:, None]]), axis=0)])
        a = a_prefix[np.searchsorted(self.time, censor_times, side="left")]
        # B: failure times tau >= u, weighted d G(tau-) / S0
        first_tau = np.searchsorted(self.failure_times, censor_times, side="left")
        b0 = np.concatenate([np.cumsum((d * g_fail / s0)[::-1])[::-1], [0.0]])[first_tau]
        b1 = np.vstack([np.cumsum((xbar * (d * g_fail / s0)[:, None])[::-1], axis=0)[::-1],
                        np.zeros((1, x.shape[1]))])[first_tau]
        q = a[:, 1:] * b0[:, None] - b1 * a[:, :1]
        unique_pos = np.searchsorted(self.unique_times, censor_times)
        y = self.at_risk[unique_pos].astype(float)
        dnc = self.n_censored[unique_pos].astype(float)
        cum = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(q * (dnc / y ** 2)[:, None], axis=0)])
        psi = -cum[np.searchsorted(censor_times, self.time, side="right")]
        censored = self.status == 0
        at = np.searchsorted(censor_times, self.time[censored])
        psi[censored] += q[at] / y[at][:, None]
        total = eta + psi
        return total.T @ total


def fit_fine_gray(data: pd.DataFrame, spec: FineGraySpec) -> FineGrayResult:
    """Fine–Gray proportional subdistribution-hazards model, reproducing ``cmprsk::crr``.

    Subjects with a competing event stay in the risk set after their event with weight
    G(t-) / G(t_j-), G the Kaplan–Meier of the censoring distribution evaluated just before
    each time, as crr does; tied failures enter Breslow-style. The reported standard errors
    are crr's: the sandwich H^-1 V H^-1 whose V includes the term for the estimated censoring
    distribution (``diagnostics['se_type']`` = 'crr_sandwich'); the inverse information is
    in ``model_se``.

    Returns
    -------
    FineGrayResult
        ``summary``: one 'subdistribution_hazard_ratio' row per covariate.
    """
    require_columns(data, spec, {"time": [spec.time], "cause": [spec.cause], "covariates": spec.covariates})
    errors: list[str] = []
    time = numeric_column(data, spec.time, "time", errors)
    x_raw = np.column_stack([numeric_column(data, c, "covariate", errors) for c in spec.covariates])
    cause = data[spec.cause]
    check(cause.isna().to_numpy(), f"cause column {spec.cause!r} has missing values", data, errors)
    raise_if(errors, spec)
    status = np.where(cause == spec.cause_of_interest, 1, np.where(cause == spec.censor_value, 0, 2))
    if not (status == 1).any():
        raise ContractViolation(f"{spec_name(spec)}: no events of cause {spec.cause_of_interest!r}")
    constant = [c for c, sd in zip(spec.covariates, x_raw.std(axis=0)) if sd == 0]
    if constant:
        raise ContractViolation(f"{spec_name(spec)}: covariate(s) {constant} have the same value on every row")
    x = x_raw - x_raw.mean(axis=0)
    problem = _Problem(time, status, x)
    names = spec.covariates
    beta, fit, n_iter, loglik_null = newton_raphson(problem.evaluate, x.shape[1], names, spec.max_iter,
                                                    x.std(axis=0), what="Fine–Gray model")
    h_inv = np.linalg.inv(fit.information)
    vcov = h_inv @ problem.sandwich_middle(fit) @ h_inv
    vcov = (vcov + vcov.T) / 2
    se = np.sqrt(np.diag(vcov))
    model_se = np.sqrt(np.diag(h_inv))
    n_events = int((status == 1).sum())
    diagnostics = {
        "converged": True, "n_iter": n_iter, "loglik": fit.loglik, "loglik_null": loglik_null,
        "se_type": "crr_sandwich", "ties": "breslow", "censoring_weights": "KM of censoring at t-",
        "n_rows": len(data), "n_competing": int((status == 2).sum()), "n_censored": int((status == 0).sum()),
        "cause_of_interest": str(spec.cause_of_interest),
    }
    rows = coefficient_rows(names, beta, se, estimand="subdistribution_hazard_ratio", n_persons=len(data),
                            n_events=n_events, extra={"se_model": model_se})
    summary = make_summary(rows, analysis_id=spec.analysis_id, method="fine_gray", diagnostics=diagnostics)
    index = pd.Index(names, name="term")
    return FineGrayResult(
        analysis_id=spec.analysis_id, method="fine_gray", summary=summary, diagnostics=diagnostics,
        tables={}, coef=pd.Series(beta, index=index, name="coef"), se=pd.Series(se, index=index, name="se"),
        model_se=pd.Series(model_se, index=index, name="model_se"), loglik=float(fit.loglik),
        vcov=pd.DataFrame(vcov, index=index, columns=index),
    )

