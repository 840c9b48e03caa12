"""The output-check log (utdatakontroll): one row per output with its class, rules, status and reasons.

Written beside the report as ``utdatakontroll.csv`` (UTF-8, ``;``-separated, one row per
output) and ``utdatakontroll.html`` for the human output checker (as in SCB's MONA). The log
names cells, rows and steps and the rule that withheld them, never the withheld values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import jinja2
import pandas as pd

from reports.disclosure import CheckedOutput, DisclosureClass, DisclosureRules, RunInfo, Status, rule_set_text

LOG_COLUMNS = (
    "output_id",
    "title",
    "disclosure_class",
    "rule_set",
    "thresholds",
    "status",
    "n_cells",
    "n_suppressed",
    "reasons",
    "flags",
    "sources",
    "run_at",
    "code_version",
    "software",
    "run_by",
)


def software_text(run: RunInfo) -> str:
    """``Python 3.11.7, duckdb 2.0.1, …``: the versions that made the numbers."""
    return ", ".join(f"{name} {version}" for name, version in run.environment)


def check_log_frame(checked: Mapping[str, CheckedOutput]) -> pd.DataFrame:
    """The log as a frame: one row per output, columns `LOG_COLUMNS`."""
    rows = []
    for oid, c in checked.items():
        rows.append({
            "output_id": oid,
            "title": c.declaration.title_sv,
            "disclosure_class": c.disclosure_class.value,
            "rule_set": rule_set_text(c.disclosure_class, c.thresholds),
            "thresholds": json.dumps(dict(c.thresholds), ensure_ascii=False, sort_keys=True),
            "status": c.status.value,
            "n_cells": c.n_cells,
            "n_suppressed": c.n_suppressed,
            "reasons": " | ".join(r.text() for r in c.reasons),
            "flags": " | ".join(r.text() for r in c.flags),
            "sources": " ".join(c.source_ids),
            "run_at": c.run.run_at.isoformat(),
            "code_version": c.run.code_version,
            "software": software_text(c.run),
            "run_by": c.run.run_by,
        })
    return pd.DataFrame(rows, columns=list(LOG_COLUMNS))


def write_check_log(
    checked: Mapping[str, CheckedOutput],
    directory: Path,
    *,
    rules: DisclosureRules,
    run: RunInfo,
    env: jinja2.Environment,
    warehouse: str,
) -> tuple[Path, Path]:
    """Write ``utdatakontroll.csv`` and ``utdatakontroll.html`` into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = check_log_frame(checked)
    csv_path = directory / "utdatakontroll.csv"
    frame.to_csv(csv_path, sep=";", index=False, encoding="utf-8")
    counts = {s: int((frame["status"] == s.value).sum()) for s in Status}
    html = env.get_template("utdatakontroll.html.j2").render(
        outputs=list(checked.values()), counts=counts, rules=rules, run=run, warehouse=warehouse,
        classes=list(DisclosureClass), rule_set_text=rule_set_text,
        css=env.loader.get_source(env, "rapport.css")[0],  # type: ignore[union-attr]
    )
    html_path = directory / "utdatakontroll.html"
    html_path.write_text(html, encoding="utf-8")
    return csv_path, html_path
