"""Survival and regression estimators in one shape: ``fit_<model>(data, spec) -> Result``."""

from analyses.estimators.aalen_johansen import AalenJohansenResult, AalenJohansenSpec, fit_aalen_johansen
from analyses.estimators.cox import CoxResult, CoxSpec, fit_cox
from analyses.estimators.fine_gray import FineGrayResult, FineGraySpec, fit_fine_gray
from analyses.estimators.glmm import GlmmBinomialResult, GlmmBinomialSpec, fit_glmm_binomial
from analyses.estimators.kaplan_meier import KaplanMeierResult, KaplanMeierSpec, fit_kaplan_meier
from analyses.estimators.poisson import PoissonResult, PoissonSpec, fit_poisson

__all__ = [
    "AalenJohansenResult", "AalenJohansenSpec", "fit_aalen_johansen",
    "CoxResult", "CoxSpec", "fit_cox",
    "FineGrayResult", "FineGraySpec", "fit_fine_gray",
    "GlmmBinomialResult", "GlmmBinomialSpec", "fit_glmm_binomial",
    "KaplanMeierResult", "KaplanMeierSpec", "fit_kaplan_meier",
    "PoissonResult", "PoissonSpec", "fit_poisson",
]
