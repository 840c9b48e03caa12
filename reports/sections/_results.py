"""Reading `koord analyse`'s results schema: which tables are tidy summaries, which are curves, and their outputs.

A results table is a *summary* when it has every column of `analyses.results.SUMMARY_COLUMNS`
(one table per analysis id), and a *curve* when it has ``time``, ``n_at_risk``, ``n_events``
and an estimate column (``cif``, ``cumulative_incidence``, ``survival`` or ``estimate``).
Their outputs are ``modell:<table>`` and ``kurva:<table>`` (declared in `reports.outputs`).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analyses.results import SUMMARY_COLUMNS
from data_schemas.tables import SEXES
from reports.disclosure import CellRef, CheckedOutput, CurveOutput, FigureOutput, ModelOutput, Output, SharedCount
from reports.inputs import RESULTS_SCHEMA, ReportInputs
from reports.labels import SEX_PLURAL_SV, SUBGROUP_SV, value_label
from reports.names import DESIGN_SV as _DESIGN_SV
from reports.names import design_name
from reports.outputs import declaration, instance_id
from reports.sections._build import FLOW_OUTPUT, FLOW_PERSONS, TOTAL, attrition_table

EXPOSURE_TERM = "is_coordinated"  # the exposure's term in every design (analyses.designs._models.EXPOSURE)
HETEROGENEITY_TERM = "heterogeneity_test"  # Wald test of equal effects across a dimension's levels
MAIN_SUBGROUPS = ("all", "sex")  # rows for everyone and for women and men
RATIO_ESTIMANDS = ("hazard_ratio", "rate_ratio", "subdistribution_hazard_ratio", "cause_specific_hazard_ratio")
CURVE_ESTIMATES = ("cif", "cumulative_incidence", "survival", "estimate")
CURVE_NUMBERS = ("time", "n_at_risk", "n_events", "n_censored", "std_error", "conf_low", "conf_high", *CURVE_ESTIMATES)

DESIGN_SV = _DESIGN_SV  # the names live in reports.names
METHOD_DESIGN = {"cox": "time_varying_cox", "poisson": "time_varying_poisson"}
DEFAULT_ORDER = ("tv_cox", "tv_poisson", "target_trial", "landmark", "naive_ever", "heterogeneity", "e_value")
# Results tables with a chapter of their own (`reports.sections.regions`, `reports.sections.timing`, with
# their own outputs and disclosure declarations): not listed among the association's analyses, and their
# curves in the shared curve table are drawn in their own chapter, not among the association's curves.
OWN_CHAPTER_TABLES = ("region_uptake", "region_rtw", "region_variation",
                      "coordination_timing", "coordination_need", "coordination_timing_strategies",
                      "collaboration", "survey", "interrupted_time_series")
OWN_CHAPTER_TABLES += ("negative_controls", "calibration")  # issue 14: reports.sections.negative_controls
OWN_CHAPTER_TABLES += ("scenarios",)  # issue 15: reports.sections.proposals
OWN_CHAPTER_TABLES += ("sensitivity_relapse",)  # issue 14: reports.sections.relapse


@dataclass(frozen=True)
class ResultCatalogue:
    summaries: tuple[str, ...]
    curves: tuple[str, ...]


def results_table(inputs: ReportInputs, table: str) -> pd.DataFrame | None:
    """A results table as `koord analyse` wrote it; None when it is absent or empty (the analysis did not run)."""
    if not inputs.has_table(RESULTS_SCHEMA, table):
        return None
    frame = inputs.query(f'select * from {RESULTS_SCHEMA}."{table}"')
    return frame if len(frame) else None


def person_flow(inputs: ReportInputs) -> pd.DataFrame | None:
    """The published flow of persons (`bortfall`'s table ``personer``), None without attrition."""
    if not inputs.has_table("main", "attrition"):
        return None
    table = attrition_table(inputs.query("select * from main.attrition order by step_order, sex"), "n_persons")
    return None if table is None else table.values


def shared_population_counts(summary: pd.DataFrame, flow: pd.DataFrame | None) -> tuple[SharedCount, ...]:
    """The model's persons that the flow of persons publishes too, as `SharedCount`s.

    A reader who sees the same number of persons (for everyone, women or men) beside an
    estimate and in a step of the flow takes them for one population, and can use the
    flow's equations on it: so such counts are linked to the flow's cell (the latest step
    with that number) and protected with it.
    """
    if flow is None or "n_persons" not in summary.columns:
        return ()
    kept = [r for r in flow.index if str(r).endswith(":kvar")]
    column_of = {"all": TOTAL, **{s: s for s in SEXES}}
    shared = []
    for i, (_, row) in enumerate(summary.reset_index(drop=True).iterrows()):
        col = column_of.get(population_of(row))
        n = pd.to_numeric(pd.Series([row["n_persons"]]), errors="coerce").iloc[0]
        if col is None or col not in flow.columns or pd.isna(n):
            continue
        steps = [r for r in kept if float(flow.at[r, col]) == float(n)]
        if steps:
            shared.append(SharedCount(i, "n_persons", CellRef(FLOW_OUTPUT, FLOW_PERSONS, steps[-1], col)))
    return tuple(shared)


def find_results(inputs: ReportInputs) -> ResultCatalogue:
    summaries, curves = [], []
    for name in inputs.tables_in(RESULTS_SCHEMA):
        if name in OWN_CHAPTER_TABLES:
            continue
        cols = set(inputs.columns(RESULTS_SCHEMA, name))
        if set(SUMMARY_COLUMNS) <= cols:
            summaries.append(name)
        elif {"time", "n_at_risk", "n_events"} <= cols and cols & set(CURVE_ESTIMATES):
            curves.append(name)
    order = {k: i for i, k in enumerate(DEFAULT_ORDER)}
    summaries.sort(key=lambda n: (order.get(n, len(order)), n))
    return ResultCatalogue(tuple(summaries), tuple(sorted(curves)))


def model_id(table: str) -> str:
    return instance_id("modell", table)


def curve_id(table: str) -> str:
    return instance_id("kurva", table)


def curve_figure_id(table: str) -> str:
    return instance_id("figur_kurva", table)


def curve_group_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    return tuple(c for c in frame.columns if c not in CURVE_NUMBERS and c != "analysis_id"
                 and not pd.api.types.is_float_dtype(frame[c]))


def collect_results(inputs: ReportInputs) -> list[Output]:
    """Model outputs of every summary table, curve outputs of every curve table, and their figures."""
    catalogue = find_results(inputs)
    outputs: list[Output] = []
    flow = person_flow(inputs)
    for name in catalogue.summaries:
        summary = inputs.query(f'select * from {RESULTS_SCHEMA}."{name}"')
        outputs.append(ModelOutput(declaration("modell"), summary, output_id=model_id(name),
                                   shared_counts=shared_population_counts(summary, flow)))
    for name in catalogue.curves:
        curve = inputs.query(f'select * from {RESULTS_SCHEMA}."{name}"')
        if "analysis_id" in curve.columns:
            curve = curve[~curve["analysis_id"].isin(OWN_CHAPTER_TABLES)].reset_index(drop=True)
            if curve.empty:
                continue
        groups = curve_group_columns(curve)
        outputs.append(CurveOutput(declaration("kurva"), curve, group_columns=groups, output_id=curve_id(name)))
        outputs.append(FigureOutput(declaration("figur_kurva"), source_ids=(curve_id(name),), output_id=curve_figure_id(name)))
    return outputs


def design_of(output: CheckedOutput, analyses: Mapping[str, Mapping[str, Any]] | None = None) -> str | None:
    """The design of a results table: from the catalogue (results._analyses), else its rows."""
    table = output.output_id.split(":", 1)[1]
    if analyses and table in analyses and analyses[table].get("design"):
        return str(analyses[table]["design"])
    try:
        s = output.table("summary")
    except Exception:
        return None
    methods = set(s["method"].dropna())
    diag = s["diagnostics"].dropna()
    for text in diag:
        try:
            design = json.loads(text).get("design")
        except (json.JSONDecodeError, AttributeError):
            continue
        if design:
            return str(design)
    return METHOD_DESIGN.get(next(iter(methods))) if len(methods) == 1 else None


def analysis_title(output: CheckedOutput, analyses: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    return design_name(design_of(output, analyses))


def population_of(row: pd.Series) -> str:
    """'all', 'woman' or 'man': the population a row was estimated in."""
    sex = row.get("sex")
    if isinstance(sex, str) and sex:
        return sex
    if row.get("subgroup") == "sex":
        return str(row.get("level"))
    return "all"


def is_main_row(row: pd.Series) -> bool:
    """The exposure's ratio for everyone, for women or for men, each estimated in its own population."""
    if row.get("term") != EXPOSURE_TERM or row.get("subgroup") not in MAIN_SUBGROUPS:
        return False
    return row.get("subgroup") == "all" or population_of(row) == row.get("level")


def is_subgroup_row(row: pd.Series) -> bool:
    """The exposure's ratio in one level of a dimension (age group, diagnosis, region, or sex in a pooled model)."""
    return (row.get("term") == EXPOSURE_TERM and row.get("estimand") in RATIO_ESTIMANDS
            and row.get("subgroup") != "all" and not is_main_row(row))


def is_heterogeneity_test(row: pd.Series) -> bool:
    return row.get("term") == HETEROGENEITY_TERM


def population_label(row: pd.Series) -> str:
    return SEX_PLURAL_SV.get(population_of(row), population_of(row)) if population_of(row) != "all" else "Samtliga"


def row_label(row: pd.Series) -> str:
    """Population, subgroup level, term and arm when they say something: 'Män · Diagnoskapitel: Psykiatriska ...'."""
    parts = [population_label(row)]
    subgroup = str(row.get("subgroup"))
    dimension = SUBGROUP_SV.get(subgroup, subgroup)
    if is_heterogeneity_test(row):
        return " · ".join([*parts, f"{dimension}: test av lika samband i alla grupper"])
    if not is_main_row(row) and subgroup != "all" and not (subgroup == "sex" and population_of(row) == row.get("level")):
        parts.append(f"{dimension}: {value_label(subgroup, row.get('level'))}")
    term = row.get("term")
    if term and term != EXPOSURE_TERM:
        parts.append(term_label(str(term)))
    arm = row.get("arm")
    if isinstance(arm, str) and arm:
        parts.append(value_label("arm", arm))
    return " · ".join(parts)


def term_label(term: str) -> str:
    """Readable Swedish for the terms the designs write."""
    words = {
        "e_value_point": "E-värde för skattningen",
        "e_value_ci_limit": "E-värde för konfidensgränsen närmast 1",
        "coordinated": "koordinerade", "uncoordinated": "ej koordinerade", "not_coordinated": "ej koordinerade",
        "difference": "skillnad", "risk_difference": "riskskillnad", "is_coordinated": "koordinerad",
    }
    if term in words:
        return words[term]
    for prefix, text in (("day_", "dag "), ("horizon_", "dag "), ("landmark_", "från dag ")):
        if term.startswith(prefix) and term[len(prefix):].isdigit():
            return text + term[len(prefix):]
    return term.replace("_", " ")


def ordered_levels(subgroup: str, levels: Sequence[Hashable]) -> list[Hashable]:
    return list(dict.fromkeys(levels))
