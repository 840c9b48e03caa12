"""The designs recover the planted effect of coordination on a synthetic delivery; the naive comparison does not.

One delivery (synth -> ingest -> build -> analyse through the `koord` command line) is made
per test session, and `koord check-truth` compares its results with the planted truth (the
truths and the rules are in `pipeline.commands.recovery`): hazard ratios by chapter group and
overall, the emulated trials' risk differences for everyone, women, men and each chapter
group, and the naive comparison, which must miss. The same command runs in `make bench` at
100 000 and 1 000 000 persons.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from analyses.designs.evalue import e_values_hazard_ratio
from pipeline.commands.internal_folder import INTERNAL_DIR, README_NAME
from analyses.results import SUMMARY_COLUMNS
from pipeline.cli import main as koord
from tests.analyses.synthetic_chain import analysed_delivery, results_tables
from data_schemas.tables import REGION_CODES
from pipeline.commands.recovery import CHECK_COLUMNS

PERSONS, SEED = 15_000, 11
# Checks per (analysis, check): the chapter groups psychiatric, musculoskeletal, other; all, women,
# men; horizons 90, 180, 365 (the rules: `pipeline.commands.recovery`).
EXPECTED_CHECKS = {
    ("tv_cox", "covers_planted_hr"): 3, ("tv_cox", "covers_pooled_planted_hr"): 3,
    ("tv_poisson", "covers_planted_hr"): 3, ("tv_poisson", "covers_pooled_planted_hr"): 3,
    ("target_trial", "covers_true_risk_difference"): (3 + 3) * 3, ("target_trial", "positive_risk_difference"): (3 + 3) * 3,
    ("naive_ever", "excludes_planted_hr"): 3 + 1,
    # regions: the variances of u and v; Spearman with the planted effects; the planted outliers
    # (uptake 08 and 17, return to work 21) outside the 99.8 % limits and no others beyond chance
    ("region_variation", "covers_planted_region_variance"): 2,
    ("region_uptake", "shrunken_estimates_rank_planted"): 1, ("region_uptake", "planted_outliers_outside_limits"): 2,
    ("region_uptake", "no_other_outliers_beyond_chance"): 1,
    ("region_rtw", "shrunken_estimates_rank_planted"): 1, ("region_rtw", "planted_outliers_outside_limits"): 1,
    ("region_rtw", "no_other_outliers_beyond_chance"): 1,
    # timing and need (issue 12): the first GC001's incidence at days 30, 60, 90 for all, women, men;
    # one check per dimension (diagnosis group, region); the concentration index for all, women, men
    # and its planted sign; the strategies' 4 contrasts x 2 horizons for all, women, men
    ("coordination_timing", "covers_planted_coordination_incidence"): 9,
    ("coordination_timing", "planted_incidence_by_group"): 2,
    ("coordination_need", "covers_planted_concentration_index"): 3,
    ("coordination_need", "planted_need_gradient_sign"): 1,
    ("coordination_timing_strategies", "covers_planted_strategy_contrast"): 24,
    # collaboration (issue 13): the first INFO4's incidence from the first GC001 at 30, 60, 90 for all,
    # women, men; INFO4 and AVST per coordinated spell by region (one check); participation of the employer and
    # of AF by region (one each); AF registration's rate ratio while coordinated for all, women, men
    ("collaboration", "covers_planted_info4_incidence"): 9,
    ("collaboration", "covers_planted_region_rates"): 1,
    ("collaboration", "covers_planted_participation_by_region"): 2,
    ("collaboration", "covers_planted_af_hazard_ratio"): 3,
    # the survey (issue 13): weighted region means and shares agreeing cover the frame's values, one
    # check per item each; the unweighted bias larger than the weighted (means, shares); the unweighted
    # intervals miss more often (means)
    ("survey", "covers_planted_region_mean"): 8, ("survey", "covers_planted_region_share"): 8,
    ("survey", "unweighted_shows_planted_bias"): 2, ("survey", "unweighted_misses_more"): 1,
    # negative controls (issue 14): 9 outcomes x tv_cox, tv_poisson x all, women, men cover their planted
    # systematic error; the empirical null covers the planted mu and sigma per design and population
    ("negative_controls", "covers_planted_systematic_error"): 9 * 2 * 3,
    ("calibration", "null_covers_planted_mu"): 2 * 3, ("calibration", "null_covers_planted_sigma"): 2 * 3,
    # before and after the law (issue 14): no calendar effect planted; level and slope change at
    # 90 and 180 days for all, women, men
    **{("interrupted_time_series", f"no_planted_{term}_change_{h}d"): 3
       for term in ("law_level", "law_slope") for h in (90, 180)},
    # grounds for proposals (issue 15): the two scenarios' risk differences and the natural course at 180 days
    # for all, women, men
    ("scenarios", "covers_planted_scenario_risk_difference"): 2 * 3, ("scenarios", "covers_planted_natural_course"): 3,
    # the relapse rule (issue 14): under 'continue' tv_cox and tv_poisson cover the planted HR per checked
    # chapter group (psychiatric, musculoskeletal, other); 'censor' and 'event' have no planted truth
    **{("sensitivity_relapse", f"covers_planted_hr_continue_{source}"): 3 for source in ("tv_cox", "tv_poisson")},
}
STUDY = """
[analyses]
run = ["tv_cox", "tv_poisson", "target_trial", "landmark", "naive_ever", "heterogeneity", "e_value",
       "region_uptake", "region_rtw", "region_variation",
       "coordination_timing", "coordination_need", "coordination_timing_strategies", "collaboration",
       "survey", "negative_controls", "calibration", "interrupted_time_series", "scenarios",
       "sensitivity_relapse"]
