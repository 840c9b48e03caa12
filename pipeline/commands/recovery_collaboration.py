"""The planted truth of the collaboration analysis (issue 13), for `koord check-truth`.

The generator plants (`pipeline.synth.registers.collaboration_parameters`, recorded in
truth.json["collaboration"]): a multiplier per home region on the probabilities of a
reconciliation meeting (AVST) and of a 4 § information (INFO4); the probability that the
employer (employees and the self-employed) and AF (the unemployed; others a fixed low
probability) take part in an AVST, per region; INFO4 after the first GC001 of a coordinated
spell with probability q_r = min(p × multiplier_r, cap), on day index t_c + D, D = 1 +
floor(Exp(mean)), so P(D <= d) = G(d) = 1 - exp(-d / mean); and, for the unemployed who
register at AF only after their spell starts, a registration hazard multiplied by a known
hazard ratio once the spell is coordinated. An event is in the delivery only when it falls
within the spell's follow-up, so every truth is the planted model given the built spells:

n. ``covers_planted_info4_incidence``: collaboration's Aalen–Johansen incidence of the first
   INFO4 from the first GC001 by day 30, 60 and 90 (everyone, women, men; family of 9,
   `z_for(9)`). Truth: the mean over the coordinated eligible spells of q_r × G(min(d, F)),
   F = followup_days - 1 - days_to_first_gc001 the latest delay still within follow-up, for a
   spell whose end is known; a spell open at extraction (censored in the estimator, which
   assumes its follow-up would have gone on) gets q_r × G(d). The region is the generator's
   (latent) home region; the spells are the analysis' (built) ones.
o. ``covers_planted_region_rates``: the INFO4 and the AVST rate per coordinated eligible spell
   per home region (everyone), the region multiplier's two faces: INFO4's truth the mean of
   q_r × G(F) over the region's coordinated spells (observed counts: no extrapolation for open
   spells), AVST's the generator's two rounds of meetings (`avst_truth`). One check over both
   event types and every region (one family, z over all of them): the number of region × event
   type whose estimate is more than z SE from the truth is 0, the SE the planted model's
   (sqrt(Σ var_i) / n over the region's spells).
p. ``covers_planted_participation_by_region`` (terms employer, af): the share of AVST with the
   employer / AF taking part per home region (everyone). Participation is drawn independently of
   whether the meeting happens, so the truth is the meeting-weighted mean of the planted
   probability over the region's eligible spells: Σ n_avst × p(region, occupation) / Σ n_avst,
   p = 0 (employer) for the unemployed and others, AF's fixed low probability for all but the
   unemployed. One check per actor: regions missed (z over the regions) = 0.
q. ``covers_planted_af_hazard_ratio``: the rate ratio of AF registration while coordinated
   (unemployed spells not registered at start; everyone, women, men; `z_for(3)`) covers the
   planted hazard ratio (nothing confounds it in the generator).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from pipeline.commands.recovery import Linked, TruthCheckRefused, z_for

COLLABORATION_ANALYSIS = "collaboration"
INFO4_CHECK_DAYS = (30, 60, 90)
NEEDED_COLUMNS = ("n_fk_avst", "days_to_first_fk_info4", "spell_days")


def _planted_arrays(planted: Mapping, region_index: np.ndarray) -> dict[str, np.ndarray]:
    codes = list(planted["region_codes"])
    take = lambda key: np.array([float(planted[key][c]) for c in codes])[region_index]  # noqa: E731
    return {"multiplier": take("region_multiplier"), "employer": take("employer_participation"),
            "af": take("af_participation")}


def info4_cdf(days: np.ndarray, mean_delay: float) -> np.ndarray:
    """P(D <= d) of the planted delay D = 1 + floor(Exp(mean)): 1 - exp(-d / mean) for d >= 0 (0 below 1)."""
    d = np.floor(np.asarray(days, dtype=float))
    return np.where(d >= 1, 1 - np.exp(-np.clip(d, 0, None) / mean_delay), 0.0)


def info4_truth(coordinated: pd.DataFrame, latent_region: np.ndarray, planted: Mapping, day: float | None) -> np.ndarray:
    """Per coordinated spell: the planted probability of an INFO4 by ``day`` after the first GC001 and
    within follow-up (``day`` None: within follow-up at all, open spells included as observed)."""
    from analyses.designs.timing import is_end_known

    arrays = _planted_arrays(planted, latent_region)
    q = np.minimum(float(planted["info4"]["p"]) * arrays["multiplier"], float(planted["max_probability"]))
    latest = coordinated["followup_days"].to_numpy(float) - 1 - coordinated["days_to_first_gc001"].to_numpy(float)
    mean = float(planted["info4"]["mean_delay_days"])
    if day is None:
        return q * info4_cdf(latest, mean)
    bound = np.where(is_end_known(coordinated), np.minimum(day, latest), day)
    return q * info4_cdf(bound, mean)


def _uniform_cdf(k: np.ndarray, low: int, high: int) -> np.ndarray:
    """P(U <= k) of U uniform on the integers low..high."""
    return np.clip(np.floor(k) - low + 1, 0, high - low + 1) / (high - low + 1)


def _sum_cdf(k: np.ndarray, first: tuple[int, int], second: tuple[int, int]) -> np.ndarray:
    """P(U + V <= k) of independent integer uniforms U on first, V on second (by convolution)."""
    pu = np.full(first[1] - first[0] + 1, 1.0 / (first[1] - first[0] + 1))
    pv = np.full(second[1] - second[0] + 1, 1.0 / (second[1] - second[0] + 1))
    cdf = np.cumsum(np.convolve(pu, pv))  # of the sum first[0] + second[0] + index
    index = np.floor(np.asarray(k, dtype=float)) - (first[0] + second[0])
    return np.where(index < 0, 0.0, cdf[np.clip(index, 0, len(cdf) - 1).astype(int)])


def avst_truth(coordinated: pd.DataFrame, latent_region: np.ndarray, planted: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Per coordinated spell: the planted mean and variance of its number of AVST within follow-up.

    The generator's two rounds: the first with probability min(avst_base × multiplier, cap) if the
    spell spans at least 30 days, on day index t_c + U, U uniform on 5..60; the second with
    probability 0.3 if it spans more than 181 days, on t_c + U' + V, V uniform on 60..149. An
    AVST counts if on a day index <= followup_days - 1 (the span is spell_days - 1).
    """
    from pipeline.synth.registers import COLLAB_AVST_ROUNDS

    arrays = _planted_arrays(planted, latent_region)
    span = coordinated["spell_days"].to_numpy(float) - 1
    room = coordinated["followup_days"].to_numpy(float) - 1 - coordinated["days_to_first_gc001"].to_numpy(float)
    (low, high), (low2, high2), p_second, span_first, span_second = COLLAB_AVST_ROUNDS
    q0 = np.where(span >= span_first, np.minimum(float(planted["avst_base"]["coordinated"]) * arrays["multiplier"],
                                                 float(planted["max_probability"])), 0.0)
    p0 = q0 * _uniform_cdf(room, low, high)
    p1 = np.where(span > span_second, p_second, 0.0) * _sum_cdf(room, (low, high), (low2, high2))
    return p0 + p1, p0 * (1 - p0) + p1 * (1 - p1)


