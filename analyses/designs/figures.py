"""Figures of the analyses: cumulative incidence by arm, forest plots of the effects, covariate balance.

Drawn from the result tables only, as PNG bytes that `koord analyse` writes to
``<out>/internt/figures/`` (`pipeline.commands.results_store`): ``cif_<analysis>.png`` (return to work by arm of the emulated trials,
for everyone, women and men), ``forest_<analysis>.png`` (each ratio analysis: everyone, women,
men and the subgroups), ``forest_designs.png`` (the main estimate of every design side by
side, the naive one included) and ``balance_<analysis>.png`` (|SMD| before and after weighting).
They are unchecked working material that must not leave the secure environment; the report
(`reports/`) draws its own figures after disclosure control.
"""

from __future__ import annotations

import io
from typing import Mapping

import matplotlib

matplotlib.use("Agg")  # files only, no display (the secure environment has none)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

RATIO_ESTIMANDS = ("hazard_ratio", "rate_ratio")
SEX_ORDER = ("all", "woman", "man")
ARM_STYLE = {"coordination_now": ("tab:blue", "Coordination now"), "not_now": ("tab:orange", "Not now"),
             "first_gc001": ("tab:blue", "First GC001"), "by_day_30": ("tab:blue", "GC001 by day 30"),
             "by_day_60": ("tab:green", "GC001 by day 60"), "by_day_90": ("tab:purple", "GC001 by day 90"),
             "none_within_90": ("tab:orange", "No GC001 within 90 days")}
OTHER_COLOURS = ("tab:red", "tab:brown", "tab:pink", "tab:grey", "tab:olive", "tab:cyan")


