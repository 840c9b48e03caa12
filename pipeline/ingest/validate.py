"""SQL built from an extract's contract: clean, type, quarantine and count warnings, vectorised in DuckDB.

For one file the SQL works on its *cleaned* relation: `_line` plus one VARCHAR column per
contract column, trimmed, with the empty string read as missing (`readers.clean_sql`; an
optional column the file lacks is all missing). `cleaned_select` also reads whole numbers written
as decimals (`1.0`, `2,0`, `25.00`, as statistical software writes them) as the whole number in
the columns that hold whole numbers (see `reads_integral_decimals`), keeping the value as
delivered beside it for the quarantine and the warning. From the contract alone it derives

- `row_checks`: per column and per period rule, when a row fails and why (`reason_kind`);
- `duplicate_sql`: the 2nd and later occurrence of a row identical in every contract column;
- `duplicate_key_sql`: the 2nd and later row of a repeated `Extract.unique_key` (a survey's
  RespondentId) that is not such an exact duplicate;
- `typed_select`: the raw table's row (contract types, `<col>_day_unknown`, `year`,
  `_source_file`, `_source_line`);
- `warning_specs`: counts of data features that are kept but reported (YYYYMMDD dates, day 00,
  decimal commas, whole numbers written as decimals, ICD-10 codes not in canonical form or not
  codes at all);
- `overlap_sql` and `orphan_sql`: the checks across rows and files, run on the loaded tables;
- `identity_repeat_sql`: a person key repeated within a file that marks the current identity
  (`SenPNr`), counted as the warning `senpnr_repeat` (the rows are kept).

Code columns with `code_labels` (`scb_bakgrund`'s region of birth) read a label (`Sverige`,
matched case-insensitively) as its code in `cleaned_select`, keeping the value as delivered
beside it, as for whole numbers written as decimals; labels read are counted (`code_label`).

A value is parsed by one expression (`parsed`) that gives NULL when the value is not valid;
the check is "present but not parsed". Rows that pass are typed by `typed_value`, a cheaper
conversion that is tested to agree with `parsed` on valid values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from data_schemas.codes import normalise_icd10_sql
from data_schemas.extracts import RAW, Column, Extract
from koord.sql import sql_name, sql_string

# Quarantine reasons. `not_a_number` is for decimal columns (none in the current contracts).
REASON_KINDS = (
    "not_an_integer", "not_positive", "out_of_range", "not_a_date", "unknown_code", "pattern_mismatch",
    "missing_required_value", "end_before_start", "exact_duplicate", "not_a_number", "duplicate_key",
)
WARNING_KINDS = (
    "extra_column", "yyyymmdd_date", "day_unknown", "decimal_comma", "integral_decimal", "noncanonical_diagnosis",
    "unparseable_diagnosis", "orphan_person", "overlapping_period", "unknown_code_kept", "name_outside_years",
    "code_label", "senpnr_repeat",
)

# The population register: a person without a row in any of its years is an orphan.
POPULATION_EXTRACT = "scb_lisa"

_ISO_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_COMPACT_DATE = "[0-9]{8}"


# A whole number written as a decimal: digits (with an optional sign), a decimal mark and only
# zeros after it. The capture is the whole number as written before the mark.
_INTEGRAL_DECIMAL = "^([+-]?[0-9]+)[.,]0+$"
# A code that is a whole number in canonical form: no sign, no leading zero.
_CANONICAL_INTEGER = re.compile(r"0|[1-9][0-9]*")


def reads_integral_decimals(col: Column) -> bool:
    """Whether `1.0`, `2,0`, `25.00` in this column are read as the whole number (1, 2, 25).

    Statistical software writes whole numbers as decimals when a column was ever numeric. The
    value is read as the digits before the decimal mark, sign and leading zeros kept as written
    (``-3.000`` is ``-3``, ``+1.0`` is ``+1``), and then checked as if so delivered. It applies to

    - integer columns (`dtype` "integer"), every one of them;
    - code columns whose every code is a whole number in canonical form, with no sign and no
      leading zero (`binary` 0/1, `sex`, `education`, `extent` 25/50/75/100, `likert`, ...).

    A code list with a zero-padded code (`regions`: ``01``...``25``) is left alone: there ``1.0``
    has lost the padding and is not silently read as ``01`` (nor ``12.0`` as ``12``, so that one
    column is not half accepted); such values stay quarantined as not in the code list, as
    ``1`` is. Text columns with a pattern (`Kommun`, four digits) and decimal columns are not
    touched. A non-integral value (``1.5``, ``2,25``) is quarantined as before.
    """
    if col.dtype == "integer":
        return True
    if col.dtype == "code":
        codes = col.allowed_codes()
        return bool(codes) and all(_CANONICAL_INTEGER.fullmatch(c) for c in codes)
    return False


def keeps_delivered(col: Column) -> bool:
    """Whether the cleaned relation reads the column's value (integral decimals, labels) and
    keeps the value as delivered beside it (`delivered_name`)."""
    return reads_integral_decimals(col) or bool(col.code_labels)


def delivered_name(col: Column) -> str:
    """Name, in the cleaned relation, of the value as delivered of a column that
    `keeps_delivered` (the contract column itself holds the value as read)."""
    return f"_delivered_{col.name}"


def _label_case(col: Column, v: str) -> str:
    """SQL: the code of a label in `col.code_labels` (case-insensitive), else NULL."""
    whens = " ".join(f"when {sql_string(label.lower())} then {sql_string(code)}" for label, code in col.code_labels)
    return f"(case lower({v}) {whens} end)"


def _read_value(col: Column, v: str) -> str:
    """SQL: the value as read: a label as its code, a whole number written as a decimal as the number."""
    out = v
    if reads_integral_decimals(col):
        # the cheap test first: most values have no decimal mark (half the cost on 10M values)
        out = (f"(case when contains({v}, '.') or contains({v}, ',') "
               f"then regexp_replace({v}, '{_INTEGRAL_DECIMAL}', '\\1') else {v} end)")
    if col.code_labels:
        out = f"coalesce({_label_case(col, v)}, {out})"
    return out


def cleaned_select(extract: Extract, present: set[str], source: str) -> str:
    """SELECT of `_line` and every contract column from a staged (already cleaned) relation;
    contract columns the file lacks are NULL.

    In columns that `reads_integral_decimals`, a whole number written as a decimal is replaced
    by the whole number; in columns with `code_labels`, a label by its code; the value as
    delivered follows as `delivered_name(col)`.
    """
    cols = []
    for c in extract.columns:
        v = sql_name(c.name)
        if c.name not in present:
            cols.append(f"cast(null as varchar) as {v}")
            if keeps_delivered(c):
                cols.append(f"cast(null as varchar) as {sql_name(delivered_name(c))}")
        elif keeps_delivered(c):
            cols.append(f"{_read_value(c, v)} as {v}")
            cols.append(f"{v} as {sql_name(delivered_name(c))}")
        else:
            cols.append(v)
    return f"select _line, {', '.join(cols)} from {source}"


def _as_delivered(col: Column) -> str:
    """SQL: the column's value as delivered, shown in the quarantine and in warnings."""
    return sql_name(delivered_name(col) if keeps_delivered(col) else col.name)


