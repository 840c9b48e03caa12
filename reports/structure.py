"""The report's chapters: the structure of an ISF / Vård- och omsorgsanalys report, declared once.

Sections (`reports.sections`) are the units that collect and render; a chapter is what the
reader sees: a numbered heading in the table of contents, one or more sections under it. The
order follows the mandate: summary, introduction, data and method, one chapter per question
(1 return to work, 2 regions, 3 collaboration, 4 needs and timing), conclusions, the grounds
for proposals (question 5), then the appendices. A section not listed here still reaches the
report, as a chapter of its own before the appendices (the tests require every section to be
placed, so that happens only to a study's own additions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    """A chapter of the report.

    Attributes
    ----------
    key : str
        Anchor id of the chapter heading.
    title_sv : str
        The heading, without its number.
    sections : tuple of str
        Keys of the sections under it, in order. A chapter of one section shows that section
        without a heading of its own; with several, each section gets a sub-heading.
    appendix : bool
        An appendix ("Bilaga N"), after the body; the body's page count excludes it.
    numbered : bool
        Numbered in the table of contents (the summary is not).
    """

    key: str
    title_sv: str
    sections: tuple[str, ...]
    appendix: bool = False
    numbered: bool = True


# The key of the appendix that holds the detailed tables of the chapters (filled by the builder).
TABLE_APPENDIX = "bilaga_tabeller"

CHAPTERS: tuple[Chapter, ...] = (
    Chapter("kap-sammanfattning", "Sammanfattning", ("sammanfattning",), numbered=False),
    Chapter("kap-inledning", "Inledning", ("uppdraget",)),
    Chapter("kap-data", "Data och metod", ("data", "population")),
    Chapter("kap-fraga1", "Koordinering och återgång i arbete", ("rtw", "undergrupper", "fore_efter")),
    Chapter("kap-fraga2", "Skillnader mellan regioner", ("regioner",)),
    Chapter("kap-fraga3", "Samverkan med Försäkringskassan, Arbetsförmedlingen, arbetsgivare och kommuner",
            ("samverkan", "enkat")),
    Chapter("kap-fraga4", "Behovsprövad och snabb insats", ("tid_och_behov",)),
    Chapter("kap-slutsatser", "Slutsatser", ("slutsatser",)),
    Chapter("kap-forslag", "Underlag för förslag", ("underlag_forslag",)),
    Chapter("kap-bilaga-metod", "Metod, diagnostik och känslighetsanalyser",
            ("metod", "begransningar", "diagnostik", "negativa_kontroller", "aterinsjuknande"), appendix=True),
    Chapter("kap-bilaga-tabeller", "Tabeller", (TABLE_APPENDIX,), appendix=True),
    Chapter("kap-bilaga-ordlista", "Ordlista", ("ordlista",), appendix=True),
    Chapter("kap-bilaga-data", "Studiens val, data, proveniens och röjandekontroll", ("bilaga",), appendix=True),
)


@dataclass(frozen=True)
class PlacedChapter:
    chapter: Chapter
    number: str  # "3" in the body, "Bilaga 2" for an appendix, "" for the summary
    sections: tuple[str, ...]  # the present sections' keys, in order

    @property
    def heading(self) -> str:
        if not self.number:
            return self.chapter.title_sv
        if self.chapter.appendix:
            return f"{self.number}. {self.chapter.title_sv}"
        return f"{self.number} {self.chapter.title_sv}"


def arrange(section_keys: Sequence[str], section_titles: dict[str, str] | None = None,
            chapters: Sequence[Chapter] = CHAPTERS) -> list[PlacedChapter]:
    """The chapters that have at least one present section, numbered; unplaced sections appended.

    ``section_keys`` are the sections the report renders (plus `TABLE_APPENDIX` when some
    tables were moved to the appendix). Unplaced sections become chapters of their own, titled
    by ``section_titles``, before the appendices.
    """
    present = list(dict.fromkeys(section_keys))
    placed = {k for c in chapters for k in c.sections}
    extra = [Chapter(f"kap-{k}", (section_titles or {}).get(k, k), (k,)) for k in present if k not in placed]
    body = [c for c in chapters if not c.appendix] + extra
    appendices = [c for c in chapters if c.appendix]
    out, n_body, n_appendix = [], 0, 0
    for chapter in (*body, *appendices):
        keys = tuple(k for k in chapter.sections if k in present)
        if not keys:
            continue
        if chapter.appendix:
            n_appendix += 1
            number = f"Bilaga {n_appendix}"
        elif chapter.numbered:
            n_body += 1
            number = str(n_body)
        else:
            number = ""
        out.append(PlacedChapter(chapter, number, keys))
    return out


def chapter_of(section_key: str, placed: Sequence[PlacedChapter]) -> PlacedChapter | None:
    return next((p for p in placed if section_key in p.sections), None)


__all__ = ["CHAPTERS", "Chapter", "PlacedChapter", "TABLE_APPENDIX", "arrange", "chapter_of"]