def _png(fig) -> bytes:
    """The figure as PNG bytes (120 dpi); the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return buffer.getvalue()


def plot_cumulative_incidence(curves: pd.DataFrame, title: str,
                              ylabel: str = "Cumulative incidence of return to work") -> bytes:
    """Cumulative incidence per arm (curve) with bootstrap bands, one panel per sex."""
    main = curves[curves["subgroup"].isin(["all", "sex"])]
    sexes = [s for s in SEX_ORDER if s in set(main["sex"])]
    others = [a for a in dict.fromkeys(main["arm"].astype(str)) if a not in ARM_STYLE]
    styles = {a: v for a, v in ARM_STYLE.items() if a in set(main["arm"].astype(str))}
    styles.update({a: (OTHER_COLOURS[i % len(OTHER_COLOURS)], a) for i, a in enumerate(others)})
    fig, axes = plt.subplots(1, len(sexes), figsize=(4.2 * len(sexes), 3.6), sharey=True, squeeze=False)
    for ax, sex in zip(axes[0], sexes):
        for arm, (colour, label) in styles.items():
            c = main[(main["sex"] == sex) & (main["arm"] == arm)].sort_values("time")
            if c.empty:
                continue
            ax.step(c["time"], c["cif"], where="post", color=colour, label=label)
            if c["conf_low"].notna().any():
                ax.fill_between(c["time"], c["conf_low"], c["conf_high"], step="post", color=colour, alpha=0.2)
        ax.set_title({"all": "Everyone", "woman": "Women", "man": "Men"}.get(sex, sex))
        ax.set_xlabel("Days since time zero")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][0].legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return _png(fig)


def _forest_label(row: pd.Series) -> str:
    population = {"all": "Everyone", "woman": "Women", "man": "Men"}.get(str(row.get("sex")), str(row.get("sex")))
    parts = [population]
    if row["subgroup"] not in ("all", "sex"):
        parts.append(f"{row['subgroup']}: {row['level']}")
    if isinstance(row.get("term"), str) and row["term"] != "is_coordinated":
        parts.append(row["term"])
    return " · ".join(parts)


def plot_forest(rows: pd.DataFrame, title: str, reference: float = 1.0) -> bytes:
    """Point estimates and 95 % intervals on a log axis, one line per row."""
    rows = rows.reset_index(drop=True)
    labels = rows["label"] if "label" in rows else rows.apply(_forest_label, axis=1)
    height = max(2.5, 0.28 * len(rows) + 1.2)
    fig, ax = plt.subplots(figsize=(8, height))
    y = np.arange(len(rows))[::-1]
    passes = rows.get("passes", pd.Series(True, index=rows.index)).fillna(True).astype(bool).to_numpy()
    est, low, high = (rows[c].to_numpy(dtype=float) for c in ("estimate", "conf_low", "conf_high"))
    ax.errorbar(est, y, xerr=np.vstack([est - low, high - est]), fmt="none", ecolor="grey", elinewidth=1)
    ax.scatter(est[passes], y[passes], color="black", zorder=3, label="diagnostics pass")
    if (~passes).any():
        ax.scatter(est[~passes], y[~passes], facecolor="white", edgecolor="black", zorder=3, label="diagnostics fail")
    ax.axvline(reference, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("Ratio (95 % CI), log scale")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def plot_balance(balance: pd.DataFrame, title: str, threshold: float = 0.1) -> bytes:
    """|SMD| per covariate before and after weighting (pooled over trials), threshold line."""
    b = balance[(balance["sex"] == "all") & (balance["subgroup"] == "all")]
    if "trial_week" in b.columns and b["trial_week"].notna().any():  # the trials: pooled over trial weeks
        b = b[b["trial_week"] == "all"]
    b = b.assign(before=b["smd_before"].abs(), after=b["smd_after"].abs())
    if "arm" in b.columns and b["arm"].notna().any():  # the timing strategies: each covariate's worst arm and day
        b = b.groupby("covariate", as_index=False)[["before", "after"]].max()
    b = b.sort_values("before")
    fig, ax = plt.subplots(figsize=(7, max(3, 0.22 * len(b) + 1.2)))
    y = np.arange(len(b))
    ax.scatter(b["before"], y, marker="o", facecolor="white", edgecolor="tab:red", label="before weighting")
    ax.scatter(b["after"], y, marker="o", color="tab:blue", label="after weighting")
    ax.axvline(threshold, color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(b["covariate"], fontsize=7)
    ax.set_xlabel("|standardised mean difference|")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _passes(frame: pd.DataFrame) -> pd.Series:
    import json

    return frame["diagnostics"].map(lambda t: json.loads(t).get("passes") if isinstance(t, str) else None)


def draw_figures(tables: Mapping[str, pd.DataFrame], specs) -> dict[str, bytes]:
    """Every figure the results support, as ``{file name: PNG bytes}``; the caller writes them."""
    drawn: dict[str, bytes] = {}
    curves = tables.get("cif_curves", pd.DataFrame())
    if len(curves):
        for analysis_id, c in curves.groupby("analysis_id"):
            if set(c["arm"].astype(str)) == {"first_gc001"}:  # coordination_timing: the first GC001, not return to work
                drawn[f"cif_{analysis_id}.png"] = plot_cumulative_incidence(
                    c, f"First coordination ({analysis_id})", ylabel="Cumulative incidence of the first GC001")
            else:
                drawn[f"cif_{analysis_id}.png"] = plot_cumulative_incidence(c, f"Return to work by arm ({analysis_id})")
    design_rows = []
    for spec in specs:
        summary = tables.get(spec.id)
        if summary is None or summary.empty:
            continue
        ratio = summary[summary["estimand"].isin(RATIO_ESTIMANDS)].copy()
        if ratio.empty:
            continue
        ratio["passes"] = _passes(ratio)
        drawn[f"forest_{spec.id}.png"] = plot_forest(ratio, f"{spec.id}: {spec.design}")
        overall = ratio[(ratio["subgroup"] == "all")].copy()
        overall["label"] = [f"{spec.id} · {t}" if t != "is_coordinated" else spec.id for t in overall["term"]]
        design_rows.append(overall)
    if design_rows:
        drawn["forest_designs.png"] = plot_forest(pd.concat(design_rows, ignore_index=True),
                                                  "Coordination and return to work: every design, everyone")
    balance = tables.get("balance", pd.DataFrame())
    if len(balance):
        for analysis_id, b in balance.groupby("analysis_id"):
            drawn[f"balance_{analysis_id}.png"] = plot_balance(b, f"Covariate balance ({analysis_id})")
    return drawn


__all__ = ["draw_figures", "plot_balance", "plot_cumulative_incidence", "plot_forest"]
