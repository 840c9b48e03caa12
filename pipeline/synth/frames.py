"""Small helpers that turn index arrays into delivery columns (strings, ISO dates)."""

from __future__ import annotations

import numpy as np
import polars as pl

from data_schemas.extracts import Extract


def lookup(values, idx: np.ndarray, name: str = "") -> pl.Series:
    """``values[idx]`` as a string Series; ``idx < 0`` gives null."""
    table = pl.Series(name, [None if v is None else str(v) for v in values] + [None], dtype=pl.Utf8)
    idx = np.asarray(idx, np.int64)
    return table.gather(np.where(idx < 0, len(values), idx))


def iso(days, name: str = "", missing: np.ndarray | None = None) -> pl.Series:
    """Day numbers as ``YYYY-MM-DD`` strings; nulls, and rows where `missing` is true, stay empty."""
    s = pl.Series(name, days).cast(pl.Int64)
    if missing is not None:
        s = pl.select(pl.when(pl.Series(missing)).then(None).otherwise(s)).to_series()
    return s.cast(pl.Int32).cast(pl.Date).dt.strftime("%Y-%m-%d").alias(name)


def in_contract_order(df: pl.DataFrame, ex: Extract) -> pl.DataFrame:
    """The contract's columns, in its order, typed as delivered (integers Int64, the rest text);
    an optional column (``required=False``) the frame lacks is left out."""
    cols = []
    for c in ex.columns:
        if not c.required and c.name not in df.columns:
            continue
        dtype = pl.Int64 if c.dtype == "integer" else pl.Utf8
        cols.append(pl.col(c.name).cast(dtype))
    return df.select(cols)
