"""The designs recover the planted effect of coordination on a synthetic delivery; the naive comparison does not.

One delivery (synth -> ingest -> build -> analyse through the `koord` command line) is made
per test session. Truths (see `designs_truth`):

- hazard ratios by chapter group: truth.json's planted values (psychiatric 1.40,
  musculoskeletal 1.20, other 1.10); overall: their inverse-variance weighted average with
  the weights of the fitted interaction model (the primary check is per chapter group);
- emulated trials: risk differences simulated with the generator's own model code from every
  eligible trial entry of the built data.

Each population's main estimate must cover its truth with the reported 95 % interval. The
per-chapter-group checks form families (three groups × two models; three groups × three
horizons); their intervals are Bonferroni-widened so that an unbiased estimator passes the
whole family with at least 95 % probability (each of them at 95 % would fail some family
member about a quarter of the time by chance alone). Trial intervals in the checks are
estimate ± z × bootstrap SE (with 40 replicates in CI the percentile limits are too coarse).
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analyses.designs import trial_emulation
from analyses.designs.evalue import e_values_hazard_ratio
from analyses.designs.run import load_spells
from analyses.designs.specs import TargetTrialParameters
from analyses.results import SUMMARY_COLUMNS
from designs_truth import linked_ground_truth, trial_truth, truth_risk_differences, weighted_truth_hr
from pipeline.cli import main as koord

PERSONS, SEED = 15_000, 11
CHAPTERS = ("psychiatric", "musculoskeletal", "other")
HORIZONS = (90, 180, 365)
STUDY = """
[analyses]
run = ["tv_cox", "tv_poisson", "target_trial", "landmark", "naive_ever", "heterogeneity", "e_value"]
bootstrap_replicates = 40

