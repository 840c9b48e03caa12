"""The chapter on negative controls and calibrated intervals: disclosure control, and the words."""

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
from reports.sections import negative_controls as chapter

RULES = DisclosureRules()
RUN = RunInfo(run_at=datetime(2025, 1, 1), code_version="test")
SEXES = ("all", "woman", "man")
OUTCOMES = ("eye", "ear", "dental_oral", "skin_infection", "ingrown_nail")
N = {"all": 3000, "woman": 1900, "man": 1100}


def _population(sex: str) -> dict:
    return {"sex": sex, "subgroup": "all" if sex == "all" else "sex", "level": sex}


def _negative() -> pd.DataFrame:
    rows = []
    for source, method, estimand in (("tv_cox", "cox", "hazard_ratio"), ("tv_poisson", "poisson", "rate_ratio")):
        for i, outcome in enumerate(OUTCOMES):
            for sex in SEXES:
                # the ear contacts of men are too few to publish: withheld, and so the complement among the sexes
                events = 6 if (outcome == "ear" and sex == "man") else {"all": 300, "woman": 200, "man": 100}[sex]
                if outcome == "ear" and sex == "all":
                    events = 206
                hr = 1.05 + 0.03 * (i - 2)
                rows.append({"analysis_id": "negative_controls", "method": method, "outcome_id": outcome,
                             "source": source, "estimand": estimand, "term": "is_coordinated", **_population(sex),
                             "estimate": hr, "std_error": 0.1, "conf_low": hr * np.exp(-0.196), "conf_high": hr * np.exp(0.196),
                             "p_value": 0.5, "n_persons": N[sex], "n_events": events,
                             "diagnostics": json.dumps({"events_per_arm": {"exposed": events // 3,
                                                                           "unexposed": events - events // 3}})})
    return pd.DataFrame(rows)


def _calibration(ease: float) -> pd.DataFrame:
    rows = []
    for source in ("tv_cox", "tv_poisson"):
        for sex in SEXES:
            common = {"analysis_id": "calibration", "method": "empirical_calibration", "source": source,
                      **_population(sex), "n_persons": N[sex], "n_events": 100, "n_controls": 5,
                      "diagnostics": "{}", "std_error": np.nan, "p_value": np.nan}
            for term, estimand, value, low, high in (("mu", "systematic_error_mean", 0.05, -0.02, 0.12),
                                                     ("sigma", "systematic_error_sd", 0.04, 0.0, 0.15),
                                                     ("ease", "expected_absolute_systematic_error", ease, np.nan, np.nan)):
                rows.append({**common, "kind": "null", "term": term, "estimand": estimand, "estimate": value,
                             "conf_low": low, "conf_high": high, "ease": ease, "ease_below_threshold": ease < 0.25})
            for subgroup, level in (("all" if sex == "all" else "sex", sex), ("diagnosis_chapter_group", "psychiatric")):
                rows.append({**common, "kind": "calibrated", "term": "is_coordinated", "estimand": "hazard_ratio",
                             "subgroup": subgroup, "level": level, "estimate": 1.14, "conf_low": 1.01, "conf_high": 1.29,
                             "p_value": 0.04, "std_error": 0.06, "uncalibrated_estimate": 1.20,
                             "uncalibrated_conf_low": 1.12, "uncalibrated_conf_high": 1.28, "uncalibrated_p_value": 0.0001,
                             "uncalibrated_std_error": 0.03, "ease": ease, "ease_below_threshold": ease < 0.25})
    return pd.DataFrame(rows)


def _write(path: Path, ease: float = 0.07) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema results")
    for name, frame in (("negative_controls", _negative()), ("calibration", _calibration(ease))):
        con.register("f", frame)
        con.execute(f"create table results.{name} as select * from f")
        con.unregister("f")
    con.close()
    return path


class _Meta:
    has_results = True
    analyses: dict = {}


def _render(path: Path) -> tuple[str, dict, RenderContext]:
    with open_inputs(path) as inputs:
        checked = check_outputs(list(chapter.collect(inputs)), RULES, RUN)
    ctx = RenderContext(checked=checked, meta=_Meta(), rules=RULES, run=RUN, env=template_environment())
    html = str(chapter.render(ctx)) + str(ctx.deferred_html())
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    return text, checked, ctx


def test_the_chapter_follows_the_main_results_and_keeps_its_tables_out_of_theirs():
    orders = {s.key: s.order for s in registered_sections()}
    assert orders["rtw"] < orders["negativa_kontroller"] < min(orders["undergrupper"], orders["regioner"])
    assert {"negative_controls", "calibration"} <= set(_results.OWN_CHAPTER_TABLES)


def test_chapter_renders_in_swedish_from_checked_outputs(tmp_path):
    text, checked, ctx = _render(_write(tmp_path / "w.duckdb"))
    assert set(checked) == set(chapter.ALL_IDS) and not any(c.is_blocked for c in checked.values())
    for words in ("Ögonsjukdomar (H00–H59)", "Cox-modellen", "Poissonmodellen", "Kvinnor (95 % KI)", "under gränsen 0,25",
                  "Kalibrerad kvot", "Kvinnor: Psykiatriska diagnoser", "1,20 (1,12–1,28) före och 1,14 (1,01–1,29) efter"):
        assert words in text, words
    for internal in ("dental_oral", "tv_cox", "is_coordinated", "hazard_ratio", "systematic_error"):
        assert internal not in text, internal
    assert ctx.cited and all(source in checked and not checked[source].is_blocked for source, _, _ in ctx.cited)


def test_estimates_on_too_few_events_are_withheld(tmp_path):
    text, checked, _ = _render(_write(tmp_path / "w.duckdb"))
    controls = checked[chapter.CONTROLS_ID].table("summary")
    ear = controls[controls["negative_control"] == "ear"]
    # the men's 6 events are too few: their estimate is withheld in both designs. The counts are not
    # published, so no other estimate gives them back and nothing else needs withholding.
    assert ear.loc[ear["sex"] == "man", "estimate"].isna().all()
    assert ear["estimate"].isna().sum() == 2 and controls["estimate"].isna().sum() == 2
    assert "n_events" not in controls.columns or controls["n_events"].isna().all()
    assert "Två punkter (..)" in text


def test_ease_above_the_limit_is_said_in_words(tmp_path):
    text, _, _ = _render(_write(tmp_path / "w.duckdb", ease=0.31))
    assert "0,31, över gränsen 0,25" in text and "för stort" in text


def test_missing_results_say_so(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    text, checked, _ = _render(path)
    assert not checked and "Resultaten med negativa kontroller saknas" in text
