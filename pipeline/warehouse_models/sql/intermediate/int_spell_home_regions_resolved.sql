-- int_spell_home_regions_resolved
-- grain: one row per spell in the study population
--
-- The LISA year of each study spell's covariates: the year before the start, or the fallback.
-- The nearest year at or before the year before the start covers both 'year_before' and
-- 'earlier_year'; without one, the nearest year from the start year on ('start_year',
-- 'later_year'). The labels are spells.home_region_source's (data_schemas/tables.py).
-- The region of birth is the background file's (scb_bakgrund, when delivered: one per person,
-- the current identity's row first); LISA's FodGrEg4 of that year fills in where it has none.
with lisa as (
    select * from {{ ref('int_lisa_years_current') }}
),

backgrounds as (
    select
        person_id,
        first(birth_region_code order by coalesce(is_current_identity, false) desc, birth_region_code) as birth_region_code
    from {{ ref('stg_scb__person_backgrounds') }}
    where birth_region_code is not null
    group by person_id
),

spells as (
    select spell_id, person_id, year(spell_start_date) as start_year from {{ ref('int_spells_in_study') }}
),

chosen_years as (
    select
        s.spell_id,
        s.person_id,
        s.start_year,
        coalesce(
            max(l.year) filter (where l.year <= s.start_year - 1),
            min(l.year) filter (where l.year >= s.start_year)
        ) as home_region_year
    from spells as s
    join lisa as l using (person_id)
    group by s.spell_id, s.person_id, s.start_year
),

final as (
    select
        c.spell_id,
        c.home_region_year,
        case
            when c.home_region_year = c.start_year - 1 then 'year_before'
            when c.home_region_year < c.start_year - 1 then 'earlier_year'
            when c.home_region_year = c.start_year then 'start_year'
            else 'later_year'
        end as home_region_source,
        l.region_code as home_region_code,
        l.region_name as home_region_name,
        l.education_level,
        l.disposable_income_hsek,
        coalesce(b.birth_region_code, l.birth_region_code) as birth_region_code
    from chosen_years as c
    join lisa as l on l.person_id = c.person_id and l.year = c.home_region_year
    left join backgrounds as b on b.person_id = c.person_id
    -- one LISA row per person and year; should a delivery repeat one, keep one deterministically
    qualify row_number() over (partition by c.spell_id order by l.region_code, l.education_level, l.disposable_income_hsek) = 1
)

select * from final
order by spell_id
