"""Build the report: collect every section's outputs, check them, audit them, render HTML and PDF, log.

``build_report(warehouse, out_dir)`` writes into ``out_dir/report/``:

- ``rapport.html`` — the report (Swedish, self-contained: CSS and figures embedded), checked
  against WCAG 2.1 AA (`reports.accessibility`: a violation stops the build);
- ``rapport.pdf`` — the same HTML printed by WeasyPrint as tagged PDF/UA-1 (language, title,
  a bookmark per chapter, page numbers in the table of contents and the footer);
- ``rapport_tabeller.xlsx`` — the table appendix: every table the report shows, as one
  workbook (`reports.workbook`);
- ``utdatakontroll.*`` — the output-check log: every published number with the rule applied,
  the audit of every withheld count, and every file of the folder with its SHA-256.

The order is fixed: all outputs are collected, all are checked together (links between
sections hold), the published numbers are attacked (`reports.disclosure.audit_report`: a
withheld count pinned narrower than the threshold stops the build), and only then is
anything rendered, from checked outputs. Everything is written to a new folder beside
``report/`` that replaces it only when complete, so a failed build leaves the last good report.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from koord.errors import DisclosureError, KoordError
from koord.progress import say
from reports.accessibility import parse_html, require_accessible
from reports.checklog import write_check_log
from reports.disclosure import DisclosureRules, RunInfo, audit_report, check_outputs
from reports.formatting import format_date
from reports.inputs import (code_version, current_user, default_study_path, open_inputs, read_study_file, run_time,
                            software_versions)
from reports.numbering import Numbering, number_document
from reports.sections import RenderContext, registered_sections
from reports.structure import TABLE_APPENDIX, PlacedChapter, arrange
from reports.views import collecting_table_views
from reports.workbook import WORKBOOK_NAME, shown_tables, write_workbook

TEMPLATES = Path(__file__).parent / "templates"
TITLE = "Koordineringsinsatser och återgång i arbete"
REPORT_DIR = "report"
# Tagged PDF for assistive technology: the PDF/UA-1 variant makes WeasyPrint write the structure
# tree, the document language and the title shown in the window (ISO 14289-1).
PDF_VARIANT = "pdf/ua-1"


@dataclass(frozen=True)
class ReportPaths:
    """Where the report and its output-check log were written."""

    html: Path
    pdf: Path | None
    check_log_csv: Path
    check_log_html: Path
    workbook: Path | None = None

    @property
    def directory(self) -> Path:
        return self.html.parent


def template_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.filters["lista"] = swedish_list
    return env


def swedish_list(items) -> str:
    """["a", "b", "c"] -> "a, b och c" (the Swedish list, no comma before och)."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " och " + items[-1]


