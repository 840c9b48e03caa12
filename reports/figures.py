"""Figures of the report, drawn with matplotlib from checked outputs only, with Swedish axes and alt text.

A figure is itself a declared output (class ``figure``) naming its sources; drawing needs the
checked figure and the checked sources it names, so nothing unchecked can be plotted.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display in the secure environment
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from koord.errors import DisclosureError  # noqa: E402
from reports.disclosure import CheckedOutput, DisclosureClass, require_checked  # noqa: E402
from reports.formatting import format_interval, format_number, format_percent, format_ratio, is_missing  # noqa: E402

FONT = "DejaVu Sans"  # has å ä ö and is installed with matplotlib
DPI = 150
COLOURS = ("#1f5f8b", "#c0504d", "#5b8c3a", "#8064a2")  # distinguishable, also in greyscale by line style
LINESTYLES = ("-", "--", "-.", ":")


@dataclass(frozen=True)
class Figure:
    figure_id: str
    caption: str
    alt: str
    png_base64: str
    output_ids: tuple[str, ...]

    @property
    def data_uri(self) -> str:
        return f"data:image/png;base64,{self.png_base64}"


def _check_sources(figure: CheckedOutput, sources: Sequence[CheckedOutput]) -> None:
    require_checked(figure, "figure")
    if figure.disclosure_class is not DisclosureClass.FIGURE:
        raise DisclosureError(f"{figure.output_id!r} is not a checked figure")
    for s in sources:
        require_checked(s, f"figure {figure.output_id}")
        if s.output_id not in figure.source_ids:
            raise DisclosureError(f"figure {figure.output_id!r} was not declared to be drawn from {s.output_id!r}")


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _style() -> dict:
    return {"font.family": FONT, "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}


def cif_figure(
    figure: CheckedOutput,
    curve: CheckedOutput,
    *,
    figure_id: str,
    caption: str,
    estimate_column: str,
    panel_column: str | None,
    line_column: str | None,
    panel_label: Callable[[Hashable], str],
    line_label: Callable[[Hashable], str],
    outcome_sv: str,
    where: Mapping[str, Hashable | tuple] | None = None,
    max_day: float | None = None,
) -> Figure:
    """Step curves of cumulative incidence, one panel per ``panel_column`` value, one line per ``line_column`` value.

    Only the steps disclosure control kept are drawn; each curve ends at its last shown step.
    ``where`` keeps the rows with these values (e.g. ``{"cause": "return_to_work"}``; a tuple: any of them).
    """
    _check_sources(figure, [curve])
    data = curve.table("curve")
    for column, value in (where or {}).items():
        data = data[data[column].isin(value) if isinstance(value, tuple) else data[column] == value]
    time_col = curve.meta.get("time_column", "time")
    panels = list(dict.fromkeys(data[panel_column])) if panel_column else [None]
    with plt.rc_context(_style()):
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), sharey=True, squeeze=False)
        alt_parts = []
        for ax, panel in zip(axes[0], panels):
            sub = data if panel is None else data[data[panel_column] == panel]
            lines = list(dict.fromkeys(sub[line_column])) if line_column else [None]
            finals = []
            for i, line in enumerate(lines):
                d = sub if line is None else sub[sub[line_column] == line]
                d = d.sort_values(time_col)
                t = d[time_col].astype(float).to_numpy()
                y = d[estimate_column].astype(float).to_numpy() * 100
                ax.step(t, y, where="post", color=COLOURS[i % len(COLOURS)], linestyle=LINESTYLES[i % len(LINESTYLES)],
                        label=line_label(line) if line is not None else None, linewidth=1.6)
                if len(t):
                    finals.append(f"{line_label(line).lower() if line is not None else 'samtliga'} "
                                  f"{format_percent(y[-1])} vid dag {format_number(t[-1])}")
            title = panel_label(panel) if panel is not None else ""
            ax.set_title(title)
            ax.set_xlabel("Dagar sedan sjukfallets början")
            if max_day:
                ax.set_xlim(0, max_day)
            ax.set_ylim(0, 100)
            ax.grid(axis="y", linewidth=0.4, alpha=0.5)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_number(v)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_percent(v, 0)))
            if line_column:
                ax.legend(frameon=False, loc="lower right")
            alt_parts.append(f"{title or 'Samtliga'}: " + "; ".join(finals))
        axes[0][0].set_ylabel(f"Kumulativ andel, {outcome_sv}")
        png = _png(fig)
    panels_text = f"en panel per {'kön' if panel_column == 'sex' else 'grupp'}" if panel_column else "en panel"
    alt = (
        f"Stegkurvor av kumulativ andel med {outcome_sv} (procent, lodrät axel) mot dagar sedan sjukfallets början "
        f"(vågrät axel), {panels_text}"
        + (", med en linje per grupp (koordinerade och ej koordinerade sjukfall)" if line_column else "")
        + ". Kurvorna visar bara steg med tillräckligt många händelser och i risk. Senast redovisade värden: "
        + ". ".join(alt_parts) + "."
    )
    return Figure(figure_id, caption, alt, png, (figure.output_id, curve.output_id))


def forest_figure(
    figure: CheckedOutput,
    models: Sequence[CheckedOutput],
    *,
    figure_id: str,
    caption: str,
    rows: pd.DataFrame,
    label_column: str,
    series_column: str,
    series_label: Callable[[Hashable], str],
    estimand_sv: str,
) -> Figure:
    """Estimates with 95 % intervals per subgroup (rows) and series (e.g. women, men), log scale, line at 1.

    ``rows`` must be taken from the ``summary`` tables of ``models``; suppressed estimates
    (None) are listed but not drawn.
    """
    _check_sources(figure, models)
    data = rows.copy()
    labels = list(dict.fromkeys(data[label_column]))
    series = list(dict.fromkeys(data[series_column]))
    shown = data[data["estimate"].notna()]
    if shown.empty:
        raise DisclosureError(f"figure {figure.output_id!r}: no estimate left to draw")
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(6.8, 0.32 * len(labels) + 1.2))
        offsets = np.linspace(-0.18, 0.18, len(series)) if len(series) > 1 else [0.0]
        for i, s in enumerate(series):
            d = data[(data[series_column] == s) & data["estimate"].notna()]
            y = [len(labels) - 1 - labels.index(lbl) + offsets[i] for lbl in d[label_column]]
            est = d["estimate"].astype(float).to_numpy()
            lo = d["conf_low"].astype(float).to_numpy()
            hi = d["conf_high"].astype(float).to_numpy()
            ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o" if i == 0 else "s", color=COLOURS[i % len(COLOURS)],
                        markersize=4, capsize=2, linewidth=1, label=series_label(s))
        withheld = data[data["estimate"].isna()]
        for lbl in dict.fromkeys(withheld[label_column]):
            if lbl not in set(shown[label_column]):
                ax.text(1.0, len(labels) - 1 - labels.index(lbl), "  redovisas inte (för få händelser)",
                        va="center", ha="left", fontsize=8, color="#555")
        ax.axvline(1.0, color="#444", linewidth=0.8)
        ax.set_xscale("log")
        low = float(np.nanmin(shown["conf_low"].astype(float).clip(lower=1e-3)))
        high = float(np.nanmax(shown["conf_high"].astype(float)))
        ticks = [t for t in (0.1, 0.2, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 10.0) if low / 1.2 <= t <= high * 1.2]
        ax.set_xticks(ticks or [1.0])
        ax.set_yticks(range(len(labels)))
        ax.set_ylim(-0.7, len(labels) - 0.3)
        ax.set_yticklabels(list(reversed(labels)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_number(v, 2 if v < 1 else (1 if v % 1 else 0))))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_xlabel(f"{estimand_sv} med 95 % konfidensintervall (logaritmisk skala)")
        if len(series) > 1:
            ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="x", linewidth=0.4, alpha=0.5)
        png = _png(fig)
    lo_, hi_ = float(shown["estimate"].min()), float(shown["estimate"].max())
    n_hidden = int(data["estimate"].isna().sum())
    alt = (
        f"Skogsdiagram: {estimand_sv} med 95 % konfidensintervall per undergrupp ({len(labels)} rader), "
        f"{' och '.join(series_label(s).lower() for s in series)} med olika markörer, på logaritmisk skala med en "
        f"lodrät linje vid 1 (ingen skillnad). Skattningarna ligger mellan {format_ratio(lo_)} och {format_ratio(hi_)}"
        + (f"; {n_hidden} skattningar redovisas inte (för få händelser)" if n_hidden else "")
        + ". Samma värden finns i tabellen under figuren."
    )
    return Figure(figure_id, caption, alt, png, (figure.output_id, *(m.output_id for m in models)))


def describe_interval(row: pd.Series) -> str:
    """``'1,12 (0,95–1,30)'`` for alt texts."""
    if is_missing(row.get("estimate")):
        return "redovisas inte"
    return f"{format_ratio(row['estimate'])} ({format_interval(row['conf_low'], row['conf_high'])})"


def funnel_figure(
    figure: CheckedOutput,
    model: CheckedOutput,
    *,
    figure_id: str,
    caption: str,
    panels: Sequence[tuple[str, pd.DataFrame]],
    label_column: str,
    measure_sv: str,
) -> Figure:
    """Funnel plots of observed/expected against expected, one panel per population (e.g. everyone, women, men).

    Each panel's rows come from ``model``'s ``summary`` (estimand O/E, with ``expected`` and the
    limits ``funnel_low_95``/``funnel_high_95``, ``funnel_low_998``/``funnel_high_998``
    (over-dispersion-adjusted, solid) and ``funnel_low_998_poisson``/``funnel_high_998_poisson``
    (exact Poisson, dashed)); the limits are drawn through the regions' own values, so the
    funnel is read off the published rows. Withheld rows are not drawn; regions outside the
    99.8 % limits (``outside_998``) are named.
    """
    _check_sources(figure, [model])
    drawn = [(title, d[d["estimate"].notna() & d["expected"].notna()].copy()) for title, d in panels]
    if all(d.empty for _, d in drawn):
        raise DisclosureError(f"figure {figure.output_id!r}: no estimate left to draw")
    alt_parts = []
    with plt.rc_context(_style()):
        fig, axes = plt.subplots(1, len(drawn), figsize=(3.0 * len(drawn) + 0.6, 4.0), sharey=True, squeeze=False)
        y_all = pd.concat([d for _, d in drawn if not d.empty])
        top = min(float(np.nanmax(np.r_[y_all["estimate"].astype(float), y_all["funnel_high_998"].astype(float)])),
                  max(3.0, float(y_all["estimate"].astype(float).max())))
        bottom = float(np.nanmin(np.r_[y_all["estimate"].astype(float), y_all["funnel_low_95"].astype(float)]))
        for ax, (title, d) in zip(axes[0], drawn):
            ax.set_title(title)
            ax.axhline(1.0, color="#444", linewidth=0.8)
            if d.empty:
                ax.text(0.5, 0.5, "redovisas inte", transform=ax.transAxes, ha="center", color="#555")
                continue
            d = d.sort_values("expected")
            e = d["expected"].astype(float).to_numpy()
            for low, high, style, colour, width in (
                ("funnel_low_95", "funnel_high_95", "-", "#9bb7cf", 1.0),
                ("funnel_low_998", "funnel_high_998", "-", "#1f5f8b", 1.2),
                ("funnel_low_998_poisson", "funnel_high_998_poisson", "--", "#777777", 0.9),
            ):
                if low in d.columns and d[low].notna().any():
                    ax.plot(e, d[low].astype(float), style, color=colour, linewidth=width)
                    ax.plot(e, d[high].astype(float), style, color=colour, linewidth=width)
            outside = np.array([not is_missing(v) and bool(v) for v in d.get("outside_998", [None] * len(d))], dtype=bool)
            ax.scatter(e[~outside], d["estimate"].astype(float)[~outside], s=16, color="#333333", zorder=3)
            ax.scatter(e[outside], d["estimate"].astype(float)[outside], s=22, color=COLOURS[1], zorder=4)
            named = []
            for _, r in d[outside].iterrows():
                ax.annotate(str(r[label_column]), (float(r["expected"]), float(r["estimate"])), xytext=(4, 3),
                            textcoords="offset points", fontsize=7, color=COLOURS[1])
                named.append(f"{r[label_column]} ({format_ratio(r['estimate'])})")
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_number(v)))
            ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
            ax.set_xlabel("Förväntat antal (log-skala)")
            ax.grid(linewidth=0.4, alpha=0.4)
            alt_parts.append(f"{title}: {len(d)} regioner, " + (
                "utanför 99,8-procentsgränserna: " + ", ".join(named) if named else "ingen region utanför 99,8-procentsgränserna"))
        axes[0][0].set_ylabel(f"Observerat/förväntat (O/F), {measure_sv}")
        axes[0][0].set_ylim(max(0.0, bottom - 0.1), top + 0.1)
        from matplotlib.lines import Line2D
        handles = [Line2D([], [], color="#9bb7cf", linewidth=1.0, label="95 %-gräns (överspridning)"),
                   Line2D([], [], color="#1f5f8b", linewidth=1.2, label="99,8 %-gräns (överspridning)"),
                   Line2D([], [], color="#777777", linestyle="--", linewidth=0.9, label="99,8 %-gräns (Poisson)"),
                   Line2D([], [], marker="o", linestyle="", color=COLOURS[1], label="Utanför 99,8 %")]
        fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, bbox_to_anchor=(0.5, -0.06), fontsize=8)
        png = _png(fig)
    alt = (f"Trattdiagram: varje region är en punkt med kvoten observerat/förväntat för {measure_sv} (lodrät axel) mot "
           "förväntat antal (vågrät axel, logaritmisk skala), en panel per grupp, med 95- och 99,8-procentsgränser som "
           "tar hänsyn till överspridning (heldragna) och exakta Poissongränser (streckade). " + ". ".join(alt_parts) + ".")
    return Figure(figure_id, caption, alt, png, (figure.output_id, model.output_id))


def tile_map_figure(
    figure: CheckedOutput,
    model: CheckedOutput,
    *,
    figure_id: str,
    caption: str,
    panels: Sequence[tuple[str, pd.DataFrame]],
    layout: Mapping[str, tuple[int, int]],
    letter: Callable[[str], str],
    name: Callable[[str], str],
    value_sv: str,
) -> Figure:
    """A tile map: one square per region at a fixed (column, row) of ``layout`` (north at the top), one panel per population.

    Rows of each panel come from ``model``'s ``summary``: ``level`` (region code), ``estimate``
    (a ratio, coloured on a diverging log scale around 1) and ``is_possibly_under_reporting``
    (hatched). Withheld estimates are grey with ``..``.
    """
    _check_sources(figure, [model])
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    values = pd.concat([d["estimate"] for _, d in panels]).dropna().astype(float)
    if values.empty:
        raise DisclosureError(f"figure {figure.output_id!r}: no estimate left to draw")
    span = max(float(np.abs(np.log(values)).max()), np.log(1.1))
    norm = Normalize(-span, span)
    cmap = plt.get_cmap("RdBu")
    n_cols = max(c for c, _ in layout.values()) + 1
    n_rows = max(r for _, r in layout.values()) + 1
    alt_parts = []
    with plt.rc_context(_style()):
        fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels) + 0.8, 4.4), squeeze=False)
        for ax, (title, d) in zip(axes[0], panels):
            by_code = {str(r["level"]): r for _, r in d.iterrows()}
            hatched = []
            for code, (col, row) in layout.items():
                r = by_code.get(code)
                value = None if r is None or is_missing(r["estimate"]) else float(r["estimate"])
                colour = "#d9d9d9" if value is None else cmap(norm(np.log(value)))
                flag = r is not None and not is_missing(r.get("is_possibly_under_reporting")) and bool(r.get("is_possibly_under_reporting"))
                ax.add_patch(Rectangle((col, n_rows - 1 - row), 0.94, 0.94, facecolor=colour, edgecolor="#333333" if flag else "white",
                                       hatch="////" if flag else None, linewidth=0.8))
                dark = value is not None and abs(norm(np.log(value)) - 0.5) > 0.33
                ax.text(col + 0.47, n_rows - 1 - row + 0.6, letter(code), ha="center", va="center", fontsize=7.5,
                        fontweight="bold", color="white" if dark else "#111111")
                ax.text(col + 0.47, n_rows - 1 - row + 0.27, format_ratio(value), ha="center", va="center", fontsize=6,
                        color="white" if dark else "#111111")
                if flag:
                    hatched.append(name(code))
            ax.set_xlim(-0.1, n_cols + 0.05)
            ax.set_ylim(-0.1, n_rows + 0.05)
            ax.set_aspect("equal")
            ax.axis("off")
            ax.set_title(title)
            shown = d[d["estimate"].notna()]
            if len(shown):
                hi = shown.loc[shown["estimate"].astype(float).idxmax()]
                lo = shown.loc[shown["estimate"].astype(float).idxmin()]
                alt_parts.append(f"{title}: högst {name(str(hi['level']))} ({format_ratio(hi['estimate'])}), lägst "
                                 f"{name(str(lo['level']))} ({format_ratio(lo['estimate'])})"
                                 + (f"; möjlig underrapportering markerad för {', '.join(hatched)}" if hatched else ""))
        # log-symmetric ticks, not crowded at 1; finer ones when the regions differ little
        ticks = [t for t in (0.25, 0.5, 0.67, 1.0, 1.5, 2.0, 4.0) if abs(np.log(t)) <= span]
        if len(ticks) < 3:
            ticks = [t for t in (0.8, 0.9, 1.0, 1.1, 1.25) if abs(np.log(t)) <= span] or [1.0]
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        bar = fig.colorbar(sm, ax=list(axes[0]), orientation="horizontal", fraction=0.04, pad=0.02, aspect=40,
                           ticks=[np.log(t) for t in ticks])
        bar.ax.set_xticklabels([format_ratio(t) for t in ticks])
        bar.set_label(f"{value_sv}: blått = mer än väntat, rött = mindre än väntat")
        png = _png(fig)
    alt = (f"Rutkarta över de 21 regionerna, en ruta per region placerad ungefär som på en karta med norr uppåt "
           f"(Norrbotten överst, Skåne nederst), en panel per grupp; färgen visar {value_sv.lower()} på en skala kring 1. "
           + ". ".join(alt_parts) + ". Samma värden finns i tabellen.")
    return Figure(figure_id, caption, alt, png, (figure.output_id, model.output_id))


def incidence_lines_figure(
    figure: CheckedOutput,
    curve: CheckedOutput,
    *,
    figure_id: str,
    caption: str,
    line_column: str,
    line_label: Callable[[Hashable], str],
    outcome_sv: str,
    lines_sv: str,
    panel_column: str | None = None,
    panel_label: Callable[[Hashable], str] = str,
    where: Mapping[str, Hashable | tuple] | None = None,
    estimate_column: str = "cif",
    max_day: float | None = None,
    marks: Sequence[float] = (),
) -> Figure:
    """Step curves of cumulative incidence with their 95 % bands, one line per ``line_column`` value.

    Like `cif_figure`, but the lines are named by ``line_label`` and described in the alt text as
    ``lines_sv`` (e.g. "samtliga, kvinnor och män"), the vertical axis ends just above the highest
    shown interval (an incidence of 20 % is not drawn flat against 100 %), and ``marks`` draws
    dotted vertical lines at chosen days (e.g. 90: the law's intent). Only the steps disclosure
    control kept are drawn; a band is drawn only where the step has both limits.
    """
    _check_sources(figure, [curve])
    data = curve.table("curve")
    for column, value in (where or {}).items():
        data = data[data[column].isin(value) if isinstance(value, tuple) else data[column] == value]
    if data.empty:
        raise DisclosureError(f"figure {figure.output_id!r}: no step left to draw")
    time_col = curve.meta.get("time_column", "time")
    panels = list(dict.fromkeys(data[panel_column])) if panel_column else [None]
    has_band = {"conf_low", "conf_high"} <= set(data.columns)
    top_values = pd.to_numeric(data["conf_high" if has_band else estimate_column], errors="coerce").dropna()
    top_values = pd.concat([top_values, pd.to_numeric(data[estimate_column], errors="coerce").dropna()])
    top = min(100.0, max(10.0, float(np.ceil(top_values.max() * 100 / 10.0) * 10))) if len(top_values) else 100.0
    alt_parts = []
    with plt.rc_context(_style()):
        fig, axes = plt.subplots(1, len(panels), figsize=(max(6.4, 3.4 * len(panels)), 3.2), sharey=True, squeeze=False)
        for ax, panel in zip(axes[0], panels):
            sub = data if panel is None else data[data[panel_column] == panel]
            finals = []
            for i, line in enumerate(dict.fromkeys(sub[line_column])):
                d = sub[sub[line_column] == line].sort_values(time_col)
                t = d[time_col].astype(float).to_numpy()
                y = pd.to_numeric(d[estimate_column], errors="coerce").to_numpy(dtype=float) * 100
                colour = COLOURS[i % len(COLOURS)]
                ax.step(t, y, where="post", color=colour, linestyle=LINESTYLES[i % len(LINESTYLES)], linewidth=1.6,
                        label=line_label(line))
                if has_band:
                    lo = pd.to_numeric(d["conf_low"], errors="coerce").to_numpy(dtype=float) * 100
                    hi = pd.to_numeric(d["conf_high"], errors="coerce").to_numpy(dtype=float) * 100
                    ok = ~(np.isnan(lo) | np.isnan(hi))
                    if ok.any():
                        ax.fill_between(t[ok], lo[ok], hi[ok], step="post", color=colour, alpha=0.15, linewidth=0)
                if len(t):
                    finals.append(f"{line_label(line).lower()} {format_percent(y[-1])} vid dag {format_number(t[-1])}")
            for day in marks:
                ax.axvline(day, color="#777777", linestyle=":", linewidth=0.9)
                ax.text(day, top * 0.98, f" dag {format_number(day)}", fontsize=7, color="#555555", va="top")
            title = panel_label(panel) if panel is not None else ""
            ax.set_title(title)
            ax.set_xlabel("Dagar sedan sjukfallets början")
            if max_day:
                ax.set_xlim(0, max_day)
            ax.set_ylim(0, top)
            ax.grid(axis="y", linewidth=0.4, alpha=0.5)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_number(v)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_percent(v, 0)))
            if len(panels) == 1:
                ax.legend(frameon=False, loc="upper left" if top < 100 else "lower right", fontsize=8)
            alt_parts.append((f"{title}: " if title else "") + "; ".join(finals))
        axes[0][0].set_ylabel(f"Kumulativ andel, {outcome_sv}")
        if len(panels) > 1:  # one legend for all panels, below them
            handles, labels = axes[0][0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 2), frameon=False, fontsize=8,
                       bbox_to_anchor=(0.5, -0.01))
        png = _png(fig)
    alt = (
        f"Stegkurvor av kumulativ andel med {outcome_sv} (procent, lodrät axel, 0 till {format_percent(top, 0)}) mot dagar "
        f"sedan sjukfallets början (vågrät axel), en linje för var och en av {lines_sv}, med skuggade 95-procentiga "
        "konfidensband"
        + (f" och prickade lodräta linjer vid dag {', '.join(format_number(d) for d in marks)}" if marks else "")
        + ". Kurvorna visar bara steg med tillräckligt många händelser och i risk. Senast redovisade värden: "
        + ". ".join(alt_parts) + "."
    )
    return Figure(figure_id, caption, alt, png, (figure.output_id, curve.output_id))


def gradient_figure(
    figure: CheckedOutput,
    model: CheckedOutput,
    *,
    figure_id: str,
    caption: str,
    rows: pd.DataFrame,
    x_column: str,
    x_label: Callable[[Hashable], str],
    series_column: str,
    series_label: Callable[[Hashable], str],
    x_axis_sv: str,
    y_axis_sv: str,
) -> Figure:
    """Shares (0-1) with 95 % intervals along ordered groups (e.g. need deciles), one line per series.

    ``rows`` must be taken from ``model``'s ``summary``; withheld estimates (None) are not drawn
    and are named in the alt text. The groups keep the order of ``rows``.
    """
    _check_sources(figure, [model])
    data = rows.copy()
    shown = data[data["estimate"].notna()]
    if shown.empty:
        raise DisclosureError(f"figure {figure.output_id!r}: no estimate left to draw")
    groups = list(dict.fromkeys(data[x_column]))
    series = list(dict.fromkeys(data[series_column]))
    position = {g: i for i, g in enumerate(groups)}
    offsets = np.linspace(-0.15, 0.15, len(series)) if len(series) > 1 else [0.0]
    alt_parts = []
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        for i, s in enumerate(series):
            d = data[(data[series_column] == s) & data["estimate"].notna()]
            x = np.array([position[g] for g in d[x_column]], dtype=float) + offsets[i]
            y = d["estimate"].astype(float).to_numpy() * 100
            lo = pd.to_numeric(d["conf_low"], errors="coerce").to_numpy(dtype=float) * 100
            hi = pd.to_numeric(d["conf_high"], errors="coerce").to_numpy(dtype=float) * 100
            err = np.vstack([np.where(np.isnan(lo), 0, y - lo), np.where(np.isnan(hi), 0, hi - y)])
            ax.errorbar(x, y, yerr=err, fmt="-o" if i == 0 else ("--s" if i == 1 else ":^"), color=COLOURS[i % len(COLOURS)],
                        markersize=4, capsize=2, linewidth=1.3, label=series_label(s))
            if len(d):
                first, last = d.iloc[0], d.iloc[-1]
                alt_parts.append(f"{series_label(s).lower()}: {format_percent(100 * float(first['estimate']))} i grupp "
                                 f"{x_label(first[x_column])}, {format_percent(100 * float(last['estimate']))} i grupp "
                                 f"{x_label(last[x_column])}")
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([x_label(g) for g in groups], fontsize=8)
        ax.set_xlabel(x_axis_sv)
        ax.set_ylabel(y_axis_sv)
        top = float(np.nanmax(pd.to_numeric(shown["conf_high"], errors="coerce").fillna(shown["estimate"]).astype(float))) * 100
        ax.set_ylim(0, min(100.0, max(10.0, np.ceil(top / 5.0) * 5 + 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_percent(v, 0)))
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
        ax.legend(frameon=False, loc="upper left")
        png = _png(fig)
    withheld = data[data["estimate"].isna()]
    alt = (
        f"Punkter med 95-procentiga konfidensintervall, förbundna med linjer: {y_axis_sv.lower()} (lodrät axel) för varje "
        f"{x_axis_sv.lower()} (vågrät axel), en linje för var och en av {' och '.join(series_label(s).lower() for s in series)}. "
        + "; ".join(alt_parts)
        + (f". {len(withheld)} värden redovisas inte (för få händelser)" if len(withheld) else "")
        + ". Samma värden finns i tabellen under figuren."
    )
    return Figure(figure_id, caption, alt, png, (figure.output_id, model.output_id))


def time_series_figure(
    figure: CheckedOutput,
    model: CheckedOutput,
    *,
    figure_id: str,
    caption: str,
    rows: pd.DataFrame,
    series_column: str,
    series_label: Callable[[Hashable], str],
    marks: Sequence[tuple[str, str]] = (),
    shaded: tuple[str, str, str] | None = None,
    y_axis_sv: str,
) -> Figure:
    """Monthly shares (points), the fitted model (line) and its counterfactual without the break (dashed), per series.

    ``rows`` must be taken from ``model``'s ``summary`` with columns ``month`` (ISO date),
    ``estimate``, ``fitted_share`` and ``counterfactual_share``; withheld months (estimate None)
    are not drawn. ``marks`` are (ISO date, label) vertical lines; ``shaded`` is (from, to, label).
    """
    _check_sources(figure, [model])
    data = rows.copy()
    data["month"] = pd.to_datetime(data["month"])
    shown = data[data["estimate"].notna()]
    if shown.empty:
        raise DisclosureError(f"figure {figure.output_id!r}: no estimate left to draw")
    series = list(dict.fromkeys(data[series_column]))
    alt_parts = []
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        if shaded is not None:
            ax.axvspan(pd.Timestamp(shaded[0]), pd.Timestamp(shaded[1]), color="#999999", alpha=0.15, label=shaded[2])
        for i, s in enumerate(series):
            d = shown[shown[series_column] == s].sort_values("month")
            colour = COLOURS[i % len(COLOURS)]
            ax.plot(d["month"], d["estimate"].astype(float) * 100, "o", markersize=2.5, color=colour, alpha=0.6)
            ax.plot(d["month"], d["fitted_share"].astype(float) * 100, LINESTYLES[0], color=colour, linewidth=1.4,
                    label=f"{series_label(s)}: modell")
            after = d[d["fitted_share"].astype(float) != d["counterfactual_share"].astype(float)]
            if len(after):
                ax.plot(after["month"], after["counterfactual_share"].astype(float) * 100, LINESTYLES[1], color=colour,
                        linewidth=1.0, label=f"{series_label(s)}: utan brott vid lagen")
            first, last = d.iloc[0], d.iloc[-1]
            alt_parts.append(f"{series_label(s).lower()}: {format_percent(100 * float(first['estimate']))} i "
                             f"{first['month']:%Y-%m} och {format_percent(100 * float(last['estimate']))} i {last['month']:%Y-%m}")
        for when, label in marks:
            ax.axvline(pd.Timestamp(when), color="#333333", linewidth=0.8, linestyle=":")
            ax.annotate(label, (pd.Timestamp(when), 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                        xytext=(2, -10), textcoords="offset points")
        ax.set_ylabel(y_axis_sv)
        ax.set_xlabel("Månad då sjukfallet började")
        low = float(np.nanmin(shown["estimate"].astype(float))) * 100
        high = float(np.nanmax(shown["estimate"].astype(float))) * 100
        ax.set_ylim(max(0.0, np.floor(low / 5) * 5 - 5), min(100.0, np.ceil(high / 5) * 5 + 5))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_percent(v, 0)))
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
        ax.legend(frameon=False, loc="lower left", fontsize=7, ncol=2)
        png = _png(fig)
    withheld = data[data["estimate"].isna()]
    alt = (
        f"Månadsvisa andelar som punkter och modellens kurva som heldragen linje, {y_axis_sv.lower()} (lodrät axel) efter "
        f"startmånad (vågrät axel), för {' och '.join(series_label(s).lower() for s in series)}; streckad linje: modellen "
        "utan brottet vid lagen. " + "; ".join(alt_parts)
        + (f". {len(withheld)} månader redovisas inte (för få sjukfall)" if len(withheld) else "")
        + ". Skattningarna finns i tabellen under figuren."
    )
    return Figure(figure_id, caption, alt, png, (figure.output_id, model.output_id))
