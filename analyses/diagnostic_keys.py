"""What each key of a result's ``diagnostics`` is, declared once: the report publishes by this declaration.

Every key an estimator or a design writes into ``diagnostics`` (the per-row JSON of a results
table's ``diagnostics`` column and the analysis' own, ``results._analyses.diagnostics``) is
declared here with its kind:

``statistic``
    A figure about the fit or the comparison, not about how many: SMDs, equipoise, shares
    inside the common support, propensity-score percentiles, weights, p-values, test
    statistics and their degrees of freedom, minimum detectable effects, log-likelihoods.
    A number (or null). Published.
``flag``
    A pass/fail or yes/no: ``passes``, ``*_pass``, ``immortal_time_safe``, ``converged``.
    A boolean (or null). Published.
``protocol``
    A parameter of the design or of the method, fixed before the data are seen: ``grace_days``,
    ``entry_day``, the E-value's ``source``, ``se_type``, the truncation percentiles. Not
    person data (the study file that sets them is quoted in the report). A number, a text, a
    boolean or a list of them. Published.
``count``
    Persons, spells, events, entries, rows, cells, clusters, days at risk, or anything read
    off them (``events_per_arm``; an effective sample size; which levels were too small to
    keep). Never published; the disclosure check may read ``events_per_arm``.
``group``
    A mapping whose entries are themselves declared keys (``positivity``, ``weights``).
``labelled``
    A mapping keyed by labels of the design (populations ``woman/sex=woman``, models
    ``all/main``, covariates, landmarks) whose values are groups.

Keys are declared by name, wherever they sit: a name means the same at every depth. The
report (`reports.disclosure`) publishes the kinds in ``PUBLISHED_KINDS`` whose value has the
declared shape; an undeclared key, or a value not of its declared shape, is withheld and
noted for the output checker, so a new estimator cannot publish a count by naming it
differently. A new key is declared here before it can reach a report.

Pure: imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from enum import Enum
from typing import Any


class Kind(str, Enum):
    """The kind of a diagnostics entry (see the module's description)."""

    STATISTIC = "statistic"
    FLAG = "flag"
    PROTOCOL = "protocol"
    COUNT = "count"
    GROUP = "group"
    LABELLED = "labelled"


STATISTIC, FLAG, PROTOCOL = Kind.STATISTIC, Kind.FLAG, Kind.PROTOCOL
COUNT, GROUP, LABELLED = Kind.COUNT, Kind.GROUP, Kind.LABELLED

# The kinds a report may publish (protocol: parameters of the design, not person data).
PUBLISHED_KINDS: frozenset[Kind] = frozenset({STATISTIC, FLAG, PROTOCOL})

# The entry the disclosure check reads the fewest events in any compared arm from (kind count).
EVENTS_PER_ARM = "events_per_arm"


def _declare(*groups: tuple[Kind, tuple[str, ...]]) -> dict[str, Kind]:
    """Key -> kind; a key declared twice is an error (a name means one thing)."""
    out: dict[str, Kind] = {}
    for kind, keys in groups:
        for key in keys:
            if key in out:
                raise ValueError(f"diagnostics key {key!r} declared twice ({out[key].value}, {kind.value})")
            out[key] = kind
    return out


DIAGNOSTIC_KEYS: Mapping[str, Kind] = _declare(
    # --- per row: the gates of `analyses.designs.diagnostics.flags` --------------------------------
    (STATISTIC, ("max_abs_smd", "equipoise", "support_share", "mdrr", "mde_risk_difference")),
    (FLAG, ("max_abs_smd_pass", "equipoise_pass", "support_share_pass", "mdrr_pass", "mde_risk_difference_pass",
            "events_pass", "immortal_time_safe", "passes")),
    # events per compared arm: {"exposed": .., "unexposed": ..} or {"treated": .., "control": ..}
    (COUNT, (EVENTS_PER_ARM,)),
    # --- per row of the emulated trials ------------------------------------------------------------
    (STATISTIC, ("share_weeks_balanced",)),
    # the covariate level least balanced after weighting (a name from the design, not data), pooled and
    # per failing trial week (`trial_outcome.worst_balanced`): the report says what a failing week fails on
    (PROTOCOL, ("max_abs_smd_covariate",)),
    (LABELLED, ("unbalanced_weeks",)),
    (GROUP, ("positivity", "weights")),  # `designs.diagnostics.positivity`; `trial_emulation.iptw`'s report
    (STATISTIC, ("ps_treated_p01", "ps_treated_p50", "ps_treated_p99", "ps_control_p01", "ps_control_p50",
                 "ps_control_p99", "share_treated_in_support", "share_control_in_support")),
    (STATISTIC, ("share_treated", "max_raw_weight", "treated_share_truncated", "control_share_truncated",
                 "treated_max_weight", "control_max_weight")),
    (PROTOCOL, ("truncation_percentiles",)),
    # Kish's (sum w)^2 / sum w^2: without weights it is the number of entries
    (COUNT, ("effective_sample_size_treated", "effective_sample_size_control")),
    # --- per row of the heterogeneity tests --------------------------------------------------------
    (STATISTIC, ("levels_tested",)),  # the levels the Wald test compares: its degrees of freedom + 1
    (COUNT, ("pooled_levels",)),  # the levels pooled for having too few events: read off counts
    # --- per row of the E-values (the analysis' own diagnostics on every row) ----------------------
    (PROTOCOL, ("source", "outcome_is_common", "conversion")),
    # --- the designs' own diagnostics (results._analyses) ------------------------------------------
    (PROTOCOL, ("design", "model", "entry_day", "first_trial_day", "trial_interval_days", "grace_days",
                "n_trial_weeks", "ps_model", "bootstrap_replicates", "bands")),
    # populations of the trials, landmarks, exposure models, heterogeneity tests, covariates' levels
    (LABELLED, ("populations", "landmarks", "models", "tests", "levels")),
    (COUNT, ("n_trials", "n_trials_without_treated", "n_entries", "n_spells_at_risk", "n_exposed", "n_spells",
             "n_spells_ending_by_entry_day", "n_ever_coordinated", "n_rows", "n_cells")),
    (STATISTIC, ("max_abs_smd_after", "chi2", "df", "p_value", "heterogeneity_chi2", "heterogeneity_df",
                 "heterogeneity_p")),
    # `_models.ModelFit.diagnostics`: iterations and model terms describe the fit, not the data's size
    (STATISTIC, ("n_iter", "n_covariates", "dispersion")),
    # a covariate's reference is its largest level, the merged ones those below the minimum size
    (COUNT, ("reference", "merged_into_reference")),
    # --- the estimators' own diagnostics (`analyses.estimators`) -----------------------------------
    (FLAG, ("converged", "variance_at_boundary")),
    (STATISTIC, ("loglik", "loglik_null", "lr_test_chi2", "lr_test_df", "lr_test_p", "deviance", "pearson_chi2")),
    (PROTOCOL, ("se_type", "conf_type", "ties", "risk_set", "weighted", "censor_value", "censoring_weights",
                "cause_of_interest", "approximation", "optimizer", "formula")),
    # causes: those that occur; df_resid: rows minus parameters; total_exposure: days at risk
    (COUNT, ("n_rows_zero_weight", "n_strata", "n_clusters", "n_groups", "n_rows_continued_by_same_id", "n_competing",
             "n_censored", "n_rows_collapsed", "n_rows_zero_exposure", "df_resid", "total_exposure", "causes")),
    # logistic regression (`estimators.logistic`); sum_weights: the rows when unweighted
    (STATISTIC, ("last_step",)),
    (PROTOCOL, ("tolerance", "ridge", "sparse_design")),
    (COUNT, ("sum_weights",)),
    # funnel plots (`estimators.funnel`); units_outside: units beyond each limit
    (STATISTIC, ("phi", "tau2")),
    (PROTOCOL, ("winsor_quantile", "confidence_levels")),
    (COUNT, ("n_units", "units_outside")),
    # regional differences (`designs.regions`): the design's parameters, and what the data decided
    (PROTOCOL, ("uptake_window_days", "rtw_horizons", "case_mix", "rank_draws", "first_year_of_law",
                "under_reporting_ratio", "interval_of_variance", "multiplicity", "data_quality_note")),
    # regions without events, spells whose uptake window was not observed, regions flagged from
    # counts of care units, which regions' gaps are significant, models that could not be fitted
    (COUNT, ("regions_without_events", "n_window_unobserved", "regions_possibly_under_reporting",
             "regions_significant_after_holm", "not_estimated")),
    # the GLMMs' profile-likelihood interval of the variance
    (GROUP, ("variance_interval",)),
    (PROTOCOL, ("interval_method", "interval_level")),
    (STATISTIC, ("variance_low", "variance_high")),
    # --- time to coordination (`designs.timing`) ---------------------------------------------------
    (PROTOCOL, ("cif_days", "support_time_zero")),
    # the cohort, those left out before the entry day or censored at extraction, and per population
    # (``populations``) the first GC001s and the other ends of the wait
    (COUNT, ("n_cohort_spells", "n_spells_excluded_before_entry", "n_censored_at_extraction", "n_coordinated",
             "n_persons", "n_first_gc001", "n_return_to_work", "n_other_end")),
    # --- need and targeting (`designs.need`) -------------------------------------------------------
    (PROTOCOL, ("need_horizons", "need_groups", "high_need_groups", "folds", "predictors")),
    (GROUP, ("need_model", "need_ties")),
    (LABELLED, ("horizons",)),  # the need model's fit per horizon ("90": {...})
    # the need model's size (columns: the model's terms, like n_covariates)
    (STATISTIC, ("n_model_columns",)),
    # spells in and out of the need and uptake populations, fit and fold sizes, covariate patterns and
    # ties of need, levels merged for being small, regions whose sex gap is significant (read off counts)
    (COUNT, ("n_spells_input", "n_need_population", "n_not_followed_to_entry", "n_uptake_population",
             "n_left_out_of_uptake", "n_covariate_patterns", "fold_sizes", "n_in_fit", "n_unknown_outcome",
             "n_lasting_beyond", "n_distinct_need", "n_spells_tied", "largest_tie", "levels_merged",
             "regions_sex_gap_significant_after_holm")),
    # --- timing strategies, clone-censor-weight (`designs.timing_strategies`) ----------------------
    (PROTOCOL, ("strategy_days", "none_within_days", "weight_truncation", "censoring_models", "none_weights")),
    (LABELLED, ("level_plan",)),  # the censoring models' covariates' reference and merged levels
    # one entry per strategy of the default protocol (days 30, 60, 90; none within 90): its weights,
    # balance and events; strategies of other parameters are withheld as undeclared, not published
    (GROUP, ("by_day_30", "by_day_60", "by_day_90", "none_within_90")),
    (FLAG, ("passed",)),  # every gated row of the population passes
    (STATISTIC, ("positivity_share_outside", "max_weight", "max_weight_before_truncation",
                 "mean_weight_before_truncation", "share_truncated")),
    # Kish's effective sample size (the entries without weights); events per horizon; clones followed and
    # uncensored
    (COUNT, ("effective_sample_size", "events", "n_uncensored_after_grace", "n_followed", "n_uncensored")),
    # --- before and after the law (`designs.interrupted_time_series`) ------------------------------
    (PROTOCOL, ("law_date", "pandemic_from", "pandemic_to", "extraction_date", "relapse_window_days")),
    # months in the series and on each side of the law; the series left out for too few months
    (COUNT, ("n_months", "months_before_law", "months_after_law", "skipped")),
)

# --- negative controls and empirical calibration (issue 14, `designs.negative_controls`) -----------
_ISSUE_14_KEYS = _declare(
    # which analyses were rerun, which outcomes, why the trials were not; per source/outcome its fit
    (PROTOCOL, ("sources", "outcomes", "trial_emulation", "negative_controls", "max_ease", "method", "controls")),
    (LABELLED, ("per_outcome", "nulls")),
    (FLAG, ("estimated", "calibrated", "ease_below_threshold")),
    # the empirical null: its mean, sd, EASE and log likelihood; how many negative controls it rests on
    (STATISTIC, ("mu", "sigma", "ease", "log_likelihood", "n_controls")),
    # spells with the outcome before follow-up starts; Poisson bands merged for too few events; why not estimated
    (COUNT, ("n_spells_with_outcome_by_entry_day", "merged_band_cuts", "reason")),
)
# --- the relapse rule as a study choice (issue 14, `designs.relapse`) -------------------------------
_ISSUE_14_KEYS = {**_ISSUE_14_KEYS, **_declare(
    # the rules compared and the study's own; per rule the source models' diagnostics
    (PROTOCOL, ("relapse_rules", "study_relapse_rule")),
    (FLAG, ("is_study_rule",)),
    (LABELLED, ("per_rule",)),
    # spells analysed under a rule, those followed into a relapse, their returns to work
    (COUNT, ("n_spells_continued_into_relapse", "n_returns_to_work")),
)}
if set(_ISSUE_14_KEYS) & set(DIAGNOSTIC_KEYS):
    raise ValueError(f"diagnostics keys declared twice: {sorted(set(_ISSUE_14_KEYS) & set(DIAGNOSTIC_KEYS))}")
DIAGNOSTIC_KEYS = {**DIAGNOSTIC_KEYS, **_ISSUE_14_KEYS}

# --- collaboration and the coordinators' survey (issue 13, `designs.collaboration`, `designs.survey`) ----
_ISSUE_13_KEYS = _declare(
    # the methods and assumptions as stated by the designs
    (PROTOCOL, ("assumption", "interval_rule", "min_class_respondents", "no_samplics", "region_groups", "sex_note",
                "participation_interval", "rate_interval", "rtw_interpretation", "rtw_states", "sequence_time_zero")),
    (FLAG, ("frame_known", "has_sex")),
    # the AF-registration and return-to-work models per population
    (GROUP, ("af", "rtw", "fit")),
    # respondents, classes, design degrees of freedom (respondents minus strata), Kish's n; spells,
    # meetings and days at risk behind the register measures
    (COUNT, ("design_df", "frame_not_represented", "kish_effective_n", "n_respondents", "n_weighting_classes",
             "n_avst_meetings", "n_eligible_spells", "days_at_risk", "n_eligible", "n_at_risk", "n_registered",
             "days_at_risk_by_state")),
)
if set(_ISSUE_13_KEYS) & set(DIAGNOSTIC_KEYS):
    raise ValueError(f"diagnostics keys declared twice: {sorted(set(_ISSUE_13_KEYS) & set(DIAGNOSTIC_KEYS))}")
DIAGNOSTIC_KEYS = {**DIAGNOSTIC_KEYS, **_ISSUE_13_KEYS}

# --- grounds for proposals: the g-formula's scenarios (issue 15, `designs.scenarios`) --------------------
_ISSUE_15_SCENARIO_KEYS = _declare(
    (PROTOCOL, ("scenario_horizons", "uptake_quantile", "earlier_by_day", "earlier_window_days",
                "natural_course_tolerance")),
    # the natural course against the observed Aalen-Johansen share (largest absolute difference over the
    # horizons), the regions' target uptake, the largest region factor and the median factor of 'earlier'
    (STATISTIC, ("natural_course_difference", "uptake_target", "max_uptake_multiplier", "median_earlier_multiplier")),
    (FLAG, ("natural_course_pass", "uptake_target_reached")),
)
if set(_ISSUE_15_SCENARIO_KEYS) & set(DIAGNOSTIC_KEYS):
    raise ValueError(f"diagnostics keys declared twice: {sorted(set(_ISSUE_15_SCENARIO_KEYS) & set(DIAGNOSTIC_KEYS))}")
DIAGNOSTIC_KEYS = {**DIAGNOSTIC_KEYS, **_ISSUE_15_SCENARIO_KEYS}


def kind_of(key: str) -> Kind | None:
    """The declared kind of a key (None: undeclared)."""
    return DIAGNOSTIC_KEYS.get(str(key))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def has_shape(kind: Kind, value: Any) -> bool:
    """Whether a value has the shape its kind declares (a count may have any)."""
    if kind is STATISTIC:
        return value is None or _is_number(value)
    if kind is FLAG:
        return value is None or isinstance(value, bool)
    if kind is PROTOCOL:
        return _is_scalar(value) or (isinstance(value, list) and all(_is_scalar(v) and v is not None for v in value))
    if kind in (GROUP, LABELLED):
        return isinstance(value, Mapping)
    return True


def entries(diagnostics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Kind | None, Any]]:
    """(path, declared kind, value) of every entry, descending into groups and labelled mappings.

    Paths join keys with dots (``positivity.ps_control_p01``); the labels of a labelled
    mapping are part of the path but not declared (``models.all/main.converged``).
    """
    for key, value in diagnostics.items():
        path = f"{prefix}{key}"
        kind = kind_of(key)
        yield path, kind, value
        if kind is GROUP and isinstance(value, Mapping):
            yield from entries(value, f"{path}.")
        elif kind is LABELLED and isinstance(value, Mapping):
            for label, inner in value.items():
                if isinstance(inner, Mapping):
                    yield from entries(inner, f"{path}.{label}.")


