-- int_spell_outcomes_classified
-- grain: one row per spell in the study population
--
-- End reason and end date of each study spell (see data_schemas/tables.py, spells.end_reason).
with spells as (
    select * from {{ ref('int_spells_in_study') }}
),

competing_events as (
    select * from {{ ref('int_competing_events_unioned') }}
),

spell_earnings as (
    select * from {{ ref('int_spell_earnings_joined') }}
),

events_during as (
    -- end follow-up on their date; compensation starting on day d ends sick leave on d - 1
    select
        s.spell_id,
        e.event_type as outcome,
        case when e.event_type = 'sickness_compensation'
            then greatest(e.event_date - 1, s.spell_start_date)
            else e.event_date
        end as candidate_end_date
    from spells as s
    join competing_events as e
        on e.person_id = s.person_id
        and e.event_date between s.spell_start_date and coalesce(s.spell_end_date, {{ var('extraction_date') }})
),

events_after as (
    -- within the window after the last day: the reason, on the last day
    select s.spell_id, e.event_type as outcome, s.spell_end_date as candidate_end_date
    from spells as s
    join competing_events as e
        on e.person_id = s.person_id
        and e.event_date > s.spell_end_date
        and e.event_date <= s.spell_end_date + {{ var('relapse_window_days') }}
),

relapses as (
    select spell_id, 'relapse' as outcome, spell_end_date as candidate_end_date
    from spells
    where next_spell_start_date - spell_end_date <= {{ var('relapse_window_days') }}
),

returns_to_work as (
    -- the whole window must be observed before the extraction date
    select s.spell_id, 'return_to_work' as outcome, s.spell_end_date as candidate_end_date
    from spells as s
    left join spell_earnings as e using (spell_id)
    where s.spell_end_date is not null
        and s.spell_end_date + {{ var('relapse_window_days') }} <= {{ var('extraction_date') }}
        -- 'earnings_confirmed' also needs AGI pay in the calendar month after the last month
        and ({{ var('return_to_work') }} <> 'earnings_confirmed' or e.earnings_after_sek > 0)
),

censorings as (
    select spell_id, 'censored' as outcome, coalesce(spell_end_date, {{ var('extraction_date') }}) as candidate_end_date
    from spells
),

candidates as (
    select * from events_during
    union all select * from events_after
    union all select * from relapses
    union all select * from returns_to_work
    union all select * from censorings
),

chosen as (
    -- the earliest end; on one date the first in order of precedence
    select
        spell_id,
        first(outcome order by candidate_end_date, list_position([{{ var('end_precedence') }}], outcome)) as outcome,
        min(candidate_end_date) as end_date,
        bool_or(outcome = 'relapse') as is_relapse_within_window
    from candidates
    group by spell_id
),

final as (
    select
        spell_id,
        case when outcome = 'relapse' then 'censored' else outcome end as end_reason,
        end_date,
        is_relapse_within_window
    from chosen
)

select * from final
order by spell_id
