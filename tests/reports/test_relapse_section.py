"""The section on the relapse rule's sensitivity (issue 14): disclosure control, and the words."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from reports.builder import template_environment
from reports.disclosure import DisclosureRules, RunInfo, check_outputs
from reports.inputs import open_inputs
from reports.sections import RenderContext, registered_sections
from reports.sections import _results
from reports.sections import relapse as section

RULES = DisclosureRules()
RUN = RunInfo(run_at=datetime(2025, 1, 1), code_version="test")
SEXES = ("all", "woman", "man")
N = {"all": 3000, "woman": 1900, "man": 1100}
HR = {"continue": 1.22, "censor": 1.20, "event": 1.19}


def _results_frame() -> pd.DataFrame:
    rows = []
    for rule in HR:
        for source, method, estimand in (("tv_cox", "cox", "hazard_ratio"), ("tv_poisson", "poisson", "rate_ratio")):
            for sex in SEXES:
                groups = [("all" if sex == "all" else "sex", sex, {"all": 900, "woman": 600, "man": 300}[sex]),
                          ("diagnosis_chapter_group", "psychiatric", {"all": 400, "woman": 300, "man": 100}[sex]),
                          # too few events among men to publish: withheld, and its complement with it
                          ("diagnosis_chapter_group", "other_levels", {"all": 40, "woman": 34, "man": 6}[sex])]
                for subgroup, level, events in groups:
                    hr = HR[rule] + (0.2 if level == "psychiatric" else 0.0)
                    rows.append({"analysis_id": "sensitivity_relapse", "method": method, "estimand": estimand,
                                 "term": "is_coordinated", "subgroup": subgroup, "level": level, "sex": sex,
                                 "relapse_rule": rule, "source": source, "is_study_rule": rule == "continue",
                                 "estimate": hr, "std_error": 0.03, "conf_low": hr * np.exp(-0.0588),
                                 "conf_high": hr * np.exp(0.0588), "p_value": 0.001, "n_persons": N[sex],
                                 "n_events": events, "n_spells": N[sex],
                                 "diagnostics": json.dumps({"events_per_arm": {"exposed": events // 3,
                                                                               "unexposed": events - events // 3}})})
    return pd.DataFrame(rows)


def _write(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema results")
    con.register("f", _results_frame())
    con.execute("create table results.sensitivity_relapse as select * from f")
    con.unregister("f")
    con.close()
    return path


class _Meta:
    has_results = True
    analyses: dict = {}
    study = {"relapse": "continue", "relapse_window_days": 30}


def _render(path: Path) -> tuple[str, dict, RenderContext]:
    with open_inputs(path) as inputs:
        checked = check_outputs(list(section.collect(inputs)), RULES, RUN)
    ctx = RenderContext(checked=checked, meta=_Meta(), rules=RULES, run=RUN, env=template_environment())
    html = str(section.render(ctx))
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)), checked, ctx


def test_its_own_section_after_the_negative_controls_and_its_table_kept_out_of_the_main_chapters():
    by_key = {s.key: s for s in registered_sections()}
    assert (by_key["aterinsjuknande"].order, by_key["aterinsjuknande"].title_sv) == (
        56, "Känslighet för regeln om återinsjuknande")
    assert by_key["negativa_kontroller"].order < by_key["aterinsjuknande"].order
    assert "sensitivity_relapse" in _results.OWN_CHAPTER_TABLES


def test_the_section_renders_in_plain_swedish_from_checked_outputs(tmp_path):
    text, checked, ctx = _render(_write(tmp_path / "w.duckdb"))
    assert set(checked) == {section.ESTIMATES_ID} and not checked[section.ESTIMATES_ID].is_blocked
    for words in ("Känslighetsanalys: återinsjuknande", "Sjukfallet fortsätter (95 % KI)", "Sjukfallet censureras",
                  "Räknas som återgång", "högst 30 dagar", "bygger på valet: sjukfallet fortsätter",
                  "Cox-modellen", "Poissonmodellen", "Kvinnor: Psykiatriska diagnoser",
                  "Sjukfallet fortsätter: 1,22 (1,15–1,29)."):
        assert words in text, words
    for internal in ("tv_cox", "continue", "censor", "relapse_rule", "is_coordinated", "hazard_ratio",
                     "sensitivity_relapse", "other_levels"):
        assert internal not in text, internal
    assert ctx.cited and all(source in checked for source, _, _ in ctx.cited)


def test_estimates_on_too_few_events_are_withheld(tmp_path):
    _, checked, _ = _render(_write(tmp_path / "w.duckdb"))
    table = checked[section.ESTIMATES_ID].table("summary")
    few = table[(table["level"] == "other_levels") & (table["sex"] == "man")]
    assert len(few) == 6 and few["estimate"].isna().all()  # 3 rules x 2 models
    assert "n_events" not in table.columns or table["n_events"].isna().all()


def test_missing_results_say_so(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    text, checked, _ = _render(path)
    assert not checked and "Känslighetsanalysen för återinsjuknande saknas" in text
