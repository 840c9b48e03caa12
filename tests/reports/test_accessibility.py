"""The report's accessibility: the WCAG 2.1 AA rules checked in Python, the built report passing them, the tagged PDF."""

from __future__ import annotations

import re

import pypdf
import pytest
from markupsafe import Markup

from koord.errors import KoordError
from pipeline.cli import main as koord
from reports import sections as section_registry
from reports.accessibility import AccessibilityError, check_accessibility, contrast_ratio, parse_html, require_accessible
from reports.builder import TITLE, build_report
from reports.sections import Section
from report_warehouse import make_warehouse

CSS = """
:root { --ink: #1b1b1b; --muted: #555; --note: #f3f6f9; }
html { color: var(--ink); }
.muted { color: var(--muted); }
.boxed { background: var(--note) ; border-left: 4px solid #b8860b; }
.pass { color: #1b6e20; } .fail { color: #a61b1b; }
"""


def document(body: str, *, css: str = CSS, lang: str = ' lang="sv"', title: str = "Rapport") -> str:
    return (f"<!DOCTYPE html><html{lang}><head><meta charset=\"utf-8\"><title>{title}</title><style>{css}</style></head>"
            f"<body><h1>Rapport</h1>{body}</body></html>")


GOOD_BODY = """
<nav><h2 id="toc">Innehåll</h2><ol><li><a href="#kap">Kapitlet</a></li></ol></nav>
<section id="kap"><h2>Kapitlet</h2><h3>Avsnitt</h3><p class="muted">Text.</p><div class="boxed"><p>Ruta</p></div>
<table id="t1"><caption>Tabell 1. Antal</caption>
<thead><tr><th scope="col">Grupp</th><th scope="col">Antal</th></tr></thead>
<tbody><tr><th scope="rowgroup" colspan="2">Kvinnor</th></tr>
<tr class="fail"><th scope="row">Samtliga</th><td class="num">12 (ej godkänd)</td></tr>
<tr><th scope="row">Yngre</th><td class="pass">✓</td></tr></tbody></table>
<figure id="f1"><img src="data:image/png;base64,AAAA" alt="Stegkurvor för kvinnor och män"><figcaption>Figur 1</figcaption></figure>
<svg aria-label="Karta"><rect/></svg><svg aria-hidden="true"></svg>
</section>
"""


def rules(html: str) -> list[str]:
    return [v.rule for v in check_accessibility(html)]


def test_a_document_that_keeps_every_rule_passes():
    assert check_accessibility(document(GOOD_BODY)) == []


@pytest.mark.parametrize("change, rule, criterion", [
    (lambda b: b.replace('<h3>Avsnitt</h3>', '<h4>Avsnitt</h4>'), "heading-order", "1.3.1"),
    (lambda b: b + "<h1>Ett till</h1>", "one-h1", "1.3.1"),
    (lambda b: b.replace("<h3>Avsnitt</h3>", "<h3> </h3>"), "empty-heading", "2.4.6"),
    (lambda b: b.replace("<caption>Tabell 1. Antal</caption>", ""), "table-caption", "1.3.1"),
    (lambda b: b.replace('<th scope="row">Yngre</th>', "<th>Yngre</th>"), "th-scope", "1.3.1"),
    (lambda b: re.sub(r"<th scope=\"[a-z]+\"( colspan=\"2\")?>", "<td>", b).replace("</th>", "</td>"), "table-headers", "1.3.1"),
    (lambda b: b.replace(' alt="Stegkurvor för kvinnor och män"', ""), "img-alt", "1.1.1"),
    (lambda b: b.replace('alt="Stegkurvor för kvinnor och män"', 'alt=" "'), "img-alt", "1.1.1"),
    (lambda b: b.replace('<svg aria-label="Karta">', "<svg>"), "svg-name", "1.1.1"),
    (lambda b: b.replace('<a href="#kap">Kapitlet</a>', '<a href="#kap"> </a>'), "link-name", "2.4.4"),
    (lambda b: b.replace('href="#kap"', 'href="#saknas"'), "link-target", "2.4.4"),
    (lambda b: b.replace("12 (ej godkänd)", "12"), "colour-only", "1.4.1"),
    (lambda b: b.replace("✓", "0,75"), "colour-only", "1.4.1"),
    (lambda b: b.replace('id="f1"', 'id="t1"'), "duplicate-id", "4.1.1"),
])
def test_each_rule_finds_what_breaks_it(change, rule, criterion):
    found = check_accessibility(document(change(GOOD_BODY)))
    assert [v.rule for v in found] == [rule], found
    assert found[0].criterion == criterion


def test_the_document_language_and_title_are_required():
    assert rules(document(GOOD_BODY, lang="")) == ["language"]
    assert rules(document(GOOD_BODY, lang=' lang="svenska!"')) == ["language"]
    assert rules(document(GOOD_BODY, title="")) == ["page-title"]


