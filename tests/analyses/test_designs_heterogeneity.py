"""Interaction terms and the Wald test of heterogeneity; empty populations."""

import numpy as np
import pandas as pd
import pytest

from analyses.designs._models import POOLED_LEVELS, ModelFit, split_exposure, wald_equality_test
from analyses.designs.covariates import LevelPlan
from analyses.designs.specs import TargetTrialParameters
from analyses.designs.trial_emulation import analyse_trials, expand_trials


def fit_of(coef: dict[str, float], variances: dict[str, float]) -> ModelFit:
    names = list(coef)
    return ModelFit(pd.Series(coef), pd.DataFrame(np.diag([variances[n] for n in names]), index=names, columns=names),
                    {}, LevelPlan())


def test_wald_test_by_hand():
    # beta 0.1 and 0.3 with variances 0.01: (0.1 - 0.3)^2 / 0.02 = 2.0 on 1 df, p = 0.1573
    chi2, df, p = wald_equality_test(fit_of({"a": 0.1, "b": 0.3}, {"a": 0.01, "b": 0.01}), ["a", "b"])
    assert (chi2, df) == (pytest.approx(2.0), 1) and p == pytest.approx(0.157299, abs=1e-6)
    # three equal coefficients: no evidence of heterogeneity
    chi2, df, p = wald_equality_test(fit_of({"a": 0.2, "b": 0.2, "c": 0.2}, {"a": 1, "b": 2, "c": 3}), ["a", "b", "c"])
    assert chi2 == pytest.approx(0.0) and df == 2 and p == pytest.approx(1.0)


def test_sparse_levels_share_one_exposure_term():
    rows = pd.DataFrame({"region": ["01"] * 6 + ["09"] * 2})
    exposure = np.array([1, 1, 1, 0, 0, 0, 1, 0], float)
    event = np.array([1, 1, 1, 1, 1, 0, 1, 0], float)
    columns, terms, pooled = split_exposure(rows, exposure, "region", event, min_events=2)
    assert pooled == ["09"] and [t.level for t in terms] == ["01", POOLED_LEVELS]
    assert list(columns["is_coordinated__01"]) == [1, 1, 1, 0, 0, 0, 0, 0]
    assert list(columns[f"is_coordinated__{POOLED_LEVELS}"]) == [0, 0, 0, 0, 0, 0, 1, 0]


def test_trials_without_any_eligible_spell_give_no_analysis():
    spells = pd.DataFrame({"spell_id": [1], "person_id": [1], "followup_days": [10], "days_to_first_gc001": [np.nan],
                           "end_reason": ["return_to_work"], "sex": ["man"]})
    params = TargetTrialParameters(entry_day=14, first_trial_day=14, n_trial_weeks=1, confounders=("sex",))
    expanded = expand_trials(spells, params, ("sex", ), np.random.default_rng(0))
    assert expanded.entries.empty and (expanded.per_trial["n_eligible"] == 0).all()
    spells["diagnosis_chapter_group"] = "other"
    assert analyse_trials(spells, params, np.random.default_rng(0)) is None
