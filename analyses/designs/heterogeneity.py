"""Heterogeneity of the coordination effect by sex, age group, diagnosis chapter/group and home region.

For each dimension the as-treated model (Cox on counting-process rows, or the Poisson on
aggregated person-time) replaces the single exposure term by one exposure term per level of
the dimension (exposure × level: the interaction model), adjusted for the same confounders.
Each level's hazard ratio is reported, and a Wald test (robust covariance for Cox) that all
levels share one effect: chi-square with (levels - 1) degrees of freedom. Levels with fewer
exposed events than ``min_events`` share one pooled term ('other_levels') that is not tested.
Everything is repeated within women and men (the sex dimension only for everyone).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from analyses.designs import _models
from analyses.designs._models import EXPOSURE, POOLED_LEVELS, ratio_row, split_exposure
from analyses.designs.specs import AnalysisSpec, HeterogeneityParameters
from analyses.designs.time_varying import _exposure_diagnostics
from analyses.results import Result


def heterogeneity(spec: AnalysisSpec, rows: pd.DataFrame, spells: pd.DataFrame) -> Result:
    """Per-level effects and the Wald test of heterogeneity for every dimension.

    Parameters
    ----------
    spec : design 'heterogeneity'.
    rows : counting-process rows (``model = 'cox'``, with ``event``) or aggregated cells
        (``model = 'poisson'``, with ``events``), covariates as text, ``days_at_risk``.
    spells : one row per spell in follow-up (covariates, ``event``, ``person_id``).
    """
    params: HeterogeneityParameters = spec.parameters
    is_cox = params.model == "cox"
    fitter = _models.fit_exposure_cox if is_cox else _models.fit_exposure_poisson
    estimand = "hazard_ratio" if is_cox else "rate_ratio"
    event_column = "event" if is_cox else "events"
    out: list[dict[str, Any]] = []
    tests: dict[str, Any] = {}
    for data in _models.population_data(params, rows, spells):
        sub, spells_sub, confounders = data.rows, data.spells, data.confounders
        label = data.population.sex
        exposure = sub[EXPOSURE].to_numpy(dtype=float)
        event = sub[event_column].to_numpy(dtype=float)
        days = sub["days_at_risk"].to_numpy(dtype=float)
        for dimension in params.dimensions:
            if label != "all" and dimension == "sex":
                continue
            columns, terms, pooled = split_exposure(sub, exposure, dimension, event, params.min_events)
            if not terms:
                continue
            fit = fitter(sub, columns, confounders, params, spec.id, spells_sub)
            tested = [t.column for t in terms if t.level != POOLED_LEVELS]
            chi2, df, p = _models.wald_equality_test(fit, tested)
            tests[f"{label}/{dimension}"] = {"chi2": chi2, "df": df, "p_value": p, "pooled_levels": pooled,
                                             **fit.diagnostics}
            values = spells_sub[dimension].astype(str)
            for t in terms:
                levels = pooled if t.level == POOLED_LEVELS else [t.level]
                in_level = values.isin(levels).to_numpy()
                diag = _exposure_diagnostics(params, exposure[t.mask], event[t.mask], True)
                out.append(ratio_row(fit, t.column, estimand=estimand, term=EXPOSURE, subgroup=dimension,
                                     level=t.level, sex=label,
                                     n_persons=int(spells_sub.loc[in_level, "person_id"].nunique()),
                                     n_spells=int(in_level.sum()), n_events=int(event[t.mask].sum()),
                                     diagnostics=diag, heterogeneity_p=p,
                                     exposed_days=float((exposure * days)[t.mask].sum()),
                                     unexposed_days=float(((1 - exposure) * days)[t.mask].sum())))
            out.append({"estimand": "heterogeneity_wald_chi2", "term": "heterogeneity_test", "subgroup": dimension,
                        "level": "all levels", "sex": label, "estimate": chi2, "p_value": p, "df": df,
                        "n_persons": int(spells_sub["person_id"].nunique()), "n_spells": int(len(spells_sub)),
                        "n_events": int(event.sum()), "heterogeneity_p": p,
                        "row_diagnostics": {"pooled_levels": pooled, "levels_tested": len(tested)}})
    diagnostics = {"design": spec.design, "model": params.model, "entry_day": params.entry_day, "tests": tests}
    summary = _models.finish_summary(out, spec.id, params.model, diagnostics)
    return Result(analysis_id=spec.id, method=params.model, summary=summary, diagnostics=diagnostics, tables={})


__all__ = ["heterogeneity"]