bootstrap_replicates = 40
rank_draws = 200

[analyses.tv_poisson]
# coarser bands than the default keep the test fast; the bench checks Poisson = Cox closely
band_cuts = [31, 61, 91, 181, 366]
"""


@pytest.fixture(scope="session")
def analysed(tmp_path_factory):
    paths = analysed_delivery(tmp_path_factory.mktemp("designs_synthetic"), PERSONS, SEED, STUDY)
    con = duckdb.connect(str(paths["warehouse"]), read_only=True)
    tables = results_tables(con)
    con.close()
    return {"tables": tables, "out": paths["out"], "warehouse": paths["warehouse"], "study": paths["study"],
            "truth": paths["truth"]}


@pytest.fixture(scope="session")
def truth_check(analysed, tmp_path_factory):
    """`koord check-truth` on the delivery: its exit code, checks table and summary."""
    out = tmp_path_factory.mktemp("truth_check")
    code = koord(["check-truth", "--warehouse", str(analysed["warehouse"]), "--truth", str(analysed["truth"]),
                  "--out", str(out)])
    checks = pd.read_csv(out / "truth_check.csv") if (out / "truth_check.csv").exists() else None
    summary = json.loads((out / "truth_check.json").read_text()) if (out / "truth_check.json").exists() else None
    return {"exit_code": code, "checks": checks, "summary": summary}


def row(table: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(table), bool)
    for k, v in where.items():
        mask &= (table[k] == v).to_numpy()
    assert mask.sum() == 1, f"expected one row for {where}, found {mask.sum()}"
    return table.loc[mask].iloc[0]


def test_every_output_is_written(analysed):
    tables, internal = analysed["tables"], analysed["out"] / INTERNAL_DIR
    for name in ("tv_cox", "tv_poisson", "target_trial", "landmark", "naive_ever", "heterogeneity", "e_value",
                 "cif_curves", "balance", "_analyses"):
        assert name in tables and len(tables[name]), name
        assert (internal / "results" / f"{name}.csv").is_file()
    designs = ("tv_cox", "tv_poisson", "target_trial", "landmark", "naive_ever", "heterogeneity", "e_value",
               "coordination_timing", "coordination_need", "coordination_timing_strategies")
    for name in designs:
        assert name in tables and len(tables[name]), name
        assert list(tables[name].columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
        assert {"all", "woman", "man"} <= set(tables[name]["sex"]), f"{name} lacks results for women and men"
    for figure in ("cif_target_trial.png", "forest_tv_cox.png", "forest_designs.png", "balance_target_trial.png",
                   "cif_coordination_timing.png", "cif_coordination_timing_strategies.png"):
        assert (internal / "figures" / figure).stat().st_size > 10_000
    curves = tables["cif_curves"]
    arms = {"target_trial": {"coordination_now", "not_now"}, "coordination_timing": {"first_gc001"},
            "coordination_timing_strategies": {"by_day_30", "by_day_60", "by_day_90", "none_within_90"}}
    for analysis_id, expected in arms.items():
        mine = curves[curves["analysis_id"] == analysis_id]
        assert set(mine["arm"]) == expected and {"woman", "man"} <= set(mine["sex"]), analysis_id
    assert (curves.groupby(["sex", "subgroup", "level", "arm"])["cif"].apply(lambda c: c.is_monotonic_increasing)).all()


def test_unchecked_material_is_only_in_the_internal_folder(analysed):
    """Nothing of `koord analyse` lies directly under OUT, where report/ (the folder that may leave) goes:
    the results CSV files and figures are in OUT/internt/, whose LÄS_MIG.txt says they must not leave."""
    out = analysed["out"]
    assert sorted(p.name for p in out.iterdir()) == [INTERNAL_DIR]
    internal = out / INTERNAL_DIR
    assert sorted(p.name for p in internal.iterdir()) == sorted([README_NAME, "figures", "results"])
    assert {p.suffix for p in (internal / "results").iterdir()} == {".csv"}
    assert {p.suffix for p in (internal / "figures").iterdir()} == {".png"}
    readme = (internal / README_NAME).read_text(encoding="utf-8").lower()
    assert "inte lämna den säkra miljön" in readme and "report/" in readme and "utdatakontroll.html" in readme


def test_check_truth_passes_every_check(truth_check):
    checks, summary = truth_check["checks"], truth_check["summary"]
    assert checks is not None and summary is not None, "koord check-truth wrote no truth_check.csv/.json"
    assert list(checks.columns) == CHECK_COLUMNS
    failed = checks.loc[~checks["passed"], ["analysis_id", "check", "sex", "subgroup", "level", "term", "estimate", "truth"]]
    assert truth_check["exit_code"] == 0 and failed.empty, failed.to_string()
    counts = checks.groupby(["analysis_id", "check"]).size().to_dict()
    assert counts == EXPECTED_CHECKS  # a family of checks missing would pass silently otherwise
    assert summary["n_checks"] == summary["n_passed"] == sum(EXPECTED_CHECKS.values()) and summary["failures"] == []
    # at 15 000 persons every eligible trial entry is simulated (no sample)
    assert summary["n_simulated_trial_entries"] == summary["n_eligible_trial_entries"] > 0


@pytest.mark.parametrize("analysis", ["tv_cox", "tv_poisson"])
def test_time_varying_models_recover_the_planted_hazard_ratios(analysed, truth_check, analysis):
    checks = truth_check["checks"]
    mine = checks[checks["analysis_id"] == analysis]
    assert mine.groupby("check")["passed"].all().to_dict() == {"covers_planted_hr": True,
                                                               "covers_pooled_planted_hr": True}
    by_chapter = mine[mine["check"] == "covers_planted_hr"]
    assert set(by_chapter["level"]) == {"psychiatric", "musculoskeletal", "other"}
    planted = json.loads(analysed["truth"].read_text())["coordination_effect"]["hazard_ratio_by_chapter_group"]
    assert dict(zip(by_chapter["level"], by_chapter["truth"])) == {c: planted[c] for c in by_chapter["level"]}
    assert set(mine.loc[mine["check"] == "covers_pooled_planted_hr", "sex"]) == {"all", "woman", "man"}
    table = analysed["tables"][analysis]
    for sex in ("all", "woman", "man"):
        main = row(table, sex=sex, subgroup="all" if sex == "all" else "sex")
        assert json.loads(main["diagnostics"])["passes"]


def test_cox_and_poisson_agree(analysed):
    cox, poisson = analysed["tables"]["tv_cox"], analysed["tables"]["tv_poisson"]
    for sex in ("all", "woman", "man"):
        c = row(cox, sex=sex, subgroup="all" if sex == "all" else "sex")["estimate"]
        p = row(poisson, sex=sex, subgroup="all" if sex == "all" else "sex")["estimate"]
        assert abs(p / c - 1) < 0.02


def test_naive_comparison_misses_the_truth(analysed, truth_check):
    checks = truth_check["checks"]
    naive = checks[checks["analysis_id"] == "naive_ever"]
    assert (naive["expectation"] == "misses").all() and naive["passed"].all()
    assert (naive["conf_high"] < naive["truth"]).all()
    for c in ("psychiatric", "musculoskeletal", "other"):
        r = row(analysed["tables"]["naive_ever"], sex="all", subgroup="diagnosis_chapter_group", level=c)
        assert not json.loads(r["diagnostics"])["passes"]


def test_emulated_trials_recover_the_true_risk_differences(truth_check):
    checks = truth_check["checks"]
    trial = checks[checks["analysis_id"] == "target_trial"]
    assert trial.groupby("check")["passed"].all().to_dict() == {"covers_true_risk_difference": True,
                                                                "positive_risk_difference": True}
    covers = trial[trial["check"] == "covers_true_risk_difference"]
    populations = set(zip(covers["subgroup"], covers["level"]))
    assert populations == {("all", "all"), ("sex", "woman"), ("sex", "man"), ("diagnosis_chapter_group", "psychiatric"),
                           ("diagnosis_chapter_group", "musculoskeletal"), ("diagnosis_chapter_group", "other")}
    assert set(covers["term"]) == {"horizon_90", "horizon_180", "horizon_365"}
    assert (covers["mc_se"] > 0).all() and (covers["truth"] > 0).all()


def test_trial_weighting_balances_the_trial_population(analysed):
    balance = analysed["tables"]["balance"]
    pooled = balance[(balance["trial_week"] == "all") & (balance["sex"] == "all") & (balance["subgroup"] == "all")]
    assert pooled["smd_before"].abs().max() > 0.2  # confounding by indication is there to remove
    assert pooled["smd_after"].abs().max() < 0.1
    flags = json.loads(row(analysed["tables"]["target_trial"], sex="all", subgroup="all", term="horizon_180",
                           estimand="risk_difference")["diagnostics"])
    assert flags["max_abs_smd_pass"] and flags["equipoise_pass"] and flags["events_pass"]


def test_landmarks_and_heterogeneity(analysed):
    landmark, het = analysed["tables"]["landmark"], analysed["tables"]["heterogeneity"]
    assert {f"landmark_{d}" for d in (30, 60, 90)} == set(landmark["term"])
    for d in (30, 60, 90):  # exposure fixed at the landmark: attenuated, but no immortal-time reversal
        assert row(landmark, sex="all", subgroup="all", term=f"landmark_{d}")["estimate"] > 1
    tests = het[het["estimand"] == "heterogeneity_wald_chi2"].set_index(["sex", "subgroup"])
    # the planted effect differs by chapter group (1.4 vs 1.2 vs 1.1), not by age group; at 15 000
    # persons the test has the power for p < 0.05 (p was 0.002 before the region effects were planted,
    # 0.019 after: the same design on other draws)
    assert tests.loc[("all", "diagnosis_chapter_group"), "p_value"] < 0.05
    assert {"sex", "age_group", "diagnosis_group", "home_region_code"} <= set(tests.loc["all"].index)


def test_e_value_of_the_main_estimate(analysed):
    cox, ev = analysed["tables"]["tv_cox"], analysed["tables"]["e_value"]
    main = row(cox, sex="all", subgroup="all")
    point, limit = e_values_hazard_ratio(main["estimate"], main["conf_low"], main["conf_high"])
    assert row(ev, sex="all", term="e_value_point")["estimate"] == pytest.approx(point)
    assert row(ev, sex="all", term="e_value_ci_limit")["estimate"] == pytest.approx(limit)
    assert 1 < limit < point


def test_only_replaces_just_the_named_analyses(analysed, tmp_path):
    assert koord(["analyse", "--warehouse", str(analysed["warehouse"]), "--out", str(tmp_path), "--study",
                  str(analysed["study"]), "--only", "naive_ever"]) == 0
    con = duckdb.connect(str(analysed["warehouse"]), read_only=True)
    names = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'results'").fetchall()}
    naive = con.execute("select * from results.naive_ever").df()
    n_curves = con.execute("select count(*) from results.cif_curves").fetchall()[0][0]
    con.close()
    assert names == set(analysed["tables"])
    pd.testing.assert_frame_equal(naive, analysed["tables"]["naive_ever"])
    assert n_curves == len(analysed["tables"]["cif_curves"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [INTERNAL_DIR]  # --only too writes nothing beside report/
    assert (tmp_path / INTERNAL_DIR / "results" / "naive_ever.csv").is_file()


# --- regional differences (issue 11) -------------------------------------------------------------------

REGIONAL = ("region_uptake", "region_rtw", "region_variation")


def regional(table: pd.DataFrame, **where) -> pd.DataFrame:
    mask = np.ones(len(table), bool)
    for k, v in where.items():
        mask &= (table[k].astype(str) == str(v)).to_numpy()
    return table.loc[mask]


def test_regional_tables_follow_the_contract(analysed):
    tables = analysed["tables"]
    for name in REGIONAL:
        assert list(tables[name].columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
        assert {"all", "woman", "man"} <= set(tables[name]["sex"]), f"{name} lacks results for women and men"
        assert (analysed["out"] / INTERNAL_DIR / "results" / f"{name}.csv").is_file()
    for name, measure in (("region_uptake", "uptake"), ("region_rtw", "rate"), ("region_rtw", "share_180")):
        for sex in ("all", "woman", "man"):
            oe = regional(tables[name], estimand="observed_expected_ratio", sex=sex, start_year="all", measure=measure)
            assert sorted(oe["level"]) == sorted(REGION_CODES), (name, measure, sex)


@pytest.mark.parametrize("name,measure", [("region_uptake", "uptake"), ("region_rtw", "share_90"), ("region_rtw", "rate")])
def test_observed_and_expected_add_up_to_the_nation(analysed, name, measure):
    """Expected events from a national model with an intercept sum to the observed (its score equation)."""
    oe = regional(analysed["tables"][name], estimand="observed_expected_ratio", sex="all", start_year="all",
                  measure=measure)
    assert oe["expected"].sum() == pytest.approx(oe["observed"].sum(), rel=1e-6)
    if measure != "rate":
        national = regional(analysed["tables"][name], estimand="observed_share", level="all", sex="all",
                            start_year="all", measure=measure).iloc[0]
        assert national["n_events"] == oe["observed"].sum()
        assert national["estimate"] == pytest.approx(oe["observed"].sum() / oe["n_spells"].sum())


def test_observed_expected_interval_is_the_exact_poisson_one_and_flags_follow_the_funnel(analysed):
    from scipy import stats

    oe = regional(analysed["tables"]["region_uptake"], estimand="observed_expected_ratio", sex="all", start_year="all")
    o, e = oe["observed"].to_numpy(), oe["expected"].to_numpy()
    np.testing.assert_allclose(oe["conf_low"], stats.chi2.ppf(0.025, 2 * o) / 2 / e, rtol=1e-10)
    np.testing.assert_allclose(oe["conf_high"], stats.chi2.ppf(0.975, 2 * (o + 1)) / 2 / e, rtol=1e-10)
    outside = (oe["estimate"] < oe["funnel_low_998"]) | (oe["estimate"] > oe["funnel_high_998"])
    assert (outside == oe["outside_998"].astype(bool)).all()
    assert (oe["funnel_low_95"] > oe["funnel_low_998"]).all() and (oe["funnel_high_95"] < oe["funnel_high_998"]).all()


@pytest.mark.parametrize("name,measure", [("region_uptake", "uptake"), ("region_rtw", "rate")])
def test_shrunken_estimates_and_rank_intervals(analysed, name, measure):
    table = analysed["tables"][name]
    shrunk = regional(table, estimand="shrunken_observed_expected_ratio", sex="all", measure=measure)
    oe = regional(table, estimand="observed_expected_ratio", sex="all", start_year="all", measure=measure)
    assert len(shrunk) == 21
    assert ((shrunk["rank_low"] <= shrunk["median_rank"]) & (shrunk["median_rank"] <= shrunk["rank_high"])).all()
    assert shrunk["rank_low"].min() >= 1 and shrunk["rank_high"].max() <= 21
    assert ((shrunk["conf_low"] <= shrunk["estimate"]) & (shrunk["estimate"] <= shrunk["conf_high"])).all()
    # shrinkage: towards 1, never past it
    raw = oe.set_index("level")["estimate"].reindex(shrunk["level"]).to_numpy()
    est = shrunk["estimate"].to_numpy()
    assert (np.abs(np.log(est)) <= np.abs(np.log(raw)) + 0.05).all()
    # the best-ranked region has the highest shrunken estimate
    assert shrunk.sort_values("estimate")["median_rank"].iloc[-1] == shrunk["median_rank"].min()


def test_gaps_within_regions_with_holm_correction(analysed):
    from statsmodels.stats.multitest import multipletests

    table = analysed["tables"]["region_uptake"]
    for term in ("woman_vs_man", "born_abroad_vs_sweden", "education_low_vs_high"):
        gaps = regional(table, estimand="odds_ratio", term=term, sex="all", subgroup="home_region_code")
        tested = gaps.dropna(subset=["p_value"])
        assert len(tested) >= 15, term
        expected = multipletests(tested["p_value"], method="holm")[1]
        np.testing.assert_allclose(tested["p_holm"], expected, rtol=1e-12)
        assert (tested["is_significant_holm"].astype(bool) == (tested["p_holm"] < 0.05)).all()
        assert len(regional(table, estimand="odds_ratio", term=term, sex="all", level="all")) == 1
    assert regional(table, estimand="odds_ratio", term="woman_vs_man", sex="woman").empty


def test_between_region_variance(analysed):
    from scipy import stats

    v = analysed["tables"]["region_variation"]
    for sex in ("all", "woman", "man"):
        rows = regional(v, sex=sex, start_year="all")
        var = {t: rows.loc[(rows["term"] == t) & (rows["estimand"] == "variance")].iloc[0]
               for t in ("uptake_null", "uptake_adjusted", "rtw_rate_adjusted", "coordination_rate_adjusted")}
        for r in var.values():
            assert r["conf_low"] <= r["estimate"] <= r["conf_high"]
        mor = rows.loc[(rows["term"] == "uptake_adjusted") & (rows["estimand"] == "median_odds_ratio")].iloc[0]
        assert mor["estimate"] == pytest.approx(np.exp(np.sqrt(2 * var["uptake_adjusted"]["estimate"]) * stats.norm.ppf(0.75)))
        assert mor["conf_high"] == pytest.approx(np.exp(np.sqrt(2 * var["uptake_adjusted"]["conf_high"]) * stats.norm.ppf(0.75)))
        pcv = rows.loc[rows["estimand"] == "proportional_change_in_variance"].iloc[0]
        null, adjusted = var["uptake_null"]["estimate"], var["uptake_adjusted"]["estimate"]
        assert pcv["estimate"] == pytest.approx((null - adjusted) / null)
        # the planted coordination effect varies by region (sd 0.4 on the log hazard): clearly above 0
        assert var["coordination_rate_adjusted"]["conf_low"] > 0.02
    years = regional(v, term="uptake_adjusted", estimand="variance", sex="all", subgroup="start_year")
    assert sorted(years["start_year"]) == [str(y) for y in range(2020, 2025)]
    shares = regional(analysed["tables"]["region_uptake"], estimand="observed_share", sex="all", level="all")
    assert {"all", "2020", "2024"} <= set(shares["start_year"].astype(str))


def test_variance_given_the_national_model_equals_the_joint_glmm(analysed):
    """The region variance with the national case-mix model as offset (what the analyses fit,
    in seconds at a national scale) against the joint GLMM with the case-mix as fixed effects
    (lme4's model): on a delivery whose case-mix hardly differs by region they agree closely."""
    from analyses.designs import regions
    from analyses.designs.specs import resolve_entry_day, specs_from_table
    from analyses.estimators import GlmmBinomialSpec, fit_glmm_binomial

    params = resolve_entry_day(specs_from_table({"run": ["region_uptake"]})[0], 14).parameters
    con = duckdb.connect(str(analysed["warehouse"]), read_only=True)
    try:
        inputs = regions.regional_inputs(con, params)
    finally:
        con.close()
    cells = regions._over_years(inputs.uptake, list(params.confounders))
    cells = cells.loc[cells["n_spells"] > 0]
    _, _, _, offset_cells = regions._share_rows(cells, list(params.confounders), "n_coordinated", "n_spells", "all",
                                                "uptake", params, {}, "uptake", {})
    given = regions._uptake_glmm(offset_cells, "all", adjusted=True, profile=False)
    mix = regions.case_mix(cells, list(params.confounders), cells["n_spells"].to_numpy(),
                           cells["n_coordinated"].to_numpy(), params.min_level_size,
                           non_events=(cells["n_spells"] - cells["n_coordinated"]).to_numpy())
    joint = fit_glmm_binomial(mix.cells, GlmmBinomialSpec("n_coordinated", mix.formula, "home_region_code",
                                                          trials="n_spells"))
    assert given.variance == pytest.approx(joint.variance, rel=0.05)
    np.testing.assert_allclose(given.random_effects.to_numpy(), joint.random_effects.to_numpy(), atol=0.02)
