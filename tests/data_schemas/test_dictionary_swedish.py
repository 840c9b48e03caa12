"""The data dictionary is in Swedish (issue 15): every contract carries a Swedish text next to its English one."""

from __future__ import annotations

import re

import pytest

from data_schemas.dictionary import DTYPE_SV, dictionary_rows, dtype_sv, render_markdown
from data_schemas.extracts import DTYPES, EXTRACTS
from data_schemas.tables import TABLES
from reports.sections.appendix import dictionary_view

# Common English words that are not also Swedish words (so "per", "man", "region" are not among them).
ENGLISH_WORDS = ("the", "of", "and", "which", "when", "with", "or", "is", "are", "to", "from", "if", "not", "by",
                 "at", "its", "their", "whose", "this", "that", "none", "only", "before", "after", "spell",
                 "days", "day", "first", "last", "date", "year", "age", "group", "level", "levels", "care", "unit",
                 "empty", "code", "codes", "contact", "event", "events", "name", "rows", "remaining", "know", "answer",
                 "number", "person's", "has", "have", "been", "per cent")
_ENGLISH = re.compile(r"\b(" + "|".join(re.escape(w) for w in ENGLISH_WORDS) + r")\b", re.IGNORECASE)
# Not running text: quoted values ('continue'), identifiers (spell_start_date, spells.end_reason, t_c), paths.
_NOT_PROSE = re.compile(r"(?<!\w)'[^']*'(?!\w)|\S*[_/]\S*|\w+\.\w[\w.]*")


def english_words(text: str) -> list[str]:
    """The English words of a text meant to be Swedish (identifiers and quoted values left out)."""
    return [m.group(0) for m in _ENGLISH.finditer(_NOT_PROSE.sub(" ", text))]


def _extract_columns():
    return [(e.name, c) for e in EXTRACTS for c in e.columns]


def _table_columns():
    return [(t.name, c) for t in TABLES for c in t.columns]


def test_the_heuristic_flags_english_and_passes_swedish():
    assert english_words("one row per person registered in Sweden on 31 December of the year, aged 16 or more")
    assert english_words("Date follow-up of the spell ends: its event or censoring (see end_reason).")
    assert english_words("Cash pay in SEK; NULL when none.") == ["when", "none"]
    assert not english_words("Datum då sjukfallets uppföljning slutar: vid händelse eller censurering (se end_reason).")
    assert not english_words("Med återfallsregeln 'continue' (standard) fortsätter uppföljningen; spells.end_reason, t_c.")
    # It recognises nearly all of the contracts' own English descriptions (the short rest is caught by
    # description_sv differing from description).
    english = [c.description for _, c in _extract_columns() + _table_columns()]
    assert sum(bool(english_words(d)) for d in english) >= 0.9 * len(english)


def assert_swedish_description(owner: str, column) -> None:
    sv = column.description_sv
    assert sv.strip(), f"{owner}.{column.name} has no description_sv"
    assert sv != column.description, f"{owner}.{column.name}: description_sv is the English text"
    assert not english_words(sv), f"{owner}.{column.name}: English in {sv!r}"


@pytest.mark.parametrize(("owner", "column"), _extract_columns(), ids=lambda v: getattr(v, "name", v))
def test_every_extract_column_has_a_swedish_description(owner, column):
    assert_swedish_description(owner, column)
    if column.refused_names:
        assert column.refused_reason_sv and not english_words(column.refused_reason_sv)


@pytest.mark.parametrize(("owner", "column"), _table_columns(), ids=lambda v: getattr(v, "name", v))
def test_every_analysis_table_column_has_a_swedish_description(owner, column):
    assert_swedish_description(owner, column)


def test_every_extract_and_table_has_a_swedish_grain_and_caveats():
    for owner in (*EXTRACTS, *TABLES):
        assert owner.grain_sv.startswith("en rad per "), owner.name
        assert not english_words(owner.grain_sv), f"{owner.name}: English in {owner.grain_sv!r}"
    for e in EXTRACTS:
        assert len(e.caveats_sv) == len(e.caveats), e.name
        for caveat in e.caveats_sv:
            assert not english_words(caveat), f"{e.name}: English in {caveat!r}"


def test_the_dictionary_rows_are_swedish_and_keep_the_english():
    rows = dictionary_rows()
    assert len(rows) == len(_extract_columns()) + len(_table_columns())
    english = {e.grain for e in EXTRACTS} | {t.grain for t in TABLES}
    for r in rows:
        assert r.grain not in english and r.grain.startswith("en rad per "), (r.table, r.grain)
        assert r.description and r.description_en and r.description != r.description_en, (r.table, r.column)
        assert r.dtype_sv == dtype_sv(r.dtype) and r.dtype_sv != r.dtype.upper(), (r.table, r.dtype)
    lisa = {r.column: r for r in rows if r.table == "scb_lisa_<ÅÅÅÅ>"}
    assert "'SyssStat11' (t.o.m. 2018), 'SyssStat19' (fr.o.m. 2019)" in lisa["SyssStat"].description
    assert "(den detaljerade tresiffriga SUN-koden" in lisa["Sun2000Niva"].description


def test_every_type_has_swedish_words():
    assert set(DTYPES) <= set(DTYPE_SV)
    assert {c.sql_type for t in TABLES for c in t.columns} <= set(DTYPE_SV)
    assert (dtype_sv("BIGINT"), dtype_sv("BOOLEAN"), dtype_sv("date"), dtype_sv("code")) == ("heltal", "sant/falskt", "datum", "kod")


def test_the_markdown_dictionary_is_swedish():
    md = render_markdown()
    assert "one row per" not in md and "Granularitet: en rad per vårdkontakt." in md
    assert "Kända förbehåll:" in md and "insjuknanderegeln, SFB 27:32" in md
    assert "An employee's first 14 days" not in md
    assert "| heltal (`BIGINT`) |" in md


def test_the_report_dictionary_has_no_english_grain_and_swedish_types():
    view = dictionary_view()
    english = {e.grain for e in EXTRACTS} | {t.grain for t in TABLES}
    titles = [g.title for g in view.groups]
    assert len(titles) == len(EXTRACTS) + len(TABLES)
    for title in titles:
        grain = title.split("): ", 1)[1]
        assert grain not in english and grain.startswith("en rad per "), title
        assert not english_words(grain), title
    types = {row.cells[0].text for g in view.groups for row in g.rows}
    assert not {t for t in types if re.search(r"\b([A-Z]{4,}|integer|decimal|code|date)\b", t)}, types
    assert "sant/falskt, får inte saknas" in types and "heltal, får inte saknas" in types
