"""Tiny hand-built raw layers for the build tests.

`RawDelivery` creates every `raw.*` table from `data_schemas.extracts` (declared columns and
types, the yearly `year`, the `_day_unknown` flags, `_source_file`/`_source_line`) plus
`raw._delivery` with the extraction date, and offers one method per kind of row so that a
test states only what matters for its rule. Unstated required values take plain defaults.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pandas as pd
import pytest

from data_schemas.extracts import EXTRACTS, RAW, extract
from pipeline.warehouse_models import build_warehouse
from data_schemas.study import Study

EXTRACTION_DATE = date(2025, 3, 31)
LISA_YEARS = range(2017, 2025)


def _d(value: Any) -> Any:
    return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 and value[4] == "-" else value


class RawDelivery:
    """A DuckDB warehouse with an empty raw layer, to which a test adds rows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, extraction_date: date = EXTRACTION_DATE) -> None:
        self._con = con
        self.extraction_date = extraction_date
        self._lines: dict[str, int] = {}
        self._pending: dict[str, list[dict]] = {}
        con.execute("create schema if not exists raw")
        for ex in EXTRACTS:
            cols = [f'"{c.name}" {c.raw_sql_type}' for c in ex.columns]
            cols += [f'"{c.name}{RAW.day_unknown_suffix}" BOOLEAN' for c in ex.columns if c.dtype == "date" and c.day_may_be_unknown]
            if ex.yearly:
                cols.append(f"{RAW.year} INTEGER")
            cols += [f"{RAW.source_file} VARCHAR", f"{RAW.source_line} BIGINT"]
            con.execute(f"create or replace table {ex.raw_table} ({', '.join(cols)})")
        con.execute(
            "create or replace table raw._delivery (delivery VARCHAR, extraction_date DATE, loaded_at TIMESTAMP, source VARCHAR)"
        )
        con.execute("insert into raw._delivery values ('test', ?, now(), 'tests')", [extraction_date])

    # -- generic ------------------------------------------------------------------------

    def add(self, extract_name: str, **values: Any) -> None:
        """Insert one row; unstated required, non-nullable columns get a plain default."""
        ex = extract(extract_name)
        row: dict[str, Any] = {}
        for c in ex.columns:
            if c.name in values:
                row[c.name] = _d(values.pop(c.name))
            elif c.required and not c.nullable:
                row[c.name] = {
                    "integer": 1,
                    "decimal": 1.0,
                    "text": "X1",
                    "code": c.allowed_codes()[0] if c.allowed_codes() else None,
                    "date": date(2020, 1, 1),
                    "yearmonth": "202001",
                }[c.dtype]
            if c.dtype == "date" and c.day_may_be_unknown:
                row[c.name + RAW.day_unknown_suffix] = values.pop(c.name + RAW.day_unknown_suffix, False)
        if ex.yearly:
            row[RAW.year] = values.pop("year")
        if values:
            raise TypeError(f"{extract_name} has no column(s) {sorted(values)}")
        self._lines[ex.name] = self._lines.get(ex.name, 1) + 1
        row[RAW.source_file] = f"{ex.name}.csv"
        row[RAW.source_line] = self._lines[ex.name]
        self._pending.setdefault(ex.name, []).append(row)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The connection, after the rows added so far are written (one insert per table)."""
        for name, rows in self._pending.items():
            frame = pd.DataFrame(rows)
            self._con.register("pending_rows", frame)
            self._con.execute(f"insert into {extract(name).raw_table} by name select * from pending_rows")
            self._con.unregister("pending_rows")
        self._pending = {}
        return self._con

    # -- one method per kind of row ------------------------------------------------------

    def person(self, lopnr: int, *, sex: str = "woman", birth_year: int = 1980, region: str = "01",
               years=LISA_YEARS, education: str | None = "4", income: int | None = 2500, birth_region: str | None = "1") -> None:
        """LISA rows for the given years (sex 'woman' or 'man')."""
        kon = {"man": "1", "woman": "2"}[sex]
        for y in years:
            self.add("scb_lisa", LopNr=lopnr, year=y, Kon=kon, FodelseAr=birth_year, Lan=region, Kommun=region + "80",
                     Sun2000Niva=education, DispInkPersF04=income, SyssStat="1", FodGrEg4=birth_region)

    def period(self, lopnr: int, fom: str, tom: str | None, *, sick_start: str | None = None, benefit: str = "SJP",
               extent: str = "100", diagnosis: str | None = "F32.1", occupation: str = "ANST") -> None:
        """A benefit period; `sick_start` (InsjuknandeDatum) defaults to `fom`."""
        self.add("fk_midas_sjukpenning", LopNr=lopnr, Formankod=benefit, FomDatum=fom, TomDatum=_d(tom), Omfattning=extent,
                 Diagnos=diagnosis, Sysselsattning=occupation, InsjuknandeDatum=sick_start or fom)

    def contact(self, lopnr: int, day: str, *, kva: str | None = "GC001", region: str = "01", level: str = "PV") -> None:
        self.add("vard_kontakter", LopNr=lopnr, Region=region, Vardniva=level, KontaktDatum=day, Atgarder=kva,
                 Kontakttyp="BES", Yrkesgrupp="REHAB")

    def death(self, lopnr: int, day: str) -> None:
        self.add("scb_dodsorsak", LopNr=lopnr, DodDatum=day)

    def emigration(self, lopnr: int, day: str) -> None:
        self.add("scb_migrationer", LopNr=lopnr, Datum=day, Posttyp="Utv")

    def compensation(self, lopnr: int, fom: str, tom: str | None = None, *, benefit: str = "SA") -> None:
        self.add("fk_midas_ersattning", LopNr=lopnr, Formankod=benefit, FomDatum=fom, TomDatum=_d(tom), Omfattning="100")

    def collaboration(self, lopnr: int, day: str, kind: str = "AVST") -> None:
        self.add("fk_samverkan", LopNr=lopnr, HandelseDatum=day, HandelseTyp=kind)

    def earnings(self, lopnr: int, month: str, pay: int, employer: str = "E1") -> None:
        self.add("skv_agi_manad", LopNr=lopnr, Period=month, ArbetsgivarId=employer, KontantErsattning=pay)

    # -- build and read ------------------------------------------------------------------

    def build(self, study: Study | None = None, **choices: Any):
        """Run the build with the default study, or with `choices` replacing its values."""
        study = study or Study(**choices)
        return build_warehouse(self.con, study, progress=lambda _line: None)

    def spells(self, lopnr: int | None = None) -> list[dict]:
        where = f"where person_id = {int(lopnr)}" if lopnr is not None else ""
        return self.rows(f"select * from main.spells {where} order by spell_id")

    def spell(self, lopnr: int) -> dict:
        rows = self.spells(lopnr)
        assert len(rows) == 1, f"person {lopnr}: expected one spell, got {len(rows)}: {rows}"
        return rows[0]

    def rows(self, sql: str) -> list[dict]:
        cur = self.con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


@pytest.fixture(scope="session")
def new_raw():
    """A factory of empty raw layers: `new_raw(extraction_date=..., path=...)`; usable by module fixtures."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def factory(extraction_date: date = EXTRACTION_DATE, path: str = ":memory:") -> RawDelivery:
        con = duckdb.connect(path)
        opened.append(con)
        return RawDelivery(con, extraction_date)

    yield factory
    for con in opened:
        con.close()


@pytest.fixture
def raw(new_raw) -> RawDelivery:
    return new_raw()


@pytest.fixture
def make_raw(new_raw):
    return new_raw
