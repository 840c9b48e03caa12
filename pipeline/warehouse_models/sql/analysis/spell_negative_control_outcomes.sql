-- spell_negative_control_outcomes
-- grain: one row per spell in the study population x negative-control outcome of the study
--
-- For every spell and every negative-control outcome ([negative_controls] in study.toml): the
-- day index of the first care contact with a main diagnosis in the outcome's ranges during the
-- spell's follow-up [spell_start_date, end_date] (NULL if none) and the number of distinct days
-- with such a contact. The designs take the first contact as the outcome's event at time
-- first_contact_day + 1 (the day-index convention of person_time). Contract: data_schemas/tables.py.
with spells as (
    select spell_id, person_id from {{ ref('spells') }}
),

outcomes as (
    select * from (values {{ var('negative_control_ranges') }}) as r(outcome_id, code_from, code_to, prefix_length)
    where outcome_id <> ''
),

outcome_ids as (
    select distinct outcome_id from outcomes
),

contacts as (
    select spell_id, outcome_id, min(contact_day) as first_contact_day, count(distinct contact_date) as n_contact_days
    from {{ ref('int_spell_negative_control_contacts_joined') }}
    group by spell_id, outcome_id
),

final as (
    select
        s.spell_id,
        s.person_id,
        o.outcome_id,
        c.first_contact_day::integer as first_contact_day,
        coalesce(c.n_contact_days, 0)::integer as n_contact_days
    from spells as s
    cross join outcome_ids as o
    left join contacts as c
        on c.spell_id = s.spell_id
        and c.outcome_id = o.outcome_id
)

select * from final
order by spell_id, outcome_id
