"""The planted outcome model: hazard inversions, true cumulative incidence, and the effect in the data."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from statsmodels.duration.hazard_regression import PHReg

from pipeline.synth.model import (
    DEFAULT_PARAMETERS,
    draw_piecewise_times,
    draw_recovery_times,
    piecewise_cumhaz,
    recovery_cumhaz,
    return_to_work_cumulative_incidence,
)
from data_schemas.tables import prior_sick_days_band_labels
from pipeline.synth.model import prior_sick_days_band_index
from pipeline.synth.simulate import simulate
from pipeline.synth.truth import labelled_spells, spell_outcomes


def test_recovery_draws_follow_the_piecewise_weibull_hazard():
    rng = np.random.default_rng(1)
    n = 200_000
    kw = dict(eta=np.full(n, 0.3), scale=np.full(n, 100.0), shape=0.8, gamma=np.full(n, math.log(1.4)), t_c=np.full(n, 40.0))
    t = draw_recovery_times(rng.exponential(size=n), entry=np.full(n, 14.0), **kw)
    assert (t > 14).all()
    h14 = recovery_cumhaz(14.0, **{k: v[0] if isinstance(v, np.ndarray) else v for k, v in kw.items()})
    for x in (20.0, 40.0, 41.0, 90.0, 300.0):
        expected = math.exp(-(recovery_cumhaz(x, **{k: v[0] if isinstance(v, np.ndarray) else v for k, v in kw.items()}) - h14))
        assert (t > x).mean() == pytest.approx(expected, abs=0.004), x


def test_piecewise_constant_draws_and_zero_hazard_bands():
    rng = np.random.default_rng(2)
    n = 200_000
    starts, rates = (0, 15, 61, 181, 366), (0.001, 0.004, 0.0015, 0.0005, 0.0)
    t = draw_piecewise_times(rng.exponential(size=n), starts, rates, np.full(n, 1.5), np.zeros(n))
    assert np.isinf(t).any() and (t[np.isfinite(t)] < 366).all()
    for x in (10.0, 15.0, 60.0, 200.0, 365.0):
        assert (t > x).mean() == pytest.approx(math.exp(-piecewise_cumhaz(x, starts, rates, 1.5)), abs=0.004)
    # A band with zero hazard holds no event.
    t2 = draw_piecewise_times(rng.exponential(size=n), (0, 90, 181), (0.0, 0.001, 0.002), np.ones(n), np.zeros(n))
    assert (t2 >= 90).all()


def test_true_cumulative_incidence_matches_simulation():
    """The analytic CIF of recovery (against death, SA, emigration) equals a Monte Carlo of the same model."""
    p = DEFAULT_PARAMETERS
    rng = np.random.default_rng(3)
    n = 200_000
    group, age_group, eta, t_c = "depression", "50-59", -0.4, 30.0
    scale = p.weibull_scale(group)
    gamma = p.coordination_log_hr("psychiatric")
    T_r = draw_recovery_times(rng.exponential(size=n), eta=np.full(n, eta), scale=np.full(n, scale), shape=p.weibull_shape,
                              gamma=np.full(n, gamma), t_c=np.full(n, t_c), entry=np.zeros(n))
    from pipeline.synth.model import death_log_multiplier, sa_log_multiplier, AGE_GROUPS, DIAGNOSIS_GROUPS
    a = np.full(n, AGE_GROUPS.index(age_group))
    g = np.full(n, DIAGNOSIS_GROUPS.index(group))
    T_d = draw_piecewise_times(rng.exponential(size=n), (0,), (p.death_rate,), np.exp(death_log_multiplier(p, age_group=a, diagnosis_group=g)), np.zeros(n))
    T_e = draw_piecewise_times(rng.exponential(size=n), (0,), (p.emigration_rate,), np.ones(n), np.zeros(n))
    T_sa = draw_piecewise_times(rng.exponential(size=n), p.sa_band_starts, p.sa_band_rates,
                                np.exp(sa_log_multiplier(p, age_group=a, eta=np.full(n, eta))), np.zeros(n))
    first = np.minimum.reduce([T_d, T_e, T_sa])
    days = np.array([30.0, 90.0, 180.0, 365.0, 730.0])
    cif = return_to_work_cumulative_incidence(p, days, eta=eta, diagnosis_group=group, age_group=age_group,
                                              is_born_in_sweden=True, t_c=t_c)
    for d, c in zip(days, cif):
        assert ((T_r <= d) & (T_r < first)).mean() == pytest.approx(c, abs=0.004), d
    never = return_to_work_cumulative_incidence(p, days, eta=eta, diagnosis_group=group, age_group=age_group,
                                                is_born_in_sweden=True)
    assert (cif[1:] > never[1:]).all()  # coordination from day 30 speeds recovery


def _counting_process(spells: pl.DataFrame, extraction_day: int) -> tuple[np.ndarray, ...]:
    """(entry, exit, event, exposure) rows of the studied spells on the continuous latent time scale."""
    s = spells["start_day"].to_numpy()
    T_r = spells["T_r"].to_numpy()
    competing = np.minimum.reduce([spells[c].to_numpy() for c in ("T_d", "T_e", "T_sa")])
    censor = np.minimum(extraction_day - s + 1.0, spells["age_65_day"].to_numpy() - s + 0.0)
    stop = np.minimum.reduce([T_r, competing, censor])
    event = (T_r <= stop).astype(float)
    t_c = spells["t_c"].to_numpy()
    entry = np.full(len(s), 14.0)
    before = t_c > entry
    row_entry = np.concatenate([entry, np.maximum(t_c, entry)])
    row_exit = np.concatenate([np.minimum(stop, np.where(before, t_c, entry)), stop])
    row_event = np.concatenate([np.where(t_c >= stop, event, 0.0), np.where(t_c < stop, event, 0.0)])
    exposed = np.concatenate([np.zeros(len(s)), np.ones(len(s))])
    keep = row_exit > row_entry
    idx = np.concatenate([np.arange(len(s)), np.arange(len(s))])[keep]
    return idx, row_entry[keep], row_exit[keep], row_event[keep], exposed[keep]


GROUPS = ("psychiatric", "musculoskeletal", "other")
PRIOR_BANDS = prior_sick_days_band_labels()


def _design(persons: int, seed: int):
    """Counting-process rows of the studied ground-truth spells: exposure by chapter group, then covariates."""
    gt = simulate(persons, seed=seed)
    lab = labelled_spells(gt, spell_outcomes(gt)).filter(pl.col("is_included"))
    idx, entry, exit_, event, exposed = _counting_process(lab, gt.window.extraction_day)
    X = lab.select(
        woman=pl.col("is_woman").cast(float),
        **{f"age_{a}": (pl.col("age_group") == a).cast(float) for a in ("16-29", "40-49", "50-59", "60-64")},
        **{f"occ_{o}": (pl.col("occupation_status") == o).cast(float) for o in ("ARBL", "EGEN", "OVR")},
        partial=(pl.col("extent_at_start_pct") < 100).cast(float),
        **{f"prior_{b}": pl.Series(prior_sick_days_band_index(lab["prior_sick_days_365"].to_numpy()) == i).cast(float)
           for i, b in enumerate(PRIOR_BANDS) if i},
        **{f"edu_{e}": (pl.col("education_group") == e).cast(float) for e in ("low", "high", "unknown")},
        born_se=pl.col("is_born_in_sweden").cast(float),
        **{f"dg_{g}": (pl.col("diagnosis_group") == g).cast(float) for g in lab["diagnosis_group"].unique().sort()[1:]},
    )
    chapter = lab["diagnosis_chapter_group"].to_numpy()[idx]
    chap = np.where(chapter == "unknown", "other", chapter)  # same planted HR (1.10)
    Z = np.column_stack([exposed * (chap == c) for c in GROUPS])
    return entry, exit_, event, np.column_stack([Z, X.to_numpy()[idx]]), ["coord_" + c for c in GROUPS] + X.columns


def _fit_weibull_ph(entry, exit_, event, X):
    """Weibull proportional-hazards MLE with delayed entry, by Newton-Raphson on the exact log likelihood.

    ``h(t) = k t^(k-1) exp(c + X beta)``; returns ``(params, se)`` with params = ``(k, c, beta...)``.
    """
    A = np.column_stack([np.ones(len(X)), X])
    log_b, log_a = np.log(exit_), np.log(entry)

    def parts(theta):
        k, g = theta[0], theta[1:]
        z = A @ g
        ez = np.exp(z)
        bk, ak = np.exp(k * log_b), np.exp(k * log_a)
        u, u_k, u_kk = bk - ak, bk * log_b - ak * log_a, bk * log_b**2 - ak * log_a**2
        ll = event @ (np.log(k) + (k - 1) * log_b + z) - (u * ez).sum()
        grad = np.concatenate([[event @ (1 / k + log_b) - (ez * u_k).sum()], A.T @ (event - u * ez)])
        hess = np.empty((len(theta), len(theta)))
        hess[0, 0] = -event.sum() / k**2 - (ez * u_kk).sum()
        hess[0, 1:] = hess[1:, 0] = -(A.T @ (ez * u_k))
        hess[1:, 1:] = -(A.T * (u * ez)) @ A
        return ll, grad, hess

    theta = np.zeros(A.shape[1] + 1)
    theta[0] = 1.0
    theta[1] = math.log(event.sum() / (exit_ - entry).sum())  # the exponential fit as the start
    ll, grad, hess = parts(theta)
    for _ in range(100):
        step = np.linalg.solve(hess, -grad)
        t = 1.0
        while True:  # halve the step until the likelihood improves (and k stays positive)
            cand = theta + t * step
            if cand[0] > 0:
                new = parts(cand)
                if new[0] >= ll - 1e-9:
                    break
            t /= 2
            assert t > 1e-8, "Newton-Raphson failed to improve the likelihood"
        converged = np.abs(t * step).max() < 1e-7
        theta, (ll, grad, hess) = cand, new
        if converged:
            break
    return theta, np.sqrt(np.diag(np.linalg.inv(-hess)))


def test_weibull_model_recovers_every_planted_effect():
    """A correctly specified parametric fit on ~20k persons' spells finds the planted log HRs within 3 SE."""
    entry, exit_, event, X, names = _design(20_000, seed=7)
    theta, se = _fit_weibull_ph(entry, exit_, event, X)
    est = dict(zip(["shape", "intercept", *names], theta))
    err = dict(zip(["shape", "intercept", *names], se))
    p = DEFAULT_PARAMETERS
    assert abs(est["shape"] - p.weibull_shape) < 3 * err["shape"]
    for c in GROUPS:
        assert abs(est["coord_" + c] - p.coordination_log_hr(c)) < 3 * err["coord_" + c], c
    planted = {"woman": "woman", "age_16-29": "age_16_29", "age_60-64": "age_60_64", "occ_ARBL": "occupation_ARBL",
               "partial": "partial_extent", "edu_high": "education_high", "born_se": "born_in_sweden"}
    for name, term in planted.items():
        assert abs(est[name] - p.beta[term]) < 3 * err[name], name
    for band in PRIOR_BANDS[1:]:  # the graded confounder, band by band
        assert abs(est[f"prior_{band}"] - p.prior_sick_days_effects[band]) < 3 * err[f"prior_{band}"], band
    # The amount matters, not only yes/no: the longest band differs from the shortest beyond chance.
    lo, hi = f"prior_{PRIOR_BANDS[1]}", f"prior_{PRIOR_BANDS[-1]}"
    assert est[lo] - est[hi] > 3 * math.hypot(err[lo], err[hi])


