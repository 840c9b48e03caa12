"""The staff survey (``enkat_samverkan``) and its frame (``enkat_urval``) with informative non-response.

Grain: the frame has one row per region x care level (``AntalIUrval`` staff invited); the
survey one row per respondent. Every member of the frame is given an answer to every item,
then a response propensity that depends on care level and healthcare region decides who
answers (the survey is a census attempt):

- frame: each region has ``FRAME_MIN``-``FRAME_MAX`` staff, scaled linearly by population,
  split over care levels in ``FRAME_LEVEL_SHARES``;
- answers: item j of a person in region r and care level l is
  ``clip(round(ITEM_MEANS[j] + v_rj + LEVEL_EFFECTS[l] + e), 1, 5)`` with e ~ N(0, NOISE_SD^2)
  and v_rj ~ N(0, REGION_SD^2) (for the index items F1-F4, e = c + e_j with a person's common
  c ~ N(0, COMMON_SD^2), so the items hang together as an index); then 6 (don't know) and empty (no answer) at fixed rates,
  independent of the answer;
- response: P(respond) = ``RESPONSE_BY_LEVEL[l] + RESPONSE_SHIFT_BY_GROUP[g]``. Psychiatry
  answers least and rates collaboration lowest, so respondents over-represent primary care and
  unweighted region means are biased upwards; within a weighting class (healthcare region x
  care level) response is at random, so class weights N_h / n_h remove the bias. The sizes
  keep every class at 20 respondents or more in expectation (psychiatry of Stockholm-Gotland
  is the smallest, about 52): a collapsed class would mix care levels that answer
  differently and bring back part of the bias; and every region x care level cell at about
  10 respondents or more (Gotland's psychiatry: 29 x 0.40), since a region's interval rests on
  the variance estimated from its smallest cells.

Truth (``truth["survey"]``, also under ``parameters.survey``): per region and item the
*frame value* (the finite-population value: the mean of the 1-5 answers and the share 4-5
among the frame's members who gave a 1-5 answer, what a design-based estimate with the
finite-population correction targets), the *expected* value (the model's, averaged over the
frame's care-level composition), and the frame and respondents per cell.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from data_schemas.codes import healthcare_regions, regions
from data_schemas.extracts import extract
from pipeline.synth.frames import in_contract_order, iso, lookup
from pipeline.synth.model import CARE_LEVELS
from pipeline.synth.simulate import GroundTruth, rng_for

ITEM_MEANS = {  # planted item means on the latent scale (before region and care-level effects)
    "F1_FK": 3.2, "F2_AF": 2.7, "F3_Arbetsgivare": 3.4, "F4_Kommun": 2.6,
    "F5_Internt": 3.6, "F6_Tid": 2.5, "F7_Rutiner": 3.3, "F8_Kompetens": 3.5,
}
REGION_SD = 0.35  # sd of region effects per item
NOISE_SD = 0.9  # sd of a person's noise on one item (in total, for the index items)
INDEX_ITEMS = ("F1_FK", "F2_AF", "F3_Arbetsgivare", "F4_Kommun")
COMMON_SD = 0.65  # the index items share a person's view of collaboration: c ~ N(0, COMMON_SD^2) on each
LEVEL_EFFECTS = {"PV": 0.35, "SSV": -0.25, "PSY": -1.1}  # care level's effect on every item
SHARE_DONT_KNOW = 0.05
SHARE_EMPTY = 0.03
FRAME_MIN, FRAME_MAX = 160, 600  # staff invited per region
FRAME_LEVEL_SHARES = {"PV": 0.55, "SSV": 0.27, "PSY": 0.18}
RESPONSE_BY_LEVEL = {"PV": 0.80, "SSV": 0.60, "PSY": 0.45}
RESPONSE_SHIFT_BY_GROUP = {"NORR": 0.05, "MELLAN": 0.0, "STHLM_GOTL": -0.05, "SYDOST": 0.05, "VASTRA": -0.05, "SODRA": 0.0}
FRAME_STEM = "enkat_urval"


def _answer_distribution(m: np.ndarray) -> np.ndarray:
    """P(answer = 1..5) of clip(round(m + e), 1, 5), e ~ N(0, NOISE_SD^2) in total; rows = m, columns = 1..5."""
    cuts = (np.array([1.5, 2.5, 3.5, 4.5])[None, :] - np.asarray(m, float)[:, None]) / NOISE_SD
    cdf = stats.norm.cdf(cuts)
    return np.diff(np.hstack([np.zeros((len(cdf), 1)), cdf, np.ones((len(cdf), 1))]), axis=1)


def survey(gt: GroundTruth) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """The survey extract, its frame (region x care level) and their truth."""
    ex = extract("enkat_samverkan")
    items = [c.name for c in ex.columns if c.codes == "likert"]
    if set(items) != set(ITEM_MEANS):
        raise ValueError(f"survey items in the contract changed: {items}")
    rng = rng_for(gt.seed, "survey")
    regs = regions()
    groups = healthcare_regions()
    pop = np.array([r.population_2023 for r in regs], float)
    per_region = FRAME_MIN + (FRAME_MAX - FRAME_MIN) * (pop - pop.min()) / (pop.max() - pop.min())
    shares = np.array([FRAME_LEVEL_SHARES[lv] for lv in CARE_LEVELS])
    frame_n = np.maximum(np.round(per_region[:, None] * shares[None, :]), 5).astype(int)  # region x level
    effects = rng.normal(0.0, REGION_SD, size=(len(regs), len(items)))

    region = np.repeat(np.arange(len(regs)), frame_n.sum(axis=1))
    level = np.concatenate([np.repeat(np.arange(len(CARE_LEVELS)), row) for row in frame_n])
    n = len(region)
    level_effect = np.array([LEVEL_EFFECTS[lv] for lv in CARE_LEVELS])
    latent = {}
    common = rng.normal(0.0, COMMON_SD, size=n)
    own_sd = np.sqrt(NOISE_SD ** 2 - COMMON_SD ** 2)
    for j, item in enumerate(items):
        noise = common + rng.normal(0.0, own_sd, size=n) if item in INDEX_ITEMS else rng.normal(0.0, NOISE_SD, size=n)
        raw = np.clip(np.round(ITEM_MEANS[item] + effects[region, j] + level_effect[level] + noise), 1, 5)
        u = rng.random(n)
        latent[item] = np.where(u > 1 - SHARE_EMPTY, -1, np.where(u < SHARE_DONT_KNOW, 6, raw)).astype(int)
    group_of_region = np.array([groups[r.code][0] for r in regs])
    propensity = (np.array([RESPONSE_BY_LEVEL[lv] for lv in CARE_LEVELS])[level]
                  + np.array([RESPONSE_SHIFT_BY_GROUP[g] for g in group_of_region])[region])
    responds = rng.random(n) < propensity

    E = gt.window.extraction_day
    start = E - 120
    idx = np.flatnonzero(responds)
    m = len(idx)
    df = pl.DataFrame({
        "RespondentId": [f"R{gt.seed % 1000:03d}-{i + 1:05d}" for i in range(m)],
        "Region": lookup([r.code for r in regs], region[idx]),
        "Vardniva": lookup(CARE_LEVELS, level[idx]),
        "SvarsDatum": iso(start + rng.integers(0, 60, size=m)),
        **{item: pl.Series(latent[item][idx]).cast(pl.Utf8).replace("-1", None) for item in items},
    })
    frame = pl.DataFrame({
        "Region": [r.code for r in regs for _ in CARE_LEVELS],
        "Vardniva": [lv for _ in regs for lv in CARE_LEVELS],
        "AntalIUrval": frame_n.reshape(-1).astype(np.int64),
    })

    # truth: the frame's (finite-population) values and the model's expected values per region
    respondents = np.zeros_like(frame_n)
    np.add.at(respondents, (region[idx], level[idx]), 1)
    frame_values, expected_values = {}, {}
    for i, r in enumerate(regs):
        in_r = region == i
        frame_values[r.code], expected_values[r.code] = {}, {}
        for j, item in enumerate(items):
            a = latent[item][in_r]
            a = a[(a >= 1) & (a <= 5)]
            frame_values[r.code][item] = {"mean": float(a.mean()), "share_agree": float(np.mean(a >= 4)),
                                          "n_answering": int(len(a))}
            p = _answer_distribution(ITEM_MEANS[item] + effects[i, j] + level_effect)  # level x 1..5
            w = frame_n[i] / frame_n[i].sum()
            expected_values[r.code][item] = {"mean": float(w @ (p @ np.arange(1, 6))), "share_agree": float(w @ p[:, 3:].sum(axis=1))}
    truth = {
        "item_means": ITEM_MEANS, "region_sd": REGION_SD, "noise_sd": NOISE_SD, "level_effects": LEVEL_EFFECTS,
        "index_items": list(INDEX_ITEMS), "common_sd": COMMON_SD,
        "share_dont_know": SHARE_DONT_KNOW, "share_empty": SHARE_EMPTY,
        "response_by_level": RESPONSE_BY_LEVEL, "response_shift_by_healthcare_region": RESPONSE_SHIFT_BY_GROUP,
        "estimand": "per region and item: mean of the 1-5 answers and share 4-5 among the frame's members with a "
                    "1-5 answer (frame_values, the finite population); expected_values: the model's, over the "
                    "frame's care-level composition",
        "frame_by_region_level": {r.code: {lv: int(frame_n[i, k]) for k, lv in enumerate(CARE_LEVELS)} for i, r in enumerate(regs)},
        "respondents_by_region_level": {r.code: {lv: int(respondents[i, k]) for k, lv in enumerate(CARE_LEVELS)} for i, r in enumerate(regs)},
        "respondents_by_region": {r.code: int(respondents[i].sum()) for i, r in enumerate(regs)},
        "region_item_effects": {r.code: {it: float(effects[i, j]) for j, it in enumerate(items)} for i, r in enumerate(regs)},
        "frame_values": frame_values,
        "expected_values": expected_values,
    }
    return in_contract_order(df, ex), in_contract_order(frame, extract(FRAME_STEM)), truth
