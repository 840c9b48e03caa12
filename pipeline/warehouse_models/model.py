"""The unit of the warehouse: one SQL model that becomes one relation, and the context models read.

A model is a dbt-style select (import CTEs, named logical CTEs, `select * from final`) written
as a Jinja template: `{{ ref('int_spells_joined') }}` names an upstream model,
`{{ source('raw', 'fk_midas_sjukpenning') }}` a raw extract, `{{ var('gap_days') }}` a value of
the study or the delivery (see `pipeline.warehouse_models.render`). What a model reads is parsed
from its template, so the build order and the extracts the build needs follow from the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

from data_schemas.study import Study
from pipeline.warehouse_models.render import parse_reads

# The layers in build order: the folder of `sql/`, the schema the models are created in.
LAYERS: tuple[tuple[str, str], ...] = (("staging", "staging"), ("intermediate", "intermediate"), ("analysis", "main"))
SCHEMAS: tuple[str, ...] = tuple(schema for _folder, schema in LAYERS)


@dataclass(frozen=True)
class Model:
    """One relation of the warehouse: `create table|view <schema>.<name> as <rendered template>`.

    The template states the row order (`order by` at its end) so that a rebuild writes identical
    tables. Staging models are views (as in dbt): they cost nothing to build and compute only the
    columns read.
    """

    schema: str
    name: str
    grain: str
    template: str
    materialized: str = "table"  # or "view"
    path: Path | None = field(default=None, compare=False)  # the .sql file; None if generated

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def layer(self) -> int:
        """Position of the model's schema in `SCHEMAS` (0 = staging)."""
        return SCHEMAS.index(self.schema)

    @cached_property
    def refs(self) -> tuple[str, ...]:
        """The models this one reads (`ref()` calls), in order of first appearance."""
        return parse_reads(self)[0]

    @cached_property
    def sources(self) -> tuple[tuple[str, str], ...]:
        """The raw tables this one reads (`source()` calls) as (schema, table)."""
        return parse_reads(self)[1]

    def where(self) -> str:
        """Where the model is written, for messages."""
        return str(self.path) if self.path else f"{self.qualified} (generated)"


@dataclass(frozen=True)
class BuildContext:
    """What every model may depend on besides its upstream tables (read through `var()`)."""

    study: Study
    extraction_date: date


def create_statement(model: Model, sql: str) -> str:
    """The DDL that builds `model` from its rendered select."""
    return f"create {model.materialized} {model.qualified} as\n{sql.strip()}"
