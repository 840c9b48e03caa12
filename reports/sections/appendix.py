"""Section (appendix): the data dictionary from data_schemas, provenance, and the disclosure rules applied."""

from __future__ import annotations

from itertools import groupby

from markupsafe import Markup

from data_schemas.dictionary import dictionary_rows
from reports.disclosure import DisclosureClass
from reports.formatting import format_date
from reports.logtext import changed_from_defaults, defaults_text_sv, rules_text_sv
from reports.sections import RenderContext, Section, no_outputs, register
from reports.study_choices import study_choice_rows
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView

LAYER_SV = {"leverans": "levererat utdrag", "analystabell": "analystabell"}


ZWSP = "\u200b"  # lets a long column name wrap after an underscore, never inside a word


def breakable(name: str) -> str:
    return name.replace("_", "_" + ZWSP)


def dictionary_view() -> TableView:
    """Three columns that fit the page: the column, its type (and whether it may be empty), what it holds.

    In Swedish: the grain, the description and the type (in words) are the dictionary's Swedish texts.
    """
    header = (HeaderCell("Kolumn"), HeaderCell("Typ"), HeaderCell("Innehåll"))
    groups = []
    for (layer, table, grain), rows in groupby(dictionary_rows(), key=lambda r: (r.layer, r.table, r.grain)):
        body = []
        for r in rows:
            content = r.description
            if r.allowed:
                content += f" Tillåtna värden: {r.allowed}."
            if r.project_name and r.project_name != r.column:
                content += f" I analystabellerna: {breakable(r.project_name)}."
            body.append(Row(breakable(r.column), (
                DataCell((r.dtype_sv or r.dtype) + ("" if r.nullable else ", får inte saknas"), "text", False),
                DataCell(content, "text", False))))
        groups.append(RowGroup(f"{breakable(table)} ({LAYER_SV.get(layer, layer)}): {grain}", tuple(body)))
    return TableView("tabell-datadictionary", "Datadictionary: varje kolumn i leveransen och i analystabellerna.",
                     (header,), tuple(groups), ("Kolumnnamnen är leveransernas och analystabellernas egna.",))


def study_choices_view(tables) -> TableView | None:
    groups = tuple(RowGroup(title, tuple(Row(label, (DataCell(value, "text", False),)) for label, value in rows))
                   for title, rows in study_choice_rows(tables) if rows)
    if not groups:
        return None
    return TableView("tabell-studiens-val", "Studiens val: de inställningar som analystabellerna och analyserna byggdes med.",
                     ((HeaderCell("Inställning"), HeaderCell("Värde")),), groups)


def manifest_view(ctx: RenderContext) -> TableView | None:
    manifest = ctx.meta.manifest
    if manifest.empty:
        return None
    header = (HeaderCell("Fil"), HeaderCell("Teckenkodning"), HeaderCell("SHA-256"))
    rows = tuple(
        Row(breakable(str(r.file)), (DataCell(str(getattr(r, "encoding", "") or ""), "text", False),
                                     DataCell(_wrapped_hash(str(r.sha256)), "hash", False)))
        for r in manifest.itertuples()
    )
    return TableView("tabell-manifest", "Leveransens filer och deras kontrollsummor (SHA-256).", (header,), (RowGroup("", rows),))


def _wrapped_hash(digest: str) -> str:
    """A checksum in groups of eight that may wrap between groups (it never runs off the page)."""
    return ZWSP.join(digest[i:i + 8] for i in range(0, len(digest), 8))


def render(ctx: RenderContext) -> Markup:
    classes = [(c.label_sv, rules_text_sv(c, ctx.rules)) for c in DisclosureClass]
    build = dict(ctx.meta.build or {})
    return ctx.render(
        "sections/appendix.html.j2", dictionary=dictionary_view(), manifest=manifest_view(ctx), classes=classes,
        choices=study_choices_view(ctx.meta.study_file.tables) if ctx.meta.study_file.tables else None,
        defaults=defaults_text_sv(), changed=changed_from_defaults(ctx.rules),
        build=build, built_at=format_date(build.get("built_at")), run_at=format_date(ctx.run.run_at),
        delivery=ctx.meta.delivery or {}, extraction_date=format_date((ctx.meta.delivery or {}).get("extraction_date")), study_file=ctx.meta.study_file, n_outputs=len(ctx.checked),
    )


SECTION = register(Section("bilaga", "Studiens val, data, proveniens och röjandekontroll", 90, no_outputs, render))
