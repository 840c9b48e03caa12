"""The planted truth of the `scenarios` analysis (issue 15): the share back at work under each scenario, from the generator's own hazards.

For the spells followed beyond the entry day, the generator's latent model is carried forward
day by day (expected state probabilities, no draws) with its true hazards: the first GC001's
piecewise-constant hazard (``u_region``, care level, chapter group, ``-alpha * eta``), the
Weibull recovery hazard with the home region's ``v`` and coordination's planted HR by chapter
group from the day of the first GC001 on, and the competing events (sickness compensation,
death, emigration, the 65th birthday). As in `pipeline.commands.recovery.trial_truth`, every
latent recovery is recorded as return to work (a relapse is a break within the episode, followed
through under the default relapse rule 'continue', issue 14), and a competing event on the same
day wins. Day index d
is the interval (d, d + 1]: a first GC001 on day index d (``t_c = floor(T_c)``) makes the
whole day exposed, as the generator draws the recovery.

The scenarios are those of `analyses.designs.scenarios`, applied to the true hazards:

- ``uptake``: a region's uptake is its spells' mean chance of a first GC001 on day index
  0 .. window - 1 while followed (coordinated at entry included); the target is
  ``rules.uptake_target`` when given (`koord check-truth` passes the analysis' own, which is
  part of its estimand: "every region reaches at least U", see `analyses.designs.scenarios`),
  else the quantile of the regions' true uptakes (truth.json, written before any analysis);
  a region below it has its coordination hazard from entry to the window's end multiplied by
  the factor that brings its uptake to the target (bisection);
- ``earlier``: per spell not coordinated at entry, the coordination hazard from entry to day
  index by_day - 1 multiplied by H(entry, until) / H(entry, by) and zero from by_day to
  until - 1 (H the cumulative coordination hazard).

Exact for the spells given (no Monte Carlo error); above ``max_spells`` spells a uniform random
sample of them is carried, and the standard error of the sample mean is reported (``mc_se``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from data_schemas.codes import regions
from pipeline.synth import model as M
from pipeline.synth.dates import july_first

SCENARIOS = ("natural_course", "uptake", "earlier")
DEFAULT_MAX_SPELLS = 200_000
# The uptake window's daily probabilities are kept (as float32, about 250 MB at 200 000 spells) for the
# bisection, which runs the window's chain 30 times; days after the window are computed once, not kept.
MEMO_MAX_SPELLS = 200_000


@dataclass(frozen=True)
class ScenarioRules:
    """The scenario definitions (the defaults of `analyses.designs.specs.ScenarioParameters`)."""

    entry_day: int = 14
    horizons: tuple[int, ...] = (90, 180, 365)
    uptake_window_days: int = 90
    uptake_quantile: float = 0.75
    earlier_by_day: int = 30
    earlier_window_days: int = 90
    uptake_target: float | None = None  # the uptake scenario's target; None: the quantile of the true uptakes


@dataclass(frozen=True)
class LatentSpells:
    """The latent attributes of the cohort's spells (generator indices, as `GroundTruth.spells` holds them)."""

    eta: np.ndarray
    diagnosis_group: np.ndarray
    age_group: np.ndarray
    is_born_in_sweden: np.ndarray
    home_region: np.ndarray
    care_level: np.ndarray
    chapter_group: np.ndarray
    birth_year: np.ndarray
    start_day: np.ndarray
    coordinated_at_entry: np.ndarray
    is_woman: np.ndarray

    def take(self, index: np.ndarray) -> "LatentSpells":
        return LatentSpells(**{k: np.asarray(v)[index] for k, v in self.__dict__.items()})


