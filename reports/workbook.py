"""The table appendix: every table the report shows, checked by disclosure control, as one Excel workbook.

``rapport_tabeller.xlsx`` beside the report is what ministry staff paste into their own memos:
one sheet a table, the caption as its title row, the Swedish headings, the notes under the
table, and a first sheet listing the tables and explaining the symbols. It is written from
the same `TableView`s the HTML renders (collected while the sections render,
`reports.views.collecting_table_views`), and only from those the HTML shows: every view is
matched to its ``<table>`` in the rendered document cell for cell, and every output behind it
must be a checked, published output. Numbers are written as numbers, rounded as the report
shows them; a withheld value stays ``..``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from koord.errors import DisclosureError, KoordError
from reports.disclosure import CheckedOutput
from reports.formatting import NBSP, NOT_APPLICABLE_NOTE, SUPPRESSED_NOTE
from reports.views import TableView

WORKBOOK_NAME = "rapport_tabeller.xlsx"
CONTENTS_SHEET = "Innehåll"
MAX_SHEET_NAME = 31  # Excel's limit
FORBIDDEN_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")
# A number as the report writes it: "12 345", "−3,2", "12,3 %", "4,2 procentenheter" (no-break spaces).
SWEDISH_NUMBER = re.compile(
    rf"(?P<sign>[−-])?(?P<whole>\d{{1,3}}(?:{NBSP}\d{{3}})+|\d+)(?:,(?P<fraction>\d+))?(?P<unit>{NBSP}%|{NBSP}procentenheter)?"
)
NOT_NUMBERS = {"text", "code", "date"}  # kinds whose digits are labels (region codes keep their zeros)
BOLD = Font(bold=True)
RULE = Border(bottom=Side(style="thin"))


@dataclass(frozen=True)
class ShownTable:
    """A table of the report as the appendix writes it: the view and its sheet's name."""

    view: TableView
    sheet_name: str


def shown_tables(document: ET.Element, views: Sequence[TableView], checked: Mapping[str, CheckedOutput]) -> list[ShownTable]:
    """The views the rendered document shows, in its order, each with a unique sheet name.

    Parameters
    ----------
    document : Element
        The rendered report (`reports.accessibility.parse_html`).
    views : TableView
        Every view made while the sections rendered (some may not be shown).
    checked : mapping
        The checked outputs of the build.

    Raises
    ------
    DisclosureError
        A shown table rests on an output that is not checked or was blocked.
    KoordError
        A table the table macro rendered (it carries ``data-outputs``) matches no view cell for cell.
    """
    by_id: dict[str, list[TableView]] = {}
    for view in views:
        by_id.setdefault(view.table_id, []).append(view)
    shown: list[TableView] = []
    for table in document.iter("table"):
        candidates = by_id.get(table.get("id", ""), [])
        html_cells = _html_body_cells(table)
        match = next((v for v in candidates if _view_body_cells(v) == html_cells), None)
        if match is None:
            if "data-outputs" in table.attrib:
                found = (f"differs from every table view rendered under that id ({len(candidates)})" if candidates
                         else "has no table view made while the sections rendered")
                raise KoordError(
                    f"the report's table {table.get('id')!r} {found}, so the table appendix cannot be written from it. "
                    "This is a bug in the report's sections or templates: a table must be rendered by the table macro "
                    "from a view made during the render, unchanged."
                )
            continue  # a table written in a template by hand (e.g. the disclosure rules): no checked numbers behind it
        for output_id in match.output_ids:
            output = checked.get(output_id)
            if output is None or output.is_blocked:
                raise DisclosureError(
                    f"table {match.table_id!r} shows output {output_id!r}, which is not a checked, published output; "
                    "it cannot go into the table appendix"
                )
        caption = table.find("caption")
        numbered = _squash("".join(caption.itertext())) if caption is not None else ""
        # the caption as printed, with its number (`reports.numbering`), so sheet and report cite alike
        shown.append(replace(match, caption=numbered) if numbered else match)
    return [ShownTable(view, name) for view, name in zip(shown, sheet_names([v.caption for v in shown]))]


