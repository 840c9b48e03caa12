"""End to end: a synthetic delivery through every `koord` stage to the report, whose content is checked.

synth (with faults) -> ingest -> build -> analyse -> report, through the command line as an
evaluator runs it. The HTML is parsed: its sections exist, its main numbers equal the
results tables, and no count in it rests on fewer persons than the disclosure threshold;
the PDF's extracted text has the Swedish headings with å ä ö intact.
"""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pypdf
import pytest

from pipeline.commands.internal_folder import INTERNAL_DIR
from analyses.diagnostic_keys import undeclared
from pipeline.cli import main as koord
from reports.disclosure import DisclosureRules
from reports.formatting import NBSP, format_count, format_interval, format_ratio
from reports.pdf_text import broken_words, describe, internal_identifiers, read_pdf_text, unreferenced
from reports.structure import CHAPTERS
from analyses.designs.specs import DEFAULT_ANALYSES, DESIGNS
from test_report_builder import SWEDISH_HEADINGS, parse

PERSONS, SEED = 5_000, 7
THRESHOLD = DisclosureRules().min_cell_count
STUDY = """
[analyses]
bootstrap_replicates = 20
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    delivery, warehouse, out, study = root / "delivery", root / "warehouse.duckdb", root / "out", root / "study.toml"
    study.write_text(STUDY, encoding="utf-8")
    assert koord(["synth", "--out", str(delivery), "--persons", str(PERSONS), "--seed", str(SEED), "--faults",
                  "--truth", str(root / "truth.json")]) == 0
    assert koord(["ingest", "--delivery", str(delivery), "--warehouse", str(warehouse)]) == 0
    assert koord(["build", "--warehouse", str(warehouse), "--study", str(study)]) == 0
    assert koord(["analyse", "--warehouse", str(warehouse), "--out", str(out), "--study", str(study)]) == 0
    assert koord(["report", "--warehouse", str(warehouse), "--out", str(out), "--study", str(study)]) == 0
    con = duckdb.connect(str(warehouse), read_only=True)
    tv_cox = con.execute("select * from results.tv_cox").df()
    n_spells = con.execute("select count(*) from spells").fetchall()[0][0]
    con.close()
    directory = out / "report"
    log = pd.read_csv(directory / "utdatakontroll_utdata.csv", sep=";")  # one row per output
    return {"dir": directory, "out": out, "html": parse(directory / "rapport.html"), "log": log, "tv_cox": tv_cox,
            "n_spells": n_spells, "warehouse": warehouse}


def test_out_holds_only_the_report_and_the_internal_folder(report):
    """Beside report/ (the only folder meant to leave) there is nothing but the unchecked internt/."""
    assert sorted(p.name for p in report["out"].iterdir()) == sorted([INTERNAL_DIR, "report"])


def test_every_section_is_there_in_order(report):
    h2 = [text for tag, text in report["html"].headings if tag == "h2"]
    assert [h for h in h2 if h in SWEDISH_HEADINGS] == SWEDISH_HEADINGS


def test_main_hazard_ratios_equal_the_results_table_for_all_women_and_men(report):
    tv_cox, html = report["tv_cox"], report["html"]
    for population, label in (("all", "Samtliga"), ("woman", "Kvinnor"), ("man", "Män")):
        r = tv_cox[(tv_cox["sex"] == population) & tv_cox["subgroup"].isin(["all", "sex"])].iloc[0]
        cells = html.row("tabell-huvudresultat", label)
        assert cells[1:3] == [format_ratio(r["estimate"]), format_interval(r["conf_low"], r["conf_high"])]
        assert cells[4:6] == [format_count(r["n_persons"]), format_count(r["n_events"])]


def test_table_1_counts_every_spell(report):
    total = report["html"].row("tabell-1", "Samtliga sjukfall")
    shown = [int(c.replace(NBSP, "").replace(" ", "")) for c in total if c and c[0].isdigit() and "%" not in c]
    assert report["n_spells"] in shown


def test_no_count_rests_on_fewer_persons_than_the_threshold(report):
    html, log = report["html"], report["log"]
    counts = [text for kind, text in html.kinds if kind == "count"]
    assert counts
    for text in counts:
        if text not in ("..", "."):
            n = int(text.replace(NBSP, "").replace(" ", ""))
            assert n == 0 or n >= THRESHOLD, text
    assert set(log["status"]) <= {"passed", "suppressed", "blocked"}
    status = dict(zip(log["output_id"], log["status"]))
    for table in html.tables:
        for output_id in table["outputs"]:
            assert status[output_id] != "blocked", f"{table['id']} shows blocked output {output_id}"


def test_the_pdf_has_figures_tables_and_swedish_headings(report):
    reader = pypdf.PdfReader(str(report["dir"] / "rapport.pdf"))
    assert sum(len(page.images) for page in reader.pages) >= 2
    text = "\n".join(page.extract_text() for page in reader.pages[:12])
    for heading in ("Återgång i arbete efter koordinering", "Frågorna och var de besvaras", "Studiepopulationen"):
        assert heading in text


def test_every_diagnostics_key_the_designs_write_is_declared(report):
    """Per row and per analysis (results._analyses): a key the report does not know would be withheld, so declare it."""
    con = duckdb.connect(str(report["warehouse"]), read_only=True)
    tables = [r[0] for r in con.execute("select table_name from information_schema.columns "
                                        "where table_schema = 'results' and column_name = 'diagnostics'").fetchall()]
    found: dict[str, set[str]] = {}
    for table in tables:
        texts = con.execute(f'select distinct diagnostics from results."{table}" where diagnostics is not null')
        for (text,) in texts.fetchall():
            found.setdefault(table, set()).update(undeclared(json.loads(text)))
    con.close()
    assert {"_analyses", "tv_cox", "tv_poisson", "target_trial", "landmark", "naive_ever", "heterogeneity",
            "e_value"} <= set(tables)
    assert {t: sorted(keys) for t, keys in found.items() if keys} == {}
    assert not report["log"]["flags"].fillna("").str.contains("diagnostik").any()  # nothing withheld for want of one


# --- the printed report as the ministry reads it (issue 15) ---------------------------------------


@pytest.fixture(scope="module")
def printed(report):
    return read_pdf_text(report["dir"] / "rapport.pdf"), (report["dir"] / "rapport.html").read_text(encoding="utf-8")


def test_the_pdf_shows_no_internal_identifier(printed):
    """No analysis id anywhere, and no snake_case word in the chapters (the data dictionary may name columns)."""
    text, _ = printed
    ids = set(DEFAULT_ANALYSES) | set(DESIGNS) | {"cif_curves"}
    found = internal_identifiers(text, ids)
    assert not found, f"internal identifiers in the printed report: {describe(found)}"


def test_no_word_is_broken_inside_a_table_cell(printed):
    text, html = printed
    found = broken_words(text, html)
    assert not found, f"words split in print (not words of the HTML): {describe(found)}"


def test_every_table_and_figure_is_referred_to_in_the_text(printed):
    text, _ = printed
    assert "Tabell 1." in text.whole and "Figur 1." in text.whole
    assert not unreferenced(text), f"numbered but never referred to: {unreferenced(text)}"


def test_the_chapters_without_the_appendices_are_under_30_pages(printed):
    text, _ = printed
    assert text.first_appendix_page < len(text.pages), "the appendices were not found"
    assert text.first_appendix_page < 30, f"the chapters take {text.first_appendix_page} pages"


def test_the_report_has_the_chapters_of_an_isf_report(report):
    h2 = [t for tag, t in report["html"].headings if tag == "h2"]
    for chapter in ("Sammanfattning", "Inledning", "Data och metod", "Slutsatser", "Ordlista"):
        assert any(h.endswith(chapter) for h in h2), chapter
    assert len([c for c in CHAPTERS if not c.appendix]) >= 8
