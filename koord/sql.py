"""Quoting for DuckDB SQL: the one place names and values become SQL text."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any


def sql_string(text: str) -> str:
    """A SQL string literal: ``O'Brien`` -> ``'O''Brien'``."""
    return "'" + str(text).replace("'", "''") + "'"


def sql_name(name: str) -> str:
    """A quoted SQL identifier: ``a"b`` -> ``"a""b"``."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_date(d: date) -> str:
    """A DATE literal."""
    return f"date '{d.isoformat()}'"


def sql_literal(value: Any) -> str:
    """A literal of a Python value: booleans, numbers as they are, everything else a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return sql_string(value)


def sql_values(values: Iterable[Any]) -> str:
    """The items of an IN list, without parentheses: ``'a', 'b'`` or ``1, 2``."""
    return ", ".join(sql_literal(v) for v in values)


def sql_list(values: Iterable[Any]) -> str:
    """A parenthesised IN list: ``('a', 'b')`` or ``(1, 2)``."""
    return "(" + sql_values(values) + ")"