def _squash(text: str) -> str:
    return " ".join(text.split())


def _html_body_cells(table: ET.Element) -> list[str]:
    return [_squash("".join(cell.itertext())) for body in table.iter("tbody") for cell in body.iter() if cell.tag in ("th", "td")]


def _view_body_cells(view: TableView) -> list[str]:
    cells: list[str] = []
    for group in view.groups:
        if group.title:
            cells.append(_squash(group.title))
        for row in group.rows:
            cells += [_squash(row.header), *(_squash(c.text) for c in row.cells)]
    return cells


TABLE_NUMBER = re.compile(r"^(Tabell\s+[A-ZÅÄÖ]?\d+)\b")


def sheet_names(captions: Sequence[str]) -> list[str]:
    """A sheet name for each caption: its table number (``Tabell 3``) if it has one, else its first words.

    At most 31 characters, none of ``[ ] : * ? / \\``, unique ignoring case (as Excel compares),
    and never the contents sheet's name.
    """
    names: list[str] = []
    taken = {CONTENTS_SHEET.lower()}
    for caption in captions:
        numbered = TABLE_NUMBER.match(caption.strip())
        head = numbered.group(1) if numbered else re.split(r"[:.;(]", caption, maxsplit=1)[0]
        head = _squash(FORBIDDEN_IN_SHEET_NAMES.sub(" ", head)).strip("'") or "Tabell"
        name, n = _first_words(head, MAX_SHEET_NAME), 1
        while name.lower() in taken:
            n += 1
            suffix = f" ({n})"
            room = MAX_SHEET_NAME - len(suffix)
            words = _first_words(head, room)
            # Whole words unless that leaves too little to tell the sheets apart.
            name = (words if len(words) >= 0.6 * min(room, len(head)) else head[:room].rstrip()) + suffix
        taken.add(name.lower())
        names.append(name)
    return names


def _first_words(text: str, limit: int) -> str:
    """As many of the words of ``text`` as fit in ``limit`` characters (a long first word is cut)."""
    name = ""
    for word in text.split():
        candidate = f"{name} {word}".strip()
        if len(candidate) > limit:
            break
        name = candidate
    return (name or text[:limit]).rstrip(" ,–-").strip("'")


def cell_value(text: str, kind: str, numeric: bool) -> tuple[object, str | None]:
    """What to write in a data cell: a number with an Excel number format showing it as the report does, else the text.

    ``"12 345" -> (12345, "#,##0")``, ``"12,3 %" -> (0.123, "0.0 %")``,
    ``"−4,2 procentenheter" -> (-4.2, '0.0 "procentenheter"')``; ``".."``, ``"."``, intervals and
    ``"< 0,001"`` stay text.
    """
    m = SWEDISH_NUMBER.fullmatch(text.strip()) if numeric and kind not in NOT_NUMBERS else None
    if m is None or (len(m.group("whole")) > 1 and m.group("whole").startswith("0")):
        return text, None  # not a number, or a code with a leading zero
    fraction = m.group("fraction") or ""
    grouped = NBSP in m.group("whole")
    value = float(f"{m.group('whole').replace(NBSP, '')}.{fraction or '0'}")
    if m.group("sign"):
        value = -value
    decimals = "." + "0" * len(fraction) if fraction else ""
    unit = (m.group("unit") or "").strip()
    if unit == "%":
        return round(value / 100, len(fraction) + 2), f"0{decimals} %"  # a share, as Excel keeps per cents
    if unit:
        return value, f'0{decimals} "{unit}"'
    if not fraction and not grouped and len(m.group("whole")) >= 4:
        return int(value), "0"  # a four-digit number the report writes without a space, e.g. a year
    return (value if fraction else int(value)), f"#,##0{decimals}"


