"""Compare the results of `koord analyse` on a synthetic delivery with the truth planted in it.

The planted truth each design is checked against, derived with the generator's own model code:

- Hazard ratios: truth.json's ``coordination_effect`` per chapter group. The single
  'is_coordinated' term of a model with heterogeneous effects (a misspecified common-effect
  model) converges to a pseudo-true value, which `pooled_pseudo_truth` computes: tv_poisson's
  model without exposure terms is fitted to its own aggregated person-time with each cell's
  exposure effect fixed at its chapter group's planted log HR (folded into the exposure), and
  the pooled model (bands + is_coordinated + confounders, the design of
  `fit_exposure_poisson`) fitted to that model's expected events gives the truth: the value
  the pooled model converges to if each chapter group's effect is exactly the planted one and
  the rest of the model is as estimated from the data. The inverse-variance weighted
  geometric mean of the planted HRs is only a first-order approximation and lies above it
  (the pooled Poisson score averages the HRs over the exposed events harmonically, not
  geometrically): at 1 million persons by 0.4-0.5 %, more than the main rows' CI half-width.
  The same truth serves tv_cox: Cox and the piecewise-exponential model estimate the same
  pooled quantity up to the band approximation of the baseline hazard (and Cox's extra
  adjustment for home region and calendar year; at 1 million persons the two models' main
  estimates differ by 0.2 %).
- Emulated trials: the planted model is simulated forward from the eligible trial entries of
  the built data (the same spells and trial days), linked to the generator's latent spells
  (eta, diagnosis group, care level, home region). Arm 'now': coordination starts on the trial
  day (t_c = d). Arm 'not now': the natural course from the day after, t_c drawn from the
  generator's coordination hazard conditional on no GC001 through day d. Competing events
  (death, emigration, sickness compensation, the 65th birthday) come from their planted
  hazards, with the generator's tie rules. Common random numbers for the two arms.
  The data record a recovery as return to work only when no relapse follows within the
  window (5 % of recoveries, independently of everything: the spell is censored then), so the
  Aalen–Johansen estimand is the incidence under a recovery hazard multiplied by 0.95; the
  simulation uses that hazard. The trials' estimand averages over all eligible entries; at a
  national scale (about 60 million entries for 1 million persons) a uniform random sample of
  them is simulated (`sample_trial_entries`), and the Monte Carlo standard error, which
  covers both the sampling and the simulation, enters the comparison.

The rules (`check_recovery`; one row per check):

a. ``covers_planted_hr``: tv_cox and tv_poisson, everyone, per chapter group (psychiatric,
   musculoskeletal, other): |log(estimate / planted)| <= z × SE. The three groups × two models
   form a family; z is Bonferroni-widened (`z_for(6)`) so that unbiased estimators pass the
   whole family with at least 95 % probability (each at 95 % would fail some member about a
   quarter of the time by chance alone).
b. ``covers_pooled_planted_hr``: tv_cox and tv_poisson, the main row of everyone, women and
   men: the reported 95 % interval covers the pooled model's pseudo-true HR of the same
   population (`pooled_pseudo_truth`).
c. ``covers_true_risk_difference``: target_trial risk differences of everyone, women, men
   (family of the horizons, `z_for(3)`) and each chapter group (groups × horizons,
   `z_for(9)`): |estimate - truth| <= z × sqrt(SE² + MC SE²). The interval is estimate ±
   z × bootstrap SE: with few bootstrap replicates the percentile limits are too coarse.
   ``positive_risk_difference``: the estimate and the truth are both above 0.
d. ``excludes_planted_hr`` (expectation 'misses'): the naive 'ever coordinated' comparison's
   interval lies below the planted HR of each chapter group, and overall below the smallest
   of them: immortal time biases it towards no effect (or harm), away from the truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Callable, Mapping

import numpy as np
import pandas as pd

from data_schemas.tables import CHAPTER_GROUPS, SEXES
from koord.errors import KoordError

if TYPE_CHECKING:
    from pipeline.synth.model import SynthParameters
# scipy and the generator are imported where used: `koord` imports this module to build its parser

# 'unknown' diagnoses are a small residual group (about 2 % of spells), not a planted contrast of
# its own; its planted HR is that of 'other'.
CHECKED_CHAPTER_GROUPS: tuple[str, ...] = tuple(c for c in CHAPTER_GROUPS if c != "unknown")
HAZARD_RATIO_ANALYSES: tuple[str, ...] = ("tv_cox", "tv_poisson")
POOLED_MODEL_ANALYSIS = "tv_poisson"  # its person-time, bands and confounders define the pooled pseudo-truth
TRIAL_ANALYSIS = "target_trial"
NAIVE_ANALYSIS = "naive_ever"
CATALOGUE = "_analyses"
REQUIRED_RESULTS: tuple[str, ...] = (*HAZARD_RATIO_ANALYSES, TRIAL_ANALYSIS, NAIVE_ANALYSIS)
CHECK_COLUMNS = ["analysis_id", "check", "sex", "subgroup", "level", "term", "estimate", "conf_low", "conf_high",
                 "truth", "expectation", "passed", "std_error", "mc_se", "z"]
DEFAULT_MAX_TRIAL_ENTRIES = 2_000_000


class TruthCheckRefused(KoordError):
    """The warehouse and truth file cannot be compared (not a clean synthetic delivery, or results missing)."""


def z_for(family_size: int, level: float = 0.95) -> float:
    """Normal quantile of a two-sided Bonferroni interval for a family of ``family_size`` checks."""
    from scipy import stats

    return float(stats.norm.ppf(1 - (1 - level) / (2 * family_size)))


# --- the truth file and the latent spells --------------------------------------------------------


def planted_hazard_ratios(truth: Mapping) -> dict[str, float]:
    """The planted HR of coordination per chapter group, from truth.json."""
    return {c: float(v) for c, v in truth["coordination_effect"]["hazard_ratio_by_chapter_group"].items()}


def check_truth_file(truth: Mapping, source: str = "truth.json") -> None:
    """Refuse a truth file that is not a clean delivery's of `koord synth`."""
    if not isinstance(truth, Mapping) or truth.get("generator") != "koord synth":
        raise TruthCheckRefused(f"{source} was not written by `koord synth` (its 'generator' is "
                                f"{truth.get('generator') if isinstance(truth, Mapping) else None!r}); "
                                "only a synthetic delivery has a planted truth to check against")
    missing = [k for k in ("n_persons", "seed", "window", "coordination_effect", "faults") if k not in truth]
    if missing:
        raise TruthCheckRefused(f"{source} lacks {', '.join(missing)}: write it again with `koord synth`")
    faults = truth["faults"]
    if faults.get("injected") or any(faults.get("totals", {}).values()):
        raise TruthCheckRefused(f"{source} belongs to a delivery with injected faults (duplicates, bad codes, "
                                "...): its built spells do not match the latent spells one to one. Check the "
                                "truth on a delivery written without --faults")