[analyses.tv_poisson]
# coarser bands than the default keep the test fast; the bench checks Poisson = Cox closely
band_cuts = [31, 61, 91, 181, 366]
"""


def z_for(family_size: int, level: float = 0.95) -> float:
    return float(stats.norm.ppf(1 - (1 - level) / (2 * family_size)))


@pytest.fixture(scope="session")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("designs_synthetic")
    delivery, warehouse, out = root / "delivery", root / "warehouse.duckdb", root / "out"
    study = root / "study.toml"
    study.write_text(STUDY, encoding="utf-8")
    assert koord(["synth", "--out", str(delivery), "--persons", str(PERSONS), "--seed", str(SEED),
                  "--truth", str(root / "truth.json")]) == 0
    assert koord(["ingest", "--delivery", str(delivery), "--warehouse", str(warehouse), "--replace"]) == 0
    assert koord(["build", "--warehouse", str(warehouse)]) == 0
    assert koord(["analyse", "--warehouse", str(warehouse), "--out", str(out), "--study", str(study)]) == 0
    con = duckdb.connect(str(warehouse), read_only=True)
    tables = {r[0]: con.execute(f'select * from results."{r[0]}"').df() for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'results'").fetchall()}
    spells = load_spells(con)
    built = con.execute("select spell_id, person_id, spell_start_date from spells").df()
    con.close()
    truth = json.loads((root / "truth.json").read_text())
    return {"tables": tables, "out": out, "spells": spells, "built": built, "truth": truth,
            "warehouse": warehouse, "study": study}


@pytest.fixture(scope="session")
def trial_truths(analysed):
    """True risk differences for everyone, each sex and each chapter group (generator's model)."""
    params = TargetTrialParameters(entry_day=14, first_trial_day=14, controls_per_treated=0.0)
    entries = trial_emulation.expand_trials(analysed["spells"], params, ("sex", "diagnosis_chapter_group"),
                                            np.random.default_rng(0)).entries
    truth = trial_truth(entries, linked_ground_truth(PERSONS, SEED, analysed["built"]), HORIZONS)
    truth["sex"], truth["chapter"] = entries["sex"].to_numpy(), entries["diagnosis_chapter_group"].to_numpy()
    out = {("all", "all"): truth_risk_differences(truth, HORIZONS)}
    for sex, g in truth.groupby("sex"):
        out[("sex", sex)] = truth_risk_differences(g, HORIZONS)
    for chapter, g in truth.groupby("chapter"):
        out[("diagnosis_chapter_group", chapter)] = truth_risk_differences(g, HORIZONS)
    return out


def planted(analysed) -> dict[str, float]:
    return analysed["truth"]["coordination_effect"]["hazard_ratio_by_chapter_group"]


def row(table: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(table), bool)
    for k, v in where.items():
        mask &= (table[k] == v).to_numpy()
    assert mask.sum() == 1, f"expected one row for {where}, found {mask.sum()}"
    return table.loc[mask].iloc[0]


def test_every_output_is_written(analysed):
    tables, out = analysed["tables"], analysed["out"]
    for name in ("tv_cox", "tv_poisson", "target_trial", "landmark", "naive_ever", "heterogeneity", "e_value",
                 "cif_curves", "balance", "_analyses"):
        assert name in tables and len(tables[name]), name
        assert (out / "results" / f"{name}.csv").is_file()
    for name in ("tv_cox", "tv_poisson", "target_trial", "landmark", "naive_ever", "heterogeneity", "e_value"):
        assert list(tables[name].columns[: len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
        assert {"all", "woman", "man"} <= set(tables[name]["sex"]), f"{name} lacks results for women and men"
    for figure in ("cif_target_trial.png", "forest_tv_cox.png", "forest_designs.png", "balance_target_trial.png"):
        assert (out / "figures" / figure).stat().st_size > 10_000
    curves = tables["cif_curves"]
    assert set(curves["arm"]) == {"coordination_now", "not_now"} and {"woman", "man"} <= set(curves["sex"])
    assert (curves.groupby(["sex", "subgroup", "level", "arm"])["cif"].apply(lambda c: c.is_monotonic_increasing)).all()


@pytest.mark.parametrize("analysis", ["tv_cox", "tv_poisson"])
def test_time_varying_models_recover_the_planted_hazard_ratios(analysed, analysis):
    table = analysed["tables"][analysis]
    truth = planted(analysed)
    z = z_for(len(CHAPTERS) * 2)
    for sex in ("all", "woman", "man"):
        by_chapter = [row(table, sex=sex, subgroup="diagnosis_chapter_group", level=c) for c in CHAPTERS]
        for c, r in zip(CHAPTERS, by_chapter):
            if sex == "all":
                assert abs(np.log(r["estimate"] / truth[c])) <= z * r["std_error"], (analysis, c, r["estimate"], truth[c])
        main = row(table, sex=sex, subgroup="all" if sex == "all" else "sex")
        weighted = weighted_truth_hr(truth, list(CHAPTERS), [r["std_error"] for r in by_chapter])
        assert main["conf_low"] <= weighted <= main["conf_high"], (analysis, sex, main["estimate"], weighted)
        assert json.loads(main["diagnostics"])["passes"]


def test_cox_and_poisson_agree(analysed):
    cox, poisson = analysed["tables"]["tv_cox"], analysed["tables"]["tv_poisson"]
    for sex in ("all", "woman", "man"):
        c = row(cox, sex=sex, subgroup="all" if sex == "all" else "sex")["estimate"]
        p = row(poisson, sex=sex, subgroup="all" if sex == "all" else "sex")["estimate"]
        assert abs(p / c - 1) < 0.02


def test_naive_comparison_misses_the_truth(analysed):
    naive, truth = analysed["tables"]["naive_ever"], planted(analysed)
    for c in CHAPTERS:
        r = row(naive, sex="all", subgroup="diagnosis_chapter_group", level=c)
        assert r["conf_high"] < truth[c], (c, r["estimate"])
        assert not json.loads(r["diagnostics"])["passes"]
    overall = row(naive, sex="all", subgroup="all")
    assert overall["conf_high"] < min(truth[c] for c in CHAPTERS)


def test_emulated_trials_recover_the_true_risk_differences(analysed, trial_truths):
    table = analysed["tables"]["target_trial"]
    rd = table[table["estimand"] == "risk_difference"]
    z_main, z_chapter = z_for(len(HORIZONS)), z_for(len(HORIZONS) * len(CHAPTERS))
    for (subgroup, level), truths in trial_truths.items():
        if subgroup == "diagnosis_chapter_group" and level not in CHAPTERS:
            continue
        sex = level if subgroup == "sex" else "all"
        z = z_chapter if subgroup == "diagnosis_chapter_group" else z_main
        for h in HORIZONS:
            r = row(rd, sex=sex, subgroup=subgroup, level=level, term=f"horizon_{h}")
            true_rd = truths[h]["difference"]
            assert abs(r["estimate"] - true_rd) <= z * np.hypot(r["std_error"], truths[h]["mc_se"]), \
                (subgroup, level, h, r["estimate"], true_rd, r["std_error"])
            assert r["estimate"] > 0 and true_rd > 0


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
    # the planted effect differs by chapter group (1.4 vs 1.2 vs 1.1), not by age group
    assert tests.loc[("all", "diagnosis_chapter_group"), "p_value"] < 0.01
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
