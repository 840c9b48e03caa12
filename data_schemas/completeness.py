"""Is the delivery complete? One row per extract of the contracts: delivered or not, the years of a
yearly series with the holes in it (and the years a study needs that are missing), empty files,
rows read and rows quarantined.

Pure: frames in, a frame out. `koord ingest` prints it after loading; the report's data chapter
shows it (its counts of quarantined rows through disclosure control).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd

from data_schemas.extracts import EXTRACTS, Extract

COMPLETENESS_COLUMNS = ["extract", "title_sv", "n_files", "years", "missing_years", "n_empty_files", "rows_in",
                        "rows_quarantined", "status"]
STATUSES = ("complete", "incomplete", "not_delivered", "optional_not_delivered")


def _years_text(years: Iterable[int]) -> str:
    years = sorted(set(years))
    if not years:
        return ""
    return str(years[0]) if len(years) == 1 else f"{years[0]}–{years[-1]}"


def delivery_completeness(files: pd.DataFrame, quarantined: Mapping[str, int] | None = None,
                          needed_years: Mapping[str, Iterable[int]] | None = None,
                          extracts: Iterable[Extract] = EXTRACTS) -> pd.DataFrame:
    """One row per extract (`COMPLETENESS_COLUMNS`).

    Parameters
    ----------
    files : one row per delivered file: file, extract, year (yearly extracts), rows_in.
    quarantined : rows quarantined per file.
    needed_years : per yearly extract, the years a study needs (e.g. LISA from the year before
        the first spell to the last spell's year); missing ones count as holes too.
    extracts : the contracts (default: all of them).

    ``missing_years`` lists the years absent inside the delivered range or needed by the study;
    ``status`` is 'not_delivered' (no file), 'optional_not_delivered' (no file of an extract the
    build does without), 'incomplete' (a missing year or an empty file) or 'complete'.
    """
    quarantined = dict(quarantined or {})
    needed_years = {k: set(v) for k, v in (needed_years or {}).items()}
    rows = []
    for ex in extracts:
        mine = files.loc[files["extract"] == ex.name] if len(files) else files
        delivered = {int(y) for y in mine["year"].dropna()} if ex.yearly and len(mine) else set()
        missing: set[int] = set()
        if delivered:
            missing |= set(range(min(delivered), max(delivered) + 1)) - delivered
        missing |= needed_years.get(ex.name, set()) - delivered if len(mine) else set()
        n_empty = int((mine["rows_in"].fillna(0) == 0).sum()) if len(mine) else 0
        if len(mine) == 0:
            status = "optional_not_delivered" if getattr(ex, "optional", False) else "not_delivered"
        else:
            status = "incomplete" if missing or n_empty else "complete"
        rows.append({
            "extract": ex.name, "title_sv": ex.title_sv, "n_files": int(len(mine)),
            "years": _years_text(delivered), "missing_years": ", ".join(map(str, sorted(missing))),
            "n_empty_files": n_empty, "rows_in": int(mine["rows_in"].fillna(0).sum()) if len(mine) else 0,
            "rows_quarantined": int(sum(quarantined.get(f, 0) for f in mine["file"])) if len(mine) else 0,
            "status": status,
        })
    return pd.DataFrame(rows, columns=COMPLETENESS_COLUMNS)


def study_needed_years(extract_name: str, spell_start_from_year: int, spell_start_to_year: int) -> dict[str, range]:
    """The years of a yearly person extract a study reads: its covariates come from the year
    before the spell's start year (home region, education, income), so from the year before the
    first start year to the last."""
    return {extract_name: range(spell_start_from_year - 1, spell_start_to_year + 1)}


def render_completeness(table: pd.DataFrame) -> str:
    """The table as text for the load report."""
    lines = ["Completeness of the delivery (one row per extract):"]
    for r in table.itertuples():
        what = {"not_delivered": "NOT DELIVERED", "optional_not_delivered": "not delivered (optional)",
                "incomplete": "INCOMPLETE", "complete": "complete"}[r.status]
        parts = [f"{r.n_files} file{'s' if r.n_files != 1 else ''}"]
        if r.years:
            parts.append(f"years {r.years}")
        if r.missing_years:
            parts.append(f"missing years {r.missing_years}")
        if r.n_empty_files:
            parts.append(f"{r.n_empty_files} empty file{'s' if r.n_empty_files != 1 else ''}")
        lines.append(f"  {r.extract:<22} {what:<24} {', '.join(parts)}")
    return "\n".join(lines)


__all__ = ["COMPLETENESS_COLUMNS", "STATUSES", "delivery_completeness", "render_completeness", "study_needed_years"]
