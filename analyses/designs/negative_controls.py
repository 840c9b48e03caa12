"""Negative-control outcomes through the main time-varying designs, and empirical calibration of the main estimates (issue 14).

`negative_controls` runs every negative-control outcome of `spell_negative_control_outcomes`
(study.toml ``[negative_controls]``: first care contacts coordination cannot cause) through the
IDENTICAL models of the main analyses it names (``sources``, by default tv_cox and tv_poisson):
their confounders, entry day, time bands and populations, the same exposure (coordination from
the first GC001, time-varying), with the outcome swapped (`time_varying.person_time_source`):
follow-up from the entry day to the first contact of that outcome or the spell's end, spells
with the contact by the entry day left out. Only the main effect is estimated (no per-chapter
interaction: the systematic error is estimated per design and population). One row per outcome
x source design x population (everyone, women, men).

The emulated trials are not run: their estimand is a risk difference with bootstrap intervals
(200 replicates of the whole weighting) per outcome, neither on the log-ratio scale the
calibration's error model lives on nor cheap to repeat for nine outcomes.

`calibration` fits, per source design and population, the empirical null N(mu, sigma^2) to
that design's negative-control estimates (`estimators.empirical_calibration.fit_null`, as R's
EmpiricalCalibration) and reports mu and sigma with profile-likelihood intervals, the expected
absolute systematic error (EASE, against CohortMethod's gate 0.25), and for each main estimate of
the source (the main row and the diagnosis chapter groups of that population) the calibrated
hazard ratio, interval and p-value beside the uncalibrated ones. The chapter-group rows are
calibrated with their population's null (negative controls are not run per chapter group).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import duckdb
import numpy as np
import pandas as pd

from analyses.designs._models import EXPOSURE
from analyses.designs.specs import AnalysisSpec, CalibrationParameters, NegativeControlParameters
from analyses.designs.time_varying import (
    NEGATIVE_CONTROL_TABLE,
    aggregate_person_time,
    counting_process_rows,
    needed_covariates,
    spell_level,
    time_varying_cox,
    time_varying_poisson,
)
from analyses.estimators.empirical_calibration import (
    EASE_THRESHOLD,
    calibrate_ci,
    calibrate_p,
    fit_null,
)
from analyses.results import Result, make_summary
from koord.errors import ContractViolation, ConvergenceError

SOURCE_DESIGNS = ("time_varying_cox", "time_varying_poisson")
MIN_BAND_EVENTS = 3  # fewer events of a negative control in a Poisson band (any population): merged into the band before
POPULATION_ORDER = ("all", "woman", "man")


def negative_control_outcomes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The outcome ids of the warehouse's negative-control table, in id order; ContractViolation without the table."""
    present = con.execute("select count(*) from information_schema.tables where table_schema = 'main' "
                          f"and table_name = '{NEGATIVE_CONTROL_TABLE}'").fetchall()[0][0]
    if not present:
        raise ContractViolation(f"the warehouse has no table {NEGATIVE_CONTROL_TABLE}: run `koord build` with a study "
                                "that lists [negative_controls] outcomes")
    return [r[0] for r in con.execute(f"select distinct outcome_id from {NEGATIVE_CONTROL_TABLE} order by 1").fetchall()]


def _negative_control_spells(con: duckdb.DuckDBPyConnection, spells: pd.DataFrame, outcome: str,
                             entry_day: int) -> pd.DataFrame:
    """Spells in follow-up at the entry day without the outcome by then; ``event`` = the outcome's first contact in follow-up."""
    first = con.execute(f"select spell_id, first_contact_day from {NEGATIVE_CONTROL_TABLE} where outcome_id = ?",
                        [outcome]).df()
    out = spells.loc[spells["followup_days"] > entry_day].merge(first, on="spell_id", how="left")
    time = out["first_contact_day"].to_numpy(dtype=float) + 1
    out = out.loc[~(time <= entry_day)].reset_index(drop=True)
    out["event"] = out["first_contact_day"].notna().astype(float)
    return out.drop(columns="first_contact_day")


