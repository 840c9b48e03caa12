-- int_spell_collaboration_events_joined
-- grain: one row per spell in the study population x FK collaboration event during its follow-up
with collaboration_events as (
    select * from {{ ref('stg_fk__collaboration_events') }}
),

spells as (
    select s.spell_id, s.person_id, s.spell_start_date, o.end_date
    from {{ ref('int_spells_in_study') }} as s
    join {{ ref('int_spell_outcomes_classified') }} as o using (spell_id)
),

final as (
    select
        s.spell_id,
        s.person_id,
        e.event_date,
        e.event_type,
        (e.event_date - s.spell_start_date)::integer as day_index,
        -- who took part: recorded for reconciliation meetings (AVST) only
        case when e.event_type = 'AVST' then e.has_care_participated end as has_care_participated,
        case when e.event_type = 'AVST' then e.has_employer_participated end as has_employer_participated,
        case when e.event_type = 'AVST' then e.has_af_participated end as has_af_participated
    from spells as s
    join collaboration_events as e
        on e.person_id = s.person_id
        and e.event_date between s.spell_start_date and s.end_date
)

select * from final
order by spell_id, event_date, event_type
