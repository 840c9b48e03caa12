-- int_spells_screened
-- grain: one row per spell built, with the inclusion criteria it meets
--
-- The inclusion criteria as flags, in the order of the attrition table.
with spells as (
    select * from {{ ref('int_spells_joined') }}
),

persons as (
    select * from {{ ref('int_persons_joined') }}
),

flagged as (
    select
        s.spell_id,
        s.person_id,
        p.sex,
        s.n_benefit_periods,
        s.spell_start_date between {{ var('spell_start_from') }} and {{ var('spell_start_to') }}
            as is_start_in_study_period,
        year(s.spell_start_date) - p.birth_year as age_years,
        -- a person not in LISA has no known age: excluded at the LISA step, not here
        coalesce(year(s.spell_start_date) - p.birth_year between {{ var('age_min_years') }} and {{ var('age_max_years') }}, true)
            as is_age_in_range,
        s.spell_days > {{ var('min_spell_days') }} as is_long_enough,
        p.person_id is not null and p.sex is not null and p.birth_year is not null as is_in_lisa
    from spells as s
    left join persons as p using (person_id)
),

final as (
    select
        *,
        is_start_in_study_period and is_age_in_range and is_long_enough and is_in_lisa
            as is_in_study_population
    from flagged
)

select * from final
order by spell_id