def build_report(
    warehouse_path: str | Path,
    out_dir: str | Path,
    study: str | Path | None = None,
    *,
    rules: DisclosureRules | None = None,
    pdf: bool = True,
    progress: Callable[[str], None] = say,
) -> ReportPaths:
    """Build the report from a warehouse.

    Parameters
    ----------
    warehouse_path : path
        The DuckDB warehouse (opened read-only).
    out_dir : path
        The report goes to ``out_dir/report/``.
    study : path, optional
        Study file whose ``[disclosure]`` table sets the thresholds and whose text is quoted
        in the provenance; default: the file the build used (``main._build.study_source``),
        else the repository's ``study.toml``.
    rules : DisclosureRules, optional
        Overrides the study file's thresholds (tests).
    pdf : bool
        Also print the PDF.

    Returns
    -------
    ReportPaths
    """
    out = Path(out_dir) / REPORT_DIR
    env = template_environment()
    run = RunInfo(run_at=run_time(), code_version=code_version(), run_by=f"koord report ({current_user()})",
                  environment=software_versions())
    sections = registered_sections()

    with open_inputs(warehouse_path) as inputs:
        study_path = Path(study) if study is not None else default_study_path(inputs.build_record())
        study_file = read_study_file(study_path)
        rules = rules or DisclosureRules.from_mapping(study_file.disclosure)
        progress(f"koord report: {len(sections)} sections from {warehouse_path}")
        candidates = []
        for section in sections:
            candidates.extend(section.collect(inputs))
        meta = inputs.meta(study_file)
    checked = check_outputs(candidates, rules, run)
    n_blocked = sum(c.is_blocked for c in checked.values())
    n_suppressed = sum(c.status.value == "suppressed" for c in checked.values())
    progress(f"  disclosure control: {len(checked)} outputs, {n_suppressed} with suppressed cells, {n_blocked} blocked")
    audit = audit_report(candidates, checked, rules)
    pinned = audit[~audit["protected"]]
    progress(f"  audit: {len(audit)} withheld counts, the narrowest interval a reader can pin one to is "
             f"{_width_text(audit)} (threshold {rules.min_cell_count})")
    if not pinned.empty:
        listed = "; ".join(f"{r.output_id}: {r.location} in [{r.lower:g}, {r.upper:g}]" for r in pinned.head(5).itertuples())
        raise DisclosureError(
            f"the published numbers pin {len(pinned)} withheld count(s) narrower than {rules.min_cell_count}: {listed}. "
            "No report was written. Switch secondary_suppression on in the study's [disclosure] table, or report this as a bug."
        )

    places = {key: (p.number.lower() if p.chapter.appendix else f"kapitel {p.number}")
              for p in arrange([*(s.key for s in sections), TABLE_APPENDIX], {s.key: s.title_sv for s in sections})
              for key in p.sections}
    ctx = RenderContext(checked=checked, meta=meta, rules=rules, run=run, env=env, places=places)
    rendered, deferred_by = {}, {}
    with collecting_table_views() as table_views:
        for section in sorted(sections, key=lambda s: s.summarises):  # stable: the chapters first, in order
            before = len(ctx.deferred)
            html = render_section(section, ctx)
            if not isinstance(html, Markup):
                raise DisclosureError(f"section {section.key!r} must render through its template (got {type(html).__name__})")
            rendered[section.key] = {"key": section.key, "title": section.title_sv, "html": html}
            deferred_by[section.key] = ctx.deferred[before:]
    rendered = {s.key: rendered[s.key] for s in sections}
    chapters = assemble_chapters(rendered, deferred_by, env)
    run_at = format_date(run.run_at)
    body = env.get_template("rapport.html.j2").render(
        title=TITLE, chapters=chapters, run=run, run_at=run_at, created=run.run_at.isoformat(timespec="seconds"),
        css=(TEMPLATES / "rapport.css").read_text(encoding="utf-8"), warehouse_name=Path(warehouse_path).name,
    )
    document, numbering = number_document(body)
    _say_loose_references(numbering, progress)
    require_accessible(document)
    progress("  accessibility: the HTML passes the WCAG 2.1 AA checks (contrast, headings, alt texts, table headers, "
             "language, links)")
    tree = parse_html(document)
    tables = shown_tables(tree, table_views, checked)

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{REPORT_DIR}-", dir=out_dir))
    staging.chmod(0o755)  # mkdtemp makes it private; the checker and the transfer must read it
    try:
        (staging / "rapport.html").write_text(document, encoding="utf-8")
        write_workbook(tables, staging / WORKBOOK_NAME, title=TITLE, made=run_at)
        if pdf:
            write_pdf(document, staging / "rapport.pdf", base_url=staging, link_texts=in_document_link_texts(tree))
        files = [(p.name, _sha256(p), FILE_DESCRIPTIONS.get(p.name, "")) for p in sorted(staging.iterdir())]
        write_check_log(checked, staging, rules=rules, run=run, env=env, warehouse=str(warehouse_path),
                        audit=audit, files=files, cited=ctx.cited)
        _replace_directory(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    html_path, log_html = out / "rapport.html", out / "utdatakontroll.html"
    pdf_path = out / "rapport.pdf" if pdf else None
    progress(f"  report: {html_path}" + (f" and {pdf_path.name}" if pdf_path else "") + f"; output check: {log_html}")
    progress(f"  table appendix: {out / WORKBOOK_NAME} ({len(tables)} tables, one sheet each)")
    return ReportPaths(html=html_path, pdf=pdf_path, check_log_csv=out / "utdatakontroll.csv", check_log_html=log_html,
                       workbook=out / WORKBOOK_NAME)


def render_section(section, ctx: RenderContext) -> Markup:
    """One section's HTML; a bug in a section stops the build with a sentence naming it, not a traceback."""
    try:
        return section.render(ctx)
    except KoordError:
        raise  # disclosure and contract errors say what is wrong themselves
    except Exception as exc:  # noqa: BLE001 - any failure of a section's own code
        raise KoordError(
            f"the report section {section.key!r} ({section.title_sv}) could not be written: "
            f"{type(exc).__name__}: {exc}. No report was written; the last good report is kept. "
            "This is a bug in reports/sections/: please report it with this message."
        ) from exc


def assemble_chapters(rendered: dict[str, dict], deferred_by: dict[str, list], env: jinja2.Environment) -> list[dict]:
    """The rendered sections arranged in the report's chapters (`reports.structure`), with the table appendix.

    A chapter of several sections gives each a sub-heading, so the sections' own headings move one
    level down. Tables a section deferred go to the table appendix under its chapter's heading, and
    the chapter ends with a sentence that refers to them.
    """
    titles = {k: r["title"] for k, r in rendered.items()}
    has_deferred = any(deferred_by.values())
    placed = arrange([*rendered, *([TABLE_APPENDIX] if has_deferred else [])], titles)
    macros = env.get_template("_macros.html.j2").module
    chapters = []
    for chapter in placed:
        if chapter.sections == (TABLE_APPENDIX,):
            continue  # filled below, once every chapter's deferred tables are known
        items = []
        for key in chapter.sections:
            r = rendered[key]
            several = len(chapter.sections) > 1
            items.append({"key": key, "title": r["title"] if several else "",
                          "html": _shift_headings(r["html"]) if several else r["html"]})
        deferred = [v for key in chapter.sections for v in deferred_by.get(key, [])]
        chapters.append({"chapter": chapter, "items": items, "deferred": deferred,
                         "more": _appendix_sentence(deferred, macros, placed)})
    if has_deferred:
        appendix = next(p for p in placed if p.sections == (TABLE_APPENDIX,))
        parts = [Markup("<p>Bilagan innehåller de detaljerade tabellerna till rapportens kapitel, i kapitlens ordning. "
                        "Samma tabeller finns i tabellbilagan i Excelformat bredvid rapporten.</p>")]
        for c in chapters:
            if c["deferred"]:
                parts.append(Markup(f'<h3>Till kapitel {c["chapter"].number}: {c["chapter"].chapter.title_sv}</h3>'))
                parts.extend(Markup(macros.table(v)) for v in c["deferred"])
        item = {"key": TABLE_APPENDIX, "title": "", "html": Markup("\n").join(parts)}
        order = [p.chapter.key for p in placed]
        chapters.append({"chapter": appendix, "items": [item], "deferred": [], "more": Markup("")})
        chapters.sort(key=lambda c: order.index(c["chapter"].chapter.key))
    return chapters


def _appendix_sentence(deferred: list, macros, placed: list[PlacedChapter]) -> Markup:
    if not deferred:
        return Markup("")
    appendix = next(p for p in placed if p.sections == (TABLE_APPENDIX,))
    refs = [str(macros.ref(v)) for v in deferred]
    listed = refs[0] if len(refs) == 1 else ", ".join(refs[:-1]) + " och " + refs[-1]
    return Markup(f'<p class="more-tables">Fler tabeller till kapitlet finns i {appendix.number.lower()}: {listed}.</p>')


def _shift_headings(html: Markup) -> Markup:
    """h3 -> h4 and h4 -> h5: a section placed under a sub-heading of its chapter."""
    text = str(html)
    for level in (4, 3):
        text = text.replace(f"<h{level}", f"<h{level + 1}").replace(f"</h{level}>", f"</h{level + 1}>")
    return Markup(text)


def _say_loose_references(numbering: Numbering, progress: Callable[[str], None]) -> None:
    loose = numbering.unreferenced()
    if loose:
        progress(f"  note: {len(loose)} table(s)/figure(s) are not referred to in the text: {', '.join(loose[:8])}")
    if numbering.dangling:
        progress(f"  note: the text refers to {len(numbering.dangling)} table(s)/figure(s) not in the report: "
                 f"{', '.join(numbering.dangling[:8])}")


FILE_DESCRIPTIONS = {
    "rapport.html": "rapporten (HTML, figurer inbäddade)",
    "rapport.pdf": "rapporten (PDF, samma innehåll)",
    WORKBOOK_NAME: "tabellbilagan: rapportens tabeller i Excel, ett blad per tabell",
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _width_text(audit) -> str:
    if audit.empty:
        return "– (inget undertryckt)"
    width = float(audit["width"].min())
    return "obegränsat" if width == float("inf") else f"{width:g}"


def _replace_directory(new: Path, target: Path) -> None:
    """Put ``new`` where ``target`` is: the old folder is removed only after the new one is in place."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}-old-{new.name}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def in_document_link_texts(tree) -> dict[str, str]:
    """For each in-document link target (``href="#id"``), the text of its first link, e.g. the chapter's title."""
    texts: dict[str, str] = {}
    for link in tree.iter("a"):
        href = link.get("href", "")
        if href.startswith("#") and len(href) > 1:
            texts.setdefault(href[1:], " ".join("".join(link.itertext()).split()))
    return texts


def _describe_links(link_texts: dict[str, str]) -> Callable:
    """A WeasyPrint finisher: in tagged PDF each link's description (/Contents, read out by screen readers) is
    its target's id (``tid_och_behov``); say the link's text instead."""

    def finish(_document, pdf) -> None:
        for obj in pdf.objects:
            if isinstance(obj, dict) and obj.get("Subtype") == "/Link":
                target = getattr(obj.get("Dest"), "string", None)
                if target in link_texts and link_texts[target]:
                    obj["Contents"] = type(obj["Dest"])(link_texts[target])  # a PDF string, as the target is

    return finish


def write_pdf(document: str, path: Path, *, base_url: Path, link_texts: dict[str, str] | None = None) -> None:
    """Print the HTML to tagged PDF (PDF/UA-1) with WeasyPrint (fonts from the system: DejaVu Sans)."""
    with warnings.catch_warnings():
        # Without HarfBuzz-Subset WeasyPrint subsets fonts itself; it says so on import.
        warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
        import weasyprint  # slow to import; only when printing

        try:
            weasyprint.HTML(string=document, base_url=str(base_url)).write_pdf(
                str(path), pdf_variant=PDF_VARIANT, finisher=_describe_links(link_texts or {}))
        except Exception as exc:  # WeasyPrint raises many kinds; say which step failed
            raise KoordError(f"printing {path} with WeasyPrint failed: {exc}") from exc
