"""Refusal of deliveries that are not pseudonymised: columns holding Swedish personal identity numbers.

A value looks like a personnummer (or samordningsnummer) when it has one of the forms
YYMMDD-NNNN, YYMMDD+NNNN, YYMMDDNNNN, YYYYMMDDNNNN or YYYYMMDD-NNNN, a plausible month and
day (day + 60 for a samordningsnummer) and a valid Luhn check digit on its 10-digit form. A
column is flagged when at least `FLAG_SHARE` of its non-empty values look like that: a
pseudonymised running number (LopNr), even a 10-digit one, passes the month, day and check
digit tests only by chance (well under 1 % of random 10-digit numbers), so it is never
flagged, while a column of identity numbers is flagged even with some malformed values.

The refusal message names file, column and a line, never a value: the values are what must
not spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from koord.progress import thousands

FLAG_SHARE = 0.5

_DAY = "(0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])"  # 61-91: samordningsnummer
_PNR_PATTERN = f"((18|19|20)[0-9]{{2}}|[0-9]{{2}})(0[1-9]|1[0-2]){_DAY}[-+]?[0-9]{{4}}"


def luhn_ok_sql(ten_digits: str) -> str:
    """SQL: the Luhn check of a 10-character digit string holds (weights 2,1,2,1,... on digit sums)."""
    terms = []
    for i in range(1, 11):
        x = f"(ascii(substr({ten_digits}, {i}, 1)) - 48)"
        # digit sum of 2x, looked up: 0->0, 1->2, ..., 5->1, ..., 9->9
        terms.append(f"[0, 2, 4, 6, 8, 1, 3, 5, 7, 9][{x} + 1]" if i % 2 else x)
    return f"(({' + '.join(terms)}) % 10 = 0)"


def candidate_digits_sql(trimmed: str) -> str:
    """SQL: the 10-digit form of a trimmed value that has a personnummer's shape, else NULL."""
    return (
        f"case when length({trimmed}) between 10 and 13 and regexp_full_match({trimmed}, '{_PNR_PATTERN}') "
        f"then right(replace(replace({trimmed}, '-', ''), '+', ''), 10) end"
    )


def is_personnummer_sql(value: str) -> str:
    """SQL boolean: `value` (text) looks like a personnummer or samordningsnummer."""
    digits = f"({candidate_digits_sql(f'trim({value})')})"
    return f"coalesce({luhn_ok_sql(digits)}, false)"


@dataclass(frozen=True)
class PnrColumn:
    """A column flagged as holding personal identity numbers."""

    file: str
    column: str  # as delivered
    n_values: int  # non-empty values looked at
    n_personnummer: int
    first_line: int | None  # a line holding one (None for a sample without line numbers)

    def describe(self) -> str:
        where = f", e.g. line {self.first_line}" if self.first_line is not None else ""
        n_pnr, n_values = (thousands(n) for n in (self.n_personnummer, self.n_values))
        return (f"{self.file}: column '{self.column}' holds personal identity numbers "
                f"({n_pnr} of {n_values} non-empty values{where})")


def find_personnummer_columns(
    con: duckdb.DuckDBPyConnection,
    file: str,
    relation: str,
    columns: list[tuple[str, str]],
    line_column: str | None = None,
    cleaned: bool = False,
) -> list[PnrColumn]:
    """The columns of `relation` that hold personal identity numbers.

    Parameters
    ----------
    relation : SQL relation (table, view or subquery) with the file's columns as text.
    columns : (column in `relation`, column name as delivered) for every column to check.
    line_column : column with the line number, for the message; None for a sample.
    cleaned : the values are already trimmed, with NULL for empty (saves a pass of trimming).
    """
    if not columns:
        return []
    # Three small nested selects keep the SQL short: trim, then shape, then check digit.
    line = f"{line_column} as _line, " if line_column else ""
    keep = "_line, " if line_column else ""
    trimmed = ", ".join((f'"{col}"' if cleaned else f"nullif(trim(\"{col}\"), '')") + f" as t{i}"
                        for i, (col, _) in enumerate(columns))
    shaped = ", ".join(f"t{i} is not null as n{i}, {candidate_digits_sql(f't{i}')} as d{i}" for i in range(len(columns)))
    checked = ", ".join(f"n{i}, coalesce({luhn_ok_sql(f'd{i}')}, false) as p{i}" for i in range(len(columns)))
    aggregates = ", ".join(
        f"count(*) filter (where n{i}), count(*) filter (where p{i}), "
        + (f"min(_line) filter (where p{i})" if line_column else "null")
        for i in range(len(columns))
    )
    row = con.execute(
        f"select {aggregates} from (select {keep}{checked} from (select {keep}{shaped} from "
        f"(select {line}{trimmed} from {relation})))"
    ).fetchone()
    flagged = []
    for i, (_, delivered) in enumerate(columns):
        n_values, n_pnr, line = row[3 * i], row[3 * i + 1], row[3 * i + 2]
        if n_pnr and n_pnr >= FLAG_SHARE * n_values:
            flagged.append(PnrColumn(file, delivered, n_values, n_pnr, line))
    return flagged
