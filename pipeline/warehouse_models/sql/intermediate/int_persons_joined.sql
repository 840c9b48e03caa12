-- int_persons_joined
-- grain: one row per person in LISA
--
-- Sex and birth year as LISA last registered them, with the death date and the 65th birthday.
with lisa as (
    select * from {{ ref('int_lisa_years_current') }}
),

deaths as (
    select * from {{ ref('stg_scb__deaths') }}
),

lisa_persons as (
    select
        person_id,
        -- sex and birth year as LISA last registered them
        first(sex order by year desc) as sex,
        first(birth_year order by year desc)::integer as birth_year,
        min(year) as first_lisa_year,
        max(year) as last_lisa_year,
        count(distinct sex) > 1 as has_sex_changed
    from lisa
    group by person_id
),

person_deaths as (
    select person_id, min(death_date) as death_date
    from deaths
    group by person_id
),

final as (
    select
        p.*,
        d.death_date,
        -- only the birth year is known: the 65th birthday is taken as 1 July
        make_date(p.birth_year + 65, {{ var('age_65_birthday_month') }}, {{ var('age_65_birthday_day') }}) as birthday_65_date
    from lisa_persons as p
    left join person_deaths as d using (person_id)
)

select * from final
order by person_id
