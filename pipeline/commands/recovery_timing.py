"""The planted truth of the timing and need analyses (issue 12), for `koord check-truth`.

The generator plants the timing of the first coordination (a piecewise-constant hazard from
the spell's first day times ``exp(u_region + care level + chapter group - alpha * eta)``: known
by region and diagnosis) and, through ``- alpha * eta`` and the chapter effects, a need gradient
in uptake (spells with a worse prognosis are coordinated more often). Neither has a closed form
once the spell's other ends compete with it, so the truth is the generator's own model run
forward from the built spells (`natural_course`): for each spell of the analysed cohort, with
its latent covariates (`recovery.Linked`), ``draws`` independent natural courses from the entry
day on, conditional on the spell still being followed then (the cohort's definition): the first
GC001 from its hazard from day 0 (day index ``floor(T_c)``), return to work from the Weibull
recovery hazard with the region's ``v`` and the coordination effect after ``t_c``, death,
emigration and sickness compensation from their planted hazards, the 65th birthday. A
coordination counts if its day index is before the spell's last day of follow-up, as in the
delivery. Per spell the share of its draws is its true probability; a group's truth is the mean
over its spells, with the Monte Carlo standard error of that mean.

Rules (`timing_checks`, `need_checks`):

i. ``covers_planted_coordination_incidence``: coordination_timing's cumulative incidence of the
   first GC001 at days 30, 60 and 90 for everyone, women and men: |estimate - truth| <= z ×
   sqrt(SE² + MC SE²), z Bonferroni-widened over the 9 (`z_for(9)`).
j. ``planted_incidence_by_group``: the same for every level of diagnosis group and of home region
   (for everyone) at 30, 60 and 90 days, as one check per dimension: the number of levels × days
   whose widened interval (z over the dimension's whole family) misses the truth is 0.
k. ``covers_planted_concentration_index``: coordination_need's concentration index of uptake
   within 90 days over the need rank, for everyone, women and men: the truth is the index of the
   spells' true uptake probabilities over the same ranking (`analyses.designs.need.cross_fitted_need`
   run again: the index is defined by its ranking variable); family of 3 (`z_for(3)`).
l. ``planted_need_gradient_sign`` (expectation 'positive'): the index of the true uptake
   probabilities over the planted need (true probability of lasting beyond 90 days) and the
   estimate are both positive, and the estimate's 95 % interval lies above 0.
m. ``covers_planted_strategy_contrast``: coordination_timing_strategies' risk differences (each
   "by day X" against "none within 90 days", and by day 30 against by day 90) at each horizon,
   for everyone, women and men: |estimate - truth| <= z × sqrt(bootstrap SE² + MC SE²), z
   Bonferroni-widened over the whole family. The truth is the clone-censor-weight estimand
   simulated from the generator (`recovery_strategies.strategy_truth`), for women and men
   separately and for everyone as their spell-weighted mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from pipeline.commands.recovery import Linked, TruthCheckRefused, z_for

TIMING_ANALYSIS = "coordination_timing"
NEED_ANALYSIS = "coordination_need"
STRATEGY_ANALYSIS = "coordination_timing_strategies"
STRATEGY_DRAWS = 4  # natural courses per eligible spell and strategy
TIMING_CHECK_DAYS = (30, 60, 90)
GROUP_DIMENSIONS = ("diagnosis_group", "home_region_code")
DEFAULT_DRAWS = 20
MAX_DRAWS_TOTAL = 6_000_000  # spells × draws simulated at most (memory: a few arrays of this size)


@dataclass(frozen=True)
class NaturalCourse:
    """Per spell of the cohort: the share of its natural courses with each outcome, and its MC variance.

    ``spells``: spell_id and, for each day D of ``days``, ``coordinated_by_<D>`` (first GC001 on
    day index < D within follow-up), ``long_<D>`` (follow-up still running after day D), each the
    share of the spell's draws; ``var_<column>`` the draws' variance (ddof 1) over ``draws``.
    """

    spells: pd.DataFrame
    draws: int


def natural_course(linked: Linked, spell_ids: np.ndarray, *, entry_day: int, days: tuple[int, ...],
                   draws: int = DEFAULT_DRAWS, seed: int = 1, chunk: int = 200_000) -> NaturalCourse:
    """Simulate the generator's natural course of each spell ``draws`` times (module docstring)."""
    from pipeline.synth import model as M
    from pipeline.synth.dates import july_first

    params, region_u = linked.params, linked.region_u
    region_v = np.zeros(len(region_u)) if linked.region_v is None else np.asarray(linked.region_v, float)
    position = pd.Index(linked.spells["spell_id"]).get_indexer(np.asarray(spell_ids))
    if (position < 0).any():
        raise TruthCheckRefused(f"{int((position < 0).sum())} analysed spells are not among the built spells")
    draws = int(max(2, min(draws, MAX_DRAWS_TOTAL // max(len(position), 1))))
    rng = np.random.default_rng(seed)
    sp = linked.spells
    out = {"spell_id": np.asarray(spell_ids)}
    columns = [f"{kind}_{d}" for d in days for kind in ("coordinated_by", "long")]
    sums = {c: np.zeros(len(position)) for c in columns}
    squares = {c: np.zeros(len(position)) for c in columns}
    entry = float(entry_day)
    for lo in range(0, len(position), chunk):
        pos = position[lo:lo + chunk]
        m = len(pos)

        def latent(column: str, dtype) -> np.ndarray:
            return np.repeat(sp[column].to_numpy()[pos].astype(dtype), draws)

        group, age_g, home = latent("diagnosis_group", np.int64), latent("age_group", np.int64), latent("home_region", np.int64)
        eta = latent("eta", float)
        n = m * draws
        log_c = M.coordination_log_multiplier(params, u_region=region_u[home], care_level=latent("care_level", np.int64),
                                              chapter_group=latent("chapter_group", np.int64), eta=eta)
        t_c = np.floor(M.draw_piecewise_times(rng.exponential(size=n), params.coordination_band_starts,
                                              params.coordination_band_rates, np.exp(log_c), np.zeros(n)))
        start = np.full(n, entry)
        t_r = M.draw_recovery_times(rng.exponential(size=n), eta=eta + region_v[home], scale=params.scales()[group],
                                    shape=params.weibull_shape, gamma=params.gammas_by_group()[group], t_c=t_c,
                                    entry=start)
        t_d = M.draw_piecewise_times(rng.exponential(size=n), (0,), (params.death_rate,),
                                     np.exp(M.death_log_multiplier(params, age_group=age_g, diagnosis_group=group)), start)
        t_e = M.draw_piecewise_times(rng.exponential(size=n), (0,), (params.emigration_rate,),
                                     np.exp(np.where(latent("is_born_in_sweden", bool), 0.0,
                                                     params.emigration_foreign_born_effect)), start)
        t_sa = M.draw_piecewise_times(rng.exponential(size=n), params.sa_band_starts, params.sa_band_rates,
                                      np.exp(M.sa_log_multiplier(params, age_group=age_g, eta=eta)), start)
        age_65 = (july_first(latent("birth_year", np.int64) + 65) - latent("start_day", np.int64) + 1).astype(float)
        followup = np.minimum.reduce([np.ceil(np.minimum(t, 1e9)) for t in (t_r, t_d, t_e, t_sa)] + [age_65])
        within = t_c < followup  # the GC001's day index is before the end of follow-up
        for d in days:
            for kind, hit in (("coordinated_by", within & (t_c < d)), ("long", followup > d)):
                per = hit.reshape(m, draws).astype(float)
                sums[f"{kind}_{d}"][lo:lo + m] = per.sum(axis=1)
                squares[f"{kind}_{d}"][lo:lo + m] = (per ** 2).sum(axis=1)
    for c in columns:
        mean = sums[c] / draws
        out[c] = mean
        out[f"var_{c}"] = np.maximum(squares[c] - draws * mean ** 2, 0.0) / (draws - 1)
    return NaturalCourse(pd.DataFrame(out), draws)


def group_truth(course: NaturalCourse, mask: np.ndarray, column: str) -> tuple[float, float]:
    """(truth, Monte Carlo SE) of a group: the mean of its spells' probabilities."""
    frame = course.spells.loc[mask]
    n = len(frame)
    if n == 0:
        return float("nan"), float("nan")
    return float(frame[column].mean()), float(np.sqrt(frame[f"var_{column}"].sum() / course.draws) / n)


def _row(analysis_id: str, check: str, r: pd.Series, *, truth: float, mc_se: float, z: float, expectation: str,
         passed: bool, low: float | None = None, high: float | None = None, estimate: float | None = None,
         level: str | None = None, term: str | None = None) -> dict:
    se = float(r["std_error"]) if r is not None else float("nan")
    est = float(r["estimate"]) if estimate is None else float(estimate)
    half = z * np.sqrt(se ** 2 + mc_se ** 2) if np.isfinite(z) else float("nan")
    return {"analysis_id": analysis_id, "check": check, "sex": r["sex"] if r is not None else "all",
            "subgroup": r["subgroup"] if r is not None else "all", "level": level if level is not None else r["level"],
            "term": term if term is not None else r["term"], "estimate": est,
            "conf_low": float(est - half) if low is None else float(low),
            "conf_high": float(est + half) if high is None else float(high), "truth": float(truth),
            "expectation": expectation, "passed": bool(passed), "std_error": se, "mc_se": float(mc_se), "z": float(z)}


def _cif_rows(table: pd.DataFrame, *, sex: str, subgroup: str) -> pd.DataFrame:
    t = table[(table["measure"] == "cif_first_gc001") & (table["sex"] == sex) & (table["subgroup"] == subgroup)]
    return t.assign(day=pd.to_numeric(t["day"]).astype(int))


def timing_checks(table: pd.DataFrame, cohort: pd.DataFrame, course: NaturalCourse,
                  analysis_id: str = TIMING_ANALYSIS) -> list[dict]:
    """Rules i and j. ``cohort``: the analysed spells (spell_id, sex and the group dimensions) in
    the order of ``course.spells``."""
    rows: list[dict] = []
    z = z_for(3 * len(TIMING_CHECK_DAYS))
    for sex in ("all", "woman", "man"):
        sub = _cif_rows(table, sex=sex, subgroup="all" if sex == "all" else "sex")
        mask = np.ones(len(cohort), bool) if sex == "all" else (cohort["sex"].astype(str) == sex).to_numpy()
        for d in TIMING_CHECK_DAYS:
            r = sub[sub["day"] == d]
            if len(r) != 1:
                raise TruthCheckRefused(f"results.{analysis_id} has {len(r)} rows of the first GC001's incidence at day "
                                        f"{d} for {sex} (expected one)")
            r = r.iloc[0]
            truth, mc = group_truth(course, mask, f"coordinated_by_{d}")
            passed = abs(r["estimate"] - truth) <= z * np.sqrt(r["std_error"] ** 2 + mc ** 2)
            rows.append(_row(analysis_id, "covers_planted_coordination_incidence", r, truth=truth, mc_se=mc, z=z,
                             expectation="covers", passed=passed, term=f"first_gc001_day_{d}"))
    for dimension in GROUP_DIMENSIONS:
        sub = _cif_rows(table, sex="all", subgroup=dimension)
        if sub.empty:
            continue
        z_dim = z_for(len(sub[sub["day"].isin(TIMING_CHECK_DAYS)]))
        missed, worst = [], (0.0, None)
        values = cohort[dimension].astype(str).to_numpy()
        for _, r in sub[sub["day"].isin(TIMING_CHECK_DAYS)].iterrows():
            truth, mc = group_truth(course, values == str(r["level"]), f"coordinated_by_{int(r['day'])}")
            se = float(r["std_error"])
            if not se > 0:  # no event in the group: the estimate's SE is 0; judge it by the truth's binomial SE
                se = float(np.sqrt(truth * (1 - truth) / max(float(r["n_spells"]), 1.0)))
            scaled = abs(r["estimate"] - truth) / max(np.sqrt(se ** 2 + mc ** 2), 1e-12)
            if scaled > worst[0]:
                worst = (scaled, f"{r['level']} day {int(r['day'])}")
            if scaled > z_dim:
                missed.append(f"{r['level']}@{int(r['day'])}")
        rows.append({"analysis_id": analysis_id, "check": "planted_incidence_by_group", "sex": "all",
                     "subgroup": dimension, "level": "missed: " + (",".join(missed) if missed else "none"),
                     "term": f"worst: {worst[1]} at {worst[0]:.2f} SE", "estimate": float(len(missed)),
                     "conf_low": float("nan"), "conf_high": float("nan"), "truth": 0.0, "expectation": "at_most",
                     "passed": not missed, "std_error": float("nan"), "mc_se": float("nan"), "z": float(z_dim)})
    return rows


def concentration_truths(need: pd.DataFrame, course: NaturalCourse, window: int, need_day: int,
                         sexes: pd.Series) -> dict[str, tuple[float, float, float]]:
    """Per population: (index of true uptake over the analysis' ranking, its MC SE, index over the planted need).

    ``need``: `cross_fitted_need` rows of the uptake population, aligned with ``course.spells``.
    """
    from analyses.designs.need import concentration_index

    out = {}
    p = course.spells[f"coordinated_by_{window}"].to_numpy()
    var = course.spells[f"var_coordinated_by_{window}"].to_numpy() / course.draws
    planted_need = course.spells[f"long_{need_day}"].to_numpy()
    for sex in ("all", "woman", "man"):
        m = np.ones(len(p), bool) if sex == "all" else (sexes.astype(str) == sex).to_numpy()
        if m.sum() < 2:
            continue
        rank = _fractional_rank(need["need_rank"].to_numpy()[m])
        c_ranked, _ = concentration_index(p[m], rank)
        # MC SE by the delta method: C is linear in p given mean(p): dC/dp_i = (2R_i - 1 - C) / (n mean(p))
        grad = (2 * rank - 1 - c_ranked) / (m.sum() * p[m].mean())
        mc = float(np.sqrt(np.sum(grad ** 2 * var[m])))
        c_planted, _ = concentration_index(p[m], _fractional_rank(planted_need[m]))
        out[sex] = (float(c_ranked), mc, float(c_planted))
    return out


def _fractional_rank(values: np.ndarray) -> np.ndarray:
    """Fractional rank in (0, 1], ties at their mean rank."""
    return pd.Series(values).rank(method="average").to_numpy() / len(values)


def need_checks(table: pd.DataFrame, truths: Mapping[str, tuple[float, float, float]],
                analysis_id: str = NEED_ANALYSIS) -> list[dict]:
    """Rules k and l."""
    rows: list[dict] = []
    z = z_for(3)
    ci = table[(table["measure"] == "concentration_index") & (table["estimand"] == "concentration_index")]
    for sex, (truth, mc, planted) in truths.items():
        r = ci[(ci["sex"] == sex) & (ci["subgroup"] == ("all" if sex == "all" else "sex"))]
        if len(r) != 1:
            raise TruthCheckRefused(f"results.{analysis_id} has {len(r)} concentration-index rows for {sex} (expected one)")
        r = r.iloc[0]
        passed = abs(r["estimate"] - truth) <= z * np.sqrt(r["std_error"] ** 2 + mc ** 2)
        rows.append(_row(analysis_id, "covers_planted_concentration_index", r, truth=truth, mc_se=mc, z=z,
                         expectation="covers", passed=passed))
        if sex == "all":
            rows.append(_row(analysis_id, "planted_need_gradient_sign", r, truth=planted, mc_se=float("nan"),
                             z=float("nan"), expectation="positive", low=r["conf_low"], high=r["conf_high"],
                             passed=bool(planted > 0 and r["estimate"] > 0 and r["conf_low"] > 0)))
    return rows




def _uptake_population(spells: pd.DataFrame, entry_day: int, window: int) -> pd.DataFrame:
    """coordination_need's uptake population: followed at the entry day, minus spells censored at
    extraction before the window without a GC001 (their uptake is unknown)."""
    followed = spells.loc[spells["followup_days"] > entry_day]
    t_c = pd.to_numeric(followed["days_to_first_gc001"], errors="coerce")
    unknown = followed["is_open_at_extraction"].astype(bool) & (followed["followup_days"] < window) & ~(t_c < window)
    return followed.loc[~unknown.to_numpy()].reset_index(drop=True)


def strategy_checks(table: pd.DataFrame, truths: Mapping[str, Mapping],
                    analysis_id: str = STRATEGY_ANALYSIS) -> list[dict]:
    """Rule m. ``truths``: `strategy_truth` per population ('all', 'woman', 'man')."""
    rows: list[dict] = []
    contrasts = table[(table["measure"] == "strategy_contrast") & (table["estimand"] == "risk_difference")]
    wanted = [(sex, term, h) for sex, t in truths.items() for term, per in t["difference"].items() for h in per]
    z = z_for(len(wanted))
    for sex, term, h in wanted:
        r = contrasts[(contrasts["sex"] == sex) & (contrasts["subgroup"] == ("all" if sex == "all" else "sex"))
                      & (contrasts["term"] == term) & (pd.to_numeric(contrasts["horizon"]) == h)]
        if len(r) != 1:
            raise TruthCheckRefused(f"results.{analysis_id} has {len(r)} risk-difference rows for {sex}, {term}, "
                                    f"day {h} (expected one)")
        r = r.iloc[0]
        truth, mc = truths[sex]["difference"][term][h]["difference"], truths[sex]["difference"][term][h]["mc_se"]
        passed = abs(r["estimate"] - truth) <= z * np.sqrt(r["std_error"] ** 2 + mc ** 2)
        rows.append(_row(analysis_id, "covers_planted_strategy_contrast", r, truth=truth, mc_se=mc, z=z,
                         expectation="covers", passed=passed, term=f"{term} @ day {h}"))
    return rows


def _pooled_truth(parts: Mapping[str, Mapping]) -> dict:
    """Everyone's strategy truth from the women's and men's (spell-weighted means; MC variances add)."""
    n = {k: v["n_spells"] for k, v in parts.items()}
    total = sum(n.values())
    out = {"difference": {}, "n_spells": total}
    first = next(iter(parts.values()))
    for term, per in first["difference"].items():
        out["difference"][term] = {}
        for h in per:
            d = sum(n[k] * parts[k]["difference"][term][h]["difference"] for k in parts) / total
            se = np.sqrt(sum((n[k] * parts[k]["difference"][term][h]["mc_se"]) ** 2 for k in parts)) / total
            out["difference"][term][h] = {"difference": float(d), "mc_se": float(se)}
    return out


def issue12_checks(results: Mapping[str, pd.DataFrame], spells: pd.DataFrame, linked: Linked, *, seed: int = 1,
                   say=lambda _: None) -> tuple[list[dict], list[str]]:
    """Rules i-l for the timing and need results tables present; (check rows, notes on what was skipped)."""
    from analyses.designs.need import cross_fitted_need
    from analyses.designs.timing_strategies import eligible_mask
    from pipeline.commands.recovery import CATALOGUE, _catalogue_parameters
    from pipeline.commands.recovery_strategies import strategy_truth

    rows: list[dict] = []
    notes = [f"checks of {t} skipped: no such results table" for t in (TIMING_ANALYSIS, NEED_ANALYSIS, STRATEGY_ANALYSIS)
             if t not in results]
    timing_seed, need_seed, strategy_seed = np.random.SeedSequence([seed, 12]).spawn(3)
    if TIMING_ANALYSIS in results:
        p = _catalogue_parameters(results[CATALOGUE], TIMING_ANALYSIS, "coordination_timing")
        cohort = spells.loc[spells["followup_days"] > p.entry_day].reset_index(drop=True)
        say(f"  timing truth: the natural course of {len(cohort):,} spells …".replace(",", " "))
        course = natural_course(linked, cohort["spell_id"].to_numpy(), entry_day=p.entry_day, days=TIMING_CHECK_DAYS,
                                seed=int(timing_seed.generate_state(1)[0]))
        rows += timing_checks(results[TIMING_ANALYSIS], cohort, course)
    if NEED_ANALYSIS in results:
        p = _catalogue_parameters(results[CATALOGUE], NEED_ANALYSIS, "coordination_need")
        need = cross_fitted_need(spells, p)
        population = _uptake_population(spells, p.entry_day, p.uptake_window_days)
        need = need.set_index("spell_id").loc[population["spell_id"].to_numpy()].reset_index()
        need_day = int(p.need_horizons[0])
        say(f"  need truth: the natural course of {len(population):,} spells …".replace(",", " "))
        course = natural_course(linked, population["spell_id"].to_numpy(), entry_day=p.entry_day,
                                days=tuple(sorted({p.uptake_window_days, need_day})),
                                seed=int(need_seed.generate_state(1)[0]))
        truths = concentration_truths(need, course, p.uptake_window_days, need_day, population["sex"])
        rows += need_checks(results[NEED_ANALYSIS], truths)
    if STRATEGY_ANALYSIS in results:
        p = _catalogue_parameters(results[CATALOGUE], STRATEGY_ANALYSIS, "coordination_timing_strategies")
        eligible = spells.loc[eligible_mask(spells, p.entry_day)]
        say(f"  strategy truth: {STRATEGY_DRAWS} courses per strategy of {len(eligible):,} eligible spells …"
            .replace(",", " "))
        sexes = eligible["sex"].astype(str)
        seeds = strategy_seed.spawn(2)
        parts = {sex: strategy_truth(eligible.loc[(sexes == sex).to_numpy()], linked, p, p.horizons,
                                     seed=int(s.generate_state(1)[0]), draws=STRATEGY_DRAWS)
                 for sex, s in zip(("woman", "man"), seeds) if (sexes == sex).any()}
        rows += strategy_checks(results[STRATEGY_ANALYSIS], {"all": _pooled_truth(parts), **parts})
    return rows, notes


__all__ = ["GROUP_DIMENSIONS", "NEED_ANALYSIS", "STRATEGY_ANALYSIS", "NaturalCourse", "TIMING_ANALYSIS",
           "TIMING_CHECK_DAYS", "concentration_truths", "group_truth", "issue12_checks", "natural_course",
           "need_checks", "strategy_checks", "timing_checks"]
