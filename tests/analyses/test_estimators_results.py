"""The common Result: immutable, tidy summary with the standard columns, rendering apart from numbers."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from analyses.estimators import CoxSpec, fit_cox
from analyses.results import SUMMARY_COLUMNS, Z_95, Result, make_summary, wald_row


@pytest.fixture()
def rossi_fit(reference_dir):
    rossi = pd.read_csv(reference_dir / "rossi.csv")
    return fit_cox(rossi, CoxSpec(stop="week", event="arrest", covariates=("fin", "age", "prio"), analysis_id="rossi"))


def _result() -> Result:
    diagnostics = {"converged": True, "n_iter": np.int64(4), "values": [1, 2], "missing": float("nan")}
    summary = make_summary([{"estimand": "hazard_ratio", "term": "x", "estimate": 1.5, "n_events": 3, "extra": "a"}],
                           analysis_id="demo", method="cox", diagnostics=diagnostics)
    return Result(analysis_id="demo", method="cox", summary=summary, diagnostics=diagnostics,
                  tables={"curve": pd.DataFrame({"time": [1.0, 2.0], "value": [0.9, 0.8]})})


def test_summary_has_standard_columns_first_and_extras_after() -> None:
    summary = _result().summary
    assert list(summary.columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    assert list(summary.columns[len(SUMMARY_COLUMNS):]) == ["extra"]
    assert summary.loc[0, "analysis_id"] == "demo" and summary.loc[0, "method"] == "cox"
    assert math.isnan(summary.loc[0, "std_error"])


def test_diagnostics_stored_as_json_text_in_the_summary() -> None:
    stored = json.loads(_result().summary.loc[0, "diagnostics"])
    assert stored == {"converged": True, "n_iter": 4, "values": [1, 2], "missing": None}


def test_result_rejects_a_summary_without_the_standard_columns() -> None:
    with pytest.raises(ValueError, match="standard columns"):
        Result(analysis_id="x", method="cox", summary=pd.DataFrame({"estimate": [1.0]}), diagnostics={})


def test_result_is_immutable() -> None:
    result = _result()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.summary = pd.DataFrame()  # type: ignore[misc]
    summary, tables, diagnostics = result.summary, result.tables, result.diagnostics
    # frames are handed out as views of read-only numbers: a write raises, the result keeps its numbers
    with pytest.raises(ValueError, match="read-only"):
        summary.loc[0, "estimate"] = 99.0
    with pytest.raises(ValueError, match="read-only"):
        tables["curve"].loc[0, "value"] = -1.0
    with pytest.raises(ValueError, match="read-only"):
        summary["estimate"].to_numpy()[0] = 7.0
    # replacing or adding a column changes the caller's frame only; .copy() is writable
    summary["estimate"] = 99.0
    summary["new"] = 1
    tables["curve"]["value"] = -1.0
    mine = result.summary.copy()
    mine.loc[0, "estimate"] = 5.0
    tables["new"] = pd.DataFrame()
    diagnostics["converged"] = False
    diagnostics["values"].append(3)
    assert result.summary.loc[0, "estimate"] == 1.5 and "new" not in result.summary.columns
    assert result.summary.loc[0, "n_events"] == 3
    assert result.tables["curve"].loc[0, "value"] == 0.9
    assert set(result.tables) == {"curve"}
    assert result.diagnostics["converged"] is True and result.diagnostics["values"] == [1, 2]


def test_access_shares_the_numbers_instead_of_copying_them() -> None:
    result = _result()
    first, second = result.tables["curve"], result.tables["curve"]
    assert first is not second and np.shares_memory(first["value"].to_numpy(), second["value"].to_numpy())
    assert np.shares_memory(result.summary["estimate"].to_numpy(), result.summary["estimate"].to_numpy())


def test_columns_pandas_cannot_freeze_are_handed_out_as_copies() -> None:
    summary = make_summary([{"estimand": "e", "term": "t", "estimate": 2.0}], analysis_id="a", method="m",
                           diagnostics={})
    table = pd.DataFrame({"level": pd.Categorical(["x", "y"]), "v": [1.0, 2.0]})
    result = Result(analysis_id="a", method="m", summary=summary, diagnostics={}, tables={"t": table})
    mine = result.tables["t"]
    mine.loc[0, "v"] = 0.0
    assert result.tables["t"].loc[0, "v"] == 1.0
    assert list(result.tables["t"]["level"]) == ["x", "y"]


def test_result_copies_its_inputs() -> None:
    summary = make_summary([{"estimand": "e", "term": "t", "estimate": 2.0}], analysis_id="a", method="m",
                           diagnostics={})
    table = pd.DataFrame({"v": [1.0]})
    result = Result(analysis_id="a", method="m", summary=summary, diagnostics={}, tables={"t": table})
    summary.loc[0, "estimate"] = 0.0
    table.loc[0, "v"] = 0.0
    assert result.summary.loc[0, "estimate"] == 2.0 and result.tables["t"].loc[0, "v"] == 1.0


def test_cox_result_fields_are_read_only(rossi_fit) -> None:
    coef, vcov = rossi_fit.coef, rossi_fit.vcov
    with pytest.raises(ValueError, match="read-only"):
        coef.iloc[0] = 10.0
    with pytest.raises(ValueError, match="read-only"):
        vcov.iloc[0, 0] = 10.0
    mine = coef.copy()
    mine.iloc[0] = 10.0
    assert rossi_fit.coef.iloc[0] == pytest.approx(-0.38, abs=0.05)
    assert rossi_fit.vcov.iloc[0, 0] == pytest.approx(rossi_fit.se.iloc[0] ** 2)


def test_cox_summary_reports_hazard_ratios_on_the_ratio_scale(rossi_fit) -> None:
    summary = rossi_fit.summary.set_index("term")
    assert set(summary["estimand"]) == {"hazard_ratio"}
    np.testing.assert_allclose(summary["estimate"], np.exp(rossi_fit.coef))
    np.testing.assert_allclose(summary["conf_low"], np.exp(rossi_fit.coef - Z_95 * rossi_fit.se))
    np.testing.assert_allclose(summary["std_error"], rossi_fit.se)
    assert (summary["n_persons"] == 432).all() and (summary["n_events"] == 114).all()
    assert rossi_fit.robust_se is None and rossi_fit.diagnostics["se_type"] == "model"


def test_rendering_is_separate_from_the_numbers(rossi_fit) -> None:
    before = rossi_fit.summary
    text, html = rossi_fit.to_text(), rossi_fit.to_html()
    assert text.startswith("rossi (cox)") and "prio" in text and "hazard_ratio" in text and "n_iter=" in text
    assert html.count("<tr") == 1 + 3 and "prio" in html and "rossi (cox)" in html
    pd.testing.assert_frame_equal(rossi_fit.summary, before)


def test_wald_row() -> None:
    row = wald_row(math.log(2.0), 0.1, ratio=True)
    assert row["estimate"] == pytest.approx(2.0)
    assert row["conf_low"] == pytest.approx(2.0 * math.exp(-Z_95 * 0.1))
    assert row["p_value"] == pytest.approx(2 * 0.5 * math.erfc(math.log(2.0) / 0.1 / math.sqrt(2)))
    plain = wald_row(1.0, 0.5, ratio=False)
    assert plain["estimate"] == 1.0 and plain["conf_high"] == pytest.approx(1.0 + Z_95 * 0.5)


def test_results_compare_by_identity() -> None:
    first, second = _result(), _result()
    assert first == first and first != second  # no DataFrame truth-value error
    assert len({first, second}) == 2
