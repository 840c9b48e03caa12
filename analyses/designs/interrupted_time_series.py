"""Before and after the law: an interrupted time series of the monthly share back at work (issue 14).

Context, not an effect estimate of coordination: the law came into force on 1 February 2020
and the pandemic began six weeks later, so a change at the law's date cannot be told apart
from the pandemic's first weeks by design; the model has a term for the pandemic period so
that it does not pass for the law, and the report says so plainly.

Series. Spells are grouped by the calendar month they start in (and by sex). For a horizon of
h days, the month's ``n_back`` counts the spells that end in return to work within h days
(``end_reason = 'return_to_work'`` and ``followup_days <= h``) of its ``n_spells``; a spell that
ends otherwise (a competing event, a relapse that censors it, still on sick leave at day h)
counts as not back. A month enters only when every spell starting in it can be judged: its last
day + h + the study's relapse window is on or before the extraction date (a return to work needs
the window after it observed). Months with fewer than ``min_spells_per_month`` spells are left
out (their share is noise), and so is a series with fewer than ``min_months_each_side`` months
on either side of the law.

Model. Segmented Poisson regression of ``n_back`` with offset ``log(n_spells)`` (a log-linear
model of the share, so effects are ratios of shares):

    log E[n_back] = log n_spells + b0 + b1·t + b2·post + b3·(t - t_law)·post
                    + b4·pandemic + sum_m s_m·month_m

(plus, in the main analysis, indicator terms of the spells' case mix, fitted on month x case-mix
cells: ``adjustment = 'case_mix'``; the crude model on the monthly totals is ``'crude'``) with t in
years since the first month, ``post`` = the month starts on or after the law's date,
``pandemic`` = the month lies in the study's pandemic period, and calendar-month terms for
seasonality. Standard errors are quasi-Poisson (Pearson over-dispersion, the main analysis) and, for the crude
model, Newey–West (HAC, ``newey_west_lags`` months) as the sensitivity analysis for autocorrelation.
Why the case mix: a crude share drifts with who falls sick (an ageing cohort; a history of earlier
sick leave that lengthens as register years accumulate), and a drift that is not linear reads as a
change of slope at the law. On a synthetic delivery of 1 000 000 persons with no calendar effect
planted, the crude slope change at 90 days was 1.012 (z 4.1); adjusted for age, prior sick leave,
diagnosis, employment and sex, 0.999 (z −0.3).

Summary rows (``estimand`` / ``term``; every row carries ``sex``, ``horizon_days``, ``variance``):

- ``level_change_ratio`` / ``law_level``: exp(b2), the share just after the law against the
  pre-law trend continued (1 = no change);
- ``slope_change_ratio_per_year`` / ``law_slope``: exp(b3), the change in the yearly trend;
- ``pre_law_trend_ratio_per_year`` / ``trend``: exp(b1);
- ``pandemic_ratio`` / ``pandemic``: exp(b4).

- ``monthly_share`` / ``share_back``: per sex, horizon and month (column ``month``), the observed
  share with its Wilson interval, ``n_events`` back of ``n_spells``, the model's ``fitted_share``
  and the ``counterfactual_share`` without the law's two terms (the report's figure).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Callable

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analyses.designs._models import finish_summary, populations
from analyses.designs.covariates import covariate_select_sql
from analyses.designs.specs import AnalysisSpec, InterruptedTimeSeriesParameters
from analyses.results import Z_95, Result, wald_row
from koord.errors import ContractViolation

METHOD = "segmented_poisson"
TERMS = (  # (column of the design, estimand, term)
    ("trend", "pre_law_trend_ratio_per_year", "trend"),
    ("post", "level_change_ratio", "law_level"),
    ("years_after_law", "slope_change_ratio_per_year", "law_slope"),
    ("pandemic", "pandemic_ratio", "pandemic"),
)


def load_its_inputs(con, case_mix: tuple[str, ...] = ()) -> tuple[pd.DataFrame, date, int]:
    """Spells' start date, sex, end reason, follow-up and case-mix covariates (as text) from ``spells``;
    extraction date and relapse window from the build record."""
    extra = [c for c in case_mix if c != "sex"]
    covariates = (", " + covariate_select_sql(extra)) if extra else ""
    spells = con.execute(f"select person_id, spell_start_date, sex, end_reason, followup_days{covariates} "
                         "from spells").df()
    row = con.execute("select extraction_date, study_json from main._build").fetchone()
    if row is None:
        raise ContractViolation("main._build is empty: run `koord build` first")
    extraction_date = row[0] if isinstance(row[0], date) else pd.Timestamp(row[0]).date()
    relapse_window = int(json.loads(row[1] or "{}").get("relapse_window_days", 30))
    return spells, extraction_date, relapse_window


def _month_start(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.to_period("M").dt.to_timestamp()


def monthly_series(spells: pd.DataFrame, horizon: int, extraction_date: date, relapse_window: int) -> pd.DataFrame:
    """Per start month: ``n_spells``, ``n_back`` within ``horizon`` days, for the months every spell of which can be judged."""
    month = _month_start(spells["spell_start_date"])
    back = (spells["end_reason"].astype(str).to_numpy() == "return_to_work") & (
        spells["followup_days"].to_numpy() <= horizon)
    frame = pd.DataFrame({"month": month, "back": back.astype(int), "person_id": spells["person_id"].to_numpy()})
    out = frame.groupby("month", sort=True).agg(n_spells=("back", "size"), n_back=("back", "sum"),
                                                n_persons=("person_id", "nunique")).reset_index()
    last_day = out["month"] + pd.offsets.MonthEnd(0)
    judged = last_day + pd.to_timedelta(horizon + relapse_window, unit="D") <= pd.Timestamp(extraction_date)
    return out.loc[judged].reset_index(drop=True)


def design_matrix(months: pd.Series, law_date: date, pandemic_from: date, pandemic_to: date) -> pd.DataFrame:
    """The segmented model's columns for a series of month starts (intercept, trend, law, pandemic, season)."""
    m = pd.to_datetime(months).reset_index(drop=True)
    first = m.iloc[0]
    months_since = (m.dt.year - first.year) * 12 + (m.dt.month - first.month)
    law = pd.Timestamp(law_date)
    months_since_law = (m.dt.year - law.year) * 12 + (m.dt.month - law.month)
    post = (m >= law).astype(float)
    X = pd.DataFrame({
        "const": 1.0,
        "trend": months_since / 12.0,
        "post": post,
        "years_after_law": np.where(post > 0, months_since_law / 12.0, 0.0),
        "pandemic": ((m >= pd.Timestamp(pandemic_from)) & (m <= pd.Timestamp(pandemic_to))).astype(float),
    })
    for k in range(2, 13):
        X[f"month_{k:02d}"] = (m.dt.month == k).astype(float)
    return X.loc[:, (X != 0).any(axis=0) | (X.columns == "const")]


