"""The naive comparison: 'ever coordinated' as a fixed covariate from the entry day, biased by immortal time.

A spell coordinated on day t_c must have lasted until t_c, so classifying its whole follow-up
as coordinated credits the coordinated with event-free time they could not lose: their
return-to-work hazard looks lower than it is. The estimate is shown beside the time-varying,
trial and landmark estimates to make that bias visible; its diagnostics carry
``immortal_time_safe: false`` and never pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyses.designs import _models
from analyses.designs._models import EXPOSURE
from analyses.designs.specs import AnalysisSpec, NaiveParameters
from analyses.designs.time_varying import exposure_effects
from analyses.results import Result


def naive_rows(spells: pd.DataFrame, entry_day: int, covariates: tuple[str, ...]) -> pd.DataFrame:
    """One row per spell followed after the entry day: (entry, followup_days], ever coordinated."""
    followup = spells["followup_days"].to_numpy(dtype=float)
    in_followup = followup > entry_day
    rows = spells.loc[in_followup, ["spell_id", "person_id", *covariates]].copy()
    rows["start"] = float(entry_day)
    rows["stop"] = followup[in_followup]
    rows["event"] = (spells.loc[in_followup, "end_reason"].astype(str) == "return_to_work").to_numpy(dtype=float)
    rows[EXPOSURE] = spells.loc[in_followup, "is_coordinated"].astype(bool).to_numpy(dtype=float)
    rows["days_at_risk"] = rows["stop"] - rows["start"]
    return rows.reset_index(drop=True)


def naive_ever_coordinated(spec: AnalysisSpec, spells: pd.DataFrame) -> Result:
    """Hazard ratio of return to work, ever vs never coordinated, adjusted: the biased comparison."""
    params: NaiveParameters = spec.parameters
    covariates = tuple(dict.fromkeys(["sex", "diagnosis_chapter_group", *params.confounders]))
    data = naive_rows(spells, params.entry_day, covariates)
    spell_frame = data[["spell_id", "person_id", *covariates, "event"]]
    rows, models = exposure_effects(data, spell_frame, spec, _models.fit_exposure_cox, estimand="hazard_ratio",
                                    immortal_time_safe=False)
    diagnostics = {"design": spec.design, "entry_day": params.entry_day, "immortal_time_safe": False,
                   "n_spells": int(len(data)), "n_ever_coordinated": int(np.sum(data[EXPOSURE])), "models": models}
    summary = _models.finish_summary(rows, spec.id, "cox", diagnostics)
    return Result(analysis_id=spec.id, method="cox", summary=summary, diagnostics=diagnostics, tables={})


__all__ = ["naive_ever_coordinated", "naive_rows"]
