"""The table appendix: one sheet per table the report shows, the same numbers as the HTML, nothing unchecked."""

from __future__ import annotations

import re
from types import SimpleNamespace

import openpyxl
import pytest

from koord.errors import DisclosureError, KoordError
from reports.accessibility import parse_html
from reports.builder import build_report, template_environment
from reports.formatting import NBSP, NOT_APPLICABLE_NOTE, SUPPRESSED_NOTE, symbols_in
from reports.views import DataCell, HeaderCell, Row, RowGroup, TableView, collecting_table_views
from reports.workbook import CONTENTS_SHEET, WORKBOOK_NAME, cell_value, sheet_names, shown_tables
from report_warehouse import make_warehouse


def squash(text: str) -> str:
    return " ".join(text.split())


def html_number(text: str) -> float | None:
    """The number a reader sees in a cell, parsed independently of reports.workbook; None if it is not one."""
    t = text.strip().replace(NBSP, " ")
    m = re.fullmatch(r"(−|-)?(\d{1,3}(?: \d{3})+|\d+)(?:,(\d+))?( %| procentenheter)?", t)
    if m is None or (len(m.group(2)) > 1 and m.group(2).startswith("0")):
        return None
    value = float(m.group(2).replace(" ", "") + "." + (m.group(3) or "0")) * (-1 if m.group(1) else 1)
    return value / 100 if m.group(4) == " %" else value


@pytest.fixture(scope="module")
def appendix(tmp_path_factory):
    root = tmp_path_factory.mktemp("appendix")
    warehouse = root / "warehouse.duckdb"
    make_warehouse(warehouse)
    paths = build_report(warehouse, root / "out", pdf=False, progress=lambda _: None)
    document = parse_html(paths.html.read_text(encoding="utf-8"))
    # The tables the table macro wrote, and the notes it writes beside each (<div class="table-notes">).
    tables = [t for t in document.iter("table") if "data-outputs" in t.attrib]
    notes = {}
    for wrap in document.iter("div"):
        for table in (t for t in wrap if t.tag == "table"):
            below = next((d for d in wrap if d.get("class") == "table-notes"), None)
            notes[table.get("id")] = [] if below is None else [squash("".join(p.itertext())) for p in below.iter("p")]
    return paths, tables, notes, openpyxl.load_workbook(paths.workbook)


def test_the_workbook_is_written_beside_the_report_with_one_sheet_per_table(appendix):
    paths, tables, _, book = appendix
    assert paths.workbook == paths.directory / WORKBOOK_NAME
    assert book.sheetnames[0] == CONTENTS_SHEET
    assert len(book.sheetnames) - 1 == len(tables) >= 5
    names = book.sheetnames
    assert all(len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) for n in names)
    assert len({n.lower() for n in names}) == len(names)
    # The contents sheet lists every table with its caption, linked to its sheet.
    contents = book[CONTENTS_SHEET]
    listed = [(r[0].value, r[1].value, r[0].hyperlink.location if r[0].hyperlink else None)
              for r in contents.iter_rows(min_row=7) if r[0].value]
    assert [(n, squash(c)) for n, c, _ in listed] == [(n, squash("".join(t.find("caption").itertext())))
                                                      for n, t in zip(names[1:], tables)]
    assert all(link == f"'{n}'!A1" for n, _, link in listed)
    # The output-check log lists the workbook among the folder's files, with its checksum.
    assert WORKBOOK_NAME in (paths.directory / "utdatakontroll.html").read_text(encoding="utf-8")


def test_every_sheet_holds_its_tables_caption_headings_cells_and_notes_as_the_html_shows_them(appendix):
    _, tables, notes, book = appendix
    n_numbers = 0
    for sheet_name, table in zip(book.sheetnames[1:], tables):
        sheet = book[sheet_name]
        rows = [[c for c in row] for row in sheet.iter_rows(min_row=1)]
        assert squash(rows[0][0].value) == squash("".join(table.find("caption").itertext())), sheet_name
        r = 2  # the header rows start on the third row
        for tr in table.find("thead").iter("tr"):
            headings = [squash("".join(th.itertext())) for th in tr.iter("th")]
            assert [squash(str(c.value)) for c in rows[r] if c.value is not None] == headings, (sheet_name, r)
            r += 1
        for tr in (tr for body in table.iter("tbody") for tr in body.iter("tr")):
            html_cells = [squash("".join(cell.itertext())) for cell in tr if cell.tag in ("th", "td")]
            sheet_cells = rows[r][: len(html_cells)]
            kinds = [(cell.get("class"), cell.get("data-kind")) for cell in tr if cell.tag in ("th", "td")]
            for text, cell, (css, kind) in zip(html_cells, sheet_cells, kinds):
                if css == "num" and kind not in ("text", "code", "date") and html_number(text) is not None:
                    assert isinstance(cell.value, (int, float)), (sheet_name, text, cell.value)  # a number stays a number
                if isinstance(cell.value, (int, float)):
                    n_numbers += 1
                    expected = html_number(text)
                    assert expected is not None and cell.value == pytest.approx(expected, abs=1e-12), (sheet_name, text, cell.value)
                    decimals = len(text.split(",")[1].split()[0]) if "," in text else 0
                    shown = re.search(r"0\.(0+)", cell.number_format)
                    assert (len(shown.group(1)) if shown else 0) == decimals, (sheet_name, text, cell.number_format)
                else:
                    assert squash(cell.value or "") == text, (sheet_name, text, cell.value)
            r += 1
        written = [squash(row[0].value) for row in rows[r + 1:] if row and row[0].value]
        assert written == notes[table.get("id")], sheet_name
    assert n_numbers > 200  # the numbers are numbers a memo can compute with, not text


