"""The planted truth of the coordinators' survey (issue 13), for `koord check-truth`.

The generator (`pipeline.synth.survey`) gives every member of the survey's frame an answer,
with region effects per item and a care-level effect (psychiatry rates collaboration lowest),
then lets them respond with a propensity that depends on care level and healthcare region
(psychiatry answers least). truth.json's ``survey.frame_values`` holds, per region and item,
the frame's own (finite-population) mean of the 1-5 answers and share answering 4-5: what the
weighted, FPC-corrected estimates of `survey` target. Unweighted means over-represent the
classes that answer most and miss where non-response is informative.

Rules (`survey_checks`):

r. ``covers_planted_region_mean`` / ``covers_planted_region_share`` (one row per item): the
   weighted region estimates (item_mean, share_agree) of all 21 regions cover the frame values:
   the number of regions with |estimate - truth| > z × SE is 0, z Bonferroni-widened over the
   family of every region, item and measure (`z_for(21 × 8 × 2)`). On 25 generator seeds the
   weighted intervals' nominal 95 % missed 2-10 % of region x item values (mean 5 %).
s. ``unweighted_shows_planted_bias`` (one row per measure): the mean |unweighted - truth| over
   regions and items is larger than the mean |weighted - truth|.
t. ``unweighted_misses_more`` (item means): the nominal 95 % intervals of the unweighted
   region means miss the truth more often than the weighted ones.

A share near 0 or 1 has a linearised SE near 0: rule r judges a share by no less than the SE
of the truth in a simple random sample of the domain's size with the region's FPC.

Skipped, with a note, when the results have no survey table, the truth no survey, or the frame
was not delivered (canonical names: no weighting possible).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from pipeline.commands.recovery import z_for

SURVEY_ANALYSIS = "survey"
MEASURES = {"item_mean": ("mean", "covers_planted_region_mean"), "share_agree": ("share_agree", "covers_planted_region_share")}


def _region_rows(table: pd.DataFrame, estimand: str, weighting: str) -> pd.DataFrame:
    t = table[(table["estimand"] == estimand) & (table["subgroup"] == "region_code") & (table["weighting"] == weighting)]
    return t.assign(level=t["level"].astype(str), term=t["term"].astype(str))


def _joined(table: pd.DataFrame, truth: Mapping, estimand: str) -> pd.DataFrame:
    key = MEASURES[estimand][0]
    w = _region_rows(table, estimand, "weighted")[["term", "level", "estimate", "std_error", "conf_low", "conf_high",
                                                    "n_persons"]]
    u = _region_rows(table, estimand, "unweighted")[["term", "level", "estimate", "std_error", "conf_low", "conf_high"]]
    j = w.merge(u, on=["term", "level"], suffixes=("", "_unweighted"), validate="1:1")
    j["truth"] = [truth[r][i][key] for r, i in zip(j["level"], j["term"])]
    rr = table[(table["estimand"] == "response_rate") & (table["subgroup"] == "region_code")]
    j["fpc"] = 1 - j["level"].map(dict(zip(rr["level"].astype(str), rr["estimate"]))).astype(float)
    j["n_persons"] = j["n_persons"].astype(float)
    return j


def survey_checks(results: Mapping[str, pd.DataFrame], truth_json: Mapping) -> tuple[list[dict], list[str]]:
    """Rules r-t; (check rows, notes on what was skipped)."""
    if SURVEY_ANALYSIS not in results:
        return [], [f"checks of {SURVEY_ANALYSIS} skipped: no such results table"]
    planted = truth_json.get("survey")
    if not planted or "frame_values" not in planted:
        return [], [f"checks of {SURVEY_ANALYSIS} skipped: truth.json has no survey frame values (an older synth)"]
    if not planted.get("frame_delivered", False):
        return [], [f"checks of {SURVEY_ANALYSIS} skipped: the delivery has no survey frame (enkat_urval), so no weighting"]
    table = results[SURVEY_ANALYSIS]
    truth = planted["frame_values"]
    rows: list[dict] = []
    joined = {estimand: _joined(table, truth, estimand) for estimand in MEASURES}
    z = z_for(sum(len(j) for j in joined.values()))  # one family: every region, item and measure
    for estimand, (_, check) in MEASURES.items():
        j = joined[estimand]
        if j.empty:
            continue
        for item, g in j.groupby("term", sort=True):
            se = g["std_error"]
            if estimand == "share_agree":
                # a share near 0 or 1 has a linearised SE near 0 (it is why the analysis then gives a
                # Korn-Graubard interval): judge it by no less than the SE of the truth itself in a simple
                # random sample of the domain's size, with the region's finite-population correction
                floor = np.sqrt(g["truth"] * (1 - g["truth"]) / g["n_persons"] * g["fpc"])
                se = np.maximum(se, floor)
            scaled = (g["estimate"] - g["truth"]).abs() / se.where(se > 0)
            missed = g.loc[~(scaled <= z), "level"].tolist()
            worst = g.loc[scaled.idxmax()] if scaled.notna().any() else None
            rows.append({"analysis_id": SURVEY_ANALYSIS, "check": check, "sex": "all", "subgroup": "region_code",
                         "level": "missed: " + (",".join(missed) if missed else "none"),
                         "term": f"{item} worst: {worst['level']} at {scaled.max():.2f} SE" if worst is not None else item,
                         "estimate": float(len(missed)), "conf_low": float("nan"), "conf_high": float("nan"),
                         "truth": 0.0, "expectation": "at_most", "passed": not missed, "std_error": float("nan"),
                         "mc_se": 0.0, "z": float(z), "scale": "none"})
        bias_w = float((j["estimate"] - j["truth"]).abs().mean())
        bias_u = float((j["estimate_unweighted"] - j["truth"]).abs().mean())
        rows.append({"analysis_id": SURVEY_ANALYSIS, "check": "unweighted_shows_planted_bias", "sex": "all",
                     "subgroup": "region_code", "level": "all", "term": f"{estimand}: mean |unweighted - truth| "
                     f"(truth column: mean |weighted - truth|), signed unweighted bias "
                     f"{float((j['estimate_unweighted'] - j['truth']).mean()):+.3f}",
                     "estimate": bias_u, "conf_low": float("nan"), "conf_high": float("nan"), "truth": bias_w,
                     "expectation": "greater", "passed": bias_u > bias_w, "std_error": float("nan"), "mc_se": 0.0,
                     "z": float("nan"), "scale": "none"})
        if estimand != "item_mean":  # the bias of the shares is smaller than their sampling error: no rule t
            continue
        miss_w = float(np.mean((j["truth"] < j["conf_low"]) | (j["truth"] > j["conf_high"])))
        miss_u = float(np.mean((j["truth"] < j["conf_low_unweighted"]) | (j["truth"] > j["conf_high_unweighted"])))
        rows.append({"analysis_id": SURVEY_ANALYSIS, "check": "unweighted_misses_more", "sex": "all",
                     "subgroup": "region_code", "level": "all",
                     "term": f"{estimand}: share of 95 % intervals missing the truth, unweighted (truth column: weighted)",
                     "estimate": miss_u, "conf_low": float("nan"), "conf_high": float("nan"), "truth": miss_w,
                     "expectation": "greater", "passed": miss_u > miss_w, "std_error": float("nan"), "mc_se": 0.0,
                     "z": float("nan"), "scale": "none"})
    return rows, []


__all__ = ["SURVEY_ANALYSIS", "survey_checks"]