def segmented_fit(series: pd.DataFrame, params: InterruptedTimeSeriesParameters) -> dict[str, Any]:
    """Fit the segmented Poisson model; coefficients with quasi-Poisson and Newey–West standard errors."""
    X = design_matrix(series["month"], *params.dates())
    y = series["n_back"].to_numpy(float)
    offset = np.log(series["n_spells"].to_numpy(float))
    model = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset)
    quasi = model.fit(scale="X2")
    hac = model.fit(cov_type="HAC", cov_kwds={"maxlags": params.newey_west_lags})
    counterfactual = X.copy()
    counterfactual[["post", "years_after_law"]] = 0.0
    return {
        "params": quasi.params, "se_quasi": quasi.bse, "se_hac": hac.bse, "dispersion": float(quasi.scale),
        "fitted_share": np.exp(X.to_numpy() @ quasi.params.to_numpy()),
        "counterfactual_share": np.exp(counterfactual.to_numpy() @ quasi.params.to_numpy()),
        "df_resid": float(quasi.df_resid), "n_months": int(len(series)),
    }


def case_mix_cells(spells: pd.DataFrame, horizon: int, months: pd.Series, case_mix: tuple[str, ...]) -> pd.DataFrame:
    """Spells of the series' months grouped by month and case-mix cell: ``n_spells`` and ``n_back`` per cell."""
    month = _month_start(spells["spell_start_date"])
    keep = month.isin(months).to_numpy()
    back = ((spells["end_reason"].astype(str).to_numpy() == "return_to_work")
            & (spells["followup_days"].to_numpy() <= horizon)).astype(int)
    frame = pd.DataFrame({"month": month.to_numpy(), "back": back})
    for c in case_mix:
        frame[c] = spells[c].astype(str).to_numpy()
    frame = frame.loc[keep]
    return (frame.groupby(["month", *case_mix], sort=True, observed=True)
            .agg(n_spells=("back", "size"), n_back=("back", "sum")).reset_index())


