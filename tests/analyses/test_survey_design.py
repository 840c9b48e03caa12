"""The survey design (`analyses.designs.survey`) on hand-made tables and on the generator's survey."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analyses.designs.specs import AnalysisSpec, SurveyParameters
from analyses.designs.survey import collaboration_index, item_matrix, survey_analysis
from data_schemas.codes import healthcare_regions
from data_schemas.tables import SURVEY_ITEM_COLUMNS
from pipeline.commands.recovery_survey import survey_checks

SPEC = AnalysisSpec("survey", "survey", "test", SurveyParameters(entry_day=14, min_class_respondents=2))
ITEMS = list(SURVEY_ITEM_COLUMNS.values())


def _responses(rows: list[tuple[str, str, list]]) -> pd.DataFrame:
    hr = healthcare_regions()
    out = []
    for i, (region, level, answers) in enumerate(rows):
        out.append({"respondent_id": f"r{i}", "region_code": region, "healthcare_region_code": hr[region][0],
                    "care_level": level, **dict(zip(ITEMS, answers))})
    return pd.DataFrame(out)


def _frame(cells: dict[tuple[str, str], int], responses: pd.DataFrame) -> pd.DataFrame:
    hr = healthcare_regions()
    n = responses.groupby(["region_code", "care_level"]).size()
    return pd.DataFrame([{"region_code": r, "healthcare_region_code": hr[r][0], "care_level": lv, "n_invited": k,
                          "n_respondents": int(n.get((r, lv), 0))} for (r, lv), k in cells.items()])


# Stockholm (01, Stockholm-Gotland), two care levels. PV: frame 8, 4 respondents (weight 2);
# PSY: frame 9, 3 respondents (weight 3). F1 answers: PV 5, 4, 2, 6 (don't know); PSY 1, 2, NaN.
NA = np.nan
ROWS = [
    ("01", "PV", [5, 4, 4, 4, 4, 4, 4, 4]),
    ("01", "PV", [4, 4, 4, 4, 4, 4, 4, 4]),
    ("01", "PV", [2, 2, 2, 2, 2, 2, 2, 2]),
    ("01", "PV", [6, 3, 3, 3, 3, 3, 3, 3]),
    ("01", "PSY", [1, 1, 1, 1, 1, 1, 1, 1]),
    ("01", "PSY", [2, 2, 2, 2, 2, 2, 2, 2]),
    ("01", "PSY", [NA, 5, 5, 5, 5, 5, 5, 5]),
]


def _row(summary, **where):
    m = np.ones(len(summary), bool)
    for k, v in where.items():
        m &= (summary[k].astype(str) == str(v)).to_numpy()
    assert m.sum() == 1, where
    return summary.loc[m].iloc[0]


def test_response_rate_weights_and_share_agreeing_by_hand():
    responses = _responses(ROWS)
    frame = _frame({("01", "PV"): 8, ("01", "PSY"): 9}, responses)
    s = survey_analysis(SPEC, responses, frame, pd.DataFrame()).summary
    # RR1 = respondents / frame: PV 4/8, PSY 3/9, all 7/17
    assert _row(s, estimand="response_rate", subgroup="care_level", level="PV").estimate == pytest.approx(0.5)
    assert _row(s, estimand="response_rate", subgroup="care_level", level="PSY").estimate == pytest.approx(1 / 3)
    assert _row(s, estimand="response_rate", subgroup="all", level="all").estimate == pytest.approx(7 / 17)
    assert _row(s, estimand="weighting_class", term="STHLM_GOTL:PV").estimate == pytest.approx(2.0)
    assert _row(s, estimand="weighting_class", term="STHLM_GOTL:PSY").estimate == pytest.approx(3.0)
    # F1, answering 1-5: PV 5, 4, 2 (w 2), PSY 1, 2 (w 3); don't know apart (1), no answer (1)
    # weighted share 4-5 = 2 * 2 / (3 * 2 + 2 * 3) = 4/12; unweighted 2/5
    w = _row(s, estimand="share_agree", term="F1_FK", subgroup="all", weighting="weighted")
    u = _row(s, estimand="share_agree", term="F1_FK", subgroup="all", weighting="unweighted")
    assert w.estimate == pytest.approx(4 / 12) and u.estimate == pytest.approx(2 / 5)
    assert w.n_persons == 5 and w.n_events == 2 and w.n_dont_know == 1
    assert w.interval_method == "korn_graubard"  # effective n far below 60
    # weighted mean of F1: (2 * 11 + 3 * 3) / 12
    assert _row(s, estimand="item_mean", term="F1_FK", subgroup="all", weighting="weighted").estimate == pytest.approx(31 / 12)
    # linearised SE of the weighted share, by hand: z = w (y - 1/3) / 12 per stratum with FPC
    p = 1 / 3
    zpv = np.array([2 * (1 - p), 2 * (1 - p), 2 * (0 - p), 0.0]) / 12
    zpsy = np.array([3 * (0 - p), 3 * (0 - p), 0.0]) / 12
    var = (1 - 4 / 8) * 4 / 3 * np.sum((zpv - zpv.mean()) ** 2) + (1 - 3 / 9) * 3 / 2 * np.sum((zpsy - zpsy.mean()) ** 2)
    assert w.std_error == pytest.approx(np.sqrt(var))


def test_distribution_counts_dont_know_and_no_answer_apart():
    responses = _responses(ROWS)
    frame = _frame({("01", "PV"): 8, ("01", "PSY"): 9}, responses)
    s = survey_analysis(SPEC, responses, frame, pd.DataFrame()).summary
    d = s[(s.estimand == "item_distribution") & (s.term == "F1_FK") & (s.subgroup == "all")]
    for weighting in ("weighted", "unweighted"):
        sub = d[d.weighting == weighting].set_index("category")
        assert sub.estimate.sum() == pytest.approx(1.0)
    u = d[d.weighting == "unweighted"].set_index("category")
    assert u.loc["dont_know", "estimate"] == pytest.approx(1 / 7) and u.loc["no_answer", "estimate"] == pytest.approx(1 / 7)
    wt = d[d.weighting == "weighted"].set_index("category")
    # weights: PV 2 x 4, PSY 3 x 3 = 17; don't know is one PV respondent (2/17), no answer one PSY (3/17)
    assert wt.loc["dont_know", "estimate"] == pytest.approx(2 / 17) and wt.loc["no_answer", "estimate"] == pytest.approx(3 / 17)


def test_without_a_frame_no_rate_and_no_weighting():
    responses = _responses(ROWS)
    frame = _frame({("01", "PV"): 8, ("01", "PSY"): 9}, responses).assign(n_invited=np.nan)
    result = survey_analysis(SPEC, responses, frame, pd.DataFrame())
    s = result.summary
    rr = s[s.estimand == "response_rate"]
    assert len(rr) == 1 and np.isnan(rr.estimate.iloc[0]) and "not computed" in rr.note.iloc[0]
    w = _row(s, estimand="share_agree", term="F1_FK", subgroup="all", weighting="weighted")
    u = _row(s, estimand="share_agree", term="F1_FK", subgroup="all", weighting="unweighted")
    assert w.estimate == u.estimate == pytest.approx(2 / 5)
    assert result.diagnostics["frame_known"] is False and "no finite-population" in result.diagnostics["assumption"]


def test_index_needs_the_minimum_of_items():
    items = item_matrix(_responses([("01", "PV", [5, 6, NA, 3, 1, 1, 1, 1]), ("01", "PV", [5, 4, NA, 3, 1, 1, 1, 1])]))
    index = collaboration_index(items, ("F1_FK", "F2_AF", "F3_Arbetsgivare", "F4_Kommun"), 3)
    assert np.isnan(index[0]) and index[1] == pytest.approx(4.0)  # 6 and NaN do not count


def test_small_classes_are_collapsed_and_reported():
    rows = [("01", "PV", [4] * 8)] * 25 + [("01", "PSY", [2] * 8)] * 5
    responses = _responses(rows)
    frame = _frame({("01", "PV"): 50, ("01", "PSY"): 20}, responses)
    spec = AnalysisSpec("survey", "survey", "test", SurveyParameters(entry_day=14))
    s = survey_analysis(spec, responses, frame, pd.DataFrame()).summary
    wc = s[s.estimand == "weighting_class"]
    # PSY (5 < 20) joins PV: one class of 30 respondents from a frame of 70, weight 70/30
    assert wc.term.tolist() == ["STHLM_GOTL:PV+PSY"] and wc.estimate.iloc[0] == pytest.approx(70 / 30)


def test_ecological_rows_pair_the_index_with_uptake_and_return_to_work():
    rng = np.random.default_rng(0)
    regions = ["01", "03", "04", "05", "06", "07"]
    rows = [(r, "PV", [int(v)] * 8) for k, r in enumerate(regions) for v in rng.integers(1 + k % 3, 4 + k % 3, 30)]
    responses = _responses(rows)
    frame = _frame({(r, "PV"): 60 for r in regions}, responses)
    spells = pd.DataFrame({
        "home_region_code": np.repeat(regions, 10), "followup_days": np.tile([20, 100, 200, 300, 400] * 2, 6),
        "days_to_first_gc001": np.tile([5.0, np.nan] * 5, 6),
        "end_reason": np.tile(["return_to_work"] * 5 + ["censored"] * 5, 6),
    })
    s = survey_analysis(SPEC, responses, frame, spells).summary
    e = s[s.estimand == "ecological"]
    assert set(e.term) == {"region_index", "region_uptake", "region_rtw", "spearman_index_uptake", "spearman_index_rtw"}
    # every region: 10 spells followed beyond day 14; GC001 on day 5 in 5 of them; by day 180: the
    # return-to-work spells of 20 and 100 days (2); known: those 2 plus the 6 followed 200+ days
    up = _row(s, estimand="ecological", term="region_uptake", level="03")
    assert up.estimate == pytest.approx(0.5) and up.n_persons == 10
    rtw = _row(s, estimand="ecological", term="region_rtw", level="03")
    assert rtw.estimate == pytest.approx(2 / 8) and rtw.n_persons == 8


def test_the_generators_survey_is_recovered_weighted_and_biased_unweighted():
    """The synth survey straight into the design (no warehouse): rules r-t of check-truth pass."""
    from pipeline.synth import simulate
    from pipeline.synth.survey import survey

    gt = simulate(200, seed=3)
    df, cells, truth = survey(gt)
    d = df.to_pandas()
    hr = healthcare_regions()
    responses = pd.DataFrame({"respondent_id": d.RespondentId, "region_code": d.Region,
                              "healthcare_region_code": d.Region.map(lambda r: hr[r][0]), "care_level": d.Vardniva,
                              **{col: pd.to_numeric(d[item]) for item, col in SURVEY_ITEM_COLUMNS.items()}})
    c = cells.to_pandas()
    n = responses.groupby(["region_code", "care_level"]).size()
    frame = pd.DataFrame({"region_code": c.Region, "healthcare_region_code": c.Region.map(lambda r: hr[r][0]),
                          "care_level": c.Vardniva, "n_invited": c.AntalIUrval,
                          "n_respondents": [int(n.get((r, lv), 0)) for r, lv in zip(c.Region, c.Vardniva)]})
    spec = AnalysisSpec("survey", "survey", "test", SurveyParameters(entry_day=14))
    result = survey_analysis(spec, responses, frame, pd.DataFrame())
    rows, notes = survey_checks({"survey": result.summary}, {"survey": {**json.loads(json.dumps(truth)), "frame_delivered": True}})
    assert not notes and len(rows) == 19
    failed = [(r["check"], r["term"]) for r in rows if not r["passed"]]
    assert failed == []
    # the planted non-response is informative: the unweighted region means are too high on average
    bias = [r for r in rows if r["check"] == "unweighted_shows_planted_bias"]
    assert all(r["estimate"] > 1.5 * r["truth"] for r in bias)


def test_more_respondents_than_invited_is_a_contract_violation():
    from koord.errors import ContractViolation

    responses = _responses(ROWS)
    frame = _frame({("01", "PV"): 3, ("01", "PSY"): 9}, responses)
    with pytest.raises(ContractViolation, match=r"STHLM_GOTL:PV \(4 > 3\)"):
        survey_analysis(SPEC, responses, frame, pd.DataFrame())


def test_a_frame_cell_nobody_answered_in_joins_a_neighbouring_class():
    rows = [("01", "PV", [4] * 8)] * 25 + [("01", "SSV", [2] * 8)] * 22
    responses = _responses(rows)
    frame = _frame({("01", "PV"): 50, ("01", "SSV"): 30, ("01", "PSY"): 10}, responses)
    spec = AnalysisSpec("survey", "survey", "test", SurveyParameters(entry_day=14))
    s = survey_analysis(spec, responses, frame, pd.DataFrame()).summary
    wc = s[s.estimand == "weighting_class"].set_index("term")
    # PSY (0 respondents) joins its only neighbour SSV: 22 respondents for 30 + 10 invited
    assert wc.index.tolist() == ["STHLM_GOTL:PV", "STHLM_GOTL:SSV+PSY"]
    assert wc.loc["STHLM_GOTL:SSV+PSY", "estimate"] == pytest.approx(40 / 22)
    # the weighted mean of F1 reproduces the frame's composition: (50 * 4 + 40 * 2) / 90
    m = _row(s, estimand="item_mean", term="F1_FK", subgroup="all", weighting="weighted")
    assert m.estimate == pytest.approx((50 * 4 + 40 * 2) / 90)
