"""check-truth's region rules (e-h of `pipeline.commands.recovery`) on small hand-made results frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from data_schemas.codes import regions
from pipeline.commands.recovery import (
    CHECK_COLUMNS,
    TruthCheckRefused,
    allowed_other_outliers,
    region_checks,
    region_outlier_checks,
    region_rank_check,
    region_variance_checks,
    spearman_bar,
)

CODES = [r.code for r in regions()]
U = dict(zip(CODES, np.linspace(-0.6, 0.6, len(CODES)).round(3)))
U.update({"08": -1.8, "17": 1.9})
V = dict(zip(CODES, np.linspace(0.15, -0.15, len(CODES)).round(3)))
V.update({"21": -0.45})


def _effect(values: dict, outliers: list[str]) -> dict:
    return {"scale": "log hazard", "sd": 0.4, "values": values,
            "variance": float(np.var(list(values.values()), ddof=1)), "outliers": outliers}


def truth(n_persons: int = 20_000, with_effects: bool = True) -> dict:
    t = {"generator": "koord synth", "n_persons": n_persons}
    if with_effects:
        t["region_effects"] = {"coordination": _effect(U, ["08", "17"]), "return_to_work": _effect(V, ["21"])}
    return t


def variation(low_c: float = 0.05, high_c: float = 0.9, low_r: float = 0.005, high_r: float = 0.1) -> pd.DataFrame:
    base = {"analysis_id": "region_variation", "method": "glmm_poisson", "estimand": "variance",
            "subgroup": "all", "level": "all", "sex": "all", "std_error": float("nan"), "p_value": float("nan")}
    rows = [{**base, "term": "coordination_rate_adjusted", "estimate": (low_c + high_c) / 2, "conf_low": low_c,
             "conf_high": high_c},
            {**base, "term": "rtw_rate_adjusted", "estimate": (low_r + high_r) / 2, "conf_low": low_r,
             "conf_high": high_r},
            # rows of other populations must not be picked
            {**base, "term": "coordination_rate_adjusted", "sex": "woman", "estimate": 9.0, "conf_low": 8.0,
             "conf_high": 10.0}]
    return pd.DataFrame(rows)


def oe_table(planted: dict, outside: set[str], *, measure: bool = False, shrunken=None) -> pd.DataFrame:
    """O/E rows per region (everyone, whole period) plus decoys of other sexes, years and measures."""
    shrunken = shrunken if shrunken is not None else {c: math.exp(0.8 * x) for c, x in planted.items()}
    rows = []
    for code, x in planted.items():
        common = {"subgroup": "home_region_code", "level": code, "term": "unit", "std_error": float("nan")}
        rows.append({**common, "estimand": "observed_expected_ratio", "estimate": math.exp(x), "sex": "all",
                     "start_year": "all", "conf_low": 0.5, "conf_high": 2.0, "outside_998": code in outside})
        rows.append({**common, "estimand": "shrunken_observed_expected_ratio", "estimate": shrunken[code],
                     "sex": "all", "start_year": "all", "conf_low": float("nan"), "conf_high": float("nan"),
                     "outside_998": None})
        # decoys: another sex and a single year, with every region flagged and ranks reversed
        for sex, year in (("woman", "all"), ("all", "2021")):
            rows.append({**common, "estimand": "observed_expected_ratio", "estimate": math.exp(-x), "sex": sex,
                         "start_year": year, "conf_low": 0.5, "conf_high": 2.0, "outside_998": True})
            rows.append({**common, "estimand": "shrunken_observed_expected_ratio", "estimate": math.exp(-x),
                         "sex": sex, "start_year": year, "conf_low": float("nan"), "conf_high": float("nan"),
                         "outside_998": None})
    df = pd.DataFrame(rows)
    if measure:
        other = df.assign(measure="share_90", estimate=1 / df["estimate"], outside_998=df["estimand"].eq(
            "observed_expected_ratio"))
        df = pd.concat([df.assign(measure="rate"), other], ignore_index=True)
    return df


def results(**over) -> dict:
    out = {"region_variation": variation(), "region_uptake": oe_table(U, {"08", "17"}),
           "region_rtw": oe_table(V, {"21"}, measure=True)}
    out.update(over)
    return {k: v for k, v in out.items() if v is not None}


# --- e: the variance intervals -------------------------------------------------------------------------


def test_variance_intervals_pass_when_they_cover_the_planted_variance():
    rows = region_variance_checks(variation(), truth()["region_effects"])
    assert [r["term"] for r in rows] == ["coordination_rate_adjusted", "rtw_rate_adjusted"]
    assert all(r["passed"] for r in rows) and all(r["check"] == "covers_planted_region_variance" for r in rows)
    assert rows[0]["truth"] == pytest.approx(np.var(list(U.values()), ddof=1))
    assert rows[1]["truth"] == pytest.approx(np.var(list(V.values()), ddof=1))
    assert set(rows[0]) == set(CHECK_COLUMNS)


def test_variance_interval_fails_when_it_misses_the_planted_variance():
    rows = region_variance_checks(variation(low_c=0.01, high_c=0.05, low_r=0.2, high_r=0.5), truth()["region_effects"])
    assert [r["passed"] for r in rows] == [False, False]


def test_variance_check_refuses_a_missing_term():
    table = variation()
    with pytest.raises(TruthCheckRefused, match="rtw_rate_adjusted"):
        region_variance_checks(table[table["term"] != "rtw_rate_adjusted"], truth()["region_effects"])


# --- f: the ranking ---------------------------------------------------------------------------------------


def test_spearman_bar_is_the_issues_from_100000_persons_and_measured_below():
    assert spearman_bar(100_000) == 0.8 and spearman_bar(1_000_000) == 0.8
    assert spearman_bar(20_000) == spearman_bar(99_999) < 0.8
    assert spearman_bar(3_000) < spearman_bar(20_000)


def test_shrunken_estimates_that_rank_the_planted_values_pass():
    row = region_rank_check(oe_table(U, set()), "region_uptake", U, 100_000)
    assert row["passed"] and row["estimate"] == pytest.approx(1.0) and row["truth"] == 0.8
    assert row["expectation"] == "at_least" and set(row) == set(CHECK_COLUMNS)
    rtw = region_rank_check(oe_table(V, set(), measure=True), "region_rtw", V, 100_000, measure="rate")
    assert rtw["passed"] and rtw["estimate"] == pytest.approx(1.0)  # share_90 rows (reversed) are not read


def test_shrunken_estimates_that_do_not_rank_the_planted_values_fail():
    rng = np.random.default_rng(3)
    shuffled = dict(zip(CODES, rng.permutation([math.exp(U[c]) for c in CODES])))
    row = region_rank_check(oe_table(U, set(), shrunken=shuffled), "region_uptake", U, 100_000)
    assert row["estimate"] < 0.8 and not row["passed"]
    # a moderate ranking passes the lower bar of a small delivery and fails the national one: the
    # 11 middle regions in reverse order, Spearman 1 - 6 * 440 / (21 * 440) = 0.714
    by_value = sorted(CODES, key=U.get)
    order = by_value[:5] + by_value[5:16][::-1] + by_value[16:]
    noisy = {c: float(i) for i, c in enumerate(order)}
    rho = region_rank_check(oe_table(U, set(), shrunken=noisy), "region_uptake", U, 20_000)["estimate"]
    assert rho == pytest.approx(1 - 6 * 440 / (21 * 440))
    assert region_rank_check(oe_table(U, set(), shrunken=noisy), "region_uptake", U, 20_000)["passed"]
    assert not region_rank_check(oe_table(U, set(), shrunken=noisy), "region_uptake", U, 100_000)["passed"]


# --- g and h: the funnel outliers ----------------------------------------------------------------------


def test_planted_outliers_outside_and_no_others_pass():
    rows = region_outlier_checks(oe_table(U, {"08", "17"}), "region_uptake", U, ["08", "17"])
    g = [r for r in rows if r["check"] == "planted_outliers_outside_limits"]
    h = [r for r in rows if r["check"] == "no_other_outliers_beyond_chance"]
    assert [r["level"] for r in g] == ["08", "17"] and all(r["passed"] for r in g)
    assert g[0]["truth"] == -1.8 and g[0]["estimate"] == pytest.approx(math.exp(-1.8))
    assert len(h) == 1 and h[0]["passed"] and h[0]["estimate"] == 0 and h[0]["truth"] == 1 and h[0]["level"] == "none"


def test_a_planted_outlier_inside_the_limits_fails():
    rows = region_outlier_checks(oe_table(U, {"08"}), "region_uptake", U, ["08", "17"])
    assert {r["level"]: r["passed"] for r in rows if r["check"] == "planted_outliers_outside_limits"} == {
        "08": True, "17": False}


def test_one_other_region_outside_is_chance_two_are_not():
    one = region_outlier_checks(oe_table(V, {"21", "01"}, measure=True), "region_rtw", V, ["21"], measure="rate")
    assert one[-1]["passed"] and one[-1]["estimate"] == 1 and one[-1]["level"] == "01"
    two = region_outlier_checks(oe_table(V, {"21", "01", "14"}, measure=True), "region_rtw", V, ["21"], measure="rate")
    assert not two[-1]["passed"] and two[-1]["estimate"] == 2 and two[-1]["level"] == "01,14"
    assert allowed_other_outliers(19) == 1 and allowed_other_outliers(0) == 0


def test_csv_spellings_of_codes_and_flags_are_read():
    table = oe_table(U, {"08", "17"})
    table["level"] = pd.to_numeric(table["level"])  # '08' read back from a CSV as 8
    table["outside_998"] = table["outside_998"].map({True: "true", False: "false", None: ""})
    table.loc[table["estimand"] == "shrunken_observed_expected_ratio", "outside_998"] = "false"
    rows = region_outlier_checks(table, "region_uptake", U, ["08", "17"])
    assert all(r["passed"] for r in rows)


def test_outlier_check_refuses_tables_without_the_flag_or_the_outlier():
    with pytest.raises(TruthCheckRefused, match="outside_998"):
        region_outlier_checks(oe_table(U, set()).drop(columns="outside_998"), "region_uptake", U, ["08"])
    table = oe_table(U, {"08"})
    with pytest.raises(TruthCheckRefused, match="outlier region 08"):
        region_outlier_checks(table[table["level"] != "08"], "region_uptake", U, ["08"])


# --- wiring ---------------------------------------------------------------------------------------------


def test_region_checks_run_for_every_table_present():
    rows, notes = region_checks(results(), truth(100_000))
    checks = pd.DataFrame(rows, columns=CHECK_COLUMNS)
    assert notes == [] and checks["passed"].all()
    counts = checks.groupby(["analysis_id", "check"]).size().to_dict()
    assert counts == {
        ("region_variation", "covers_planted_region_variance"): 2,
        ("region_uptake", "shrunken_estimates_rank_planted"): 1,
        ("region_uptake", "planted_outliers_outside_limits"): 2,
        ("region_uptake", "no_other_outliers_beyond_chance"): 1,
        ("region_rtw", "shrunken_estimates_rank_planted"): 1,
        ("region_rtw", "planted_outliers_outside_limits"): 1,
        ("region_rtw", "no_other_outliers_beyond_chance"): 1,
    }


def test_region_checks_fail_when_the_results_miss_the_truth():
    bad = results(region_uptake=oe_table(U, {"08", "03", "04"}))
    checks = pd.DataFrame(region_checks(bad, truth())[0], columns=CHECK_COLUMNS)
    failed = checks.loc[~checks["passed"], ["analysis_id", "check", "level"]].values.tolist()
    assert failed == [["region_uptake", "planted_outliers_outside_limits", "17"],
                      ["region_uptake", "no_other_outliers_beyond_chance", "03,04"]]


def test_region_checks_are_skipped_with_a_note():
    rows, notes = region_checks({"tv_cox": pd.DataFrame()}, truth())
    assert rows == [] and "no results table" in notes[0]
    rows, notes = region_checks(results(), truth(with_effects=False))
    assert rows == [] and "region_effects" in notes[0] and "older" in notes[0]
    rows, notes = region_checks(results(region_rtw=None, region_variation=None), truth())
    assert {r["analysis_id"] for r in rows} == {"region_uptake"}
    assert any("region_rtw" in n for n in notes) and any("region_variation" in n for n in notes)
