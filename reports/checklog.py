"""The output-check log (utdatakontroll): every published or withheld number, the rule applied and the reason.

Written beside the report for the human output checker (as in SCB's MONA), all CSV files UTF-8
and ``;``-separated:

``utdatakontroll.csv``
    One row per published or withheld number (`NUMBER_COLUMNS`): every cell of every
    published table, every numeric value of every row of a model's estimate table, every
    number of every published curve step (and every withheld step), every number in running
    text, one row per figure, one row per blocked output. The value is the number as
    published; a withheld number has an empty value and its reason in Swedish words
    (``undertryckt: färre än 10 personer``).
``utdatakontroll_utdata.csv``
    One row per output (`OUTPUT_COLUMNS`): class, rules, status, counts and reasons in Swedish.
``utdatakontroll_granskning.csv``
    When the audit is given: the interval the published numbers pin every withheld count to.
``utdatakontroll.html``
    The run, the rules in Swedish, the summary per output, the numbers per output, the audit
    and the files of the report folder with their SHA-256.

The log is built from the checked outputs' *published* tables only: a withheld value never
reaches it, so the log can travel with the report.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from koord.errors import StudyDefinitionError
from reports.disclosure import (
    MODEL_KEYS,
    MODEL_LABELS,
    CheckedOutput,
    DisclosureClass,
    DisclosureRules,
    Reason,
    RunInfo,
    Status,
)
from reports.logtext import (
    COLUMN_SV,
    CURVE_COLUMN_SV,
    curve_location_sv,
    detail_sv,
    flag_sv,
    location_sv,
    model_location_sv,
    published_rule_sv,
    reason_sv,
    rule_sv,
    rules_text_sv,
)

RUN_COLUMNS = ("run_at", "code_version", "software", "run_by")
NUMBER_COLUMNS = (
    "output_id",
    "title",
    "disclosure_class",
    "table",
    "location",
    "location_sv",
    "measure_sv",
    "value_published",
    "status",
    "rule_sv",
    "reason_sv",
    "note_sv",
    *RUN_COLUMNS,
)
OUTPUT_COLUMNS = (
    "output_id",
    "title",
    "disclosure_class",
    "disclosure_class_sv",
    "rule_set",
    "thresholds",
    "status",
    "status_sv",
    "n_cells",
    "n_suppressed",
    "reasons",
    "flags",
    "sources",
    *RUN_COLUMNS,
)
AUDIT_LOG_COLUMNS = ("output_id", "title", "location", "location_sv", "lower", "upper", "width", "threshold",
                     "protected", "result_sv")
LOG_COLUMNS = NUMBER_COLUMNS  # the columns of utdatakontroll.csv

PUBLISHED, ROUNDED, SUPPRESSED, BLOCKED = "publicerad", "avrundad", "undertryckt", "stoppad"
NUMBER_STATUSES = (PUBLISHED, ROUNDED, SUPPRESSED, BLOCKED)

NUMBERS_FILE = "utdatakontroll.csv"
OUTPUTS_FILE = "utdatakontroll_utdata.csv"
AUDIT_FILE = "utdatakontroll_granskning.csv"
HTML_FILE = "utdatakontroll.html"

_MODEL_NUMERIC = ("estimate", "std_error", "conf_low", "conf_high", "p_value", "n_persons", "n_events")
_MODEL_COUNTS = ("n_persons", "n_events")
_MODEL_TEXT = ("method", "estimand", "term", "diagnostics")
_CURVE_COUNTS = ("n_at_risk", "n_events")


def software_text(run: RunInfo) -> str:
    """``Python 3.11.7, duckdb 2.0.1, …``: the versions that made the numbers."""
    return ", ".join(f"{name} {version}" for name, version in run.environment)


def _run_fields(run: RunInfo) -> dict[str, str]:
    return {"run_at": run.run_at.isoformat(), "code_version": run.code_version, "software": software_text(run),
            "run_by": run.run_by}


def rules_of(checked: CheckedOutput, rules: DisclosureRules | None = None) -> DisclosureRules:
    """The rules that applied to one output: ``rules`` (default: the defaults) with the output's own thresholds."""
    base = rules or DisclosureRules()
    values = {f.name: getattr(base, f.name) for f in fields(DisclosureRules)}
    for key, value in dict(checked.thresholds).items():
        if key in values:
            values[key] = tuple((int(n), float(k)) for n, k in value) if key == "dominance" else value
    try:
        return DisclosureRules(**values)
    except (StudyDefinitionError, TypeError, ValueError):
        return base


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, (float, np.floating)) and math.isnan(float(x)))


