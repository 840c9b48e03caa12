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
from reports.disclosure.checked import WITHHELD, CheckedOutput, Reason, RunInfo, _issue, _status, none_for_missing
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
    summary: pd.DataFrame, hide: pd.Series, fit_keys: Sequence[str], reasons: list[Reason], where,
    *, labels: Sequence[str] = (), additive: Sequence[tuple[str, str, tuple[str, ...]]] = (),
    estimate_shown: bool = True,
) -> pd.Series:
    """Rows whose counts are withheld: the withheld rows, and complements where levels add up.

    The persons and events beside the estimates of one dimension's levels (same analysis,
    population, term, estimand and arm, and declared ``labels``) add up to the population's,
    which is published too: when exactly one level's counts are withheld, the smallest other
    level's counts are withheld as well (its estimate stays unless ``estimate_shown`` is
    False), until no group has exactly one. ``additive`` declares labels whose values add up
    the same way (``("sex", "all", ("woman", "man"))``: everyone is women plus men).
    """
    hidden = hide.copy()
    group_cols = [c for c in ("analysis_id", "sex", "subgroup", "term", "estimand", "arm", *labels) if c in summary.columns]
    levels = summary[summary["subgroup"].notna() & (summary["subgroup"] != "all")]
    events = pd.to_numeric(summary["n_events"], errors="coerce").fillna(float("inf"))
    tail = "skattningen visas" if estimate_shown else "skattningen ger antalen tillbaka och redovisas inte"
    groupings = [levels.groupby(group_cols, dropna=False, sort=False)]
    for label, total, parts in additive:
        if label not in summary.columns:
            continue
        others = [c for c in ("analysis_id", "subgroup", "level", "term", "estimand", "arm", "sex", *labels)
                  if c in summary.columns and c != label]
        members = summary[summary[label].isin([total, *parts])]
        groupings.append(members.groupby(others, dropna=False, sort=False))
    changed = True
    while changed:
        changed = False
        for grouped in groupings:
            for _, group in grouped:
                withheld = [i for i in group.index if hidden[i]]
                shown = [i for i in group.index if not hidden[i]]
                if len(withheld) != 1 or not shown:
                    continue
                pick = min(shown, key=lambda i: (events[i], i))
                hidden[pick] = True
                reasons.append(Reason(where(summary.loc[pick]), "secondary",
                                      f"antalen skyddar {where(summary.loc[withheld[0]])}; {tail}"))
                changed = True
    return hidden


# Estimands that are shares of a group: 0 % or 100 % says the same of everyone in it.
SHARE_ESTIMANDS = ("cumulative_incidence", "risk", "proportion", "share", "survival", "cif", "observed_share")
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


def _model_primary(out: ModelOutput, rules: DisclosureRules):
    """The primary rules of a model output: rows withheld, with reasons (before any complement or link).

    Returns ``(summary, hide, reasons, fit_keys, label_columns, count_columns, where)``.
    """
    oid = output_id_of(out)
    summary = out.summary.reset_index(drop=True).copy()
    missing = [c for c in (*MODEL_KEYS, "term", "estimate", "n_persons", "n_events") if c not in summary.columns]
    if missing:
        raise DisclosureError(f"model output {oid!r}: the summary lacks column(s) {', '.join(missing)}")
    extra_labels = [c for c in out.label_columns if c in summary.columns]
    fit_keys = [*MODEL_KEYS, *(["sex"] if "sex" in summary.columns else []), *extra_labels]
    count_columns = list(dict.fromkeys(["n_persons", "n_events", *out.count_columns]))
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

    return summary, hide, reasons, fit_keys, label_columns, count_columns, where


def model_primary_rows(out: ModelOutput, rules: DisclosureRules) -> dict[int, Reason]:
    """Row position -> reason, for the rows the primary rules withhold (read by the linked system)."""
    summary, hide, reasons, *_ = _model_primary(out, rules)
    return {int(i): Reason("", "linked", "skattningen bredvid antalet redovisas inte") for i in summary.index[hide]}


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
    summary, hide, reasons, fit_keys, label_columns, count_columns, where = _model_primary(out, rules)
    extra_labels = [c for c in out.label_columns if c in summary.columns]
    start_hidden = hide.copy()
    for (i, col), reason in (linked_hidden or {}).items():
        if col not in count_columns:
            raise DisclosureError(f"model output {oid!r}: only {count_columns} can be shared counts, got {col!r}")
        start_hidden[i] = True
        reasons.append(replace(reason, location=where(summary.loc[i])))
    counts_hidden = _complement_model_counts(summary, start_hidden, fit_keys, reasons, where, labels=extra_labels,
                                             additive=out.additive_labels, estimate_shown=not out.estimates_reveal_counts)
    # Rows withheld by the rules or as complements withhold all their counts; a row only the
    # linked system reaches withholds the counts it shares (its others are published there too).
    all_counts_hidden = hide | (counts_hidden & ~start_hidden)
    linked_cells = set((linked_hidden or {}))
    if out.estimates_reveal_counts:
        for i in summary.index[counts_hidden & ~hide]:
            hide[i] = True
            reasons.append(Reason(where(summary.loc[i]), "secondary", "skattningen ger tillbaka antal som inte redovisas"))

    keep = list(dict.fromkeys([*SUMMARY_COLUMNS, *label_columns, *out.statistic_columns, *count_columns]))
    published = summary.reindex(columns=[c for c in keep if c in summary.columns]).astype(object)
    diagnostics = [_published_diagnostics(d) for d in published.get("diagnostics", [None] * len(published))]
    published["diagnostics"] = [text for text, _ in diagnostics]
    for col in published.columns:
        if col not in label_columns and col not in count_columns:
            published.loc[hide, col] = WITHHELD
    for col in count_columns:
        if col not in published.columns:
            continue
        withheld = all_counts_hidden | pd.Series([(i, col) in linked_cells for i in summary.index], index=summary.index)
        published.loc[withheld, col] = WITHHELD
        ok = ~withheld & published[col].notna()
        published.loc[ok, col] = [round_count(float(x), rules.rounding_base) for x in published.loc[ok, col]]
    for col in out.unpublished_columns:
        if col in published.columns:
            published[col] = None
    published = none_for_missing(published)
    n_suppressed = int(counts_hidden.sum())
    nothing_left = len(summary) == 0 or bool(hide.all())
    if nothing_left:
        reasons.append(Reason("hela utdatan", "nothing_left"))
    return _issue(
        output_id=oid, declaration=out.declaration, status=_status(n_suppressed, nothing_left),
        reasons=tuple(reasons), n_suppressed=n_suppressed, n_cells=len(summary),
        thresholds=rules.for_class(DisclosureClass.MODEL), run=run, _tables={"summary": published},
        flags=_undeclared_flags(path for _, paths in diagnostics for path in paths),
        meta={"label_columns": tuple(c for c in out.label_columns if c in summary.columns)},
    )
