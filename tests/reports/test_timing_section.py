"""The chapter on needs-based and timely coordination: disclosure control, the audit, the curve rules, and the words."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from analyses import diagnostic_keys
from reports.disclosure import is_withheld
from reports.builder import template_environment
from reports.disclosure import DisclosureRules, RunInfo, audit_report, check_outputs
from reports.inputs import open_inputs
from reports.sections import RenderContext, registered_sections
from reports.sections import _results
from reports.sections import timing as chapter

RULES = DisclosureRules()
RUN = RunInfo(run_at=datetime(2025, 1, 1), code_version="test")
REGIONS = ("01", "12", "14", "09")
SMALL = "09"  # Gotland: 4 high-need men without coordination
SEXES = ("all", "woman", "man")
BASE = dict(std_error=np.nan, p_value=np.nan, diagnostics="{}")


def _population(sex: str) -> dict:
    return {"sex": sex, "subgroup": "all" if sex == "all" else "sex", "level": "all" if sex == "all" else sex}


def _timing() -> pd.DataFrame:
    rows = []
    for sex in SEXES:
        n = {"all": 2000, "woman": 1200, "man": 800}[sex]
        groups = [_population(sex)] + [{"sex": sex, "subgroup": "diagnosis_group", "level": g} for g in ("depression", "back_pain")] \
            + [{"sex": sex, "subgroup": "home_region_code", "level": r} for r in REGIONS]
        for g in groups:
            size = n if g["subgroup"] in ("all", "sex") else n // 4
            for day, share in zip((30, 60, 90, 180), (0.06, 0.13, 0.16, 0.2)):
                events = int(size * share) if g["level"] != SMALL else 6  # few coordinated in the small region
                rows.append({**BASE, **g, "measure": "cif_first_gc001", "estimand": "cumulative_incidence", "term": "first_gc001",
                             "day": float(day), "estimate": events / size, "conf_low": events / size * 0.9,
                             "conf_high": events / size * 1.1, "n_persons": size, "n_events": events, "n_spells": size})
            rows.append({**BASE, **g, "measure": "median_day_first_gc001", "estimand": "median", "term": "first_gc001",
                         "day": np.nan, "estimate": 43.0, "conf_low": 40.0, "conf_high": 46.0, "n_persons": size,
                         "n_events": int(size * 0.2) if g["level"] != SMALL else 6, "n_spells": size})
        for measure, day, share in (("plan_dv077", 30, 0.25), ("fk_informed_or_meeting", 90, 0.55)):
            rows.append({**BASE, **_population(sex), "measure": measure, "estimand": "cumulative_incidence", "term": measure,
                         "day": float(day), "estimate": share, "conf_low": share - 0.02, "conf_high": share + 0.02,
                         "n_persons": n // 5, "n_events": int(n // 5 * share), "n_spells": n // 5})
    frame = pd.DataFrame(rows)
    frame.insert(0, "analysis_id", "coordination_timing")
    frame.insert(1, "method", "aalen_johansen")
    return frame


def _need(ci_low: float = 0.19) -> pd.DataFrame:
    rows = []
    for sex in SEXES:
        n = {"all": 2000, "woman": 1200, "man": 800}[sex]
        for decile in range(1, 11):
            share = 0.05 + 0.02 * decile
            rows.append({**BASE, "sex": sex, "subgroup": "need_group", "level": str(decile), "measure": "uptake_by_need",
                         "estimand": "share", "term": "uptake", "estimate": share, "conf_low": share - 0.02,
                         "conf_high": share + 0.02, "n_persons": n // 10, "n_events": int(n // 10 * share), "n_spells": n // 10,
                         "predicted": decile / 11})
        rows.append({**BASE, **_population(sex), "measure": "concentration_index", "estimand": "concentration_index",
                     "term": "uptake_over_need", "estimate": 0.21, "conf_low": ci_low, "conf_high": 0.24, "n_persons": n,
                     "n_events": n // 6, "n_spells": n})
        rows.append({**BASE, **_population(sex), "measure": "need_model_auc", "estimand": "auc", "term": "need_90",
                     "estimate": 0.75, "conf_low": 0.74, "conf_high": 0.76, "n_persons": n, "n_events": n // 2, "n_spells": n})
        for estimand, value in (("odds_ratio", 1.02), ("risk_difference", 0.003)):
            rows.append({**BASE, **_population(sex), "measure": "gap_at_equal_need", "estimand": estimand,
                         "term": "born_abroad_vs_sweden", "estimate": value, "conf_low": value - 0.1, "conf_high": value + 0.1,
                         "n_persons": n, "n_events": n // 6, "n_spells": n})
    # Unmet need: high-need spells per region and sex; Gotland's men have 4 without coordination.
    high = {"01": (300, 200), "12": (200, 150), "14": (150, 100), "09": (40, 5)}
    unmet = {"01": (230, 150), "12": (160, 110), "14": (110, 80), "09": (30, 4)}
    for sex in SEXES:
        totals = [0, 0]
        for region in REGIONS:
            w, m = high[region], unmet[region]
            spells = {"woman": w[0], "man": w[1], "all": w[0] + w[1]}[sex]
            events = {"woman": m[0], "man": m[1], "all": m[0] + m[1]}[sex]
            totals = [totals[0] + spells, totals[1] + events]
            for estimand, value in (("count", float(events)), ("share", events / spells)):
                rows.append({**BASE, "sex": sex, "subgroup": "home_region_code", "level": region, "measure": "unmet_need",
                             "estimand": estimand, "term": "high_need_without_uptake", "estimate": value,
                             "conf_low": np.nan, "conf_high": np.nan, "n_persons": spells, "n_events": events, "n_spells": spells})
        for estimand, value in (("count", float(totals[1])), ("share", totals[1] / totals[0])):
            rows.append({**BASE, **_population(sex), "measure": "unmet_need", "estimand": estimand,
                         "term": "high_need_without_uptake", "estimate": value, "conf_low": value * 0.95 if estimand == "share" else np.nan,
                         "conf_high": value * 1.05 if estimand == "share" else np.nan, "n_persons": totals[0],
                         "n_events": totals[1], "n_spells": totals[0]})
    frame = pd.DataFrame(rows)
    frame.insert(0, "analysis_id", "coordination_need")
    frame.insert(1, "method", "logistic")
    return frame


def _strategies() -> pd.DataFrame:
    rows = []
    arms = ("by_day_30", "by_day_60", "by_day_90", "none_within_90")
    for sex in SEXES:
        n = {"all": 1700, "woman": 1000, "man": 700}[sex]
        for horizon in (180, 365):
            for i, arm in enumerate(arms):
                risk = 0.78 - 0.01 * i + (0.1 if horizon == 365 else 0)
                rows.append({**_population(sex), "measure": "strategy_risk", "estimand": "cumulative_incidence", "term": arm,
                             "arm": arm, "comparator": None, "horizon": horizon, "estimate": risk, "conf_low": risk - 0.02,
                             "conf_high": risk + 0.02, "std_error": 0.01, "p_value": np.nan, "n_persons": n,
                             "n_events": int(n * risk / 3), "n_spells": n,
                             "diagnostics": json.dumps({"passes": True, "events_per_arm": {arm: int(n * risk / 3)}})})
            for arm in arms[:-1]:
                # The men's day-30 contrast fails its diagnostics: it must not be stated as a finding.
                passes = not (sex == "man" and arm == "by_day_30")
                for estimand, value, low, high in (("risk_difference", 0.04, 0.02, 0.06), ("risk_ratio", 1.05, 1.02, 1.08)):
                    rows.append({**_population(sex), "measure": "strategy_contrast", "estimand": estimand,
                                 "term": f"{arm}_vs_none_within_90", "arm": arm, "comparator": "none_within_90",
                                 "horizon": horizon, "estimate": value, "conf_low": low, "conf_high": high, "std_error": 0.01,
                                 "p_value": 0.01, "n_persons": n, "n_events": n // 2, "n_spells": n,
                                 "diagnostics": json.dumps({"passes": passes, "max_abs_smd": 0.05 if passes else 0.2,
                                                            "events_per_arm": {arm: n // 6, "none_within_90": n // 3}})})
    frame = pd.DataFrame(rows)
    frame.insert(0, "analysis_id", "coordination_timing_strategies")
    frame.insert(1, "method", "clone_censor_weight")
    return frame


def _curves() -> pd.DataFrame:
    """First-GC001 curves (everyone, women, men), strategy curves, and a curve of the association chapter."""
    rows = []
    grid = np.arange(0, 372, 7, dtype=float)
    for analysis_id, arms, top in (("coordination_timing", ("first_gc001",), 0.2),
                                   ("coordination_timing_strategies", ("by_day_30", "none_within_90"), 0.9),
                                   ("target_trial", ("coordination_now", "not_now"), 0.9)):
        for arm in arms:
            for sex in SEXES:
                at_risk = {"all": 1500, "woman": 900, "man": 600}[sex]
                cif = top * (1 - np.exp(-grid / 80))
                events = np.diff(np.concatenate([[0.0], cif])) * at_risk
                events[5:8] = 3  # a few thin steps: collapsed by the curve rule
                risk = np.maximum(at_risk - np.cumsum(events).astype(int), 5)
                for t, c, e, r in zip(grid, cif, events, risk):
                    rows.append({"analysis_id": analysis_id, "arm": arm, **_population(sex), "time": t, "cif": c,
                                 "conf_low": max(c - 0.02, 0.0), "conf_high": c + 0.02, "n_at_risk": int(r),
                                 "n_events": int(round(e))})
    return pd.DataFrame(rows)


def _write(path: Path, need: pd.DataFrame | None = None) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema results")
    tables = {"coordination_timing": _timing(), "coordination_need": _need() if need is None else need,
              "coordination_timing_strategies": _strategies(), "cif_curves": _curves()}
    for name, frame in tables.items():
        con.register("f", frame)
        con.execute(f"create table results.{name} as select * from f")
        con.unregister("f")
    con.close()
    return path


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    return _write(tmp_path / "w.duckdb")


def _checked(warehouse: Path):
    with open_inputs(warehouse) as inputs:
        candidates = list(chapter.collect(inputs))
    return candidates, check_outputs(candidates, RULES, RUN)


class _Meta:
    has_results = True
    analyses: dict = {}


def _render(checked) -> tuple[str, RenderContext]:
    ctx = RenderContext(checked=checked, meta=_Meta(), rules=RULES, run=RUN, env=template_environment())
    return str(chapter.render(ctx)) + str(ctx.deferred_html()), ctx


def _text_of(html: str) -> str:
    html = re.sub(r'data-outputs="[^"]*"', "", html)
    html = re.sub(r'src="data:[^"]*"', "", html)
    return re.sub(r'id="[^"]*"', "", html)


def test_chapter_renders_in_swedish_from_checked_outputs(warehouse):
    candidates, checked = _checked(warehouse)
    assert {chapter.FIRST_ID, chapter.GRADIENT_ID, chapter.UNMET_COUNTS_ID, chapter.STRATEGY_ID,
            chapter.FIRST_CURVE_ID, chapter.STRATEGY_CURVE_ID} <= set(checked)
    assert not any(c.is_blocked for c in checked.values())
    html, ctx = _render(checked)
    for figure in ("figur-tid-forsta", "figur-behov-gradient", "figur-strategier"):
        assert f'id="{figure}"' in html
    text = _text_of(html)
    for words in ("Inom 90 dagar", "Koordineringen går i högre grad till dem med störst behov", "Gotland",
                  "Första koordinering senast dag 30", "stort behov"):
        assert words.lower() in text.lower(), words
    for internal in ("cif_first_gc001", "by_day_30", "none_within_90", "home_region_code", "uptake_by_need", "need_group"):
        assert internal not in text, internal
    # Every number in the running text is cited from a checked, published output.
    assert ctx.cited and all(source in checked and not checked[source].is_blocked for source, _, _ in ctx.cited)
    # The men's day-30 contrast fails its diagnostics: stated as uncertain, never as a finding.
    pattern = r"<li><strong>(\w+), dag (\d+):</strong>(.*?)</li>"
    items = {(who, day): body for who, day, body in re.findall(pattern, text, flags=re.S)}
    assert {("Män", "180"), ("Män", "365"), ("Kvinnor", "180")} <= set(items)
    for day in ("180", "365"):
        uncertain = items[("Män", day)].split("osäkert")
        assert len(uncertain) == 2 and "senast dag 30" in uncertain[1] and "senast dag 30" not in uncertain[0]
        women = items[("Kvinnor", day)]
        assert "högre andel åter i arbete med första koordinering senast dag 30" in women and "osäkert" not in women


def test_concentration_index_is_a_finding_only_when_its_interval_is_above_zero(tmp_path):
    _, checked = _checked(_write(tmp_path / "w.duckdb", need=_need(ci_low=-0.01)))
    text = _text_of(_render(checked)[0])
    assert "Det går inte att visa att koordineringen i högre grad går till dem med störst behov" in text
    assert "Koordineringen går i högre grad" not in text


def test_a_suppressed_unmet_count_cannot_be_recovered(warehouse):
    candidates, checked = _checked(warehouse)
    counts = checked[chapter.UNMET_COUNTS_ID]
    men = counts.table("man")
    assert is_withheld(men.at[SMALL, chapter.UNMET])  # 4 high-need men without coordination
    # Neither the men's national total, nor everyone minus women, nor the spells minus those with coordination give it back.
    assert sum(is_withheld(v) for v in men[chapter.UNMET]) >= 2
    assert is_withheld(men.at[SMALL, chapter.MET]) or is_withheld(men.at[SMALL, "Totalt"])
    assert is_withheld(counts.table("woman").at[SMALL, chapter.UNMET]) or is_withheld(counts.table("all").at[SMALL, chapter.UNMET])
    # The share beside the withheld count is withheld with it (share × spells is the count).
    shares = checked[chapter.UNMET_ID].table("summary")
    small_men = shares[(shares["sex"] == "man") & (shares["level"] == SMALL)]
    assert small_men["estimate"].isna().all()
    audit = audit_report(candidates, checked, RULES)
    assert len(audit) and audit["protected"].all()
    # The CIF rows publish no counts: the rules read them, the reader does not get them.
    first = checked[chapter.FIRST_ID].table("summary")
    assert first["n_events"].isna().all() and first["n_persons"].isna().all()
    # The small region's incidence rests on 6 first GC001s: withheld, and complemented so it cannot be read off.
    small = first[(first["level"] == SMALL) & (first["measure"] == "cif_first_gc001")]
    assert small["estimate"].isna().all()


def test_curves_respect_the_curve_rules_and_stay_in_their_chapter(warehouse):
    _, checked = _checked(warehouse)
    for output_id in (chapter.FIRST_CURVE_ID, chapter.STRATEGY_CURVE_ID):
        curve = checked[output_id].table("curve")
        assert checked[output_id].n_suppressed > 0  # the thin steps were collapsed
        steps = curve[curve["n_events"].astype(float) > 0]
        assert (steps["n_at_risk"].astype(float) >= RULES.at_risk_threshold).all()
        assert (steps["n_events"].astype(float) >= RULES.curve_events_threshold).all()
        assert ((steps["cif"].astype(float) > 0.0005) & (steps["cif"].astype(float) < 0.9995)).all()
    assert set(checked[chapter.FIRST_CURVE_ID].table("curve")["arm"]) == {"first_gc001"}
    # The association chapter's curves keep only its own analyses' rows.
    with open_inputs(warehouse) as inputs:
        association = {o.output_id: o for o in _results.collect_results(inputs)}
    assert set(association[_results.curve_id("cif_curves")].curve["arm"]) == {"coordination_now", "not_now"}


def test_diagnostics_keys_of_the_three_designs_are_declared():
    timing = {"design": "coordination_timing", "entry_day": 14, "cif_days": [30, 60, 90, 180], "n_cohort_spells": 10,
              "n_spells_excluded_before_entry": 0, "n_censored_at_extraction": 1, "n_coordinated": 2,
              "support_time_zero": "day of the first GC001",
              "populations": {"all": {"n_spells": 10, "n_persons": 9, "n_first_gc001": 2, "n_return_to_work": 5,
                                      "n_other_end": 2, "n_censored": 1}}}
    need = {"design": "coordination_need", "entry_day": 14, "need_horizons": [90, 180], "n_spells_input": 10,
            "n_need_population": 10, "n_not_followed_to_entry": 0, "uptake_window_days": 90, "n_uptake_population": 10,
            "n_left_out_of_uptake": 0, "high_need_groups": 3, "n_groups": 10, "regions_sex_gap_significant_after_holm": [],
            "need_model": {"model": "ridge logistic", "ridge": 1.0, "predictors": ["sex"], "folds": 5,
                           "n_covariate_patterns": 4, "n_model_columns": 3, "fold_sizes": [2, 2],
                           "levels": {"sex": {"reference": "woman", "merged_into_reference": []}}, "levels_merged": {},
                           "horizons": {"90": {"n_in_fit": 10, "n_unknown_outcome": 0, "n_lasting_beyond": 4}}}}
    arm = {"effective_sample_size": 8.0, "events": {"180": 3}, "max_abs_smd": 0.05, "n_uncensored_after_grace": 4,
           "positivity_share_outside": 0.0, "support_share": 1.0,
           "weights": {"max_weight": 2.0, "max_weight_before_truncation": 3.0, "mean_weight_before_truncation": 1.0,
                       "n_followed": 5, "n_uncensored": 4, "share_truncated": 0.0}}
    strategies = {"design": "coordination_timing_strategies", "entry_day": 14, "strategy_days": [30, 60, 90],
                  "none_within_days": 90, "weight_truncation": [0.0, 99.5], "bootstrap_replicates": 20,
                  "censoring_models": "fitted once", "none_weights": "weekly bands",
                  "level_plan": {"sex": {"reference": "woman", "merged_into_reference": []}},
                  "populations": {"all/all=all": {"by_day_30": arm, "by_day_60": arm, "by_day_90": arm,
                                                  "none_within_90": arm, "passed": True}}}
    for diagnostics in (timing, need, strategies):
        assert diagnostic_keys.undeclared(diagnostics) == []
        published, noted = diagnostic_keys.select(diagnostics, diagnostic_keys.PUBLISHED_KINDS)
        assert noted == []
        published_keys = {path.rsplit(".", 1)[-1] for path, *_ in diagnostic_keys.entries(published)}
        counts = {"n_cohort_spells", "n_coordinated", "n_persons", "n_first_gc001", "n_in_fit", "n_lasting_beyond",
                  "fold_sizes", "n_followed", "n_uncensored", "effective_sample_size", "events", "n_uncensored_after_grace"}
        assert not published_keys & counts


def test_chapter_comes_right_after_the_regions_chapter():
    keys = [s.key for s in registered_sections()]
    assert keys.index("tid_och_behov") == keys.index("regioner") + 1