def value_text(x: object) -> str:
    """A published number as text: whole numbers without decimals, others to 10 significant digits."""
    if _missing(x):
        return ""
    if not _is_number(x):
        return str(x)
    v = float(x)  # type: ignore[arg-type]
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return format(v, ".10g")


def _norm(location: str) -> str:
    """Location codes compared without the difference between a missing label written as 'nan' or 'None'."""
    return " / ".join("None" if p in ("nan", "NaN", "<NA>") else p for p in str(location).split(" / "))


def _unique(texts: Iterable[str]) -> str:
    return "; ".join(dict.fromkeys(t for t in texts if t))


class _Rows:
    """Builds the per-number rows of one output."""

    def __init__(self, c: CheckedOutput, rules: DisclosureRules) -> None:
        self.c, self.rules = c, rules
        self.by_location: dict[str, list[Reason]] = {}
        for r in c.reasons:
            self.by_location.setdefault(_norm(r.location), []).append(r)
        self.used: set[str] = set()
        self.common = {"output_id": c.output_id, "title": c.declaration.title_sv,
                       "disclosure_class": c.disclosure_class.label_sv, **_run_fields(c.run)}
        self.rounding = bool(rules.rounding_base and rules.rounding_base > 1)

    def reasons_at(self, location: str) -> list[Reason]:
        found = self.by_location.get(_norm(location), [])
        if found:
            self.used.add(_norm(location))
        return found

    def unmatched(self) -> list[Reason]:
        return [r for loc, rs in self.by_location.items() if loc not in self.used for r in rs]

    def published(self, table: str, location: str, where: str, measure: str, value: object, *, count: bool) -> dict:
        status = ROUNDED if count and self.rounding else PUBLISHED
        return {**self.common, "table": table, "location": location, "location_sv": where, "measure_sv": measure,
                "value_published": value_text(value), "status": status,
                "rule_sv": published_rule_sv(self.c.disclosure_class, self.rules, count=count),
                "reason_sv": "", "note_sv": ""}

    def withheld(self, table: str, location: str, where: str, measure: str, reasons: Sequence[Reason],
                 status: str = SUPPRESSED) -> dict:
        return {**self.common, "table": table, "location": location, "location_sv": where, "measure_sv": measure,
                "value_published": "", "status": status,
                "rule_sv": _unique(rule_sv(r.rule, self.rules) for r in reasons),
                "reason_sv": _unique(reason_sv(r, self.rules) for r in reasons) or "undertryckt",
                "note_sv": _unique(detail_sv(r) for r in reasons)}


def _frequency_rows(b: _Rows) -> Iterator[dict]:
    for tkey in b.c.table_keys:
        t = b.c.table(tkey)
        for r in t.index:
            for col in t.columns:
                loc = f"{tkey} / {r} / {col}"
                v = t.at[r, col]
                if _missing(v):
                    yield b.withheld(tkey, loc, location_sv(loc), "antal", b.reasons_at(loc) or list(b.c.reasons))
                else:
                    yield b.published(tkey, loc, location_sv(loc), "antal", v, count=True)


def _magnitude_rows(b: _Rows) -> Iterator[dict]:
    for tkey in b.c.table_keys:
        t = b.c.table(tkey)
        for _, row in t.iterrows():
            loc = f"{tkey} / {row['row']} / {row['col']}"
            where = location_sv(loc)
            if _missing(row["n_contributors"]):
                reasons = b.reasons_at(loc) or list(b.c.reasons)
                yield b.withheld(tkey, loc, where, COLUMN_SV["value"], reasons)
                yield b.withheld(tkey, loc, where, COLUMN_SV["n_contributors"], reasons)
                continue
            if not _missing(row["value"]):
                yield b.published(tkey, loc, where, COLUMN_SV["value"], row["value"], count=False)
            yield b.published(tkey, loc, where, COLUMN_SV["n_contributors"], row["n_contributors"], count=True)


