"""Swedish number formatting: decimal comma, no-break spaces, per cent and p-values."""

from datetime import date, datetime

import pickle

import numpy as np
import pandas as pd

from reports.disclosure import WITHHELD, is_withheld, none_for_missing
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView
from reports.formatting import (
    MINUS,
    NBSP,
    NOT_APPLICABLE_NOTE,
    SUPPRESSED_NOTE,
    format_count,
    format_date,
    format_interval,
    format_number,
    format_p_value,
    format_percent,
    format_share,
    scaled,
    symbol_notes,
    symbols_in,
)


def test_thousands_are_separated_by_a_no_break_space_and_decimals_by_a_comma():
    assert format_count(1234567) == f"1{NBSP}234{NBSP}567"
    assert format_count(999) == "999"
    assert format_number(1234.56, 1) == f"1{NBSP}234,6"
    assert format_number(0.8512, 2) == "0,85"
    assert format_number(-3.25, 1) == f"{MINUS}3,3"
    assert format_number(2.675, 2) == "2,68"  # half away from zero on the written number
    assert format_number(-0.004, 2) == "0,00"  # no minus on a number that rounds to zero
    assert format_number(2024, group=False) == "2024"


def test_withheld_cells_are_two_dots_and_other_missing_values_one():
    # SCB: ".." not shown (here: withheld by disclosure control); "." cannot occur / does not exist.
    for missing in (None, float("nan"), np.nan, pd.NA):
        assert format_count(missing) == "."
        assert format_percent(missing) == "."
        assert format_share(missing) == "."
    assert format_interval(1.0, None) == "."
    for fmt in (format_count, format_percent, format_share, format_p_value, format_date):
        assert fmt(WITHHELD) == ".."
    assert format_interval(WITHHELD, 2.0) == format_interval(1.0, WITHHELD) == ".."
    assert format_interval(WITHHELD, None) == ".."  # withheld wins: the reader must not think it does not exist
    assert format_percent(scaled(WITHHELD, 100)) == ".." and scaled(0.5, 100) == 50.0


def test_each_table_explains_exactly_the_symbols_it_shows():
    assert symbols_in("12,3 (..)") == {".."}
    assert symbols_in(".") == {"."}
    assert symbols_in("0,5") == symbols_in("Godkänd.") == symbols_in("...") == set()
    assert symbols_in(". / 12,0 %") == {"."}
    assert symbol_notes(["1", "..", "."]) == (SUPPRESSED_NOTE, NOT_APPLICABLE_NOTE)
    assert symbol_notes(["1", "2"]) == ()
    row = Row("a", (DataCell(".."), DataCell("3")))
    view = TableView("t", "c", ((HeaderCell("x"), HeaderCell("y"), HeaderCell("z")),), (RowGroup("", (row,)),),
                     ("Egen not.", NOT_APPLICABLE_NOTE))  # a stale symbol note is replaced by what the cells show
    assert view.notes == ("Egen not.", SUPPRESSED_NOTE)


def test_a_heading_over_text_cells_is_aligned_like_them():
    rows = (Row("a", (DataCell("12", "count"), DataCell("heltal", "text", numeric=False))),)
    view = TableView("t", "c", ((HeaderCell("Grupp"), HeaderCell("Antal"), HeaderCell("Typ")),), (RowGroup("", rows),))
    assert [view.header_align(0, i) for i in range(3)] == ["", "", "txt"]
    spanned = TableView("t", "c", ((HeaderCell("Grupp"), HeaderCell("Båda", colspan=2)),
                                   (HeaderCell(""), HeaderCell("Antal"), HeaderCell("Typ"))), (RowGroup("", rows),))
    assert [spanned.header_align(0, i) for i in range(2)] == ["", ""]
    assert [spanned.header_align(1, i) for i in range(3)] == ["", "", "txt"]


def test_a_withheld_marker_survives_copies_and_pickling_but_not_a_numeric_cast():
    frame = pd.DataFrame({"x": [WITHHELD, None, 1.0]}, dtype=object)
    assert is_withheld(frame.copy()["x"][0]) and is_withheld(pickle.loads(pickle.dumps(frame))["x"][0])
    published = none_for_missing(frame.assign(y=[np.nan, 2.0, np.nan]))
    assert is_withheld(published.at[0, "x"]) and published.at[1, "x"] is None and published.at[0, "y"] is None
    assert not is_withheld(frame["x"].astype(float)[0])  # why views format the published objects themselves


def test_per_cent_has_a_space_before_the_sign():
    assert format_percent(12.345) == f"12,3{NBSP}%"
    assert format_share(0.5) == f"50,0{NBSP}%"


def test_p_values():
    assert format_p_value(0.0004) == f"<{NBSP}0,001"
    assert format_p_value(0.0042) == "0,004"
    assert format_p_value(0.0351) == "0,04"
    assert format_p_value(0.5) == "0,50"


def test_intervals_use_an_en_dash_and_dates_are_iso():
    assert format_interval(0.781, 0.934) == "0,78\u20130,93"
    assert format_interval(-2.61, 4.5, 1) == f"{MINUS}2,6 till 4,5"  # a dash between negatives misleads
    assert format_date(date(2025, 3, 31)) == "2025-03-31"
    assert format_date(datetime(2025, 3, 31)) == "2025-03-31"  # a date stored as a timestamp
    assert format_date(datetime(2025, 4, 2, 9, 30)) == "2025-04-02 09:30"


def test_an_estimate_with_its_interval_from_a_results_row():
    from reports.formatting import format_estimate_interval
    row = {"estimate": 1.234, "conf_low": 1.1, "conf_high": 1.37}
    assert format_estimate_interval(row) == f"1,23 (1,10{chr(0x2013)}1,37)"
    share = {"estimate": 0.166, "conf_low": 0.161, "conf_high": 0.171}
    assert format_estimate_interval(share, 1, scale=100, percent=True) == f"16,6{NBSP}% (16,1{chr(0x2013)}17,1)"
    assert format_estimate_interval({"estimate": 0.043, "conf_low": -0.01, "conf_high": 0.07}, 1, scale=100) == f"4,3 ({MINUS}1,0 till 7,0)"
    assert format_estimate_interval({"null_estimate": 2.0, "null_conf_low": 1.0, "null_conf_high": 3.0}, 1, prefix="null_") == f"2,0 (1,0{chr(0x2013)}3,0)"
    assert format_estimate_interval({"estimate": WITHHELD, "conf_low": None, "conf_high": None}) == ".."
    assert format_estimate_interval(None) == "."