def participation_truth(eligible: pd.DataFrame, latent_region: np.ndarray, planted: Mapping, actor: str) -> np.ndarray:
    """Per eligible spell: the planted probability that ``actor`` takes part in one of its AVST."""
    arrays = _planted_arrays(planted, latent_region)
    occupation = eligible["occupation_status"].astype(str).to_numpy()
    if actor == "employer":
        return np.where(np.isin(occupation, ("ANST", "EGEN")), arrays["employer"], 0.0)
    return np.where(occupation == "ARBL", arrays["af"], float(planted["af_participation_other"]))


def _row(r: pd.Series | None, check: str, *, truth: float, z: float, passed: bool, estimate: float | None = None,
         level: str | None = None, term: str | None = None, sex: str = "all", subgroup: str = "all",
         expectation: str = "covers", low: float | None = None, high: float | None = None,
         scale: str | None = None) -> dict:
    se = float(r["std_error"]) if r is not None else float("nan")
    est = float(r["estimate"]) if estimate is None else float(estimate)
    row = {"analysis_id": COLLABORATION_ANALYSIS, "check": check,
           "sex": r["sex"] if r is not None else sex, "subgroup": r["subgroup"] if r is not None else subgroup,
           "level": level if level is not None else r["level"], "term": term if term is not None else r["term"],
           "estimate": est, "conf_low": float(est - z * se) if low is None else float(low),
           "conf_high": float(est + z * se) if high is None else float(high), "truth": float(truth),
           "expectation": expectation, "passed": bool(passed), "std_error": se, "mc_se": 0.0, "z": float(z)}
    if scale is not None:
        row["scale"] = scale
    return row


