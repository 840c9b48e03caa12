"""The contracts of the analysis tables: declared fully, and every kind of breach is caught."""

import pytest

from data_schemas.tables import TABLES, check_contract, contract_breaches
from koord.errors import ContractViolation


def test_every_table_states_its_grain_key_and_documents_every_column():
    for t in TABLES:
        assert t.grain.startswith("one row per"), t.name
        assert set(t.key) <= set(t.column_names)
        assert len(set(t.column_names)) == len(t.column_names)
        for c in t.columns:
            assert c.description.strip(), f"{t.name}.{c.name}"


@pytest.fixture
def built(raw):
    for lopnr, sex in ((1, "woman"), (2, "man")):
        raw.person(lopnr, sex=sex)
        raw.period(lopnr, "2020-01-01", "2020-03-31")
        raw.contact(lopnr, "2020-02-01")
    raw.build()
    for t in TABLES:
        check_contract(raw.con, t)
        assert contract_breaches(raw.con, t.name) == []
    return raw


def test_broken_rows_rules_and_checks_are_all_listed(built):
    con = built.con
    con.execute("update main.spells set followup_days = followup_days + 1, diagnosis_group = 'gout' where person_id = 1")
    breaches = contract_breaches(con, "spells")
    assert any("rule 'followup_days = end_date - spell_start_date + 1': 1 rows" in b for b in breaches)
    assert any("column diagnosis_group: 1 rows hold a value outside" in b and "'gout'" in b for b in breaches)
    # the person-time check sees that days at risk no longer add up to followup_days
    assert any("days at risk of a spell sum to its followup_days" in b for b in contract_breaches(con, "person_time"))


def test_a_repeated_key_and_wrong_columns_are_caught(built):
    con = built.con
    con.execute("insert into main.persons select * from main.persons where person_id = 1")
    con.execute("alter table main.attrition add column note varchar")
    con.execute("alter table main.attrition drop column description_sv")
    with pytest.raises(ContractViolation) as err:
        check_contract(con, "persons")
    assert "key (person_id) is not unique: 1 values repeat" in str(err.value)
    assert str(err.value).startswith("main.persons breaks its contract")
    breaches = contract_breaches(con, "attrition")
    assert "main.attrition: column description_sv is missing" in breaches
    assert "main.attrition: column note is not declared in data_schemas/tables.py" in breaches


def test_an_event_off_the_last_interval_or_a_wrong_type_is_caught(built):
    con = built.con
    con.execute("update main.person_time set event_death = 1 where start_day = 0")
    assert any("events: one on the last interval" in b for b in contract_breaches(con, "person_time"))
    con.execute("alter table main.persons alter birth_year type bigint")
    assert "main.persons: column birth_year is BIGINT, expected INTEGER" in contract_breaches(con, "persons")


def test_a_missing_table(built):
    built.con.execute("drop table main.person_time")
    assert contract_breaches(built.con, "person_time") == ["main.person_time: the table does not exist"]