# --- parsing --------------------------------------------------------------------------------

def _date_text(v: str) -> str:
    """The date as 'YYYY-MM-DD' text (from YYYY-MM-DD or YYYYMMDD), else NULL."""
    return (
        f"(case when regexp_full_match({v}, '{_ISO_DATE}') then {v} "
        f"when regexp_full_match({v}, '{_COMPACT_DATE}') then substr({v}, 1, 4) || '-' || substr({v}, 5, 2) || '-' || substr({v}, 7, 2) end)"
    )


def day_unknown_sql(col: Column, v: str) -> str:
    """The date's day is 00 (only year and month known)."""
    return f"coalesce(right({_date_text(v)}, 2) = '00', false)" if col.day_may_be_unknown else "false"


def parsed(col: Column, v: str) -> str:
    """SQL: the value of `v` in the column's raw type, or NULL when it is missing or invalid."""
    if col.dtype == "integer":
        return f"(case when regexp_full_match({v}, '[+-]?[0-9]+') then try_cast({v} as bigint) end)"
    if col.dtype == "decimal":
        return (
            f"(case when regexp_full_match({v}, '[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)') "
            f"then try_cast(replace({v}, ',', '.') as double) end)"
        )
    if col.dtype == "date":
        text = _date_text(v)
        if col.day_may_be_unknown:
            text = f"(case when right({text}, 2) = '00' then left({text}, 8) || '15' else {text} end)"
        return f"try_cast({text} as date)"
    if col.dtype == "yearmonth":
        return f"(case when regexp_full_match({v}, '[0-9]{{4}}(0[1-9]|1[0-2])') then {v} end)"
    if col.dtype == "code":
        return f"(case when {v} in ({', '.join(sql_string(c) for c in col.allowed_codes())}) then {v} end)"
    if col.pattern:
        return f"(case when regexp_full_match({v}, {sql_string(col.pattern)}) then {v} end)"
    return v


