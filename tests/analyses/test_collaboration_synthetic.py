"""Issue 13 end to end on a small synthetic delivery: synth -> ingest -> build -> analyse collaboration -> checks, report.

The planted collaboration model (truth.json["collaboration"]) is recovered by rules n-q of
`pipeline.commands.recovery_collaboration`; the full set of checks at the larger seed runs in
tests/analyses/test_designs_synthetic.py.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from analyses.designs.collaboration import load_collaboration
from analyses.designs.run import load_spells
from analyses.results import SUMMARY_COLUMNS
from pipeline.cli import main as koord
from pipeline.commands.recovery import linked_ground_truth, simulate_from_truth
from pipeline.commands.recovery_collaboration import issue13_checks
from tests.analyses.synthetic_chain import analysed_delivery

PERSONS, SEED = 3_000, 5
STUDY = '[analyses]\nrun = ["collaboration"]\n'


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    paths = analysed_delivery(tmp_path_factory.mktemp("collaboration_synthetic"), PERSONS, SEED, STUDY)
    return {"root": paths["delivery"].parent, "warehouse": paths["warehouse"], "out": paths["out"],
            "truth": json.loads(paths["truth"].read_text())}


def test_truth_records_the_planted_collaboration_model(delivered):
    planted = delivered["truth"]["collaboration"]
    assert set(planted["region_multiplier"]) == set(planted["region_codes"]) == set(planted["employer_participation"])
    assert planted["info4"]["cdf"]["30"] == pytest.approx(1 - np.exp(-30 / planted["info4"]["mean_delay_days"]))
    assert planted["af_registration"]["coordination_hazard_ratio"] > 1


def test_results_follow_the_tidy_contract_for_everyone_women_and_men(delivered):
    con = duckdb.connect(str(delivered["warehouse"]), read_only=True)
    table = con.execute('select * from results."collaboration"').df()
    con.close()
    assert list(table.columns[:len(SUMMARY_COLUMNS)]) == SUMMARY_COLUMNS
    for measure in ("rate_per_1000_eligible", "rate_per_coordinated", "participation", "first_info4_after_gc001",
                    "first_avst_after_gc001", "avst_vs_gc001", "af_registered_at_start", "af_registration",
                    "af_registration_coordination_rr", "rtw_collaboration_rr"):
        assert set(table.loc[table["measure"] == measure, "sex"]) == {"all", "woman", "man"}, measure
    # the rates for everyone are women's and men's events over their spells
    rate = table[(table["measure"] == "rate_per_1000_eligible") & (table["term"] == "AVST")
                 & table["subgroup"].isin(["all", "sex"])].set_index("sex")
    assert rate.loc["all", "n_events"] == rate.loc["woman", "n_events"] + rate.loc["man", "n_events"]
    assert rate.loc["all", "estimate"] == pytest.approx(1000 * rate.loc["all", "n_events"] / rate.loc["all", "n_spells"])
    rtw = table[table["measure"] == "rtw_collaboration_rr"]
    assert set(rtw["interpretation"]) == {"association"}


def test_check_truth_rules_recover_the_planted_model(delivered):
    con = duckdb.connect(str(delivered["warehouse"]), read_only=True)
    results = {t: con.execute(f'select * from results."{t}"').df() for t in ("collaboration", "_analyses")}
    spells = load_spells(con)
    extra = load_collaboration(con)[0]
    spells = spells.merge(extra[["spell_id", *(c for c in extra.columns if c not in spells.columns)]], on="spell_id")
    built = con.execute("select spell_id, person_id, spell_start_date from spells").df()
    con.close()
    linked = linked_ground_truth(simulate_from_truth(delivered["truth"]), built)
    rows, notes = issue13_checks(results, spells, linked, delivered["truth"])
    checks = pd.DataFrame(rows)
    assert notes == []
    assert checks.groupby("check").size().to_dict() == {
        "covers_planted_info4_incidence": 9, "covers_planted_region_rates": 1,
        "covers_planted_participation_by_region": 2, "covers_planted_af_hazard_ratio": 3}
    assert checks["passed"].all(), checks.loc[~checks["passed"]].to_string()


def test_report_chapter_passes_disclosure_control(delivered):
    assert koord(["report", "--warehouse", str(delivered["warehouse"]), "--out", str(delivered["out"]), "--no-pdf"]) == 0
    html = (delivered["out"] / "report" / "rapport.html").read_text(encoding="utf-8")
    assert "Samverkan med Försäkringskassan, Arbetsförmedlingen, arbetsgivare och kommuner" in html
    assert "Kommunerna har inget register" in html
    log = pd.read_csv(delivered["out"] / "report" / "utdatakontroll.csv", sep=";", dtype=str, keep_default_na=False)
    ours = log[log["output_id"].str.startswith("samverkanmodell:")]
    # every output of the chapter is in the output checker's log, each number published or withheld by a rule
    assert {"samverkanmodell:handelser", "samverkanmodell:deltagande", "samverkanmodell:ordning", "samverkanmodell:af",
            "samverkanmodell:atergang"} <= set(ours["output_id"])
    assert (ours["status"] == "publicerad").any()


def test_planted_truth_is_the_generators_expectation(delivered, monkeypatch):
    """The AVST and INFO4 truths (`avst_truth`, `info4_truth`) equal the generator's mean over fresh draws of its FK stream."""
    import pipeline.synth.registers as registers
    from pipeline.commands.recovery_collaboration import avst_truth, info4_truth
    from pipeline.synth import spell_outcomes

    con = duckdb.connect(str(delivered["warehouse"]), read_only=True)
    spells = load_spells(con)
    built = con.execute("select spell_id, person_id, spell_start_date from spells").df()
    con.close()
    gt = simulate_from_truth(delivered["truth"])
    linked = linked_ground_truth(gt, built)
    cohort = spells[(spells["followup_days"] > 14) & spells["is_coordinated"].astype(bool)].reset_index(drop=True)
    cohort = cohort.merge(built, on=["spell_id", "person_id"])
    region = linked.spells.set_index("spell_id")["home_region"].reindex(cohort["spell_id"]).to_numpy().astype(int)
    planted = delivered["truth"]["collaboration"]
    avst_mean, avst_var = avst_truth(cohort, region, planted)
    info4_mean = info4_truth(cohort, region, planted, None)
    outcomes = spell_outcomes(gt)
    original = registers.rng_for
    draws = {"AVST": [], "INFO4": []}
    start = pd.to_datetime(cohort["spell_start_date"])
    last = start + pd.to_timedelta(cohort["followup_days"] - 1, unit="D")
    for rep in range(8):
        monkeypatch.setattr(registers, "rng_for", lambda seed, stream, *sub, rep=rep: original(
            seed + 100 + rep if (stream, sub) == ("fk", (2,)) else seed, stream, *sub))
        events = registers.collaboration_events(gt, outcomes).to_pandas()
        events["date"] = pd.to_datetime(events["HandelseDatum"])
        joined = events.merge(cohort[["person_id"]].assign(start=start, last=last, row=np.arange(len(cohort))),
                              left_on="LopNr", right_on="person_id")
        inside = joined[(joined["date"] >= joined["start"]) & (joined["date"] <= joined["last"])]
        for kind in draws:
            draws[kind].append((inside["HandelseTyp"] == kind).sum() / len(cohort))
    # Monte Carlo: 8 replicates of the mean over the cohort; their mean within 4 of its SEs of the truth
    for kind, truth, var in (("AVST", avst_mean, avst_var), ("INFO4", info4_mean, info4_mean * (1 - info4_mean))):
        mc_se = np.sqrt(var.sum()) / len(cohort) / np.sqrt(len(draws[kind]))
        assert abs(np.mean(draws[kind]) - truth.mean()) <= 4 * mc_se, (kind, np.mean(draws[kind]), truth.mean(), mc_se)