def _region_family(table: pd.DataFrame, truths: Mapping[str, float], check: str, term: str,
                   ses: Mapping[str, float] | None = None) -> dict:
    """One check over the regions: the regions whose estimate misses the truth by more than z SE (z over the regions).

    The SE is the truth's binomial one, sqrt(truth (1 - truth) / n) with n the meetings (shares)
    or the coordinated spells (INFO4, at most one per spell): a score test, the test the Wilson
    interval inverts. The estimate's own Wald SE shrinks towards 0 with a share near 0 or 1 in a
    small region and would reject a true value there; with heterogeneous probabilities the
    binomial SE is conservative.
    """
    sub = table[table["level"].astype(str).isin(truths)]
    z = z_for(max(len(sub), 1))
    missed, worst = [], (0.0, None)
    for _, r in sub.iterrows():
        truth = truths[str(r["level"])]
        n = r["n_meetings"] if "n_meetings" in r.index and pd.notna(r["n_meetings"]) else r["n_spells"]
        se = float(np.sqrt(max(truth * (1 - truth), 1e-12) / max(float(n), 1.0))) if ses is None else ses[str(r["level"])]
        scaled = abs(float(r["estimate"]) - truth) / max(se, 1e-12)
        if scaled > worst[0]:
            worst = (scaled, str(r["level"]))
        if scaled > z:
            missed.append(str(r["level"]))
    return {"analysis_id": COLLABORATION_ANALYSIS, "check": check, "sex": "all", "subgroup": "home_region_code",
            "level": "missed: " + (",".join(missed) if missed else "none"),
            "term": f"{term}; worst: {worst[1]} at {worst[0]:.2f} SE", "estimate": float(len(missed)),
            "conf_low": float("nan"), "conf_high": float("nan"), "truth": 0.0, "expectation": "at_most",
            "passed": not missed and len(sub) > 0, "std_error": float("nan"), "mc_se": float("nan"), "z": float(z),
            "scale": "none"}


