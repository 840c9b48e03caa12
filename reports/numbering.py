"""Number the report's tables and figures (Tabell 1, Figur 1) and fill the text's references to them.

Sections write tables with an id and a caption and figures with an id and a figcaption
(`templates/_macros.html.j2`), and refer to them in running text with the ``ref`` macro
(``<a class="ref" href="#id"></a>``). Numbers depend on the order of the whole document, which a
section cannot know, so they are given here, once the chapters are assembled: in document
order, one series for tables and one for figures, the same in HTML and PDF.

`number_document` also says which numbered tables and figures no text refers to and which
references point at nothing; `reports.builder` reports both, and the tests fail on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TABLE = re.compile(r'<table id="(?P<id>[^"]+)"(?P<attrs>[^>]*)>\s*<caption>')
_FIGURE = re.compile(r'<figure id="(?P<id>[^"]+)"(?P<attrs>[^>]*)>(?P<body>.*?)<figcaption>(?P<lead>(?:Figur\.\s*)?)', re.S)
_REF = re.compile(r'<a class="ref" href="#(?P<id>[^"]+)">(?P<text>[^<]*)</a>')


@dataclass(frozen=True)
class Numbering:
    """What `number_document` found: the numbers given and the references' loose ends."""

    tables: dict[str, int]
    figures: dict[str, int]
    referenced: frozenset[str]
    dangling: tuple[str, ...]  # references to an id that is neither a numbered table nor a figure

    def label(self, element_id: str) -> str | None:
        if element_id in self.tables:
            return f"tabell {self.tables[element_id]}"
        if element_id in self.figures:
            return f"figur {self.figures[element_id]}"
        return None

    def unreferenced(self, ids: set[str] | None = None) -> list[str]:
        """Numbered tables and figures (optionally only those in ``ids``) that no text refers to."""
        numbered = [*self.tables, *self.figures]
        return [i for i in numbered if i not in self.referenced and (ids is None or i in ids)]


def number_document(html: str) -> tuple[str, Numbering]:
    """``html`` with "Tabell N." / "Figur N." before each caption and each reference's text filled."""
    tables: dict[str, int] = {}
    figures: dict[str, int] = {}

    def table(m: re.Match) -> str:
        tables.setdefault(m["id"], len(tables) + 1)
        return f'<table id="{m["id"]}"{m["attrs"]}>\n<caption><span class="number">Tabell {tables[m["id"]]}.</span> '

    def figure(m: re.Match) -> str:
        figures.setdefault(m["id"], len(figures) + 1)
        return (f'<figure id="{m["id"]}"{m["attrs"]}>{m["body"]}<figcaption>'
                f'<span class="number">Figur {figures[m["id"]]}.</span> ')

    html = _TABLE.sub(table, html)
    html = _FIGURE.sub(figure, html)
    referenced, dangling = set(), []
    numbering = Numbering(tables, figures, frozenset(), ())

    def ref(m: re.Match) -> str:
        label = numbering.label(m["id"])
        if label is None:
            dangling.append(m["id"])
            return m["text"]
        referenced.add(m["id"])
        text = label if not m["text"] or m["text"].islower() else label.capitalize()
        return f'<a class="ref" href="#{m["id"]}">{text}</a>'

    html = _REF.sub(ref, html)
    return html, Numbering(tables, figures, frozenset(referenced), tuple(dangling))


__all__ = ["Numbering", "number_document"]
