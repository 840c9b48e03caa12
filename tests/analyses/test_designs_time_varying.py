"""Counting-process rows and the DuckDB aggregation of person-time, on a hand-made person_time table."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from analyses.designs.covariates import indicators, plan_levels
from analyses.designs.time_varying import aggregate_person_time, band_table, counting_process_rows
from koord.errors import ContractViolation

SPELLS = pd.DataFrame({"spell_id": [1, 2, 3], "person_id": [7, 8, 7], "followup_days": [40, 16, 30],
                       "sex": ["woman", "man", "woman"], "diagnosis_chapter_group": "psychiatric"})
# spell 1: GC001 on day 20, return to work at 40; spell 2: never coordinated, censored at 16;
# spell 3: GC001 on day 5 (before the entry day), return to work at 30.
PERSON_TIME = pd.DataFrame(
    [(1, 7, False, 0, 15, 0), (1, 7, False, 15, 20, 0), (1, 7, True, 20, 31, 0), (1, 7, True, 31, 40, 1),
     (2, 8, False, 0, 15, 0), (2, 8, False, 15, 16, 0),
     (3, 7, False, 0, 5, 0), (3, 7, True, 5, 15, 0), (3, 7, True, 15, 30, 1)],
    columns=["spell_id", "person_id", "is_coordinated", "start_day", "stop_day", "event_return_to_work"])


def warehouse(person_time=PERSON_TIME):
    con = duckdb.connect()
    con.register("spells", SPELLS)
    con.register("person_time", person_time)
    return con


def test_bands_collapse_to_one_row_per_state_after_entry():
    rows, book = counting_process_rows(warehouse(), ("sex",), 14)
    got = [tuple(r) for r in rows[["spell_id", "start", "stop", "is_coordinated", "event"]].itertuples(index=False)]
    assert got == [(1, 14, 20, 0.0, 0), (1, 20, 40, 1.0, 1), (2, 14, 16, 0.0, 0), (3, 14, 30, 1.0, 1)]
    assert book == {"n_spells": 3, "n_spells_ending_by_entry_day": 0}
    assert list(rows["sex"]) == ["woman", "woman", "man", "woman"]


def test_exposure_switching_back_is_a_contract_violation():
    broken = PERSON_TIME.copy()
    broken.loc[3, "is_coordinated"] = False  # unexposed (31, 40] after exposed (20, 31]
    with pytest.raises(ContractViolation, match="1 spell"):
        counting_process_rows(warehouse(broken), ("sex",), 14)


def test_person_time_aggregated_by_band_and_state():
    assert band_table((21, 31), 14) == [(14, 21, "(14,21]"), (21, 31, "(21,31]"), (31, 2**31 - 1, "(31,)")]
    cells = aggregate_person_time(warehouse(), ("diagnosis_chapter_group",), (10, 21, 31), 14)
    got = {(r.band, r.is_coordinated): (r.days_at_risk, r.events) for r in cells.itertuples()}
    assert got == {
        ("(14,21]", 0.0): (6 + 2, 0),   # spell 1 (14,20], spell 2 (14,16]
        ("(14,21]", 1.0): (1 + 7, 0),   # spell 1 (20,21], spell 3 (14,21]
        ("(21,31]", 1.0): (10 + 9, 1),  # spell 1 (21,31], spell 3 (21,30] with its event
        ("(31,)", 1.0): (9, 1),         # spell 1 (31,40] with its event
    }
    # aggregation keeps every day at risk and every event after entry
    rows, _ = counting_process_rows(warehouse(), ("sex",), 14)
    assert cells["days_at_risk"].sum() == (rows["stop"] - rows["start"]).sum()
    assert cells["events"].sum() == rows["event"].sum()


def test_level_plan_reference_is_most_frequent_and_sparse_levels_merge():
    frame = pd.DataFrame({"region": ["01"] * 50 + ["12"] * 30 + ["09"] * 3 + ["14"] * 20})
    events = np.r_[np.ones(50), np.ones(30), np.ones(3), np.zeros(20)]
    plan = plan_levels(frame, ("region",), min_level_size=5, events=events)
    cov = plan.covariates[0]
    assert cov.reference == "01" and cov.levels == ("12",) and cov.merged == ("09", "14")
    x = indicators(frame, plan)
    assert list(x.columns) == ["region__12"] and x["region__12"].sum() == 30


def test_covariates_read_as_text_with_missing_explicit():
    from analyses.designs.covariates import covariate_select_sql

    con = duckdb.connect()
    con.register("spells", pd.DataFrame({"extent_at_start_pct": [50, 100, 100], "is_born_in_sweden": [True, None, False],
                                         "spell_start_date": pd.to_datetime(["2019-03-01", "2020-01-01", "2024-12-31"])}))
    got = con.execute(f"select {covariate_select_sql(('is_extent_below_100', 'is_born_in_sweden', 'start_year'))} "
                      "from spells").fetchall()
    assert got == [("true", "true", "2019"), ("false", "missing", "2020"), ("false", "false", "2024")]