class _TrueHazards:
    """Day-by-day probabilities of the planted model for a set of spells."""

    def __init__(self, params: M.SynthParameters, spells: LatentSpells, region_u: np.ndarray, region_v: np.ndarray):
        s, P = spells, params
        group = s.diagnosis_group.astype(np.int64)
        age_g = s.age_group.astype(np.int64)
        eta = s.eta.astype(float)
        home = s.home_region.astype(np.int64)
        self.params = P
        self.scale = P.scales()[group]
        self.shape = P.weibull_shape
        self.recovery_mult = np.exp(eta + np.asarray(region_v, float)[home])
        self.exposed_mult = np.exp(P.gammas_by_group()[group])
        self.coordination_mult = np.exp(M.coordination_log_multiplier(
            P, u_region=np.asarray(region_u, float)[home], care_level=s.care_level.astype(np.int64),
            chapter_group=s.chapter_group.astype(np.int64), eta=eta))
        self.constant_exits = (P.death_rate * np.exp(M.death_log_multiplier(P, age_group=age_g, diagnosis_group=group))
                               + P.emigration_rate * np.exp(np.where(s.is_born_in_sweden.astype(bool), 0.0,
                                                                     P.emigration_foreign_born_effect)))
        self.sa_mult = np.exp(M.sa_log_multiplier(P, age_group=age_g, eta=eta))
        # the 65th birthday as a follow-up day count: on day index a65 - 1 and later everyone still sick leaves
        self.age_65_day = (july_first(s.birth_year.astype(np.int64) + 65) - s.start_day.astype(np.int64) + 1)
        self.memo: dict | None = {} if len(eta) <= MEMO_MAX_SPELLS else None
        self.memo_until = 0  # days before this are kept (the uptake window)

    def remembered(self, kind: str, day: int, compute):
        if self.memo is None or day >= self.memo_until:
            return compute(day)
        if (kind, day) not in self.memo:
            value = compute(day)
            self.memo[(kind, day)] = tuple(v.astype(np.float32) for v in value) if isinstance(value, tuple) \
                else value.astype(np.float32)
        return self.memo[(kind, day)]

    def coordination_cumhaz(self, day: float) -> np.ndarray:
        P = self.params
        return self.coordination_mult * M.piecewise_cumhaz(day, P.coordination_band_starts, P.coordination_band_rates, 1.0)

    def coordination_day(self, day: int) -> np.ndarray:
        """Cumulative hazard of the first GC001 over day index ``day``."""
        return self.coordination_cumhaz(day + 1.0) - self.coordination_cumhaz(float(day))

    def exits(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(P recorded return to work unexposed, exposed, P competing event) over day index ``day``."""
        P = self.params
        weibull = (((day + 1.0) / self.scale) ** self.shape - (day / self.scale) ** self.shape)
        recovery = self.recovery_mult * weibull
        sa = self.sa_mult * (M.piecewise_cumhaz(day + 1.0, P.sa_band_starts, P.sa_band_rates, 1.0)
                             - M.piecewise_cumhaz(float(day), P.sa_band_starts, P.sa_band_rates, 1.0))
        competing_hazard = self.constant_exits + sa
        survive_competing = np.exp(-competing_hazard)
        ended = day + 1 >= self.age_65_day
        competing = np.where(ended, 1.0, 1.0 - survive_competing)
        keep = np.where(ended, 0.0, survive_competing)
        return (-np.expm1(-recovery) * keep, -np.expm1(-recovery * self.exposed_mult) * keep, competing)


def _chain(hz: _TrueHazards, coordinated_at_entry: np.ndarray, multipliers, first_day: int, report_days: list[int],
           n_scenarios: int) -> tuple[np.ndarray, np.ndarray]:
    """(return to work, ever coordinated) per scenario, spell and report day."""
    n = len(coordinated_at_entry)
    treated = np.broadcast_to(coordinated_at_entry.astype(float), (n_scenarios, n)).copy()
    untreated = 1.0 - treated
    recovered = np.zeros((n_scenarios, n))
    ever = treated.copy()
    out_r, out_c = {}, {}
    for day in range(first_day, max(report_days)):
        if day in report_days:
            out_r[day], out_c[day] = recovered.copy(), ever.copy()
        start = -np.expm1(-multipliers(day) * hz.remembered("coordination", day, hz.coordination_day)[None, :])
        starting = untreated * start
        untreated, treated, ever = untreated - starting, treated + starting, ever + starting
        r0, r1, k = hz.remembered("exits", day, hz.exits)
        recovered = recovered + untreated * r0 + treated * r1
        untreated = untreated * (1.0 - r0 - k)
        treated = treated * (1.0 - r1 - k)
    out_r[max(report_days)], out_c[max(report_days)] = recovered, ever
    return (np.stack([out_r[d] for d in report_days], axis=-1), np.stack([out_c[d] for d in report_days], axis=-1))


def scenario_truth(params: M.SynthParameters, spells: LatentSpells, region_u: np.ndarray, region_v: np.ndarray,
                   rules: ScenarioRules = ScenarioRules(), region_codes: list[str] | None = None,
                   max_spells: int = DEFAULT_MAX_SPELLS, seed: int = 15) -> dict:
    """True share back at work per scenario and population, and each intervention's difference.

    Parameters
    ----------
    params : the generator's parameters.
    spells : the cohort (spells followed beyond the entry day), their latent attributes.
    region_u, region_v : the planted region effects (indexed like the home_region indices).
    rules : the scenario definitions.
    region_codes : region code per index (for the region factors in the output).
    max_spells, seed : above this many spells a uniform sample of them is carried.

    Returns
    -------
    dict
        ``rules``, ``uptake_target``, ``region_factor`` (code -> factor), ``n_spells``,
        ``sampled_spells`` and ``populations``: 'all', 'woman', 'man' -> {``cumulative_incidence``:
        scenario -> day -> share, ``risk_difference``: intervention -> day -> {difference, mc_se},
        ``coordination_uptake``: scenario -> share coordinated within the window}.
    """
    n_all = len(spells.eta)
    if n_all > max_spells:
        spells = spells.take(np.sort(np.random.default_rng(seed).choice(n_all, max_spells, replace=False)))
    n = len(spells.eta)
    entry, window = int(rules.entry_day), int(rules.uptake_window_days)
    by, until = int(rules.earlier_by_day), int(rules.earlier_window_days)
    report = sorted({*(int(h) for h in rules.horizons), window})
    hz = _TrueHazards(params, spells, region_u, region_v)
    hz.memo_until = window
    at_entry = spells.coordinated_at_entry.astype(bool)
    region = spells.home_region.astype(np.int64)
    n_regions = int(len(region_u))
    counts = np.bincount(region, minlength=n_regions).astype(float)
    present = counts > 0
    ones = np.ones(n)

    def regional_uptake(log_factor: np.ndarray) -> np.ndarray:
        m = np.exp(log_factor)[region]
        _, ever = _chain(hz, at_entry, lambda day: (m if day < window else ones)[None, :], entry, [window], 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(region, weights=ever[0, :, 0], minlength=n_regions) / counts

    observed = regional_uptake(np.zeros(n_regions))
    target = (float(np.quantile(observed[present], rules.uptake_quantile)) if rules.uptake_target is None
              else float(rules.uptake_target))
    below = present & (observed < target)
    lo, hi = np.zeros(n_regions), np.full(n_regions, np.log(1000.0))
    for _ in range(30):
        mid = (lo + hi) / 2
        low = regional_uptake(mid) < target
        lo, hi = np.where(low, mid, lo), np.where(low, hi, mid)
    factor = np.where(below, np.exp((lo + hi) / 2), 1.0)
    region_m = factor[region]
    h_by = hz.coordination_cumhaz(float(by)) - hz.coordination_cumhaz(float(entry))
    h_until = hz.coordination_cumhaz(float(until)) - hz.coordination_cumhaz(float(entry))
    with np.errstate(invalid="ignore", divide="ignore"):
        earlier_m = np.where(h_by > 0, h_until / h_by, 1.0)

    def multipliers(day: int) -> np.ndarray:
        up = region_m if day < window else ones
        early = earlier_m if day < by else (0.0 * ones if day < until else ones)
        return np.stack([ones, up, early])

    recovered, ever = _chain(hz, at_entry, multipliers, entry, report, len(SCENARIOS))
    woman = spells.is_woman.astype(bool)
    populations = {}
    for name, mask in (("all", np.ones(n, bool)), ("woman", woman), ("man", ~woman)):
        if not mask.any():
            continue
        k = int(mask.sum())
        sampled = n < n_all
        cif = {s: {int(d): float(recovered[i, mask, j].mean()) for j, d in enumerate(report)}
               for i, s in enumerate(SCENARIOS)}
        diff = {}
        for i, s in enumerate(SCENARIOS[1:], start=1):
            diff[s] = {}
            for j, d in enumerate(report):
                per_spell = recovered[i, mask, j] - recovered[0, mask, j]
                se = float(per_spell.std(ddof=1) / np.sqrt(k)) if sampled and k > 1 else 0.0
                diff[s][int(d)] = {"difference": float(per_spell.mean()), "mc_se": se}
        uptake = {s: float(ever[i, mask, report.index(window)].mean()) for i, s in enumerate(SCENARIOS)}
        populations[name] = {"n_spells": k, "cumulative_incidence": cif, "risk_difference": diff,
                             "coordination_uptake": uptake}
    codes = region_codes or [str(i) for i in range(n_regions)]
    return {"rules": {k: (list(v) if isinstance(v, tuple) else v) for k, v in rules.__dict__.items()},
            "uptake_target": target, "region_factor": {codes[i]: float(factor[i]) for i in range(n_regions) if present[i]},
            "n_spells": int(n_all), "sampled_spells": int(n), "populations": populations}


def latent_cohort(gt, outcomes, entry_day: int) -> LatentSpells:
    """The included spells of a ground truth followed beyond the entry day (`spell_outcomes` columns)."""
    chosen = outcomes.filter(outcomes["is_included"] & (outcomes["followup_days"] > entry_day))
    birth_year = gt.persons["birth_year"].to_numpy()[chosen["person"].to_numpy()]
    return LatentSpells(
        eta=chosen["eta"].to_numpy(), diagnosis_group=chosen["diagnosis_group"].to_numpy(),
        age_group=chosen["age_group"].to_numpy(), is_born_in_sweden=chosen["is_born_in_sweden"].to_numpy(),
        home_region=chosen["home_region"].to_numpy(), care_level=chosen["care_level"].to_numpy(),
        chapter_group=chosen["chapter_group"].to_numpy(), birth_year=birth_year,
        start_day=chosen["start_day"].to_numpy(), coordinated_at_entry=chosen["t_c"].to_numpy() < entry_day,
        is_woman=chosen["is_woman"].to_numpy())


def truth_for_delivery(gt, outcomes, rules: ScenarioRules | None = None) -> Mapping:
    """`scenario_truth` of a delivery's studied spells, for truth.json."""
    rules = rules or ScenarioRules()
    cohort = latent_cohort(gt, outcomes, rules.entry_day)
    return scenario_truth(gt.params, cohort, gt.region_u, gt.region_v, rules, [r.code for r in regions()])


__all__ = ["DEFAULT_MAX_SPELLS", "LatentSpells", "SCENARIOS", "ScenarioRules", "latent_cohort", "scenario_truth",
           "truth_for_delivery"]
