"""Random-intercept GLMMs by the Laplace approximation (as lme4's glmer): logistic (MOR, ICC) and Poisson with an offset (MRR)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from analyses.estimators._common import check, formula_design, numeric_column, raise_if, require_columns, spec_name
from analyses.results import Result, coefficient_rows, make_summary
from koord.errors import ContractViolation, ConvergenceError

_Q75 = float(stats.norm.ppf(0.75))
MODE_NEWTON_STEPS = 100  # Newton steps for the conditional modes (they converge in a handful)
MODE_MAX_STEP = 2.0  # largest change of a conditional mode in one Newton step (log scale)
POLISH_NEWTON_STEPS = 10  # Newton steps polishing the L-BFGS-B optimum
_LOGISTIC_VARIANCE = np.pi ** 2 / 3


@dataclass(frozen=True)
class GlmmBinomialSpec:
    """What to fit with :func:`fit_glmm_binomial`.

    Parameters
    ----------
    successes : str
        Column with the number of successes (events) in each row (0/1 for one person per row).
    trials : str, optional
        Column with the number of trials in each row; None means one trial per row.
    formula_rhs : str
        Fixed effects as a patsy right-hand side, e.g. ``"C(period)"`` or ``"age_group + sex"``.
    group : str
        Column whose levels get a normal random intercept (e.g. the region).
    offset : str, optional
        Column added to the linear predictor with coefficient 1 (log-odds), e.g. a national
        model's fitted log-odds: the regions' variance given that case-mix model.
    profile_level : float, optional
        Also a profile-likelihood interval of the variance at this level (lme4's
        ``confint(method = "profile")``): costs a refit of the fixed effects per trial value.
    analysis_id : str
    """

    successes: str
    formula_rhs: str
    group: str
    trials: str | None = None
    offset: str | None = None
    profile_level: float | None = None
    analysis_id: str = "glmm_binomial"


@dataclass(frozen=True, eq=False)
class GlmmBinomialResult(Result):
    """Result of :func:`fit_glmm_binomial`.

    Attributes
    ----------
    coef, se : pandas.Series
        Fixed effects (log odds) and their standard errors (lme4's, given the variance).
    variance : float
        Random-intercept variance on the log-odds scale.
    random_effects : pandas.Series
        Conditional modes of the random intercepts by group.
    random_effect_variances : pandas.Series
        Their conditional variances 1 / (h_j + 1/v) at the optimum (lme4's ``condVar``, given
        the fixed effects): the spread of draws of each group's intercept.
    loglik : float
        Laplace-approximate log-likelihood (binomial constants included, as lme4's logLik).
    variance_interval : tuple of float or None
        Profile-likelihood interval of the variance (``spec.profile_level``), else None.
    """

    coef: pd.Series = field(kw_only=True)
    se: pd.Series = field(kw_only=True)
    variance: float = field(kw_only=True)
    random_effects: pd.Series = field(kw_only=True)
    random_effect_variances: pd.Series = field(kw_only=True)
    loglik: float = field(kw_only=True)
    variance_interval: tuple[float, float] | None = field(kw_only=True, default=None)


class _Binomial:
    """Binomial rows (y successes of n): the log-likelihood kernel, mean, weight and its derivative in eta."""

    def __init__(self, y: np.ndarray, n: np.ndarray, offset: np.ndarray | float = 0.0) -> None:
        self.y, self.n, self.offset = y, n, offset

    def kernel(self, eta: np.ndarray) -> float:
        return float(np.sum(self.y * (eta + self.offset) - self.n * np.logaddexp(0, eta + self.offset)))

    def mean(self, eta: np.ndarray) -> np.ndarray:
        return self.n * special.expit(eta + self.offset)

    def weight(self, eta: np.ndarray) -> np.ndarray:  # d mean / d eta
        p = special.expit(eta + self.offset)
        return self.n * p * (1 - p)

    def weight_slope(self, eta: np.ndarray) -> np.ndarray:  # d weight / d eta
        p = special.expit(eta + self.offset)
        return self.n * p * (1 - p) * (1 - 2 * p)


class _Poisson:
    """Poisson rows (y events over exposure e^offset): kernel y (eta + offset) - mu, mu = exp(eta + offset)."""

    def __init__(self, y: np.ndarray, offset: np.ndarray) -> None:
        self.y, self.offset = y, offset

    def kernel(self, eta: np.ndarray) -> float:
        return float(np.sum(self.y * (eta + self.offset) - np.exp(eta + self.offset)))

    def mean(self, eta: np.ndarray) -> np.ndarray:
        return np.exp(eta + self.offset)

    weight = mean
    weight_slope = mean


class _Laplace:
    """Laplace-approximate log-likelihood of a random-intercept GLMM, with its gradient.

    For group j with intercept b ~ N(0, sd^2), the log joint density
    g_j(b) = sum_i l_i(eta_i) - b^2 / (2 sd^2) (l the family's log-likelihood kernel) is
    maximised at the conditional mode b_j, and the integral over b is approximated by
    g_j(b_j) - log(sd) - 0.5 log(h_j + 1/sd^2), h_j = sum_i w_i at the mode (w the family's
    weight, n p (1 - p) for the binomial, mu for the Poisson).
    """

    def __init__(self, family: "_Binomial | _Poisson", x: np.ndarray, group: np.ndarray, n_groups: int,
                 constant: float) -> None:
        self.family, self.y, self.x, self.group, self.n_groups = family, family.y, x, group, n_groups
        self.constant = constant  # the family's constants of the rows as given
        self.modes = np.zeros(n_groups)

    def _group_sum(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.group, weights=values, minlength=self.n_groups)

    def conditional_modes(self, eta_fixed: np.ndarray, sd: float) -> np.ndarray:
        """Maximise each group's log joint density over its intercept (Newton, all groups at once)."""
        if sd == 0:
            return np.zeros(self.n_groups)
        b = self.modes.copy()
        for _ in range(MODE_NEWTON_STEPS):
            eta = eta_fixed + b[self.group]
            gradient = self._group_sum(self.y - self.family.mean(eta)) - b / sd ** 2
            curvature = self._group_sum(self.family.weight(eta)) + 1 / sd ** 2
            # a trust region of MODE_MAX_STEP on the log scale: far from the mode, Newton on exp()
            # (Poisson counts in the tens of thousands) would overshoot into overflow
            step = np.clip(gradient / curvature, -MODE_MAX_STEP, MODE_MAX_STEP)
            b += step
            if np.abs(step).max() < 1e-13:
                break
        self.modes = b
        return b

    def loglik(self, params: np.ndarray, gradient: bool = False):
        """Laplace log-likelihood at params = (beta, sd); with ``gradient`` also its gradient."""
        beta, sd = params[:-1], abs(params[-1])
        eta_fixed = self.x @ beta
        b = self.conditional_modes(eta_fixed, sd)
        eta = eta_fixed + b[self.group]
        value = self.family.kernel(eta) + self.constant
        w = self.family.weight(eta)
        if sd > 0:
            h = self._group_sum(w)
            value -= float(np.sum(b ** 2) / (2 * sd ** 2)) + 0.5 * float(np.sum(np.log1p(sd ** 2 * h)))
        if not gradient:
            return value
        score_beta = self.x.T @ (self.y - self.family.mean(eta))
        if sd == 0:
            return value, np.append(score_beta, 0.0)
        # the modes move with the parameters (implicit function theorem); h moves with them
        t = self.family.weight_slope(eta)  # d w / d eta
        precision = h + 1 / sd ** 2
        xw = np.stack([self._group_sum(w * col) for col in self.x.T], axis=1)  # (G, p)
        db_dbeta = -xw / precision[:, None]
        db_dsd = (2 * b / sd ** 3) / precision
        xt = np.stack([self._group_sum(t * col) for col in self.x.T], axis=1)  # (G, p)
        t_sum = self._group_sum(t)
        share = 0.5 * sd ** 2 / (1 + sd ** 2 * h)  # d/dh of -0.5 log(1 + sd^2 h), negated
        dh_dbeta = xt + t_sum[:, None] * db_dbeta
        dh_dsd = t_sum * db_dsd
        grad_beta = score_beta - share @ dh_dbeta
        grad_sd = float(np.sum(b ** 2) / sd ** 3 - np.sum((sd * h + 0.5 * sd ** 2 * dh_dsd) / (1 + sd ** 2 * h)))
        return value, np.append(grad_beta, grad_sd)


def _hessian_from_gradient(gradient, x: np.ndarray) -> np.ndarray:
    """Central differences of an analytic gradient, steps 1e-5 × max(1, |x|), symmetrised."""
    k = len(x)
    steps = 1e-5 * np.maximum(1.0, np.abs(x))
    columns = []
    for i in range(k):
        e = np.zeros(k)
        e[i] = steps[i]
        columns.append((gradient(x + e) - gradient(x - e)) / (2 * steps[i]))
    hessian = np.column_stack(columns)
    return (hessian + hessian.T) / 2


def _collapse(y: np.ndarray, n: np.ndarray, x: np.ndarray, group: np.ndarray):
    """Rows with the same design row and group summed into one row (successes and trials, or
    events and exposure: the same likelihood up to a constant), so categorical designs fit in
    time independent of the number of rows."""
    keys = pd.DataFrame(x).assign(_group=group)
    codes, uniques = pd.MultiIndex.from_frame(keys).factorize()
    y_sum = np.bincount(codes, weights=y)
    n_sum = np.bincount(codes, weights=n)
    first = np.unique(codes, return_index=True)[1]
    return y_sum, n_sum, x[first], group[first]


def _log_binomial_coefficients(y: np.ndarray, n: np.ndarray) -> float:
    return float(np.sum(special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)))


def _groups(data: pd.DataFrame, spec) -> tuple[np.ndarray, pd.Index]:
    """Group codes 0..G-1 (levels sorted) of the random intercept; at least two groups."""
    group, levels = pd.factorize(data[spec.group], sort=True)
    if len(levels) < 2:
        raise ContractViolation(f"{spec_name(spec)}: the group {spec.group!r} needs at least two levels")
    return group, levels


def _start(objective, k: int) -> np.ndarray:
    """Fixed effects of the model without the random intercept (its optimum, by BFGS)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optimize.minimize(objective, np.zeros(k), jac=True, method="BFGS").x


def _maximise(model: _Laplace, x: np.ndarray, group: np.ndarray, n_groups: int, start_beta: np.ndarray, spec):
    """Maximise the Laplace log-likelihood over (beta, sd); standard errors as lme4's.

    L-BFGS-B with the analytic gradient from sd = 1, then Newton steps on the Hessian from
    differences of the gradient. Returns beta, the variance, the log-likelihood, the
    conditional modes, the standard errors (lme4's default: the beta block of the inverse
    Hessian over (beta, sd); at the boundary, those given the variance), the standard errors
    given the variance (``vcov(use.hessian = FALSE)``), which of the two ``se`` is, and
    whether the optimum converged.
    """
    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = model.loglik(params, gradient=True)
        return -value, -gradient

    def gradient(params: np.ndarray) -> np.ndarray:
        return objective(params)[1]

    bounds = [(None, None)] * x.shape[1] + [(0.0, None)]
    found = optimize.minimize(objective, np.append(start_beta, 1.0), jac=True, method="L-BFGS-B", bounds=bounds,
                              options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 5000})
    params = found.x
    if not np.all(np.isfinite(params)):
        raise ConvergenceError(f"{spec_name(spec)}: the Laplace likelihood could not be maximised")
    hessian = None
    converged = bool(found.success)
    if params[-1] > 1e-4:  # interior optimum: polish by Newton steps
        for _ in range(POLISH_NEWTON_STEPS):
            hessian = _hessian_from_gradient(gradient, params)
            try:
                step = np.linalg.solve(hessian, gradient(params))
            except np.linalg.LinAlgError:
                break
            if -objective(params - step)[0] < -objective(params)[0] - 1e-9:
                break
            params = params - step
            if np.abs(step).max() < 1e-10:
                converged = True
                break
        hessian = _hessian_from_gradient(gradient, params)
    beta, sd = params[:-1], abs(params[-1])
    variance = sd ** 2
    loglik = model.loglik(np.append(beta, sd))
    modes = model.conditional_modes(x @ beta, sd)

    se_given_variance = np.sqrt(np.diag(np.linalg.inv(_information_given_variance(model, beta, sd))))
    if hessian is not None:
        se, se_type = np.sqrt(np.diag(np.linalg.inv(hessian))[:-1]), "hessian (lme4 default)"
    else:
        se, se_type = se_given_variance, "given variance (variance at or near the boundary 0)"
    return beta, variance, float(loglik), modes, se, se_given_variance, se_type, converged


PROFILE_SD_TOLERANCE = 1e-6  # the profile interval's limits are found to this absolute tolerance on the sd scale
PROFILE_MAX_DOUBLINGS = 40  # doublings of the sd searched for the upper limit before giving up


def _information_given_variance(model: _Laplace, beta: np.ndarray, sd: float) -> np.ndarray:
    """The fixed effects' information given the variance: the beta block of the inverse of the
    penalised information [X'WX, X'WZ; Z'WX, Z'WZ + 1/v] (Z the group indicators), at the
    conditional modes; lme4's ``vcov(use.hessian = FALSE)`` is its inverse."""
    x, group, n_groups = model.x, model.group, model.n_groups
    w = model.family.weight(x @ beta + model.modes[group])
    xwx = (x * w[:, None]).T @ x
    xwz = np.stack([np.bincount(group, weights=w * col, minlength=n_groups) for col in x.T])  # (p, G)
    zwz = np.bincount(group, weights=w, minlength=n_groups) + (1 / sd ** 2 if sd > 0 else np.inf)
    return xwx - (xwz / zwz) @ xwz.T


def _profile_loglik(model: _Laplace, sd: float, start_beta: np.ndarray, spec) -> tuple[float, np.ndarray]:
    """The Laplace log-likelihood maximised over the fixed effects with the sd held at ``sd``.

    Newton steps with the information given the variance (the exact Hessian but for the slowly
    varying log-determinant term), halved while they lower the likelihood: from the warm start
    of the neighbouring sd they converge in a few steps.
    """
    beta = np.asarray(start_beta, float).copy()
    value, gradient = model.loglik(np.append(beta, sd), gradient=True)
    for _ in range(MODE_NEWTON_STEPS):
        step = np.linalg.solve(_information_given_variance(model, beta, sd), gradient[:-1])
        for _ in range(30):
            trial_value, trial_gradient = model.loglik(np.append(beta + step, sd), gradient=True)
            if trial_value >= value - 1e-10:
                break
            step = step / 2
        else:
            raise ConvergenceError(f"{spec_name(spec)}: the profile likelihood at sd = {sd:.4g} could not be maximised")
        beta, value, gradient = beta + step, trial_value, trial_gradient
        if np.abs(step).max() < 1e-9:
            return float(value), beta
    raise ConvergenceError(f"{spec_name(spec)}: the profile likelihood at sd = {sd:.4g} did not converge")


def _profile_interval(model: _Laplace, beta: np.ndarray, sd: float, loglik: float, level: float, spec) -> tuple[float, float]:
    """Profile-likelihood interval of the sd: where twice the drop from the maximum reaches chi2_1(level).

    The lower limit is 0 when the profile at sd = 0 lies within the drop (a variance that the
    data cannot tell from none). Limits by Brent's method on the sd scale; the variance's
    interval is their square (the interval is invariant to monotone transforms, so the MOR's
    and ICC's follow from it too).
    """
    drop = float(stats.chi2.ppf(level, 1)) / 2
    warm = {"beta": beta.copy()}
    saved_modes = model.modes.copy()

    def excess(s: float) -> float:  # > 0 outside the interval
        value, warm["beta"] = _profile_loglik(model, s, warm["beta"], spec)
        return loglik - value - drop

    try:
        if sd < 1e-8 or excess(0.0) <= 0:
            lower = 0.0
        else:
            warm["beta"] = beta.copy()
            lower = optimize.brentq(excess, 0.0, sd, xtol=PROFILE_SD_TOLERANCE)
        warm["beta"] = beta.copy()
        low, high = max(sd, 1e-3), max(2 * sd, 0.05)
        for _ in range(PROFILE_MAX_DOUBLINGS):
            if excess(high) > 0:
                break
            low, high = high, 2 * high
        else:
            raise ConvergenceError(f"{spec_name(spec)}: the profile likelihood of the group sd does not fall by "
                                   f"{drop:.2f} below sd = {high:.3g}; the upper limit is unbounded")
        upper = optimize.brentq(excess, low, high, xtol=PROFILE_SD_TOLERANCE)
    finally:
        model.modes = saved_modes
    return float(lower), float(upper)


def _glmm_result(result_type, method: str, spec, model: _Laplace, names: list[str], levels: pd.Index,
                 estimands: tuple[str, str], between, beta, variance, loglik, modes, se, se_given_variance, se_type,
                 converged, *, n_events: int, n_rows: int, n_rows_collapsed: int):
    """The result of a GLMM fit: ratio rows for the fixed effects (``estimands``: the intercept's
    and the others'), rows for the between-group measures (``between``: name and a function of
    the variance; with ``spec.profile_level`` their profile interval), diagnostics."""
    interval = None
    if spec.profile_level is not None:
        sd_low, sd_high = _profile_interval(model, np.asarray(beta), float(np.sqrt(variance)), loglik,
                                            spec.profile_level, spec)
        interval = (sd_low ** 2, sd_high ** 2)
    diagnostics = {
        "converged": converged, "approximation": "laplace", "optimizer": "L-BFGS-B, Newton polish", "loglik": loglik,
        "n_groups": len(levels), "n_rows_collapsed": n_rows_collapsed, "n_rows": n_rows,
        "variance_at_boundary": variance < 1e-8, "se_type": se_type,
    }
    if interval is not None:
        diagnostics["variance_interval"] = {"interval_method": "profile likelihood", "interval_level": spec.profile_level,
                                            "variance_low": interval[0], "variance_high": interval[1]}
    rows = coefficient_rows(names, beta, se, estimand=estimands[1], intercept_estimand=estimands[0], n_events=n_events,
                            extra={"se_given_variance": se_given_variance})
    for estimand, of_variance in between:
        low, high = (np.nan, np.nan) if interval is None else (of_variance(interval[0]), of_variance(interval[1]))
        rows.append({"estimand": estimand, "term": spec.group, "subgroup": None, "level": None,
                     "estimate": of_variance(variance), "std_error": np.nan, "conf_low": low, "conf_high": high,
                     "p_value": np.nan, "n_persons": None, "n_events": n_events})
    summary = make_summary(rows, analysis_id=spec.analysis_id, method=method, diagnostics=diagnostics)
    index = pd.Index(names, name="term")
    w = model.family.weight(model.x @ beta + modes[model.group])
    precision = np.bincount(model.group, weights=w, minlength=len(levels)) + (1 / variance if variance > 0 else np.inf)
    group_index = pd.Index(levels, name=spec.group)
    return result_type(
        analysis_id=spec.analysis_id, method=method, summary=summary, diagnostics=diagnostics, tables={},
        coef=pd.Series(beta, index=index, name="coef"), se=pd.Series(se, index=index, name="se"),
        variance=float(variance), random_effects=pd.Series(modes, index=group_index),
        random_effect_variances=pd.Series(1 / precision, index=group_index), loglik=float(loglik),
        variance_interval=interval,
    )


def median_ratio(variance: float) -> float:
    """Median odds (or rate) ratio of a random-intercept variance: exp(sqrt(2 v) z_0.75)."""
    return float(np.exp(np.sqrt(2 * variance) * _Q75))


def latent_icc(variance: float) -> float:
    """Latent-scale intra-class correlation of a logistic random intercept: v / (v + pi^2/3)."""
    return float(variance / (variance + _LOGISTIC_VARIANCE))


def fit_glmm_binomial(data: pd.DataFrame, spec: GlmmBinomialSpec) -> GlmmBinomialResult:
    """Random-intercept logistic regression, maximising the Laplace approximation as
    ``lme4::glmer(cbind(y, n - y) ~ ... + (1 | group), family = binomial)`` does (nAGQ = 1).

    Maximised with the analytic gradient (L-BFGS-B, then Newton steps on the Hessian from
    differences of the gradient) to a tighter optimum than glmer's default stopping rule.
    Standard errors as lme4's default ``vcov``: the fixed-effect block of the inverse Hessian
    over (beta, sd). Between-group variation is reported as the random-intercept variance v,
    the median odds ratio exp(sqrt(2 v) * z_0.75) and the latent-scale intra-class correlation
    v / (v + pi^2/3).

    Returns
    -------
    GlmmBinomialResult
        ``summary``: 'odds_ratio' rows for the fixed effects ('odds' for the intercept), and
        'variance', 'median_odds_ratio', 'icc_latent' rows for the group (no standard error).
    """
    require_columns(data, spec, {"successes": [spec.successes], "trials": [spec.trials], "group": [spec.group],
                                 "offset": [spec.offset]})
    errors: list[str] = []
    y = numeric_column(data, spec.successes, "successes", errors)
    n = numeric_column(data, spec.trials, "trials", errors) if spec.trials else np.ones(len(data))
    offset = numeric_column(data, spec.offset, "offset", errors) if spec.offset else None
    check(y < 0, f"successes column {spec.successes!r} must be non-negative", data, errors)
    check(y > n, f"successes ({spec.successes!r}) exceed trials", data, errors)
    check(data[spec.group].isna().to_numpy(), f"group column {spec.group!r} has missing values", data, errors)
    raise_if(errors, spec)
    design = formula_design(data, spec.formula_rhs, spec)
    group, levels = _groups(data, spec)
    names = list(design.columns)
    if offset is None:
        y_c, n_c, x, group_c = _collapse(y, n, design.to_numpy(), group)
        o_c = np.zeros(len(y_c))
    else:  # rows differ by their offsets: collapsed only where the offset is equal too
        y_c, n_c, xo, group_c = _collapse(y, n, np.column_stack([design.to_numpy(), offset]), group)
        x, o_c = xo[:, :-1], xo[:, -1]
    constant = _log_binomial_coefficients(y, n) - _log_binomial_coefficients(y_c, n_c)
    model = _Laplace(_Binomial(y_c, n_c, o_c), x, group_c, len(levels), constant + _log_binomial_coefficients(y_c, n_c))
    # start from the ordinary logistic fit; the sd is kept >= 0 by its bound
    start_beta = _start(lambda b: (-float(np.sum(y_c * (x @ b + o_c) - n_c * np.logaddexp(0, x @ b + o_c))),
                                   -x.T @ (y_c - n_c * special.expit(x @ b + o_c))), x.shape[1])
    beta, variance, loglik, modes, se, se_given_variance, se_type, converged = _maximise(model, x, group_c, len(levels),
                                                                                          start_beta, spec)
    return _glmm_result(
        GlmmBinomialResult, "glmm_binomial", spec, model, names, levels, ("odds", "odds_ratio"),
        (("variance", float), ("median_odds_ratio", median_ratio), ("icc_latent", latent_icc)),
        beta, variance, loglik, modes, se, se_given_variance, se_type, converged,
        n_events=int(round(y.sum())), n_rows=len(data), n_rows_collapsed=len(y_c),
    )


@dataclass(frozen=True)
class GlmmPoissonSpec:
    """What to fit with :func:`fit_glmm_poisson`.

    Parameters
    ----------
    events : str
        Column with the number of events in each row (cells of person-time).
    exposure : str
        Column with the person-time of each row (> 0); its log is the offset.
    formula_rhs : str
        Fixed effects as a patsy right-hand side, e.g. ``"sex"``.
    group : str
        Column whose levels get a normal random intercept (e.g. the region).
    profile_level : float, optional
        As for `GlmmBinomialSpec`.
    analysis_id : str
    """

    events: str
    exposure: str
    formula_rhs: str
    group: str
    profile_level: float | None = None
    analysis_id: str = "glmm_poisson"


@dataclass(frozen=True, eq=False)
class GlmmPoissonResult(Result):
    """Result of :func:`fit_glmm_poisson`: as `GlmmBinomialResult`, on the log-rate scale."""

    coef: pd.Series = field(kw_only=True)
    se: pd.Series = field(kw_only=True)
    variance: float = field(kw_only=True)
    random_effects: pd.Series = field(kw_only=True)
    random_effect_variances: pd.Series = field(kw_only=True)
    loglik: float = field(kw_only=True)
    variance_interval: tuple[float, float] | None = field(kw_only=True, default=None)


def fit_glmm_poisson(data: pd.DataFrame, spec: GlmmPoissonSpec) -> GlmmPoissonResult:
    """Random-intercept Poisson regression with an offset, by the Laplace approximation, as
    ``lme4::glmer(events ~ ... + (1 | group) + offset(log(exposure)), family = poisson)``.

    Rows with the same design row and group are summed (events and exposure: the same
    likelihood up to a constant, which is added back so the log-likelihood is lme4's).
    Between-group variation: the variance v and the median rate ratio exp(sqrt(2 v) z_0.75).

    Returns
    -------
    GlmmPoissonResult
        ``summary``: 'rate' (intercept) and 'rate_ratio' rows for the fixed effects, and
        'variance' and 'median_rate_ratio' rows for the group (no standard error).
    """
    require_columns(data, spec, {"events": [spec.events], "exposure": [spec.exposure], "group": [spec.group]})
    errors: list[str] = []
    y = numeric_column(data, spec.events, "events", errors)
    t = numeric_column(data, spec.exposure, "exposure", errors)
    check(y < 0, f"events column {spec.events!r} must be non-negative", data, errors)
    check(~(t > 0), f"exposure column {spec.exposure!r} must be positive", data, errors)
    check(data[spec.group].isna().to_numpy(), f"group column {spec.group!r} has missing values", data, errors)
    raise_if(errors, spec)
    design = formula_design(data, spec.formula_rhs, spec)
    group, levels = _groups(data, spec)
    names = list(design.columns)
    y_c, t_c, x, group_c = _collapse(y, t, design.to_numpy(), group)
    offset = np.log(t_c)
    # the rows' own constants: sum y_i log t_i - log y_i!, against the collapsed rows' Y log T
    constant = float(np.sum(y * np.log(t) - special.gammaln(y + 1)) - np.sum(y_c * offset))
    model = _Laplace(_Poisson(y_c, offset), x, group_c, len(levels), constant)
    start_beta = _start(lambda b: (-float(np.sum(y_c * (x @ b + offset) - np.exp(x @ b + offset))),
                                   -x.T @ (y_c - np.exp(x @ b + offset))), x.shape[1])
    beta, variance, loglik, modes, se, se_given_variance, se_type, converged = _maximise(model, x, group_c, len(levels),
                                                                                          start_beta, spec)
    return _glmm_result(
        GlmmPoissonResult, "glmm_poisson", spec, model, names, levels, ("rate", "rate_ratio"),
        (("variance", float), ("median_rate_ratio", median_ratio)),
        beta, variance, loglik, modes, se, se_given_variance, se_type, converged,
        n_events=int(round(y.sum())), n_rows=len(data), n_rows_collapsed=len(y_c),
    )