def simulate_from_truth(truth: Mapping):
    """The delivery's `GroundTruth` drawn again from truth.json's persons, seed and window."""
    from pipeline.synth.simulate import simulate

    window = truth["window"]
    return simulate(int(truth["n_persons"]), int(truth["seed"]), first_year=int(window["first_year"]),
                    last_year=int(window["last_year"]), extraction_date=date.fromisoformat(window["extraction_date"]))


@dataclass(frozen=True)
class Linked:
    """Built spells with their latent ground-truth attributes, and the planted parameters.

    ``spells``: one row per built spell (spell_id, person_id, spell_start_date) with the
    generator's latent columns needed by `trial_truth`.
    """

    spells: pd.DataFrame
    params: SynthParameters
    region_u: np.ndarray


_LATENT_COLUMNS = ("eta", "diagnosis_group", "age_group", "is_born_in_sweden", "home_region", "care_level",
                   "chapter_group", "start_day")


def linked_ground_truth(ground_truth, built_spells: pd.DataFrame) -> Linked:
    """The generator's latent spells matched 1:1 to the built spells (by person and start date).

    Parameters
    ----------
    ground_truth : `pipeline.synth.simulate.GroundTruth` of the delivery (same persons and seed).
    built_spells : spell_id, person_id, spell_start_date of the warehouse's `spells`.

    Raises
    ------
    TruthCheckRefused
        If a built spell has no latent spell (the warehouse is not built from this delivery).
    """
    gt = ground_truth
    sp = gt.spells.select(["person", *_LATENT_COLUMNS]).to_pandas()
    sp["person_id"] = gt.lopnr[sp["person"].to_numpy()]
    sp["start_date"] = pd.to_datetime(sp["start_day"].to_numpy(), unit="D")
    sp["birth_year"] = gt.persons["birth_year"].to_numpy()[sp["person"].to_numpy()]
    built = built_spells[["spell_id", "person_id", "spell_start_date"]].copy()
    built["start_date"] = pd.to_datetime(built["spell_start_date"])
    try:
        linked = built.merge(sp.drop(columns="person"), on=["person_id", "start_date"], how="left", validate="1:1")
    except pd.errors.MergeError as exc:
        raise TruthCheckRefused(f"the built spells do not match the latent spells one to one ({exc}); "
                                "is the warehouse built from this truth file's delivery?") from None
    missing = int(linked["eta"].isna().sum())
    if missing:
        raise TruthCheckRefused(f"{missing} of {len(built)} built spells have no latent spell of the same person "
                                "and start date: the warehouse is not built from this truth file's delivery "
                                "(same --persons and --seed, no faults)")
    return Linked(linked, gt.params, gt.region_u)


