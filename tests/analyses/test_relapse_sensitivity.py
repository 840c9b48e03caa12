"""The relapse sensitivity (issue 14, `sensitivity_relapse`): the main models under every relapse rule, and its truth check.

One small synthetic delivery (synth -> ingest -> build -> analyse through the command line); the
default study's rule is 'continue', so its rows must equal the main analyses' own.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from analyses.designs.relapse import relapse_rules_built, rule_tables
from analyses.designs.time_varying import check_person_time
from analyses.designs.specs import specs_from_table
from koord.errors import StudyDefinitionError
from pipeline.commands.recovery_relapse import PLANTED_RULES, relapse_checks
from tests.analyses.synthetic_chain import analysed_delivery, results_tables

PERSONS, SEED = 4_000, 23
STUDY = """
[analyses]
run = ["tv_cox", "tv_poisson", "sensitivity_relapse"]
"""
RULES = ("continue", "censor", "event")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    paths = analysed_delivery(tmp_path_factory.mktemp("relapse"), PERSONS, SEED, STUDY)
    con = duckdb.connect(str(paths["warehouse"]), read_only=True)
    yield {"tables": results_tables(con), "con": con, "truth": json.loads(paths["truth"].read_text(encoding="utf-8"))}
    con.close()


def test_one_row_per_rule_source_population_and_chapter_group(analysed):
    table = analysed["tables"]["sensitivity_relapse"]
    main = analysed["tables"]["tv_cox"]
    assert set(table["relapse_rule"]) == set(RULES) and set(table["source"]) == {"tv_cox", "tv_poisson"}
    per_rule = table.groupby(["relapse_rule", "source"]).size()
    assert set(per_rule) == {len(main)}  # the source's rows (populations x chapter groups) under every rule
    assert set(table.groupby(["relapse_rule", "source", "sex", "subgroup", "level"]).size()) == {1}
    assert np.isfinite(table["std_error"]).all() and (table["n_events"] > 0).all()
    assert table.loc[table["is_study_rule"], "relapse_rule"].unique().tolist() == ["continue"]


def test_the_study_rule_reproduces_the_main_analyses(analysed):
    table = analysed["tables"]["sensitivity_relapse"]
    for source in ("tv_cox", "tv_poisson"):
        own = analysed["tables"][source].set_index(["sex", "subgroup", "level"]).sort_index()
        mine = table[(table["relapse_rule"] == "continue") & (table["source"] == source)]
        mine = mine.set_index(["sex", "subgroup", "level"]).sort_index()
        np.testing.assert_allclose(mine["estimate"], own["estimate"], rtol=1e-10)
        np.testing.assert_allclose(mine["std_error"], own["std_error"], rtol=1e-10)
        assert (mine["n_events"].to_numpy() == own["n_events"].to_numpy()).all()


def test_the_rules_differ_as_defined(analysed):
    table = analysed["tables"]["sensitivity_relapse"]
    everyone = table[(table["sex"] == "all") & (table["subgroup"] == "all") & (table["source"] == "tv_cox")]
    spells = everyone.set_index("relapse_rule")["n_spells"]
    events = everyone.set_index("relapse_rule")["n_events"]
    # 'continue' analyses each relapse chain once; 'event' counts more returns than 'censor' on the same spells
    assert spells["censor"] == spells["event"] > spells["continue"]
    assert events["event"] > events["censor"]
    diag = json.loads(analysed["tables"]["_analyses"].set_index("id").loc["sensitivity_relapse", "diagnostics"])
    assert diag["study_relapse_rule"] == "continue" and diag["relapse_rules"] == list(RULES)
    assert diag["per_rule"]["continue"]["n_spells_continued_into_relapse"] > 0
    assert diag["per_rule"]["censor"]["n_spells_continued_into_relapse"] == 0


def test_rule_tables_shadow_the_analysis_tables_and_drop_afterwards(analysed):
    con = analysed["con"]
    assert relapse_rules_built(con) == (list(RULES), "continue")
    n_spells = con.execute("select count(*) from spells").fetchone()[0]
    with rule_tables(con, "censor"):
        check_person_time(con)  # one switch at t_c, no gaps
        n_rule = con.execute("select count(*) from spells").fetchone()[0]
        # the rule's person-time: all follow-up days, one event per return to work
        days, events = con.execute("select sum(stop_day - start_day), sum(event_return_to_work) from person_time").fetchone()
        want = con.execute("select sum(followup_days), count(*) filter (where end_reason = 'return_to_work') "
                           "from main.spell_relapse_outcomes where relapse_rule = 'censor'").fetchone()
        assert (days, events) == want
    assert n_rule > n_spells == con.execute("select count(*) from spells").fetchone()[0]
    with pytest.raises(ValueError):
        with rule_tables(con, "ignore"):
            pass


def test_check_truth_rows_for_the_rules_with_a_planted_truth(analysed):
    rows, notes = relapse_checks(analysed["tables"], analysed["truth"])
    assert notes == []
    assert {r["check"] for r in rows} == {f"covers_planted_hr_{rule}_{s}" for rule in PLANTED_RULES
                                          for s in ("tv_cox", "tv_poisson")}
    assert len(rows) == len(PLANTED_RULES) * 2 * 3 and all(r["passed"] for r in rows)
    planted = analysed["truth"]["coordination_effect"]["hazard_ratio_by_chapter_group"]
    assert all(r["truth"] == planted[r["level"]] for r in rows)


def test_the_spec_needs_its_sources_first_and_known_rules():
    with pytest.raises(StudyDefinitionError) as err:
        specs_from_table({"run": ["sensitivity_relapse", "tv_cox", "tv_poisson"]})
    assert "'tv_cox' must be listed before 'sensitivity_relapse'" in str(err.value)
    with pytest.raises(StudyDefinitionError) as err:
        specs_from_table({"run": ["tv_cox", "tv_poisson", "sensitivity_relapse"],
                          "sensitivity_relapse": {"rules": ["continue", "ignore"]}})
    assert "ignore" in str(err.value)
