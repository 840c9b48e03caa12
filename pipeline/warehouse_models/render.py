"""Models as Jinja templates: `ref()`, `source()`, `var()` and the macros, rendered to plain DuckDB SQL.

In a model's template:

- `{{ ref('int_spells_joined') }}` is the upstream model's qualified name
  (`intermediate.int_spells_joined`); the build order follows from these calls.
- `{{ source('raw', 'fk_midas_sjukpenning') }}` is a table of the raw layer (`raw.fk_midas_sjukpenning`);
  only staging models read sources.
- `{{ var('gap_days') }}` is a value of `pipeline.warehouse_models.variables.model_vars` as a SQL
  literal (`sql_value`): a number `5`, a text `'SJP'`, a date `date '2025-03-31'`, NULL `null`, a
  list its items `'SJP', 'RHP'` (write `in ({{ var('benefit_codes') }})` or `[...]`), a tuple
  one row `('0-14', 0, 15)`. A var can be iterated (`{% for code, column in var('...') %}`, a
  mapping gives its items); `{{ x | name }}` writes a value as a quoted identifier.
- macros: `month_index(date)` from `sql/macros.sql`; the code-list CASEs `diagnosis_group(code)`,
  `chapter_group(group)`, `age_group(years)`, `education_group(level)` from `data_schemas`.

Rendering is strict: an unknown name, var or model is an error. Reads are parsed from the
template's syntax tree, not from its rendering, so they do not depend on the study.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes

from data_schemas.codes import chapter_group_sql, diagnosis_group_sql
from data_schemas.tables import age_group_sql, education_group_sql
from koord.errors import KoordError
from koord.sql import sql_date, sql_literal, sql_name
if TYPE_CHECKING:  # model.py imports this module for parse_reads
    from pipeline.warehouse_models.model import Model

SQL_DIR = Path(__file__).parent / "sql"
READ_FUNCTIONS = ("ref", "source")


def sql_value(value: Any) -> str:
    """A Python value as DuckDB SQL: list -> its items, tuple -> a row, date -> DATE literal."""
    if isinstance(value, SqlValue):
        value = value.value
    if value is None:
        return "null"
    if isinstance(value, date):
        return sql_date(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(sql_value(v) for v in value) + ")"
    if isinstance(value, list):
        return ", ".join(sql_value(v) for v in value)
    if isinstance(value, (str, bool, int, float)):
        return sql_literal(value)
    raise TypeError(f"no SQL literal for {type(value).__name__} {value!r}: iterate it")


class SqlValue:
    """A var in a template: prints as its SQL literal, iterates as SqlValues of its items."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return sql_value(self.value)

    def _items(self) -> list[Any]:
        v = self.value
        if isinstance(v, Mapping):
            return [tuple(kv) for kv in v.items()]
        if isinstance(v, (list, tuple)):
            return list(v)
        raise TypeError(f"{v!r} is not a list, row or mapping")

    def __iter__(self):
        return iter([SqlValue(x) for x in self._items()])

    def __len__(self) -> int:
        return len(self._items())


def _identifier(value: Any) -> str:
    return sql_name(value.value if isinstance(value, SqlValue) else value)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(SQL_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["name"] = _identifier
    env.globals.update(
        diagnosis_group=diagnosis_group_sql,
        chapter_group=chapter_group_sql,
        age_group=age_group_sql,
        education_group=education_group_sql,
    )
    macros = env.get_template("macros.sql").module
    env.globals.update({n: getattr(macros, n) for n in dir(macros) if not n.startswith("_")})
    return env


def parse_reads(model: Model) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(refs, sources) of a model's template, from its syntax tree; arguments must be literal texts."""
    try:
        tree = environment().parse(model.template)
    except jinja2.TemplateSyntaxError as exc:
        raise KoordError(f"{model.where()}: line {exc.lineno}: {exc.message}") from None
    refs: list[str] = []
    sources: list[tuple[str, str]] = []
    for call in tree.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name in READ_FUNCTIONS):
            continue
        args = call.args
        expected = 1 if call.node.name == "ref" else 2
        if call.kwargs or len(args) != expected or not all(isinstance(a, nodes.Const) and isinstance(a.value, str) for a in args):
            raise KoordError(
                f"{model.where()}: line {call.lineno}: {call.node.name}() takes {expected} literal text(s), "
                "so that what the model reads is known before it is rendered"
            )
        if call.node.name == "ref":
            refs.append(args[0].value)
        else:
            sources.append((args[0].value, args[1].value))
    return tuple(dict.fromkeys(refs)), tuple(dict.fromkeys(sources))


def render(model: Model, qualified: Mapping[str, str], variables: Mapping[str, Any]) -> str:
    """The model's SQL: its template with refs resolved through `qualified` (name -> schema.name)."""

    def ref(name: str) -> str:
        if name not in qualified:
            raise KoordError(f"{model.where()}: ref({name!r}): no model of that name")
        return qualified[name]

    def source(schema: str, table: str) -> str:
        return f"{schema}.{table}"

    def var(name: str) -> SqlValue:
        if name not in variables:
            raise KoordError(f"{model.where()}: var({name!r}) is not defined (known: {', '.join(sorted(variables))})")
        return SqlValue(variables[name])

    try:
        template = environment().from_string(model.template)
        return template.render(ref=ref, source=source, var=var)
    except jinja2.TemplateError as exc:
        raise KoordError(f"{model.where()}: {exc}") from None
