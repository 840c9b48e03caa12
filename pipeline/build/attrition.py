"""The attrition table: every inclusion step in order, with persons, spells and periods remaining.

Steps 1-2 count benefit periods (spells are not built yet: `n_spells` is NULL); from step 3
on, each step keeps the spells of the previous step that meet one more criterion of
`intermediate.int_spells_screened`, so every count can only stay or fall. Sex is LISA's:
persons not in LISA count under 'all' only, until step 7 excludes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_schemas.extracts import extract
from data_schemas.tables import ATTRITION, SEXES
from pipeline.build.model import BuildContext, Model


@dataclass(frozen=True)
class Step:
    name: str
    description_sv: str
    condition: str  # a flag of int_spells_screened; "" for the steps before spells exist


def attrition_steps(ctx: BuildContext) -> tuple[Step, ...]:
    """The inclusion steps with their Swedish descriptions (study values filled in)."""
    st = ctx.study
    kept = " och ".join(st.benefit_codes)
    return (
        Step("benefit_periods", "Personer med förmånsperioder i leveransen (SJP, RHP och FSJP)", ""),
        Step("included_benefits", f"Perioder med förmåner som studien räknar ({kept})", ""),
        Step("spells_built", f"Sjukfall byggda av perioderna (insjuknanderegeln: glapp högst {st.gap_days} dagar)", "true"),
        Step(
            "start_in_study_period",
            f"Sjukfallet börjar {st.spell_start_from.isoformat()}–{st.spell_start_to.isoformat()}",
            "is_start_in_study_period",
        ),
        Step("age_in_range", f"Ålder vid sjukfallets start {st.age_min_years}–{st.age_max_years} år", "is_age_in_range"),
        Step("min_spell_length", f"Sjukfallet varar mer än {st.min_spell_days} dagar", "is_long_enough"),
        Step("person_in_lisa", "Personen finns i LISA (kön och födelseår kända)", "is_in_lisa"),
        Step("study_population", "Studiepopulationen", "is_in_study_population"),
    )


def attrition_model(ctx: BuildContext) -> Model:
    steps = attrition_steps(ctx)
    step_rows = ", ".join(
        f"({i}, '{s.name}', '{s.description_sv.replace(chr(39), chr(39) * 2)}')" for i, s in enumerate(steps, start=1)
    )
    # cumulative: a spell remains at step k if it meets every criterion up to k
    spell_steps = []
    conditions: list[str] = []
    for i, s in enumerate(steps, start=1):
        if not s.condition:
            continue
        conditions.append(s.condition)
        spell_steps.append(
            f"select {i} as step_order, person_id, sex, 1 as n_spells, n_benefit_periods from screened where {' and '.join(conditions)}"
        )
    sexes = ", ".join(f"('{s}')" for s in ("all", *SEXES))
    stg_periods = f"staging.{extract('fk_midas_sjukpenning').staging_table}"
    return Model(
        "main",
        ATTRITION.name,
        grain=ATTRITION.grain,
        sql=f"""
with benefit_periods as (
    select * from {stg_periods}
),

included_periods as (
    select * from intermediate.int_benefit_periods_filtered
),

persons as (
    select * from intermediate.int_persons_joined
),

screened as (
    select * from intermediate.int_spells_screened
),

steps as (
    select * from (values {step_rows}) as s(step_order, step, description_sv)
),

sexes as (
    select * from (values {sexes}) as x(sex)
),

period_rows as (
    select 1 as step_order, b.person_id, p.sex, null::integer as n_spells, 1 as n_benefit_periods
    from benefit_periods as b
    left join persons as p using (person_id)
    union all
    select 2, i.person_id, p.sex, null::integer, 1
    from included_periods as i
    left join persons as p using (person_id)
),

spell_rows as (
    {(chr(10) + '    union all' + chr(10) + '    ').join(spell_steps)}
),

remaining as (
    select * from period_rows
    union all
    select * from spell_rows
),

counted as (
    select
        step_order,
        coalesce(sex, 'all') as sex,
        count(distinct person_id) as n_persons,
        sum(n_spells) as n_spells,
        sum(n_benefit_periods) as n_benefit_periods
    from remaining
    group by grouping sets ((step_order), (step_order, sex))
    -- persons without LISA have no sex: they count under 'all' only
    having grouping(sex) = 1 or sex is not null
),

final as (
    select
        s.step_order::integer as step_order,
        s.step,
        s.description_sv,
        x.sex,
        coalesce(c.n_persons, 0)::bigint as n_persons,
        case when s.step_order >= 3 then coalesce(c.n_spells, 0) end::bigint as n_spells,
        coalesce(c.n_benefit_periods, 0)::bigint as n_benefit_periods
    from steps as s
    cross join sexes as x
    left join counted as c on c.step_order = s.step_order and c.sex = x.sex
)

select * from final
""",
        order_by="step_order, case sex " + " ".join(f"when '{s}' then {i}" for i, s in enumerate(("all", *SEXES))) + " end",
    )