def test_the_contrast_ratio_is_wcags():
    black, white = (0.0, 0.0, 0.0, 1.0), (1.0, 1.0, 1.0, 1.0)
    assert contrast_ratio(black, white) == pytest.approx(21.0)
    assert contrast_ratio(white, white) == pytest.approx(1.0)
    grey_767676 = (0x76 / 255, 0x76 / 255, 0x76 / 255, 1.0)  # the lightest grey that passes on white
    assert contrast_ratio(grey_767676, white) == pytest.approx(4.54, abs=0.01)
    grey_777777 = (0x77 / 255, 0x77 / 255, 0x77 / 255, 1.0)
    assert contrast_ratio(grey_777777, white) < 4.5


def test_contrast_is_checked_through_the_cascade_custom_properties_backgrounds_media_and_page_margins():
    # Light grey text via a custom property, on white: fails.
    found = check_accessibility(document(GOOD_BODY, css=CSS.replace("--muted: #555", "--muted: #999")))
    assert [v.rule for v in found] == ["contrast"] and "#999999 on #ffffff" in found[0].message
    # Acceptable grey, but on a darker background the box's text gets: fails, with the background named.
    found = check_accessibility(document(GOOD_BODY, css=CSS.replace("--note: #f3f6f9", "--note: #5a5a5a")))
    assert [v.rule for v in found] == ["contrast"] and "on #5a5a5a" in found[0].message
    # A rule only for print, more specific than the one for screen.
    found = check_accessibility(document(GOOD_BODY, css=CSS + "@media print { section td.pass { color: #c0e0c0; } }"))
    assert [v.rule for v in found] == ["contrast"] and "on print" in found[0].message and "screen" not in found[0].message
    # An inline style wins over the sheet; a transparent colour is blended with what is behind it.
    assert rules(document(GOOD_BODY.replace('<h3>', '<h3 style="color: rgba(0, 0, 0, 0.3)">'))) == ["contrast"]
    # The running footer of the printed pages.
    found = check_accessibility(document(GOOD_BODY, css=CSS + '@page { @bottom-center { content: "Sida"; color: #aaa; } }'))
    assert [v.rule for v in found] == ["contrast"] and "@page @bottom-center" in found[0].message


def test_require_accessible_lists_the_violations_for_people():
    require_accessible(document(GOOD_BODY))
    with pytest.raises(AccessibilityError) as raised:
        require_accessible(document(GOOD_BODY.replace(' alt="Stegkurvor för kvinnor och män"', "").replace("<h3>", "<h4>")))
    message = str(raised.value)
    assert isinstance(raised.value, KoordError)
    assert "2 violation(s)" in message and "WCAG 1.1.1 img-alt" in message and "WCAG 1.3.1 heading-order" in message
    assert "No report was written" in message and "Traceback" not in message


def test_the_html_tree_keeps_void_elements_out_of_the_tree_and_text_in_order():
    root = parse_html('<html lang="sv"><body><p>a<br>b<img alt="c">d</p></body></html>')
    p = root.find("body/p")
    assert [child.tag for child in p] == ["br", "img"] and "".join(p.itertext()) == "abd"


# --- the built report ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("accessible")
    warehouse = root / "warehouse.duckdb"
    make_warehouse(warehouse)
    messages: list[str] = []
    paths = build_report(warehouse, root / "out", progress=messages.append)
    return paths, messages


def test_the_built_report_passes_the_accessibility_check(report):
    paths, messages = report
    html = paths.html.read_text(encoding="utf-8")
    assert check_accessibility(html) == []
    assert any("accessibility: the HTML passes" in m for m in messages)
    # The check saw the report's real content, not an empty shell.
    tree = parse_html(html)
    assert len(list(tree.iter("table"))) >= 5 and len(list(tree.iter("img"))) >= 2 and tree.get("lang") == "sv"


def _outline(reader: pypdf.PdfReader) -> list[tuple[str, int, list]]:
    """Top-level bookmarks: (title, 1-based page, children)."""
    out: list[tuple[str, int, list]] = []
    for item in reader.outline:
        if isinstance(item, list):
            out[-1][2].extend(item)
        else:
            out.append((item.title, reader.get_destination_page_number(item) + 1, []))
    return out


def test_the_pdf_is_tagged_with_language_title_and_a_bookmark_per_chapter(report):
    paths, _ = report
    reader = pypdf.PdfReader(str(paths.pdf))
    catalog = reader.trailer["/Root"]
    assert bool(catalog["/MarkInfo"]["/Marked"])  # pdfinfo: "Tagged: yes"
    structure = catalog["/StructTreeRoot"].get_object()
    assert structure["/K"]  # the structure tree has content
    assert catalog["/Lang"] == "sv"
    assert reader.metadata.title == TITLE and bool(catalog["/ViewerPreferences"]["/DisplayDocTitle"])
    assert reader.pdf_header.endswith("1.7")  # PDF/UA-1 rests on PDF 1.7

    chapters = _chapter_headings(paths.html)
    bookmarks = _outline(reader)
    assert [title for title, _, _ in bookmarks] == ["Innehåll", *chapters]  # the report's title is not a bookmark
    assert any(children for _, _, children in bookmarks)  # subsections under their chapter
    pages = [page for _, page, _ in bookmarks]
    assert pages == sorted(pages) and pages[-1] > pages[0]


