-- spell_collaboration_events
-- grain: one row per spell in the study population x FK collaboration event during its follow-up
--
-- FK's collaboration events (fk_samverkan) within each spell's follow-up [spell_start_date,
-- end_date], with the day index from the spell's first day and, for reconciliation meetings
-- (AVST), who took part (NULL when not recorded, and always NULL for the other event types).
-- Rows are numbered per spell by date, type and participation, so repeated identical events
-- (possible in a delivery) each keep their row. Contract: data_schemas/tables.py.
with events as (
    select * from {{ ref('int_spell_collaboration_events_joined') }}
),

final as (
    select
        spell_id,
        person_id,
        row_number() over (
            partition by spell_id
            order by event_date, event_type, has_care_participated, has_employer_participated, has_af_participated
        )::integer as event_seq,
        event_date,
        event_type,
        day_index,
        has_care_participated,
        has_employer_participated,
        has_af_participated
    from events
)

select * from final
order by spell_id, event_seq