@pytest.mark.slow
def test_cox_recovers_the_planted_coordination_effect_by_chapter_group():
    """Cox with time-varying coordination (statsmodels PHReg, delayed entry) on the ground-truth spells."""
    entry, exit_, event, X, names = _design(8_000, seed=9)
    fit = PHReg(exit_, X, status=event, entry=entry, ties="breslow").fit()
    for j, c in enumerate(GROUPS):
        assert abs(fit.params[j] - DEFAULT_PARAMETERS.coordination_log_hr(c)) < 3 * fit.bse[j], c


def test_coordination_is_confounded_by_indication():
    """Worse prognosis (lower eta) gets more coordination: a naive comparison is biased."""
    gt = simulate(20_000, seed=8)
    lab = labelled_spells(gt, spell_outcomes(gt)).filter(pl.col("is_included"))
    low = lab.filter(pl.col("eta") < lab["eta"].median())["is_coordinated"].mean()
    high = lab.filter(pl.col("eta") >= lab["eta"].median())["is_coordinated"].mean()
    assert low > high
    # Region effects on coordination exist (the home region's u): coordination share varies by region.
    by_region = lab.group_by("home_region").agg(pl.col("is_coordinated").mean(), pl.len()).filter(pl.col("len") > 300)
    assert by_region["is_coordinated"].max() - by_region["is_coordinated"].min() > 0.08