def _model_rows(b: _Rows) -> Iterator[dict]:
    for tkey in b.c.table_keys:
        t = b.c.table(tkey)
        labels = [c for c in (*MODEL_KEYS, *MODEL_LABELS) if c in t.columns]
        # the same row code as `disclosure.models` (its extra label columns split rows, e.g. start year, measure)
        fit_keys = [*MODEL_KEYS, *(["sex"] if "sex" in t.columns else []),
                    *(c for c in b.c.meta.get("label_columns", ()) if c in t.columns)]
        numeric = [c for c in t.columns if c not in labels and c not in _MODEL_TEXT
                   and (c in _MODEL_NUMERIC or any(_is_number(v) and not _missing(v) for v in t[c]))]
        rows = []
        for i, row in t.iterrows():
            code = " / ".join(str(row.get(c)) for c in (*fit_keys, "term"))
            where = model_location_sv(**{c: row.get(c) for c in (*labels, *fit_keys, "term", "estimand")
                                         if c in t.columns})
            rows.append((i, row, code, where, b.reasons_at(code)))
        fallback = b.unmatched() if b.c.status is not Status.PASSED else []
        for i, row, code, where, reasons in rows:
            row_hidden = _missing(row.get("estimate"))
            for col in numeric:
                v = row[col]
                measure = COLUMN_SV.get(col, col)
                if not _missing(v):
                    yield b.published(tkey, code, where, measure, v, count=col in _MODEL_COUNTS)
                    continue
                if not row_hidden and col not in _MODEL_COUNTS:
                    continue  # a value the model did not give (e.g. no p-value): nothing withheld
                # A shown row's counts are withheld only with a reason of their own; a withheld row
                # whose labels match no reason takes the output's unmatched reasons.
                why = reasons or (fallback if row_hidden else [])
                if why:
                    yield b.withheld(tkey, code, where, measure, why)


def _step_key(location: str) -> tuple[str, float]:
    """(group label, time) of a curve location code, for listing steps in order."""
    label, sep, step = location.rpartition(", ")
    if not sep:
        return location, -math.inf
    if step == "start":
        return label, -math.inf
    try:
        return label, float(step.removeprefix("t="))
    except ValueError:
        return location, -math.inf


def _curve_rows(b: _Rows) -> Iterator[dict]:
    """Every number of every published step, and every withheld step or group, in time order per group."""
    groups = tuple(b.c.meta.get("group_columns", ()))
    time = b.c.meta.get("time_column", "time")
    listed: list[tuple[tuple[str, float], dict]] = []
    for tkey in b.c.table_keys:
        t = b.c.table(tkey)
        numeric = [c for c in t.columns if c not in groups and c != time
                   and any(_is_number(v) and not _missing(v) for v in t[c])]
        for _, row in t.iterrows():
            label = ", ".join(f"{g}={row[g]}" for g in groups) or "kurvan"
            code = f"{label}, t={row[time]}"
            where = curve_location_sv({g: row[g] for g in groups}, row[time])
            key = _step_key(code)
            for col in numeric:
                if not _missing(row[col]):
                    listed.append((key, b.published(tkey, code, where, CURVE_COLUMN_SV.get(col, col), row[col],
                                                    count=col in _CURVE_COUNTS)))
    for r in b.c.reasons:  # withheld steps and groups: gone from the table, listed with their reason
        if r.rule != "nothing_left":
            listed.append((_step_key(r.location),
                           b.withheld("curve", r.location, location_sv(r.location), "kurvsteg", [r])))
    order: dict[str, int] = {}
    for (label, _), _row in listed:
        order.setdefault(label, len(order))
    listed.sort(key=lambda item: (order[item[0][0]], item[0][1]))  # stable: a step's numbers stay together
    for _, row in listed:
        yield row


