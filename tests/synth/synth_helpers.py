"""Reading the synthetic delivery files back in the synth tests."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from data_schemas.extracts import match_file_stem

N_PERSONS = 3000


def file_settings(path: Path, truth: dict) -> tuple[str, str]:
    """(encoding, delimiter) of a CSV file as the generator wrote it."""
    files = truth["faults"]["files"]
    enc = "latin-1" if path.stem in files["latin1"] or truth["encoding"] == "latin-1" else "utf-8"
    return enc, files["delimiter"].get(path.stem, ";")


def read_csv(path: Path, truth: dict) -> pl.DataFrame:
    """A delivery CSV as text columns (empty field = null)."""
    enc, delim = file_settings(path, truth)
    text = path.read_bytes().decode(enc)
    return as_contract_names(pl.read_csv(text.encode("utf-8"), separator=delim, infer_schema=False), path.stem)


def as_contract_names(df: pl.DataFrame, stem: str) -> pl.DataFrame:
    """The frame with its columns under the contract's names (the generator writes the names a
    real delivery carries: SyssStat19, P1105_LopNr_PersonNr, ...)."""
    match = match_file_stem(stem)
    if not match:
        return df
    ex, _ = match
    renames = {}
    for name in df.columns:
        col = ex.column_delivered_as(name)
        if col is not None and name != col.name and col.name not in df.columns:
            renames[name] = col.name
    return df.rename(renames)


def read_all(delivery: Path, truth: dict) -> dict[str, pl.DataFrame]:
    out = {}
    for p in sorted(delivery.glob("*.csv")):
        assert match_file_stem(p.stem), p.name
        out[p.stem] = read_csv(p, truth)
    return out


def load_truth(delivery: Path) -> dict:
    return json.loads((delivery.parent / "truth.json").read_text(encoding="utf-8"))
