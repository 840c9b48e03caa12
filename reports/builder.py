"""Build the report: collect every section's outputs, check them, log the check, render HTML and PDF.

``build_report(warehouse, out_dir)`` writes into ``out_dir/report/``:

- ``rapport.html`` — the report (Swedish, self-contained: CSS and figures embedded);
- ``rapport.pdf`` — the same HTML printed by WeasyPrint;
- ``utdatakontroll.csv`` and ``utdatakontroll.html`` — the output-check log.

The order is fixed: all outputs are collected, all are checked together (links between
sections hold), the log is written, and only then is anything rendered, from checked outputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from pipeline.errors import DisclosureError, KoordError
from pipeline.progress import say
from reports.checklog import write_check_log
from reports.disclosure import DisclosureRules, RunInfo, check_outputs
from reports.formatting import format_date
from reports.inputs import (code_version, current_user, default_study_path, open_inputs, read_study_file, run_time,
                            software_versions)
from reports.sections import RenderContext, registered_sections

TEMPLATES = Path(__file__).parent / "templates"
TITLE = "Koordineringsinsatser och återgång i arbete"
REPORT_DIR = "report"


@dataclass(frozen=True)
class ReportPaths:
    """Where the report and its output-check log were written."""

    html: Path
    pdf: Path | None
    check_log_csv: Path
    check_log_html: Path

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
    return env


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

    csv_path, log_html = write_check_log(checked, out, rules=rules, run=run, env=env, warehouse=str(warehouse_path))
    ctx = RenderContext(checked=checked, meta=meta, rules=rules, run=run, env=env)
    rendered = []
    for section in sections:
        html = section.render(ctx)
        if not isinstance(html, Markup):
            raise DisclosureError(f"section {section.key!r} must render through its template (got {type(html).__name__})")
        rendered.append({"key": section.key, "title": section.title_sv, "html": html})

    document = env.get_template("rapport.html.j2").render(
        title=TITLE, sections=rendered, run=run, run_at=format_date(run.run_at),
        css=(TEMPLATES / "rapport.css").read_text(encoding="utf-8"), warehouse_name=Path(warehouse_path).name,
    )
    html_path = out / "rapport.html"
    html_path.write_text(document, encoding="utf-8")
    pdf_path = None
    if pdf:
        pdf_path = out / "rapport.pdf"
        write_pdf(document, pdf_path, base_url=out)
    progress(f"  report: {html_path}" + (f" and {pdf_path.name}" if pdf_path else "") + f"; output check: {log_html}")
    return ReportPaths(html=html_path, pdf=pdf_path, check_log_csv=csv_path, check_log_html=log_html)


def write_pdf(document: str, path: Path, *, base_url: Path) -> None:
    """Print the HTML to PDF with WeasyPrint (fonts from the system: DejaVu Sans)."""
    with warnings.catch_warnings():
        # Without HarfBuzz-Subset WeasyPrint subsets fonts itself; it says so on import.
        warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
        import weasyprint  # slow to import; only when printing

        try:
            weasyprint.HTML(string=document, base_url=str(base_url)).write_pdf(str(path))
        except Exception as exc:  # WeasyPrint raises many kinds; say which step failed
            raise KoordError(f"printing {path} with WeasyPrint failed: {exc}") from exc
