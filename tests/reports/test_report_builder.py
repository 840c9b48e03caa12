"""The report built from a small hand-made warehouse: sections, numbers, disclosure, accessibility, PDF."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pypdf
import pytest

from pipeline.cli import main as koord
from koord.errors import DisclosureError
from reports import sections as section_registry
from reports.builder import build_report
from reports.disclosure import DisclosureRules, FrequencyOutput, ModelOutput, RunInfo, with_margins
from reports.formatting import NBSP, format_count, format_interval, format_number, format_percent, format_ratio
from reports.outputs import declaration
from reports.sections import RenderContext, Section
from reports.views import count_table_view
from report_warehouse import make_warehouse, tv_cox_summary

THRESHOLD = DisclosureRules().min_cell_count
# The chapters (h2) of an ISF-style report, numbered (reports/structure.py).
SWEDISH_HEADINGS = [
    "Sammanfattning",
    "1 Inledning",
    "2 Data och metod",
    "3 Koordinering och återgång i arbete",
    "4 Skillnader mellan regioner",
    "5 Samverkan med Försäkringskassan, Arbetsförmedlingen, arbetsgivare och kommuner",
    "6 Behovsprövad och snabb insats",
    "7 Slutsatser",
    "Bilaga 1. Metod, diagnostik och känslighetsanalyser",
    "Bilaga 2. Tabeller",
    "Bilaga 3. Ordlista",
    "Bilaga 4. Studiens val, data, proveniens och röjandekontroll",
]


class ReportParser(HTMLParser):
    """Headings, tables (caption, rows of cells with their attributes), images and data-kind cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.charset = None
        self.headings: list[tuple[str, str]] = []
        self.tables: list[dict] = []
        self.images: list[dict] = []
        self.kinds: list[tuple[str, str]] = []
        self.th_without_scope = 0
        self._stack: list[tuple[str, dict, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "meta" and "charset" in a:
            self.charset = a["charset"]
        if tag == "img":
            self.images.append(a)
            return
        if tag == "table":
            self.tables.append({"id": a.get("id"), "outputs": (a.get("data-outputs") or "").split(), "caption": "", "rows": []})
        if tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        if tag == "th" and "scope" not in a:
            self.th_without_scope += 1
        self._stack.append((tag, a, []))

    def handle_endtag(self, tag):
        while self._stack:
            t, a, text = self._stack.pop()
            content = "".join(text).strip()
            if self._stack:
                self._stack[-1][2].append("".join(text))
            if t in ("h1", "h2", "h3", "h4"):
                self.headings.append((t, content))
            if t == "caption":
                self.tables[-1]["caption"] = content
            if t in ("td", "th") and self.tables and self.tables[-1]["rows"]:
                self.tables[-1]["rows"][-1].append((t, a, content))
            if "data-kind" in a:
                self.kinds.append((a["data-kind"], content))
            if t == tag:
                break

    def handle_data(self, data):
        if self._stack:
            self._stack[-1][2].append(data)

    def table(self, table_id: str) -> dict:
        return next(t for t in self.tables if t["id"] == table_id)

    def row(self, table_id: str, header: str) -> list[str]:
        for r in self.table(table_id)["rows"]:
            if r and r[0][0] == "th" and r[0][2] == header:
                return [c[2] for c in r[1:]]
        raise KeyError(f"no row {header!r} in {table_id}")


def parse(path: Path) -> ReportParser:
    p = ReportParser()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    warehouse = root / "warehouse.duckdb"
    frames = make_warehouse(warehouse)
    paths = build_report(warehouse, root / "out", progress=lambda _: None)
    # The summary per output; paths.check_log_csv holds one row per number (tests/reports/test_checklog.py).
    return paths, frames, parse(paths.html), pd.read_csv(paths.directory / "utdatakontroll_utdata.csv", sep=";")


def test_the_report_and_its_check_log_are_written_beside_each_other(built):
    paths, _, _, log = built
    assert paths.html == paths.directory / "rapport.html" and paths.pdf == paths.directory / "rapport.pdf"
    assert paths.check_log_csv.parent == paths.directory and paths.check_log_html.exists()
    assert set(log["status"]) <= {"passed", "suppressed", "blocked"}
    assert {"output_id", "disclosure_class", "rule_set", "status", "reasons", "n_suppressed", "run_at", "code_version", "run_by"} <= set(log.columns)
    numbers = pd.read_csv(paths.check_log_csv, sep=";", dtype=str, keep_default_na=False)
    assert {"output_id", "title", "disclosure_class", "table", "location_sv", "value_published", "status", "rule_sv",
            "reason_sv", "run_at", "code_version", "software", "run_by"} <= set(numbers.columns)
    assert set(numbers["status"]) <= {"publicerad", "avrundad", "undertryckt", "stoppad"}
    assert set(numbers["output_id"]) == set(log["output_id"])
    assert (numbers.loc[numbers["status"] == "undertryckt", "value_published"] == "").all()
    assert {"tabell1", "bortfall", "modell:tv_cox", "kurva:target_trial_cif", "figur_forest:tv_cox:diagnosis_chapter_group"} <= set(log["output_id"])


def test_the_appendix_and_the_log_name_the_software_versions_that_made_the_numbers(built):
    from importlib import metadata
    import platform

    paths, _, _, log = built
    expected = [f"Python {platform.python_version()}"] + [
        f"{name} {metadata.version(name)}" for name in ("duckdb", "pandas", "polars", "statsmodels", "lifelines", "weasyprint")]
    html, log_html = paths.html.read_text(encoding="utf-8"), paths.check_log_html.read_text(encoding="utf-8")
    for text in expected:
        assert text in html and text in log_html
        assert log["software"].str.contains(text, regex=False).all()


def test_sections_exist_with_swedish_headings_in_order(built):
    _, _, html, _ = built
    h2 = [text for tag, text in html.headings if tag == "h2"]
    assert [h for h in h2 if h in SWEDISH_HEADINGS] == SWEDISH_HEADINGS
    assert sum(tag == "h1" for tag, _ in html.headings) == 1
    levels = [int(tag[1]) for tag, _ in html.headings]
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), "a heading level is skipped"


def test_accessibility_lang_charset_captions_scopes_and_alt_texts(built):
    _, _, html, _ = built
    assert html.lang == "sv" and html.charset.lower() == "utf-8"
    assert 'font-family: "DejaVu Sans"' in built[0].html.read_text(encoding="utf-8")  # CSS not HTML-escaped
    assert html.tables and all(t["caption"] for t in html.tables)
    assert html.th_without_scope == 0
    assert len(html.images) == 2  # the curves and the forest plot
    for img in html.images:
        assert img["src"].startswith("data:image/png;base64,")
        assert len(img.get("alt", "")) > 80 and ("kvinnor" in img["alt"].lower())


def test_numbers_equal_the_results_tables_formatted_in_swedish(built):
    _, frames, html, _ = built
    tv_cox = frames["tv_cox"]
    for population, label in (("all", "Samtliga"), ("woman", "Kvinnor"), ("man", "Män")):
        r = tv_cox[(tv_cox["sex"] == population) & tv_cox["subgroup"].isin(["all", "sex"])].iloc[0]
        cells = html.row("tabell-huvudresultat", label)
        assert cells[1:3] == [format_ratio(r["estimate"]), format_interval(r["conf_low"], r["conf_high"])]
        assert cells[4:6] == [format_count(r["n_persons"]), format_count(r["n_events"])]
    assert html.row("tabell-huvudresultat", "Män")[2] == f"1,05{chr(0x2013)}1,65" and html.row("tabell-huvudresultat", "Män")[3] == f"<{NBSP}0,001"
    # The chapter group resting on 6 exposed events is withheld, the others shown as estimated.
    sub = "tabell-undergrupper-tv_cox"
    assert html.row(sub, "Män · Diagnoskapitel: Övriga diagnoser")[1:] == [".."] * 5
    assert html.row(sub, "Kvinnor · Diagnoskapitel: Psykiatriska diagnoser (F00–F99)")[1] == "1,45"
    # Its counts would follow from the men's total minus the other chapters: the smallest other's go too.
    assert html.row(sub, "Män · Diagnoskapitel: Muskuloskeletala diagnoser (M00–M99)")[1:] == ["1,07", "0,70–1,64", "0,76", "..", ".."]
    trial = frames["target_trial"]
    rd = trial[(trial.sex == "woman") & (trial.term == "horizon_365") & (trial.estimand == "risk_difference")].iloc[0]
    now = trial[(trial.sex == "woman") & (trial.term == "horizon_365") & (trial.arm == "coordination_now")].iloc[0]
    cells = html.row("tabell-forsok-target_trial", "Kvinnor · dag 365")
    assert cells[0] == format_percent(100 * now["estimate"])
    assert cells[2] == f"{format_number(100 * rd['estimate'], 1)} ({format_interval(100 * rd['conf_low'], 100 * rd['conf_high'], 1)})"

    spells = frames["spells"]
    n_women = int((spells["sex"] == "woman").sum())
    n_30 = int(((spells["sex"] == "woman") & (spells["age_group"] == "30-39")).sum())
    assert html.row("tabell-1", "Samtliga sjukfall")[0] == format_count(n_women)
    assert html.row("tabell-1", "30–39 år")[:2] == [format_count(n_30), format_percent(100 * n_30 / n_women)]
    assert html.row("tabell-1", "60–64 år")[2:4] == ["..", ".."]  # three men aged 60-64


def _count(text: str) -> int | None:
    return None if text in ("..", ".") else int(text.replace(NBSP, "").replace(" ", ""))


def test_no_count_in_the_report_rests_on_fewer_persons_than_the_threshold(built):
    _, _, html, log = built
    counts = [_count(text) for kind, text in html.kinds if kind == "count"]
    assert len(counts) > 100
    assert all(n is None or n == 0 or n >= THRESHOLD for n in counts)
    assert any(text == ".." for kind, text in html.kinds if kind == "count")  # the fixture's small cells are withheld
    status = dict(zip(log["output_id"], log["status"]))
    for table in html.tables:
        for output_id in table["outputs"]:
            assert status[output_id] in ("passed", "suppressed"), f"{table['id']} shows blocked {output_id}"
        withheld = any(c[2] == ".." and c[1].get("data-kind") == "count" for row in table["rows"] for c in row)
        if withheld:
            assert any(status[o] == "suppressed" for o in table["outputs"]), table["id"]
    # The log names each withheld cell and its rule, never its value.
    reasons = log.set_index("output_id").at["tabell1", "reasons"]
    assert "Åldersgrupp: 60–64 år, män: undertryckt: färre än 10 personer" in reasons and "(sekundärt)" in reasons
    assert log.set_index("output_id").at["modell:tv_cox", "n_suppressed"] == 2  # one estimate, one complement


def test_curve_steps_shown_rest_on_enough_events_and_persons(built):
    _, _, _, log = built
    row = log.set_index("output_id").loc["kurva:target_trial_cif"]
    assert row["status"] == "suppressed" and "färre än 10 händelser sedan föregående visade steg" in row["reasons"]


def test_the_pdf_opens_with_figures_tables_and_swedish_headings(built):
    paths, _, _, _ = built
    reader = pypdf.PdfReader(str(paths.pdf))
    assert len(reader.pages) > 3
    images = {im.name for page in reader.pages for im in page.images}
    assert len(images) >= 2
    wanted = ["Återgång i arbete efter koordinering", "Begränsningar", "Frågorna och var de besvaras", "Studiepopulationen",
              "Sjukfall i studiepopulationen", "Övriga diagnoser", "Röjandekontroll"]
    text = ""
    for page in reader.pages:  # stop once everything is found: text extraction is slow
        text += page.extract_text() + "\n"
        if all(w in text for w in wanted):
            break
    missing = [w for w in wanted if w not in text]
    assert not missing, f"not in the PDF's text: {missing}"


def test_sections_without_their_inputs_say_which_command_to_run(tmp_path):
    warehouse = tmp_path / "raw_only.duckdb"
    make_warehouse(warehouse, with_results=False, with_tables=False)
    paths = build_report(warehouse, tmp_path / "out", pdf=False, progress=lambda _: None)
    text = paths.html.read_text(encoding="utf-8")
    assert "Resultat saknas:" in text and "<code>koord analyse</code>" in text and "<code>koord build</code>" in text
    html = parse(paths.html)
    assert not html.images and not any(t["id"] in ("tabell-1", "tabell-huvudresultat") for t in html.tables)
    assert [h for tag, h in html.headings if tag == "h2" and h in SWEDISH_HEADINGS] == SWEDISH_HEADINGS


def test_rounding_from_the_rules_rounds_every_count_shown(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse)
    paths = build_report(warehouse, tmp_path / "out", rules=DisclosureRules(rounding_base=5), pdf=False, progress=lambda _: None)
    counts = [_count(text) for kind, text in parse(paths.html).kinds if kind == "count"]
    assert all(n is None or n % 5 == 0 for n in counts)
    assert "närmaste multipel av 5" in paths.html.read_text(encoding="utf-8")


def test_the_builder_refuses_unchecked_outputs(tmp_path, monkeypatch):
    from datetime import datetime

    import jinja2

    from reports.inputs import ReportMeta, StudyFile

    unchecked = FrequencyOutput(declaration("tabell1"), {"age": with_margins(pd.DataFrame({"woman": [12, 30]}, index=["a", "b"]))})
    meta = ReportMeta("w", None, pd.DataFrame(), None, StudyFile(None), False, False)
    with pytest.raises(DisclosureError, match="without disclosure control"):
        RenderContext({"tabell1": unchecked}, meta, DisclosureRules(), RunInfo(datetime.now(), "test"), jinja2.Environment())
    with pytest.raises(DisclosureError, match="only outputs checked"):
        count_table_view(unchecked, table_id="t", caption="c", blocks=[("age", "", str)], columns=[("woman", "Kvinnor")])

    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse, with_results=False)
    # A section that renders a string of its own instead of going through checked outputs and its template.
    rogue = Section("zz_rogue", "Obehörig", 99, lambda inputs: (), lambda ctx: "<p>12 345 personer</p>")
    monkeypatch.setitem(section_registry._REGISTRY, "zz_rogue", rogue)
    with pytest.raises(DisclosureError, match="zz_rogue"):
        build_report(warehouse, tmp_path / "out", pdf=False, progress=lambda _: None)
    # A section that hands in a model table as a frequency table.
    wrong = Section("zz_rogue", "Obehörig", 99, lambda inputs: (ModelOutput(declaration("tabell1"), tv_cox_summary(), output_id="zz_wrong"),),
                    lambda ctx: ctx.render("sections/uppdraget.html.j2"))
    monkeypatch.setitem(section_registry._REGISTRY, "zz_rogue", wrong)
    with pytest.raises(DisclosureError, match="declared as frequency"):
        build_report(warehouse, tmp_path / "out", pdf=False, progress=lambda _: None)


