"""The extract contracts and code lists are complete and consistent with extracts.md."""

import re

import pytest

from data_schemas import codes
from data_schemas.extracts import EXTRACTS, extract, match_file_stem

EXPECTED_EXTRACTS = {
    "scb_lisa", "scb_bakgrund", "scb_dodsorsak", "scb_migrationer", "fk_midas_sjukpenning", "fk_midas_ersattning",
    "fk_samverkan", "vard_kontakter", "af_inskrivning", "skv_agi_manad", "enkat_samverkan",
    "enkat_urval",  # the evaluators' own survey frame, not in extracts.md
}


def test_every_extract_of_the_specification_is_declared():
    assert {e.name for e in EXTRACTS} == EXPECTED_EXTRACTS


@pytest.mark.parametrize("ex", EXTRACTS, ids=lambda e: e.name)
def test_extract_declaration_is_well_formed(ex):
    assert ex.grain.startswith("one row per")
    assert ex.staging_table.startswith("stg_")
    names = [c.name.lower() for c in ex.columns]
    assert len(names) == len(set(names)), "duplicate column"
    stg = [c.stg_name for c in ex.columns]
    assert len(stg) == len(set(stg))
    for c in ex.columns:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", c.stg_name), c.stg_name
        if c.dtype == "code":
            assert c.allowed_codes(), f"{ex.name}.{c.name}: empty code list"
    for rule in ex.periods:
        assert ex.column(rule.start).dtype == "date" and ex.column(rule.end).dtype == "date"
    if ex.person_level:
        assert ex.columns[0].is_person_key and ex.columns[0].stg_name == "person_id"


def test_file_stems_name_their_extract():
    assert match_file_stem("scb_lisa_2021") == (extract("scb_lisa"), 2021)
    assert match_file_stem("FK_MIDAS_SJUKPENNING")[0].name == "fk_midas_sjukpenning"
    assert match_file_stem("scb_lisa") is None  # yearly extract without a year
    assert match_file_stem("something_else") is None


def test_the_21_regions():
    regions = codes.regions()
    assert len(regions) == 21
    assert {r.code for r in regions} >= {"01", "09", "12", "14", "25"}
    assert next(r for r in regions if r.code == "14").name == "Västra Götaland"
    assert sum(r.population_2023 for r in regions) == pytest.approx(10.55e6, rel=0.01)


@pytest.mark.parametrize(
    "raw, canonical",
    [("F43.8A", "F438A"), ("F438A", "F438A"), ("f32.1", "F321"), ("M54-", "M54"), (" F41 ", "F41"),
     ("", None), (None, None), ("XYZ", None), ("F4", None)],
)
def test_icd10_normalisation(raw, canonical):
    assert codes.normalise_icd10(raw) == canonical


@pytest.mark.parametrize(
    "code, group, chapter",
    [("F321", "depression", "psychiatric"), ("F330", "depression", "psychiatric"), ("F410", "anxiety", "psychiatric"),
     ("F438A", "stress", "psychiatric"), ("F200", "other_psychiatric", "psychiatric"), ("M545", "back_pain", "musculoskeletal"),
     ("M179", "other_musculoskeletal", "musculoskeletal"), ("C509", "neoplasms", "other"), ("D489", "neoplasms", "other"),
     ("S822", "injuries", "other"), ("Z730", "other_chapters", "other"), (None, "unknown", "unknown")],
)
def test_diagnosis_groups(code, group, chapter):
    assert codes.diagnosis_group_of(code) == group
    assert codes.chapter_group_of(group) == chapter


def test_sql_and_python_diagnosis_mapping_agree():
    import duckdb

    samples = ["F43.8A", "f32.1", "M54-", "C50", "Z73.0", "", "bad", "T98", "U071"]
    con = duckdb.connect()
    con.execute("create table t (raw varchar)")
    con.executemany("insert into t values (?)", [[s] for s in samples])
    sql = f"select raw, {codes.normalise_icd10_sql('raw')} as c from t"
    got = dict(con.execute(sql).fetchall())
    for s in samples:
        assert got[s] == codes.normalise_icd10(s), s
    grp = con.execute(f"select c, {codes.diagnosis_group_sql('c')} from ({sql})").fetchall()
    for c, g in grp:
        assert g == codes.diagnosis_group_of(c)


def test_data_dictionary_covers_every_declared_column():
    from data_schemas.dictionary import dictionary_rows, render_markdown

    rows = dictionary_rows()
    for ex in EXTRACTS:
        table = f"{ex.name}_<ÅÅÅÅ>" if ex.yearly else ex.name
        declared = {c.name for c in ex.columns}
        assert declared == {r.column for r in rows if r.table == table}
    md = render_markdown()
    assert "`InsjuknandeDatum`" in md and "21 regionkoder" in md  # regions summarised, not listed
    assert "1 = Man" in md and "2 = Kvinna" in md