def negative_control_estimates(spec: AnalysisSpec, source: AnalysisSpec, con: duckdb.DuckDBPyConnection,
                               spells: pd.DataFrame, outcome: str) -> tuple[Result, dict[str, Any]]:
    """One outcome through one source design: the source's model with the outcome swapped, main effect only.

    Returns the result and what differs from the source's model (Poisson bands merged for lack of events).
    """
    p = replace(source.parameters, by_chapter_group=False, by_sex=spec.parameters.by_sex)
    run_spec = AnalysisSpec(spec.id, source.design, source.description, p)
    covariates = needed_covariates(p.confounders)
    if source.design == "time_varying_cox":
        rows, book = counting_process_rows(con, covariates, p.entry_day, outcome=outcome)
        return time_varying_cox(run_spec, rows, spell_level(rows, covariates), book), {}
    cuts = tuple(p.band_cuts)
    while True:  # a band without events of a rare outcome has no finite rate: merge it into the band before
        cells = aggregate_person_time(con, covariates, cuts, p.entry_day, outcome=outcome)
        sparse = _sparse_band_cuts(cells, cuts)
        if not sparse:
            break
        cuts = tuple(c for c in cuts if c not in sparse)
    result = time_varying_poisson(replace(run_spec, parameters=replace(p, band_cuts=cuts)), cells,
                                  _negative_control_spells(con, spells, outcome, p.entry_day))
    return result, {"merged_band_cuts": [c for c in p.band_cuts if c not in cuts]}


def _sparse_band_cuts(cells: pd.DataFrame, cuts: tuple[int, ...]) -> list[int]:
    """Cuts to drop: each band with fewer than `MIN_BAND_EVENTS` events for everyone or either sex loses its own
    start (it joins the band before), the first band the cut after it (the next band joins it)."""
    events = cells.groupby(["band_start", cells["sex"].astype(str)], observed=True)["events"].sum().unstack(fill_value=0)
    events["all"] = events.sum(axis=1)
    out = []
    for start in (int(b) for b in events.index if (events.loc[b] < MIN_BAND_EVENTS).any()):
        later = [c for c in cuts if c > start]
        out.append(start if start in cuts else (min(later) if later else None))
    return sorted({c for c in out if c is not None})


def negative_controls(spec: AnalysisSpec, sources: dict[str, AnalysisSpec], con: duckdb.DuckDBPyConnection,
                      spells: pd.DataFrame, progress: Callable[[str], None] = lambda _: None) -> Result:
    """Every negative-control outcome through every source design (see the module docstring).

    Parameters
    ----------
    spec : design 'negative_controls' (entry day resolved; its own model parameters are unused:
        the sources' are taken so that the models are identical).
    sources : the resolved specs of the analyses named in ``spec.parameters.sources``.
    con : the warehouse (read only).
    spells : `run.load_spells` (the Poisson level plan and person counts).
    """
    params: NegativeControlParameters = spec.parameters
    available = negative_control_outcomes(con)
    unknown = [o for o in params.outcomes or () if o not in available]
    if unknown:
        raise ContractViolation(f"[analyses.{spec.id}] outcomes: {', '.join(unknown)} not in {NEGATIVE_CONTROL_TABLE} "
                                f"(the study's negative controls: {', '.join(available) or 'none'})")
    outcomes = list(params.outcomes) if params.outcomes else available
    frames, per_outcome = [], {}
    for source_id in params.sources:
        source = sources[source_id]
        for outcome in outcomes:
            progress(f"  negative control {outcome} through {source_id} …")
            try:
                res, differs = negative_control_estimates(spec, source, con, spells, outcome)
            except (ConvergenceError, ContractViolation) as exc:  # one rare outcome does not stop the others
                per_outcome[f"{source_id}/{outcome}"] = {"estimated": False, "reason": str(exc)}
                progress(f"  negative control {outcome} through {source_id}: not estimated ({exc})")
                continue
            frame = res.summary.copy()
            frame.insert(2, "outcome_id", outcome)
            frame.insert(3, "source", source_id)
            frames.append(frame)
            per_outcome[f"{source_id}/{outcome}"] = {"estimated": True, **res.diagnostics, **differs}
    summary = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(summary):
        summary["analysis_id"] = spec.id
        summary["log_estimate"] = np.log(summary["estimate"].astype(float))
    diagnostics = {"design": spec.design, "sources": list(params.sources), "outcomes": outcomes,
                   "trial_emulation": "not run: a bootstrapped risk difference per outcome is neither on the log-ratio "
                                      "scale of the error model nor cheap for every negative control",
                   "per_outcome": per_outcome}
    if summary.empty:
        summary = make_summary([], analysis_id=spec.id, method="cox", diagnostics=diagnostics)
    return Result(analysis_id=spec.id, method="negative_controls", summary=summary, diagnostics=diagnostics, tables={})


# --- empirical calibration ------------------------------------------------------------------------