# --- row checks ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowCheck:
    """One way a row can break its contract."""

    column: str
    kind: str
    fails: str  # SQL boolean over the cleaned relation: true when the row fails
    reason: str  # SQL text expression, for people
    value: str  # SQL text expression: the offending value


def _expected(col: Column) -> str:
    if col.dtype == "code":
        codes = col.allowed_codes()
        shown = ", ".join(codes[:12]) + (", …" if len(codes) > 12 else "")
        if col.code_labels:
            return f"not in code list '{col.codes}' (expected one of {shown}, or a label: {col.labels_text()})"
        return f"not in code list '{col.codes}' (expected one of {shown})"
    if col.dtype == "date":
        return "not a date (expected YYYY-MM-DD or YYYYMMDD" + (", day 00 allowed)" if col.day_may_be_unknown else ")")
    if col.dtype == "yearmonth":
        return "not a year and month (expected YYYYMM)"
    if col.dtype == "integer":
        return "not an integer (expected a whole number)"
    if col.dtype == "decimal":
        return "not a number (expected digits with . or , as decimal mark)"
    return f"does not match the pattern {col.pattern} the contract gives"


_PARSE_KIND = {"integer": "not_an_integer", "decimal": "not_a_number", "date": "not_a_date",
               "yearmonth": "not_a_date", "code": "unknown_code", "text": "pattern_mismatch"}