# --- the emulated trials' truth --------------------------------------------------------------------


@dataclass(frozen=True)
class EntrySample:
    """A uniform random sample of the eligible (spell, trial day) entries.

    ``entries``: spell_id, trial_day and the carried spell columns, one row per kept entry.
    ``n_eligible``: eligible entries over all trials; ``keep_probability``: the chance each
    was kept (1 when all are).
    """

    entries: pd.DataFrame
    n_eligible: int
    keep_probability: float


def sample_trial_entries(spells: pd.DataFrame, params, max_entries: int = DEFAULT_MAX_TRIAL_ENTRIES,
                         rng: np.random.Generator | None = None,
                         carry: tuple[str, ...] = ("sex", "diagnosis_chapter_group")) -> EntrySample:
    """Sample the eligible trial entries uniformly: each is kept with probability min(1, max / total).

    Eligibility is that of `analyses.designs.trial_emulation.expand_trials`: on trial day d
    (`trial_days(params)`) a spell is eligible if its follow-up runs beyond d and it is not
    coordinated before d; a trial in which no spell starts coordination is skipped, as there.
    Each entry is kept independently with the same probability, so the sample is uniform over
    all eligible entries (the trials' estimand averages over them).

    Parameters
    ----------
    spells : spell_id, followup_days, days_to_first_gc001 (NaN if never) and ``carry``.
    params : `TargetTrialParameters` with ``first_trial_day`` resolved.
    max_entries : expected number of entries kept at most.
    rng : source of the sampling (only drawn from when entries are dropped).
    """
    from analyses.designs.trial_emulation import trial_days

    if max_entries < 1:
        raise ValueError("max_entries must be at least 1")
    followup = spells["followup_days"].to_numpy(dtype=float)
    t_c = pd.to_numeric(spells["days_to_first_gc001"], errors="coerce").to_numpy(dtype=float)
    t_c = np.where(np.isnan(t_c), np.inf, t_c)
    days = [int(d) for d in trial_days(params)
            if ((followup > d) & (t_c >= d) & (t_c < d + params.grace_days)).any()]  # trials with a treated
    n_eligible = sum(int(((followup > d) & (t_c >= d)).sum()) for d in days)
    keep = min(1.0, max_entries / n_eligible) if n_eligible else 1.0
    rng = rng if rng is not None else np.random.default_rng(0)
    rows, trial_day = [], []
    for d in days:
        eligible = np.flatnonzero((followup > d) & (t_c >= d))
        if keep < 1:
            eligible = eligible[rng.random(len(eligible)) < keep]
        rows.append(eligible)
        trial_day.append(np.full(len(eligible), d, dtype=np.int64))
    rows_all = np.concatenate(rows) if rows else np.array([], dtype=np.int64)
    entries = spells.iloc[rows_all][["spell_id", *carry]].reset_index(drop=True)
    entries.insert(1, "trial_day", np.concatenate(trial_day) if trial_day else np.array([], dtype=np.int64))
    return EntrySample(entries, n_eligible, keep)


