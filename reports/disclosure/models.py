"""Model outputs (tidy estimate tables): events, persons and residual df per estimate; extreme shares.

Per row the persons and the events (the fewest in any compared arm, when the diagnostics state
``events_per_arm``), per fitted model the residual degrees of freedom; shares of 0 % or 100 %
and the contrasts that would give them back; complements where the counts of a dimension's
levels add up. What a row publishes of its diagnostics is declared in `analyses.diagnostic_keys`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import pandas as pd

from analyses import diagnostic_keys
from analyses.results import SUMMARY_COLUMNS
from koord.errors import DisclosureError
from reports.disclosure.checked import CheckedOutput, Reason, RunInfo, _issue, _status
from reports.disclosure.declarations import MODEL_KEYS, MODEL_LABELS, ModelOutput, output_id_of
from reports.disclosure.rules import DisclosureClass, DisclosureRules, round_count


def _published_diagnostics(text: object) -> tuple[object, list[str]]:
    """A row's diagnostics JSON with only the entries declared publishable, and the paths withheld undeclared.

    Published: the kinds `analyses.diagnostic_keys.PUBLISHED_KINDS` (statistics, flags,
    protocol parameters) with a value of their declared shape; counts are left out. A key
    `analyses.diagnostic_keys` does not declare, or a value not of its declared shape, is left
    out and its path returned, to be noted for the output checker. Unreadable JSON, or JSON
    that is not an object, is not published at all.
    """
    if not isinstance(text, str) or not text.strip():
        return text, []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None, []  # unreadable: cannot be checked, so not published
    if not isinstance(data, dict):
        return None, [UNKEYED_DIAGNOSTICS]
    kept, noted = diagnostic_keys.select(data, diagnostic_keys.PUBLISHED_KINDS)
    return json.dumps(kept, ensure_ascii=False, sort_keys=True), noted


UNKEYED_DIAGNOSTICS = "(inte en tabell av nycklar)"  # the path noted for diagnostics that are not a JSON object


def _undeclared_flags(paths: Iterable[str]) -> tuple[Reason, ...]:
    """One note per withheld diagnostics path (for the human checker; the entries are not published)."""
    return tuple(Reason(f"diagnostik {path}", "undeclared_diagnostic",
                        "inte deklarerad i analyses.diagnostic_keys (eller inte av sin deklarerade form); hålls inne")
                 for path in dict.fromkeys(paths))


def _arm_events(diagnostics: object) -> float | None:
    """The fewest events in any arm, when a row's diagnostics state ``events_per_arm``."""
    if not isinstance(diagnostics, str):
        return None
    try:
        arms = json.loads(diagnostics).get(diagnostic_keys.EVENTS_PER_ARM)
    except (json.JSONDecodeError, AttributeError):
        return None
    if isinstance(arms, dict) and arms:
        values = [float(v) for v in arms.values() if isinstance(v, (int, float))]
        return min(values) if values else None
    return None


def _complement_model_counts(
    summary: pd.DataFrame, hide: pd.Series, fit_keys: Sequence[str], reasons: list[Reason], where
) -> pd.Series:
    """Rows whose counts are withheld: the withheld rows, and complements where levels add up.

    The persons and events beside the estimates of one dimension's levels (same analysis,
    population, term, estimand and arm) add up to the population's, which is published too:
    when exactly one level's counts are withheld, the smallest other level's counts are
    withheld as well (its estimate stays), until no group has exactly one.
    """
    hidden = hide.copy()
    group_cols = [c for c in ("analysis_id", "sex", "subgroup", "term", "estimand", "arm") if c in summary.columns]
    levels = summary[summary["subgroup"].notna() & (summary["subgroup"] != "all")]
    events = pd.to_numeric(summary["n_events"], errors="coerce").fillna(float("inf"))
    changed = True
    while changed:
        changed = False
        for _, group in levels.groupby(group_cols, dropna=False, sort=False):
            withheld = [i for i in group.index if hidden[i]]
            shown = [i for i in group.index if not hidden[i]]
            if len(withheld) != 1 or not shown:
                continue
            pick = min(shown, key=lambda i: (events[i], i))
            hidden[pick] = True
            reasons.append(Reason(where(summary.loc[pick]), "secondary",
                                  f"antalen skyddar {where(summary.loc[withheld[0]])}; skattningen visas"))
            changed = True
    return hidden


# Estimands that are shares of a group: 0 % or 100 % says the same of everyone in it.
SHARE_ESTIMANDS = ("cumulative_incidence", "risk", "proportion", "share", "survival", "cif")
# Estimands computed from two such shares: they give a withheld share back from the other.
SHARE_CONTRASTS = ("risk_difference", "risk_ratio")
# Shares are shown with one decimal in per cent: within half a unit of that of 0 or 1 reads as 0 % or 100 %.
EXTREME_SHARE_MARGIN = 0.0005


