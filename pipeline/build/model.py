"""The unit of the build: one SQL model that becomes one table, and the context models read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

from pipeline.study import Study


@dataclass(frozen=True)
class Model:
    """One relation of the build: `create table|view <schema>.<name> as <sql>`.

    `sql` is a dbt-style select (import CTEs, named logical CTEs, `select * from final`);
    `order_by` fixes the row order so that a rebuild writes identical tables. Staging models
    are views (as in dbt): they cost nothing to build and compute only the columns read.
    """

    schema: str
    name: str
    grain: str
    sql: str
    order_by: str = ""
    materialized: str = "table"  # or "view"

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def create_statement(self) -> str:
        order = f"\norder by {self.order_by}" if self.order_by else ""
        return f"create {self.materialized} {self.qualified} as\n{self.sql.strip()}{order}"


@dataclass(frozen=True)
class BuildContext:
    """What every model may depend on besides its upstream tables."""

    study: Study
    extraction_date: date


def sql_date(d: date) -> str:
    return f"date '{d.isoformat()}'"


def sql_list(values: Iterable) -> str:
    """A SQL list of literals: ('a', 'b') or (1, 2)."""
    items = [str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'" for v in values]
    return "(" + ", ".join(items) + ")"