def trial_truth(entries: pd.DataFrame, linked: Linked, horizons: tuple[int, ...], seed: int = 1) -> pd.DataFrame:
    """True cumulative incidence of recorded return to work per entry and arm, at the horizons.

    Parameters
    ----------
    entries : trial entries (spell_id, trial_day): all eligible ones, or a uniform sample.
    linked : `linked_ground_truth` output.
    horizons : days since the trial day.
    seed : seed of the simulated event times.

    Returns
    -------
    DataFrame
        One row per entry: spell_id, trial_day and ``now_<h>`` / ``not_now_<h>`` (0/1 draws).
    """
    from pipeline.synth import model as M
    from pipeline.synth.dates import july_first

    params, region_u = linked.params, linked.region_u
    position = pd.Index(linked.spells["spell_id"]).get_indexer(entries["spell_id"])
    if (position < 0).any():
        raise TruthCheckRefused(f"{int((position < 0).sum())} trial entries are of spells that are not built")

    def latent(column: str) -> np.ndarray:
        return linked.spells[column].to_numpy()[position]

    rng = np.random.default_rng(seed)
    n = len(entries)
    d = entries["trial_day"].to_numpy(dtype=float)
    group = latent("diagnosis_group").astype(np.int64)
    age_g = latent("age_group").astype(np.int64)
    eta = latent("eta").astype(float)
    eta_recorded = eta + np.log(1 - params.relapse_share)
    scale = params.scales()[group]
    gamma = params.gammas_by_group()[group]
    shape = params.weibull_shape
    t_d = M.draw_piecewise_times(rng.exponential(size=n), (0,), (params.death_rate,),
                                 np.exp(M.death_log_multiplier(params, age_group=age_g, diagnosis_group=group)), d)
    t_e = M.draw_piecewise_times(rng.exponential(size=n), (0,), (params.emigration_rate,),
                                 np.exp(np.where(latent("is_born_in_sweden").astype(bool), 0.0,
                                                 params.emigration_foreign_born_effect)), d)
    t_sa = M.draw_piecewise_times(rng.exponential(size=n), params.sa_band_starts, params.sa_band_rates,
                                  np.exp(M.sa_log_multiplier(params, age_group=age_g, eta=eta)), d)
    age_65 = july_first(latent("birth_year").astype(np.int64) + 65) - latent("start_day").astype(np.int64) + 1
    competing = np.minimum.reduce([np.ceil(np.minimum(t_d, 1e9)), np.ceil(np.minimum(t_e, 1e9)),
                                   np.ceil(np.minimum(t_sa, 1e9)), age_65.astype(float)])
    log_c = M.coordination_log_multiplier(params, u_region=region_u[latent("home_region").astype(np.int64)],
                                          care_level=latent("care_level").astype(np.int64),
                                          chapter_group=latent("chapter_group").astype(np.int64), eta=eta)
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
    """Mean incidence per arm, their difference and its Monte Carlo SE at each horizon."""
    return {h: {"now": float(truth[f"now_{h}"].mean()), "not_now": float(truth[f"not_now_{h}"].mean()),
                "difference": float(truth[f"now_{h}"].mean() - truth[f"not_now_{h}"].mean()),
                "mc_se": float((truth[f"now_{h}"] - truth[f"not_now_{h}"]).std() / np.sqrt(len(truth)))}
            for h in horizons}


# --- the pooled model's truth ----------------------------------------------------------------------


