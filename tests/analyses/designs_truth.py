"""The planted truth the designs are checked against, derived with the generator's own model code.

- Hazard ratios: truth.json's ``coordination_effect`` per chapter group. The single
  'is_coordinated' term of a model with heterogeneous effects estimates a weighted average of
  the chapter groups' log hazard ratios; its truth is taken as the inverse-variance weighted
  average of the planted log HRs, with the weights (1/SE^2) of the chapter-group terms of the
  same fitted interaction model (the information each group contributes).
- Emulated trials: the planted model is simulated forward from every eligible trial entry of
  the built data (the same spells and trial days), linked to the generator's latent spells
  (eta, diagnosis group, care level, home region). Arm 'now': coordination starts on the trial
  day (t_c = d). Arm 'not now': the natural course from the day after, t_c drawn from the
  generator's coordination hazard conditional on no GC001 through day d. Competing events
  (death, emigration, sickness compensation, the 65th birthday) come from their planted
  hazards, with the generator's tie rules. Common random numbers for the two arms.
  The data record a recovery as return to work only when no relapse follows within the
  window (5 % of recoveries, independently of everything: the spell is censored then), so the
  Aalen–Johansen estimand is the incidence under a recovery hazard multiplied by 0.95; the
  simulation uses that hazard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.synth import model as M
from pipeline.synth.dates import july_first
from pipeline.synth.simulate import simulate


@dataclass(frozen=True)
class Linked:
    """Built spells with their latent ground-truth attributes, and the planted parameters."""

    spells: pd.DataFrame
    params: M.SynthParameters
    region_u: np.ndarray


def linked_ground_truth(persons: int, seed: int, built_spells: pd.DataFrame) -> Linked:
    """The generator's latent spells matched 1:1 to the built spells (by person and start date).

    ``built_spells`` needs spell_id, person_id, spell_start_date.
    """
    gt = simulate(persons, seed)
    sp = gt.spells.to_pandas()
    sp["person_id"] = gt.lopnr[sp["person"].to_numpy()]
    sp["start_date"] = pd.to_datetime(sp["start_day"].to_numpy(), unit="D")
    sp["birth_year"] = gt.persons["birth_year"].to_numpy()[sp["person"].to_numpy()]
    built = built_spells[["spell_id", "person_id", "spell_start_date"]].copy()
    built["start_date"] = pd.to_datetime(built["spell_start_date"])
    linked = built.merge(sp, on=["person_id", "start_date"], how="left", validate="1:1")
    missing = linked["eta"].isna().sum()
    if missing:
        raise AssertionError(f"{missing} built spells have no ground-truth spell")
    return Linked(linked, gt.params, gt.region_u)


def trial_truth(entries: pd.DataFrame, linked: Linked, horizons: tuple[int, ...], seed: int = 1) -> pd.DataFrame:
    """True cumulative incidence of recorded return to work per entry and arm, at the horizons.

    Parameters
    ----------
    entries : every eligible trial entry (spell_id, trial_day), controls not sampled.
    linked : `linked_ground_truth` output.

    Returns
    -------
    DataFrame
        One row per entry: spell_id, trial_day and ``now_<h>`` / ``not_now_<h>`` (0/1 draws).
    """
    params, region_u = linked.params, linked.region_u
    g = linked.spells.set_index("spell_id").loc[entries["spell_id"].to_numpy()]
    rng = np.random.default_rng(seed)
    n = len(entries)
    d = entries["trial_day"].to_numpy(dtype=float)
    group = g["diagnosis_group"].to_numpy()
    age_g = g["age_group"].to_numpy()
    eta = g["eta"].to_numpy()
    eta_recorded = eta + np.log(1 - params.relapse_share)
    scale = params.scales()[group]
    gamma = params.gammas_by_group()[group]
    shape = params.weibull_shape
    t_d = M.draw_piecewise_times(rng.exponential(size=n), (0,), (params.death_rate,),
                                 np.exp(M.death_log_multiplier(params, age_group=age_g, diagnosis_group=group)), d)
    t_e = M.draw_piecewise_times(rng.exponential(size=n), (0,), (params.emigration_rate,),
                                 np.exp(np.where(g["is_born_in_sweden"].to_numpy(), 0.0,
                                                 params.emigration_foreign_born_effect)), d)
    t_sa = M.draw_piecewise_times(rng.exponential(size=n), params.sa_band_starts, params.sa_band_rates,
                                  np.exp(M.sa_log_multiplier(params, age_group=age_g, eta=eta)), d)
    age_65 = july_first(g["birth_year"].to_numpy() + 65) - g["start_day"].to_numpy() + 1
    competing = np.minimum.reduce([np.ceil(np.minimum(t_d, 1e9)), np.ceil(np.minimum(t_e, 1e9)),
                                   np.ceil(np.minimum(t_sa, 1e9)), age_65.astype(float)])
    log_c = M.coordination_log_multiplier(params, u_region=region_u[g["home_region"].to_numpy()],
                                          care_level=g["care_level"].to_numpy(),
                                          chapter_group=g["chapter_group"].to_numpy(), eta=eta)
    t_c_later = np.floor(M.draw_piecewise_times(rng.exponential(size=n), params.coordination_band_starts,
                                                params.coordination_band_rates, np.exp(log_c), d + 1))
    e_recovery = rng.exponential(size=n)
    out = entries[["spell_id", "trial_day"]].copy()
    for arm, t_c in (("now", d), ("not_now", t_c_later)):
        t_r = M.draw_recovery_times(e_recovery, eta=eta_recorded, scale=scale, shape=shape, gamma=gamma,
                                    t_c=t_c, entry=d)
        followup = np.ceil(t_r)
        recovered = followup < competing  # competing events win ties, as in the delivery
        for h in horizons:
            out[f"{arm}_{h}"] = (recovered & (followup <= d + h)).astype(float)
    return out


def truth_risk_differences(truth: pd.DataFrame, horizons: tuple[int, ...]) -> dict[int, dict[str, float]]:
    """Mean incidence per arm and their difference at each horizon."""
    return {h: {"now": float(truth[f"now_{h}"].mean()), "not_now": float(truth[f"not_now_{h}"].mean()),
                "difference": float(truth[f"now_{h}"].mean() - truth[f"not_now_{h}"].mean()),
                "mc_se": float((truth[f"now_{h}"] - truth[f"not_now_{h}"]).std() / np.sqrt(len(truth)))}
            for h in horizons}


def weighted_truth_hr(planted: dict[str, float], levels: list[str], std_errors: list[float]) -> float:
    """Inverse-variance weighted geometric mean of the planted hazard ratios of ``levels``."""
    w = 1 / np.asarray(std_errors) ** 2
    return float(np.exp(np.sum(w * np.log([planted[lv] for lv in levels])) / w.sum()))
