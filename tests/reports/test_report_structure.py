"""The report's chapters, the numbering of its tables and figures, and the checks on its printed text.

Fast tests on hand-made inputs; the end-to-end versions run on the synthetic report
(tests/reports/test_report_synthetic.py).
"""

from __future__ import annotations

import pytest
from markupsafe import Markup

from koord.errors import KoordError
from report_warehouse import make_warehouse
from reports import sections as registry
from reports.builder import build_report, swedish_list
from reports.labels import covariate_label
from reports.numbering import number_document
from reports.pdf_text import PdfText, broken_words, internal_identifiers, unreferenced
from reports.sections import Section, registered_sections
from reports.structure import CHAPTERS, TABLE_APPENDIX, arrange


def test_every_registered_section_has_its_place_in_a_chapter():
    placed = {k for c in CHAPTERS for k in c.sections}
    missing = [s.key for s in registered_sections() if s.key not in placed]
    assert not missing, f"sections not placed in reports/structure.py CHAPTERS: {missing}"


def test_chapters_are_numbered_in_the_body_and_lettered_as_appendices():
    placed = arrange(["sammanfattning", "uppdraget", "rtw", "metod", "ordlista", TABLE_APPENDIX])
    assert [p.heading for p in placed] == [
        "Sammanfattning", "1 Inledning", "2 Koordinering och återgång i arbete",
        "Bilaga 1. Metod, diagnostik och känslighetsanalyser", "Bilaga 2. Tabeller", "Bilaga 3. Ordlista"]


def test_a_section_no_chapter_knows_becomes_its_own_chapter_before_the_appendices():
    placed = arrange(["uppdraget", "egen", "ordlista"], {"egen": "En egen analys"})
    assert [p.heading for p in placed] == ["1 Inledning", "2 En egen analys", "Bilaga 1. Ordlista"]


def test_tables_and_figures_are_numbered_in_document_order_and_references_filled():
    html = ('<p><a class="ref" href="#b">X</a> visar mer än <a class="ref" href="#a"></a>.</p>'
            '<table id="a" class="x">\n<caption>Första.</caption></table>'
            '<figure id="f"><img alt="bild"><figcaption>Figur. En kurva.</figcaption></figure>'
            '<table id="b">\n<caption>Andra.</caption></table><p><a class="ref" href="#saknas"></a></p>')
    out, numbering = number_document(html)
    assert numbering.tables == {"a": 1, "b": 2} and numbering.figures == {"f": 1}
    assert '<caption><span class="number">Tabell 1.</span> Första.' in out
    assert '<figcaption><span class="number">Figur 1.</span> En kurva.' in out  # the old "Figur." prefix goes
    assert '>Tabell 2</a> visar mer än <a class="ref" href="#a">tabell 1</a>' in out
    assert numbering.unreferenced() == ["f"] and numbering.dangling == ("saknas",)


def test_swedish_lists_have_no_comma_before_och():
    assert swedish_list([]) == "" and swedish_list(["a"]) == "a"
    assert swedish_list(["samtliga", "kvinnor", "män"]) == "samtliga, kvinnor och män"


HTML = ("<html><body><h1>Rapport</h1><table><tr><th>Kolumn</th><td>koordinerade p-värde 1,24</td></tr></table>"
        "<p>Se tabell 1. Figur 1 visar kurvan.</p></body></html>")


def test_a_word_split_without_a_hyphen_is_found_and_hyphenation_is_not():
    ok = PdfText(("Kolumn koordi\u2010\nnerade p-\nvärde 1,24\nSida 1 av 2",), 1)
    assert broken_words(ok, HTML) == []
    split = PdfText(("Kolu\nmn koordinerade",), 1)
    assert broken_words(split, HTML) == [(1, "Kolu"), (1, "mn")]


def test_internal_identifiers_in_the_chapters_and_analysis_ids_anywhere():
    text = PdfText(("Huvudanalysen (tv_cox) visar", "Bilaga 1. Datadictionary: spell_start_date", "naive_ever i bilagan"), 1)
    assert internal_identifiers(text, ["tv_cox", "naive_ever", "survey"]) == [(1, "tv_cox"), (3, "naive_ever")]


def test_a_table_named_only_in_its_caption_is_unreferenced():
    text = PdfText(("Som tabell\n1 visar.\nTabell 1. Något.\nTabell 2. Annat.\nFigur 1. Kurva.\nSe figur 1.",), 1)
    assert unreferenced(text) == ["Tabell 2"]


def test_a_covariate_level_of_the_balance_table_is_named_in_swedish():
    assert covariate_label("age_group__50_59", in_sentence=True) == "åldersgrupp: 50–59 år"
    assert covariate_label("education_group__high") == "Utbildning: Eftergymnasial (nivå 5–7)"
    assert covariate_label("days_since_spell_start", in_sentence=True) == "dagar sedan sjukfallets start"


def test_a_failing_section_stops_the_build_with_a_sentence_not_a_traceback(tmp_path, monkeypatch):
    def broken(ctx) -> Markup:
        return Markup({}["missing"])

    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse, with_results=False)
    monkeypatch.setitem(registry._REGISTRY, "zz_broken", Section("zz_broken", "Trasig", 99, lambda inputs: (), broken))
    with pytest.raises(KoordError, match=r"section 'zz_broken' \(Trasig\) could not be written: KeyError"):
        build_report(warehouse, tmp_path / "out", pdf=False, progress=lambda _: None)
    assert not (tmp_path / "out" / "report").exists()
