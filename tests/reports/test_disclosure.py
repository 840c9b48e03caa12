"""Disclosure-control rules on small hand-made tables: each rule, and that nothing withheld can be recomputed."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

import reports.disclosure.checked
from koord.errors import DisclosureError, StudyDefinitionError
from reports.disclosure import is_withheld
from reports.disclosure import (
    CellRef,
    Equation,
    CheckedOutput,
    CountTable,
    CurveOutput,
    DisclosureClass,
    DisclosureRules,
    FigureOutput,
    FrequencyOutput,
    Link,
    LinkedEquation,
    MagnitudeOutput,
    ModelOutput,
    OutputDeclaration,
    RowLevelOutput,
    RunInfo,
    Status,
    TextNumberOutput,
    check_outputs,
    magnitude_stats,
    magnitude_table_from_stats,
    require_checked,
    round_count,
    with_margins,
)

RUN = RunInfo(run_at=datetime(2026, 1, 15, 12, 0), code_version="test")
FREQ = OutputDeclaration("freq", DisclosureClass.FREQUENCY, "Frekvenstabell")
MAG = OutputDeclaration("mag", DisclosureClass.MAGNITUDE, "Magnitudtabell")
MODEL = OutputDeclaration("model", DisclosureClass.MODEL, "Modell")
CURVE = OutputDeclaration("curve", DisclosureClass.SURVIVAL_CURVE, "Kurva")
FIG = OutputDeclaration("fig", DisclosureClass.FIGURE, "Figur")
TEXT = OutputDeclaration("text", DisclosureClass.TEXT_NUMBER, "Tal")
ROWS = OutputDeclaration("rows", DisclosureClass.ROW_LEVEL, "Individdata")


def check(*outputs, **rules):
    return check_outputs(list(outputs), DisclosureRules(**rules), RUN)


def hidden_cells(checked: CheckedOutput, table: str | None = None) -> set[tuple]:
    t = checked.table(table)
    return {(r, c) for r in t.index for c in t.columns if is_withheld(t.at[r, c])}


def recoverable(published: dict[tuple, float | None], equations: list[tuple]) -> set[tuple]:
    """Withheld cells whose value the published cells and equations determine (linear algebra).

    ``published`` maps every cell to its value or None (withheld); each equation is
    (total, part, part, ...). A withheld cell is recoverable iff its unit vector lies in the
    row space of the equations restricted to the withheld cells.
    """
    unknown = sorted((k for k, v in published.items() if v is None or is_withheld(v)), key=repr)
    if not unknown:
        return set()
    idx = {k: i for i, k in enumerate(unknown)}
    rows = []
    for eq in equations:
        coef = np.zeros(len(unknown))
        for sign, cell in [(1.0, eq[0])] + [(-1.0, p) for p in eq[1:]]:
            if cell in idx:
                coef[idx[cell]] += sign
        if coef.any():
            rows.append(coef)
    if not rows:
        return set()
    a = np.array(rows)
    rank = np.linalg.matrix_rank(a)
    out = set()
    for k, i in idx.items():
        e = np.zeros(len(unknown))
        e[i] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.add(k)
    return out


def table_equations(table: CountTable, prefix: tuple = ()) -> list[tuple]:
    return [tuple(prefix + cell for cell in (eq.total, *eq.parts)) for eq in table.equations]


def published_cells(checked: CheckedOutput, key: str, prefix: tuple = ()) -> dict[tuple, float | None]:
    t = checked.table(key)
    return {prefix + (r, c): t.at[r, c] for r in t.index for c in t.columns}


# --- frequency tables --------------------------------------------------------------------


def diagnosis_by_sex() -> CountTable:
    interior = pd.DataFrame(
        {"Kvinnor": [120, 4, 57], "Män": [98, 31, 40]},
        index=["Psykiatriska", "Muskuloskeletala", "Övriga"],
    )
    return with_margins(interior)


def test_primary_suppression_withholds_small_cells_and_nothing_else_primary():
    table = diagnosis_by_sex()
    out = check(FrequencyOutput(FREQ, {"t": table}), secondary_suppression=False)["freq"]
    assert out.status is Status.SUPPRESSED
    assert hidden_cells(out, "t") == {("Muskuloskeletala", "Kvinnor")}
    assert [r.rule for r in out.reasons] == ["min_cell_count"]
    assert out.table("t").at["Psykiatriska", "Kvinnor"] == 120


def test_single_suppressed_cell_is_recoverable_from_margins_without_secondary_suppression():
    # The case secondary suppression exists for: 4 = 35 - 31 and 4 = 181 - 120 - 57.
    table = diagnosis_by_sex()
    out = check(FrequencyOutput(FREQ, {"t": table}), secondary_suppression=False)["freq"]
    assert recoverable(published_cells(out, "t"), table_equations(table)) == {("Muskuloskeletala", "Kvinnor")}


def test_secondary_suppression_leaves_no_withheld_cell_recoverable():
    table = diagnosis_by_sex()
    out = check(FrequencyOutput(FREQ, {"t": table}))["freq"]
    hidden = hidden_cells(out, "t")
    assert ("Muskuloskeletala", "Kvinnor") in hidden
    assert len(hidden) >= 4  # at least a rectangle: two per row and per column
    for eq in table.equations:
        n_hidden = sum(cell in hidden for cell in (eq.total, *eq.parts))
        assert n_hidden != 1, f"equation {eq} would give back its one withheld cell"
    assert recoverable(published_cells(out, "t"), table_equations(table)) == set()
    rules = {r.rule for r in out.reasons}
    assert rules == {"min_cell_count", "secondary"}
    # The complement in the row is the smaller inner cell (Män, 31), not the margin.
    assert ("Muskuloskeletala", "Män") in hidden
    assert ("Muskuloskeletala", "Totalt") not in hidden


def test_secondary_suppression_reaches_a_fixed_point_over_several_rounds():
    interior = pd.DataFrame(
        {"A": [3, 50, 60, 70], "B": [40, 6, 45, 55], "C": [35, 38, 2, 66]},
        index=["r1", "r2", "r3", "r4"],
    )
    table = with_margins(interior, group_axis=None)
    out = check(FrequencyOutput(FREQ, {"t": table}))["freq"]
    hidden = hidden_cells(out, "t")
    assert {("r1", "A"), ("r2", "B"), ("r3", "C")} <= hidden
    for eq in table.equations:
        assert sum(c in hidden for c in (eq.total, *eq.parts)) != 1
    assert recoverable(published_cells(out, "t"), table_equations(table)) == set()


def test_linked_tables_by_sex_and_total_are_suppressed_together():
    ages = ["16-29", "30-49", "50-64"]
    by_sex = CountTable(
        pd.DataFrame({"Kvinnor": [3, 40, 50, 93], "Män": [22, 35, 44, 101]}, index=[*ages, "Totalt"]),
        equations=tuple(Equation(("Totalt", c), tuple((r, c) for r in ages)) for c in ["Kvinnor", "Män"]),
    )
    totals = CountTable(
        pd.DataFrame({"Totalt": [25, 75, 94, 194]}, index=["16-29", "30-49", "50-64", "Totalt"]),
        equations=(Equation(("Totalt", "Totalt"), (("16-29", "Totalt"), ("30-49", "Totalt"), ("50-64", "Totalt"))),),
    )
    cross = tuple(
        LinkedEquation(CellRef("tot", "t", r, "Totalt"), (CellRef("sex", "t", r, "Kvinnor"), CellRef("sex", "t", r, "Män")))
        for r in ["16-29", "30-49", "50-64", "Totalt"]
    )
    decl_sex = OutputDeclaration("sex", DisclosureClass.FREQUENCY, "Efter kön")
    decl_tot = OutputDeclaration("tot", DisclosureClass.FREQUENCY, "Totalt")
    equations = (
        table_equations(by_sex, ("sex", "t"))
        + table_equations(totals, ("tot", "t"))
        + [tuple((ref.output_id, ref.table, ref.row, ref.col) for ref in (e.total, *e.parts)) for e in cross]
    )

    # Checked one by one, the table of totals gives the 3 back: 25 - 22.
    alone = check(FrequencyOutput(decl_sex, {"t": by_sex}), FrequencyOutput(decl_tot, {"t": totals}))
    cells = published_cells(alone["sex"], "t", ("sex", "t")) | published_cells(alone["tot"], "t", ("tot", "t"))
    assert ("sex", "t", "16-29", "Kvinnor") in recoverable(cells, equations)

    linked = check(FrequencyOutput(decl_sex, {"t": by_sex}, links=cross), FrequencyOutput(decl_tot, {"t": totals}))
    cells = published_cells(linked["sex"], "t", ("sex", "t")) | published_cells(linked["tot"], "t", ("tot", "t"))
    assert is_withheld(cells[("sex", "t", "16-29", "Kvinnor")])
    assert recoverable(cells, equations) == set()


def test_identical_cells_in_linked_tables_are_withheld_in_both():
    # Two blocks of a "Table 1" share their totals by sex. In the age block the women's total
    # must be withheld (its column has only a zero left to pair with); the education block
    # publishes the same total and must withhold it too.
    def block(rows: dict[str, list[int]]) -> CountTable:
        return with_margins(pd.DataFrame(rows, index=["Kvinnor", "Män"]).T, group_axis=None)

    age = block({"16-39": [0, 30], "40-64": [44, 3]})
    edu = block({"Låg": [20, 15], "Hög": [24, 18]})
    decl = OutputDeclaration("t1", DisclosureClass.FREQUENCY, "Tabell 1")
    links = tuple(
        Link(CellRef("t1", "age", "Totalt", c), CellRef("t1", "edu", "Totalt", c)) for c in ["Kvinnor", "Män", "Totalt"]
    )
    equations = (
        table_equations(age, ("t1", "age")) + table_equations(edu, ("t1", "edu"))
        + [(("t1", "age", "Totalt", c), ("t1", "edu", "Totalt", c)) for c in ["Kvinnor", "Män", "Totalt"]]
    )

    def cells(out):
        return published_cells(out, "age", ("t1", "age")) | published_cells(out, "edu", ("t1", "edu"))

    unlinked = check(FrequencyOutput(decl, {"age": age, "edu": edu}))["t1"]
    assert ("Totalt", "Kvinnor") in hidden_cells(unlinked, "age")
    assert ("Totalt", "Kvinnor") not in hidden_cells(unlinked, "edu")
    assert recoverable(cells(unlinked), equations)  # the education block gives it back

    linked = check(FrequencyOutput(decl, {"age": age, "edu": edu}, links=links))["t1"]
    for c in ["Kvinnor", "Män", "Totalt"]:
        assert (("Totalt", c) in hidden_cells(linked, "age")) == (("Totalt", c) in hidden_cells(linked, "edu"))
    assert ("Totalt", "Kvinnor") in hidden_cells(linked, "edu")
    assert any("samma tal som age / Totalt / Kvinnor" in r.detail for r in linked.reasons if r.location == "edu / Totalt / Kvinnor")
    assert recoverable(cells(linked), equations) == set()


def test_a_group_whose_members_all_share_one_category_is_withheld():
    interior = pd.DataFrame({"Kvinnor": [0, 25, 0], "Män": [30, 12, 18]}, index=["Låg", "Mellan", "Hög"])
    table = with_margins(interior)
    out = check(FrequencyOutput(FREQ, {"t": table}))["freq"]
    hidden = hidden_cells(out, "t")
    # All 25 women have "Mellan": the full cell and the zeros around it are withheld.
    assert {("Låg", "Kvinnor"), ("Mellan", "Kvinnor"), ("Hög", "Kvinnor")} <= hidden
    assert any(r.rule == "disclosive_zero" for r in out.reasons)
    assert recoverable(published_cells(out, "t"), table_equations(table)) == set()

    flagged = check(FrequencyOutput(FREQ, {"t": table}), disclosive_zeros="flag")["freq"]
    assert flagged.status is Status.PASSED and hidden_cells(flagged, "t") == set()
    assert [f.rule for f in flagged.flags] == ["disclosive_zero"]


def test_zeros_that_reveal_nothing_are_shown():
    # Nobody has "Okänd": a zero row says nothing about any group.
    interior = pd.DataFrame({"Kvinnor": [40, 35, 0], "Män": [30, 12, 0]}, index=["Låg", "Hög", "Okänd"])
    out = check(FrequencyOutput(FREQ, {"t": with_margins(interior)}))["freq"]
    assert out.status is Status.PASSED
    assert out.table("t").at["Okänd", "Kvinnor"] == 0


def test_rounding_rounds_published_counts_to_the_base():
    assert [round_count(x, 5) for x in (10, 12, 12.5, 13, 17)] == [10, 10, 15, 15, 15]
    assert round_count(17, None) == 17
    interior = pd.DataFrame({"Kvinnor": [12, 23], "Män": [18, 41]}, index=["a", "b"])
    out = check(FrequencyOutput(FREQ, {"t": with_margins(interior)}), rounding_base=5)["freq"]
    t = out.table("t")
    assert t.at["a", "Kvinnor"] == 10 and t.at["b", "Män"] == 40 and t.at["Totalt", "Totalt"] == 95
    assert all(v % 5 == 0 for v in t.to_numpy().ravel())
    assert out.thresholds["rounding_base"] == 5


# --- magnitude tables --------------------------------------------------------------------------


def earnings_contributions() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for sex in ("Kvinnor", "Män"):
        for group in ("A", "B", "C"):
            amounts = list(rng.uniform(20_000, 30_000, size=12))
            if (sex, group) == ("Kvinnor", "A"):
                amounts.append(5_000_000)  # one dominant earner
            if (sex, group) == ("Män", "B"):
                amounts = [400_000, 380_000] + [500.0] * 10  # two dominate: p-percent and (2, 90)
            if (sex, group) == ("Män", "C"):
                amounts = amounts[:6]  # too few contributors
            rows += [{"sex": sex, "group": group, "amount": a} for a in amounts]
    return pd.DataFrame(rows)


def magnitude_table(contrib: pd.DataFrame):
    cells = magnitude_stats(contrib, ["group", "sex"], "amount")
    by_group = magnitude_stats(contrib, ["group"], "amount").assign(sex="Totalt")
    by_sex = magnitude_stats(contrib, ["sex"], "amount").assign(group="Totalt")
    grand = magnitude_stats(contrib.assign(k=1), ["k"], "amount").drop(columns="k").assign(sex="Totalt", group="Totalt")
    stats = pd.concat([cells, by_group, by_sex, grand], ignore_index=True)
    return magnitude_table_from_stats(stats, row="group", col="sex", row_order=["A", "B", "C", "Totalt"], col_order=["Kvinnor", "Män", "Totalt"])


def test_dominance_p_percent_and_contributor_rules():
    table = magnitude_table(earnings_contributions())
    out = check(MagnitudeOutput(MAG, {"inc": table}), secondary_suppression=False)["mag"]
    reasons = {(r.location, r.rule) for r in out.reasons}
    assert ("inc / A / Kvinnor", "dominance") in reasons
    assert ("inc / B / Män", "dominance") in reasons  # n=2, k=90
    assert ("inc / C / Män", "min_contributors") in reasons
    assert ("inc / A / Totalt", "dominance") in reasons  # the earner dominates the margin too
    assert len(reasons) == 4

    # p-percent alone (no N-K rules): the two large earners in B/Män can estimate each other.
    p_only = check(MagnitudeOutput(MAG, {"inc": table}), secondary_suppression=False, dominance=())["mag"]
    assert {r.location for r in p_only.reasons if r.rule == "p_percent"} == {"inc / B / Män", "inc / A / Kvinnor"}
    assert not any(r.rule == "dominance" for r in p_only.reasons)


def test_p_percent_rule_catches_a_cell_the_one_contributor_rule_lets_through():
    amounts = [100.0, 95.0] + [0.4] * 10  # largest is 51 %: (1, 85) passes; remainder 4 < 10 % of 100
    stats = magnitude_stats(pd.DataFrame({"r": "x", "c": "y", "amount": amounts}), ["r", "c"], "amount")
    table = magnitude_table_from_stats(stats, row="r", col="c")
    out = check(MagnitudeOutput(MAG, {"m": table}), dominance=((1, 85),), p_percent=10.0)["mag"]
    assert [r.rule for r in out.reasons][0] == "p_percent"
    passes = check(MagnitudeOutput(MAG, {"m": table}), dominance=((1, 85),), p_percent=None)["mag"]
    assert passes.status is Status.PASSED


def test_magnitude_secondary_suppression_protects_the_dominated_cell_and_publishes_means():
    contrib = earnings_contributions()
    table = magnitude_table(contrib)
    out = check(MagnitudeOutput(MAG, {"inc": table}))["mag"]
    pub = out.table("inc").set_index(["row", "col"])
    hidden = {i for i, v in pub["value"].items() if is_withheld(v)}
    assert ("A", "Kvinnor") in hidden
    for eq in table.equations:
        assert sum(c in hidden for c in (eq.total, *eq.parts)) != 1
    # A shown mean is the mean of the cell's contributions.
    ok = contrib[(contrib.group == "A") & (contrib.sex == "Män")]["amount"]
    assert pub.at[("A", "Män"), "value"] == pytest.approx(ok.mean())
    assert pub.at[("A", "Män"), "n_contributors"] == len(ok)


# --- model outputs ------------------------------------------------------------------------


def summary(rows: list[dict]) -> pd.DataFrame:
    base = {"analysis_id": "rtw_cox", "method": "cox", "estimand": "hazard_ratio", "term": "is_coordinated",
            "subgroup": "sex", "level": "woman", "estimate": 1.2, "std_error": 0.1, "conf_low": 1.0,
            "conf_high": 1.45, "p_value": 0.04, "n_persons": 500, "n_events": 300, "diagnostics": "{}"}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_model_output_with_too_few_events_is_blocked():
    out = check(ModelOutput(MODEL, summary([{"n_events": 7}])))["model"]
    assert out.status is Status.BLOCKED
    assert [r.rule for r in out.reasons] == ["min_events", "nothing_left"]
    with pytest.raises(DisclosureError, match="blocked"):
        out.table()
    with pytest.raises(DisclosureError):
        require_checked(out)


def test_model_output_suppresses_failing_subgroups_and_keeps_the_rest():
    rows = summary([
        {"level": "woman", "n_events": 300},
        {"level": "man", "n_events": 250},
        {"subgroup": "region", "level": "Gotland", "n_persons": 40, "n_events": 9},
        {"subgroup": "region", "level": "Tiny", "n_persons": 10, "n_events": 10},
    ])
    rows["analysis_id"] = ["a", "a", "b", "c"]
    out = check(ModelOutput(MODEL, rows), min_residual_df=10)["model"]
    assert out.status is Status.SUPPRESSED
    pub = out.table()
    assert pub["estimate"].isna().tolist() == [False, False, True, True]
    assert {r.rule for r in out.reasons} == {"min_events", "min_residual_df"}  # 10 persons - 1 parameter < 10
    assert pub.loc[0, "estimate"] == 1.2  # numbers that pass are untouched


def test_model_counts_are_rounded_when_rounding_is_on():
    out = check(ModelOutput(MODEL, summary([{"n_persons": 503, "n_events": 298}])), rounding_base=5)["model"]
    pub = out.table()
    assert (pub.loc[0, "n_persons"], pub.loc[0, "n_events"]) == (505, 300)


# --- curves -----------------------------------------------------------------------------------


def test_curve_steps_with_few_events_or_few_at_risk_are_collapsed():
    curve = pd.DataFrame({
        "arm": "koordinerad",
        "time": [0, 5, 8, 12, 20, 30, 40, 41],
        "cif": [0.0, 0.03, 0.05, 0.12, 0.15, 0.30, 0.35, 0.40],
        "n_at_risk": [100, 100, 97, 95, 84, 80, 9, 8],
        "n_events": [0, 3, 2, 7, 3, 12, 5, 1],
    })
    out = check(CurveOutput(CURVE, curve, group_columns=("arm",)))["curve"]
    pub = out.table()
    # Start, then t=12 (3+2+7 = 12 events), t=30 (3+12 = 15); t=40 and 41 have 9 or fewer at risk.
    assert pub["time"].tolist() == [0, 12, 30]
    assert pub["n_events"].tolist() == [0, 12, 15]
    assert pub["cif"].tolist() == [0.0, 0.12, 0.30]  # the estimate at a shown step is the true one
    assert out.status is Status.SUPPRESSED
    assert {r.rule for r in out.reasons} == {"curve_events", "curve_at_risk"}
    # Every shown step rests on at least the threshold at risk and in events.
    assert (pub["n_at_risk"] >= 10).all() and (pub["n_events"].iloc[1:] >= 10).all()

    rounded = check(CurveOutput(CURVE, curve, group_columns=("arm",)), rounding_base=10)["curve"].table()
    assert rounded["n_at_risk"].tolist() == [100, 100, 80] and rounded["n_events"].tolist() == [0, 10, 20]


def test_a_curve_group_without_a_showable_step_is_removed_and_an_empty_curve_blocked():
    curve = pd.DataFrame({"arm": ["a"] * 3 + ["b"] * 3, "time": [0, 1, 2] * 2, "cif": [0, 0.1, 0.2] * 2,
                          "n_at_risk": [50, 50, 45, 8, 8, 6], "n_events": [0, 12, 3, 0, 2, 2]})
    out = check(CurveOutput(CURVE, curve, group_columns=("arm",)))["curve"]
    assert set(out.table()["arm"]) == {"a"}
    assert any(r.rule == "curve_group" and "arm=b" in r.location for r in out.reasons)
    only_b = check(CurveOutput(CURVE, curve[curve.arm == "b"], group_columns=("arm",)))["curve"]
    assert only_b.status is Status.BLOCKED


# --- derived outputs, row-level data and the type guarantees ----------------------------------


def test_figures_and_text_numbers_inherit_from_their_sources():
    blocked_model = ModelOutput(MODEL, summary([{"n_events": 3}]))
    fig = FigureOutput(FIG, source_ids=("model",))
    small = TextNumberOutput(TEXT, 7, output_id="text_small")
    big = TextNumberOutput(TEXT, 1234, output_id="text_big")
    derived = TextNumberOutput(TEXT, 1.2, is_count=False, source_ids=("model",), output_id="text_hr")
    out = check(blocked_model, fig, small, big, derived, rounding_base=10)
    assert out["fig"].status is Status.BLOCKED and out["text_hr"].status is Status.BLOCKED
    assert out["text_small"].status is Status.SUPPRESSED and out["text_small"].value is None
    assert out["text_big"].value == 1230


def test_row_level_data_never_leave():
    people = pd.DataFrame({"person_id": [1, 2, 3], "age_years": [34, 51, 29]})
    out = check(RowLevelOutput(ROWS, people))["rows"]
    assert out.status is Status.BLOCKED and out.reasons[0].rule == "row_level"
    # A model table smuggling a key column is blocked too.
    sneaky = summary([{}]).assign(spell_id=17)
    assert check(ModelOutput(MODEL, sneaky))["model"].status is Status.BLOCKED


def test_a_checked_output_cannot_be_made_outside_disclosure_control():
    with pytest.raises(DisclosureError, match="only by"):
        CheckedOutput("x", FREQ, Status.PASSED, (), 0, 1, {}, RUN)
    with pytest.raises(DisclosureError, match="only outputs checked"):
        require_checked(FrequencyOutput(FREQ, {"t": diagnosis_by_sex()}))


def test_the_sentinel_stays_inside_the_package():
    checked = check(FrequencyOutput(FREQ, {"t": diagnosis_by_sex()}))["freq"]
    with pytest.raises(DisclosureError, match="only by"):
        CheckedOutput("x", FREQ, Status.PASSED, (), 0, 1, {}, RUN, _token=object())
    with pytest.raises(DisclosureError, match="only by"):  # a copy with another status is a forgery too
        dataclasses.replace(checked, status=Status.PASSED, reasons=())
    with pytest.raises(DisclosureError, match="only by"):  # the issuer refuses callers outside the package
        reports.disclosure.checked._issue(output_id="x", declaration=FREQ, status=Status.PASSED, reasons=(),
                                          n_suppressed=0, n_cells=1, thresholds={}, run=RUN)
    modules = [m for name, m in sys.modules.items() if name == "reports.disclosure" or name.startswith("reports.disclosure.")]
    assert len(modules) == 9
    assert not [name for m in modules for name, v in vars(m).items() if type(v) is object]  # no sentinel lies about


def test_an_output_given_as_the_wrong_class_is_refused():
    with pytest.raises(DisclosureError, match="declared as frequency"):
        check(ModelOutput(FREQ, summary([{}])))


def test_rules_from_the_study_file_and_their_errors():
    rules = DisclosureRules.from_mapping({"min_cell_count": 5, "dominance": [[1, 80]], "rounding_base": 5, "p_percent": 0})
    assert (rules.min_cell_count, rules.dominance, rules.rounding_base, rules.p_percent) == (5, ((1, 80.0),), 5, None)
    assert rules.at_risk_threshold == 5
    assert DisclosureRules.from_mapping(None) == DisclosureRules()
    with pytest.raises(StudyDefinitionError, match="unknown key"):
        DisclosureRules.from_mapping({"min_cells": 5})
    with pytest.raises(StudyDefinitionError, match="min_cell_count.*disclosive_zeros"):
        DisclosureRules.from_mapping({"min_cell_count": 0, "disclosive_zeros": "maybe"})


def test_model_events_are_counted_in_the_smallest_arm_and_counts_leave_the_diagnostics():
    diag = json.dumps({"events_per_arm": {"exposed": 4.0, "unexposed": 296.0}, "max_abs_smd": 0.03,
                       "max_abs_smd_pass": True, "n_controls": 7, "passes": False})
    rows = summary([{"diagnostics": diag}, {"level": "man", "diagnostics": json.dumps({"max_abs_smd": 0.02, "n_rows": 3})}])
    rows["exposed_days"] = 1234.5
    rows["n_spells"] = [612, 388]
    rows["sex"] = None
    out = check(ModelOutput(MODEL, rows))["model"]
    pub = out.table()
    assert [r.rule for r in out.reasons] == ["min_events", "secondary"] and "arm" in out.reasons[0].detail
    assert is_withheld(pub.loc[0, "estimate"]) and pub.loc[1, "estimate"] == 1.2
    assert "exposed_days" not in pub.columns and "n_spells" not in pub.columns and "sex" in pub.columns
    assert json.loads(pub.loc[1, "diagnostics"]) == {"max_abs_smd": 0.02}


def test_model_diagnostics_publish_only_declared_statistics_flags_and_protocol():
    diag = json.dumps({"max_abs_smd": 0.03, "passes": True, "grace_days": 7,
                       "events_per_arm": {"exposed": 40.0, "unexposed": 260.0},
                       "positivity": {"ps_control_p01": 0.1, "share_treated_in_support": 0.97},
                       "weights": {"share_treated": 0.2, "effective_sample_size_treated": 61.5,
                                   "truncation_percentiles": [1, 99]},
                       "n_rows": 3})
    out = check(ModelOutput(MODEL, summary([{"diagnostics": diag}])))["model"]
    assert json.loads(out.table().loc[0, "diagnostics"]) == {
        "max_abs_smd": 0.03, "passes": True, "grace_days": 7,
        "positivity": {"ps_control_p01": 0.1, "share_treated_in_support": 0.97},
        "weights": {"share_treated": 0.2, "truncation_percentiles": [1, 99]}}
    assert out.flags == () and out.status is Status.PASSED


def test_an_undeclared_diagnostics_key_is_withheld_and_noted():
    # A new estimator names its counts in a way no word list foresees: not published, noted for the checker.
    diag = json.dumps({"max_abs_smd": 0.03, "arm_sizes": {"exposed": 4, "unexposed": 296}, "k_treated": 4,
                       "positivity": {"share_treated_in_support": 0.9, "lowest_treated": 3},
                       "equipoise": {"treated": 4}})  # a declared statistic that is not a number
    rows = summary([{"diagnostics": diag}, {"level": "man", "diagnostics": diag}])
    out = check(ModelOutput(MODEL, rows))["model"]
    for i in (0, 1):
        assert json.loads(out.table().loc[i, "diagnostics"]) == {"max_abs_smd": 0.03,
                                                                 "positivity": {"share_treated_in_support": 0.9}}
    assert [f.rule for f in out.flags] == ["undeclared_diagnostic"] * 4  # once per key, not per row
    assert [f.location for f in out.flags] == ["diagnostik arm_sizes", "diagnostik k_treated",
                                               "diagnostik positivity.lowest_treated", "diagnostik equipoise"]
    assert out.reasons == () and out.status is Status.PASSED  # nothing the rules withheld: only noted
    assert all("4" not in f.text() and "296" not in f.text() for f in out.flags)


def test_diagnostics_that_are_not_an_object_of_keys_are_not_published():
    out = check(ModelOutput(MODEL, summary([{"diagnostics": "[12, 3]"}, {"level": "man", "diagnostics": "{oops"}])))["model"]
    assert out.table()["diagnostics"].tolist() == [None, None]
    assert len(out.flags) == 1


def test_curve_counts_the_rule_did_not_check_are_not_published():
    curve = pd.DataFrame({"time": [0, 1, 2], "survival": [1.0, 0.8, 0.6], "n_at_risk": [60, 60, 40],
                          "n_events": [0, 12, 12], "n_censored": [0, 1, 8]})
    pub = check(CurveOutput(CURVE, curve, group_columns=()))["curve"].table()
    assert "n_censored" not in pub.columns and pub["time"].tolist() == [0, 1, 2]


def test_counts_beside_subgroup_estimates_get_a_complement_when_one_level_is_withheld():
    rows = summary([
        {"subgroup": "sex", "level": "man", "n_persons": 380, "n_events": 320},
        {"subgroup": "age_group", "level": "16-39", "n_persons": 200, "n_events": 150},
        {"subgroup": "age_group", "level": "40-59", "n_persons": 150, "n_events": 120},
        {"subgroup": "age_group", "level": "60-64", "n_persons": 30, "n_events": 8},  # withheld
    ])
    rows["sex"] = "man"
    out = check(ModelOutput(MODEL, rows))["model"]
    pub = out.table()
    assert is_withheld(pub.loc[3, "estimate"]) and is_withheld(pub.loc[3, "n_events"])
    # 8 = 320 - 150 - 120 would follow from the others: the smallest other level's counts go too.
    assert pub.loc[2, "estimate"] == 1.2 and is_withheld(pub.loc[2, "n_events"]) and is_withheld(pub.loc[2, "n_persons"])
    assert pub.loc[1, "n_events"] == 150 and pub.loc[0, "n_events"] == 320
    assert [r.rule for r in out.reasons] == ["min_events", "secondary"]
