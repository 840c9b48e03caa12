"""The summary of a load, as the text `koord ingest` prints on stdout."""

from __future__ import annotations

from koord.progress import thousands
from pipeline.ingest.load import LoadSummary

TOP_REASONS = 10




def render_summary(s: LoadSummary) -> str:
    """Per-file table (rows in, loaded, quarantined, warnings) with totals, then quarantine and warnings."""
    if s.status == "unchanged":
        return (f"Delivery '{s.delivery_name}' is already loaded in {s.warehouse} (same files, same SHA-256): "
                "already loaded, nothing changed.")
    lines = [
        f"Loaded delivery '{s.delivery_name}' into {s.warehouse} (schema raw) in {s.seconds:.1f} s; "
        f"extraction date {s.extraction_date} ({s.extraction_date_source}).",
        "",
    ]
    w_file = max([len("file")] + [len(r.plan.name) for r in s.files])
    w_ex = max([len("extract")] + [len(r.plan.extract.name) for r in s.files])
    header = f" {'file':<{w_file}}  {'extract':<{w_ex}}  {'rows in':>12}  {'loaded':>12}  {'quarantined':>11}  {'warnings':>10}  format, encoding"
    lines += [header, " " + "-" * (len(header) - 1)]
    for r in s.files:
        p = r.plan
        fmt = ", ".join(x for x in (p.format, p.display_encoding, _delim(p.delimiter)) if x)
        lines.append(
            f" {p.name:<{w_file}}  {p.extract.name:<{w_ex}}  {thousands(r.rows_in):>12}  {thousands(r.rows_loaded):>12}  "
            f"{thousands(r.rows_quarantined):>11}  {thousands(r.n_warnings):>10}  {fmt}"
        )
    lines.append(" " + "-" * (len(header) - 1))
    total = lambda attr: thousands(sum(getattr(r, attr) for r in s.files))  # noqa: E731
    lines.append(
        f" {'total':<{w_file}}  {'':<{w_ex}}  {total('rows_in'):>12}  {total('rows_loaded'):>12}  "
        f"{total('rows_quarantined'):>11}  {total('n_warnings'):>10}"
    )
    n_quarantined = sum(r.rows_quarantined for r in s.files)
    lines.append("")
    if n_quarantined:
        lines.append(f"Quarantine: {thousands(n_quarantined)} rows in table raw._quarantine (file, line, column, value, reason, "
                     f"reason_kind); top reasons:")
        for file, kind, n in s.quarantine_by_reason[:TOP_REASONS]:
            lines.append(f"  {thousands(n):>10}  {kind:<24} {file}")
        if len(s.quarantine_by_reason) > TOP_REASONS:
            lines.append(f"  … and {len(s.quarantine_by_reason) - TOP_REASONS} more (file, reason) pairs")
    else:
        lines.append("Quarantine: no rows (table raw._quarantine is empty).")
    if s.warnings:
        lines.append("Warnings, kept in the data and recorded in table raw._warnings:")
        for file, column, kind, n, detail in s.warnings:
            lines.append(f"  {thousands(n):>10}  {kind:<24} {file} {column}: {detail}")
    if s.delivered_names:
        lines.append("Column names as delivered (table raw._columns), files per name:")
        for column, delivered, n in s.delivered_names:
            lines.append(f"  {thousands(n):>10}  {column:<24} as {delivered}")
    if s.absent_extracts:
        lines.append("Not in this delivery (no raw table): " + ", ".join(s.absent_extracts))
    for note in s.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def _delim(d: str | None) -> str | None:
    return {"\t": "tab", ";": "';'", ",": "','"}.get(d, d) if d else None
