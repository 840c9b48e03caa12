"""The planted truth of `coordination_timing_strategies` (issue 12): each strategy's incidence of return to work.

The clone–censor–weight analysis with inverse-probability-of-censoring weights targets, for
the eligible spells (followed and uncoordinated at time zero E), with the generator's planted
model simulated forward from E (`pipeline.synth.model`, as `recovery.trial_truth` does):

- ``by_day_X``: the natural course up to time X (coordination at the generator's hazard,
  recovery and competing hazards from E), its returns to work by X counting; from X on, the
  spells still followed at X take the outcome of those with the same covariates who were
  coordinated on a day in [E, X) and are still followed at X. That outcome is drawn exactly:
  the coordination day t_c in [E, X) is drawn from its distribution given coordination in
  [E, X) and survival to X (the truncated coordination law times the probability of no exit
  by X given t_c, on the whole days E .. X - 1), then recovery and competing events from X.
- ``none_within_N``: the natural course with the coordination hazard zero before day N and
  the generator's hazard after it.

As in `trial_truth`, every latent recovery is recorded as return to work (a relapse is a break
within the episode, followed through under the default relapse rule 'continue'); competing
events win ties. No censoring
(the analysis's censoring at extraction is assumed independent). Each spell is simulated
``draws`` times; the Monte Carlo SE is that of the mean over spells of the per-spell means
(the within-spell variance of the draws).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from pipeline.commands.recovery import Linked, TruthCheckRefused

CHUNK = 100_000  # spells per chunk of the t_c distribution (spells × days)


def _arm_names(params) -> tuple[list[str], str]:
    return [f"by_day_{int(x)}" for x in params.strategy_days], f"none_within_{int(params.none_within_days)}"


def strategy_truth(eligible: pd.DataFrame, linked: Linked, params, horizons, seed: int = 1,
                   draws: int = 4) -> dict:
    """True cumulative incidence of recorded return to work per strategy and the true contrasts.

    Parameters
    ----------
    eligible : the eligible spells of the analysis (at least spell_id).
    linked : `recovery.linked_ground_truth` output.
    params : `TimingStrategyParameters` (entry_day resolved, strategy_days, none_within_days).
    horizons : days since the spell's first day.
    seed : seed of the simulation.
    draws : simulations per spell (at least 2 for a Monte Carlo SE).

    Returns
    -------
    dict
        ``{"risk": {arm: {h: {"cif", "mc_se"}}}, "difference": {"<arm>_vs_<comp>": {h: {"difference", "mc_se"}}},
        "n_spells": n}``; contrasts as `timing_strategies.contrasts`.
    """
    from pipeline.synth import model as M
    from pipeline.synth.dates import july_first

    P = linked.params
    position = pd.Index(linked.spells["spell_id"]).get_indexer(eligible["spell_id"])
    if (position < 0).any():
        raise TruthCheckRefused(f"{int((position < 0).sum())} eligible spells are not built")

    def latent(column: str) -> np.ndarray:
        return linked.spells[column].to_numpy()[position]

    rng = np.random.default_rng(seed)
    n = len(eligible)
    entry = float(params.entry_day)
    n_day = float(params.none_within_days)
    horizons = [int(h) for h in horizons]
    group = latent("diagnosis_group").astype(np.int64)
    age_g = latent("age_group").astype(np.int64)
    eta = latent("eta").astype(float)
    home = latent("home_region").astype(np.int64)
    region_v = np.zeros(len(linked.region_u)) if linked.region_v is None else np.asarray(linked.region_v, float)
    eta_recorded = eta + region_v[home]  # every latent recovery is recorded (relapse rule 'continue')
    scale, gamma, shape = P.scales()[group], P.gammas_by_group()[group], P.weibull_shape
    death_mult = np.exp(M.death_log_multiplier(P, age_group=age_g, diagnosis_group=group))
    emig_mult = np.exp(np.where(latent("is_born_in_sweden").astype(bool), 0.0, P.emigration_foreign_born_effect))
    sa_mult = np.exp(M.sa_log_multiplier(P, age_group=age_g, eta=eta))
    age_65 = (july_first(latent("birth_year").astype(np.int64) + 65) - latent("start_day").astype(np.int64) + 1).astype(float)
    coord_mult = np.exp(M.coordination_log_multiplier(P, u_region=linked.region_u[home],
                                                      care_level=latent("care_level").astype(np.int64),
                                                      chapter_group=latent("chapter_group").astype(np.int64), eta=eta))
    bands, rates = P.coordination_band_starts, P.coordination_band_rates

    def competing_from(start: float | np.ndarray) -> np.ndarray:
        t_d = M.draw_piecewise_times(rng.exponential(size=n), (0,), (P.death_rate,), death_mult, start)
        t_e = M.draw_piecewise_times(rng.exponential(size=n), (0,), (P.emigration_rate,), emig_mult, start)
        t_sa = M.draw_piecewise_times(rng.exponential(size=n), P.sa_band_starts, P.sa_band_rates, sa_mult, start)
        return np.minimum.reduce([np.ceil(np.minimum(t_d, 1e9)), np.ceil(np.minimum(t_e, 1e9)),
                                  np.ceil(np.minimum(t_sa, 1e9)), age_65])

    def course(t_c: np.ndarray, start: float) -> tuple[np.ndarray, np.ndarray]:
        """(exit time, recorded return to work) from ``start`` with coordination on day t_c."""
        t_r = M.draw_recovery_times(rng.exponential(size=n), eta=eta_recorded, scale=scale, shape=shape,
                                    gamma=gamma, t_c=t_c, entry=start)
        ceil_r, competing = np.ceil(t_r), competing_from(start)
        recovered = ceil_r < competing
        return np.where(recovered, ceil_r, competing), recovered

    by_names, none_name = _arm_names(params)
    tc_by_day = {x: _conditional_coordination_day(x, entry, coord_mult, bands, rates, eta_recorded, scale, shape,
                                                  gamma, M) for x in params.strategy_days}
    sums = {(a, h): np.zeros(n) for a in [*by_names, none_name] for h in horizons}
    squares = {k: np.zeros(n) for k in sums}
    contrast_pairs = [(a, none_name) for a in by_names] + ([(by_names[0], by_names[-1])] if len(by_names) > 1 else [])
    diff_sq = {(a, c, h): np.zeros(n) for a, c in contrast_pairs for h in horizons}
    diff_sum = {k: np.zeros(n) for k in diff_sq}
    for _ in range(draws):
        t_c_nat = np.floor(M.draw_piecewise_times(rng.exponential(size=n), bands, rates, coord_mult, entry))
        exit_nat, rec_nat = course(t_c_nat, entry)
        values = {}
        for x, name in zip(params.strategy_days, by_names):
            probabilities, first_day = tc_by_day[x]
            t_c_x = first_day + _draw_rows(probabilities, rng)
            exit_x, rec_x = course(np.where(np.isnan(t_c_x), np.inf, t_c_x), float(x))
            alive = exit_nat > x
            for h in horizons:
                before = rec_nat & (exit_nat <= min(h, x))
                after = alive & rec_x & (exit_x <= h) if h > x else np.zeros(n, bool)
                values[(name, h)] = (before | after).astype(float)
        t_c_none = np.floor(M.draw_piecewise_times(rng.exponential(size=n), bands, rates, coord_mult,
                                                   max(n_day, entry)))
        exit_none, rec_none = course(t_c_none, entry)
        for h in horizons:
            values[(none_name, h)] = (rec_none & (exit_none <= h)).astype(float)
        for k, v in values.items():
            sums[k] += v
            squares[k] += v * v
        for a, c, h in diff_sq:
            d = values[(a, h)] - values[(c, h)]
            diff_sum[(a, c, h)] += d
            diff_sq[(a, c, h)] += d * d

    def mean_and_se(total: np.ndarray, square: np.ndarray) -> tuple[float, float]:
        per_spell = total / draws
        if draws < 2:
            return float(per_spell.mean()), float("nan")
        within = (square - draws * per_spell**2) / (draws - 1)
        return float(per_spell.mean()), float(np.sqrt(np.clip(within, 0, None).sum() / draws) / n)

    risk = {a: {} for a in [*by_names, none_name]}
    for (a, h), total in sums.items():
        cif, se = mean_and_se(total, squares[(a, h)])
        risk[a][h] = {"cif": cif, "mc_se": se}
    difference = {f"{a}_vs_{c}": {} for a, c in contrast_pairs}
    for (a, c, h), total in diff_sum.items():
        d, se = mean_and_se(total, diff_sq[(a, c, h)])
        difference[f"{a}_vs_{c}"][h] = {"difference": d, "mc_se": se}
    return {"risk": risk, "difference": difference, "n_spells": int(n), "draws": int(draws)}


def _conditional_coordination_day(x, entry, coord_mult, bands, rates, eta_recorded, scale, shape, gamma, M):
    """P(t_c = k | t_c in [E, X), no exit by X) per spell over the days k = E .. X - 1 (spells × days).

    The coordination law truncated to [E, X), times the chance of no recovery by X given t_c
    (the competing events' survival does not depend on t_c and cancels). A spell whose
    coordination hazard is zero over [E, X) gets a row of NaN.
    """
    k = np.arange(int(entry), int(x), dtype=float)
    out = np.empty((len(coord_mult), len(k)))
    for first in range(0, len(coord_mult), CHUNK):
        sl = slice(first, first + CHUNK)
        h0 = M.piecewise_cumhaz(np.append(k, float(x)), bands, rates, 1.0)  # baseline at k and X
        cum = coord_mult[sl, None] * h0[None, :]
        surv = np.exp(-(cum - cum[:, :1]))
        p_day = surv[:, :-1] - surv[:, 1:]
        tc = k[None, :]
        e = eta_recorded[sl, None]
        h_r = lambda t: M.recovery_cumhaz(t, eta=e, scale=scale[sl, None], shape=shape, gamma=gamma[sl, None], t_c=tc)
        no_recovery = np.exp(-(h_r(np.full_like(tc, float(x))) - h_r(np.full_like(tc, float(entry)))))
        q = p_day * no_recovery
        total = q.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sl] = np.where(total > 0, q / total, np.nan)
    return out, float(entry)


def _draw_rows(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row drawn from the row's probabilities (NaN rows give NaN)."""
    cum = np.cumsum(np.nan_to_num(probabilities), axis=1)
    u = rng.random(len(probabilities))[:, None] * cum[:, -1:]
    index = (cum < u).sum(axis=1).astype(float)
    return np.where(np.isnan(probabilities[:, 0]), np.nan, np.minimum(index, probabilities.shape[1] - 1))


def truth_table(truth: Mapping) -> pd.DataFrame:
    """The truth as rows: term (arm or contrast), horizon, estimand, truth, mc_se."""
    rows = [{"term": a, "horizon": h, "estimand": "cumulative_incidence", "truth": v["cif"], "mc_se": v["mc_se"]}
            for a, per in truth["risk"].items() for h, v in per.items()]
    rows += [{"term": c, "horizon": h, "estimand": "risk_difference", "truth": v["difference"], "mc_se": v["mc_se"]}
             for c, per in truth["difference"].items() for h, v in per.items()]
    return pd.DataFrame(rows)


__all__ = ["strategy_truth", "truth_table"]
