"""The auditor attacks published numbers; protection across linked outputs survives it.

The differencing a reader did on the demo report (issue 10) is rebuilt by hand: a flow of
persons by sex with a few persons of unknown sex, and models that publish the persons of
the study population for everyone, women and men. Before the models' counts were linked to
the flow, the audit pins a withheld cell exactly; with the link, nothing is pinned.
"""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
import pytest

from reports.disclosure import is_withheld
from reports.audit import interval_audit
from reports.disclosure import (
    CellRef,
    CountTable,
    CurveOutput,
    DisclosureClass,
    DisclosureRules,
    FrequencyOutput,
    ModelOutput,
    OutputDeclaration,
    RunInfo,
    SharedCount,
    audit_report,
    check_outputs,
    with_margins,
)
from reports.sections._build import FLOW_OUTPUT, FLOW_PERSONS, TOTAL, attrition_table
from reports.sections._results import shared_population_counts

RUN = RunInfo(run_at=datetime(2026, 1, 15, 12, 0), code_version="test")
FREQ = OutputDeclaration("freq", DisclosureClass.FREQUENCY, "Frekvenstabell")
FLOW = OutputDeclaration(FLOW_OUTPUT, DisclosureClass.FREQUENCY, "Urvalsflöde")
MODEL = OutputDeclaration("modell", DisclosureClass.MODEL, "Modell")
CURVE = OutputDeclaration("kurva", DisclosureClass.SURVIVAL_CURVE, "Kurva")


def key(r, c, table="t", out="o"):
    return (out, table, r, c)


# --- the solver ------------------------------------------------------------------------------------


def two_by_two(published):
    cells = {key(r, c): v for (r, c), v in published.items()}
    eqs = [(key(r, "T"), key(r, "x"), key(r, "y")) for r in ("a", "b", "T")]
    eqs += [(key("T", c), key("a", c), key("b", c)) for c in ("x", "y", "T")]
    return cells, eqs


def test_a_cell_withheld_alone_is_pinned_exactly():
    cells, eqs = two_by_two({("a", "x"): None, ("a", "y"): 20, ("a", "T"): 23, ("b", "x"): 30, ("b", "y"): 40,
                             ("b", "T"): 70, ("T", "x"): 33, ("T", "y"): 60, ("T", "T"): 93})
    iv = interval_audit(cells, eqs)[key("a", "x")]
    assert (iv.lower, iv.upper) == (3, 3)


def test_the_rectangle_pattern_leaves_an_interval_as_wide_as_its_row():
    cells, eqs = two_by_two({("a", "x"): None, ("a", "y"): None, ("a", "T"): 23, ("b", "x"): None, ("b", "y"): None,
                             ("b", "T"): 70, ("T", "x"): 33, ("T", "y"): 60, ("T", "T"): 93})
    out = interval_audit(cells, eqs)
    assert (out[key("a", "x")].lower, out[key("a", "x")].upper) == (0, 23)
    assert (out[key("b", "y")].lower, out[key("b", "y")].upper) == (37, 60)


def test_rounded_counts_are_intervals_and_unbounded_cells_are_infinite():
    cells, eqs = two_by_two({("a", "x"): None, ("a", "y"): 20, ("a", "T"): 25, ("b", "x"): 30, ("b", "y"): 40,
                             ("b", "T"): 70, ("T", "x"): 35, ("T", "y"): 60, ("T", "T"): 95})
    iv = interval_audit(cells, eqs, rounding_base=5)[key("a", "x")]
    assert (iv.lower, iv.upper) == (1, 9)  # exactly 5 without rounding; each published count is ± 2
    lone = interval_audit({key("z", "z"): None}, [])[key("z", "z")]
    assert lone.lower == 0 and math.isinf(lone.upper)


def test_links_make_two_cells_one_unknown():
    cells = {key("a", "x"): None, key("a", "T"): 12, key("a", "y"): 9, key("r", "c", out="p"): None}
    eqs = [(key("a", "T"), key("a", "x"), key("a", "y"))]
    out = interval_audit(cells, eqs, links=[(key("a", "x"), key("r", "c", out="p"))])
    assert out[key("r", "c", out="p")].upper == 3


# --- the repair: the heuristic's pattern is extended until the audit passes -------------------------


def test_two_small_cells_that_protect_only_each_other_are_widened():
    # Row a: 3 and 2 are both primary; the heuristic is content (two unknowns in every
    # equation) but a + b = 45 - 40 = 5 pins both to [0, 5].
    inner = pd.DataFrame({"x": [3, 50], "y": [2, 60], "z": [40, 70]}, index=["a", "b"])
    table = with_margins(inner, group_axis=None)
    rules = DisclosureRules()
    checked = check_outputs([FrequencyOutput(FREQ, {"t": table})], rules, RUN)
    audit = audit_report([FrequencyOutput(FREQ, {"t": table})], checked, rules)
    assert audit["protected"].all(), audit
    assert (audit["width"] >= 10).all()
    published = checked["freq"].table("t")
    assert is_withheld(published.at["a", "z"])  # the widening cell
    assert any(r.rule == "audit" for r in checked["freq"].reasons)


# --- the demo's differencing --------------------------------------------------------------------------


def demo_like_flow() -> pd.DataFrame:
    """Persons by sex after each step, 40 persons of unknown sex, one of whom step 4 removes."""
    steps = {  # step: (women, men, all)
        1: (12623, 7377, 20040),
        4: (11532, 6739, 18310),   # unknown 39: step 4 removes 1 of unknown sex
        5: (11209, 6544, 17792),
        6: (10846, 6304, 17189),
        7: (10846, 6304, 17150),   # persons of unknown sex (39) leave
    }
    rows = []
    for step, (w, m, a) in steps.items():
        rows += [{"step_order": step, "sex": "woman", "n_persons": w}, {"step_order": step, "sex": "man", "n_persons": m},
                 {"step_order": step, "sex": "all", "n_persons": a}]
    return pd.DataFrame(rows)


