"""Checks on the text a reader sees in the printed report (the PDF), as the ministry would read it.

Three things a reader notices and a check on the HTML alone cannot see:

- **internal identifiers**: the project's names of analyses and columns (``tv_cox``,
  ``naive_ever``, ``spell_start_date``) in the chapters, where only Swedish words belong. The
  appendix with the data dictionary and the provenance names columns and files by design, so
  the chapters are checked for every snake_case word and the whole report for analysis ids;
- **words broken inside a table cell**: a narrow column that splits a word without a hyphen
  ("Kolu" / "mn"). Every word of the PDF, once lines broken at a hyphen are joined again, must
  be a word of the HTML the PDF was printed from;
- **tables and figures no text refers to**: each "Tabell N" and "Figur N" must be named again
  somewhere besides its own caption.

The text comes from pypdf (a dependency of the tests already), page by page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

AUTO_HYPHENS = "\u2010\u00ad"  # WeasyPrint prints an automatic hyphenation as U+2010; the text's own are "-"
# A word: letters not touching digits (the letters of a checksum or a code like F04 are not words).
_WORD = re.compile(r"(?<![0-9A-Za-zÅÄÖåäöÉéÜü])[A-Za-zÅÄÖåäöÉéÜü]+(?![0-9A-Za-zÅÄÖåäöÉéÜü])")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_CAPTION = re.compile(r"\b(Tabell|Figur) (\d+)\.")
_MENTION = re.compile(r"\b([Tt]abell|[Ff]igur)\s+(\d+)\b")
# Printed by the page's CSS (headers, footers, counters), not by the HTML's text.
PAGE_WORDS = frozenset({"Sida", "av"})


@dataclass(frozen=True)
class PdfText:
    pages: tuple[str, ...]
    first_appendix_page: int  # index of the first page of the appendices (len(pages) when none)

    @property
    def body(self) -> str:
        return "\n".join(self.pages[: self.first_appendix_page])

    @property
    def whole(self) -> str:
        return "\n".join(self.pages)


def read_pdf_text(path: str | Path, appendix_heading: str = "Bilaga 1.") -> PdfText:
    import pypdf  # noqa: PLC0415 - only the checks need it, and pypdf is a test dependency

    pages = tuple(page.extract_text() or "" for page in pypdf.PdfReader(str(path)).pages)
    first = next((i for i, p in enumerate(pages) if i > 1 and re.search(rf"^{re.escape(appendix_heading)}", p, re.M)),
                 len(pages))
    return PdfText(pages, first)


def internal_identifiers(text: PdfText, analysis_ids: Iterable[str]) -> list[tuple[int, str]]:
    """(page number, word): snake_case words in the chapters, and analysis ids anywhere."""
    found = []
    for i, page in enumerate(text.pages):
        if i < text.first_appendix_page:
            found += [(i + 1, w) for w in _SNAKE.findall(_joined(page))]
    ids = [a for a in analysis_ids if "_" in a]
    for i, page in enumerate(text.pages):
        joined = _joined(page)
        found += [(i + 1, a) for a in ids if re.search(rf"\b{re.escape(a)}\b", joined)]
    return sorted(set(found))


class _Words(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.words: set[str] = set()
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.words.update(_WORD.findall(data.replace("\u200b", " ")))


def html_words(html: str) -> set[str]:
    parser = _Words()
    parser.feed(html)
    return parser.words


def _joined(page: str) -> str:
    """Lines broken at a hyphen or after an underscore joined again; zero-width spaces removed."""
    page = page.replace("\u200b", "")
    page = re.sub(rf"(\w)[{AUTO_HYPHENS}]\s*\n\s*(\w)", r"\1\2", page)
    page = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1-\2", page)  # "p-värde" broken at its own hyphen
    return re.sub(r"_\s*\n\s*", "_", page)


def broken_words(text: PdfText, html: str) -> list[tuple[int, str]]:
    """(page number, word) for each word of the PDF that the HTML does not have: a word split in print."""
    known = html_words(html) | PAGE_WORDS
    out = []
    for i, page in enumerate(text.pages):
        for word in _WORD.findall(_joined(page)):
            if word not in known:
                out.append((i + 1, word))
    return out


def unreferenced(text: PdfText) -> list[str]:
    """"Tabell N" / "Figur N" whose number appears nowhere but in its own caption."""
    whole = _joined(text.whole)
    captions = {(kind, int(n)) for kind, n in _CAPTION.findall(whole)}
    mentions: dict[tuple[str, int], int] = {}
    for kind, n in _MENTION.findall(whole):
        key = (kind.capitalize(), int(n))
        mentions[key] = mentions.get(key, 0) + 1
    return [f"{kind} {n}" for kind, n in sorted(captions) if mentions.get((kind, n), 0) < 2]


def describe(found: Sequence[tuple[int, str]], limit: int = 12) -> str:
    return "; ".join(f"s. {page}: {word}" for page, word in found[:limit]) + (" …" if len(found) > limit else "")


__all__ = ["PdfText", "broken_words", "describe", "html_words", "internal_identifiers", "read_pdf_text", "unreferenced"]