def adjusted_fit(cells: pd.DataFrame, params: InterruptedTimeSeriesParameters, case_mix: tuple[str, ...]) -> dict[str, Any]:
    """The segmented model on month x case-mix cells with indicator terms of the case mix (quasi-Poisson SE):
    the law's terms compare spells of the same make-up, so a drifting case mix (an ageing cohort, a history of
    earlier sick leave that lengthens as the register years accumulate) is not read as a change at the law."""
    X = design_matrix(cells["month"], *params.dates()).reset_index(drop=True)
    if case_mix:
        dummies = pd.get_dummies(cells[list(case_mix)].reset_index(drop=True), drop_first=True, dtype=float)
        X = pd.concat([X, dummies.loc[:, dummies.any(axis=0)]], axis=1)
    model = sm.GLM(cells["n_back"].to_numpy(float), X, family=sm.families.Poisson(),
                   offset=np.log(cells["n_spells"].to_numpy(float)))
    fit = model.fit(scale="X2")
    return {"params": fit.params, "se_quasi": fit.bse, "dispersion": float(fit.scale), "n_cells": int(len(cells))}


def interrupted_time_series(spec: AnalysisSpec, spells: pd.DataFrame, extraction_date: date, relapse_window: int,
                            progress: Callable[[str], None] = lambda _: None) -> Result:
    """The monthly series and the segmented model per sex and horizon (module docstring)."""
    p: InterruptedTimeSeriesParameters = spec.parameters  # type: ignore[assignment]
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    law = pd.Timestamp(p.dates()[0])
    for population in populations(p, spells):
        sub = spells.loc[population.mask(spells)]
        for horizon in p.horizons:
            series = monthly_series(sub, horizon, extraction_date, relapse_window)
            series = series.loc[series["n_spells"] >= p.min_spells_per_month].reset_index(drop=True)
            before, after = int((series["month"] < law).sum()), int((series["month"] >= law).sum())
            label = f"{population.sex}, {horizon} days"
            if min(before, after) < p.min_months_each_side:
                skipped.append(f"{label}: {before} months before and {after} after the law "
                               f"(at least {p.min_months_each_side} each side needed)")
                continue
            progress(f"  interrupted time series: {label}, {len(series)} months")
            fit = segmented_fit(series, p)
            in_series = _month_start(sub["spell_start_date"]).isin(series["month"]).to_numpy()
            common = {"subgroup": population.subgroup, "level": population.sex, "sex": population.sex,
                      "horizon_days": horizon, "n_persons": int(sub.loc[in_series, "person_id"].nunique()),
                      "n_events": int(series["n_back"].sum()), "n_spells": int(series["n_spells"].sum())}
            case_mix = tuple(c for c in p.case_mix if not (population.sex != "all" and c == "sex"))
            adjusted = adjusted_fit(case_mix_cells(sub, horizon, series["month"], case_mix), p, case_mix)
            fits = (("case_mix", "quasi_poisson", adjusted, adjusted["se_quasi"]),
                    ("crude", "quasi_poisson", fit, fit["se_quasi"]), ("crude", "newey_west", fit, fit["se_hac"]))
            for column, estimand, term in TERMS:
                for adjustment, variance, f, se in fits:
                    if column not in f["params"].index:
                        continue
                    rows.append({**common, "estimand": estimand, "term": term, "variance": variance,
                                 "adjustment": adjustment,
                                 **wald_row(float(f["params"][column]), float(se[column]), ratio=True),
                                 "row_diagnostics": {"dispersion": f["dispersion"], "n_months": fit["n_months"],
                                                     "months_before_law": before, "months_after_law": after}})
            low, high = wilson_interval(series["n_back"].to_numpy(float), series["n_spells"].to_numpy(float))
            for i, m in enumerate(series.itertuples(index=False)):
                rows.append({**common, "estimand": "monthly_share", "term": "share_back", "variance": None,
                             "adjustment": "crude",
                             "month": pd.Timestamp(m.month).date().isoformat(), "estimate": m.n_back / m.n_spells,
                             "conf_low": low[i], "conf_high": high[i], "n_events": int(m.n_back),
                             "n_persons": int(m.n_persons),
                             "n_spells": int(m.n_spells), "fitted_share": float(fit["fitted_share"][i]),
                             "counterfactual_share": float(fit["counterfactual_share"][i])})
    if not rows:
        raise ContractViolation("interrupted time series: no series long enough on both sides of the law ("
                                + "; ".join(skipped) + ")")
    diagnostics = {"law_date": p.law_date, "pandemic_from": p.pandemic_from, "pandemic_to": p.pandemic_to,
                   "case_mix": list(p.case_mix),
                   "skipped": skipped,
                   "extraction_date": extraction_date.isoformat(), "relapse_window_days": relapse_window}
    summary = finish_summary(rows, spec.id, METHOD, diagnostics)
    return Result(spec.id, METHOD, summary, diagnostics)


def wilson_interval(successes: np.ndarray, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score 95 % interval of a share."""
    z = Z_95
    p = successes / trials
    centre = (p + z**2 / (2 * trials)) / (1 + z**2 / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / (1 + z**2 / trials)
    return centre - half, centre + half
