"""The main time-varying models under every relapse rule (issue 14, `sensitivity_relapse`).

A new spell starting within the relapse window after a spell's last day (study.toml [outcome]
relapse_window_days) is handled by the study's relapse rule: 'continue' (the default: the
follow-up runs on through the new spell, and the return to work is a sustained return),
'censor' (the spell is censored on its last day) or 'event' (its end counts as a return to
work all the same, the upper bound). The build publishes every rule's follow-up, end reason and
first GC001 in `spell_relapse_outcomes` (one row per rule x spell the rule analyses, with the
confounders at the start), and this design reruns the main analyses it names (``sources``, by
default tv_cox and tv_poisson) under each rule with the IDENTICAL models: their confounders,
entry day, time bands and populations. Per rule, `spells` and `person_time` are read from
temporary views over that rule's rows (`rule_tables`): the estimators of `time_varying` are
used unchanged. The rule's person-time holds at most two intervals per spell, unexposed
(0, t_c] and exposed (t_c, followup_days], which is all the Cox rows and the Poisson
aggregation read of `person_time` (they cut it into their own bands).

One summary row per rule x source x population (everyone, women, men) x chapter group, with the
rule in ``relapse_rule`` and ``is_study_rule`` marking the study's own (whose estimates equal
the source analysis' own).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Iterator

import duckdb
import pandas as pd

from analyses.designs.covariates import KNOWN_COVARIATES, covariate_select_sql, fetch_categorical
from analyses.designs.specs import AnalysisSpec, RelapseSensitivityParameters
from analyses.designs.time_varying import (
    aggregate_person_time,
    counting_process_rows,
    needed_covariates,
    spell_level,
    time_varying_cox,
    time_varying_poisson,
)
from analyses.results import Result, make_summary
from data_schemas.study import RELAPSE_RULES
from koord.errors import ContractViolation

RELAPSE_TABLE = "spell_relapse_outcomes"


def relapse_rules_built(con: duckdb.DuckDBPyConnection) -> tuple[list[str], str | None]:
    """The rules `spell_relapse_outcomes` holds and the study's own; ContractViolation without the table."""
    present = con.execute("select count(*) from information_schema.tables where table_schema = 'main' "
                          f"and table_name = '{RELAPSE_TABLE}'").fetchall()[0][0]
    if not present:
        raise ContractViolation(f"the warehouse has no table {RELAPSE_TABLE}: rebuild it with `koord build` "
                                "(the relapse rules are built since issue 14)")
    rows = con.execute(f"select relapse_rule, bool_or(is_study_rule) from main.{RELAPSE_TABLE} group by 1").fetchall()
    rules = [r for r in RELAPSE_RULES if r in {rule for rule, _ in rows}]
    study = next((rule for rule, own in rows if own), None)
    return rules, study


@contextmanager
def rule_tables(con: duckdb.DuckDBPyConnection, rule: str) -> Iterator[None]:
    """Temporary views `spells` and `person_time` of one relapse rule, dropped on exit.

    Temporary views come first in DuckDB's name resolution, so the estimators, which read the
    analysis tables by name, read the rule's follow-up instead while the views exist.
    """
    if rule not in RELAPSE_RULES:  # the rule is spliced into the views' SQL
        raise ValueError(f"unknown relapse rule {rule!r}")
    con.execute(f"create or replace temp view spells as "
                f"select * from main.{RELAPSE_TABLE} where relapse_rule = '{rule}'")
    con.execute(f"""
        create or replace temp view person_time as
        with rule_spells as (
            select spell_id, person_id, followup_days, days_to_first_gc001, end_reason = 'return_to_work' as is_return
            from main.{RELAPSE_TABLE} where relapse_rule = '{rule}'
        )
        select spell_id, person_id, false as is_coordinated, 0 as start_day,
               coalesce(days_to_first_gc001, followup_days) as stop_day,
               (days_to_first_gc001 is null and is_return)::integer as event_return_to_work
        from rule_spells where coalesce(days_to_first_gc001, followup_days) > 0
        union all
        select spell_id, person_id, true, days_to_first_gc001, followup_days, is_return::integer
        from rule_spells where days_to_first_gc001 is not null""")
    try:
        yield
    finally:
        con.execute("drop view if exists temp.person_time")
        con.execute("drop view if exists temp.spells")