def pooled_pseudo_truth(cells: pd.DataFrame, spells: pd.DataFrame, params, planted: Mapping[str, float],
                        analysis_id: str = POOLED_MODEL_ANALYSIS) -> dict[str, float]:
    """Pseudo-true HR of the pooled (common-effect) model per population, given the planted chapter HRs.

    In each population of `exposure_effects` (everyone, then women and men without the sex
    confounder): (1) the Poisson model of `fit_exposure_poisson` without exposure terms is
    fitted to the observed events with exposure days_at_risk × HR_c^is_coordinated, HR_c the
    planted HR of the cell's chapter group (the exposure effect fixed at the truth, the rest of
    the model estimated); (2) its expected events μ = that exposure × exp(Xθ̂) replace the
    events, and (3) the pooled model (band + is_coordinated + confounders, the same design)
    fitted to μ gives exp(β*), the value the pooled estimate converges to. The Poisson score
    equations hold for non-integer counts, so step 3 is an ordinary fit.

    Parameters
    ----------
    cells : `aggregate_person_time` output of the analysis' confounders, bands and entry day.
    spells : one row per spell in follow-up (`spells_in_followup`): the confounder level plan.
    params : the analysis' `TimeVaryingPoissonParameters` (confounders, min_level_size, by_sex).
    planted : planted HR per chapter group (every group in ``cells``).

    Returns
    -------
    dict
        Population ('all', 'woman', 'man') -> pseudo-true hazard ratio.
    """
    from analyses.designs._models import EXPOSURE, fit_exposure_poisson, poisson_design, population_data
    from analyses.estimators import PoissonSpec, fit_poisson

    unplanted = sorted(set(cells["diagnosis_chapter_group"].astype(str)) - set(planted))
    if unplanted:
        raise TruthCheckRefused(f"truth.json plants no coordination effect for the chapter group(s) "
                                f"{', '.join(unplanted)} of the person-time")
    out: dict[str, float] = {}
    for data in population_data(params, cells, spells):  # the populations and confounders of exposure_effects
        sub, spells_sub, confounders, population = data.rows, data.spells, data.confounders, data.population
        exposure = sub[EXPOSURE].to_numpy(dtype=float)
        log_hr = np.log(sub["diagnosis_chapter_group"].astype(str).map(planted).to_numpy(dtype=float))
        planted_days = sub["days_at_risk"].to_numpy(dtype=float) * np.exp(log_hr * exposure)
        design, terms, _ = poisson_design(sub.assign(days_at_risk=planted_days), {}, confounders, params, spells_sub)
        constrained = fit_poisson(design, PoissonSpec(events="events", exposure="days_at_risk",
                                                      formula_rhs=" + ".join(terms),
                                                      analysis_id=f"{analysis_id}_planted_effect_{population.sex}"))
        coef = constrained.coef
        mu = planted_days * np.exp(coef["Intercept"] + design[terms].to_numpy(dtype=float) @ coef[terms].to_numpy())
        pooled = fit_exposure_poisson(sub.assign(events=mu), {EXPOSURE: exposure}, confounders, params,
                                      f"{analysis_id}_pooled_pseudo_truth_{population.sex}", spells_sub)
        out[population.sex] = float(np.exp(pooled.coef[EXPOSURE]))
    return out


# --- the checks ------------------------------------------------------------------------------------


def _one_row(table: pd.DataFrame, analysis_id: str, **where) -> pd.Series:
    mask = np.ones(len(table), bool)
    for k, v in where.items():
        mask &= (table[k] == v).to_numpy()
    if mask.sum() != 1:
        said = ", ".join(f"{k}={v}" for k, v in where.items())
        raise TruthCheckRefused(f"results.{analysis_id} has {int(mask.sum())} rows for {said} (expected one): "
                                f"run `koord analyse` with its default subgroups (by_sex, by_chapter_group)")
    return table.loc[mask].iloc[0]


def _check(analysis_id: str, check: str, r: pd.Series, *, truth: float, low: float, high: float,
           expectation: str, passed: bool, z: float = float("nan"), mc_se: float = float("nan")) -> dict:
    return {"analysis_id": analysis_id, "check": check, "sex": r["sex"], "subgroup": r["subgroup"],
            "level": r["level"], "term": r["term"], "estimate": float(r["estimate"]), "conf_low": float(low),
            "conf_high": float(high), "truth": float(truth), "expectation": expectation, "passed": bool(passed),
            "std_error": float(r["std_error"]), "mc_se": float(mc_se), "z": float(z)}