def _text_rows(b: _Rows) -> Iterator[dict]:
    c = b.c
    is_count = not c.source_ids
    if _missing(c.value):
        yield b.withheld("", "talet", "talet", "tal i text", list(c.reasons))
    else:
        row = b.published("", "talet", "talet", "tal i text", c.value, count=is_count)
        if c.source_ids:
            row["note_sv"] = "härlett ur " + ", ".join(c.source_ids)
        yield row


def _figure_rows(b: _Rows) -> Iterator[dict]:
    c = b.c
    sources = ", ".join(c.source_ids)
    yield {**b.common, "table": "", "location": "", "location_sv": f"figur ritad ur {sources}", "measure_sv": "figur",
           "value_published": "", "status": PUBLISHED,
           "rule_sv": published_rule_sv(c.disclosure_class, b.rules), "reason_sv": "", "note_sv": f"källor: {sources}"}


def _blocked_rows(b: _Rows) -> Iterator[dict]:
    c = b.c
    where = "hela utdatan"
    if c.disclosure_class is DisclosureClass.FIGURE and c.source_ids:
        where = "figur ritad ur " + ", ".join(c.source_ids)
    stopping = ("row_level", "source_blocked", "nothing_left")  # what stopped it first, then what was withheld
    reasons = sorted(c.reasons, key=lambda r: r.rule not in stopping)
    yield b.withheld("", "hela utdatan", where, c.disclosure_class.label_sv, reasons, status=BLOCKED)


_BUILDERS = {
    DisclosureClass.FREQUENCY: _frequency_rows,
    DisclosureClass.MAGNITUDE: _magnitude_rows,
    DisclosureClass.MODEL: _model_rows,
    DisclosureClass.SURVIVAL_CURVE: _curve_rows,
    DisclosureClass.TEXT_NUMBER: _text_rows,
    DisclosureClass.FIGURE: _figure_rows,
}


def number_rows(checked: CheckedOutput, rules: DisclosureRules | None = None) -> list[dict]:
    """The log's rows for one output: one per published or withheld number (`NUMBER_COLUMNS`)."""
    b = _Rows(checked, rules_of(checked, rules))
    if checked.is_blocked or checked.disclosure_class not in _BUILDERS:
        return list(_blocked_rows(b))
    return list(_BUILDERS[checked.disclosure_class](b))


def _cited_rows(output_id: str, cited: Sequence[tuple[str, str, str]], checked: Mapping[str, CheckedOutput],
                run: RunInfo | None) -> list[dict]:
    source = checked.get(output_id)
    out = []
    for _, where, text in cited:
        run_fields = _run_fields(source.run if source is not None else run) if (source or run) else {}
        out.append({
            "output_id": output_id, "title": source.declaration.title_sv if source else "",
            "disclosure_class": source.disclosure_class.label_sv if source else "", "table": "", "location": "",
            "location_sv": where, "measure_sv": "tal i löptext eller rubrik", "value_published": text,
            "status": PUBLISHED, "rule_sv": f"läst ur den kontrollerade utdatan {output_id}", "reason_sv": "",
            "note_sv": "", **run_fields,
        })
    return out


def number_log_frame(
    checked: Mapping[str, CheckedOutput],
    rules: DisclosureRules | None = None,
    *,
    cited: Sequence[tuple[str, str, str]] = (),
    run: RunInfo | None = None,
) -> pd.DataFrame:
    """``utdatakontroll.csv`` as a frame: one row per published or withheld number, columns `NUMBER_COLUMNS`.

    ``cited``: numbers quoted in running text and captions, (source output id, where, text
    shown); listed after the numbers of the output they were read from.
    """
    by_source: dict[str, list[tuple[str, str, str]]] = {}
    for item in cited:
        by_source.setdefault(item[0], []).append(item)
    rows: list[dict] = []
    for oid, c in checked.items():
        rows += number_rows(c, rules)
        rows += _cited_rows(oid, by_source.pop(oid, []), checked, run)
    for oid, items in by_source.items():
        rows += _cited_rows(oid, items, checked, run)
    return pd.DataFrame(rows, columns=list(NUMBER_COLUMNS)).fillna("")


