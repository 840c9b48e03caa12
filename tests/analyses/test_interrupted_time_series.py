"""The interrupted time series before and after the law (issue 14): series, model, specs.

- A noise-free series built from the model's own formula gives back every planted coefficient
  (level and slope change at the law, pandemic, trend, season) to numerical precision.
- The monthly series counts a return to work within h days as `followup_days <= h` with end
  reason return_to_work, and keeps only the months every spell of which can be judged.
- The study-file parameters are checked (dates, their order).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analyses.designs.interrupted_time_series import (
    adjusted_fit,
    design_matrix,
    monthly_series,
    segmented_fit,
    wilson_interval,
)
from analyses.designs.specs import InterruptedTimeSeriesParameters, specs_from_table
from koord.errors import StudyDefinitionError

PARAMS = InterruptedTimeSeriesParameters()
PLANTED = {"const": np.log(0.55), "trend": -0.02, "post": 0.08, "years_after_law": 0.03, "pandemic": -0.05,
           "month_07": -0.10, "month_12": 0.04}


def _noise_free_series() -> pd.DataFrame:
    months = pd.date_range("2018-01-01", "2024-06-01", freq="MS")
    X = design_matrix(pd.Series(months), *PARAMS.dates())
    eta = sum(X[c].to_numpy() * b for c, b in PLANTED.items())
    n = np.full(len(months), 1000.0)
    return pd.DataFrame({"month": months, "n_spells": n, "n_back": n * np.exp(eta)})


@pytest.mark.filterwarnings("ignore:Perfect separation")
def test_noise_free_series_returns_the_planted_coefficients():
    fit = segmented_fit(_noise_free_series(), PARAMS)
    for column in fit["params"].index:
        assert fit["params"][column] == pytest.approx(PLANTED.get(column, 0.0), abs=1e-8), column
    assert fit["dispersion"] == pytest.approx(0.0, abs=1e-10)  # a perfect fit
    # the counterfactual drops only the law's terms: equal to the fit before the law
    series = _noise_free_series()
    before = series["month"] < pd.Timestamp(PARAMS.law_date)
    assert np.allclose(fit["fitted_share"][before], fit["counterfactual_share"][before])
    after = ~before.to_numpy()
    expected_ratio = np.exp(PLANTED["post"] + PLANTED["years_after_law"] * design_matrix(
        series["month"], *PARAMS.dates())["years_after_law"].to_numpy())
    assert np.allclose(fit["fitted_share"][after] / fit["counterfactual_share"][after], expected_ratio[after])


def test_design_columns_at_the_law_and_in_the_pandemic():
    months = pd.Series(pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2021-02-01", "2022-02-01", "2022-03-01"]))
    X = design_matrix(months, *PARAMS.dates())
    assert X["post"].tolist() == [0, 1, 1, 1, 1, 1]
    assert X["years_after_law"].tolist() == pytest.approx([0, 0, 1 / 12, 1.0, 2.0, 25 / 12])
    assert X["pandemic"].tolist() == [0, 0, 1, 1, 1, 0]
    assert X["trend"].tolist() == pytest.approx([0, 1 / 12, 2 / 12, 13 / 12, 25 / 12, 26 / 12])


def test_monthly_series_counts_and_judged_months():
    spells = pd.DataFrame({
        "person_id": [1, 2, 3, 4, 5, 5],
        "spell_start_date": pd.to_datetime(["2024-01-03", "2024-01-20", "2024-01-31", "2024-02-10", "2024-03-01",
                                            "2024-03-15"]),
        "end_reason": ["return_to_work", "return_to_work", "death", "return_to_work", "return_to_work", "censored"],
        "followup_days": [90, 91, 10, 30, 5, 400],
    })
    # January: last day 31 Jan + 90 + 30 = 30 May <= extraction 31 May; February: 29 Feb + 120 = 28 June > 31 May
    out = monthly_series(spells, 90, date(2024, 5, 31), 30)
    assert out["month"].tolist() == [pd.Timestamp("2024-01-01")]
    assert out[["n_spells", "n_back", "n_persons"]].iloc[0].tolist() == [3, 1, 3]  # day 91 is too late; death is not back
    later = monthly_series(spells, 90, date(2024, 12, 31), 30)
    assert later["n_back"].tolist() == [1, 1, 1] and later["n_persons"].tolist() == [3, 1, 1]


def test_wilson_interval_matches_the_formula():
    low, high = wilson_interval(np.array([30.0]), np.array([100.0]))
    assert (low[0], high[0]) == pytest.approx((0.2189, 0.3958), abs=1e-4)  # Wilson 95 % for 30/100


def test_parameters_are_checked():
    specs = specs_from_table({"run": ["interrupted_time_series"],
                              "interrupted_time_series": {"law_date": "2020-02-01", "horizons": [90, 180]}})
    assert specs[0].parameters.dates()[0] == date(2020, 2, 1)
    with pytest.raises(StudyDefinitionError, match="expected ISO dates"):
        specs_from_table({"run": ["interrupted_time_series"], "interrupted_time_series": {"law_date": "1 feb 2020"}})
    with pytest.raises(StudyDefinitionError, match="law_date <= pandemic_from <= pandemic_to"):
        specs_from_table({"run": ["interrupted_time_series"],
                          "interrupted_time_series": {"pandemic_from": "2019-01-01"}})


@pytest.mark.filterwarnings("ignore:Perfect separation")
def test_case_mix_adjustment_removes_a_drift_that_is_not_the_law():
    """Two kinds of spells with shares 0.5 and 0.8 and none of the law: the slow kind grows from 20 % to 80 % of
    the spells in a curve, so the crude share bends at the law; within the kinds nothing changes."""
    months = pd.date_range("2018-01-01", "2024-06-01", freq="MS")
    w = np.clip((np.arange(len(months)) / (len(months) - 1)) ** 0.5, 0, 1) * 0.6 + 0.2  # share of the slow kind
    rows = []
    for i, m in enumerate(months):
        for kind, share, n in (("slow", 0.5, 1000 * w[i]), ("fast", 0.8, 1000 * (1 - w[i]))):
            rows.append({"month": m, "kind": kind, "n_spells": n, "n_back": n * share})
    cells = pd.DataFrame(rows)
    crude = cells.groupby("month", as_index=False)[["n_spells", "n_back"]].sum()
    crude_fit = segmented_fit(crude, PARAMS)
    assert abs(crude_fit["params"]["years_after_law"]) > 0.005  # the drift reads as a slope change
    fit = adjusted_fit(cells, PARAMS, ("kind",))
    for column in ("trend", "post", "years_after_law", "pandemic"):
        assert fit["params"][column] == pytest.approx(0.0, abs=1e-8), column
    assert np.exp(fit["params"]["kind_slow"]) == pytest.approx(0.5 / 0.8)
