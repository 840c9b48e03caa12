"""Indirect standardisation and funnel limits with over-dispersion (units such as regions).

Two steps, as the reference (`../shared/reference/make_reference_regions.R`, `uptake_funnel`):

1. `expected_counts`: a national logistic model without the unit, fitted to the case-mix
   (``glm(cbind(y, n - y) ~ case-mix, binomial)``, here `fit_logistic` with the trials as
   weights; it raises ConvergenceError rather than return an unconverged model), gives each
   row's expected successes ``n * p``; summed per unit they are E, beside the observed O.
2. `fit_funnel`: on the log ratio scale (the SHMI transform) y = log(O/E), s = 1/sqrt(E),
   z = y/s. Over-dispersion is estimated from z winsorised at its 10th and 90th percentiles
   (R's quantile type 7): phi = mean of the winsorised z², and the additive random-effects
   variance tau² = max(0, (I·phi - (I - 1)) / (Σw - Σw²/Σw)), w = 1/s² (DerSimonian-Laird
   form, Spiegelhalter 2005). Limits at each level: exp(±q·sqrt(s² + tau²)) (random effects),
   and the exact Poisson limits of O/E when E is the Poisson mean:
   qchisq(α/2, 2E)/(2E) and qchisq(1 - α/2, 2(E + 1))/(2E). A unit whose O/E lies outside the
   random-effects limits at a level is flagged at that level; the exact limits show what
   chance alone would allow without over-dispersion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analyses.estimators._common import check, formula_design, numeric_column, raise_if, require_columns
from analyses.estimators.logistic import INTERCEPT, LogisticSpec, fit_logistic, fitted_probability
from analyses.results import Result, make_summary

FUNNEL_LEVELS = (0.95, 0.998)  # the two limits of a funnel plot: about 2 and 3 standard deviations
WINSOR_QUANTILE = 0.10  # z-scores winsorised at the 10th and 90th percentiles before phi


def level_tag(level: float) -> str:
    """``0.95 -> '95'``, ``0.998 -> '998'``: the suffix of a level's limit columns."""
    return f"{level:.6g}".split(".")[1] if level < 1 else "100"


@dataclass(frozen=True)
class ExpectedSpec:
    """What `expected_counts` standardises.

    successes, trials : columns of successes and trials per row (aggregated cells or persons).
    formula_rhs : the case-mix as a patsy right-hand side, e.g. ``"sex + age_group"``.
    unit : the column naming the unit (e.g. ``home_region_code``); not in the model.
    """

    successes: str
    trials: str
    formula_rhs: str
    unit: str
    analysis_id: str = "expected_counts"


def expected_probabilities(data: pd.DataFrame, spec: ExpectedSpec) -> np.ndarray:
    """Each row's fitted probability from the national model without the unit (``spec.formula_rhs``)."""
    require_columns(data, spec, {"successes": [spec.successes], "trials": [spec.trials], "unit": [spec.unit]})
    errors: list[str] = []
    y = numeric_column(data, spec.successes, "successes", errors)
    n = numeric_column(data, spec.trials, "trials", errors)
    check(y < 0, f"successes column {spec.successes!r} must be non-negative", data, errors)
    check(y > n, f"successes ({spec.successes!r}) exceed trials", data, errors)
    check(data[spec.unit].isna().to_numpy(), f"unit column {spec.unit!r} has missing values", data, errors)
    raise_if(errors, spec)
    design = formula_design(data, spec.formula_rhs, spec)
    covariates = [c for c in design.columns if c != INTERCEPT]
    cells = design[covariates].set_axis([f"x{j}" for j in range(len(covariates))], axis=1)
    cells["_share"] = np.divide(y, n, out=np.zeros(len(y)), where=n > 0)
    cells["_trials"] = n
    fit = fit_logistic(cells, LogisticSpec("_share", tuple(cells.columns[:-2]), weights="_trials",
                                           analysis_id=f"{spec.analysis_id}: national case-mix model"))
    return fitted_probability(design.to_numpy(), fit.coef.to_numpy())


def units_from_probabilities(data: pd.DataFrame, spec: ExpectedSpec, probability: np.ndarray) -> pd.DataFrame:
    """Observed O, expected E = sum of trials × probability, trials and O/E per unit (sorted)."""
    n = data[spec.trials].to_numpy(float)
    frame = pd.DataFrame({"unit": data[spec.unit].to_numpy(), "observed": data[spec.successes].to_numpy(float),
                          "expected": n * probability, "trials": n})
    out = frame.groupby("unit", sort=True).sum().reset_index()
    out["oe"] = out["observed"] / out["expected"]
    return out


def expected_counts(data: pd.DataFrame, spec: ExpectedSpec) -> pd.DataFrame:
    """Observed and expected successes per unit from a national model without the unit.

    Returns one row per unit (sorted): ``unit``, ``observed``, ``expected``, ``trials``, ``oe``.
    """
    return units_from_probabilities(data, spec, expected_probabilities(data, spec))


