"""The models of the warehouse, their build order and what the build reads, all derived from the SQL.

The models are the `.sql` files under `sql/<layer>/` (one model per file, named by the file,
built in the layer's schema: `sql/intermediate/` -> `intermediate`, `sql/analysis/` -> `main`)
and the staging views generated from the delivery contracts (`staging.py`). No list of models
is kept by hand: the build order is a topological order of their `ref()`s, and the extracts
the build needs are the sources of the staging models the other models read.

Layer rules, checked whenever the models are listed: only staging reads raw sources; a model
reads models of its own layer or earlier ones (staging -> intermediate -> main); refs name
existing models; no cycles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from data_schemas.extracts import EXTRACTS, Extract
from koord.errors import KoordError
from pipeline.warehouse_models.model import LAYERS, BuildContext, Model
from pipeline.warehouse_models.render import SQL_DIR, render
from pipeline.warehouse_models.staging import staging_models
from pipeline.warehouse_models.variables import model_vars

_GRAIN = re.compile(r"^--\s*grain:\s*(?P<grain>.+?)\s*$", re.MULTILINE)


def _header(text: str) -> str:
    """The leading comment lines of a file."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    return "\n".join(lines)


def read_model_file(path: Path, schema: str) -> Model:
    """One `.sql` file as a model; its header comment must state the grain (`-- grain: one row per ...`)."""
    text = path.read_text(encoding="utf-8")
    m = _GRAIN.search(_header(text))
    if not m:
        raise KoordError(f"{path}: the header comment must state the grain ('-- grain: one row per ...')")
    return Model(schema, path.stem, grain=m.group("grain"), template=text, path=path)


@lru_cache(maxsize=1)
def sql_models() -> tuple[Model, ...]:
    """The models written as `.sql` files, by layer, then by name."""
    out: list[Model] = []
    for folder, schema in LAYERS:
        out += [read_model_file(p, schema) for p in sorted((SQL_DIR / folder).glob("*.sql"))]
    return tuple(out)


def check_models(models: Iterable[Model]) -> None:
    """The layer rules; every breach listed at once."""
    models = list(models)
    by_name: dict[str, Model] = {}
    problems: list[str] = []
    for m in models:
        if m.name in by_name:
            problems.append(f"{m.where()}: a model named {m.name} exists already ({by_name[m.name].where()})")
        by_name[m.name] = m
    for m in models:
        if m.sources and m.schema != "staging":
            problems.append(f"{m.where()}: only staging models read raw sources; read the staging model instead")
        for r in m.refs:
            up = by_name.get(r)
            if up is None:
                problems.append(f"{m.where()}: ref({r!r}) names no model")
            elif up.layer > m.layer:
                problems.append(f"{m.where()}: ref({r!r}): {m.schema} models cannot read {up.schema} models")
    if problems:
        raise KoordError("the warehouse models break the layer rules:\n" + "\n".join(f"  - {p}" for p in problems))


def build_order(models: Iterable[Model]) -> list[Model]:
    """Every model after the models it refs; otherwise in the order given (layer, then name)."""
    pending = list(models)
    names = {m.name for m in pending}
    done: set[str] = set()
    ordered: list[Model] = []
    while pending:
        ready = next((m for m in pending if all(r in done or r not in names for r in m.refs)), None)
        if ready is None:
            cycle = ", ".join(m.name for m in pending)
            raise KoordError(f"the warehouse models read each other in a cycle; among: {cycle}")
        pending.remove(ready)
        done.add(ready.name)
        ordered.append(ready)
    return ordered


def warehouse_models(extracts: tuple[Extract, ...] = EXTRACTS) -> list[Model]:
    """Every model of a build on `extracts` (the delivered ones), checked, in build order."""
    models = [*staging_models(extracts), *sql_models()]
    check_models(models)
    return build_order(models)


def upstream(models: Iterable[Model], names: Iterable[str]) -> set[str]:
    """The models `names` read, directly or through others (the names themselves excluded)."""
    by_name = {m.name: m for m in models}
    seen: set[str] = set()
    todo = [r for n in names for r in by_name[n].refs]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += by_name[n].refs
    return seen


@lru_cache(maxsize=1)
def extracts_read() -> tuple[str, ...]:
    """The raw extracts the build reads: sources of the staging models the other models need.

    Extracts no model reads (the survey, AF) are staged when delivered but not required; an
    optional extract (`scb_bakgrund`) is read when delivered and not required.
    """
    models = warehouse_models(EXTRACTS)
    needed = upstream(models, [m.name for m in models if m.schema != "staging"])
    read = {table for m in models if m.name in needed for _schema, table in m.sources}
    return tuple(ex.name for ex in EXTRACTS if ex.name in read and not ex.optional)


@dataclass(frozen=True)
class RenderedModel:
    """A model with its SQL for one build."""

    model: Model
    sql: str


def render_models(ctx: BuildContext, models: list[Model]) -> list[RenderedModel]:
    """Every model's SQL for this study and delivery, in the order given."""
    qualified = {m.name: m.qualified for m in models}
    variables = model_vars(ctx)
    return [RenderedModel(m, render(m, qualified, variables)) for m in models]