def row_checks(extract: Extract, present: set[str]) -> list[RowCheck]:
    """Every check of the contract on one row, column by column, then the period rules."""
    checks: list[RowCheck] = []
    for col in extract.columns:
        v = sql_name(col.name)
        shown = _as_delivered(col)
        if not col.nullable and col.name in present:
            checks.append(RowCheck(col.name, "missing_required_value", f"{v} is null",
                                   sql_string("required value is empty"), "cast(null as varchar)"))
        if col.dtype == "code" and col.on_unknown_code == "warn":
            pass  # kept and counted by `warning_specs`
        elif col.dtype != "text" or col.pattern:
            checks.append(RowCheck(col.name, _PARSE_KIND[col.dtype], f"({v} is not null and {parsed(col, v)} is null)",
                                   sql_string(_expected(col)), shown))
        if col.dtype in ("integer", "decimal"):
            p = parsed(col, v)
            if col.positive:
                checks.append(RowCheck(col.name, "not_positive", f"coalesce({p} <= 0, false)",
                                       sql_string("must be positive (expected a number > 0)"), shown))
            if col.min_value is not None or col.max_value is not None:
                lo = "-inf" if col.min_value is None else _num(col.min_value)
                hi = "inf" if col.max_value is None else _num(col.max_value)
                out = " or ".join(
                    ([f"{p} < {_num(col.min_value)}"] if col.min_value is not None else [])
                    + ([f"{p} > {_num(col.max_value)}"] if col.max_value is not None else [])
                )
                checks.append(RowCheck(col.name, "out_of_range", f"coalesce({out}, false)",
                                       sql_string(f"out of range (expected {lo} to {hi})"), shown))
    for rule in extract.periods:
        start, end = extract.column(rule.start), extract.column(rule.end)
        ps, pe = parsed(start, sql_name(start.name)), parsed(end, sql_name(end.name))
        checks.append(RowCheck(
            end.name, "end_before_start", f"coalesce({pe} < {ps}, false)",
            f"'{rule.reason} (' || {sql_name(start.name)} || ')'", sql_name(end.name),
        ))
    return checks


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def quarantine_sql(extract: Extract, present: set[str], cleaned: str, file: str) -> str:
    """SELECT of the quarantine rows (file, extract, line, column, value, reason, reason_kind):
    one per failed check, so a row that breaks two rules is listed twice.

    `cleaned` is a query (``select * from cleaned``), as for duplicate_sql: it becomes a CTE,
    never a parenthesised FROM item, because DuckDB 2.0.1 refuses ``from (name)``.
    """
    checks = row_checks(extract, present)
    items = ", ".join(
        f"case when {c.fails} then {{'col': {sql_string(c.column)}, 'value': {c.value}, "
        f"'reason': {c.reason}, 'kind': {sql_string(c.kind)}}} end"
        for c in checks
    )
    any_fail = " or ".join(f"({c.fails})" for c in checks)
    return (
        f"with c as ({cleaned}) "
        f"select {sql_string(file)} as file, {sql_string(extract.name)} as extract, _line as line, "
        f"r.col as \"column\", r.value as value, r.reason as reason, r.kind as reason_kind "
        f"from (select _line, unnest(list_filter([{items}], lambda x: x is not null)) as r "
        f"from c where {any_fail})"
    )


def duplicate_sql(extract: Extract, cleaned: str, file: str) -> str:
    """SELECT of quarantine rows for exact duplicates: every occurrence after the first.

    Rows are first grouped by a 64-bit hash of all contract columns, which is cheap for tens
    of millions of rows; only rows whose hash repeats are then compared column by column.
    """
    cols = ", ".join(sql_name(c.name) for c in extract.columns)
    row_text = "concat_ws(';', " + ", ".join(f"coalesce({sql_name(c.name)}, '')" for c in extract.columns) + ")"
    return (
        f"with c as ({cleaned}), "
        f"repeated as (select hash({cols}) as h from c group by h having count(*) > 1), "
        f"candidates as (select * from c where hash({cols}) in (select h from repeated)), "
        f"ranked as (select _line, {row_text} as row_text, min(_line) over (partition by {cols}) as first_line from candidates) "
        f"select {sql_string(file)} as file, {sql_string(extract.name)} as extract, _line as line, "
        f"cast(null as varchar) as \"column\", row_text as value, "
        f"'exact duplicate of line ' || first_line || ' (every column equal)' as reason, 'exact_duplicate' as reason_kind "
        f"from ranked where _line > first_line"
    )


