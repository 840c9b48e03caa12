"""Landmark analyses: among spells still at risk at day L, coordinated by L or not, followed from L on.

A landmark analysis fixes the exposure at the landmark and starts the clock there, so no
time before the exposure is known is counted (no immortal time), at the price of ignoring
coordination that starts after the landmark (exposure as assigned at L, like intention to
treat) and of the spells that end before L. With the issue's landmarks 30, 60 and 90 days it
is a sensitivity check of the time-varying models.

Eligible at landmark L: follow-up still running after L (``followup_days > L``) and L not
before the entry day. Exposed: the first GC001 on a day index ``t_c <= L`` (exposure has
begun by time L). Follow-up: (L, followup_days], return to work the event, competing events
and censoring end follow-up. Cox adjusted for the confounders, person-clustered robust SE.
"""

from __future__ import annotations

import pandas as pd

from analyses.designs import _models
from analyses.designs._models import EXPOSURE
from analyses.designs.specs import AnalysisSpec, LandmarkParameters
from analyses.designs.time_varying import exposure_effects
from analyses.results import Result
from koord.errors import ContractViolation


def landmark_rows(spells: pd.DataFrame, landmark_day: int, covariates: tuple[str, ...]) -> pd.DataFrame:
    """One row per spell at risk at the landmark: (L, followup_days], event, exposure fixed at L.

    Parameters
    ----------
    spells : one row per spell: spell_id, person_id, followup_days, days_to_first_gc001
        (NaN if none), end_reason and the covariates.
    """
    followup = spells["followup_days"].to_numpy(dtype=float)
    t_c = pd.to_numeric(spells["days_to_first_gc001"], errors="coerce").to_numpy(dtype=float)
    at_risk = followup > landmark_day
    rows = spells.loc[at_risk, ["spell_id", "person_id", *covariates]].copy()
    rows["start"] = float(landmark_day)
    rows["stop"] = followup[at_risk]
    rows["event"] = (spells.loc[at_risk, "end_reason"].astype(str) == "return_to_work").to_numpy(dtype=float)
    rows[EXPOSURE] = (t_c[at_risk] <= landmark_day).astype(float)  # NaN (never) compares False
    rows["days_at_risk"] = rows["stop"] - rows["start"]
    return rows.reset_index(drop=True)


def landmark(spec: AnalysisSpec, spells: pd.DataFrame) -> Result:
    """Adjusted hazard ratio of return to work after each landmark, coordinated by it vs not.

    Rows: term 'landmark_<L>' per landmark, for everyone, women and men, and per chapter group.
    """
    params: LandmarkParameters = spec.parameters
    early = [L for L in params.landmark_days if L < params.entry_day]
    if early:
        raise ContractViolation(f"{spec.id}: landmark(s) {early} are before the entry day {params.entry_day}")
    covariates = tuple(dict.fromkeys(["sex", "diagnosis_chapter_group", *params.confounders]))
    rows, models = [], {}
    for day in params.landmark_days:
        data = landmark_rows(spells, day, covariates)
        spell_frame = data[["spell_id", "person_id", *covariates, "event"]]
        r, m = exposure_effects(data, spell_frame, spec, _models.fit_exposure_cox, estimand="hazard_ratio",
                                extra={"landmark_day": int(day)})
        for row in r:
            row["term"] = f"landmark_{day}"
        rows.extend(r)
        models[f"landmark_{day}"] = {"n_spells_at_risk": int(len(data)), "n_exposed": int(data[EXPOSURE].sum()),
                                     "models": m}
    diagnostics = {"design": spec.design, "entry_day": params.entry_day, "landmarks": models}
    summary = _models.finish_summary(rows, spec.id, "cox", diagnostics)
    return Result(analysis_id=spec.id, method="cox", summary=summary, diagnostics=diagnostics, tables={})


__all__ = ["landmark", "landmark_rows"]
