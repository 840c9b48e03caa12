"""The chapter 'Underlag för förslag' (issue 15): rendered from checked scenario estimates, findings only where diagnostics pass."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analyses.designs.scenarios import scenarios
from reports.builder import template_environment
from reports.disclosure import DisclosureRules, RunInfo, check_outputs
from reports.inputs import open_inputs
from reports.sections import RenderContext, registered_sections
from reports.sections import _results
from reports.sections import proposals as chapter
from tests.analyses.test_scenarios import _spec, simulated_spells

RULES = DisclosureRules()
RUN = RunInfo(run_at=datetime(2025, 1, 1), code_version="test")


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    frame, _ = simulated_spells(n=4000, seed=9)
    return scenarios(_spec(bootstrap_replicates=10), frame).summary


def _write(path: Path, summary: pd.DataFrame) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema results")
    con.register("f", summary)
    con.execute("create table results.scenarios as select * from f")
    con.close()
    return path


class _Meta:
    has_results = True
    analyses: dict = {}


def _render(path: Path) -> tuple[str, dict, RenderContext]:
    with open_inputs(path) as inputs:
        checked = check_outputs(list(chapter.collect(inputs)), RULES, RUN)
    ctx = RenderContext(checked=checked, meta=_Meta(), rules=RULES, run=RUN, env=template_environment())
    html = str(chapter.render(ctx))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)), checked, ctx


def test_the_chapter_is_registered_and_keeps_its_table_out_of_the_results_chapter():
    sections = {s.key: s for s in registered_sections()}
    assert sections["underlag_forslag"].title_sv == "Underlag för förslag" and sections["underlag_forslag"].order == 85
    assert "scenarios" in _results.OWN_CHAPTER_TABLES


def test_chapter_renders_in_swedish_from_checked_outputs(tmp_path, summary):
    text, checked, ctx = _render(_write(tmp_path / "w.duckdb", summary))
    assert set(checked) == {chapter.OUTPUT_ID} and not checked[chapter.OUTPUT_ID].is_blocked
    for words in ("Antaganden.", "okänd skillnad", "beskriver sambanden rätt", "går att genomföra",
                  "Kvinnor, procentenheter (95 % KI)", "Män, procentenheter (95 % KI)", "Alla, procentenheter (95 % KI)",
                  "Alla regioner når den fjärdedel av regionerna som koordinerar mest",
                  "Koordinering som nu ges dag 31–90 ges senast dag 30", "Kontroll av modellerna", "✓ Ja"):
        assert words in text, words
    assert "Slutsats" in text  # the simulated effect is clear and the natural course passes
    for internal in ("natural_course", "risk_difference", "uptake", "earlier", "scenarios", "cumulative_incidence",
                     "home_region_code", "g-formula"):
        assert internal not in text, internal
    assert ctx.cited and all(source in checked for source, _, _ in ctx.cited)
    published = checked[chapter.OUTPUT_ID].table("summary")
    assert "n_events" not in published.columns or published["n_events"].isna().all()


def test_a_scenario_whose_diagnostics_fail_is_reported_as_uncertain(tmp_path, summary):
    failing = summary.copy()
    rows = failing["estimand"].eq("risk_difference") & failing["term"].eq("uptake")
    failing.loc[rows, "diagnostics"] = [json.dumps({**json.loads(d), "passes": False, "natural_course_pass": False})
                                        for d in failing.loc[rows, "diagnostics"]]
    text, _, _ = _render(_write(tmp_path / "w.duckdb", failing))
    assert "den är osäker och redovisas inte som en slutsats" in text
    assert "Osäker (diagnostiken godkänns inte)" in text


def test_missing_results_say_so(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    text, checked, _ = _render(path)
    assert not checked and "Scenarierna saknas" in text
