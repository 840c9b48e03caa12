-- persons
-- grain: one row per person with at least one spell in the study population
--
-- The analysis table of persons (data_schemas/tables.py, PERSONS).
with spells as (
    select * from {{ ref('spells') }}
),

persons as (
    select * from {{ ref('int_persons_joined') }}
),

spell_counts as (
    select person_id, count(*)::integer as n_spells
    from spells
    group by person_id
),

final as (
    select
        p.person_id,
        p.sex,
        p.birth_year,
        p.death_date,
        c.n_spells
    from spell_counts as c
    join persons as p using (person_id)
)

select * from final
order by person_id
