"""Analysis specifications: explicit, validated, serialisable, read from the study's `[analyses]` table.

Every analysis `koord analyse` runs is an `AnalysisSpec`: an id (also the name of its results
table), a design, a description for people and the design's parameters. Parameters have
documented defaults; the study file's `[analyses]` table chooses which analyses run and may
override any parameter, for all analyses at once or for one::

    [analyses]
    run = ["tv_cox", "tv_poisson", "target_trial", "landmark", "naive_ever", "heterogeneity", "e_value"]
    bootstrap_replicates = 200        # a parameter here applies to every analysis that has it

    [analyses.target_trial]           # parameters of one analysis (a default id or a new one)
    controls_per_treated = 20

    [analyses.trial_weekly]           # a new id names its design
    design = "target_trial"
    description = "Weekly trials with a 7-day grace period (sensitivity)"
    trial_interval_days = 7
    grace_days = 7

Validation collects every error of the table and raises one `StudyDefinitionError`.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from datetime import date
from typing import Any, Mapping

from analyses.designs.covariates import CONFOUNDERS, DIMENSIONS, KNOWN_COVARIATES, NEED_PREDICTORS, REGION_CASE_MIX
from koord.errors import StudyDefinitionError

ANALYSIS_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # a SQL table name without quoting


def _rule(minimum: float | None = None, maximum: float | None = None, choices: tuple | None = None,
          items: tuple | None = None, doc: str = "") -> dict[str, Any]:
    """Field metadata the validator reads: numeric range, allowed values, allowed list items."""
    return {"min": minimum, "max": maximum, "choices": choices, "items": items, "doc": doc}


@dataclass(frozen=True)
class CommonParameters:
    """Parameters every design has.

    Attributes
    ----------
    confounders : tuple of str
        Baseline characteristics of the spell adjusted for (see `covariates.KNOWN_COVARIATES`).
    entry_day : int or None
        Follow-up starts at this many days after spell start (delayed entry). None takes the
        study's ``min_spell_days``: a spell enters the study only if it lasts longer than that,
        so no return to work can happen before it and counting that time would be immortal.
    by_sex : bool
        Also run the analysis for women and men separately.
    by_chapter_group : bool
        Also report the effect per diagnosis chapter group.
    min_level_size : int
        A covariate level with fewer spells (or no events) is merged into the reference level.
    seed : int
        Seed of every random step (control sampling, bootstrap).
    max_abs_smd, min_equipoise, max_mdrr, max_mde_risk_difference, min_events, min_support_share :
        Diagnostic thresholds that gate what is claimed (OHDSI CohortMethod's SMD 0.1 and
        equipoise 0.2; an MDRR of at most 2, since effects of the size expected (hazard ratios
        1.1-1.5) cannot be judged by an analysis that could only detect a doubling; at least
        90 % of each arm within the common support of the propensity scores; see `diagnostics`).
    """

    confounders: tuple[str, ...] = field(default=CONFOUNDERS, metadata=_rule(items=KNOWN_COVARIATES))
    entry_day: int | None = field(default=None, metadata=_rule(0, 365))
    by_sex: bool = True
    by_chapter_group: bool = True
    min_level_size: int = field(default=20, metadata=_rule(1))
    seed: int = field(default=2026, metadata=_rule(0))
    max_abs_smd: float = field(default=0.1, metadata=_rule(0.0, 1.0))
    min_equipoise: float = field(default=0.2, metadata=_rule(0.0, 1.0))
    max_mdrr: float = field(default=2.0, metadata=_rule(1.0))
    max_mde_risk_difference: float = field(default=0.10, metadata=_rule(0.0, 1.0))
    min_events: int = field(default=10, metadata=_rule(0))
    min_support_share: float = field(default=0.90, metadata=_rule(0.0, 1.0))


@dataclass(frozen=True)
class TimeVaryingCoxParameters(CommonParameters):
    """Cox on (start, stop] rows with coordination as a time-varying exposure."""


@dataclass(frozen=True)
class TimeVaryingPoissonParameters(CommonParameters):
    """Piecewise-exponential Poisson on person-time aggregated in DuckDB.

    confounders : by default the person-level confounders without home region and calendar
    year. Those two multiply the covariate cells 147-fold, so that with them nearly every
    spell is its own cell even nationally and aggregation saves nothing (and the model matrix
    of millions of cells no longer fits in memory); the Cox model adjusts for them. Add them
    here for a smaller population.
    band_cuts : days since spell start where a new band of the baseline hazard begins; cuts at
    or below the entry day are ignored (the first band starts at entry), the last band is open.
    Narrower bands over the first three months, when the hazard changes fastest and
    coordination starts, then wider. Each band multiplies the cells a spell contributes.
    """

    confounders: tuple[str, ...] = field(
        default=tuple(c for c in CONFOUNDERS if c not in ("home_region_code", "start_year")),
        metadata=_rule(items=KNOWN_COVARIATES))
    band_cuts: tuple[int, ...] = field(default=(21, 31, 45, 61, 91, 121, 181, 271, 366, 548, 731), metadata=_rule(1))


@dataclass(frozen=True)
class TargetTrialParameters(CommonParameters):
    """Sequential target-trial emulation over the first weeks of the spell.

    first_trial_day : first trial's time zero (days since spell start); None = the entry day.
    n_trial_weeks : trials run over this many weeks from the first trial day.
    trial_interval_days : days between trial starts (1 = a trial every day).
    grace_days : a spell is in the treated arm of a trial starting on day d if its first
        GC001 falls in [d, d + grace_days); 1 = the trial's own day (no grace period).
    horizons : days since time zero at which risks are compared.
    controls_per_treated : controls kept per treated entry in each trial (sampled at random,
        weighted by the inverse sampling fraction); 0 keeps every control.
    bootstrap_replicates : person-level bootstrap replicates for the confidence intervals.
    bootstrap_refit_ps : re-estimate the propensity models in every replicate.
    bootstrap_ps_update : how the refit solves the replicate's score equation: 'chord' (steps
        with the full-sample information: one pass over the design each) or 'newton' (a new
        information matrix every step). Both reach the same estimate; chord is much faster.
    weight_truncation : percentiles at which the weights are truncated.
    ps_model : 'pooled' (default): one propensity model over all trial weeks, with an indicator
        per week; 'per_week': one model per trial week. Per-week models of a small population
        rest on few starts of coordination each, and their ridge penalty then leaves confounding
        behind (`trial_weights`).
    ps_ridge : L2 penalty of the propensity models (stabilises sparse levels; keeps the pooled
        model's week indicators finite in a bootstrap replicate that draws no treated of a week).
    curve_step_days, curve_max_day : grid of the stored cumulative-incidence curves.
    """

    first_trial_day: int | None = field(default=None, metadata=_rule(0, 365))
    n_trial_weeks: int = field(default=13, metadata=_rule(1, 52))
    trial_interval_days: int = field(default=1, metadata=_rule(1, 28))
    grace_days: int = field(default=1, metadata=_rule(1, 28))
    horizons: tuple[int, ...] = field(default=(90, 180, 365), metadata=_rule(1, 3650))
    controls_per_treated: float = field(default=10.0, metadata=_rule(0.0))
    bootstrap_replicates: int = field(default=200, metadata=_rule(0, 10000))
    bootstrap_refit_ps: bool = True
    bootstrap_ps_update: str = field(default="chord", metadata=_rule(choices=("chord", "newton")))
    weight_truncation: tuple[float, ...] = field(default=(1.0, 99.0), metadata=_rule(0.0, 100.0))
    ps_model: str = field(default="pooled", metadata=_rule(choices=("pooled", "per_week")))
    ps_ridge: float = field(default=1.0, metadata=_rule(0.0))
    curve_step_days: int = field(default=7, metadata=_rule(1, 365))
    curve_max_day: int = field(default=365, metadata=_rule(1, 3650))


@dataclass(frozen=True)
class LandmarkParameters(CommonParameters):
    """Landmark Cox models: among spells at risk at each landmark, coordinated by it or not."""

    landmark_days: tuple[int, ...] = field(default=(30, 60, 90), metadata=_rule(1, 3650))


@dataclass(frozen=True)
class NaiveParameters(CommonParameters):
    """'Ever coordinated' as a fixed covariate from the entry day: biased by immortal time."""


@dataclass(frozen=True)
class HeterogeneityParameters(CommonParameters):
    """Effect of coordination per level of each dimension, with a Wald test of equality."""

    dimensions: tuple[str, ...] = field(default=DIMENSIONS, metadata=_rule(items=DIMENSIONS))
    model: str = field(default="cox", metadata=_rule(choices=("cox", "poisson")))
    band_cuts: tuple[int, ...] = field(default=TimeVaryingPoissonParameters.band_cuts, metadata=_rule(1))


@dataclass(frozen=True)
class RegionalParameters(CommonParameters):
    """Regional differences in uptake of coordination and in return to work (the three regional designs).

    confounders : the case-mix a national model without region standardises for (the issue's
        list: age, sex, diagnosis group, employment, education, region of birth, prior sick
        leave, extent). Never the home region (the unit compared) nor calendar year (the years
        are compared one by one).
    entry_day : a spell is eligible if still followed at this day (None: the study's
        min_spell_days, 14: the employer period is over and FK knows of the spell).
    uptake_window_days : uptake = a first GC001 on day index 0 .. window - 1 of the spell.
    rtw_horizons : return to work by these days since spell start (shares; spells censored
        before a horizon are left out of that horizon's share and counted).
    band_cuts : bands of the baseline hazard of the return-to-work rate (as tv_poisson).
    coordination_band_cuts : bands of the first-GC001 hazard between the entry day and the window.
    rank_draws : draws of the regions' random intercepts behind the rank intervals.
    under_reporting_ratio : a region-year whose share of care units recording any GC001 is
        below this fraction of the national share is flagged as possibly under-reporting.
    first_year_of_law : the law applies from 1 January of this year; per-year results start here.
    """

    confounders: tuple[str, ...] = field(default=REGION_CASE_MIX, metadata=_rule(items=KNOWN_COVARIATES))
    uptake_window_days: int = field(default=90, metadata=_rule(15, 365))
    rtw_horizons: tuple[int, ...] = field(default=(90, 180), metadata=_rule(15, 3650))
    band_cuts: tuple[int, ...] = field(default=TimeVaryingPoissonParameters.band_cuts, metadata=_rule(1))
    coordination_band_cuts: tuple[int, ...] = field(default=(61,), metadata=_rule(1, 365))
    rank_draws: int = field(default=2000, metadata=_rule(100, 100000))
    under_reporting_ratio: float = field(default=0.5, metadata=_rule(0.0, 1.0))
    first_year_of_law: int = field(default=2020, metadata=_rule(2000, 2100))


@dataclass(frozen=True)
class TimingParameters(CommonParameters):
    """Time to the first coordination and the chain of support after it (issue 12, `coordination_timing`).

    entry_day : spells still followed at this day are the cohort (None: the study's
        min_spell_days); time runs from the spell's first day (day index 0), so a GC001 on day
        index t is an event at time t + 1 and "by day 30" means day index 0-29.
    cif_days : days at which the cumulative incidence of the first GC001 is reported.
    dimensions : groups the incidence is reported by, beside everyone and each sex.
    plan_window_days : a rehabilitation plan (DV077) counts if within this many days of the first GC001.
    fk_window_days : FK informed (4 §), a reconciliation meeting, or a follow-up of the plan
        (AW026) counts if within this many days of the first GC001.
    dose_top : coordination contacts per coordinated spell are tabulated 1, 2, ..., dose_top or more.
    curve_step_days, curve_max_day : grid of the stored curves.
    """

    cif_days: tuple[int, ...] = field(default=(30, 60, 90, 180), metadata=_rule(1, 3650))
    dimensions: tuple[str, ...] = field(default=("age_group", "diagnosis_group", "home_region_code", "start_year"),
                                        metadata=_rule(items=KNOWN_COVARIATES))
    plan_window_days: int = field(default=30, metadata=_rule(1, 365))
    fk_window_days: int = field(default=90, metadata=_rule(1, 365))
    dose_top: int = field(default=6, metadata=_rule(2, 50))
    curve_step_days: int = field(default=7, metadata=_rule(1, 365))
    curve_max_day: int = field(default=365, metadata=_rule(1, 3650))


@dataclass(frozen=True)
class NeedParameters(CommonParameters):
    """Is coordination given by need? (issue 12, `coordination_need`).

    confounders : the need model's predictors: what is known of a spell at day 14
        (`covariates.NEED_PREDICTORS`); never coordination, nor the home region.
    need_horizons : need = the predicted probability that a spell still followed at the entry
        day lasts beyond each of these days; the first one ranks the spells.
    folds : cross-fitting: each spell's need comes from the model fitted on the other folds.
    uptake_window_days : uptake = a first GC001 on day index 0 .. window - 1.
    n_groups : need groups (deciles) for the gradient and calibration.
    high_need_groups : the top this many groups are "high need" (unmet need = high need
        without coordination within the window).
    ps_ridge : L2 penalty of the logistic models.
    """

    confounders: tuple[str, ...] = field(default=NEED_PREDICTORS, metadata=_rule(items=KNOWN_COVARIATES))
    need_horizons: tuple[int, ...] = field(default=(90, 180), metadata=_rule(15, 3650))
    folds: int = field(default=5, metadata=_rule(2, 20))
    uptake_window_days: int = field(default=90, metadata=_rule(15, 365))
    n_groups: int = field(default=10, metadata=_rule(2, 100))
    high_need_groups: int = field(default=3, metadata=_rule(1, 99))
    ps_ridge: float = field(default=1.0, metadata=_rule(0.0))


@dataclass(frozen=True)
class TimingStrategyParameters(CommonParameters):
    """Clone-censor-weight emulation of "first coordination by day X" against "none within 90 days"
    (issue 12, `coordination_timing_strategies`).

    entry_day : time zero; eligible are spells still followed then and not coordinated before it.
    strategy_days : one strategy "first GC001 by day X" per X (a grace period from time zero to X).
    none_within_days : the comparator "no GC001 before this day".
    horizons : days since the spell's first day at which return to work is compared.
    bootstrap_replicates : person-level bootstrap replicates (weight models refitted in each).
    weight_truncation : percentiles at which the censoring weights are truncated.
    ps_ridge : L2 penalty of the censoring models.
    curve_step_days, curve_max_day : grid of the stored curves.
    """

    strategy_days: tuple[int, ...] = field(default=(30, 60, 90), metadata=_rule(15, 365))
    none_within_days: int = field(default=90, metadata=_rule(15, 365))
    horizons: tuple[int, ...] = field(default=(180, 365), metadata=_rule(15, 3650))
    bootstrap_replicates: int = field(default=100, metadata=_rule(0, 10000))
    weight_truncation: tuple[float, ...] = field(default=(0.0, 99.5), metadata=_rule(0.0, 100.0))
    ps_ridge: float = field(default=1.0, metadata=_rule(0.0))
    curve_step_days: int = field(default=7, metadata=_rule(1, 365))
    curve_max_day: int = field(default=365, metadata=_rule(1, 3650))


@dataclass(frozen=True)
class CollaborationParameters(CommonParameters):
    """Collaboration with FK, AF and employers in the registers (issue 13, `collaboration`).

    entry_day : eligible spells are those still followed at this day (None: the study's
        min_spell_days); rates per 1 000 eligible spells and per coordinated eligible spell.
    dimensions : groups the event rates are reported by, beside everyone and each sex.
    participation_dimensions : groups the AVST participation shares are reported by.
    sequence_days : days after the first GC001 at which the incidence of the first INFO4 and
        of the first AVST is reported (coordinated eligible spells).
    af_days : days from spell start at which the incidence of AF registration is reported
        (unemployed spells not registered at AF on their first day).
    af_confounders, af_band_cuts : adjustment and baseline bands of the Poisson model of AF
        registration with coordination as a time-varying exposure (from day 0).
    confounders, band_cuts : those of tv_poisson (the default is its default), for return to
        work with the three collaboration states as time-varying exposure.
    """

    confounders: tuple[str, ...] = field(default=TimeVaryingPoissonParameters.confounders,
                                         metadata=_rule(items=KNOWN_COVARIATES))
    band_cuts: tuple[int, ...] = field(default=TimeVaryingPoissonParameters.band_cuts, metadata=_rule(1))
    dimensions: tuple[str, ...] = field(default=("home_region_code", "diagnosis_group", "start_year"),
                                        metadata=_rule(items=KNOWN_COVARIATES))
    participation_dimensions: tuple[str, ...] = field(default=("home_region_code",), metadata=_rule(items=KNOWN_COVARIATES))
    sequence_days: tuple[int, ...] = field(default=(30, 60, 90), metadata=_rule(1, 3650))
    af_days: tuple[int, ...] = field(default=(30, 60, 90, 180), metadata=_rule(1, 3650))
    af_confounders: tuple[str, ...] = field(default=("age_group", "diagnosis_chapter_group"),
                                            metadata=_rule(items=KNOWN_COVARIATES))
    af_band_cuts: tuple[int, ...] = field(default=(31, 61, 91, 181), metadata=_rule(1))


@dataclass(frozen=True)
class NegativeControlParameters(CommonParameters):
    """Negative-control outcomes through the main time-varying designs (issue 14, `negative_controls`).

    sources : the analyses (designs time_varying_cox / time_varying_poisson) whose models are
        rerun with each negative-control outcome: their confounders, entry day and bands are
        used, so that the models are identical; they must run before this analysis. The
        parameters of this analysis' own (confounders, entry_day, ...) are not used.
    outcomes : the negative-control outcome ids to run (study.toml [negative_controls]); None = all.
    """

    sources: tuple[str, ...] = field(default=("tv_cox", "tv_poisson"))
    outcomes: tuple[str, ...] | None = field(default=None)


@dataclass(frozen=True)
class CalibrationParameters(CommonParameters):
    """Empirical calibration of the main estimates with the negative controls (issue 14, `calibration`).

    negative_controls : the analysis (design negative_controls) whose estimates give the null.
    sources : the main analyses calibrated; each must be a source of the negative controls.
    min_controls : fewest negative-control estimates a null is fitted to (per design and population).
    min_events : a negative-control estimate counts only with at least this many events.
    max_ease : the expected absolute systematic error an analysis should stay below (CohortMethod: 0.25).
    """

    negative_controls: str = field(default="negative_controls")
    sources: tuple[str, ...] = field(default=("tv_cox", "tv_poisson"))
    min_controls: int = field(default=5, metadata=_rule(2, 1000))
    max_ease: float = field(default=0.25, metadata=_rule(0.0, 10.0))


@dataclass(frozen=True)
class RelapseSensitivityParameters(CommonParameters):
    """The main time-varying models under every relapse rule (issue 14, `sensitivity_relapse`).

    sources : the analyses (designs time_varying_cox / time_varying_poisson) rerun under each
        rule with their own confounders, entry day, bands and populations, so that the models
        are identical; they must run before this analysis. This analysis' own model parameters
        are not used.
    rules : the relapse rules compared (study.toml [outcome] relapse): 'continue' (a new spell
        within the window continues the spell), 'censor' (it censors the spell), 'event' (the
        spell's end counts as a return to work all the same).
    """

    sources: tuple[str, ...] = field(default=("tv_cox", "tv_poisson"))
    rules: tuple[str, ...] = field(default=("continue", "censor", "event"),
                                   metadata=_rule(items=("continue", "censor", "event")))


@dataclass(frozen=True)
class EValueParameters(CommonParameters):
    """E-value of the hazard ratio of another analysis (its rows for all, women and men)."""

    source: str = field(default="tv_cox")
    outcome_is_common: bool = True


@dataclass(frozen=True)
class SurveyParameters(CommonParameters):
    """The coordinators' survey (issue 13, `survey`): response, answers, weighted estimates, tests.

    min_class_respondents : a weighting class (healthcare region x care level) with fewer
        respondents is collapsed into a neighbour (`estimators.survey.collapse_classes`).
    korn_graubard_max_n_eff : shares whose design-effective n is below this (or that lie
        below 0.1 or above 0.9) get the Korn-Graubard interval instead of the logit one.
    index_items : the items whose mean is the collaboration index (F1-F4: FK, AF, employers,
        municipalities); index_min_items of them must be answered 1-5.
    uptake_window_days, rtw_horizon_days : the register side of the ecological linking: per
        home region the share of spells still followed at the entry day with a first GC001
        on day index 0 .. window - 1, and the share back at work by the horizon (among spells
        whose state at the horizon is known).
    """

    min_class_respondents: int = field(default=20, metadata=_rule(2, 1000))
    korn_graubard_max_n_eff: float = field(default=60.0, metadata=_rule(0.0))
    index_items: tuple[str, ...] = field(default=("F1_FK", "F2_AF", "F3_Arbetsgivare", "F4_Kommun"), metadata=_rule(
        items=("F1_FK", "F2_AF", "F3_Arbetsgivare", "F4_Kommun", "F5_Internt", "F6_Tid", "F7_Rutiner", "F8_Kompetens")))
    index_min_items: int = field(default=3, metadata=_rule(1, 8))
    uptake_window_days: int = field(default=90, metadata=_rule(15, 365))
    rtw_horizon_days: int = field(default=180, metadata=_rule(30, 3650))


@dataclass(frozen=True)
class InterruptedTimeSeriesParameters(CommonParameters):
    """Interrupted time series of the monthly share back at work, before and after the law (issue 14).

    law_date : the law's entry into force (Lag 2019:1297: 1 February 2020), ISO date.
    pandemic_from, pandemic_to : the pandemic period given its own term (ISO dates; by default
        March 2020, when sick-leave rules and care changed, to the end of February 2022, when
        Sweden lifted the last restrictions).
    horizons : days from spell start within which a return to work counts.
    min_spells_per_month : months with fewer spells are left out of the series.
    min_months_each_side : a series needs at least this many months before and after the law.
    newey_west_lags : lag window (months) of the Newey–West sensitivity standard errors.
    case_mix : the spells' characteristics the main model compares within (never the start year, which
        is the time axis itself).
    """

    law_date: str = field(default="2020-02-01", metadata=_rule(doc="ISO date"))
    pandemic_from: str = field(default="2020-03-01", metadata=_rule(doc="ISO date"))
    pandemic_to: str = field(default="2022-02-28", metadata=_rule(doc="ISO date"))
    horizons: tuple[int, ...] = field(default=(90, 180), metadata=_rule(1, 730))
    min_spells_per_month: int = field(default=20, metadata=_rule(1))
    min_months_each_side: int = field(default=12, metadata=_rule(3))
    newey_west_lags: int = field(default=3, metadata=_rule(0, 24))
    case_mix: tuple[str, ...] = field(
        default=("sex", "age_group", "diagnosis_group", "occupation_status", "prior_sick_days_365_band",
                 "is_extent_below_100", "education_group", "is_born_in_sweden"),
        metadata=_rule(items=tuple(c for c in KNOWN_COVARIATES if c != "start_year")))

    def dates(self) -> tuple[date, date, date]:
        """law_date, pandemic_from, pandemic_to as dates."""
        return tuple(date.fromisoformat(d) for d in (self.law_date, self.pandemic_from, self.pandemic_to))  # type: ignore[return-value]


@dataclass(frozen=True)
class ScenarioParameters(CommonParameters):
    """Grounds for proposals (issue 15, `scenarios`): the g-formula over fitted hazard models.

    Day numbers are day indices since the spell's first day (0 = the first day): "by day 30"
    is day index 0-29, a band cut c starts a new band at day index c.

    entry_day : the cohort is the spells followed beyond this day (None: the study's min_spell_days).
    horizons : days at which the share back at work is reported (an event on day index h - 1 counts at h).
    band_cuts : bands of the daily hazards of return to work and of the competing events.
    coordination_band_cuts : bands of the daily hazard of the first GC001.
    effect_by : the effect of coordination on return to work by the levels of this covariate
        ('none': one common effect).
    uptake_window_days, uptake_quantile : scenario 'uptake': every region's share coordinated on
        day index 0 .. window - 1 raised to this quantile of the regions' shares (0.75: the
        top quartile), by a factor on the region's coordination hazard up to the window's end.
    earlier_by_day, earlier_window_days : scenario 'earlier': coordination that would come
        before earlier_window_days comes before earlier_by_day instead (the cumulative hazard up
        to the window moved into the days before earlier_by_day).
    bootstrap_replicates : person-level bootstrap replicates (every model refitted in each).
    ridge : L2 penalty of the hazard models' covariate terms (keeps a level without events
        in a replicate finite).
    natural_course_tolerance : the natural course passes when it lies within this many
        (absolute) of the observed Aalen-Johansen share back at work at every horizon.
    """

    horizons: tuple[int, ...] = field(default=(90, 180, 365), metadata=_rule(15, 730))
    band_cuts: tuple[int, ...] = field(default=(21, 30, 45, 60, 90, 120, 180, 270), metadata=_rule(1, 3650))
    coordination_band_cuts: tuple[int, ...] = field(default=(30, 60, 90, 180, 270), metadata=_rule(1, 3650))
    effect_by: str = field(default="diagnosis_chapter_group",
                           metadata=_rule(choices=("none", "diagnosis_chapter_group", "sex", "age_group")))
    uptake_window_days: int = field(default=90, metadata=_rule(15, 365))
    uptake_quantile: float = field(default=0.75, metadata=_rule(0.5, 1.0))
    earlier_by_day: int = field(default=30, metadata=_rule(15, 365))
    earlier_window_days: int = field(default=90, metadata=_rule(16, 365))
    bootstrap_replicates: int = field(default=200, metadata=_rule(0, 10000))
    ridge: float = field(default=1.0, metadata=_rule(0.0))
    natural_course_tolerance: float = field(default=0.01, metadata=_rule(0.0, 1.0))


DESIGNS: dict[str, type[CommonParameters]] = {
    "time_varying_cox": TimeVaryingCoxParameters,
    "time_varying_poisson": TimeVaryingPoissonParameters,
    "target_trial": TargetTrialParameters,
    "landmark": LandmarkParameters,
    "naive_ever_coordinated": NaiveParameters,
    "heterogeneity": HeterogeneityParameters,
    "e_value": EValueParameters,
    "region_uptake": RegionalParameters,
    "region_rtw": RegionalParameters,
    "region_variation": RegionalParameters,
    "coordination_timing": TimingParameters,
    "coordination_need": NeedParameters,
    "coordination_timing_strategies": TimingStrategyParameters,
    "collaboration": CollaborationParameters,
    "survey": SurveyParameters,
    "interrupted_time_series": InterruptedTimeSeriesParameters,
}

# The documented default analyses, in the order they run.
DEFAULT_ANALYSES: dict[str, tuple[str, str]] = {
    "tv_cox": ("time_varying_cox",
               "As-treated Cox: hazard ratio of return to work after coordination starts (time-varying), "
               "adjusted, person-clustered robust SE; per chapter group by interaction."),
    "tv_poisson": ("time_varying_poisson",
                   "Piecewise-exponential Poisson on person-time aggregated in DuckDB (cell × band × state): "
                   "rate ratio of return to work after coordination starts, adjusted for the person-level "
                   "confounders (not home region and calendar year, which would make every spell its own cell)."),
    "target_trial": ("target_trial",
                     "Sequential target-trial emulation over the first 13 weeks: start coordination now vs not now; "
                     "IPT-weighted cumulative incidence of return to work; risk differences with bootstrap CI."),
    "landmark": ("landmark",
                 "Landmark Cox at 30, 60 and 90 days: coordinated by the landmark vs not, among spells still at risk."),
    "naive_ever": ("naive_ever_coordinated",
                   "Naive comparison: ever coordinated as a fixed covariate from the entry day (immortal-time biased); "
                   "shown to make the bias visible."),
    "heterogeneity": ("heterogeneity",
                      "Hazard ratio of coordination by sex, age group, diagnosis chapter group, diagnosis group and home "
                      "region, with a Wald test of heterogeneity per dimension."),
    "e_value": ("e_value",
                "E-value of the adjusted as-treated hazard ratio (and its confidence limit nearest 1), VanderWeele & Ding."),
    "region_uptake": ("region_uptake",
                      "Uptake of coordination per home region: share of spells still followed at day 14 with a first "
                      "GC001 within 90 days, observed against expected from a national case-mix model (O/E, exact "
                      "Poisson interval, funnel limits with over-dispersion), shrunken estimates with rank intervals, "
                      "GC001 recording per region, gaps women-men, born abroad-Sweden and low-high education, per year."),
    "region_rtw": ("region_rtw",
                   "Return to work per home region: shares by day 90 and 180 and the rate on person-time, observed "
                   "against expected from national case-mix models, funnel limits, shrunken estimates and rank intervals."),
    "region_variation": ("region_variation",
                         "Between-region variance: random-intercept GLMMs of uptake (null and adjusted: variance, median "
                         "odds ratio, latent ICC, proportional change in variance) and of the return-to-work and "
                         "coordination rates (median rate ratio), profile-likelihood intervals; per year."),
    "coordination_timing": ("coordination_timing",
                            "Time to the first coordination: cumulative incidence of the first GC001 by day 30, 60, 90 "
                            "and 180 with the spell's other ends as competing events (Aalen-Johansen), by sex, age, "
                            "diagnosis group, region and start year; the chain of support after it (plan, follow-up, FK "
                            "informed, reconciliation meeting) and the number of coordination contacts."),
    "coordination_need": ("coordination_need",
                          "Is coordination given by need? A cross-fitted model of the risk of a spell lasting beyond 90 "
                          "(180) days from what is known at day 14, uptake within 90 days by need decile, the "
                          "concentration index of uptake over need, gaps between women and men and by region of birth "
                          "at equal need, and unmet need (high need, no coordination) per region."),
    "coordination_timing_strategies": ("coordination_timing_strategies",
                                       "Does earlier coordination help? Clone-censor-weight emulation of first "
                                       "coordination by day 30, 60 and 90 against none within 90 days: cumulative "
                                       "incidence of return to work at 180 and 365 days with bootstrap intervals."),
    "collaboration": ("collaboration",
                      "Collaboration with FK, AF and employers in the registers: reconciliation meetings, 4 § "
                      "information, employers' plans and joint mappings with AF per 1 000 eligible and per coordinated "
                      "spell; who took part in the meetings; the first 4 § information and meeting after the first "
                      "GC001 (Aalen-Johansen); AF registration of the unemployed with coordination time-varying; return "
                      "to work by coordination with and without an employer in a meeting (association)."),
}
DEFAULT_ANALYSES["survey"] = (
    "survey",
    "The coordinators' survey: response rate per region and care level, the answers per item, the share agreeing "
    "and item means weighted for non-response (weighting classes healthcare region x care level, finite-population "
    "correction, logit or Korn-Graubard intervals), the collaboration index with Cronbach's alpha, Rao-Scott tests "
    "between regions and care levels (Holm), and per region the index beside uptake and return to work (ecological).")
DESIGNS["negative_controls"] = NegativeControlParameters  # issue 14
DESIGNS["empirical_calibration"] = CalibrationParameters
DEFAULT_ANALYSES["negative_controls"] = (
    "negative_controls",
    "Negative-control outcomes (study.toml [negative_controls]: first care contacts coordination cannot cause) through "
    "the identical time-varying Cox and Poisson models as the main estimates: hazard (rate) ratio after the first "
    "GC001 per outcome, for everyone, women and men; their spread is the designs' systematic error.")
DEFAULT_ANALYSES["calibration"] = (
    "empirical_calibration",
    "Empirical calibration (Schuemie et al. 2014, 2018): the null distribution of the systematic error fitted to the "
    "negative controls per design and population (mean and sd with profile-likelihood intervals), the expected "
    "absolute systematic error against 0.25, and the main hazard ratios with calibrated intervals and p-values.")
DEFAULT_ANALYSES["interrupted_time_series"] = (
    "interrupted_time_series",
    "Before and after the law: segmented Poisson regression of the monthly share of spells back at work within 90 "
    "and 180 days, spells starting over the study period, with a term for the pandemic and calendar months; "
    "quasi-Poisson and Newey-West errors. Context, not an effect of coordination: the pandemic began six weeks after "
    "the law.")
DESIGNS["scenarios"] = ScenarioParameters  # issue 15
DEFAULT_ANALYSES["scenarios"] = (
    "scenarios",
    "Grounds for proposals: the parametric g-formula over banded hazard models of the first coordination, return to "
    "work (coordination time-varying) and the competing events, standardised over the spells followed at day 14; the "
    "share back at work at 90, 180 and 365 days if every region reached the top quartile's uptake of coordination "
    "within 90 days, and if coordination that came on day 31-90 came by day 30, against the natural course (which "
    "must reproduce the observed Aalen-Johansen share); person bootstrap intervals.")
DESIGNS["relapse_sensitivity"] = RelapseSensitivityParameters  # issue 14
DEFAULT_ANALYSES["sensitivity_relapse"] = (
    "relapse_sensitivity",
    "Sensitivity to the relapse rule: the time-varying Cox and Poisson models of the main analyses, identical but for "
    "the follow-up, rerun with a new spell within the relapse window continuing the spell (a sustained return), "
    "censoring it, or counted as a return to work all the same; for everyone, women, men and each chapter group.")
DEFAULT_RUN: tuple[str, ...] = tuple(DEFAULT_ANALYSES)


@dataclass(frozen=True)
class AnalysisSpec:
    """One analysis to run: id, design, description and validated parameters.

    Attributes
    ----------
    id : str
        Lower-case identifier ([a-z][a-z0-9_]*): the results table ``results.<id>`` and
        ``<out>/internt/results/<id>.csv``.
    design : str
        A key of `DESIGNS`.
    description : str
        What the analysis estimates, for people.
    parameters : CommonParameters
        The design's parameter dataclass.
    """

    id: str
    design: str
    description: str
    parameters: CommonParameters

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-able form; `spec_from_dict` reads it back."""
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.parameters).items()}
        return {"id": self.id, "design": self.design, "description": self.description, "parameters": params}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)


