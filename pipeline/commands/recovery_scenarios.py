"""The planted truth of `scenarios` (issue 15, grounds for proposals), for `koord check-truth`.

The truth is the generator's own model carried forward day by day from the analysed cohort
(`pipeline.synth.scenario_truth`): the spells of the warehouse followed beyond the analysis'
entry day, linked to their latent attributes (`recovery.Linked`), with their state at entry
(coordinated before it or not) as built, and the scenario definitions of the analysis'
parameters. It is exact for these spells (no Monte Carlo error up to
`scenario_truth.DEFAULT_MAX_SPELLS` spells; above, the standard error of a uniform sample).
truth.json carries the same computation for the delivery's studied spells (``scenarios``), for
the record; the check uses the built cohort, which matches the analysis spell for spell.

Rules:

w. ``covers_planted_scenario_risk_difference``: each intervention's risk difference against the
   natural course (uptake, earlier) at the main horizon (180 days) for everyone, women and men:
   |estimate - truth| <= z × sqrt(bootstrap SE² + MC SE²), z Bonferroni-widened over the 6.
x. ``covers_planted_natural_course``: the natural course's share back at work at the main
   horizon for everyone, women and men (the fitted models against the planted ones, beside the
   analysis' own check against the data's Aalen-Johansen share); family of 3.

Measured at 20 000 persons with 20 bootstrap replicates, seeds 31-35, before the uptake target
became the analysis' own (below), with the generator with issue 14's relapse breaks (every latent
recovery a return to work under the rule 'continue'): at 180 days, everyone, the mean estimate
against the mean truth was 0.00171 / 0.00170 for uptake, 0.00184 / 0.00181 for earlier and
0.7429 / 0.7421 for the natural course, the largest |z| 1.3, 1.7 and 1.2: every check of both
rules inside its interval. (Before the relapse breaks the truth
thinned recoveries by 5 % for relapses while the delivery censored only about 2 %, and the
natural course lay 0.65 percentage points above it; the risk differences were within 3.5 %.)
The uptake scenario's target U (the 75th percentile of the regions' uptakes) is part of the
estimand: the analysis sets it once from its fitted models (its catalogue diagnostics'
``uptake_target``), keeps it in every bootstrap replicate, and the truth lifts the regions below
the same U (`analysis_uptake_target`; truth.json, written before any analysis, keeps the
quantile of the true uptakes). Before, the truth's target was the quantile of the true regional
uptakes, and U an order statistic of 21 noisy shares whose error the bootstrap does not carry:
at 100 000 persons, seeds 5-12, 20 replicates, the realised U missed that quantile by 0.0056
(root mean square) against a bootstrap SD of U of 0.0037, and the uptake difference at 180 days
lay z = -4.0, -0.4, +1.1, -1.4, -2.2, +0.6, +1.2, -1.3 from the truth (sd of the errors 0.00037
against a mean bootstrap SE of 0.00021). At the analysis' U: z = -0.6, +0.1, -0.7, -1.1, -1.1,
+0.9, +0.6, -1.3 (sd of the errors 0.000085, mean SE 0.000094, mean error -0.000026). The fitted
models themselves are right: at the true quantile their difference lay on average 0.000014
from the truth (seed 5: 0.00259 against 0.00262, where the realised U gave 0.00195).
"""

from __future__ import annotations

import json
from typing import Mapping

import numpy as np
import pandas as pd

from pipeline.commands.recovery import CATALOGUE, Linked, TruthCheckRefused, _catalogue_parameters, z_for

SCENARIO_ANALYSIS = "scenarios"
SCENARIO_RESULTS = (SCENARIO_ANALYSIS,)  # the results tables `koord check-truth` reads for rules w-x when present
MAIN_HORIZON = 180
INTERVENTIONS = ("uptake", "earlier")


def analysis_uptake_target(catalogue: pd.DataFrame, analysis_id: str = SCENARIO_ANALYSIS) -> float | None:
    """The uptake target U the analysis set (its catalogue diagnostics' ``uptake_target``); None if not recorded."""
    row = catalogue[catalogue["id"] == analysis_id]
    if len(row) != 1 or "diagnostics" not in row.columns:
        return None
    try:
        value = json.loads(row.iloc[0]["diagnostics"]).get("uptake_target")
    except (TypeError, ValueError, AttributeError):
        return None
    return None if value is None or not np.isfinite(float(value)) else float(value)