def _rule_spells(con: duckdb.DuckDBPyConnection, entry_day: int) -> pd.DataFrame:
    """The rule's spells followed beyond the entry day, covariates as text, ``event`` = ends in return to work."""
    spells = fetch_categorical(con, f"""
        select spell_id, person_id, followup_days, end_reason, {covariate_select_sql(KNOWN_COVARIATES)}
        from spells where followup_days > {int(entry_day)} order by spell_id""")
    spells["event"] = (spells["end_reason"].astype(str) == "return_to_work").astype(float)
    return spells


def rule_estimates(con: duckdb.DuckDBPyConnection, spec: AnalysisSpec, source: AnalysisSpec, rule: str) -> Result:
    """One source model (its own spec, with this analysis' id) under one relapse rule."""
    run_spec = AnalysisSpec(spec.id, source.design, source.description,
                            replace(source.parameters, by_sex=spec.parameters.by_sex))
    p = run_spec.parameters
    covariates = needed_covariates(p.confounders)
    with rule_tables(con, rule):
        if source.design == "time_varying_cox":
            rows, book = counting_process_rows(con, covariates, p.entry_day)
            return time_varying_cox(run_spec, rows, spell_level(rows, covariates), book)
        cells = aggregate_person_time(con, covariates, tuple(p.band_cuts), p.entry_day)
        return time_varying_poisson(run_spec, cells, _rule_spells(con, p.entry_day))


def _rule_counts(con: duckdb.DuckDBPyConnection, rule: str) -> dict[str, Any]:
    n, chained, back = con.execute(f"""
        select count(*), count(*) filter (where n_relapse_spells > 0), count(*) filter (where end_reason = 'return_to_work')
        from main.{RELAPSE_TABLE} where relapse_rule = ?""", [rule]).fetchall()[0]
    return {"n_spells": int(n), "n_spells_continued_into_relapse": int(chained), "n_returns_to_work": int(back)}


def relapse_sensitivity(spec: AnalysisSpec, sources: dict[str, AnalysisSpec], con: duckdb.DuckDBPyConnection,
                        progress: Callable[[str], None] = lambda _: None) -> Result:
    """Every source model under every relapse rule (see the module docstring).

    Parameters
    ----------
    spec : design 'relapse_sensitivity' (its own model parameters are unused: the sources' are
        taken so that the models are identical).
    sources : the resolved specs of the analyses named in ``spec.parameters.sources``.
    con : the warehouse (read only; temporary views only).
    """
    params: RelapseSensitivityParameters = spec.parameters
    built, study_rule = relapse_rules_built(con)
    missing = [r for r in params.rules if r not in built]
    if missing:
        raise ContractViolation(f"[analyses.{spec.id}] rules: {', '.join(missing)} not in {RELAPSE_TABLE} "
                                f"(built: {', '.join(built) or 'none'})")
    frames, per_rule = [], {}
    for rule in params.rules:
        per_rule[rule] = {"is_study_rule": rule == study_rule, **_rule_counts(con, rule)}
        for source_id in params.sources:
            progress(f"  relapse rule '{rule}' through {source_id} …")
            res = rule_estimates(con, spec, sources[source_id], rule)
            frame = res.summary.copy()
            frame.insert(2, "relapse_rule", rule)
            frame.insert(3, "source", source_id)
            frame["is_study_rule"] = rule == study_rule
            frames.append(frame)
            per_rule[f"{rule}/{source_id}"] = res.diagnostics
    diagnostics = {"design": spec.design, "sources": list(params.sources), "relapse_rules": list(params.rules),
                   "study_relapse_rule": study_rule, "per_rule": per_rule}
    summary = pd.concat(frames, ignore_index=True) if frames else make_summary([], analysis_id=spec.id, method="cox",
                                                                               diagnostics=diagnostics)
    summary["analysis_id"] = spec.id
    return Result(analysis_id=spec.id, method="relapse_sensitivity", summary=summary, diagnostics=diagnostics,
                  tables={})


__all__ = ["RELAPSE_TABLE", "relapse_rules_built", "relapse_sensitivity", "rule_estimates", "rule_tables"]