def duplicate_key_sql(extract: Extract, cleaned: str, file: str) -> str | None:
    """SELECT of quarantine rows whose `Extract.unique_key` repeats (None when the extract has no key).

    The first row of a key (by line) is kept; every later row with the same key is quarantined
    as `duplicate_key`, naming the first line, unless it is an exact duplicate of an earlier row
    (already quarantined by `duplicate_sql`). Rows with a missing key value take no part. The
    later row goes even when the first is quarantined for another reason: which of the two
    holds the respondent's answers cannot be told.
    """
    if not extract.unique_key:
        return None
    key = ", ".join(sql_name(k) for k in extract.unique_key)
    cols = ", ".join(sql_name(c.name) for c in extract.columns)
    key_text = "concat_ws(';', " + ", ".join(f"coalesce({sql_name(k)}, '')" for k in extract.unique_key) + ")"
    not_null = " and ".join(f"{sql_name(k)} is not null" for k in extract.unique_key)
    return (
        f"with c as ({cleaned}), "
        f"repeated as (select {key} from c where {not_null} group by all having count(*) > 1), "
        f"ranked as (select _line, {key_text} as key_text, "
        f"min(_line) over (partition by {key}) as first_line, "
        f"min(_line) over (partition by {cols}) as first_identical "
        f"from c semi join repeated using ({key})) "
        f"select {sql_string(file)} as file, {sql_string(extract.name)} as extract, _line as line, "
        f"{sql_string(', '.join(extract.unique_key))} as \"column\", key_text as value, "
        f"'{' + '.join(extract.unique_key)} already on line ' || first_line as reason, 'duplicate_key' as reason_kind "
        f"from ranked where _line > first_line and _line = first_identical"
    )


# --- typed raw rows --------------------------------------------------------------------------

def raw_table_columns(extract: Extract) -> list[tuple[str, str]]:
    """(name, DuckDB type) of the raw table, in order."""
    cols: list[tuple[str, str]] = []
    for c in extract.columns:
        cols.append((c.name, c.raw_sql_type))
        if c.dtype == "date" and c.day_may_be_unknown:
            cols.append((c.name + RAW.day_unknown_suffix, "BOOLEAN"))
    if extract.yearly:
        cols.append((RAW.year, "INTEGER"))
    cols += [(RAW.source_file, "VARCHAR"), (RAW.source_line, "BIGINT")]
    return cols


def raw_table_ddl(extract: Extract, table: str) -> str:
    return f"create table {table} ({', '.join(f'{sql_name(n)} {t}' for n, t in raw_table_columns(extract))})"


def typed_value(col: Column, v: str) -> str:
    """SQL: the raw-table value of `v`, for a value that passed `row_checks`.

    Gives the same result as `parsed` on every valid value (tested), without its format
    checks: on tens of millions of rows the second round of regular expressions is costly.
    """
    if col.dtype == "integer":
        return f"cast({v} as bigint)"
    if col.dtype == "decimal":
        return f"cast(replace({v}, ',', '.') as double)"
    if col.dtype == "date":
        text = f"(case when length({v}) = 8 then substr({v}, 1, 4) || '-' || substr({v}, 5, 2) || '-' || substr({v}, 7, 2) else {v} end)"
        if col.day_may_be_unknown:
            text = f"(case when right({v}, 2) = '00' then left({text}, 8) || '15' else {text} end)"
        return f"cast({text} as date)"
    return v


def typed_day_unknown(col: Column, v: str) -> str:
    """SQL: the `<col>_day_unknown` flag, for a value that passed `row_checks`."""
    return f"coalesce(right({v}, 2) = '00', false)"


def typed_select(extract: Extract, year: int | None, file: str) -> str:
    """Select list turning checked rows into raw-table rows (in `raw_table_columns` order)."""
    exprs = []
    for c in extract.columns:
        v = sql_name(c.name)
        exprs.append(typed_value(c, v))
        if c.dtype == "date" and c.day_may_be_unknown:
            exprs.append(typed_day_unknown(c, v))
    if extract.yearly:
        exprs.append(f"cast({int(year)} as integer)" if year is not None else "cast(null as integer)")
    exprs += [sql_string(file), "_line"]
    return ", ".join(exprs)


# --- warnings --------------------------------------------------------------------------------

@dataclass(frozen=True)
class WarningSpec:
    """A data feature counted per file: `flag` is a SQL boolean over the cleaned relation."""

    column: str
    kind: str
    flag: str
    detail: str  # for people; '{example}' is replaced by "line N: 'value'"
    value: str  # SQL text expression shown as the example