def cohort_truth(spells: pd.DataFrame, linked: Linked, params, uptake_target: float | None = None) -> dict:
    """`scenario_truth` of the analysed cohort (spells followed beyond the entry day) under the analysis' rules.

    ``uptake_target``: the analysis' own target U (part of its estimand); None takes the quantile of
    the true regional uptakes, as truth.json does.
    """
    from data_schemas.codes import regions
    from pipeline.synth.scenario_truth import LatentSpells, ScenarioRules, scenario_truth

    entry = int(params.entry_day)
    cohort = spells.loc[spells["followup_days"] > entry].reset_index(drop=True)
    position = pd.Index(linked.spells["spell_id"]).get_indexer(cohort["spell_id"])
    if (position < 0).any():
        raise TruthCheckRefused(f"{int((position < 0).sum())} spells of the scenario cohort are not built")
    latent = linked.spells.iloc[position].reset_index(drop=True)
    t_c = pd.to_numeric(cohort["days_to_first_gc001"], errors="coerce").to_numpy(dtype=float)
    latent_spells = LatentSpells(
        eta=latent["eta"].to_numpy(float), diagnosis_group=latent["diagnosis_group"].to_numpy(np.int64),
        age_group=latent["age_group"].to_numpy(np.int64), is_born_in_sweden=latent["is_born_in_sweden"].to_numpy(bool),
        home_region=latent["home_region"].to_numpy(np.int64), care_level=latent["care_level"].to_numpy(np.int64),
        chapter_group=latent["chapter_group"].to_numpy(np.int64), birth_year=latent["birth_year"].to_numpy(np.int64),
        start_day=latent["start_day"].to_numpy(np.int64), coordinated_at_entry=np.nan_to_num(t_c, nan=np.inf) < entry,
        is_woman=(cohort["sex"].astype(str) == "woman").to_numpy())
    rules = ScenarioRules(entry_day=entry, horizons=tuple(int(h) for h in params.horizons),
                          uptake_window_days=int(params.uptake_window_days), uptake_quantile=float(params.uptake_quantile),
                          earlier_by_day=int(params.earlier_by_day), earlier_window_days=int(params.earlier_window_days),
                          uptake_target=uptake_target)
    region_v = np.zeros(len(linked.region_u)) if linked.region_v is None else linked.region_v
    return scenario_truth(linked.params, latent_spells, linked.region_u, region_v, rules, [r.code for r in regions()])


def _row(r: pd.Series, check: str, *, truth: float, mc_se: float, z: float) -> dict:
    est, se = float(r["estimate"]), float(r["std_error"])
    half = z * np.sqrt(se ** 2 + mc_se ** 2)
    return {"analysis_id": SCENARIO_ANALYSIS, "check": check, "sex": r["sex"], "subgroup": r["subgroup"],
            "level": r["level"], "term": f"{r['term']} @ day {int(r['horizon'])}", "estimate": est,
            "conf_low": est - half, "conf_high": est + half, "truth": float(truth), "expectation": "covers",
            "passed": bool(abs(est - truth) <= half), "std_error": se, "mc_se": float(mc_se), "z": float(z),
            "scale": "natural"}


def _one(table: pd.DataFrame, estimand: str, term: str, sex: str, horizon: int) -> pd.Series:
    subgroup = "all" if sex == "all" else "sex"
    r = table[(table["estimand"] == estimand) & (table["term"] == term) & (table["sex"] == sex)
              & (table["subgroup"] == subgroup) & (pd.to_numeric(table["horizon"]) == horizon)]
    if len(r) != 1:
        raise TruthCheckRefused(f"results.{SCENARIO_ANALYSIS} has {len(r)} rows of {estimand} {term} for {sex} at "
                                f"day {horizon} (expected one)")
    return r.iloc[0]


def scenario_checks(table: pd.DataFrame, truth: Mapping, horizon: int = MAIN_HORIZON) -> list[dict]:
    """Rules w and x on the results table ``scenarios`` against `cohort_truth`."""
    rows: list[dict] = []
    populations = [s for s in ("all", "woman", "man") if s in truth["populations"]]
    z = z_for(len(INTERVENTIONS) * len(populations))
    for sex in populations:
        for term in INTERVENTIONS:
            t = truth["populations"][sex]["risk_difference"][term][horizon]
            rows.append(_row(_one(table, "risk_difference", term, sex, horizon), "covers_planted_scenario_risk_difference",
                             truth=t["difference"], mc_se=t["mc_se"], z=z))
    z = z_for(len(populations))
    for sex in populations:
        t = truth["populations"][sex]["cumulative_incidence"]["natural_course"][horizon]
        rows.append(_row(_one(table, "cumulative_incidence", "natural_course", sex, horizon),
                         "covers_planted_natural_course", truth=t, mc_se=0.0, z=z))
    return rows


def issue15_checks(results: Mapping[str, pd.DataFrame], spells: pd.DataFrame, linked: Linked,
                   say=lambda _: None) -> tuple[list[dict], list[str]]:
    """Rules w-x when the results table ``scenarios`` is present; (check rows, notes on what was skipped)."""
    if SCENARIO_ANALYSIS not in results:
        return [], [f"checks of {SCENARIO_ANALYSIS} skipped: no such results table"]
    p = _catalogue_parameters(results[CATALOGUE], SCENARIO_ANALYSIS, "scenarios")
    if MAIN_HORIZON not in tuple(int(h) for h in p.horizons):
        return [], [f"checks of {SCENARIO_ANALYSIS} skipped: it ran without the {MAIN_HORIZON}-day horizon"]
    say(f"  scenario truth: the planted model carried forward for {int((spells['followup_days'] > p.entry_day).sum()):,} "
        "spells …".replace(",", " "))
    target = analysis_uptake_target(results[CATALOGUE])
    notes = [] if target is not None else [
        f"{SCENARIO_ANALYSIS}: the catalogue records no uptake_target; the uptake scenario's truth uses the quantile "
        "of the true regional uptakes instead of the analysis' own target"]
    truth = cohort_truth(spells, linked, p, uptake_target=target)
    return scenario_checks(results[SCENARIO_ANALYSIS], truth), notes


__all__ = ["INTERVENTIONS", "MAIN_HORIZON", "SCENARIO_ANALYSIS", "SCENARIO_RESULTS", "analysis_uptake_target",
           "cohort_truth", "issue15_checks", "scenario_checks"]
