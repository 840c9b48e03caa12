"""The chapter on differences between regions: its outputs pass disclosure control and the audit, and it reads as a reader needs."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from data_schemas.codes import regions
from reports.disclosure import is_withheld
from reports.disclosure import CellRef, DisclosureRules, FrequencyOutput, ModelOutput, RunInfo, SharedCount, audit_report, check_outputs, with_margins
from reports.inputs import open_inputs
from reports.outputs import declaration
from reports.sections import RenderContext, registered_sections
from reports.builder import template_environment
from reports.sections import regions as chapter

RULES = DisclosureRules()
RUN = RunInfo(run_at=datetime(2025, 1, 1), code_version="test")
SMALL = "09"  # Gotland: few spells, few coordinated men


def _region_tables(seed: int = 3) -> dict[str, pd.DataFrame]:
    """Results tables shaped like `koord analyse`'s region tables (start year 'all' and one year)."""
    rng = np.random.default_rng(seed)
    codes = [r.code for r in regions()]
    up, rtw = [], []
    for code in codes:
        n = {"woman": int(rng.integers(200, 900)), "man": int(rng.integers(150, 600))}
        e = {s: int(n[s] * rng.uniform(0.1, 0.25)) for s in n}
        if code == SMALL:
            n, e = {"woman": 60, "man": 40}, {"woman": 12, "man": 4}
        n["all"], e["all"] = n["woman"] + n["man"], e["woman"] + e["man"]
        for sex in ("all", "woman", "man"):
            oe = float(rng.uniform(0.6, 1.5))
            base = dict(analysis_id="region_uptake", method="indirect_standardisation_glmm", term="home_region",
                        subgroup="home_region_code", level=code, std_error=np.nan, p_value=np.nan,
                        n_persons=int(n[sex] * 0.8), n_events=e[sex], diagnostics='{"design": "region_uptake"}', sex=sex,
                        start_year="all", measure="uptake", n_spells=n[sex], expected=e[sex] / oe)
            up += [
                {**base, "estimand": "observed_share", "estimate": e[sex] / n[sex], "conf_low": np.nan, "conf_high": np.nan},
                {**base, "estimand": "expected_share", "estimate": e[sex] / n[sex] / oe, "conf_low": np.nan, "conf_high": np.nan},
                {**base, "estimand": "observed_expected_ratio", "estimate": oe, "conf_low": oe * 0.8, "conf_high": oe * 1.2,
                 "funnel_low_95": 0.7, "funnel_high_95": 1.3, "funnel_low_998": 0.55, "funnel_high_998": 1.6,
                 "funnel_low_998_poisson": 0.8, "funnel_high_998_poisson": 1.2, "outside_95": oe > 1.3, "outside_998": oe > 1.45,
                 "is_possibly_under_reporting": code == "25"},
                {**base, "estimand": "shrunken_observed_expected_ratio", "estimate": 1 + (oe - 1) * 0.8, "conf_low": np.nan,
                 "conf_high": np.nan, "n_persons": None, "median_rank": 5.0, "rank_low": 2.0, "rank_high": 9.0},
                {**base, "estimand": "observed_share", "start_year": "2021", "estimate": e[sex] / n[sex], "conf_low": np.nan,
                 "conf_high": np.nan, "n_persons": None},
            ]
            for term in ("woman_vs_man", "born_abroad_vs_sweden", "education_low_vs_high"):
                if term == "woman_vs_man" and sex != "all":
                    continue
                up.append({**base, "estimand": "odds_ratio", "term": term, "estimate": 1.1, "conf_low": 0.9, "conf_high": 1.3,
                           "p_value": 0.2, "n_persons": None, "p_holm": 1.0, "is_significant_holm": code == "01",
                           "share_level": 0.2, "share_reference": 0.18, "n_spells_level": n[sex] // 2,
                           "n_spells_reference": n[sex] - n[sex] // 2})
            for measure in ("share_90", "rate"):
                rtw.append({**base, "analysis_id": "region_rtw", "measure": measure, "estimand": "observed_expected_ratio",
                            "estimate": 1.0, "conf_low": 0.9, "conf_high": 1.1, "n_events": n[sex] // 2, "outside_998": False})
    frame = pd.DataFrame(up)
    national = frame[(frame["estimand"] == "observed_share") & (frame["start_year"] == "all")].groupby("sex").agg(
        n_spells=("n_spells", "sum"), n_events=("n_events", "sum"), n_persons=("n_persons", "sum")).reset_index()
    nat = [dict(analysis_id="region_uptake", method="indirect_standardisation_glmm", estimand="observed_share", term="home_region",
                subgroup="all", level="all", estimate=r.n_events / r.n_spells, n_persons=r.n_persons, n_events=r.n_events,
                diagnostics='{"design": "region_uptake"}', sex=r.sex, start_year="all", measure="uptake", n_spells=r.n_spells)
           for r in national.itertuples()]
    variation = pd.DataFrame([dict(analysis_id="region_variation", method="glmm", estimand=est, term="uptake_adjusted",
                                   subgroup="all", level="all", estimate=v, std_error=np.nan, conf_low=lo, conf_high=hi, p_value=np.nan,
                                   n_persons=None, n_events=400, diagnostics="{}", sex=sex, start_year="all", measure="uptake")
                              for sex in ("all", "woman", "man")
                              for est, v, lo, hi in (("median_odds_ratio", 1.45, 1.3, 1.7), ("variance", 0.15, 0.08, 0.3),
                                                     ("proportional_change_in_variance", -0.08, np.nan, np.nan))])
    return {"region_uptake": pd.concat([frame, pd.DataFrame(nat)], ignore_index=True), "region_rtw": pd.DataFrame(rtw),
            "region_variation": variation}


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema results")
    for name, frame in _region_tables().items():
        con.register("f", frame)
        con.execute(f"create table results.{name} as select * from f")
        con.unregister("f")
    con.close()
    return path


def _checked(warehouse: Path):
    with open_inputs(warehouse) as inputs:
        candidates = list(chapter.collect(inputs))
    checked = check_outputs(candidates, RULES, RUN)
    return candidates, checked


def test_outputs_pass_disclosure_control_and_the_audit(warehouse):
    candidates, checked = _checked(warehouse)
    assert {chapter.COUNTS_ID, chapter.UPTAKE_ID, chapter.GAPS_ID, chapter.RTW_ID, chapter.VARIATION_ID} <= set(checked)
    assert not any(c.is_blocked for c in checked.values())
    audit = audit_report(candidates, checked, RULES)
    assert audit["protected"].all()
    counts = checked[chapter.COUNTS_ID]
    # Gotland's 4 coordinated men are withheld, and not given back by everyone - women or by the national total.
    assert is_withheld(counts.table("man").at[SMALL, chapter.COORDINATED])
    assert sum(is_withheld(v) for v in counts.table("man")[chapter.COORDINATED]) >= 2  # the national total does not give it back
    assert is_withheld(counts.table("woman").at[SMALL, chapter.COORDINATED]) or is_withheld(counts.table("all").at[SMALL, chapter.COORDINATED])
    # The estimates beside withheld counts are withheld too (a share times the spells gives the count back).
    summary = checked[chapter.UPTAKE_ID].table("summary")
    men = summary[(summary["sex"] == "man") & (summary["level"] == SMALL)]
    assert men["estimate"].isna().all()
    for _, row in summary[summary["n_events"].isna() & (summary["estimand"] == "observed_share")].iterrows():
        assert is_withheld(row["estimate"])
    # Persons are read by the rules but not published.
    assert summary["n_persons"].isna().all()


def test_linked_model_estimates_are_withheld_with_their_counts():
    frame = pd.DataFrame({"koordinerad": [4, 30, 40], "ej_koordinerad": [40, 100, 120]}, index=["a", "b", "c"])
    table = with_margins(frame, group_axis="rows")
    summary = pd.DataFrame({"analysis_id": "x", "subgroup": "region", "level": ["a", "b", "c"], "term": "t",
                            "estimand": "observed_share", "estimate": [0.09, 0.23, 0.25], "n_persons": [44, 130, 160],
                            "n_events": [4, 30, 40], "method": "m", "std_error": None, "conf_low": None, "conf_high": None,
                            "p_value": None, "diagnostics": None})
    model = ModelOutput(declaration("regionmodell"), summary, output_id="regionmodell:t", estimates_reveal_counts=True,
                        shared_counts=tuple(SharedCount(i, "n_events", CellRef("regioner_upptag", "x", lvl, "koordinerad"))
                                            for i, lvl in enumerate("abc")))
    counts = FrequencyOutput(declaration("regioner_upptag"), {"x": table}, output_id="regioner_upptag")
    checked = check_outputs([counts, model], RULES, RUN)
    published = checked["regionmodell:t"].table("summary")
    hidden_counts = {r for r in "abc" if is_withheld(checked["regioner_upptag"].table("x").at[r, "koordinerad"])}
    assert hidden_counts >= {"a"} and len(hidden_counts) >= 2
    for i, level in enumerate("abc"):
        assert (is_withheld(published.at[i, "estimate"])) == (level in hidden_counts)
    assert audit_report([counts, model], checked, RULES)["protected"].all()


def test_chapter_renders_in_swedish_without_internal_names(warehouse):
    candidates, checked = _checked(warehouse)
    class Meta:
        has_results = True
        analyses = {}

    ctx = RenderContext(checked=checked, meta=Meta(), rules=RULES, run=RUN, env=template_environment())
    html = str(chapter.render(ctx)) + str(ctx.deferred_html())
    for word in ("Medianoddskvot", "Trattdiagram", "rutkarta", "Holms korrektion", "Krympt O/F", "Norrbotten"):
        assert word.lower() in html.lower(), word
    for internal in ("region_uptake", "shrunken_observed_expected_ratio", "observed_expected_ratio", "home_region_code"):
        assert internal not in _text_of(html), internal
    assert "figur-regioner-tratt" in html and "figur-regioner-karta" in html
    assert ctx.cited and all(source in checked for source, _, _ in ctx.cited)


def _text_of(html: str) -> str:
    import re
    html = re.sub(r'data-outputs="[^"]*"', "", html)
    html = re.sub(r'src="data:[^"]*"', "", html)
    html = re.sub(r'id="[^"]*"', "", html)
    return html


def test_chapter_is_registered_after_the_results_chapters():
    keys = [s.key for s in registered_sections()]
    assert keys.index("regioner") > keys.index("undergrupper")
    assert keys.index("regioner") < keys.index("bilaga")