def hazard_ratio_checks(table: pd.DataFrame, analysis_id: str, planted: Mapping[str, float],
                        pooled_truth: Mapping[str, float]) -> list[dict]:
    """Rules a and b for one time-varying model's results.

    ``pooled_truth``: the pseudo-true HR of the main row per population ('all', 'woman',
    'man'), from `pooled_pseudo_truth`.
    """
    chapters = list(CHECKED_CHAPTER_GROUPS)
    z = z_for(len(chapters) * len(HAZARD_RATIO_ANALYSES))
    rows = []
    for sex in ("all", *SEXES):
        by_chapter = [_one_row(table, analysis_id, sex=sex, subgroup="diagnosis_chapter_group", level=c)
                      for c in chapters]
        if sex == "all":
            for c, r in zip(chapters, by_chapter):
                log_est, se = np.log(r["estimate"]), float(r["std_error"])
                rows.append(_check(analysis_id, "covers_planted_hr", r, truth=planted[c], low=np.exp(log_est - z * se),
                                   high=np.exp(log_est + z * se), expectation="covers", z=z,
                                   passed=abs(log_est - np.log(planted[c])) <= z * se))
        main = _one_row(table, analysis_id, sex=sex, subgroup="all" if sex == "all" else "sex")
        if sex not in pooled_truth:
            raise TruthCheckRefused(f"no pooled pseudo-truth for the population {sex} ({POOLED_MODEL_ANALYSIS} "
                                    "has no person-time of it)")
        truth = pooled_truth[sex]
        rows.append(_check(analysis_id, "covers_pooled_planted_hr", main, truth=truth, low=main["conf_low"],
                           high=main["conf_high"], expectation="covers",
                           passed=main["conf_low"] <= truth <= main["conf_high"]))
    return rows


def naive_checks(table: pd.DataFrame, planted: Mapping[str, float], analysis_id: str = NAIVE_ANALYSIS) -> list[dict]:
    """Rule d: the naive comparison's intervals lie below the planted HRs."""
    rows = []
    for c in CHECKED_CHAPTER_GROUPS:
        r = _one_row(table, analysis_id, sex="all", subgroup="diagnosis_chapter_group", level=c)
        rows.append(_check(analysis_id, "excludes_planted_hr", r, truth=planted[c], low=r["conf_low"],
                           high=r["conf_high"], expectation="misses", passed=r["conf_high"] < planted[c]))
    overall = _one_row(table, analysis_id, sex="all", subgroup="all")
    smallest = min(planted[c] for c in CHECKED_CHAPTER_GROUPS)
    rows.append(_check(analysis_id, "excludes_planted_hr", overall, truth=smallest, low=overall["conf_low"],
                       high=overall["conf_high"], expectation="misses", passed=overall["conf_high"] < smallest))
    return rows


def risk_difference_checks(table: pd.DataFrame, truths: Mapping[tuple[str, str], Mapping[int, Mapping[str, float]]],
                           horizons: tuple[int, ...], analysis_id: str = TRIAL_ANALYSIS) -> list[dict]:
    """Rule c: risk differences against the simulated truth of each population.

    ``truths`` maps (subgroup, level) -- ('all', 'all'), ('sex', woman/man) and
    ('diagnosis_chapter_group', group) -- to `truth_risk_differences` output.
    """
    rd = table[table["estimand"] == "risk_difference"]
    populations = [("all", "all"), *(("sex", s) for s in SEXES),
                   *(("diagnosis_chapter_group", c) for c in CHECKED_CHAPTER_GROUPS)]
    z_main, z_chapter = z_for(len(horizons)), z_for(len(horizons) * len(CHECKED_CHAPTER_GROUPS))
    rows = []
    for subgroup, level in populations:
        if (subgroup, level) not in truths:
            raise TruthCheckRefused(f"no eligible trial entries for {subgroup} = {level}: nothing to compare with")
        sex = level if subgroup == "sex" else "all"
        z = z_chapter if subgroup == "diagnosis_chapter_group" else z_main
        for h in horizons:
            r = _one_row(rd, analysis_id, sex=sex, subgroup=subgroup, level=level, term=f"horizon_{h}")
            true_rd, mc_se = truths[(subgroup, level)][h]["difference"], truths[(subgroup, level)][h]["mc_se"]
            half = z * float(np.hypot(r["std_error"], mc_se))
            rows.append(_check(analysis_id, "covers_true_risk_difference", r, truth=true_rd, low=r["estimate"] - half,
                               high=r["estimate"] + half, expectation="covers", z=z, mc_se=mc_se,
                               passed=abs(r["estimate"] - true_rd) <= half))
            rows.append(_check(analysis_id, "positive_risk_difference", r, truth=true_rd, low=r["conf_low"],
                               high=r["conf_high"], expectation="positive", mc_se=mc_se,
                               passed=r["estimate"] > 0 and true_rd > 0))
    return rows


