-- int_spells_in_study
-- grain: one row per spell in the study population
--
-- The spells that meet every inclusion criterion, with their age at the start: the population
-- every later model of a spell starts from.
with spells as (
    select * from {{ ref('int_spells_joined') }}
),

screened as (
    select * from {{ ref('int_spells_screened') }}
),

final as (
    select
        s.*,
        c.age_years
    from spells as s
    join screened as c using (spell_id)
    where c.is_in_study_population
)

select * from final
order by spell_id