def undeclared(diagnostics: Mapping[str, Any]) -> list[str]:
    """Paths of the entries whose key is not declared."""
    return [path for path, kind, _ in entries(diagnostics) if kind is None]


def select(diagnostics: Mapping[str, Any], kinds: Collection[Kind]) -> tuple[dict[str, Any], list[str]]:
    """The entries of the given kinds, and the paths of those left out for want of a declaration.

    Groups and labelled mappings are descended into and kept when anything is left in them;
    a labelled mapping keeps only values that are groups. Left out silently: entries of other
    declared kinds. Left out and listed: undeclared keys and values not of their declared
    shape (``has_shape``), and non-group values of a labelled mapping.
    """
    noted: list[str] = []

    def walk(mapping: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in mapping.items():
            path, kind = f"{prefix}{key}", kind_of(key)
            if kind is None or not has_shape(kind, value):
                noted.append(path)
            elif kind is GROUP:
                inner = walk(value, f"{path}.")
                if inner:
                    out[key] = inner
            elif kind is LABELLED:
                labelled = {}
                for label, group in value.items():
                    if not isinstance(group, Mapping):
                        noted.append(f"{path}.{label}")
                        continue
                    inner = walk(group, f"{path}.{label}.")
                    if inner:
                        labelled[label] = inner
                if labelled:
                    out[key] = labelled
            elif kind in kinds:
                out[key] = value
        return out

    return walk(diagnostics, ""), noted


__all__ = ["COUNT", "DIAGNOSTIC_KEYS", "EVENTS_PER_ARM", "FLAG", "GROUP", "Kind", "LABELLED", "PROTOCOL",
           "PUBLISHED_KINDS", "STATISTIC", "entries", "has_shape", "kind_of", "select", "undeclared"]