def write_workbook(tables: Sequence[ShownTable], path: Path, *, title: str, made: str) -> Path:
    """Write the appendix: a contents sheet, then one sheet a table, in the report's order."""
    book = Workbook()
    contents = book.active
    contents.title = CONTENTS_SHEET
    _write_contents(contents, tables, title=title, made=made)
    for shown in tables:
        _write_table(book.create_sheet(shown.sheet_name), shown.view)
    book.properties.title = f"{title}: tabellbilaga"
    book.properties.language = "sv-SE"
    book.properties.creator = "koord"
    book.save(path)
    return path


def _write_contents(sheet: Worksheet, tables: Sequence[ShownTable], *, title: str, made: str) -> None:
    sheet["A1"] = f"{title}: tabellbilaga"
    sheet["A1"].font = Font(bold=True, size=13)
    sheet["A2"] = (f"Rapportens tabeller, ett blad per tabell, med samma tal som rapporten (framtagen {made}). "
                   "Alla tal har passerat röjandekontroll.")
    sheet["A3"] = SUPPRESSED_NOTE
    sheet["A4"] = NOT_APPLICABLE_NOTE
    sheet["A6"], sheet["B6"] = "Blad", "Tabell"
    for cell in (sheet["A6"], sheet["B6"]):
        cell.font, cell.border = BOLD, RULE
    for i, shown in enumerate(tables, start=7):
        link = sheet.cell(row=i, column=1, value=shown.sheet_name)
        link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{shown.sheet_name}'!A1")  # a link inside the book
        link.font = Font(color="1F5F8B", underline="single")
        sheet.cell(row=i, column=2, value=shown.view.caption).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = max([len(t.sheet_name) for t in tables] + [8]) + 2
    sheet.column_dimensions["B"].width = 110


def _write_table(sheet: Worksheet, view: TableView) -> None:
    sheet["A1"] = view.caption
    sheet["A1"].font = Font(bold=True, size=12)
    widths: dict[int, int] = {}

    def put(row: int, column: int, value: object, number_format: str | None = None, font: Font | None = None,
            align: str | None = None) -> None:
        cell = sheet.cell(row=row, column=column, value=value)
        if number_format:
            cell.number_format = number_format
        if font is not None:
            cell.font = font
        # Long headings and texts wrap inside their column instead of hiding under the next one.
        cell.alignment = Alignment(horizontal=align, vertical="top", wrap_text=number_format is None)
        widths[column] = max(widths.get(column, 0), len(str(value)) if number_format is None else 12)

    row = 3
    occupied: set[tuple[int, int]] = set()  # header cells covered by a row- or column-spanning heading
    for header_row in view.header_rows:
        column = 1
        for heading in header_row:
            while (row, column) in occupied:
                column += 1
            # As in the report: row headings left, a heading over several columns centred, the others right.
            put(row, column, heading.text, font=BOLD,
                align=None if column == 1 else ("center" if heading.colspan > 1 else "right"))
            last_row, last_column = row + heading.rowspan - 1, column + heading.colspan - 1
            if (last_row, last_column) != (row, column):
                sheet.merge_cells(start_row=row, start_column=column, end_row=last_row, end_column=last_column)
            for r in range(row, last_row + 1):
                for c in range(column, last_column + 1):
                    occupied.add((r, c))
            column = last_column + 1
        row += 1
    for column in range(1, view.n_columns + 1):
        sheet.cell(row=row - 1, column=column).border = RULE
    sheet.freeze_panes = sheet.cell(row=row, column=2)
    for group in view.groups:
        if group.title:
            put(row, 1, group.title, font=BOLD)
            row += 1
        for body_row in group.rows:
            emphasis = BOLD if body_row.css == "total" else None
            put(row, 1, body_row.header, font=emphasis)
            for column, data in enumerate(body_row.cells, start=2):
                value, number_format = cell_value(data.text, data.kind, data.numeric)
                put(row, column, value, number_format, font=emphasis,
                    align="right" if number_format is not None or data.numeric else None)
            row += 1
    row += 1
    for note in view.notes:  # like the caption, notes run on past column A without widening it
        sheet.cell(row=row, column=1, value=note)
        row += 1
    for column, width in widths.items():
        limit = 60 if column == 1 else 28
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width, 6) + 2, limit)
