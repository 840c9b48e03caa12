"""The survey chapter: disclosure control of survey cells, the words (no sex in the survey), its place."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from analyses.designs.specs import AnalysisSpec, SurveyParameters
from analyses.designs.survey import survey_analysis
from data_schemas.codes import healthcare_regions
from data_schemas.tables import SURVEY_ITEM_COLUMNS
from reports.builder import template_environment
from reports.disclosure import DisclosureRules, RunInfo, check_outputs
from reports.inputs import open_inputs
from reports.sections import RenderContext, registered_sections
from reports.sections import survey as chapter

RULES = DisclosureRules()
RUN = RunInfo(run_at=datetime(2025, 1, 1), code_version="test")
SMALL = "09"  # Gotland: only a handful of respondents


def _results(tiny_region: bool) -> pd.DataFrame:
    from pipeline.synth import simulate
    from pipeline.synth.survey import survey

    df, cells, _ = survey(simulate(200, seed=3))
    d, c = df.to_pandas(), cells.to_pandas()
    if tiny_region:  # keep 6 respondents of Gotland
        keep = (d.Region != SMALL) | (d.groupby("Region").cumcount() < 6)
        d = d[keep]
    hr = healthcare_regions()
    responses = pd.DataFrame({"respondent_id": d.RespondentId, "region_code": d.Region,
                              "healthcare_region_code": d.Region.map(lambda r: hr[r][0]), "care_level": d.Vardniva,
                              **{col: pd.to_numeric(d[item]) for item, col in SURVEY_ITEM_COLUMNS.items()}})
    n = responses.groupby(["region_code", "care_level"]).size()
    frame = pd.DataFrame({"region_code": c.Region, "healthcare_region_code": c.Region.map(lambda r: hr[r][0]),
                          "care_level": c.Vardniva, "n_invited": c.AntalIUrval,
                          "n_respondents": [int(n.get((r, lv), 0)) for r, lv in zip(c.Region, c.Vardniva)]})
    regions = sorted(set(responses.region_code))
    spells = pd.DataFrame({"home_region_code": np.repeat(regions, 40),
                           "followup_days": np.tile(np.arange(20, 420, 10), len(regions)),
                           "days_to_first_gc001": np.tile(np.r_[np.full(15, 10.0), np.full(25, np.nan)], len(regions)),
                           "end_reason": np.tile(["return_to_work"] * 30 + ["censored"] * 10, len(regions))})
    spec = AnalysisSpec("survey", "survey", "test", SurveyParameters(entry_day=14))
    return survey_analysis(spec, responses, frame, spells).summary


def _warehouse(path: Path, tiny_region: bool = False) -> Path:
    summary = _results(tiny_region)
    summary = summary.astype({c: "string" for c in summary.columns if summary[c].dtype == object})
    con = duckdb.connect(str(path))
    con.execute("create schema results")
    con.register("f", summary)
    con.execute("create table results.survey as select * from f")
    con.close()
    return path


class _Meta:
    has_results = True
    analyses: dict = {}


def _checked(warehouse: Path):
    with open_inputs(warehouse) as inputs:
        candidates = list(chapter.collect(inputs))
    return check_outputs(candidates, RULES, RUN)


def _render(checked) -> tuple[str, RenderContext]:
    ctx = RenderContext(checked=checked, meta=_Meta(), rules=RULES, run=RUN, env=template_environment())
    return str(chapter.render(ctx)) + str(ctx.deferred_html()), ctx


def test_chapter_renders_in_swedish_and_says_the_survey_has_no_sex(tmp_path):
    checked = _checked(_warehouse(tmp_path / "w.duckdb"))
    assert set(chapter.ALL_IDS) <= set(checked) and not any(c.is_blocked for c in checked.values())
    html, ctx = _render(checked)
    text = re.sub(r'(data-outputs|id)="[^"]*"', "", html)
    for words in ("Enkäten frågar inte efter kön", "kvinnor och män", "Svarsfrekvens", "Cronbachs alfa",
                  "Samverkan med Försäkringskassan fungerar bra", "Ekologisk jämförelse", "Gotland", "Rao–Scott"):
        assert words in text, words
    for internal in ("share_agree", "F1_FK", "region_code", "korn_graubard", "weighted"):
        assert internal not in text, internal
    assert ctx.cited and all(source in checked and not checked[source].is_blocked for source, _, _ in ctx.cited)
    assert any(where == "Enkät: svarsfrekvens, samtliga" for _, where, _ in ctx.cited)


def test_a_region_with_few_respondents_is_withheld_like_a_register_cell(tmp_path):
    checked = _checked(_warehouse(tmp_path / "w.duckdb", tiny_region=True))
    agree = checked[chapter.AGREE_ID].table("summary")
    small = agree[(agree["subgroup"] == "region_code") & (agree["level"] == SMALL)]
    assert len(small) == 8 and small["estimate"].isna().all()  # 6 respondents < 10: every item withheld
    big = agree[(agree["subgroup"] == "region_code") & (agree["level"] == "01")]
    assert big["estimate"].notna().all()
    assert "n_persons" not in agree.columns or agree["n_persons"].isna().all()  # respondents are not published
    response = checked[chapter.RESPONSE_ID].table("summary")
    assert response.loc[(response["subgroup"] == "region_code") & (response["level"] == SMALL), "estimate"].isna().all()


def test_chapter_comes_right_after_the_collaboration_chapter():
    sections = {s.key: s.order for s in registered_sections()}
    assert sections["enkat"] == sections["tid_och_behov"] + 2
    keys = [s.key for s in registered_sections()]
    if "samverkan" in keys:
        assert keys.index("enkat") == keys.index("samverkan") + 1


def test_register_shares_beside_the_index_follow_the_register_rules(tmp_path):
    path = _warehouse(tmp_path / "w.duckdb")
    con = duckdb.connect(str(path))
    # one region's uptake rests on 4 coordinated spells: under the events threshold
    con.execute("update results.survey set n_events = 4 where estimand = 'ecological' and term = 'region_uptake' "
                "and level = '01'")
    con.close()
    checked = _checked(path)
    register = checked[chapter.REGISTER_ID].table("summary")
    uptake = register[register["term"] == "region_uptake"].set_index("level")
    assert pd.isna(uptake.loc["01", "estimate"]) and uptake["estimate"].notna().sum() >= 19
    html, _ = _render(checked)
    assert "tabell-enkat-region" in html