def test_the_table_of_contents_gives_each_chapters_page_and_the_footer_numbers_the_pages(report):
    paths, _ = report
    reader = pypdf.PdfReader(str(paths.pdf))
    bookmarks = {title: page for title, page, _ in _outline(reader)}
    toc = reader.pages[0].extract_text() + "\n" + reader.pages[1].extract_text()
    n_pages = len(reader.pages)
    for title in _chapter_headings(paths.html):
        # "3. Data och definitioner . . . . . 2": the title, dot leaders, the page the chapter starts on.
        m = re.search(re.escape(title) + r"[ .]*?(\d+)\s*$", toc, flags=re.MULTILINE)
        assert m, f"the table of contents has no page number for {title!r}"
        assert int(m.group(1)) == bookmarks[title], title
    assert f"Sida 1 av {n_pages}" in reader.pages[0].extract_text()
    assert f"Sida {n_pages} av {n_pages}" in reader.pages[-1].extract_text()
    # A screen reader reads each link's description: the chapter's title, not the anchor's id.
    links = [a.get_object() for a in reader.pages[0].get("/Annots", []) if a.get_object().get("/Subtype") == "/Link"]
    described = {str(a["/Contents"]) for a in links}
    titles = set(bookmarks) | {child.title for _, _, children in _outline(reader) for child in children
                               if not isinstance(child, list)}
    assert described and described <= titles and not any(str(a["/Dest"]) in described for a in links)


def _structure_elements(reader: pypdf.PdfReader, role: str) -> list:
    """The PDF's structure elements of one role (``/Figure``, ``/TD``), in document order."""
    found = []

    def walk(node):
        node = node.get_object()
        if isinstance(node, pypdf.generic.DictionaryObject):
            if node.get("/S") == role:
                found.append(node)
            kids = node.get("/K")
            for kid in (kids if isinstance(kids, pypdf.generic.ArrayObject) else [kids] if kids is not None else []):
                walk(kid)

    walk(reader.trailer["/Root"]["/StructTreeRoot"])
    return found


def test_figures_carry_their_alt_text_and_data_cells_their_headers_in_the_pdf(report):
    paths, _ = report
    reader = pypdf.PdfReader(str(paths.pdf))
    figures = [str(f.get("/Alt", "")) for f in _structure_elements(reader, "/Figure")]
    alts = [img.get("alt") for img in parse_html(paths.html.read_text(encoding="utf-8")).iter("img")]
    assert len(figures) == len(alts) >= 2
    assert all(len(alt) > 40 for alt in figures) and set(figures) == set(alts)
    # PDF/UA: a data cell names its header cells (/Headers), as the HTML's scoped <th> do.
    cells = _structure_elements(reader, "/TD")
    with_headers = [c for c in cells if c.get("/A") and len(c["/A"].get_object().get("/Headers", [])) > 0]
    assert cells and len(with_headers) / len(cells) > 0.95


def _chapter_headings(html_path) -> list[str]:
    """The chapters' headings (h2) as the HTML gives them, the contents' own heading left out."""
    html = html_path.read_text(encoding="utf-8")
    return [re.sub(r"<[^>]+>", "", h) for h in re.findall(r'<h2 id="kap-[^"]*">(.*?)</h2>', html)]


def _inaccessible_section() -> Section:
    """A section whose figure has no alt text: the build must stop."""
    return Section("zz_blind", "Figur utan alternativtext", 99, lambda inputs: (),
                   lambda ctx: Markup('<figure><img src="data:image/png;base64,AAAA"><figcaption>Figur</figcaption></figure>'))


def test_the_builder_refuses_an_inaccessible_report_and_keeps_the_last_good_one(tmp_path, monkeypatch, capsys):
    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse, with_results=False)
    good = build_report(warehouse, tmp_path / "out", pdf=False, progress=lambda _: None)
    before = good.html.read_bytes()
    monkeypatch.setitem(section_registry._REGISTRY, "zz_blind", _inaccessible_section())
    with pytest.raises(AccessibilityError, match=r"WCAG 1\.1\.1 img-alt.*no alt attribute") as raised:
        build_report(warehouse, tmp_path / "out", pdf=False, progress=lambda _: None)
    assert "zz_blind" in str(raised.value)  # the message says where: the section's chapter
    assert good.html.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report"]  # no half-written folder left
    # The command line says so in words, without a traceback, and exits non-zero.
    assert koord(["report", "--warehouse", str(warehouse), "--out", str(tmp_path / "out"), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "fails the accessibility check" in err and "img-alt" in err and "Traceback" not in err
