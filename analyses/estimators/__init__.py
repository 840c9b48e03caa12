"""Survival and regression estimators in one shape: ``fit_<model>(data, spec) -> Result``."""

from analyses.estimators.aalen_johansen import AalenJohansenResult, AalenJohansenSpec, fit_aalen_johansen
from analyses.estimators.cox import CoxResult, CoxSpec, fit_cox
from analyses.estimators.fine_gray import FineGrayResult, FineGraySpec, fit_fine_gray
from analyses.estimators.funnel import ExpectedSpec, FunnelResult, FunnelSpec, expected_counts, fit_funnel
from analyses.estimators.glmm import (
    GlmmBinomialResult,
    GlmmBinomialSpec,
    GlmmPoissonResult,
    GlmmPoissonSpec,
    fit_glmm_binomial,
    fit_glmm_poisson,
    latent_icc,
    median_ratio,
)
from analyses.estimators.kaplan_meier import KaplanMeierResult, KaplanMeierSpec, fit_kaplan_meier
from analyses.estimators.logistic import LogisticResult, LogisticSpec, fit_logistic
from analyses.estimators.poisson import PoissonResult, PoissonSpec, fit_poisson

__all__ = [
    "AalenJohansenResult", "AalenJohansenSpec", "fit_aalen_johansen",
    "CoxResult", "CoxSpec", "fit_cox",
    "FineGrayResult", "FineGraySpec", "fit_fine_gray",
    "ExpectedSpec", "expected_counts", "FunnelResult", "FunnelSpec", "fit_funnel",
    "GlmmBinomialResult", "GlmmBinomialSpec", "fit_glmm_binomial",
    "GlmmPoissonResult", "GlmmPoissonSpec", "fit_glmm_poisson", "latent_icc", "median_ratio",
    "KaplanMeierResult", "KaplanMeierSpec", "fit_kaplan_meier",
    "LogisticResult", "LogisticSpec", "fit_logistic",
    "PoissonResult", "PoissonSpec", "fit_poisson",
]