def test_the_command_line(tmp_path, capsys):
    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse, with_results=False)
    assert koord(["report", "--warehouse", str(warehouse), "--out", str(tmp_path / "out"), "--no-pdf"]) == 0
    assert "rapport.html" in capsys.readouterr().out
    assert koord(["report", "--warehouse", str(tmp_path / "nope.duckdb"), "--out", str(tmp_path / "out")]) == 2
    assert "not found" in capsys.readouterr().err


def test_thresholds_come_from_the_study_files_disclosure_table(tmp_path, capsys):
    import hashlib
    import json

    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse)
    study = tmp_path / "studie.toml"
    study.write_text('[study]\nname = "strikt"\n\n[disclosure]\nmin_cell_count = 50\nrounding_base = 10\n', encoding="utf-8")
    paths = build_report(warehouse, tmp_path / "out", study=study, pdf=False, progress=lambda _: None)
    log = pd.read_csv(paths.directory / "utdatakontroll_utdata.csv", sep=";")
    assert json.loads(log.set_index("output_id").at["tabell1", "thresholds"])["min_cell_count"] == 50
    counts = [_count(text) for kind, text in parse(paths.html).kinds if kind == "count"]
    assert all(n is None or n == 0 or (n >= 50 and n % 10 == 0) for n in counts)
    text = paths.html.read_text(encoding="utf-8")
    assert "Celler med 1–49 personer undertrycks" in text and "avrundning till närmaste 10" in text
    assert "<code>min_cell_count = 50</code>" in text and hashlib.sha256(study.read_bytes()).hexdigest() in text

    study.write_text("[disclosure]\nmin_cells = 5\n", encoding="utf-8")
    assert koord(["report", "--warehouse", str(warehouse), "--out", str(tmp_path / "o"), "--study", str(study), "--no-pdf"]) == 2
    assert "unknown key(s) min_cells" in capsys.readouterr().err
