"""Section (appendix): the data dictionary from data_schemas, provenance, and the disclosure rules applied."""

from __future__ import annotations

from itertools import groupby

from markupsafe import Markup

from data_schemas.dictionary import dictionary_rows
from reports.disclosure import DisclosureClass
from reports.formatting import format_date
from reports.logtext import changed_from_defaults, defaults_text_sv, rules_text_sv
from reports.sections import RenderContext, Section, no_outputs, register
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView

LAYER_SV = {"leverans": "levererat utdrag", "analystabell": "analystabell"}


def dictionary_view() -> TableView:
    header = (HeaderCell("Kolumn"), HeaderCell("Projektets namn"), HeaderCell("Typ"), HeaderCell("Får saknas"),
              HeaderCell("Tillåtna värden"), HeaderCell("Beskrivning"))
    groups = []
    for (layer, table, grain), rows in groupby(dictionary_rows(), key=lambda r: (r.layer, r.table, r.grain)):
        body = tuple(
            Row(r.column, (DataCell(r.project_name, "text", False), DataCell(r.dtype, "text", False),
                           DataCell("ja" if r.nullable else "nej", "text", False), DataCell(r.allowed, "text", False),
                           DataCell(r.description, "text", False)))
            for r in rows
        )
        groups.append(RowGroup(f"{table} ({LAYER_SV.get(layer, layer)}): {grain}", body))
    return TableView("tabell-datadictionary", "Datadictionary: varje kolumn i leveransen och i analystabellerna.",
                     (header,), tuple(groups), ("Genererad från data_schemas/extracts.py och data_schemas/tables.py.",))


def manifest_view(ctx: RenderContext) -> TableView | None:
    manifest = ctx.meta.manifest
    if manifest.empty:
        return None
    header = (HeaderCell("Fil"), HeaderCell("Utdrag"), HeaderCell("Teckenkodning"), HeaderCell("SHA-256"))
    rows = tuple(
        Row(str(r.file), (DataCell(str(r.extract), "text", False), DataCell(str(getattr(r, "encoding", "") or ""), "text", False),
                          DataCell(str(r.sha256), "hash", False)))
        for r in manifest.itertuples()
    )
    return TableView("tabell-manifest", "Leveransens filer och deras kontrollsummor (SHA-256).", (header,), (RowGroup("", rows),))


def render(ctx: RenderContext) -> Markup:
    classes = [(c.label_sv, rules_text_sv(c, ctx.rules)) for c in DisclosureClass]
    build = dict(ctx.meta.build or {})
    return ctx.render(
        "sections/appendix.html.j2", dictionary=dictionary_view(), manifest=manifest_view(ctx), classes=classes,
        defaults=defaults_text_sv(), changed=changed_from_defaults(ctx.rules),
        build=build, built_at=format_date(build.get("built_at")), run_at=format_date(ctx.run.run_at),
        delivery=ctx.meta.delivery or {}, extraction_date=format_date((ctx.meta.delivery or {}).get("extraction_date")), study_file=ctx.meta.study_file, n_outputs=len(ctx.checked),
    )


SECTION = register(Section("bilaga", "Bilaga: datadictionary, proveniens och röjandekontroll", 90, no_outputs, render))