def collaboration_checks(table: pd.DataFrame, spells: pd.DataFrame, linked: Linked, planted: Mapping,
                         entry_day: int) -> list[dict]:
    """Rules n-q on the results table ``collaboration`` (module docstring)."""
    latent = linked.spells.set_index("spell_id")["home_region"]
    eligible = spells.loc[spells["followup_days"] > entry_day].reset_index(drop=True)
    region_latent = latent.reindex(eligible["spell_id"]).to_numpy()
    if np.isnan(region_latent.astype(float)).any():
        raise TruthCheckRefused("some analysed spells have no latent home region")
    region_latent = region_latent.astype(int)
    coordinated_mask = eligible["is_coordinated"].to_numpy(dtype=bool)
    coordinated = eligible.loc[coordinated_mask].reset_index(drop=True)
    coordinated_region = region_latent[coordinated_mask]
    rows: list[dict] = []
    # n: INFO4 incidence from the first GC001
    z = z_for(3 * len(INFO4_CHECK_DAYS))
    for sex in ("all", "woman", "man"):
        subgroup = "all" if sex == "all" else "sex"
        t = table[(table["measure"] == "first_info4_after_gc001") & (table["sex"] == sex) & (table["subgroup"] == subgroup)]
        mask = np.ones(len(coordinated), bool) if sex == "all" else (coordinated["sex"].astype(str) == sex).to_numpy()
        for d in INFO4_CHECK_DAYS:
            r = t[pd.to_numeric(t["day"]) == d]
            if len(r) != 1:
                raise TruthCheckRefused(f"results.{COLLABORATION_ANALYSIS} has {len(r)} rows of the first INFO4's "
                                        f"incidence at day {d} for {sex} (expected one)")
            r = r.iloc[0]
            truth = float(info4_truth(coordinated.loc[mask], coordinated_region[mask], planted, float(d)).mean())
            passed = abs(float(r["estimate"]) - truth) <= z * float(r["std_error"])
            rows.append(_row(r, "covers_planted_info4_incidence", truth=truth, z=z, passed=passed,
                             term=f"first_info4_day_{d}", scale="natural"))
    # o: INFO4 and AVST per coordinated spell by region (the region multiplier): one family over both
    region_code = coordinated["home_region_code"].astype(str).to_numpy()
    p_info4 = info4_truth(coordinated, coordinated_region, planted, None)
    expected = {"INFO4": (p_info4, p_info4 * (1 - p_info4)), "AVST": avst_truth(coordinated, coordinated_region, planted)}
    truths, ses, parts = {}, {}, []
    for term, (mean, var) in expected.items():
        for code in np.unique(region_code):
            m = region_code == code
            truths[f"{term}:{code}"] = float(mean[m].mean())
            ses[f"{term}:{code}"] = float(np.sqrt(var[m].sum()) / m.sum())
        t = table[(table["measure"] == "rate_per_coordinated") & (table["term"] == term) & (table["sex"] == "all")
                  & (table["subgroup"] == "home_region_code")]
        parts.append(t.assign(level=term + ":" + t["level"].astype(str)))
    rows.append(_region_family(pd.concat(parts, ignore_index=True), truths, "covers_planted_region_rates",
                               "INFO4 and AVST per coordinated spell", ses))
    # p: participation by region
    n_avst = eligible["n_fk_avst"].to_numpy(float)
    region_code = eligible["home_region_code"].astype(str).to_numpy()
    for actor in ("employer", "af"):
        prob = participation_truth(eligible, region_latent, planted, actor)
        truths = {}
        for code in np.unique(region_code):
            m = region_code == code
            if n_avst[m].sum() > 0:
                truths[code] = float((n_avst[m] * prob[m]).sum() / n_avst[m].sum())
        t = table[(table["measure"] == "participation") & (table["term"] == actor) & (table["sex"] == "all")
                  & (table["subgroup"] == "home_region_code")]
        rows.append(_region_family(t, truths, "covers_planted_participation_by_region", actor))
    # q: AF registration while coordinated
    hr = float(planted["af_registration"]["coordination_hazard_ratio"])
    zq = z_for(3)
    for sex in ("all", "woman", "man"):
        subgroup = "all" if sex == "all" else "sex"
        r = table[(table["measure"] == "af_registration_coordination_rr") & (table["sex"] == sex)
                  & (table["subgroup"] == subgroup) & (table["term"] == "coordinated")]
        if len(r) != 1:
            raise TruthCheckRefused(f"results.{COLLABORATION_ANALYSIS} has {len(r)} rows of the AF registration rate "
                                    f"ratio for {sex} (expected one)")
        r = r.iloc[0]
        se = float(r["std_error"])
        est = float(r["estimate"])
        passed = abs(np.log(est) - np.log(hr)) <= zq * se
        rows.append(_row(r, "covers_planted_af_hazard_ratio", truth=hr, z=zq, passed=passed,
                         low=est * np.exp(-zq * se), high=est * np.exp(zq * se), scale="log"))
    return rows


def issue13_checks(results: Mapping[str, pd.DataFrame], spells: pd.DataFrame, linked: Linked,
                   truth_json: Mapping) -> tuple[list[dict], list[str]]:
    """Rules n-q when the results table ``collaboration`` is present; (check rows, notes on what was skipped)."""
    from pipeline.commands.recovery import CATALOGUE, _catalogue_parameters

    if COLLABORATION_ANALYSIS not in results:
        return [], [f"checks of {COLLABORATION_ANALYSIS} skipped: no such results table"]
    planted = truth_json.get("collaboration")
    if not planted:
        return [], [f"checks of {COLLABORATION_ANALYSIS} skipped: truth.json has no planted collaboration model "
                    "(a delivery of an older koord synth)"]
    missing = [c for c in NEEDED_COLUMNS if c not in spells.columns]
    if missing:
        return [], [f"checks of {COLLABORATION_ANALYSIS} skipped: the spells lack {', '.join(missing)}"]
    p = _catalogue_parameters(results[CATALOGUE], COLLABORATION_ANALYSIS, "collaboration")
    return collaboration_checks(results[COLLABORATION_ANALYSIS], spells, linked, planted, int(p.entry_day)), []


__all__ = ["COLLABORATION_ANALYSIS", "collaboration_checks", "info4_cdf", "info4_truth", "issue13_checks",
           "participation_truth"]
