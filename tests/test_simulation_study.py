"""`koord validate`: the performance measures of the simulation study (hand-computed) and a tiny study end to end.

The measures follow Morris, White & Crowther (2019, Stat Med 38:2074), Table 6; the values
below are worked by hand (R's sd() and var() use ddof 1, as here).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from pipeline.commands import simulation_study as V
from pipeline.commands.recovery import CHECK_COLUMNS, default_scale


def test_interval_measures_natural_scale_by_hand():
    # est 1.0, 1.2, 0.9, 1.3 against the truth 1; model SEs 0.1, 0.2, 0.1, 0.2
    m = V.interval_measures([1.0, 1.2, 0.9, 1.3], [1.0] * 4, [0.1, 0.2, 0.1, 0.2], scale="natural")
    assert m["n_replicates"] == 4
    assert m["bias"] == pytest.approx(0.1)  # mean of 0, 0.2, -0.1, 0.3
    # sd of the errors: deviations -0.1, 0.1, -0.2, 0.2 -> sqrt(0.10 / 3) = 0.182574; / sqrt(4)
    assert m["bias_mcse"] == pytest.approx(math.sqrt(0.10 / 3) / 2)
    assert m["emp_se"] == pytest.approx(0.1825742, abs=1e-7)
    assert m["emp_se_mcse"] == pytest.approx(0.1825742 / math.sqrt(6), abs=1e-7)
    assert m["error_sd"] == pytest.approx(m["emp_se"])  # the truth is constant
    assert m["model_se"] == pytest.approx(math.sqrt(0.025))  # sqrt(mean(0.01, 0.04, 0.01, 0.04))
    # var(s^2) = 4 x 0.015^2 / 3 = 0.0003; sqrt(0.0003 / (4 x 4 x 0.025))
    assert m["model_se_mcse"] == pytest.approx(math.sqrt(0.00075))
    assert m["rel_error_model_se_pct"] == pytest.approx(100 * (math.sqrt(0.75) - 1))  # -13.40 %
    # 100 x 0.866025 x sqrt(0.0003 / (4 x 4 x 0.025^2) + 1 / (2 x 3)) = 38.406
    assert m["rel_error_model_se_pct_mcse"] == pytest.approx(100 * math.sqrt(0.75) * math.sqrt(0.03 + 1 / 6))
    # |errors| 0, 0.2, 0.1, 0.3 against 1.96 SE = 0.196, 0.392, 0.196, 0.392: all covered
    assert m["coverage"] == 1.0 and m["coverage_mcse"] == 0.0
    # bias-eliminated: |error - 0.1| = 0.1, 0.1, 0.2, 0.2 -> the third (0.2 > 0.196) is not covered
    assert m["be_coverage"] == pytest.approx(0.75)
    assert m["be_coverage_mcse"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))


def test_interval_measures_log_scale_for_ratios():
    m = V.interval_measures([2.0, 0.5], [1.0, 1.0], [0.5, 0.5], scale="log")
    assert m["bias"] == pytest.approx(0.0)  # log 2 and log 0.5 cancel
    assert m["bias_natural"] == pytest.approx(0.25)  # mean(1, -0.5)
    assert m["relative_bias_pct"] == pytest.approx(25.0)
    assert m["emp_se"] == pytest.approx(math.sqrt(2) * math.log(2))
    assert m["coverage"] == 1.0  # |log 2| = 0.693 <= 1.96 x 0.5 = 0.98
    m = V.interval_measures([2.0, 3.0], [1.0, 1.0], [0.5, 0.5], scale="log")
    assert m["coverage"] == 0.5  # log 3 = 1.099 > 0.98


def test_coverage_adds_the_monte_carlo_error_of_a_simulated_truth():
    # 1.96 x sqrt(0.04^2 + 0.03^2) = 0.098 covers an error of 0.09; 1.96 x 0.04 = 0.0784 would not
    assert V.interval_measures([0.09], [0.0], [0.04], [0.03])["coverage"] == 1.0
    assert V.interval_measures([0.09], [0.0], [0.04], [np.nan])["coverage"] == 0.0
    assert V.interval_measures([0.11], [0.0], [0.04], [0.03])["coverage"] == 0.0


def test_truth_that_differs_per_replicate():
    m = V.interval_measures([1.1, 2.1], [1.0, 2.0], [0.1, 0.1])
    assert m["bias"] == pytest.approx(0.1) and m["bias_mcse"] == pytest.approx(0.0)
    assert m["emp_se"] == pytest.approx(math.sqrt(0.5)) and m["error_sd"] == pytest.approx(0.0)
    assert m["sd_truth"] == pytest.approx(math.sqrt(0.5))
    # the model SE is judged against the SD of the errors (0.1, 0.1, 0: 0.057735), not of the estimates
    m = V.interval_measures([1.1, 2.1, 1.0], [1.0, 2.0, 1.0], [0.05] * 3)
    assert m["error_sd"] == pytest.approx(math.sqrt(0.01 / 3))
    assert m["rel_error_model_se_pct"] == pytest.approx(100 * (0.05 / math.sqrt(0.01 / 3) - 1))  # -13.40 %


def test_reported_interval_coverage():
    m = V.interval_measures([0.3, 0.2, 0.4], [0.25, 0.25, 0.25], None, scale="reported",
                            conf_low=[0.1, 0.1, 0.3], conf_high=[0.5, 0.3, 0.6])
    assert m["coverage"] == pytest.approx(2 / 3) and "model_se" not in m
    assert m["bias"] == pytest.approx(0.05)
    with pytest.raises(ValueError):
        V.interval_measures([1.0], [1.0], [0.1], scale="none")


def test_coverage_flags():
    low, high = V.nominal_band(20)  # 0.95 +- 2 sqrt(0.95 x 0.05 / 20) = 0.8525 .. 1
    assert low == pytest.approx(0.95 - 2 * 0.0487340, abs=1e-6) and high == 1.0
    assert V.coverage_flag(0.85, 20) == "coverage < 90 %; outside 95 % ± 2 MC SE"
    assert V.coverage_flag(0.88, 20) == "coverage < 90 %"
    assert V.coverage_flag(0.93, 20) == ""
    assert V.coverage_flag(1.0, 100) == "outside 95 % ± 2 MC SE"  # band 90.6 .. 99.4 %


def test_bias_flag_beyond_three_mc_se():
    assert V.bias_flag(0.038, 0.0078) == "bias +4.9 MC SE"
    assert V.bias_flag(-0.02, 0.0078) == ""  # 2.6 MC SE
    assert V.bias_flag(0.01, float("nan")) == "" and V.bias_flag(0.01, 0.0) == ""


def test_default_scale_from_the_row():
    assert default_scale("covers", 1.0, 0.8, 1.2, 0.1) == "natural"
    assert default_scale("covers", 1.0, math.exp(-0.2), math.exp(0.2), 0.1) == "log"
    assert default_scale("covers", 0.3, 0.15, 0.64, float("nan")) == "reported"
    assert default_scale("positive", 1.0, 0.8, 1.2, 0.1) == "none"
    assert default_scale("covers", 1.0, float("nan"), float("nan"), 0.1) == "none"


def _row(replicate, analysis_id, check, level, term, estimate, truth, se, passed, *, low=np.nan, high=np.nan,
         scale=None, expectation="covers", sex="all", subgroup="all"):
    r = dict(zip(CHECK_COLUMNS, [analysis_id, check, sex, subgroup, level, term, estimate, low, high, truth,
                                 expectation, passed, se, np.nan, np.nan, scale]))
    r["replicate"] = replicate
    return r


def test_performance_measures_per_check_key():
    rows = []
    for i, (hr, se, flagged) in enumerate([(1.3, 0.05, "none"), (1.2, 0.05, "03"), (1.25, 0.05, "none")], 1):
        rows.append(_row(i, "naive_ever", "excludes_planted_hr", "all", "ever_coordinated", 0.7, 1.1, 0.05, True,
                         expectation="misses", scale="none"))
        rows.append(_row(i, "region_uptake", "no_other_outliers_beyond_chance", flagged, "observed_expected_ratio",
                         float(flagged != "none"), 1.0, np.nan, True, expectation="at_most", scale="none",
                         subgroup="home_region_code"))
        low, high = hr * math.exp(-1.96 * se), hr * math.exp(1.96 * se)
        # no scale given: derived from the interval (log-symmetric)
        rows.append(_row(i, "tv_cox", "covers_pooled_planted_hr", "all", "is_coordinated", hr, 1.25, se,
                         low <= 1.25 <= high, low=low, high=high))
    m = V.performance_measures(pd.DataFrame(rows), n_failed_replicates=1)
    assert list(m.columns) == V.MEASURE_COLUMNS and len(m) == 3
    assert m.iloc[0]["analysis_id"] == "tv_cox"  # the main estimand first
    cox = m.iloc[0]
    assert cox["scale"] == "log" and cox["n_replicates"] == 3 and cox["n_failed_replicates"] == 1
    errors = np.log([1.3, 1.2, 1.25]) - math.log(1.25)
    assert cox["bias"] == pytest.approx(errors.mean())
    assert cox["coverage"] == 1.0 and cox["model_se"] == pytest.approx(0.05)
    outliers = m[m["check"] == "no_other_outliers_beyond_chance"].iloc[0]
    assert outliers["level"] == V.VARIES and outliers["pass_rate"] == 1.0 and outliers["n_replicates"] == 3
    assert np.isnan(outliers["coverage"]) and outliers["mean_estimate"] == pytest.approx(1 / 3)
    lines = V.table_lines(m)
    assert any("tv_cox covers_pooled_planted_hr" in line for line in lines)


# --- end to end ------------------------------------------------------------------------------------

STUDY = """
[analyses]
run = ["tv_cox", "tv_poisson", "target_trial", "naive_ever", "coordination_timing"]
bootstrap_replicates = 20