def _catalogue_parameters(catalogue: pd.DataFrame, analysis_id: str, design: str):
    """The parameters an analysis of ``design`` ran with, from the results catalogue."""
    from analyses.designs.specs import spec_from_dict

    row = catalogue[catalogue["id"] == analysis_id]
    if len(row) != 1:
        raise TruthCheckRefused(f"results.{CATALOGUE} has no entry for {analysis_id}: "
                                f"run `koord analyse --only {' '.join(REQUIRED_RESULTS)}`")
    r = row.iloc[0]
    spec = spec_from_dict({"id": r["id"], "design": r["design"], "description": r["description"],
                           "parameters": json.loads(r["parameters"])})
    if spec.design != design:
        raise TruthCheckRefused(f"results.{analysis_id} is of design {spec.design!r}, not {design}")
    return spec.parameters


def pooled_model_parameters(catalogue: pd.DataFrame, analysis_id: str = POOLED_MODEL_ANALYSIS):
    """The resolved `TimeVaryingPoissonParameters` tv_poisson ran with (confounders, bands, entry day)."""
    p = _catalogue_parameters(catalogue, analysis_id, "time_varying_poisson")
    if p.entry_day is None:
        raise TruthCheckRefused(f"results.{CATALOGUE} holds {analysis_id}'s parameters unresolved (no entry_day)")
    return p


def trial_parameters(catalogue: pd.DataFrame, analysis_id: str = TRIAL_ANALYSIS):
    """The resolved `TargetTrialParameters` the trial ran with, from the results catalogue."""
    p = _catalogue_parameters(catalogue, analysis_id, "target_trial")
    if p.first_trial_day is None:
        raise TruthCheckRefused(f"results.{CATALOGUE} holds {analysis_id}'s parameters unresolved (no first_trial_day)")
    if p.grace_days != 1:
        # the simulated 'now' arm starts coordination on the trial day itself
        raise TruthCheckRefused(f"{analysis_id} ran with grace_days = {p.grace_days}; the true risk differences are "
                                "simulated for coordination starting on the trial day (grace_days = 1)")
    return p


def population_truths(entries: pd.DataFrame, truth: pd.DataFrame, horizons: tuple[int, ...]) -> dict:
    """`truth_risk_differences` for everyone, each sex and each chapter group of the entries."""
    out = {("all", "all"): truth_risk_differences(truth, horizons)}
    for column, subgroup in (("sex", "sex"), ("diagnosis_chapter_group", "diagnosis_chapter_group")):
        for level, rows in truth.groupby(entries[column].to_numpy()):
            out[(subgroup, str(level))] = truth_risk_differences(rows, horizons)
    return out