def test_withheld_values_stay_withheld_and_codes_keep_their_zeros():
    assert cell_value("..", "count", True) == ("..", None)
    assert cell_value(".", "count", True) == (".", None)
    assert cell_value("..", "count", True) == ("..", None)
    assert cell_value(".", "count", True) == (".", None)
    assert cell_value("01", "code", False) == ("01", None)
    assert cell_value(f"<{NBSP}0,001", "p", True) == (f"<{NBSP}0,001", None)
    assert cell_value("1,20–1,29", "interval", True) == ("1,20–1,29", None)
    assert cell_value(f"12{NBSP}345", "count", True) == (12345, "#,##0")
    assert cell_value("−3,25", "number", True) == (-3.25, "#,##0.00")
    assert cell_value(f"12,3{NBSP}%", "percent", True) == (0.123, "0.0 %")
    assert cell_value(f"−4,2{NBSP}procentenheter", "percentage_points", True) == (-4.2, '0.0 "procentenheter"')
    assert cell_value("2019", "number", True) == (2019, "0")  # written without a space, so shown without one
    assert cell_value("12", "text", False) == ("12", None)  # a label stays a label


def test_sheet_names_are_short_unique_and_say_which_table():
    captions = ["Tabell 1. Sjukfall efter kön", "Tabell 1. Samma nummer igen", "Urvalsflöde: personer", "Urvalsflöde: sjukfall",
                "Första koordineringsinsatsen per diagnosgrupp.", "Första koordineringsinsatsen per region.",
                "Innehåll", "Kvot [O/F]: regioner*?", "Skattningar per undergrupp, samtliga, kvinnor och män"]
    names = sheet_names(captions)
    assert names[:4] == ["Tabell 1", "Tabell 1 (2)", "Urvalsflöde", "Urvalsflöde (2)"]
    assert names[6] != CONTENTS_SHEET and names[8] == "Skattningar per undergrupp"
    assert all(len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) for n in names)
    assert len({n.lower() for n in names}) == len(names)


def _view(table_id: str, output_ids: tuple[str, ...], count: str = f"1{NBSP}234") -> TableView:
    return TableView(table_id, f"Tabell för {table_id}",
                     ((HeaderCell("Grupp"), HeaderCell("Antal")),),
                     (RowGroup("Kvinnor", (Row("Samtliga", (DataCell(count, "count"),)),)),),
                     ("En not.",), output_ids)


def _render(*views: TableView, extra: str = "") -> str:
    env = template_environment()
    tables = "".join(env.from_string('{% import "_macros.html.j2" as m %}{{ m.table(v) }}').render(v=v) for v in views)
    return f"<html><body>{tables}{extra}</body></html>"


PUBLISHED = SimpleNamespace(is_blocked=False)
BLOCKED = SimpleNamespace(is_blocked=True)


def test_only_the_checked_tables_the_html_shows_reach_the_workbook():
    with collecting_table_views() as views:
        shown_view, unused_view = _view("t-shown", ("a",)), _view("t-unused", ("a",))
    outside = _view("t-outside", ("a",))  # made outside the render: not collected
    assert views == [shown_view, unused_view] and outside not in views
    hand_made = '<table id="regler"><caption>Regler</caption><tr><th scope="row">x</th></tr></table>'
    document = parse_html(_render(shown_view, extra=hand_made))
    assert [s.view for s in shown_tables(document, views, {"a": PUBLISHED})] == [shown_view]
    # An output that is not among the checked ones, or was blocked, stops the appendix.
    with pytest.raises(DisclosureError, match="not a checked, published output"):
        shown_tables(document, views, {})
    with pytest.raises(DisclosureError, match="'a'"):
        shown_tables(document, views, {"a": BLOCKED})


def test_a_table_that_differs_from_its_view_stops_the_appendix():
    with collecting_table_views() as views:
        view = _view("t1", ("a",))
    html = _render(view).replace(f"1{NBSP}234", f"9{NBSP}999")
    with pytest.raises(KoordError, match="differs from every table view"):
        shown_tables(parse_html(html), views, {"a": PUBLISHED})
    # Of two views under one id, the one the HTML shows is taken.
    with collecting_table_views() as views:
        first, second = _view("t1", ("a",), "5"), _view("t1", ("a",), "7")
    assert [s.view for s in shown_tables(parse_html(_render(second)), views, {"a": PUBLISHED})] == [second]
    assert first is not second


def test_every_table_explains_the_symbols_it_shows_and_no_other(appendix):
    # ".." = withheld by disclosure control, "." = does not exist (SCB); the note follows the cells, not the outputs.
    _, tables, notes, _ = appendix
    shown_anywhere: set[str] = set()
    for table in tables:
        cells = ["".join(td.itertext()) for td in table.iter("td")]
        shown = set().union(*(symbols_in(c) for c in cells)) if cells else set()
        shown_anywhere |= shown
        tid = table.get("id")
        assert (squash(SUPPRESSED_NOTE) in notes[tid]) == (".." in shown), tid
        assert (squash(NOT_APPLICABLE_NOTE) in notes[tid]) == ("." in shown), tid
    assert shown_anywhere == {"..", "."}  # the fixture has withheld cells and cells that do not exist