def demo_like_outputs(linked: bool):
    flow = attrition_table(demo_like_flow(), "n_persons")
    summary = pd.DataFrame({
        "analysis_id": "tv_cox", "subgroup": ["all", "sex", "sex"], "level": ["all", "woman", "man"],
        "sex": ["all", "woman", "man"], "term": "is_coordinated", "estimand": "hazard_ratio",
        "estimate": [1.3, 1.28, 1.33], "conf_low": [1.2, 1.15, 1.2], "conf_high": [1.4, 1.4, 1.5], "std_error": 0.05,
        "p_value": 0.001, "n_persons": [17150, 10846, 6304], "n_events": [9000, 5600, 3400], "diagnostics": "{}",
        "method": "cox",
    })
    shared = shared_population_counts(summary, flow.values) if linked else ()
    return [FrequencyOutput(FLOW, {FLOW_PERSONS: flow}),
            ModelOutput(MODEL, summary, output_id="modell:tv_cox", shared_counts=shared)]


def test_the_demo_differencing_pins_a_cell_when_the_model_counts_are_not_linked():
    rules = DisclosureRules()
    unlinked = check_outputs(demo_like_outputs(linked=False), rules, RUN)
    # The attacker knows the relation (the model's persons are the last step's), whatever
    # the protection assumed.
    audit = audit_report(demo_like_outputs(linked=True), unlinked, rules)
    pinned = audit[~audit["protected"]]
    assert not pinned.empty
    assert ((pinned["lower"] == 1) & (pinned["upper"] == 1)).any()  # the unknown-sex person of step 4, exactly


def test_with_the_link_no_withheld_cell_is_pinned_and_the_model_withholds_the_counts_the_flow_protects():
    rules = DisclosureRules()
    outputs = demo_like_outputs(linked=True)
    assert [s.cell for s in outputs[1].shared_counts] == [
        CellRef(FLOW_OUTPUT, FLOW_PERSONS, "7:kvar", TOTAL), CellRef(FLOW_OUTPUT, FLOW_PERSONS, "7:kvar", "woman"),
        CellRef(FLOW_OUTPUT, FLOW_PERSONS, "7:kvar", "man")]
    checked = check_outputs(outputs, rules, RUN)
    audit = audit_report(outputs, checked, rules)
    assert audit["protected"].all(), audit[~audit["protected"]]
    flow = checked[FLOW_OUTPUT].table(FLOW_PERSONS)
    model = checked["modell:tv_cox"].table("summary")
    for i, col in enumerate([TOTAL, "woman", "man"]):
        if is_withheld(flow.at["7:kvar", col]):
            assert is_withheld(model.at[i, "n_persons"])
        else:
            assert model.at[i, "n_persons"] == flow.at["7:kvar", col]
    assert model["estimate"].notna().all()  # the estimates stay


@pytest.mark.parametrize("base", [5, 10])
def test_rounded_reports_pass_the_audit_too(base):
    rules = DisclosureRules(rounding_base=base)
    outputs = demo_like_outputs(linked=True)
    checked = check_outputs(outputs, rules, RUN)
    assert audit_report(outputs, checked, rules)["protected"].all()


# --- shares of 0 % and 100 % ---------------------------------------------------------------------------


def test_a_share_of_100_percent_is_withheld_with_the_contrasts_that_would_give_it_back():
    base = {"analysis_id": "target_trial", "subgroup": "all", "level": "all", "sex": "all", "term": "is_coordinated",
            "std_error": 0.01, "p_value": None, "n_persons": 320, "n_events": 457, "method": "trial", "horizon_days": 365,
            "diagnostics": '{"events_per_arm": {"control": 410, "treated": 47}}'}
    rows = [
        {**base, "arm": "treated", "estimand": "cumulative_incidence", "estimate": 1.0, "conf_low": 0.97, "conf_high": 1.0},
        {**base, "arm": "control", "estimand": "cumulative_incidence", "estimate": 0.86, "conf_low": 0.8, "conf_high": 0.9},
        {**base, "arm": None, "estimand": "risk_difference", "estimate": 0.14, "conf_low": 0.1, "conf_high": 0.2},
        {**base, "arm": None, "estimand": "risk_difference", "estimate": 0.05, "conf_low": 0.0, "conf_high": 0.1,
         "horizon_days": 180},
    ]
    checked = check_outputs([ModelOutput(MODEL, pd.DataFrame(rows))], DisclosureRules(), RUN)["modell"]
    s = checked.table("summary")
    assert is_withheld(s.at[0, "estimate"]) and is_withheld(s.at[2, "estimate"])
    assert s.at[1, "estimate"] == 0.86 and s.at[3, "estimate"] == 0.05  # other shares and horizons stay
    assert {r.rule for r in checked.reasons} >= {"extreme_share"}


def test_a_curve_step_at_100_percent_is_not_shown():
    curve = pd.DataFrame({"arm": "a", "time": [0, 10, 20, 30], "cif": [0.0, 0.4, 0.8, 1.0],
                          "n_at_risk": [100, 100, 60, 20], "n_events": [0, 40, 40, 20]})
    checked = check_outputs([CurveOutput(CURVE, curve, group_columns=("arm",))], DisclosureRules(), RUN)["kurva"]
    shown = checked.table("curve")
    assert list(shown["time"]) == [0, 10, 20]
    assert any(r.rule == "extreme_share" for r in checked.reasons)
