"""The section registry: each report section collects its outputs and renders from checked ones only.

A section is a module in this package that calls `register(Section(...))`. The builder imports
every module here, collects all sections' outputs, checks them all together (so links between
sections hold), then renders each section from the checked outputs. A new analysis adds a
module; the builder does not change.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from koord.errors import DisclosureError
from reports.disclosure import CheckedOutput, DisclosureRules, Output, RunInfo
from reports.inputs import ReportInputs, ReportMeta


@dataclass(frozen=True)
class RenderContext:
    """What a section may render from: checked outputs and metadata without counts.

    Constructing it with anything but `CheckedOutput` values raises `DisclosureError`.
    """

    checked: Mapping[str, CheckedOutput]
    meta: ReportMeta
    rules: DisclosureRules
    run: RunInfo
    env: jinja2.Environment
    # Numbers quoted in running text and captions: (source output id, where, the text shown),
    # written to the output-check log beside the tables they are read from.
    cited: list[tuple[str, str, str]] = field(default_factory=list)
    # Detailed tables a section sends to the table appendix (`defer`), in the order deferred;
    # the builder places them and refers to them at the end of the section's chapter.
    deferred: list[Any] = field(default_factory=list)
    # The numbers each chapter quotes (its cited texts, by section key): the summary and the
    # conclusions, rendered after the chapters (`Section.summarises`), restate them.
    findings: dict[str, Any] = field(default_factory=dict)
    # Where each section stands: section key -> "kapitel 3" / "bilaga 1" (`reports.structure`).
    places: Mapping[str, str] = field(default_factory=dict)

    def where(self, section_key: str) -> str:
        """'kapitel 3' or 'bilaga 1' for a section; 'ett annat kapitel' when it is not in the report."""
        return self.places.get(section_key, "ett annat kapitel")

    def __post_init__(self) -> None:
        for key, value in self.checked.items():
            if not isinstance(value, CheckedOutput):
                raise DisclosureError(
                    f"output {key!r} reached the report without disclosure control ({type(value).__name__})"
                )

    def get(self, output_id: str) -> CheckedOutput | None:
        return self.checked.get(output_id)

    def summary(self, output_id: str) -> pd.DataFrame | None:
        """The published summary table of a checked model output; None when it is absent or blocked."""
        checked = self.checked.get(output_id)
        if checked is None or checked.is_blocked:
            return None
        return checked.table("summary")

    def cite(self, output_id: str, where_sv: str, text: str) -> str:
        """Record a number quoted in text, read from checked output ``output_id``; returns ``text``."""
        source = self.checked.get(output_id)
        if source is None or source.is_blocked:
            raise DisclosureError(f"the text quotes output {output_id!r}, which is not a checked, published output")
        self.cited.append((output_id, where_sv, text))
        return text

    def defer(self, view: Any) -> str:
        """Send a table (a `reports.views.TableView`) to the table appendix; returns "" for the template."""
        self.deferred.append(view)
        return ""

    def deferred_html(self) -> Markup:
        """The deferred tables as the table appendix prints them (for a section's tests)."""
        macros = self.env.get_template("_macros.html.j2").module
        return Markup("\n").join(Markup(macros.table(v)) for v in self.deferred)

    def with_prefix(self, prefix: str) -> list[CheckedOutput]:
        return [c for k, c in self.checked.items() if k.startswith(prefix)]

    def render(self, template: str, **values: Any) -> Markup:
        return Markup(self.env.get_template(template).render(ctx=self, rules=self.rules, meta=self.meta, **values))


@dataclass(frozen=True)
class Section:
    """One section of the report.

    Attributes
    ----------
    key : str
        Anchor id and template name (``templates/sections/<key>.html.j2`` by convention).
    title_sv : str
        The heading (h2).
    order : int
        Position in the report.
    collect : callable
        ``collect(inputs) -> [Output, ...]``: the unchecked outputs the section needs, built
        from aggregate queries. Sections whose inputs are missing return none.
    render : callable
        ``render(ctx) -> Markup``: the section's HTML below its heading, from ``ctx.checked``.
    """

    key: str
    title_sv: str
    order: int
    collect: Callable[[ReportInputs], Sequence[Output]]
    render: Callable[[RenderContext], Markup]
    summarises: bool = False  # rendered after every other section, from ctx.findings


_REGISTRY: dict[str, Section] = {}


def register(section: Section) -> Section:
    if section.key in _REGISTRY and _REGISTRY[section.key] is not section:
        raise ValueError(f"report section {section.key!r} registered twice")
    _REGISTRY[section.key] = section
    return section


def registered_sections() -> list[Section]:
    """Every section of this package, in report order."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return sorted(_REGISTRY.values(), key=lambda s: (s.order, s.key))


def no_outputs(inputs: ReportInputs) -> Sequence[Output]:
    """`collect` of a section that shows no numbers from the warehouse."""
    return ()