def _icd_tokens(col: Column, v: str) -> str:
    """SQL list of the codes in a value, split as staging splits them.

    A column holding several codes (project name `*_codes_raw`, e.g. Diagnoser) is split on
    spaces and commas; a one-code column (Diagnos) is one code, whatever its spelling.
    """
    if col.stg_name.endswith("_codes_raw"):
        return f"list_filter(regexp_split_to_array({v}, '[\\s,]+'), lambda t: t <> '')"
    return f"[{v}]"


def warning_specs(extract: Extract) -> list[WarningSpec]:
    specs: list[WarningSpec] = []
    for c in extract.columns:
        v = sql_name(c.name)
        if c.dtype == "date":
            specs.append(WarningSpec(c.name, "yyyymmdd_date", f"regexp_full_match({v}, '{_COMPACT_DATE}')",
                                     "dates written YYYYMMDD, read as YYYY-MM-DD (e.g. {example})", v))
            if c.day_may_be_unknown:
                specs.append(WarningSpec(
                    c.name, "day_unknown", day_unknown_sql(c, v),
                    f"day 00 (only year and month known) read as the 15th and flagged in "
                    f"{c.name}{RAW.day_unknown_suffix} (e.g. {{example}})", v))
        if c.code_labels:
            d = sql_name(delivered_name(c))
            specs.append(WarningSpec(c.name, "code_label", f"({_label_case(c, d)} is not null)",
                                     f"labels read as codes of '{c.codes}' ({c.labels_text()}; e.g. {{example}})", d))
        if reads_integral_decimals(c):
            d = sql_name(delivered_name(c))
            label = f" and {_label_case(c, d)} is null" if c.code_labels else ""
            specs.append(WarningSpec(c.name, "integral_decimal", f"coalesce({d} <> {v}{label}, false)",
                                     "whole numbers written as decimals, read as the whole number "
                                     "(e.g. {example})", d))
        if c.dtype == "code" and c.on_unknown_code == "warn":
            specs.append(WarningSpec(
                c.name, "unknown_code_kept", f"({v} is not null and {parsed(c, v)} is null)",
                f"codes not in code list '{c.codes}' (known: {', '.join(c.allowed_codes())}), kept as delivered "
                "for the study to decide whether they count (e.g. {example})", _as_delivered(c)))
        if c.dtype == "decimal":
            specs.append(WarningSpec(c.name, "decimal_comma", f"contains({v}, ',')",
                                     "decimal comma read as decimal point (e.g. {example})", v))
        if c.icd10:
            n = normalise_icd10_sql("t")
            specs.append(WarningSpec(
                c.name, "noncanonical_diagnosis",
                f"{v} is not null and len(list_filter({_icd_tokens(c, v)}, lambda t: {n} is not null and {n} <> t)) > 0",
                "ICD-10 codes not in canonical form (upper case, no dot or dash); staging normalises them "
                "(e.g. {example})", v))
            specs.append(WarningSpec(
                c.name, "unparseable_diagnosis",
                f"{v} is not null and len(list_filter({_icd_tokens(c, v)}, lambda t: {n} is null)) > 0",
                "values that are not ICD-10 codes even after normalisation; staging reads them as missing "
                "(e.g. {example})", v))
    return specs


def warning_aggregate_sql(specs: list[WarningSpec], relation: str) -> str:
    """One pass over `relation` giving, per spec, the count, the first line and its value."""
    parts = []
    for i, s in enumerate(specs):
        parts += [
            f"count(*) filter (where {s.flag}) as n{i}",
            f"min(_line) filter (where {s.flag}) as l{i}",
            f"arg_min({s.value}, _line) filter (where {s.flag}) as v{i}",
        ]
    return f"select {', '.join(parts)} from {relation}"


