"""Performance measures of the simulation study `koord validate` (Morris, White & Crowther 2019).

`koord check-truth` compares one synthetic delivery's analyses with its planted truth: one
pass or fail per check. Whether a miss is chance or bias shows only over many deliveries.
`koord validate` runs R replicates (seeds seed0+1 .. seed0+R) and this module summarises their
check rows (truth_check.csv, `pipeline.commands.recovery.CHECK_COLUMNS`) per check key
(analysis_id, check, sex, subgroup, level, term), with the formulas of Morris, White &
Crowther (2019, Stat Med 38:2074-2102), Table 6. With the estimate θ̂_i, its model SE s_i and
the truth θ_i of replicate i = 1..R (the truth may differ per replicate: the trials' true risk
differences are simulated from each delivery's own trial entries), on the check's scale
(`CHECK_SCALES`: log for ratios, natural otherwise):

- bias = mean(θ̂_i - θ_i), MC SE = sd(θ̂_i - θ_i) / sqrt(R) (sd with ddof 1); for ratios also on
  the natural scale (``bias_natural``) and relative (``relative_bias_pct`` = 100 mean(θ̂/θ - 1));
- empirical SE = sd(θ̂_i), MC SE = EmpSE / sqrt(2(R - 1)); ``error_sd`` = sd(θ̂_i - θ_i), which
  is the EmpSE when the truth is the same in every replicate;
- model SE = sqrt(mean(s_i²)), MC SE = sqrt(var(s_i²) / (4 R ModSE²)); relative % error in
  model SE = 100 (ModSE / E - 1), MC SE = 100 (ModSE / E) sqrt(var(s_i²) / (4 R ModSE⁴) + 1 / (2(R - 1))),
  with E = sd(θ̂_i - θ_i): Morris' EmpSE when the truth is constant, and the right yardstick when
  it is each replicate's own (the timing incidences' truth is the cohort's natural course: its
  spread over replicates is in sd(θ̂_i) but not in the error the interval must cover);
- coverage of the NOMINAL 95 % interval θ̂_i ± 1.96 sqrt(s_i² + m_i²), m_i the Monte Carlo SE of
  a simulated truth (0 when the truth is exact; the check's own comparison adds it the same
  way), MC SE = sqrt(cov (1 - cov) / R); bias-eliminated coverage: the same with θ_i + bias in
  place of θ_i (Morris' 1(θ̂_low ≤ mean θ̂ ≤ θ̂_upp) when the truth is constant). For the
  'reported' scale (an analysis' own interval, e.g. a profile-likelihood one) coverage is that
  of the reported interval, and there is no model SE;
- the pass rate of the check as run (its intervals widened for multiplicity), MC SE
  sqrt(p (1 - p) / R): the only measure of checks that are not interval estimates (scale 'none':
  signs, ranks, counts, 'misses').

A check whose coverage is below 90 % or outside 95 % ± 2 MC SE (the MC SE at the nominal 95 %:
sqrt(0.95 × 0.05 / R)) is flagged (``flag``); so, separately, is a bias beyond 3 of its MC SEs
(``bias_flag``: with some 80 estimands, 2 MC SE would flag about four by chance alone).
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

from pipeline.commands.recovery import default_scale

KEY = ["analysis_id", "check", "sex", "subgroup", "level", "term"]
NOMINAL = 0.95
Z_NOMINAL = 1.959963984540054  # the normal 97.5 % quantile
COVERAGE_FLOOR = 0.90
BIAS_Z = 3.0  # |bias| beyond this many MC SEs is flagged
VARIES = "(varies)"
# the main estimands of mandate question 1, first in the tables (the rest follow in their order)
MAIN_ANALYSES = ("tv_cox", "tv_poisson", "target_trial")
MAIN_CHECKS = ("covers_pooled_planted_hr", "covers_true_risk_difference")
INTERVAL_SCALES = ("log", "natural", "reported")

MEASURE_COLUMNS = [
    *KEY, "scale", "n_replicates", "n_missing", "n_failed_replicates", "mean_estimate", "mean_truth", "sd_truth",
    "bias", "bias_mcse", "bias_natural", "bias_natural_mcse", "relative_bias_pct",
    "emp_se", "emp_se_mcse", "error_sd", "model_se", "model_se_mcse", "rel_error_model_se_pct",
    "rel_error_model_se_pct_mcse", "coverage", "coverage_mcse", "be_coverage", "be_coverage_mcse",
    "pass_rate", "pass_rate_mcse", "flag", "bias_flag",
]


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if len(x) > 1 else float("nan")


def _proportion(hits: np.ndarray) -> tuple[float, float]:
    n = len(hits)
    if n == 0:
        return float("nan"), float("nan")
    p = float(np.mean(hits))
    return p, math.sqrt(p * (1 - p) / n)


def nominal_band(n_replicates: int, nominal: float = NOMINAL) -> tuple[float, float]:
    """95 % ± 2 MC SE, the MC SE of a coverage at its nominal value: sqrt(0.95 × 0.05 / R)."""
    mcse = math.sqrt(nominal * (1 - nominal) / n_replicates) if n_replicates else float("nan")
    return nominal - 2 * mcse, min(1.0, nominal + 2 * mcse)


def interval_measures(estimate, truth, std_error, mc_se=None, *, scale: str = "natural",
                      conf_low=None, conf_high=None) -> dict:
    """The measures of one interval estimate over its replicates (module docstring).

    Parameters
    ----------
    estimate, truth : per replicate, on the natural scale (a ratio as the ratio itself).
    std_error : model SE per replicate on the check's scale (of log(estimate) for 'log').
    mc_se : Monte Carlo SE of each replicate's truth on the natural scale (None or NaN: exact).
    scale : 'log', 'natural' or 'reported' (coverage of conf_low..conf_high, no model SE).
    conf_low, conf_high : the reported interval ('reported' only).
    """
    est = np.asarray(estimate, dtype=float)
    tru = np.asarray(truth, dtype=float)
    se = np.asarray(std_error, dtype=float) if std_error is not None else np.full(len(est), np.nan)
    mc = np.zeros(len(est)) if mc_se is None else np.nan_to_num(np.asarray(mc_se, dtype=float), nan=0.0)
    if scale not in INTERVAL_SCALES:
        raise ValueError(f"scale must be one of {INTERVAL_SCALES}, got {scale!r}")
    R = len(est)
    out: dict = {"n_replicates": R}
    if R == 0:
        return out
    if scale == "log":
        theta_hat, theta = np.log(est), np.log(tru)
        mc = mc / tru  # delta method: SE of log(truth)
    else:
        theta_hat, theta = est, tru
    err = theta_hat - theta
    out["mean_estimate"], out["mean_truth"], out["sd_truth"] = float(est.mean()), float(tru.mean()), _sd(tru)
    out["bias"], out["bias_mcse"] = float(err.mean()), _sd(err) / math.sqrt(R)
    nat = est - tru
    out["bias_natural"], out["bias_natural_mcse"] = float(nat.mean()), _sd(nat) / math.sqrt(R)
    out["relative_bias_pct"] = float(100 * np.mean(est / tru - 1)) if np.all(tru != 0) else float("nan")
    out["emp_se"] = _sd(theta_hat)
    out["emp_se_mcse"] = out["emp_se"] / math.sqrt(2 * (R - 1)) if R > 1 else float("nan")
    out["error_sd"] = _sd(err)
    if scale == "reported":
        low, high = np.asarray(conf_low, dtype=float), np.asarray(conf_high, dtype=float)
        covered = (low <= tru) & (tru <= high)
        shifted = tru + out["bias_natural"]
        be_covered = (low <= shifted) & (shifted <= high)
    else:
        s2 = se ** 2
        model_se = math.sqrt(float(s2.mean()))
        var_s2 = float(np.var(s2, ddof=1)) if R > 1 else float("nan")
        out["model_se"] = model_se
        out["model_se_mcse"] = math.sqrt(var_s2 / (4 * R * model_se ** 2)) if model_se > 0 else float("nan")
        yardstick = out["error_sd"]
        ratio = model_se / yardstick if yardstick and np.isfinite(yardstick) else float("nan")
        out["rel_error_model_se_pct"] = 100 * (ratio - 1)
        out["rel_error_model_se_pct_mcse"] = (100 * ratio * math.sqrt(var_s2 / (4 * R * model_se ** 4)
                                                                      + 1 / (2 * (R - 1)))
                                              if R > 1 and model_se > 0 else float("nan"))
        half = Z_NOMINAL * np.sqrt(s2 + mc ** 2)
        covered = np.abs(err) <= half
        be_covered = np.abs(err - out["bias"]) <= half
    out["coverage"], out["coverage_mcse"] = _proportion(covered)
    out["be_coverage"], out["be_coverage_mcse"] = _proportion(be_covered)
    return out


def coverage_flag(coverage: float, n_replicates: int) -> str:
    """'' or why the coverage is flagged: below 90 %, or outside 95 % ± 2 MC SE (at the nominal)."""
    if not np.isfinite(coverage) or not n_replicates:
        return ""
    flags = []
    if coverage < COVERAGE_FLOOR:
        flags.append("coverage < 90 %")
    low, high = nominal_band(n_replicates)
    if not low <= coverage <= high:
        flags.append("outside 95 % ± 2 MC SE")
    return "; ".join(flags)


def bias_flag(bias: float, bias_mcse: float) -> str:
    """'' or 'bias beyond 3 MC SE' (`BIAS_Z`)."""
    if not (np.isfinite(bias) and np.isfinite(bias_mcse)) or bias_mcse <= 0:
        return ""
    return f"bias {bias / bias_mcse:+.1f} MC SE" if abs(bias) > BIAS_Z * bias_mcse else ""


def _collapse_descriptive(rows: pd.DataFrame) -> pd.DataFrame:
    """Key columns that are results, not identities, become '(varies)'.

    A check with one row per (analysis_id, check, sex, subgroup) and replicate whose level or
    term differs between replicates (the regions flagged, 'worst: … at 2.1 SE') is one quantity.
    """
    rows = rows.copy()
    group = ["analysis_id", "check", "sex", "subgroup"]
    for _, g in rows.groupby(group, dropna=False, sort=False):
        if g.groupby("replicate").size().max() != 1:
            continue
        for column in ("level", "term"):
            if g[column].astype(str).nunique() > 1:
                rows.loc[g.index, column] = VARIES
    return rows


def _order(table: pd.DataFrame) -> pd.DataFrame:
    """Main estimands first (`MAIN_ANALYSES`, `MAIN_CHECKS`), then interval estimates, then the rest."""
    def rank(r) -> tuple:
        a = MAIN_ANALYSES.index(r["analysis_id"]) if r["analysis_id"] in MAIN_ANALYSES else len(MAIN_ANALYSES)
        main = 0 if (r["analysis_id"] in MAIN_ANALYSES and r["check"] in MAIN_CHECKS) else 1
        return (0 if r["scale"] in INTERVAL_SCALES else 1, main, a)

    keys = [rank(r) for _, r in table.iterrows()]
    position = sorted(range(len(table)), key=lambda i: (*keys[i], i))
    return table.iloc[position].reset_index(drop=True)


def performance_measures(checks: pd.DataFrame, n_failed_replicates: int = 0) -> pd.DataFrame:
    """One row per check key with every measure (`MEASURE_COLUMNS`).

    Parameters
    ----------
    checks : the check rows of all replicates (`CHECK_COLUMNS` + ``replicate``; ``scale`` when
        present, else derived with `pipeline.commands.recovery.default_scale`).
    n_failed_replicates : replicates whose pipeline failed (they have no rows).
    """
    if checks.empty:
        return pd.DataFrame(columns=MEASURE_COLUMNS)
    rows = checks.copy()
    for column in KEY:
        rows[column] = rows[column].astype(str)
    if "scale" not in rows.columns:
        rows["scale"] = np.nan
    rows["scale"] = [s if isinstance(s, str) and s else default_scale(r["expectation"], r["estimate"], r["conf_low"],
                                                                        r["conf_high"], r["std_error"])
                     for s, (_, r) in zip(rows["scale"], rows.iterrows())]
    rows["passed"] = rows["passed"].map(lambda v: str(v).strip().lower() in ("true", "1"))
    rows = _collapse_descriptive(rows)
    n_all = rows["replicate"].nunique()
    out = []
    for key, g in rows.groupby(KEY, dropna=False, sort=False):
        scales = g["scale"].unique()
        scale = scales[0] if len(scales) == 1 else "none"
        rec = dict(zip(KEY, key), scale=scale, n_failed_replicates=int(n_failed_replicates))
        rec["pass_rate"], rec["pass_rate_mcse"] = _proportion(g["passed"].to_numpy())
        if scale in INTERVAL_SCALES:
            est, tru = g["estimate"].to_numpy(float), g["truth"].to_numpy(float)
            se = g["std_error"].to_numpy(float)
            ok = np.isfinite(est) & np.isfinite(tru)
            if scale != "reported":
                ok &= np.isfinite(se)
            if scale == "log":
                ok &= (est > 0) & (tru > 0)
            m = interval_measures(est[ok], tru[ok], se[ok], g["mc_se"].to_numpy(float)[ok], scale=scale,
                                  conf_low=g["conf_low"].to_numpy(float)[ok], conf_high=g["conf_high"].to_numpy(float)[ok])
            rec.update(m)
            rec["flag"] = coverage_flag(rec.get("coverage", float("nan")), rec["n_replicates"])
            rec["bias_flag"] = bias_flag(rec.get("bias", float("nan")), rec.get("bias_mcse", float("nan")))
        else:
            rec["n_replicates"] = len(g)
            est = g["estimate"].to_numpy(float)
            tru = g["truth"].to_numpy(float)
            rec["mean_estimate"] = float(np.nanmean(est)) if np.isfinite(est).any() else float("nan")
            rec["mean_truth"] = float(np.nanmean(tru)) if np.isfinite(tru).any() else float("nan")
            rec["flag"] = rec["bias_flag"] = ""
        rec["n_missing"] = n_all - int(rec["n_replicates"])
        out.append(rec)
    table = pd.DataFrame(out).reindex(columns=MEASURE_COLUMNS)
    return _order(table)


# --- presentation --------------------------------------------------------------------------------


def _f(x, spec: str) -> str:
    return "-" if x is None or not np.isfinite(float(x)) else format(float(x), spec)


def _label(r) -> str:
    population = f"{r['sex']}/{r['subgroup']}" + ("" if r["level"] in ("all", r["sex"]) else f"={r['level']}")
    term = "" if r["term"] in ("is_coordinated", "all") else f" {r['term']}"
    return f"{r['analysis_id']} {r['check']} {population}{term}"


def table_lines(measures: pd.DataFrame, *, markdown: bool = False) -> list[str]:
    """The coverage table (interval estimates) and the pass rates (the other checks), as text lines."""
    interval = measures[measures["scale"].isin(INTERVAL_SCALES)]
    other = measures[~measures["scale"].isin(INTERVAL_SCALES)]
    head = ["estimand", "scale", "R", "truth", "bias (MC SE)", "EmpSE", "ModSE", "ModSE err % (MC SE)",
            "coverage % (MC SE)", "BE cov %", "flag"]
    body = []
    for _, r in interval.iterrows():
        digits = ".4f" if r["scale"] == "natural" else ".3f"
        body.append([_label(r), r["scale"], str(int(r["n_replicates"])), _f(r["mean_truth"], digits),
                     f"{_f(r['bias'], '+.4f')} ({_f(r['bias_mcse'], '.4f')})", _f(r["emp_se"], ".4f"),
                     _f(r["model_se"], ".4f"),
                     f"{_f(r['rel_error_model_se_pct'], '+.1f')} ({_f(r['rel_error_model_se_pct_mcse'], '.1f')})",
                     f"{_f(100 * r['coverage'], '.1f')} ({_f(100 * r['coverage_mcse'], '.1f')})",
                     _f(100 * r["be_coverage"], ".1f"),
                     "; ".join(f for f in (r["flag"], r["bias_flag"]) if isinstance(f, str) and f)])
    head2 = ["check", "R", "pass rate % (MC SE)", "mean estimate", "mean truth"]
    body2 = [[_label(r), str(int(r["n_replicates"])),
              f"{_f(100 * r['pass_rate'], '.1f')} ({_f(100 * r['pass_rate_mcse'], '.1f')})",
              _f(r["mean_estimate"], ".4g"), _f(r["mean_truth"], ".4g")] for _, r in other.iterrows()]
    return [*_render(head, body, markdown), "", *_render(head2, body2, markdown)]


def _render(head: list[str], body: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        return ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|",
                *("| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in body)]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(head)]
    fmt = lambda row: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    return [fmt(head), *(fmt(row) for row in body)]


def headline_lines(measures: pd.DataFrame) -> list[str]:
    """Per analysis and interval check: estimands, their coverage range and how many are flagged."""
    rows = measures[measures["scale"].isin(INTERVAL_SCALES) & measures["coverage"].notna()]
    lines = []
    for (analysis_id, check), g in rows.groupby(["analysis_id", "check"], sort=False):
        cov = 100 * g["coverage"]
        n_flag = int((g["flag"].fillna("").astype(str) != "").sum())
        n_bias = int((g["bias_flag"].fillna("").astype(str) != "").sum())
        lines.append(f"{analysis_id} {check}: {len(g)} estimand(s), coverage {cov.min():.0f}-{cov.max():.0f} % "
                     f"(mean {cov.mean():.1f} %), bias-eliminated {100 * g['be_coverage'].min():.0f}-"
                     f"{100 * g['be_coverage'].max():.0f} %, "
                     + (f"model SE error {g['rel_error_model_se_pct'].min():+.0f} to {g['rel_error_model_se_pct'].max():+.0f} %; "
                        if g["rel_error_model_se_pct"].notna().any() else "")
                     + f"{n_flag} coverage flag(s), {n_bias} bias flag(s)")
    return lines


def flagged(measures: pd.DataFrame, column: str = "flag") -> pd.DataFrame:
    """The rows flagged in ``column`` ('flag': coverage; 'bias_flag': bias)."""
    return measures[measures[column].fillna("").astype(str) != ""]


def coverage_figure(measures: pd.DataFrame, path, *, title: str = "") -> bool:
    """Coverage with ± 1.96 MC SE bars against 95 %, the band 95 % ± 2 MC SE shaded (False: nothing to plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = measures[measures["scale"].isin(INTERVAL_SCALES) & measures["coverage"].notna()]
    if rows.empty:
        return False
    n = len(rows)
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.22 * n))
    y = np.arange(n)[::-1]
    cov = 100 * rows["coverage"].to_numpy(float)
    err = 100 * 1.96 * rows["coverage_mcse"].to_numpy(float)
    R = int(rows["n_replicates"].max())
    low, high = nominal_band(R)
    ax.axvspan(100 * low, 100 * high, color="0.88", label=f"95 % ± 2 MC SE (R = {R})")
    ax.axvline(95, color="0.3", lw=1)
    ax.axvline(90, color="tab:red", lw=0.8, ls=":", label="90 %")
    bad = rows["flag"].fillna("").astype(str).to_numpy() != ""
    ax.errorbar(cov[~bad], y[~bad], xerr=err[~bad], fmt="o", color="tab:blue", ms=4, capsize=2, label="coverage ± 1.96 MC SE")
    if bad.any():
        ax.errorbar(cov[bad], y[bad], xerr=err[bad], fmt="s", color="tab:red", ms=4, capsize=2, label="flagged")
    ax.set_yticks(y)
    ax.set_yticklabels([_label(r) for _, r in rows.iterrows()], fontsize=6)
    ax.set_xlabel("coverage of the nominal 95 % interval (%)")
    ax.set_xlim(max(0.0, min(50.0, float(np.nanmin(cov - err)) - 2)), 101)
    ax.set_ylim(-1, n)
    ax.legend(fontsize=7, loc="lower left")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def read_replicates(paths: Iterable[tuple[int, object]]) -> pd.DataFrame:
    """The truth_check.csv of each (seed, path) with a column ``replicate`` (the seed)."""
    frames = []
    for seed, path in paths:
        frame = pd.read_csv(path, dtype={"level": str, "term": str, "sex": str, "subgroup": str})
        frames.append(frame.assign(replicate=int(seed)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


__all__ = ["KEY", "MEASURE_COLUMNS", "bias_flag", "coverage_figure", "coverage_flag", "flagged", "headline_lines", "interval_measures",
           "nominal_band", "performance_measures", "read_replicates", "table_lines"]
