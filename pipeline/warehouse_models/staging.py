"""Staging models: one view per raw extract, renamed to the project's names, cast and recoded.

Generated in Python from the contracts in `data_schemas.extracts` (not written as `.sql` files),
so a column is named, typed and recoded in one place: the contract. Each reads its raw table
through `{{ source('raw', <extract>) }}` like any model.

No joins and no filters: every raw row reaches staging. An optional extract (`Extract.optional`,
`scb_bakgrund`) that a delivery lacks is staged as an empty view of the same columns
(`staging_sql(ex, delivered=False)`), so the models that read it need no second form. Recodes: `Kon` to sex ('woman'/'man'),
extent and SUN levels to INTEGER, region codes with their names, ICD-10 codes normalised and
grouped, KVÅ codes split with a flag per known code, yes/no codes to BOOLEAN, `YYYYMM` months
to the month's first day.
"""

from __future__ import annotations

from data_schemas.codes import (
    chapter_group_sql,
    code_list,
    codes,
    diagnosis_group_sql,
    normalise_icd10_sql,
    regions,
)
from data_schemas.extracts import EXTRACTS, RAW, Column, Extract
from data_schemas.tables import SEX_BY_CODE
from koord.sql import sql_string
from pipeline.warehouse_models.model import Model

SCHEMA = "staging"
# Separators between codes in one field: the contract says spaces; commas are accepted too.
ICD_SEPARATORS = r"[\s,]+"
KVA_SEPARATORS = r"[\s,;]+"


def _q(name: str) -> str:
    return '"' + name + '"'


def _case(expr: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"when '{k}' then '{v.replace(chr(39), chr(39) * 2)}'" for k, v in mapping.items())
    return f"case {expr} {whens} end"


def _tokens(expr: str, separators: str) -> str:
    """Non-empty tokens of a text split on `separators` (a regex character class)."""
    return f"list_filter(regexp_split_to_array(trim({expr}), '{separators}'), lambda t: t <> '')"


def _column(c: Column) -> tuple[list[str], list[str]]:
    """Expressions for one column: (renamed/cast from raw, recoded from the renamed names)."""
    src, s = _q(c.name), c.stg_name
    if c.dtype == "integer":
        return [f"cast({src} as bigint) as {s}"], []
    if c.dtype == "decimal":
        return [f"cast({src} as double) as {s}"], []
    if c.dtype == "date":
        out = [f"cast({src} as date) as {s}"]
        if c.day_may_be_unknown:
            out.append(f"coalesce({_q(c.name + RAW.day_unknown_suffix)}, false) as is_{s}_day_unknown")
        return out, []
    if c.dtype == "yearmonth":
        return [f"cast(strptime({src}, '%Y%m') as date) as {s}"], []
    if c.icd10 and s.endswith("_codes_raw"):  # several codes, the first is the main one
        canon = s.removesuffix("_raw")
        main = "main_" + canon.replace("_codes", "_code")
        tokens = _tokens(src, ICD_SEPARATORS)
        return (
            [
                f"{src} as {s}",
                f"list_filter(list_transform({tokens}, lambda t: {normalise_icd10_sql('t')}), lambda t: t is not null) as {canon}",
                f"{normalise_icd10_sql(f'({tokens})[1]')} as {main}",
            ],
            [f"{diagnosis_group_sql(main)} as {main.removesuffix('_code')}_group"],
        )
    if c.icd10:
        raw_name = s if s.endswith("_raw") else f"{s}_raw"
        canon = s.removesuffix("_raw")
        base = canon.removesuffix("_code")
        return (
            [f"{src} as {raw_name}", f"{normalise_icd10_sql(src)} as {canon}"],
            [f"{diagnosis_group_sql(canon)} as {base}_group", f"{chapter_group_sql(diagnosis_group_sql(canon))} as {base}_chapter_group"],
        )
    if c.kva:
        canon = s.removesuffix("_raw")
        flags = [f"coalesce(list_contains({canon}, '{k}'), false) as has_{k.lower()}" for k in codes("kva")]
        tokens = _tokens(f"upper({src})", KVA_SEPARATORS)
        return [f"{src} as {s}", f"{tokens} as {canon}"], flags
    if c.dtype == "text":
        return [f"nullif(trim({src}), '') as {s}"], []
    # code columns
    if c.codes == "sex":
        return [f"{src} as {s}"], [f"{_case(s, SEX_BY_CODE)} as sex"]
    if c.codes in ("extent", "education"):
        return [f"cast({src} as integer) as {s}"], []
    if c.codes == "binary":
        yes = next(k.code for k in code_list("binary") if k.label_en == "Yes")
        return [f"({src} = '{yes}') as {s}"], []
    if c.codes == "regions":
        names = {r.code: r.name for r in regions()}
        return [f"{src} as {s}"], [f"{_case(s, names)} as {s.removesuffix('_code')}_name"]
    return [f"{src} as {s}"], []


def _empty_source(ex: Extract) -> str:
    """A select of the raw table's columns with no rows, for an optional extract not delivered."""
    cols = []
    for c in ex.columns:
        cols.append(f"cast(null as {c.raw_sql_type}) as {_q(c.name)}")
        if c.dtype == "date" and c.day_may_be_unknown:
            cols.append(f"cast(null as boolean) as {_q(c.name + RAW.day_unknown_suffix)}")
    if ex.yearly:
        cols.append(f"cast(null as integer) as {_q(RAW.year)}")
    return "select " + ", ".join(cols) + " where false"


def staging_sql(ex: Extract, delivered: bool = True) -> str:
    """The staging select of one extract (dbt style); empty when an optional extract is not delivered."""
    if not delivered and not ex.optional:
        raise ValueError(f"{ex.name} is not optional: the build needs it delivered")
    renamed: list[str] = []
    recoded: list[str] = []
    for c in ex.columns:
        r, d = _column(c)
        renamed += r
        recoded += d
    if ex.yearly:
        renamed.insert(1, f"cast({_q(RAW.year)} as integer) as year")
    sep = ",\n        "
    recode_block = f",\n        {sep.join(recoded)}" if recoded else ""
    if any(d in text for text in (*renamed, *recoded) for d in ("{{", "{%", "{#")):  # the template is Jinja
        raise ValueError(f"{ex.name}: a generated staging expression holds a Jinja delimiter")
    schema, table = ex.raw_table.split(".")
    source = (f"select * from {{{{ source({sql_string(schema)}, {sql_string(table)}) }}}}" if delivered
              else _empty_source(ex))
    note = "" if delivered else f"\n-- {ex.name} is not in this delivery (optional): no rows"
    return f"""-- {ex.staging_table}: generated from the contract of {ex.name} (data_schemas/extracts.py){note}
-- grain: {ex.grain}
with source as (
    {source}
),

renamed as (
    select
        {sep.join(renamed)}
    from source
),

final as (
    select
        *{recode_block}
    from renamed
)

select * from final
"""


def staging_model(ex: Extract, delivered: bool = True) -> Model:
    return Model(SCHEMA, ex.staging_table, grain=ex.grain, template=staging_sql(ex, delivered), materialized="view")


def staging_models(extracts: tuple[Extract, ...] = EXTRACTS) -> list[Model]:
    """The staging views of the delivered `extracts`, and empty ones of the optional extracts not delivered."""
    names = {ex.name for ex in extracts}
    return [staging_model(ex) for ex in extracts] + [
        staging_model(ex, delivered=False) for ex in EXTRACTS if ex.optional and ex.name not in names]