def check_log_frame(checked: Mapping[str, CheckedOutput], rules: DisclosureRules | None = None) -> pd.DataFrame:
    """The summary per output (``utdatakontroll_utdata.csv``): one row per output, columns `OUTPUT_COLUMNS`."""
    rows = []
    for oid, c in checked.items():
        r = rules_of(c, rules)
        rows.append({
            "output_id": oid,
            "title": c.declaration.title_sv,
            "disclosure_class": c.disclosure_class.value,
            "disclosure_class_sv": c.disclosure_class.label_sv,
            "rule_set": rules_text_sv(c.disclosure_class, r),
            "thresholds": json.dumps(dict(c.thresholds), ensure_ascii=False, sort_keys=True),
            "status": c.status.value,
            "status_sv": c.status.label_sv,
            "n_cells": c.n_cells,
            "n_suppressed": c.n_suppressed,
            "reasons": " | ".join(reason_line_sv(x, r) for x in c.reasons),
            "flags": " | ".join(f"{location_sv(x.location)}: {flag_sv(x, r)}" for x in c.flags),
            "sources": " ".join(c.source_ids),
            **_run_fields(c.run),
        })
    return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))


def reason_line_sv(reason: Reason, rules: DisclosureRules | None = None) -> str:
    """``'Åldersgrupp: 60–64 år, män: undertryckt: färre än 10 personer'`` (with what it protects, when secondary)."""
    note = detail_sv(reason)
    return f"{location_sv(reason.location)}: {reason_sv(reason, rules)}" + (f" ({note})" if note else "")


def _audit_location_sv(row: Mapping[str, Any], checked: Mapping[str, CheckedOutput]) -> str:
    """Where a withheld count of the audit is: a model's shared count by its row's labels, else the location code."""
    c = checked.get(str(row.get("output_id")))
    table, pos, col = row.get("table"), row.get("row"), row.get("col")
    if c is not None and c.disclosure_class is DisclosureClass.MODEL and table == "summary" and not c.is_blocked:
        try:
            summary = c.table("summary")
            labels = summary.iloc[int(pos)]  # type: ignore[arg-type]
            cols = [k for k in (*MODEL_KEYS, *MODEL_LABELS, "term", "estimand") if k in summary.columns]
            return model_location_sv(**{k: labels[k] for k in cols}) + f", {COLUMN_SV.get(str(col), str(col))}"
        except (KeyError, IndexError, TypeError, ValueError):
            pass
    return location_sv(str(row.get("location", "")))


def audit_log_frame(audit: pd.DataFrame | None, checked: Mapping[str, CheckedOutput]) -> pd.DataFrame:
    """The audit of every withheld count (``utdatakontroll_granskning.csv``), columns `AUDIT_LOG_COLUMNS`."""
    if audit is None or audit.empty:
        return pd.DataFrame(columns=list(AUDIT_LOG_COLUMNS))
    order = {oid: i for i, oid in enumerate(checked)}
    records = sorted(audit.to_dict("records"),
                     key=lambda rec: (order.get(str(rec.get("output_id")), len(order)), str(rec.get("location", ""))))
    rows = []
    for rec in records:
        protected = bool(rec.get("protected"))
        c = checked.get(str(rec.get("output_id")))
        rows.append({
            "output_id": rec.get("output_id"), "title": c.declaration.title_sv if c is not None else "",
            "location": rec.get("location", ""), "location_sv": _audit_location_sv(rec, checked),
            "lower": value_text(rec.get("lower")), "upper": value_text(rec.get("upper")),
            "width": value_text(rec.get("width")), "threshold": value_text(rec.get("threshold")),
            "protected": protected, "result_sv": "skyddad" if protected else "RÖJD",
        })
    return pd.DataFrame(rows, columns=list(AUDIT_LOG_COLUMNS))


