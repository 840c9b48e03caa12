"""The completeness table of a delivery: one row per extract, holes in yearly series, empty files."""

from __future__ import annotations

import pandas as pd

from data_schemas.completeness import delivery_completeness, render_completeness, study_needed_years
from data_schemas.extracts import EXTRACTS


def _files(rows):
    return pd.DataFrame(rows, columns=["file", "extract", "year", "rows_in"])


def test_every_extract_has_a_row_and_an_absent_one_is_not_delivered():
    table = delivery_completeness(_files([("fk_midas_sjukpenning.csv", "fk_midas_sjukpenning", None, 10)]))
    assert list(table["extract"]) == [e.name for e in EXTRACTS]
    status = table.set_index("extract")["status"]
    assert status["fk_midas_sjukpenning"] == "complete"
    assert status["scb_lisa"] == "not_delivered"
    assert status["scb_bakgrund"] == "optional_not_delivered"  # the build does without it


def test_a_hole_in_a_yearly_series_and_an_empty_file_make_it_incomplete():
    files = _files([(f"scb_lisa_{y}.csv", "scb_lisa", y, 100) for y in (2017, 2018, 2020)]
                   + [("af_inskrivning.csv", "af_inskrivning", None, 0)])
    table = delivery_completeness(files, {"scb_lisa_2018.csv": 3}).set_index("extract")
    assert table.loc["scb_lisa", "years"] == "2017–2020"
    assert table.loc["scb_lisa", "missing_years"] == "2019"
    assert table.loc["scb_lisa", "rows_quarantined"] == 3 and table.loc["scb_lisa", "rows_in"] == 300
    assert table.loc["scb_lisa", "status"] == "incomplete"
    assert table.loc["af_inskrivning", "n_empty_files"] == 1 and table.loc["af_inskrivning", "status"] == "incomplete"


def test_years_the_study_needs_count_as_missing():
    files = _files([(f"scb_lisa_{y}.csv", "scb_lisa", y, 100) for y in range(2019, 2025)])
    needed = study_needed_years("scb_lisa", 2018, 2024)  # the year before 2018 to 2024
    table = delivery_completeness(files, None, needed).set_index("extract")
    assert table.loc["scb_lisa", "missing_years"] == "2017, 2018"
    assert "missing years 2017, 2018" in render_completeness(table.reset_index())