def test_region_effects_plant_the_outliers_and_make_v_orthogonal_to_exp_u():
    """u keeps its stream's draws (outliers set); v is weighted-orthogonal to exp(u) with mean zero."""
    from data_schemas.codes import regions
    from pipeline.synth.simulate import draw_region_effects, rng_for

    p = DEFAULT_PARAMETERS
    codes = [r.code for r in regions()]
    w = np.array([r.population_2023 for r in regions()], float)
    w /= w.sum()
    for seed in (7, 2026):
        u, v = draw_region_effects(p, seed)
        raw_u = rng_for(seed, "regions_u").normal(0.0, p.coordination_region_sd, size=len(codes))
        raw_v = rng_for(seed, "regions_v").normal(0.0, p.return_to_work_region_sd, size=len(codes))
        for i, code in enumerate(codes):
            assert u[i] == (p.coordination_region_outliers[code] if code in p.coordination_region_outliers else raw_u[i])
        for code, value in p.return_to_work_region_outliers.items():
            assert v[codes.index(code)] == value
        assert (w * v).sum() == pytest.approx(0.0, abs=1e-12)
        assert (w * np.exp(u) * v).sum() == pytest.approx(0.0, abs=1e-12)
        free = ~np.isin(codes, list(p.return_to_work_region_outliers))
        # the shift that makes v orthogonal is small for most regions; the spread stays about the planted sd
        assert np.median(np.abs(v[free] - raw_v[free])) < 0.05 and np.abs(v[free] - raw_v[free]).max() < 0.3
        assert 0.5 * p.return_to_work_region_sd < v[free].std(ddof=1) < 2 * p.return_to_work_region_sd