def write_check_log(
    checked: Mapping[str, CheckedOutput],
    directory: Path,
    *,
    rules: DisclosureRules,
    run: RunInfo,
    env: jinja2.Environment,
    warehouse: str,
    audit: pd.DataFrame | None = None,
    files: Sequence[tuple[str, str, str]] = (),
    cited: Sequence[tuple[str, str, str]] = (),
) -> tuple[Path, Path]:
    """Write the output-check log into ``directory``; return the paths of ``utdatakontroll.csv`` and ``.html``.

    Parameters
    ----------
    checked : the checked outputs, in report order.
    rules, run, env, warehouse : the rules in force, the run, the templates, the warehouse's path.
    audit : frame with ``output_id, location, lower, upper, width, threshold, protected`` (and
        optionally ``table, row, col``), one row per withheld count: rendered as "Granskning av
        undertryckta celler" and written to ``utdatakontroll_granskning.csv``.
    files : (file name, SHA-256, description) of every file of the report folder.
    cited : (source output id, where, text shown) of numbers quoted in running text.

    Also writes ``utdatakontroll_utdata.csv`` (one row per output).
    """
    directory.mkdir(parents=True, exist_ok=True)
    numbers = number_log_frame(checked, rules, cited=cited, run=run)
    summary = check_log_frame(checked, rules)
    csv_path = directory / NUMBERS_FILE
    numbers.to_csv(csv_path, sep=";", index=False, encoding="utf-8")
    summary.to_csv(directory / OUTPUTS_FILE, sep=";", index=False, encoding="utf-8")
    audit_rows = audit_log_frame(audit, checked) if audit is not None else None
    if audit_rows is not None:
        audit_rows.to_csv(directory / AUDIT_FILE, sep=";", index=False, encoding="utf-8")

    counts = {s: sum(c.status is s for c in checked.values()) for s in Status}
    number_counts = {s: int((numbers["status"] == s).sum()) for s in NUMBER_STATUSES}
    groups = []
    for oid, frame in numbers.groupby("output_id", sort=False):
        c = checked.get(str(oid))
        groups.append({"output_id": oid, "title": frame["title"].iloc[0], "output": c,
                       "rows": frame.to_dict("records")})
    html = env.get_template("utdatakontroll.html.j2").render(
        outputs=list(checked.values()), summary=summary.to_dict("records"), counts=counts,
        number_counts=number_counts, n_numbers=len(numbers), groups=groups, rules=rules, run=run,
        warehouse=warehouse, classes=[(c.label_sv, rules_text_sv(c, rules)) for c in DisclosureClass],
        audit=None if audit_rows is None else audit_rows.to_dict("records"),
        n_exposed=0 if audit_rows is None else int((~audit_rows["protected"].astype(bool)).sum()),
        files=_with_log_files(files, directory, audit_rows is not None), software=software_text(run),
        files_written=_files_written(audit_rows is not None),
        css=env.loader.get_source(env, "rapport.css")[0],  # type: ignore[union-attr]
    )
    html_path = directory / HTML_FILE
    html_path.write_text(html, encoding="utf-8")
    return csv_path, html_path


def _with_log_files(files: Sequence[tuple[str, str, str]], directory: Path, with_audit: bool) -> list[tuple[str, str, str]]:
    """The report folder's files as given, and the log's CSV files (written before this page) with their SHA-256.

    The page itself cannot state its own checksum. Nothing is added when no files are given.
    """
    out = list(files)
    if not out:
        return out
    named = {name for name, _, _ in out}
    for name, text in _files_written(with_audit):
        path = directory / name
        if name not in named and name != HTML_FILE and path.exists():
            out.append((name, hashlib.sha256(path.read_bytes()).hexdigest(), f"utdatakontrollen: {text}"))
    return out


def _files_written(with_audit: bool) -> list[tuple[str, str]]:
    out = [(HTML_FILE, "den här sidan"),
           (NUMBERS_FILE, "varje publicerat eller undertryckt tal med regel och skäl"),
           (OUTPUTS_FILE, "en rad per utdata: klass, regler, utfall och skäl")]
    if with_audit:
        out.append((AUDIT_FILE, "granskningen av varje undertryckt antal"))
    return out


__all__ = [
    "AUDIT_LOG_COLUMNS", "LOG_COLUMNS", "NUMBER_COLUMNS", "NUMBER_STATUSES", "OUTPUT_COLUMNS", "audit_log_frame",
    "check_log_frame", "number_log_frame", "number_rows", "reason_line_sv", "rules_of", "software_text",
    "value_text", "write_check_log",
]