def example_text(line: int | None, value: str | None) -> str:
    return f"line {line}: {value!r}" if line is not None else "none"


# --- checks across rows and files, on the loaded raw tables ----------------------------------

def overlap_sql(extract: Extract, table: str, extraction_date: str) -> str | None:
    """Per file: periods that start before an earlier period of the same person has ended.

    Periods are ordered by start (then end, then line); ongoing ones run to the extraction
    date. Each overlap is counted once, on the later period: two overlapping periods count 1,
    three mutually overlapping count 2.
    """
    key = next((c for c in extract.columns if c.is_person_key), None)
    if key is None or not extract.periods:
        return None
    rule = extract.periods[0]
    s, e = sql_name(rule.start), sql_name(rule.end)
    p = sql_name(key.name)
    return (
        f"with p as (select {RAW.source_file}, {RAW.source_line}, {p} as person, {s} as s, "
        f"coalesce({e}, date {sql_string(extraction_date)}) as e from {table} where {s} is not null), "
        f"w as (select *, max(e) over (partition by person order by s, e, {RAW.source_line} "
        f"rows between unbounded preceding and 1 preceding) as earlier_end from p), "
        f"f as (select *, coalesce(earlier_end >= s, false) as is_overlapping from w) "
        f"select {RAW.source_file}, count(*) filter (where is_overlapping), count(distinct person) filter (where is_overlapping), "
        f"min({RAW.source_line}) filter (where is_overlapping) from f group by all"
    )


def identity_repeat_sql(extract: Extract, present: set[str], relation: str) -> str | None:
    """One row over a file's loaded (cleaned) rows: the rows of persons whose key repeats, those
    persons, the persons among them with no row marked current (`SenPNr` = 1) and with more than
    one, and the first line of a repeat that is not current.

    None when the extract marks no current identity or the file lacks the marker: only then is
    a repeated key an identity change (without the column nothing changes).
    """
    key = next((c for c in extract.columns if c.is_person_key), None)
    if key is None or not extract.current_identity or extract.current_identity not in present:
        return None
    p, s = sql_name(key.name), sql_name(extract.current_identity)
    return (
        f"with r as (select {p} as person, count(*) as n, count(*) filter (where {s} = '1') as n_current, "
        f"min(_line) filter (where coalesce({s}, '') <> '1') as first_line "
        f"from {relation} where {p} is not null group by {p} having count(*) > 1) "
        f"select coalesce(sum(n), 0), count(*), count(*) filter (where n_current = 0), "
        f"count(*) filter (where n_current > 1), min(first_line) from r"
    )


def identity_repeat_warning(extract: Extract, counts: tuple) -> tuple[str, str, int, str] | None:
    """(column, kind, rows, detail) of the `senpnr_repeat` warning from `identity_repeat_sql`'s row."""
    rows, persons, no_current, several, line = counts
    if not rows:
        return None
    s = extract.current_identity
    detail = (f"{rows} rows of {persons} persons whose {next(c.name for c in extract.columns if c.is_person_key)} "
              f"repeats (earlier identity numbers); kept, and the rows with {s} = 1 are used (e.g. line {line})")
    if no_current:
        detail += f"; {no_current} of these persons have no row with {s} = 1 and keep all their rows"
    if several:
        detail += f"; {several} have more than one row with {s} = 1 and keep those"
    return s, "senpnr_repeat", int(rows), detail


def orphan_sql(extract: Extract, table: str, population_table: str) -> str | None:
    """Per file: rows whose person has no row in any year of the population register."""
    key = next((c for c in extract.columns if c.is_person_key), None)
    if key is None or extract.name == POPULATION_EXTRACT:
        return None
    p = sql_name(key.name)
    return (
        f"select {RAW.source_file}, count(*), count(distinct {p}), min({RAW.source_line}) from {table} t "
        f"where {p} is not null and not exists (select 1 from {population_table} l where l.{p} = t.{p}) "
        f"group by all"
    )