def check_recovery(results: Mapping[str, pd.DataFrame], spells: pd.DataFrame, built: pd.DataFrame,
                   truth_json: Mapping, *, cells: pd.DataFrame, ground_truth=None,
                   max_trial_entries: int = DEFAULT_MAX_TRIAL_ENTRIES, seed: int = 1,
                   say: Callable[[str], None] = lambda _: None) -> pd.DataFrame:
    """Every check of the analyses against the planted truth; one row per check.

    Parameters
    ----------
    results : results tables of `koord analyse` by name (tv_cox, tv_poisson, target_trial,
        naive_ever and the catalogue _analyses).
    spells : `analyses.designs.run.load_spells` of the warehouse.
    built : spell_id, person_id, spell_start_date of the warehouse's spells.
    truth_json : the delivery's truth.json.
    cells : the person-time of tv_poisson, aggregated as it was
        (`analyses.designs.time_varying.aggregate_person_time` with `needed_covariates` of
        the confounders, band cuts and entry day of `pooled_model_parameters`): rule b's truth.
    ground_truth : the delivery's `GroundTruth`; None re-simulates it from truth.json.
    max_trial_entries : trial entries simulated at most (a uniform sample beyond).
    seed : seed of the entry sample and the simulated trial outcomes.
    say : progress messages.

    Returns
    -------
    DataFrame
        One row per check (`CHECK_COLUMNS`); ``attrs['trial_truth']`` holds the entries'
        counts (n_eligible_trial_entries, n_simulated_trial_entries, keep_probability).

    Raises
    ------
    TruthCheckRefused
        When the truth file is not a clean delivery's of `koord synth`, a results table is
        missing or the spells do not link to the latent spells.
    """
    from analyses.designs.run import spells_in_followup

    check_truth_file(truth_json)
    missing = [t for t in (*REQUIRED_RESULTS, CATALOGUE) if t not in results]
    if missing:
        raise TruthCheckRefused(f"the warehouse has no results table(s) {', '.join(missing)}: run "
                                f"`koord analyse --only {' '.join(REQUIRED_RESULTS)}` first")
    planted = planted_hazard_ratios(truth_json)
    pooled_params = pooled_model_parameters(results[CATALOGUE])
    params = trial_parameters(results[CATALOGUE])
    horizons = tuple(int(h) for h in params.horizons)
    if ground_truth is None:
        say(f"  re-simulating the latent spells of {truth_json['n_persons']:,} persons (seed {truth_json['seed']}) …"
            .replace(",", " "))
        ground_truth = simulate_from_truth(truth_json)
    linked = linked_ground_truth(ground_truth, built)
    say(f"  pooled pseudo-truth: {POOLED_MODEL_ANALYSIS}'s model on {len(cells):,} person-time cells with the planted "
        "effects …".replace(",", " "))
    pooled_truth = pooled_pseudo_truth(cells, spells_in_followup(spells, pooled_params.entry_day), pooled_params,
                                       planted)
    rows = [*hazard_ratio_checks(results["tv_cox"], "tv_cox", planted, pooled_truth),
            *hazard_ratio_checks(results["tv_poisson"], "tv_poisson", planted, pooled_truth),
            *naive_checks(results[NAIVE_ANALYSIS], planted)]
    sample_rng, truth_seed = np.random.SeedSequence(seed).spawn(2)
    sample = sample_trial_entries(spells, params, max_trial_entries, np.random.default_rng(sample_rng))
    say(f"  trial truth: simulating both arms for {len(sample.entries):,} of {sample.n_eligible:,} eligible "
        f"entries …".replace(",", " "))
    truth = trial_truth(sample.entries, linked, horizons, seed=int(truth_seed.generate_state(1)[0]))
    rows += risk_difference_checks(results[TRIAL_ANALYSIS], population_truths(sample.entries, truth, horizons),
                                   horizons)
    checks = pd.DataFrame(rows, columns=CHECK_COLUMNS)
    checks.attrs["trial_truth"] = {"n_eligible_trial_entries": sample.n_eligible,
                                   "n_simulated_trial_entries": int(len(sample.entries)),
                                   "keep_probability": sample.keep_probability}
    return checks


__all__ = [
    "CHECKED_CHAPTER_GROUPS", "CHECK_COLUMNS", "DEFAULT_MAX_TRIAL_ENTRIES", "EntrySample", "Linked",
    "POOLED_MODEL_ANALYSIS", "REQUIRED_RESULTS", "TruthCheckRefused", "check_recovery", "check_truth_file",
    "hazard_ratio_checks",
    "linked_ground_truth", "naive_checks", "planted_hazard_ratios", "pooled_model_parameters", "pooled_pseudo_truth",
    "population_truths", "risk_difference_checks", "sample_trial_entries", "simulate_from_truth", "trial_parameters",
    "trial_truth", "truth_risk_differences", "z_for",
]