def _null_rows(null, controls: pd.DataFrame, *, source: str, sex: str, ease_ok: bool) -> list[dict[str, Any]]:
    """mu, sigma and EASE; their counts: the population's persons and the fewest events of any control it rests on."""
    common = {"source": source, "sex": sex, "subgroup": "all" if sex == "all" else "sex", "level": sex,
              "n_persons": int(controls["n_persons"].max()), "n_events": int(controls["n_events"].min()),
              "n_controls": null.n_controls, "ease": null.ease, "ease_below_threshold": ease_ok}
    return [
        {**common, "kind": "null", "estimand": "systematic_error_mean", "term": "mu", "estimate": null.mu,
         "conf_low": null.mu_low, "conf_high": null.mu_high},
        {**common, "kind": "null", "estimand": "systematic_error_sd", "term": "sigma", "estimate": null.sigma,
         "conf_low": null.sigma_low, "conf_high": null.sigma_high},
        {**common, "kind": "null", "estimand": "expected_absolute_systematic_error", "term": "ease",
         "estimate": null.ease},
    ]


def calibration(spec: AnalysisSpec, done: dict[str, Result]) -> Result:
    """Empirical null per source design and population, EASE, calibrated main estimates (module docstring).

    Parameters
    ----------
    spec : design 'empirical_calibration'.
    done : the results so far: the negative controls (``spec.parameters.negative_controls``) and
        every source in ``spec.parameters.sources``.
    """
    params: CalibrationParameters = spec.parameters
    nc = done[params.negative_controls].summary
    rows: list[dict[str, Any]] = []
    fits: dict[str, Any] = {}
    for source_id in params.sources:
        main = done[source_id].summary
        main = main.loc[main["term"] == EXPOSURE]
        for sex in POPULATION_ORDER:
            controls = nc.loc[(nc["source"] == source_id) & (nc["sex"] == sex)]
            controls = controls.loc[np.isfinite(controls["std_error"].astype(float))
                                    & (controls["n_events"].astype(float) >= params.min_events)]
            estimates = main.loc[main["sex"] == sex]
            if estimates.empty and controls.empty:
                continue
            key = f"{source_id}/{sex}"
            if len(controls) < params.min_controls:
                fits[key] = {"calibrated": False, "n_controls": int(len(controls)),
                             "reason": f"fewer than {params.min_controls} negative controls with at least "
                                       f"{params.min_events} events"}
                continue
            log_rr = np.log(controls["estimate"].to_numpy(float))
            null = fit_null(log_rr, controls["std_error"].to_numpy(float))
            ease_ok = bool(null.ease < params.max_ease)
            fits[key] = {"calibrated": True, "n_controls": null.n_controls, "mu": null.mu, "sigma": null.sigma,
                         "ease": null.ease, "ease_below_threshold": ease_ok, "log_likelihood": null.log_likelihood,
                         "controls": controls["outcome_id"].tolist()}
            rows += _null_rows(null, controls, source=source_id, sex=sex, ease_ok=ease_ok)
            if estimates.empty:
                continue
            est = estimates["estimate"].to_numpy(float)
            se = estimates["std_error"].to_numpy(float)
            ci = calibrate_ci(null, np.log(est), se)
            p_cal = calibrate_p(null, np.log(est), se)
            for i, (_, r) in enumerate(estimates.iterrows()):
                rows.append({
                    "source": source_id, "sex": sex, "kind": "calibrated", "estimand": r["estimand"], "term": r["term"],
                    "subgroup": r["subgroup"], "level": r["level"], "estimate": float(np.exp(ci.log_rr[i])),
                    "std_error": float(ci.se[i]), "conf_low": float(np.exp(ci.log_low[i])),
                    "conf_high": float(np.exp(ci.log_high[i])), "p_value": float(p_cal[i]),
                    "n_persons": r["n_persons"], "n_events": r["n_events"],
                    "uncalibrated_estimate": float(r["estimate"]), "uncalibrated_std_error": float(r["std_error"]),
                    "uncalibrated_conf_low": float(r["conf_low"]), "uncalibrated_conf_high": float(r["conf_high"]),
                    "uncalibrated_p_value": float(r["p_value"]), "n_controls": null.n_controls, "ease": null.ease,
                    "ease_below_threshold": ease_ok,
                })
    diagnostics = {"design": spec.design, "negative_controls": params.negative_controls,
                   "sources": list(params.sources), "max_ease": params.max_ease, "nulls": fits,
                   "method": "EmpiricalCalibration (Schuemie 2014, 2018): fitNull by ML, calibrateP, "
                             "calibrateConfidenceInterval with the null as a constant error model, EASE"}
    summary = make_summary(rows, analysis_id=spec.id, method="empirical_calibration", diagnostics=diagnostics)
    return Result(analysis_id=spec.id, method="empirical_calibration", summary=summary, diagnostics=diagnostics,
                  tables={})


__all__ = ["EASE_THRESHOLD", "POPULATION_ORDER", "SOURCE_DESIGNS", "calibration", "negative_control_estimates",
           "negative_control_outcomes", "negative_controls"]
