"""Negative controls through the main time-varying designs, empirical calibration and their truth checks (issue 14).

One small synthetic delivery (synth -> ingest -> build -> analyse through the command line) with
the negative controls planted by `koord synth` (log hazard ratio b_k after the first GC001).
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from analyses.designs.negative_controls import _sparse_band_cuts, negative_control_outcomes
from analyses.designs.time_varying import counting_process_rows, needed_covariates
from analyses.estimators.empirical_calibration import calibrate_ci, calibrate_p, fit_null
from data_schemas.study import DEFAULT_NEGATIVE_CONTROLS
from pipeline.commands.recovery_negative_controls import negative_control_checks
from tests.analyses.synthetic_chain import analysed_delivery, results_tables

PERSONS, SEED = 4_000, 21
STUDY = """
[analyses]
run = ["tv_cox", "tv_poisson", "naive_ever", "negative_controls", "calibration"]

[analyses.tv_poisson]
band_cuts = [31, 61, 91, 181, 366]
"""


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    paths = analysed_delivery(tmp_path_factory.mktemp("negative_controls"), PERSONS, SEED, STUDY)
    con = duckdb.connect(str(paths["warehouse"]), read_only=True)
    tables = results_tables(con)
    yield {"tables": tables, "con": con, "truth": json.loads(paths["truth"].read_text(encoding="utf-8"))}
    con.close()


def test_negative_control_rows_cut_person_time_at_the_first_contact(analysed):
    con = analysed["con"]
    outcome, entry = "urinary_tract_infection", 14
    rows, book = counting_process_rows(con, needed_covariates(("age_group",)), entry, outcome=outcome)
    rtw, _ = counting_process_rows(con, needed_covariates(("age_group",)), entry)
    first = con.execute("select spell_id, first_contact_day from spell_negative_control_outcomes where outcome_id = ?",
                        [outcome]).df().set_index("spell_id")["first_contact_day"]
    t = first.reindex(rtw["spell_id"]).to_numpy(dtype=float) + 1  # the contact's time
    # independently: the return-to-work rows cut at T, rows starting at or after T dropped, event iff T in (start, stop]
    keep = ~(t <= rtw["start"].to_numpy())
    expected = rtw.loc[keep, ["spell_id", "start", "stop", "is_coordinated"]].copy()
    tk = t[keep]
    expected["event"] = ((tk > expected["start"]) & (tk <= expected["stop"])).astype(float).to_numpy()
    expected["stop"] = np.where(np.isfinite(tk), np.minimum(expected["stop"], tk), expected["stop"])
    expected = expected.loc[expected["stop"] > entry].reset_index(drop=True)
    got = rows[["spell_id", "start", "stop", "is_coordinated", "event"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got.astype(float), expected[got.columns].astype(float))
    dropped = int(((first + 1 <= entry)).sum())
    assert 0 < book["n_spells_with_outcome_by_entry_day"] <= dropped
    assert rows["event"].sum() > 100


def test_one_row_per_outcome_design_and_population_with_the_sources_models(analysed):
    nc = analysed["tables"]["negative_controls"]
    catalogue = analysed["tables"]["_analyses"].set_index("id")
    assert negative_control_outcomes(analysed["con"]) == sorted(o.id for o in DEFAULT_NEGATIVE_CONTROLS)
    assert len(nc) == len(DEFAULT_NEGATIVE_CONTROLS) * 2 * 3
    assert set(nc.groupby(["outcome_id", "source", "sex"]).size()) == {1}
    assert set(nc["source"]) == {"tv_cox", "tv_poisson"} and set(nc["subgroup"]) == {"all", "sex"}
    assert (nc["n_events"] >= 10).all() and np.isfinite(nc["std_error"]).all()
    diag = json.loads(catalogue.loc["negative_controls", "diagnostics"])
    assert diag["per_outcome"]["tv_poisson/eye"]["bands"] == ["(14,31]", "(31,61]", "(61,91]", "(91,181]", "(181,366]",
                                                              "(366,)"]
    assert diag["per_outcome"]["tv_cox/eye"]["entry_day"] == 14
    # the two designs estimate the same hazard ratio from the same person-time (Cox also adjusts for home
    # region and start year, and the Poisson bands are coarse here): they differ by less than a standard error
    wide = nc.pivot_table(index=["outcome_id", "sex"], columns="source", values=["estimate", "std_error"])
    difference = np.abs(np.log(wide[("estimate", "tv_cox")] / wide[("estimate", "tv_poisson")]))
    assert (difference < wide[("std_error", "tv_cox")]).all(), difference.max()


def test_calibration_fits_the_null_and_calibrates_as_empirical_calibration(analysed):
    nc, cal = analysed["tables"]["negative_controls"], analysed["tables"]["calibration"]
    for source in ("tv_cox", "tv_poisson"):
        main = analysed["tables"][source]
        for sex in ("all", "woman", "man"):
            controls = nc[(nc["source"] == source) & (nc["sex"] == sex)]
            null = fit_null(np.log(controls["estimate"]), controls["std_error"])
            rows = cal[(cal["source"] == source) & (cal["sex"] == sex)]
            reported = rows[rows["kind"] == "null"].set_index("term")
            assert reported.loc["mu", "estimate"] == pytest.approx(null.mu)
            assert reported.loc["sigma", "estimate"] == pytest.approx(null.sigma, abs=1e-9)
            assert reported.loc["ease", "estimate"] == pytest.approx(null.ease)
            calibrated = rows[rows["kind"] == "calibrated"]
            estimates = main[(main["sex"] == sex) & (main["term"] == "is_coordinated")]
            assert len(calibrated) == len(estimates) >= 4  # the main row and the chapter groups
            ci = calibrate_ci(null, np.log(estimates["estimate"]), estimates["std_error"])
            assert calibrated["estimate"].to_numpy() == pytest.approx(np.exp(ci.log_rr))
            assert calibrated["conf_low"].to_numpy() == pytest.approx(np.exp(ci.log_low))
            assert calibrated["p_value"].to_numpy() == pytest.approx(
                calibrate_p(null, np.log(estimates["estimate"]), estimates["std_error"]))
            assert calibrated["uncalibrated_estimate"].to_numpy() == pytest.approx(estimates["estimate"].to_numpy())
            # calibration widens: sqrt(sigma^2 + se^2) >= se
            assert (np.log(calibrated["conf_high"] / calibrated["conf_low"])
                    >= np.log(calibrated["uncalibrated_conf_high"] / calibrated["uncalibrated_conf_low"]) - 1e-12).all()


def test_truth_checks_pass_on_the_planted_truth_and_fail_on_a_wrong_one(analysed):
    tables, truth = analysed["tables"], analysed["truth"]
    rows, notes = negative_control_checks(tables, truth)
    checks = pd.DataFrame(rows)
    assert checks.groupby("check").size().to_dict() == {"covers_planted_systematic_error": 54,
                                                         "null_covers_planted_mu": 6, "null_covers_planted_sigma": 6}
    assert checks["passed"].all(), checks.loc[~checks["passed"]].to_string()
    assert notes == []
    wrong = json.loads(json.dumps(truth))
    planted = wrong["care"]["negative_controls"]
    planted["mu_true"] += 1.0
    for o in planted["outcomes"]:
        o["log_hr"] += 1.0
    bad = pd.DataFrame(negative_control_checks(tables, wrong)[0])
    assert not bad.loc[bad["check"] == "null_covers_planted_mu", "passed"].any()
    shifted = bad.loc[(bad["check"] == "covers_planted_systematic_error") & (bad["sex"] == "all")]
    assert len(shifted) == 18 and not shifted["passed"].any()  # everyone's intervals are narrow enough to miss
    # an older delivery without planted negative controls: the checks are skipped, and said so
    del wrong["care"]["negative_controls"]
    assert negative_control_checks(tables, wrong) == ([], ["negative-control checks skipped: truth.json plants no "
                                                           "negative controls (an older delivery)"])


def test_poisson_bands_without_events_of_a_rare_outcome_are_merged():
    cells = pd.DataFrame({"band_start": [14, 14, 31, 31, 61, 61, 91, 91], "sex": ["woman", "man"] * 4,
                          "events": [1, 1, 5, 5, 5, 0, 4, 4]})
    # the first band (2 events) takes in the next one (cut 31 dropped); the men's band from 61 has none (cut 61)
    assert _sparse_band_cuts(cells, (31, 61, 91)) == [31, 61]
    assert _sparse_band_cuts(cells.assign(events=5), (31, 61, 91)) == []
