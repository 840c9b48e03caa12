"""Vectorised calendar arithmetic on day numbers (days since 1970-01-01, int64)."""

from __future__ import annotations

from datetime import date

import numpy as np

EPOCH = date(1970, 1, 1)


def day(d: date | str) -> int:
    """Day number of a date (or ISO string)."""
    if isinstance(d, str):
        d = date.fromisoformat(d)
    return (d - EPOCH).days


def to_date(day_number: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + int(day_number))


def years(days: np.ndarray) -> np.ndarray:
    """Calendar year of each day number."""
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def months(days: np.ndarray) -> np.ndarray:
    """Month index (months since 1970-01) of each day number."""
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_start(month_index: np.ndarray) -> np.ndarray:
    """Day number of the first day of each month index."""
    return np.asarray(month_index).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def year_start(year: np.ndarray | int) -> np.ndarray:
    """Day number of 1 January of each year."""
    return (np.asarray(year) - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def july_first(year: np.ndarray | int) -> np.ndarray:
    """Day number of 1 July of each year (the conventional birthday when only the year is known)."""
    return month_start((np.asarray(year) - 1970) * 12 + 6)


def yearmonth(month_index: np.ndarray) -> np.ndarray:
    """YYYYMM integers of month indices."""
    m = np.asarray(month_index)
    return (m // 12 + 1970) * 100 + m % 12 + 1