@dataclass(frozen=True)
class FunnelSpec:
    """What `fit_funnel` draws: a frame with one row per unit and its observed and expected counts."""

    unit: str = "unit"
    observed: str = "observed"
    expected: str = "expected"
    levels: tuple[float, ...] = FUNNEL_LEVELS
    winsor_quantile: float = WINSOR_QUANTILE
    analysis_id: str = "funnel"


@dataclass(frozen=True, eq=False)
class FunnelResult(Result):
    """Result of `fit_funnel`.

    Attributes
    ----------
    phi : float
        Over-dispersion factor (mean of the winsorised z²; about 1 when only chance varies).
    tau2 : float
        Additive random-effects variance of log(O/E) between units.
    units : pandas.DataFrame
        One row per unit: unit, observed, expected, oe, z, and per level
        ``lower_<tag>_random_effects``, ``upper_<tag>_random_effects``,
        ``lower_<tag>_poisson_exact``, ``upper_<tag>_poisson_exact`` and ``outside_<tag>``
        (O/E beyond the random-effects limits), with tag '95' and '998' for the default levels.
    """

    phi: float = field(kw_only=True)
    tau2: float = field(kw_only=True)
    units: pd.DataFrame = field(kw_only=True)


def fit_funnel(data: pd.DataFrame, spec: FunnelSpec = FunnelSpec()) -> FunnelResult:
    """O/E per unit, over-dispersion (phi, tau²) and funnel limits; see the module docstring."""
    require_columns(data, spec, {"unit": [spec.unit], "observed": [spec.observed], "expected": [spec.expected]})
    errors: list[str] = []
    o = numeric_column(data, spec.observed, "observed", errors)
    e = numeric_column(data, spec.expected, "expected", errors)
    check(o <= 0, f"observed column {spec.observed!r} must be positive (log O/E)", data, errors)
    check(e <= 0, f"expected column {spec.expected!r} must be positive", data, errors)
    if len(data) < 3:
        errors.append(f"a funnel needs at least 3 units, got {len(data)}")
    raise_if(errors, spec)

    y = np.log(o / e)
    s = 1 / np.sqrt(e)
    z = y / s
    lo, hi = np.quantile(z, [spec.winsor_quantile, 1 - spec.winsor_quantile])  # numpy's default = R type 7
    zw = np.clip(z, lo, hi)
    n_units = len(z)
    phi = float(np.sum(zw ** 2) / n_units)
    w = 1 / s ** 2
    tau2 = float(max(0.0, (n_units * phi - (n_units - 1)) / (w.sum() - (w ** 2).sum() / w.sum())))

    units = pd.DataFrame({"unit": data[spec.unit].to_numpy(), "observed": o, "expected": e, "oe": o / e, "z": z})
    for level in spec.levels:
        tag, alpha = level_tag(level), 1 - level
        q = stats.norm.ppf(1 - alpha / 2)
        half = q * np.sqrt(s ** 2 + tau2)
        units[f"lower_{tag}_random_effects"] = np.exp(-half)
        units[f"upper_{tag}_random_effects"] = np.exp(half)
        units[f"lower_{tag}_poisson_exact"] = stats.chi2.ppf(alpha / 2, 2 * e) / (2 * e)
        units[f"upper_{tag}_poisson_exact"] = stats.chi2.ppf(1 - alpha / 2, 2 * (e + 1)) / (2 * e)
        units[f"outside_{tag}"] = (units["oe"] < units[f"lower_{tag}_random_effects"]) | (
            units["oe"] > units[f"upper_{tag}_random_effects"])

    widest = level_tag(max(spec.levels))
    rows = [{"estimand": "observed_expected_ratio", "term": "unit", "subgroup": spec.unit, "level": str(u.unit),
             "estimate": float(u.oe), "conf_low": float(getattr(u, f"lower_{widest}_random_effects")),
             "conf_high": float(getattr(u, f"upper_{widest}_random_effects"))}
            for u in units.itertuples()]
    rows += [{"estimand": "overdispersion_phi", "term": "funnel", "subgroup": "all", "level": "all", "estimate": phi},
             {"estimand": "between_unit_variance_tau2", "term": "funnel", "subgroup": "all", "level": "all",
              "estimate": tau2}]
    diagnostics = {"n_units": n_units, "phi": phi, "tau2": tau2, "winsor_quantile": spec.winsor_quantile,
                   "confidence_levels": list(spec.levels),
                   "units_outside": {level_tag(lv): int(units[f"outside_{level_tag(lv)}"].sum()) for lv in spec.levels}}
    summary = make_summary(rows, analysis_id=spec.analysis_id, method="funnel", diagnostics=diagnostics)
    return FunnelResult(analysis_id=spec.analysis_id, method="funnel", summary=summary, diagnostics=diagnostics,
                        tables={"units": units}, phi=phi, tau2=tau2, units=units)
