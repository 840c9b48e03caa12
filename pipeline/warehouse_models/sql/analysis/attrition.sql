-- attrition
-- grain: one row per inclusion step x sex ('all', 'woman', 'man')
--
-- Every inclusion step in order, with persons, spells and periods remaining. Steps 1-2 count
-- benefit periods (spells are not built yet: n_spells is NULL); from step 3 on, each step keeps
-- the spells of the previous step that meet one more criterion of int_spells_screened, so every
-- count can only stay or fall. Sex is LISA's: persons not in LISA count under 'all' only, until
-- step 7 excludes them.
with benefit_periods as (
    select * from {{ ref('stg_fk__benefit_periods') }}
),

included_periods as (
    select * from {{ ref('int_benefit_periods_filtered') }}
),

persons as (
    select * from {{ ref('int_persons_joined') }}
),

screened as (
    select * from {{ ref('int_spells_screened') }}
),

steps as (
    -- the steps with their Swedish descriptions, the study's values filled in
    select * from (values
        (1, 'benefit_periods', 'Personer med förmånsperioder i leveransen (SJP, RHP och FSJP)'),
        (2, 'included_benefits', format('Perioder med förmåner som studien räknar ({})',
            array_to_string([{{ var('benefit_codes') }}], ' och '))),
        (3, 'spells_built', format('Sjukfall byggda av perioderna (insjuknanderegeln: glapp högst {} dagar)',
            {{ var('gap_days') }})),
        (4, 'start_in_study_period', format('Sjukfallet börjar {}–{}',
            {{ var('spell_start_from') }}, {{ var('spell_start_to') }})),
        (5, 'age_in_range', format('Ålder vid sjukfallets start {}–{} år',
            {{ var('age_min_years') }}, {{ var('age_max_years') }})),
        (6, 'min_spell_length', format('Sjukfallet varar mer än {} dagar', {{ var('min_spell_days') }})),
        (7, 'person_in_lisa', 'Personen finns i LISA (kön och födelseår kända)'),
        (8, 'study_population', 'Studiepopulationen')
    ) as s(step_order, step, description_sv)
),

sexes as (
    select unnest(['all', {{ var('sexes') }}]) as sex
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
    -- a spell remains at step k if it meets every criterion up to k
    select 3 as step_order, person_id, sex, 1 as n_spells, n_benefit_periods from screened
    union all
    select 4, person_id, sex, 1, n_benefit_periods from screened
    where is_start_in_study_period
    union all
    select 5, person_id, sex, 1, n_benefit_periods from screened
    where is_start_in_study_period and is_age_in_range
    union all
    select 6, person_id, sex, 1, n_benefit_periods from screened
    where is_start_in_study_period and is_age_in_range and is_long_enough
    union all
    select 7, person_id, sex, 1, n_benefit_periods from screened
    where is_start_in_study_period and is_age_in_range and is_long_enough and is_in_lisa
    union all
    select 8, person_id, sex, 1, n_benefit_periods from screened
    where is_start_in_study_period and is_age_in_range and is_long_enough and is_in_lisa and is_in_study_population
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
order by step_order, list_position(['all', {{ var('sexes') }}], sex)
