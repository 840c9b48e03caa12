"""Section: sensitivity of the main results to the relapse rule (issue 14), its own section for the chapters to place.

Reads the results table ``sensitivity_relapse`` (kept out of the association's chapters by
`reports.sections._results.OWN_CHAPTER_TABLES`). What it publishes, through disclosure control
as a model output; the persons and events behind the estimates are read by the rules but not
published:

``aterinsjuknandemodell:huvudresultat``
    The hazard (rate) ratio of return to work while coordinated, per relapse rule ('continue',
    'censor', 'event'), model (Cox, Poisson) and population (everyone, women, men) and per
    diagnosis chapter group.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from markupsafe import Markup

from data_schemas.tables import SEXES
from reports.disclosure import ModelOutput, Output
from reports.formatting import format_estimate_interval, is_missing
from reports.labels import SEX_PLURAL_SV, SEX_SINGULAR_SV, value_label
from reports.outputs import declaration, instance_id
from reports.sections._results import results_table
from reports.sections import RenderContext, Section, register
from reports.sections._build import first_where, published_ids, rows_where, table_notes
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView

TABLE = "sensitivity_relapse"
ESTIMATES_ID = instance_id("aterinsjuknandemodell", "huvudresultat")
POPULATIONS = ("all", *SEXES)
SEX_ADDS_UP = (("sex", "all", tuple(SEXES)),)
UNPUBLISHED = ("n_persons", "n_events")
SUMMARY = ("analysis_id", "method", "estimand", "term", "subgroup", "level", "estimate", "std_error", "conf_low",
           "conf_high", "p_value", "n_persons", "n_events", "diagnostics")
SOURCE_SV = {"tv_cox": "Cox-modellen", "tv_poisson": "Poissonmodellen"}
# The rules in plain words, in the order of the table's columns.
RULE_SV = {"continue": "Sjukfallet fortsätter", "censor": "Sjukfallet censureras",
           "event": "Räknas som återgång"}


def _read(inputs) -> pd.DataFrame | None:
    return results_table(inputs, TABLE)


def collect(inputs) -> Sequence[Output]:
    frame = _read(inputs)
    if frame is None:
        return []
    rows = frame.copy()
    for c in ("n_persons", "n_events"):  # nullable integers as floats for the rules
        rows[c] = pd.to_numeric(rows[c], errors="coerce").astype(float)
    labels = ("relapse_rule", "source")
    keep = [c for c in rows.columns if c in (*SUMMARY, *labels, "sex")]
    return [ModelOutput(declaration("aterinsjuknandemodell"), rows[keep], output_id=ESTIMATES_ID, label_columns=labels,
                        unpublished_columns=UNPUBLISHED, additive_labels=SEX_ADDS_UP)]


# --- render ---------------------------------------------------------------------------------------


def _ratio_ci(r: pd.Series | None) -> str:
    return format_estimate_interval(r)


def _title(population: str) -> str:
    return "Samtliga" if population == "all" else SEX_PLURAL_SV.get(population, population)


def _in_order(values: pd.Series, order: dict) -> list[str]:
    present = set(values.astype(str))
    return [k for k in order if k in present]


def _estimates_table(ctx: RenderContext, frame: pd.DataFrame) -> TableView:
    rules = _in_order(frame["relapse_rule"], RULE_SV)
    header = (HeaderCell("Modell och grupp"), *(HeaderCell(f"{RULE_SV[r]} (95 % KI)") for r in rules))
    groups = []
    for s in _in_order(frame["source"], SOURCE_SV):
        rows = []
        for p in POPULATIONS:
            own = "all" if p == "all" else "sex"
            rows.append(Row(_title(p), tuple(
                DataCell(_ratio_ci(first_where(frame, source=s, relapse_rule=r, sex=p, subgroup=own)), "interval")
                for r in rules)))
            chapters = rows_where(frame, source=s, sex=p, subgroup="diagnosis_chapter_group")
            for level in dict.fromkeys(chapters["level"].astype(str)):
                rows.append(Row(f"{_title(p)}: {value_label('diagnosis_chapter_group', level)}", tuple(
                    DataCell(_ratio_ci(first_where(chapters, relapse_rule=r, level=level)), "interval")
                    for r in rules)))
        groups.append(RowGroup(SOURCE_SV[s], tuple(rows)))
    out = ctx.get(ESTIMATES_ID)
    return TableView(
        "tabell-aterinsjuknande",
        "Känslighetsanalys: återinsjuknande. Kvoten mellan takten för återgång i arbete medan sjukfallet är koordinerat "
        "och innan eller utan koordinering, när ett nytt sjukfall inom fönstret efter sista dagen fortsätter "
        "sjukfallet, censurerar det eller inte ändrar något (sjukfallets slut räknas som återgång).",
        (header,), tuple(groups),
        table_notes([out], "Samma modeller som huvudresultaten: samma justering, samma start för uppföljningen och samma "
                           "tidsberoende exponering; bara regeln för återinsjuknande skiljer. När sjukfallet fortsätter "
                           "räknas det nya sjukfallet inte som ett eget; annars följs det som ett eget sjukfall."),
        published_ids(out))


def _main_words(ctx: RenderContext, frame: pd.DataFrame) -> list[str]:
    """The Cox model's estimate for everyone under each rule, in words."""
    out = []
    for r in _in_order(frame["relapse_rule"], RULE_SV):
        row = first_where(frame, source="tv_cox", relapse_rule=r, sex="all", subgroup="all")
        if row is None or is_missing(row["estimate"]):
            continue
        value = ctx.cite(ESTIMATES_ID, f"text: Cox-modellen, samtliga, {RULE_SV[r].lower()}", _ratio_ci(row))
        out.append(f"{RULE_SV[r]}: {value}.")
    return out


def render(ctx: RenderContext) -> Markup:
    if ctx.get(ESTIMATES_ID) is None:
        return ctx.render("sections/relapse.html.j2", missing=True)
    frame = ctx.summary(ESTIMATES_ID)
    study = getattr(ctx.meta, "study", None) or {}  # the build record's study
    rule = study.get("relapse")
    return ctx.render("sections/relapse.html.j2", missing=False, table=_estimates_table(ctx, frame),
                      main=_main_words(ctx, frame), study_rule=RULE_SV[rule].lower() if rule in RULE_SV else None,
                      window_days=study.get("relapse_window_days"))


SECTION = register(Section("aterinsjuknande", "Känslighet för regeln om återinsjuknande", 56, collect, render))

__all__ = ["ESTIMATES_ID", "RULE_SV", "SECTION", "collect", "render"]