[analyses.tv_poisson]
band_cuts = [31, 61, 91, 181, 366]
"""
PERSONS, SEED0 = 2_000, 20


def test_study_end_to_end_resumes_and_records_failures(tmp_path, capsys):
    from pipeline.cli import main as koord

    study, out = tmp_path / "study.toml", tmp_path / "study"
    study.write_text(STUDY, encoding="utf-8")
    argv = ["validate", "--out", str(out), "--persons", str(PERSONS), "--replicates", "2", "--seed", str(SEED0),
            "--study", str(study)]
    assert koord(argv) == 0
    printed = capsys.readouterr()
    for name in ("simulation_study.csv", "simulation_study.md", "simulation_study_coverage.png", "simulation_study.json"):
        assert (out / name).is_file(), name
    seeds = [SEED0 + 1, SEED0 + 2]
    csvs = [out / "replicates" / f"seed_{s}" / "truth_check.csv" for s in seeds]
    assert all(c.is_file() for c in csvs)
    # the delivery, warehouse and analysis output are deleted without --keep
    assert not any((out / "replicates" / f"seed_{s}" / name).exists()
                   for s in seeds for name in ("delivery", "warehouse.duckdb", "out"))
    m = pd.read_csv(out / "simulation_study.csv")
    assert list(m.columns) == V.MEASURE_COLUMNS
    checks = pd.read_csv(csvs[0])
    assert "scale" in checks.columns and set(checks["scale"]) <= {"log", "natural", "reported", "none"}
    # every check key of the replicates is a row; main estimands first; both replicates used
    assert len(m) == len(checks.groupby(V.KEY))
    assert m.iloc[0]["analysis_id"] == "tv_cox" and m.iloc[0]["check"] == "covers_pooled_planted_hr"
    main = m[(m["analysis_id"] == "tv_cox") & (m["check"] == "covers_pooled_planted_hr")]
    assert (main["n_replicates"] == 2).all() and (main["scale"] == "log").all()
    assert main["coverage"].between(0, 1).all() and main["emp_se"].notna().all()
    assert set(m.loc[m["check"] == "positive_risk_difference", "scale"]) == {"none"}
    assert "coverage %" in printed.out and "tv_cox covers_pooled_planted_hr all/all" in printed.out
    assert "Simulation study" in (out / "simulation_study.md").read_text(encoding="utf-8")

    # resumable: a third replicate runs, the first two are not redone. It runs without naive_ever,
    # which check-truth needs: the failure is recorded and the study still summarises the two.
    stamps = [c.stat().st_mtime_ns for c in csvs]
    assert koord([*argv[:6], "3", *argv[7:], "--analyses", "tv_cox", "tv_poisson", "target_trial"]) == 0
    printed = capsys.readouterr()
    assert "2 done before, 1 to run" in printed.err
    assert [c.stat().st_mtime_ns for c in csvs] == stamps
    failed = out / "replicates" / f"seed_{SEED0 + 3}" / "failed.txt"
    assert failed.is_file() and "check-truth" in failed.read_text(encoding="utf-8")
    summary = json.loads((out / "simulation_study.json").read_text(encoding="utf-8"))
    assert summary["n_ok"] == 2 and list(summary["failed"]) == [str(SEED0 + 3)]
    m = pd.read_csv(out / "simulation_study.csv")
    assert (m["n_failed_replicates"] == 1).all() and (m["n_replicates"] <= 2).all()


def test_the_sign_of_a_risk_difference_is_judged_only_where_the_delivery_can_see_it():
    """Rule c's sign check: an under-powered group's negative estimate is chance, not a failure (seed 11)."""
    import pandas as pd

    from pipeline.commands.recovery import risk_difference_checks

    def table(estimate: float, se: float) -> pd.DataFrame:
        rows = []
        for subgroup, level in [("all", "all"), ("sex", "woman"), ("sex", "man"), ("diagnosis_chapter_group", "psychiatric"),
                                ("diagnosis_chapter_group", "musculoskeletal"), ("diagnosis_chapter_group", "other")]:
            rows.append({"analysis_id": "target_trial", "estimand": "risk_difference", "term": "horizon_365",
                         "sex": level if subgroup == "sex" else "all", "subgroup": subgroup, "level": level,
                         "estimate": estimate, "std_error": se, "conf_low": estimate - 1.96 * se,
                         "conf_high": estimate + 1.96 * se})
        return pd.DataFrame(rows)

    truths = {k: {365: {"difference": 0.012, "mc_se": 0.001}} for k in
              [("all", "all"), ("sex", "woman"), ("sex", "man"), ("diagnosis_chapter_group", "psychiatric"),
               ("diagnosis_chapter_group", "musculoskeletal"), ("diagnosis_chapter_group", "other")]}
    low_power = risk_difference_checks(table(-0.005, 0.037), truths, (365,))
    assert all(r["passed"] for r in low_power if r["check"] == "positive_risk_difference")
    powered = risk_difference_checks(table(-0.005, 0.002), truths, (365,))
    assert not any(r["passed"] for r in powered if r["check"] == "positive_risk_difference")
    excluded = risk_difference_checks(table(-0.09, 0.037), truths, (365,))  # the interval stays below 0
    assert not any(r["passed"] for r in excluded if r["check"] == "positive_risk_difference")