def is_extreme_share(estimate: object) -> bool:
    """True when a share (0-1) would read as 0,0 % or 100,0 %."""
    try:
        x = float(estimate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not math.isnan(x) and (x < EXTREME_SHARE_MARGIN or x > 1 - EXTREME_SHARE_MARGIN)


def _check_model(
    out: ModelOutput, rules: DisclosureRules, run: RunInfo, linked_hidden: Mapping[tuple[int, str], Reason] | None = None,
) -> CheckedOutput:
    """Per row: persons and events (the fewest in any compared arm, when stated); per fit: residual df.

    A share of 0 % or 100 % of a group (`SHARE_ESTIMANDS`) is withheld like a small count,
    and with it the contrasts (`SHARE_CONTRASTS`) of the same comparison, which would give it
    back. Counts the linked system withholds (``linked_hidden``: (row, column) -> reason, from
    the model's `SharedCount`s) are withheld here too.

    Published: the tidy columns and the label columns `MODEL_LABELS` (``n_persons`` and
    ``n_events`` rounded when rounding is on); other extra columns (further counts, sums of
    days, intermediate estimates) are not published. Withheld rows keep only their labels. Of
    the diagnostics, only the entries `analyses.diagnostic_keys` declares publishable
    (`_published_diagnostics`); undeclared ones are withheld and noted in ``flags``.
    """
    oid = output_id_of(out)
    summary = out.summary.reset_index(drop=True).copy()
    missing = [c for c in (*MODEL_KEYS, "term", "estimate", "n_persons", "n_events") if c not in summary.columns]
    if missing:
        raise DisclosureError(f"model output {oid!r}: the summary lacks column(s) {', '.join(missing)}")
    fit_keys = [*MODEL_KEYS, *(["sex"] if "sex" in summary.columns else [])]
    count_columns = ["n_persons", "n_events"]
    label_columns = [c for c in (*fit_keys, *MODEL_LABELS, "method", "estimand", "term") if c in summary.columns]
    reasons: list[Reason] = []
    hide = pd.Series(False, index=summary.index)

    def where(row: pd.Series) -> str:
        return " / ".join(str(row[c]) for c in (*fit_keys, "term"))

    for _, fit in summary.groupby(fit_keys, dropna=False, sort=False):
        n_params = int(fit["n_parameters"].max()) if "n_parameters" in fit.columns else len(fit)
        n_persons = pd.to_numeric(fit["n_persons"], errors="coerce").max()
        if pd.isna(n_persons):
            continue  # reported per row below
        if float(n_persons) - n_params < rules.min_residual_df:
            for i in fit.index:
                hide[i] = True
                reasons.append(Reason(where(summary.loc[i]), "min_residual_df", f"under {rules.min_residual_df}"))
    for i, row in summary.iterrows():
        if hide[i]:
            continue
        n_persons = pd.to_numeric(pd.Series([row["n_persons"]]), errors="coerce").iloc[0]
        n_events = pd.to_numeric(pd.Series([row["n_events"]]), errors="coerce").iloc[0]
        arm_events = _arm_events(row.get("diagnostics"))
        if arm_events is not None and not pd.isna(n_events):
            n_events = min(float(n_events), arm_events)
        if pd.isna(n_persons) or (out.event_based and pd.isna(n_events)):
            hide[i] = True
            reasons.append(Reason(where(row), "events_unknown"))
        elif n_persons < rules.min_cell_count:
            hide[i] = True
            reasons.append(Reason(where(row), "min_persons", f"under {rules.min_cell_count}"))
        elif out.event_based and n_events < rules.min_events_per_estimate:
            hide[i] = True
            detail = f"under {rules.min_events_per_estimate}" + (" i någon arm" if arm_events is not None else "")
            reasons.append(Reason(where(row), "min_events", detail))

    if "estimand" in summary.columns:
        comparison = [c for c in (*fit_keys, "horizon_days", "landmark_day") if c in summary.columns]
        extreme = [i for i, row in summary.iterrows()
                   if not hide[i] and row["estimand"] in SHARE_ESTIMANDS and is_extreme_share(row["estimate"])]
        for i in extreme:
            hide[i] = True
            reasons.append(Reason(where(summary.loc[i]), "extreme_share"))
            same = (summary[comparison].astype(str) == summary.loc[i, comparison].astype(str)).all(axis=1)
            for j in summary.index[same & summary["estimand"].isin(SHARE_CONTRASTS) & ~hide]:
                hide[j] = True
                reasons.append(Reason(where(summary.loc[j]), "extreme_share",
                                      f"skulle ge tillbaka andelen i {where(summary.loc[i])}"))

    counts_hidden = _complement_model_counts(summary, hide, fit_keys, reasons, where)
    for (i, col), reason in (linked_hidden or {}).items():
        if col not in count_columns:
            raise DisclosureError(f"model output {oid!r}: only {count_columns} can be shared counts, got {col!r}")
        counts_hidden[i] = True
        reasons.append(replace(reason, location=where(summary.loc[i])))

    keep = list(dict.fromkeys([*SUMMARY_COLUMNS, *label_columns]))
    published = summary.reindex(columns=[c for c in keep if c in summary.columns]).astype(object)
    diagnostics = [_published_diagnostics(d) for d in published.get("diagnostics", [None] * len(published))]
    published["diagnostics"] = [text for text, _ in diagnostics]
    for col in published.columns:
        if col not in label_columns:
            published.loc[hide, col] = None
    for col in count_columns:
        published.loc[counts_hidden, col] = None
        ok = ~counts_hidden & published[col].notna()
        published.loc[ok, col] = [round_count(float(x), rules.rounding_base) for x in published.loc[ok, col]]
    published = published.where(published.notna(), None)
    n_suppressed = int(counts_hidden.sum())
    nothing_left = len(summary) == 0 or bool(hide.all())
    if nothing_left:
        reasons.append(Reason("hela utdatan", "nothing_left"))
    return _issue(
        output_id=oid, declaration=out.declaration, status=_status(n_suppressed, nothing_left),
        reasons=tuple(reasons), n_suppressed=n_suppressed, n_cells=len(summary),
        thresholds=rules.for_class(DisclosureClass.MODEL), run=run, _tables={"summary": published},
        flags=_undeclared_flags(path for _, paths in diagnostics for path in paths),
    )
