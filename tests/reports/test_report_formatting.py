"""Swedish number formatting: decimal comma, no-break spaces, per cent and p-values."""

from datetime import date, datetime

import numpy as np
import pandas as pd

from reports.formatting import (
    MINUS,
    NBSP,
    format_count,
    format_date,
    format_interval,
    format_number,
    format_p_value,
    format_percent,
    format_share,
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


def test_missing_values_are_two_dots():
    for missing in (None, float("nan"), np.nan, pd.NA):
        assert format_count(missing) == ".."
        assert format_percent(missing) == ".."
    assert format_interval(1.0, None) == ".."


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