# --- validation --------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_scalar(where: str, kind: Any, value: Any, rule: Mapping[str, Any], errors: list[str]) -> Any:
    """Type and range check of one scalar against its annotation; return the coerced value."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        errors.append(f"{where}: expected true or false, got {value!r}")
        return None
    if kind is int:
        if not _is_int(value):
            errors.append(f"{where}: expected a whole number, got {value!r}")
            return None
    elif kind is float:
        if not (_is_int(value) or isinstance(value, float)):
            errors.append(f"{where}: expected a number, got {value!r}")
            return None
        value = float(value)
    elif kind is str:
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{where}: expected a non-empty text, got {value!r}")
            return None
    if rule.get("min") is not None and value < rule["min"]:
        errors.append(f"{where}: must be at least {rule['min']}, got {value!r}")
        return None
    if rule.get("max") is not None and value > rule["max"]:
        errors.append(f"{where}: must be at most {rule['max']}, got {value!r}")
        return None
    if rule.get("choices") and value not in rule["choices"]:
        errors.append(f"{where}: {value!r} is not one of {', '.join(map(repr, rule['choices']))}")
        return None
    if rule.get("items") and value not in rule["items"]:
        errors.append(f"{where}: {value!r} is not one of {', '.join(map(repr, rule['items']))}")
        return None
    return value


def _check_field(where: str, annotation: Any, value: Any, rule: Mapping[str, Any], errors: list[str]) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):  # `int | None`
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _check_field(where, inner, value, rule, errors)
    if origin is tuple:
        item_kind = args[0]
        if not isinstance(value, (list, tuple)) or not value:
            errors.append(f"{where}: expected a non-empty list, got {value!r}")
            return None
        n_before = len(errors)
        items = tuple(_check_scalar(f"{where}[{i}]", item_kind, v, rule, errors) for i, v in enumerate(value))
        if len(errors) > n_before:
            return None
        if len(set(items)) != len(items):
            errors.append(f"{where}: has repeated values {list(value)!r}")
            return None
        return items
    return _check_scalar(where, annotation, value, rule, errors)


def _parameter_fields(design: str) -> dict[str, Any]:
    cls = DESIGNS[design]
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], f) for f in fields(cls)}


def _check_cross_rules(where: str, params: CommonParameters, errors: list[str]) -> None:
    """Rules between the parameters of one analysis."""
    if isinstance(params, (TimeVaryingPoissonParameters, HeterogeneityParameters)):
        cuts = params.band_cuts
        if list(cuts) != sorted(cuts):
            errors.append(f"{where} band_cuts: must be increasing, got {list(cuts)}")
    increasing = {TimingParameters: ("cif_days",), NeedParameters: ("need_horizons",),
                  TimingStrategyParameters: ("strategy_days", "horizons")}
    for kind, names in increasing.items():
        if isinstance(params, kind):
            for name in names:
                if list(getattr(params, name)) != sorted(getattr(params, name)):
                    errors.append(f"{where} {name}: must be increasing, got {list(getattr(params, name))}")
    if isinstance(params, NeedParameters) and params.high_need_groups >= params.n_groups:
        errors.append(f"{where} high_need_groups: {params.high_need_groups} must be fewer than n_groups {params.n_groups}")
    if isinstance(params, InterruptedTimeSeriesParameters):
        try:
            law, p_from, p_to = params.dates()
        except ValueError:
            errors.append(f"{where} law_date, pandemic_from, pandemic_to: expected ISO dates YYYY-MM-DD, got "
                          f"{params.law_date!r}, {params.pandemic_from!r}, {params.pandemic_to!r}")
        else:
            if not law <= p_from <= p_to:
                errors.append(f"{where}: expected law_date <= pandemic_from <= pandemic_to, got {law}, {p_from}, {p_to}")
        if list(params.horizons) != sorted(params.horizons):
            errors.append(f"{where} horizons: must be increasing, got {list(params.horizons)}")
    if isinstance(params, TimingStrategyParameters):
        low, high = (params.weight_truncation + (None, None))[:2]
        if len(params.weight_truncation) != 2 or low is None or high is None or not low < high:
            errors.append(f"{where} weight_truncation: expected two percentiles [low, high] with low < high, "
                          f"got {list(params.weight_truncation)}")
        if params.none_within_days < max(params.strategy_days):
            errors.append(f"{where} none_within_days: {params.none_within_days} is before the latest strategy day "
                          f"{max(params.strategy_days)}; the comparator would overlap the strategies")
    if isinstance(params, TargetTrialParameters):
        low, high = (params.weight_truncation + (None, None))[:2]
        if len(params.weight_truncation) != 2 or low is None or high is None or not low < high:
            errors.append(f"{where} weight_truncation: expected two percentiles [low, high] with low < high, "
                          f"got {list(params.weight_truncation)}")
        if params.grace_days < params.trial_interval_days:
            errors.append(f"{where} grace_days: {params.grace_days} is shorter than trial_interval_days "
                          f"{params.trial_interval_days}; GC001s between trials would be assigned to no arm")
    if isinstance(params, RegionalParameters):
        for name in ("rtw_horizons", "band_cuts", "coordination_band_cuts"):
            if list(getattr(params, name)) != sorted(getattr(params, name)):
                errors.append(f"{where} {name}: must be increasing, got {list(getattr(params, name))}")
        compared = [c for c in params.confounders if c in ("home_region_code", "start_year")]
        if compared:
            errors.append(f"{where} confounders: {', '.join(compared)} cannot be case-mix of a regional comparison "
                          "(the region is the unit compared; years are compared one by one)")
    if isinstance(params, ScenarioParameters):
        for name in ("horizons", "band_cuts", "coordination_band_cuts"):
            if list(getattr(params, name)) != sorted(getattr(params, name)):
                errors.append(f"{where} {name}: must be increasing, got {list(getattr(params, name))}")
        if params.earlier_by_day >= params.earlier_window_days:
            errors.append(f"{where} earlier_by_day: {params.earlier_by_day} must come before earlier_window_days "
                          f"{params.earlier_window_days}")
        entry = params.entry_day
        if entry is not None and min(params.earlier_by_day, params.uptake_window_days, *params.horizons) <= entry:
            errors.append(f"{where}: earlier_by_day, uptake_window_days and horizons must lie after the entry day {entry}")
    if isinstance(params, LandmarkParameters) and list(params.landmark_days) != sorted(params.landmark_days):
        errors.append(f"{where} landmark_days: must be increasing, got {list(params.landmark_days)}")


def _build_parameters(where: str, design: str, values: Mapping[str, Any], errors: list[str]) -> CommonParameters | None:
    known = _parameter_fields(design)
    kwargs: dict[str, Any] = {}
    n_before = len(errors)
    for key, value in values.items():
        if key not in known:
            errors.append(f"{where} {key}: not a parameter of design {design!r} "
                          f"(known: {', '.join(sorted(known))})")
            continue
        annotation, f = known[key]
        checked = _check_field(f"{where} {key}", annotation, value, f.metadata, errors)
        if checked is not None or value is None:
            kwargs[key] = checked
    if len(errors) > n_before:
        return None
    params = DESIGNS[design](**kwargs)
    _check_cross_rules(where, params, errors)
    return params if len(errors) == n_before else None


def specs_from_table(table: Mapping[str, Any] | None, source: str = "study file", *,
                     check_dependencies: bool = True) -> tuple[AnalysisSpec, ...]:
    """Validated analysis specs from the study's `[analyses]` table (None or empty: the defaults).

    Parameters
    ----------
    table : Mapping or None
        The ``[analyses]`` table as parsed from TOML.
    source : str
        Named in error messages (the study file's path).
    check_dependencies : bool
        Check that every E-value's source analysis runs before it (off for one serialised spec).

    Raises
    ------
    StudyDefinitionError
        Listing every error in the table.
    """
    table = dict(table or {})
    errors: list[str] = []
    run = table.pop("run", list(DEFAULT_RUN))
    if not isinstance(run, list) or not run or not all(isinstance(r, str) for r in run):
        errors.append(f"[analyses] run: expected a non-empty list of analysis ids, got {run!r}")
        run = []
    if len(set(run)) != len(run):
        errors.append(f"[analyses] run: lists an analysis more than once: {run!r}")
    per_analysis = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    shared = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    # a shared value is checked once, whether or not a running analysis has the parameter
    for key in list(shared):
        design = next((d for d in DESIGNS if key in _parameter_fields(d)), None)
        if design is None:
            errors.append(f"[analyses] {key}: not a parameter of any design, and not a table of an analysis")
            del shared[key]
            continue
        annotation, f = _parameter_fields(design)[key]
        n_before = len(errors)
        _check_field(f"[analyses] {key}", annotation, shared[key], f.metadata, errors)
        if len(errors) > n_before:
            del shared[key]
    for key in per_analysis:
        if key not in run:
            errors.append(f"[analyses.{key}]: analysis {key!r} is configured but not listed in run")
    specs: list[AnalysisSpec] = []
    for analysis_id in run:
        where = f"[analyses.{analysis_id}]"
        if not ANALYSIS_ID_PATTERN.match(analysis_id):
            errors.append(f"[analyses] run: id {analysis_id!r} must be lower case letters, digits and _ "
                          "(it names a results table), starting with a letter")
            continue
        own = dict(per_analysis.get(analysis_id, {}))
        default_design, default_description = DEFAULT_ANALYSES.get(analysis_id, (None, None))
        design = own.pop("design", default_design)
        description = own.pop("description", default_description)
        if design is None:
            errors.append(f"{where}: a new analysis needs design = one of {', '.join(DESIGNS)}")
            continue
        if design not in DESIGNS:
            errors.append(f"{where} design: {design!r} is not one of {', '.join(DESIGNS)}")
            continue
        if not isinstance(description, str) or not description.strip():
            errors.append(f"{where} description: a new analysis needs a description for people")
            continue
        known = _parameter_fields(design)
        values = {k: v for k, v in shared.items() if k in known}
        values.update(own)
        params = _build_parameters(where, design, values, errors)
        if params is not None:
            specs.append(AnalysisSpec(analysis_id, design, description.strip(), params))
    if check_dependencies:
        _check_dependencies(specs, errors)
    if errors:
        raise StudyDefinitionError(
            f"{source} [analyses] has {len(errors)} error{'s' if len(errors) > 1 else ''}:\n"
            + "\n".join(f"  - {e}" for e in errors)
        )
    return tuple(specs)


_RATIO_DESIGNS = ("time_varying_cox", "time_varying_poisson", "landmark", "naive_ever_coordinated")


def _check_dependencies(specs: list[AnalysisSpec], errors: list[str]) -> None:
    """An E-value needs its source analysis to run before it and to estimate a ratio."""
    order = {s.id: i for i, s in enumerate(specs)}
    for spec in specs:
        if spec.design != "e_value":
            continue
        source = spec.parameters.source
        if source not in order:
            errors.append(f"[analyses.{spec.id}] source: {source!r} is not an analysis that runs")
        elif order[source] > order[spec.id]:
            errors.append(f"[analyses.{spec.id}] source: {source!r} must be listed before {spec.id!r} in run")
        elif specs[order[source]].design not in _RATIO_DESIGNS:
            errors.append(f"[analyses.{spec.id}] source: {source!r} does not estimate a hazard or rate ratio")
    _check_negative_control_dependencies(specs, errors)
    _check_relapse_dependencies(specs, errors)


def _check_relapse_dependencies(specs: list[AnalysisSpec], errors: list[str]) -> None:
    """The relapse sensitivity needs its time-varying sources before it, and each rule once."""
    order = {s.id: i for i, s in enumerate(specs)}
    for spec in specs:
        if spec.design != "relapse_sensitivity":
            continue
        p = spec.parameters
        for source in p.sources:
            if source not in order:
                errors.append(f"[analyses.{spec.id}]: {source!r} is not an analysis that runs")
            elif order[source] > order[spec.id]:
                errors.append(f"[analyses.{spec.id}]: {source!r} must be listed before {spec.id!r} in run")
            elif specs[order[source]].design not in ("time_varying_cox", "time_varying_poisson"):
                errors.append(f"[analyses.{spec.id}] sources: {source!r} is not a time_varying_cox or "
                              "time_varying_poisson analysis")
        if not p.rules or len(set(p.rules)) != len(p.rules):
            errors.append(f"[analyses.{spec.id}] rules: expected each relapse rule at most once, got {list(p.rules)}")


def _check_negative_control_dependencies(specs: list[AnalysisSpec], errors: list[str]) -> None:
    """Negative controls need their time-varying sources before them; calibration its negative controls and sources."""
    order = {s.id: i for i, s in enumerate(specs)}
    for spec in specs:
        if spec.design not in ("negative_controls", "empirical_calibration"):
            continue
        p = spec.parameters
        needed = list(p.sources) + ([p.negative_controls] if spec.design == "empirical_calibration" else [])
        for source in needed:
            if source not in order:
                errors.append(f"[analyses.{spec.id}]: {source!r} is not an analysis that runs")
            elif order[source] > order[spec.id]:
                errors.append(f"[analyses.{spec.id}]: {source!r} must be listed before {spec.id!r} in run")
        for source in p.sources:
            if source in order and specs[order[source]].design not in ("time_varying_cox", "time_varying_poisson"):
                errors.append(f"[analyses.{spec.id}] sources: {source!r} is not a time_varying_cox or "
                              "time_varying_poisson analysis")
        if spec.design == "empirical_calibration" and p.negative_controls in order:
            nc = specs[order[p.negative_controls]]
            if nc.design != "negative_controls":
                errors.append(f"[analyses.{spec.id}] negative_controls: {p.negative_controls!r} is not a "
                              "negative_controls analysis")
            else:
                missing = [s for s in p.sources if s not in nc.parameters.sources]
                if missing:
                    errors.append(f"[analyses.{spec.id}] sources: {', '.join(missing)} not run through the negative "
                                  f"controls of {p.negative_controls!r} (its sources: {', '.join(nc.parameters.sources)})")


def spec_from_dict(data: Mapping[str, Any]) -> AnalysisSpec:
    """Read back `AnalysisSpec.to_dict()` (validated like a study file)."""
    table = {"run": [data["id"]], data["id"]: {"design": data["design"], "description": data["description"],
                                               **dict(data.get("parameters", {}))}}
    return specs_from_table(table, source="serialised spec", check_dependencies=False)[0]


def resolve_entry_day(spec: AnalysisSpec, study_min_spell_days: int) -> AnalysisSpec:
    """Fill ``entry_day`` (and the trial's ``first_trial_day``) from the study when left None."""
    params = spec.parameters
    if params.entry_day is None:
        params = replace(params, entry_day=int(study_min_spell_days))
    if isinstance(params, TargetTrialParameters) and params.first_trial_day is None:
        params = replace(params, first_trial_day=params.entry_day)
    return replace(spec, parameters=params)


def parameter_defaults(design: str) -> dict[str, Any]:
    """The documented defaults of a design's parameters."""
    return {f.name: f.default for f in fields(DESIGNS[design]) if f.default is not MISSING}


__all__ = [
    "AnalysisSpec", "CalibrationParameters", "CollaborationParameters", "CommonParameters", "DEFAULT_ANALYSES",
    "DEFAULT_RUN", "DESIGNS", "EValueParameters", "HeterogeneityParameters", "InterruptedTimeSeriesParameters",
    "LandmarkParameters", "NaiveParameters", "NeedParameters", "NegativeControlParameters", "RegionalParameters",
    "RelapseSensitivityParameters",
    "ScenarioParameters",
    "SurveyParameters", "TargetTrialParameters", "TimeVaryingCoxParameters", "TimeVaryingPoissonParameters",
    "TimingParameters", "TimingStrategyParameters", "parameter_defaults", "resolve_entry_day", "spec_from_dict",
    "specs_from_table",
]
