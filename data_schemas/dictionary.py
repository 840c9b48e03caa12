"""The human-readable data dictionary, rendered from the contracts (never written by hand).

`dictionary_rows()` gives one row per column of every extract (and, when declared, every
analysis table) for reports; `render_markdown()` writes the same as Markdown
(`python -m data_schemas.dictionary > docs/data_dictionary.md`).

The dictionary is in Swedish, as the report is: grains, descriptions and caveats come from the
contracts' Swedish texts (`grain_sv`, `description_sv`, `caveats_sv`) and types are named in
Swedish words (`dtype_sv`); the English texts stay on the rows (`grain_en`, `description_en`)
for developers.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

from data_schemas.codes import code_list
from data_schemas.extracts import EXTRACTS, Column, Extract


# Column types in Swedish words: the contracts' types (extracts) and DuckDB's (analysis tables).
DTYPE_SV = {
    "integer": "heltal",
    "decimal": "decimaltal",
    "text": "text",
    "code": "kod",
    "date": "datum",
    "yearmonth": "år och månad",
    "BIGINT": "heltal",
    "INTEGER": "heltal",
    "DOUBLE": "decimaltal",
    "VARCHAR": "text",
    "DATE": "datum",
    "BOOLEAN": "sant/falskt",
}


def dtype_sv(dtype: str) -> str:
    """A column type in Swedish words ('BIGINT' -> 'heltal'); an unknown type as it is."""
    return DTYPE_SV.get(dtype, dtype)


@dataclass(frozen=True)
class DictionaryRow:
    layer: str  # "leverans" (delivered extract) or "analystabell"
    table: str
    grain: str  # in Swedish ("en rad per ...")
    column: str
    project_name: str
    dtype: str  # as declared: the contract's type, or the DuckDB type of an analysis table
    required: bool
    nullable: bool
    allowed: str
    description: str  # in Swedish
    dtype_sv: str = ""  # the type in Swedish words
    grain_en: str = ""
    description_en: str = ""


def _allowed(col: Column) -> str:
    if col.codes == "regions":
        return "21 regionkoder (01–25)"
    if col.codes:
        text = ", ".join(f"{c.code} = {c.label_sv}" for c in code_list(col.codes))
        if col.code_labels:  # labels delivered instead of the codes, read as the codes
            text += "; även som text: " + col.labels_text()
        return text
    if col.pattern:
        return f"mönster {col.pattern}"
    if col.positive:
        return "heltal > 0"
    parts = []
    if col.min_value is not None:
        parts.append(f"≥ {col.min_value:g}")
    if col.max_value is not None:
        parts.append(f"≤ {col.max_value:g}")
    if col.day_may_be_unknown:
        parts.append("dag 00 tillåten (okänd dag)")
    return ", ".join(parts)


def _extract_rows(ex: Extract) -> list[DictionaryRow]:
    table = f"{ex.name}_<ÅÅÅÅ>" if ex.yearly else ex.name
    return [
        DictionaryRow("leverans", table, ex.grain_sv or ex.grain, c.name, c.stg_name, c.dtype, c.required, c.nullable,
                      _allowed(c), (c.description_sv or c.description) + _names_text(c), dtype_sv=dtype_sv(c.dtype),
                      grain_en=ex.grain, description_en=c.description)
        for c in ex.columns
    ]


def _names_text(col: Column) -> str:
    """The names the column is delivered under, when more than its own (LISA's year-specific names, key aliases)."""
    if not col.aliases and not col.alias_pattern and col.accepts_own_name:
        return ""
    names = ([f"'{col.name}'"] if col.accepts_own_name else []) + [
        f"'{a.name}'" + (f" ({a.years_text(swedish=True)})" if a.years_text(swedish=True) else "") for a in col.aliases]
    if col.alias_pattern:
        names.append(f"namn som matchar {col.alias_pattern}")
    text = f" Levereras som {', '.join(names)}."
    if col.refused_names:
        text += f" Avvisas: {', '.join(repr(n) for n in col.refused_names)} ({col.refused_reason_sv or col.refused_reason})."
    return text


def _table_rows() -> list[DictionaryRow]:
    """Rows for the analysis tables, when `data_schemas.tables` declares them."""
    try:
        tables = importlib.import_module("data_schemas.tables")
    except ModuleNotFoundError:
        return []
    rows = []
    for t in getattr(tables, "TABLES", ()):
        for c in t.columns:
            values = getattr(c, "allowed", None) or ()
            allowed = ", ".join(map(str, values)) if len(values) <= 8 else f"{len(values)} värden"
            rows.append(
                DictionaryRow(
                    "analystabell", t.name, getattr(t, "grain_sv", "") or t.grain, c.name, c.name,
                    str(getattr(c, "sql_type", "")), True, bool(getattr(c, "nullable", False)), allowed,
                    getattr(c, "description_sv", "") or getattr(c, "description", ""),
                    dtype_sv=dtype_sv(str(getattr(c, "sql_type", ""))), grain_en=t.grain,
                    description_en=getattr(c, "description", ""),
                )
            )
    return rows


def dictionary_rows() -> list[DictionaryRow]:
    rows: list[DictionaryRow] = []
    for ex in EXTRACTS:
        rows.extend(_extract_rows(ex))
    rows.extend(_table_rows())
    return rows


def render_markdown() -> str:
    out = ["# Datadictionary", "", "Genererad från `data_schemas/`; redigera inte för hand.", ""]
    by_table: dict[str, list[DictionaryRow]] = {}
    for r in dictionary_rows():
        by_table.setdefault(r.table, []).append(r)
    extracts = {e.name: e for e in EXTRACTS}
    for table, rows in by_table.items():
        out += [f"## `{table}` ({rows[0].layer})", "", f"Granularitet: {rows[0].grain}.", ""]
        ex = extracts.get(table.replace("_<ÅÅÅÅ>", ""))
        if ex and ex.caveats:
            out += ["Kända förbehåll:", *[f"- {c}" for c in (ex.caveats_sv or ex.caveats)], ""]
        out += ["| kolumn | projektnamn | typ | krävs | får saknas | tillåtna värden | beskrivning |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            out.append(
                f"| `{r.column}` | `{r.project_name}` | {r.dtype_sv} (`{r.dtype}`) | {'ja' if r.required else 'nej'} | "
                f"{'ja' if r.nullable else 'nej'} | {r.allowed} | {r.description} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
