"""The warehouse's SQL models: derived order and reads, layer rules, vars, and SQL that runs on its own."""

import re
from datetime import date

import duckdb
import pytest

from data_schemas.extracts import EXTRACTS
from data_schemas.study import Study
from data_schemas.tables import TABLES
from koord.errors import KoordError
from pipeline.cli import main
from pipeline.warehouse_models.model import BuildContext, Model
from pipeline.warehouse_models.project import (
    build_order,
    check_models,
    extracts_read,
    render_models,
    sql_models,
    warehouse_models,
)
from pipeline.warehouse_models.render import SQL_DIR, sql_value
from pipeline.warehouse_models.variables import model_vars

STUDIES = {
    "default": Study(),
    "other choices": Study(gap_days=90, include_rhp=False, fsjp_rule="include", relapse_window_days=10,
                           return_to_work="earnings_confirmed", time_bands=(0, 30, 90), min_spell_days=0),
}


@pytest.mark.parametrize("study", STUDIES.values(), ids=STUDIES.keys())
def test_every_model_renders_and_the_derived_order_puts_each_ref_before_its_user(study):
    models = warehouse_models()
    rendered = render_models(BuildContext(study, date(2025, 3, 15)), models)
    position = {r.model.name: i for i, r in enumerate(rendered)}
    assert len(position) == len(rendered) == len(EXTRACTS) + len(sql_models())
    for r in rendered:
        for ref in r.model.refs:
            assert position[ref] < position[r.model.name], (ref, r.model.name)
        assert "{{" not in r.sql and "{%" not in r.sql and "{#" not in r.sql, r.model.name
        assert r.model.grain.startswith("one row per"), r.model.name
    # a reordering of the input changes nothing but ties: refs still come first
    shuffled = build_order(list(reversed(models)))
    done: set[str] = set()
    for m in shuffled:
        assert set(m.refs) <= done, m.name
        done.add(m.name)


def test_the_extracts_read_are_derived_from_the_refs():
    assert extracts_read() == (
        "scb_lisa", "scb_dodsorsak", "scb_migrationer", "fk_midas_sjukpenning", "fk_midas_ersattning",
        "fk_samverkan", "vard_kontakter", "af_inskrivning", "skv_agi_manad",
    )  # not the survey: staged when delivered, read by no model; AF's registrations by issue 13's spells


def test_every_analysis_table_is_a_model_with_its_contracts_grain():
    main_models = {m.name: m for m in sql_models() if m.schema == "main"}
    for t in TABLES:
        assert t.name in main_models, t.name
        assert main_models[t.name].grain == t.grain, t.name


def test_the_sql_files_name_no_table_but_through_ref_and_source():
    """Upstream tables are never written out: a schema-qualified name outside ref()/source() is a slip."""
    qualified = re.compile(r"\b(raw|staging|intermediate|main)\.[a-z_]\w*", re.IGNORECASE)
    files = sorted(SQL_DIR.rglob("*.sql"))
    assert len(files) > 10
    for path in files:
        code = "\n".join(line.split("--")[0] for line in path.read_text(encoding="utf-8").splitlines())
        assert not qualified.search(code), f"{path}: {qualified.search(code).group(0)}"


def test_vars_render_as_sql_literals():
    assert sql_value(5) == "5" and sql_value(True) == "true" and sql_value(None) == "null"
    assert sql_value("O'Brien") == "'O''Brien'"
    assert sql_value(date(2025, 3, 31)) == "date '2025-03-31'"
    assert sql_value(["SJP", "RHP"]) == "'SJP', 'RHP'"
    assert sql_value([("0-14", 0, 15), ("15+", 15, None)]) == "('0-14', 0, 15), ('15+', 15, null)"
    variables = model_vars(BuildContext(Study(), date(2025, 3, 31)))
    assert variables["prior_sick_leave_days"] == 365 and variables["first_days_window"] == 90


def _model(name, template, schema="intermediate"):
    return Model(schema, name, grain="one row per test", template=template)


def test_reads_are_parsed_and_must_be_literal():
    m = _model("int_x", "select * from {{ ref('int_a') }} join {{ ref(\"int_b\") }} using (id) -- {{ ref('int_a') }}")
    assert m.refs == ("int_a", "int_b")
    with pytest.raises(KoordError, match=r"ref\(\) takes 1 literal text"):
        _model("int_y", "{% set n = 'int_a' %}select * from {{ ref(n) }}").refs


def test_unknown_vars_and_models_are_errors():
    ctx = BuildContext(Study(), date(2025, 3, 31))
    with pytest.raises(KoordError, match=r"var\('gap_day'\) is not defined"):
        render_models(ctx, [_model("int_x", "select {{ var('gap_day') }}")])
    with pytest.raises(KoordError, match="undefined"):
        render_models(ctx, [_model("int_x", "select {{ gap_days }}")])
    with pytest.raises(KoordError, match="names no model"):
        check_models([_model("int_x", "select * from {{ ref('int_nowhere') }}")])


def test_the_layer_rules_and_cycles_are_errors():
    staging = _model("stg_a", "select * from {{ source('raw', 'a') }}", schema="staging")
    with pytest.raises(KoordError) as err:
        check_models([
            staging,
            _model("int_raw", "select * from {{ source('raw', 'a') }}"),
            _model("int_late", "select * from {{ ref('mart') }}"),
            _model("mart", "select * from {{ ref('stg_a') }}", schema="main"),
        ])
    message = str(err.value)
    assert "int_raw" in message and "only staging models read raw sources" in message
    assert "ref('mart'): intermediate models cannot read main models" in message
    with pytest.raises(KoordError, match="cycle"):
        build_order([_model("int_a", "{{ ref('int_b') }}"), _model("int_b", "{{ ref('int_a') }}")])


def test_each_rendered_sql_file_runs_in_plain_duckdb_and_gives_the_built_table(make_raw, tmp_path, capsys):
    path = tmp_path / "w.duckdb"
    raw = make_raw(path=str(path))
    for lopnr, sex in ((1, "woman"), (2, "man")):
        raw.person(lopnr, sex=sex)
        raw.period(lopnr, "2020-01-15", "2020-02-29", sick_start="2020-01-01")
        raw.period(lopnr, "2020-03-04", "2020-05-31", extent="50")
        raw.contact(lopnr, "2020-02-10")
        raw.collaboration(lopnr, "2020-02-20")
    raw.earnings(1, "202006", 30000)
    raw.build()
    raw.con.close()
    out = tmp_path / "sql"
    assert main(["build", "--warehouse", str(path), "--write-sql", str(out)]) == 0
    assert f"the SQL of {len(EXTRACTS) + len(sql_models())} models written" in capsys.readouterr().out
    files = sorted(out.rglob("*.sql"))
    assert {f.parent.name for f in files} == {"staging", "intermediate", "analysis"}
    con = duckdb.connect(str(path), read_only=True)
    try:
        for f in files:
            table = f"{'main' if f.parent.name == 'analysis' else f.parent.name}.{f.stem}"
            sql = f.read_text(encoding="utf-8")
            assert sql.startswith(f"-- {f.stem}")
            got = con.execute(sql).fetchall()
            assert got == con.execute(f"select * from {table}").fetchall(), table  # rows and their order
    finally:
        con.close()
