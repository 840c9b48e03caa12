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
