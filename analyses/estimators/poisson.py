"""Piecewise-exponential (Poisson) regression on aggregated person-time, with rate ratios."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import patsy
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from analyses.estimators._common import check, numeric_column, raise_if, require_columns, spec_name
from analyses.results import Result, make_summary, wald_row
from pipeline.errors import ContractViolation, ConvergenceError

# A rate ratio beyond e^15 (or below e^-15) means a term with no events (or only events):
# the maximum likelihood estimate is infinite and IRLS stopped somewhere on the way.
_DIVERGED_LOG_RATIO = 15.0


@dataclass(frozen=True)
class PoissonSpec:
    """What to fit with :func:`fit_poisson`.

    Parameters
    ----------
    events : str
        Column with the number of events in each row (cell × time band).
    exposure : str
        Column with the person-time at risk in each row (any unit; rates are per that unit).
        Rows with zero exposure and zero events carry no information and are dropped (counted
        in ``diagnostics['n_rows_zero_exposure']``); zero exposure with events is an error.
    formula_rhs : str
        Right-hand side of a patsy formula, e.g. ``"C(time_band) + is_coordinated + C(sex)"``.
        The time bands belong here: they make the baseline hazard piecewise constant.
    cluster : str, optional
        Column identifying clusters (e.g. the person when rows are per person × band) for
        cluster-robust standard errors.
    analysis_id : str
    """

    events: str
    exposure: str
    formula_rhs: str
    cluster: str | None = None
    analysis_id: str = "poisson"


@dataclass(frozen=True, eq=False)
class PoissonResult(Result):
    """Result of :func:`fit_poisson`; coefficients on the log-rate scale."""

    coef: pd.Series = field(kw_only=True)
    se: pd.Series = field(kw_only=True)
    vcov: pd.DataFrame = field(kw_only=True)


def fit_poisson(data: pd.DataFrame, spec: PoissonSpec) -> PoissonResult:
    """Poisson GLM with offset log(exposure) on aggregated rows (statsmodels IRLS).

    With the time bands in the formula this is the piecewise-exponential survival model: its
    rate ratios estimate the same hazard ratios as a Cox model on the individual data, from
    one row per covariate cell × band instead of one per person.

    Returns
    -------
    PoissonResult
        ``summary``: one row per design term; 'rate_ratio' (exp(coef), CI on the ratio scale,
        ``std_error`` of the log ratio; cluster-robust if ``cluster`` is given) and 'rate' for
        the intercept (events per unit of exposure in the reference cell).

    Raises
    ------
    ContractViolation
        Missing columns or formula variables, missing values, negative events or exposure,
        events without exposure.
    ConvergenceError
        IRLS did not converge, or a term's rate ratio is infinite (no events in a level).
    """
    require_columns(data, spec, {"events": [spec.events], "exposure": [spec.exposure], "cluster": [spec.cluster]})
    errors: list[str] = []
    events = numeric_column(data, spec.events, "events", errors)
    exposure = numeric_column(data, spec.exposure, "exposure", errors)
    check(events < 0, f"events column {spec.events!r} must be non-negative", data, errors)
    check(exposure < 0, f"exposure column {spec.exposure!r} must be non-negative", data, errors)
    check((exposure == 0) & (events > 0), f"rows with events but zero {spec.exposure!r}", data, errors)
    if spec.cluster:
        check(data[spec.cluster].isna().to_numpy(), f"cluster column {spec.cluster!r} has missing values", data, errors)
    raise_if(errors, spec)
    keep = exposure > 0
    n_dropped = int((~keep).sum())
    frame = data.loc[keep] if n_dropped else data
    if len(frame) == 0:
        raise ContractViolation(f"{spec_name(spec)}: no rows with exposure")
    try:
        design = patsy.dmatrix(spec.formula_rhs, frame, NA_action="raise", return_type="dataframe")
    except patsy.PatsyError as error:
        raise ContractViolation(
            f"{spec_name(spec)}: formula {spec.formula_rhs!r} cannot be built from the data: "
            f"{str(error).splitlines()[0]}"
        ) from None
    except NameError as error:
        raise ContractViolation(
            f"{spec_name(spec)}: formula {spec.formula_rhs!r} names a column the data lack ({error})"
        ) from None
    names = list(design.columns)
    rank = np.linalg.matrix_rank(design.to_numpy())
    if rank < design.shape[1]:
        raise ContractViolation(
            f"{spec_name(spec)}: the design of {spec.formula_rhs!r} is rank deficient "
            f"({rank} of {design.shape[1]} columns independent): a level is empty or terms are collinear"
        )
    model = sm.GLM(events[keep], design.to_numpy(), family=sm.families.Poisson(), offset=np.log(exposure[keep]))
    fit_kwargs = {}
    if spec.cluster:
        groups = pd.factorize(frame[spec.cluster])[0]
        fit_kwargs = {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        try:
            res = model.fit(maxiter=100, tol=1e-10, **fit_kwargs)
        except ConvergenceWarning as warning:
            raise ConvergenceError(f"Poisson model {spec.analysis_id!r}: IRLS did not converge ({warning})") from None
    params, bse = np.asarray(res.params), np.asarray(res.bse)
    diverged = [n for n, b in zip(names, params) if n != "Intercept" and abs(b) > _DIVERGED_LOG_RATIO]
    if diverged or not res.converged:
        raise ConvergenceError(
            f"Poisson model {spec.analysis_id!r}: the rate ratio of {', '.join(diverged) or 'a term'} is not "
            "finite (a level or cell with no events, or only events); merge or drop that level"
        )
    n_clusters = int(frame[spec.cluster].nunique()) if spec.cluster else None
    dispersion = float(res.pearson_chi2 / res.df_resid) if res.df_resid > 0 else np.nan
    diagnostics = {
        "converged": bool(res.converged), "n_iter": int(getattr(res, "fit_history", {}).get("iteration", 0)),
        "deviance": float(res.deviance), "pearson_chi2": float(res.pearson_chi2), "df_resid": float(res.df_resid),
        "dispersion": dispersion, "se_type": f"cluster_robust:{spec.cluster}" if spec.cluster else "model",
        "n_rows": len(data), "n_rows_zero_exposure": n_dropped, "n_clusters": n_clusters,
        "total_exposure": float(exposure.sum()), "formula": f"{spec.events} ~ {spec.formula_rhs}",
    }
    n_events = int(round(events.sum()))
    rows = []
    for name, b, s in zip(names, params, bse):
        row = {"estimand": "rate" if name == "Intercept" else "rate_ratio", "term": name, "subgroup": None,
               "level": None, "n_persons": n_clusters, "n_events": n_events}
        row.update(wald_row(b, s, ratio=True))
        row["coef"] = b
        rows.append(row)
    summary = make_summary(rows, analysis_id=spec.analysis_id, method="poisson", diagnostics=diagnostics)
    index = pd.Index(names, name="term")
    return PoissonResult(
        analysis_id=spec.analysis_id, method="poisson", summary=summary, diagnostics=diagnostics, tables={},
        coef=pd.Series(params, index=index, name="coef"), se=pd.Series(bse, index=index, name="se"),
        vcov=pd.DataFrame(np.asarray(res.cov_params()), index=index, columns=index),
    )