def test_region_v_acts_on_return_to_work_only():
    """v moves recovery times (as eta does) but neither coordination nor sickness compensation."""
    import dataclasses

    from pipeline.synth.model import _frozen

    no_v = dataclasses.replace(DEFAULT_PARAMETERS, return_to_work_region_sd=0.0,
                               return_to_work_region_outliers=_frozen({}))
    a = simulate(1500, seed=4).spells
    b = simulate(1500, seed=4, params=no_v).spells
    assert np.abs(simulate(10, seed=4, params=no_v).region_v).max() == 0.0
    n = min(a.height, b.height)
    first = a.filter(pl.col("spell_index") == 0).head(n), b.filter(pl.col("spell_index") == 0).head(n)
    # the first spells of the same persons: same draws of coordination and SA, other recovery times
    assert np.array_equal(first[0]["T_c"].to_numpy(), first[1]["T_c"].to_numpy())
    assert np.array_equal(first[0]["T_sa"].to_numpy(), first[1]["T_sa"].to_numpy())
    assert not np.array_equal(first[0]["T_r"].to_numpy(), first[1]["T_r"].to_numpy())


def test_true_cumulative_incidence_takes_the_region_v():
    p = DEFAULT_PARAMETERS
    days = np.array([30.0, 90.0, 365.0])
    kw = dict(diagnosis_group="back_pain", age_group="40-49", is_born_in_sweden=True)
    shifted = return_to_work_cumulative_incidence(p, days, eta=0.1, v_region=-0.45, **kw)
    assert np.allclose(shifted, return_to_work_cumulative_incidence(p, days, eta=-0.35, **kw), atol=0.01)
    assert (shifted < return_to_work_cumulative_incidence(p, days, eta=0.1, **kw)).all()
