"""The staff survey (``enkat_samverkan``): one row per respondent, region differences in item means.

Grain: one row per respondent. Each region has 30-80 respondents, scaled linearly by its
population; an item's answer is ``round(mean_item + v_region_item + noise)`` clipped to 1-5,
with 6 (don't know) and empty answers at fixed rates. The region effects are recorded.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from data_schemas.codes import regions
from data_schemas.extracts import extract
from pipeline.synth.frames import in_contract_order, iso, lookup
from pipeline.synth.model import CARE_LEVELS
from pipeline.synth.simulate import GroundTruth, rng_for

ITEM_MEANS = {  # planted item means on the 1-5 scale (before region effects)
    "F1_FK": 3.2, "F2_AF": 2.7, "F3_Arbetsgivare": 3.4, "F4_Kommun": 2.6,
    "F5_Internt": 3.6, "F6_Tid": 2.5, "F7_Rutiner": 3.3, "F8_Kompetens": 3.5,
}
REGION_SD = 0.35  # sd of region effects per item
NOISE_SD = 0.9
SHARE_DONT_KNOW = 0.05
SHARE_EMPTY = 0.03
RESPONDENTS_MIN, RESPONDENTS_MAX = 30, 80


def survey(gt: GroundTruth) -> tuple[pl.DataFrame, dict]:
    """The survey extract and its truth (respondents and item effects per region)."""
    ex = extract("enkat_samverkan")
    items = [c.name for c in ex.columns if c.codes == "likert"]
    if set(items) != set(ITEM_MEANS):
        raise ValueError(f"survey items in the contract changed: {items}")
    rng = rng_for(gt.seed, "survey")
    regs = regions()
    pop = np.array([r.population_2023 for r in regs], float)
    n_resp = np.round(RESPONDENTS_MIN + (RESPONDENTS_MAX - RESPONDENTS_MIN) * (pop - pop.min()) / (pop.max() - pop.min())).astype(int)
    effects = rng.normal(0.0, REGION_SD, size=(len(regs), len(items)))
    region = np.repeat(np.arange(len(regs)), n_resp)
    n = len(region)
    E = gt.window.extraction_day
    start = E - 120
    answers = {}
    for j, item in enumerate(items):
        raw = np.clip(np.round(ITEM_MEANS[item] + effects[region, j] + rng.normal(0.0, NOISE_SD, size=n)), 1, 5).astype(int)
        u = rng.random(n)
        val = np.where(u < SHARE_DONT_KNOW, 6, raw)
        answers[item] = pl.Series(np.where(u > 1 - SHARE_EMPTY, -1, val)).cast(pl.Utf8).replace("-1", None)
    df = pl.DataFrame({
        "RespondentId": [f"R{gt.seed % 1000:03d}-{i + 1:05d}" for i in range(n)],
        "Region": lookup([r.code for r in regs], region),
        "Vardniva": lookup(CARE_LEVELS, rng.choice(len(CARE_LEVELS), size=n, p=[0.65, 0.20, 0.15])),
        "SvarsDatum": iso(start + rng.integers(0, 60, size=n)),
        **answers,
    })
    truth = {
        "item_means": ITEM_MEANS, "region_sd": REGION_SD, "noise_sd": NOISE_SD, "share_dont_know": SHARE_DONT_KNOW,
        "share_empty": SHARE_EMPTY,
        "respondents_by_region": {r.code: int(k) for r, k in zip(regs, n_resp)},
        "region_item_effects": {r.code: {it: float(effects[i, j]) for j, it in enumerate(items)} for i, r in enumerate(regs)},
    }
    return in_contract_order(df, ex), truth

