-- int_spell_rule_outcomes_classified
-- grain: one row per relapse rule ('continue', 'censor', 'event') x spell the rule analyses
--
-- End reason and end date of each study spell under every relapse rule ([outcome] relapse; see
-- data_schemas/tables.py, spells.end_reason); int_spell_outcomes_classified keeps the study's rule.
--   'censor'   a relapse (a new spell within the window after the last day) censors the spell on
--              its last day;
--   'event'    the relapse is ignored: the spell's end is a return to work all the same;
--   'continue' follow-up runs on through the spell's relapse chain (int_spell_chains_linked): the
--              days of its later spells and the gaps between them; the return to work is the end
--              of the chain's last spell. The chain's later studied spells are not analysed.
-- Competing events end follow-up as for one spell: during a spell of the follow-up on their date,
-- in a gap between two spells of the chain or within the window after the last, on the last day
-- before them.
with spells as (
    select * from {{ ref('int_spells_in_study') }}
),

all_spells as (
    select * from {{ ref('int_spells_joined') }}
),

chains as (
    select * from {{ ref('int_spell_chains_linked') }}
),

competing_events as (
    select * from {{ ref('int_competing_events_unioned') }}
),

spell_earnings as (
    select * from {{ ref('int_spell_earnings_joined') }}
),

rules as (
    select unnest([{{ var('relapse_rules') }}]) as relapse_rule
),

analysed as (
    select r.relapse_rule, s.spell_id, s.person_id, c.chain_seq, s.spell_seq, c.is_relapse_within_window
    from spells as s
    join chains as c using (spell_id)
    cross join rules as r
    where r.relapse_rule <> 'continue' or not c.is_relapse_continuation
),

segments as (
    -- the spells whose days the follow-up covers: the spell itself, under 'continue' also the
    -- later spells of its chain
    select
        a.relapse_rule,
        a.spell_id,
        a.person_id,
        g.spell_start_date as segment_start_date,
        g.spell_end_date as segment_end_date,
        g.next_spell_start_date,
        g.spell_seq = max(g.spell_seq) over (partition by a.relapse_rule, a.spell_id) as is_last_segment
    from analysed as a
    join chains as c
        on c.person_id = a.person_id
        and c.chain_seq = a.chain_seq
        and (c.spell_seq = a.spell_seq or (a.relapse_rule = 'continue' and c.spell_seq > a.spell_seq))
    join all_spells as g on g.spell_id = c.spell_id
),

events_during as (
    -- end follow-up on their date; compensation starting on day d ends sick leave on d - 1
    select
        g.relapse_rule,
        g.spell_id,
        e.event_type as outcome,
        case when e.event_type = 'sickness_compensation'
            then greatest(e.event_date - 1, g.segment_start_date)
            else e.event_date
        end as candidate_end_date
    from segments as g
    join competing_events as e
        on e.person_id = g.person_id
        and e.event_date between g.segment_start_date and coalesce(g.segment_end_date, {{ var('extraction_date') }})
),

events_after as (
    -- within the window after a last day (before the chain's next spell): the reason, on that last day
    select g.relapse_rule, g.spell_id, e.event_type as outcome, g.segment_end_date as candidate_end_date
    from segments as g
    join competing_events as e
        on e.person_id = g.person_id
        and e.event_date > g.segment_end_date
        and e.event_date <= g.segment_end_date + {{ var('relapse_window_days') }}
        and (g.is_last_segment or e.event_date < g.next_spell_start_date)
),

relapses as (
    select relapse_rule, spell_id, 'relapse' as outcome, segment_end_date as candidate_end_date
    from segments
    where relapse_rule = 'censor'
        and next_spell_start_date - segment_end_date <= {{ var('relapse_window_days') }}
),

returns_to_work as (
    -- at the end of the last spell followed; the whole window must be observed before the extraction date
    select g.relapse_rule, g.spell_id, 'return_to_work' as outcome, g.segment_end_date as candidate_end_date
    from segments as g
    left join spell_earnings as e using (spell_id)
    where g.is_last_segment
        and g.segment_end_date is not null
        and g.segment_end_date + {{ var('relapse_window_days') }} <= {{ var('extraction_date') }}
        -- 'earnings_confirmed' also needs AGI pay in the calendar month after the last month
        and ({{ var('return_to_work') }} <> 'earnings_confirmed'
             or (case when g.relapse_rule = 'continue' then e.earnings_after_chain_sek else e.earnings_after_sek end) > 0)
),

censorings as (
    select relapse_rule, spell_id, 'censored' as outcome,
        coalesce(segment_end_date, {{ var('extraction_date') }}) as candidate_end_date
    from segments
    where is_last_segment
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
        relapse_rule,
        spell_id,
        first(outcome order by candidate_end_date, list_position([{{ var('end_precedence') }}], outcome)) as outcome,
        min(candidate_end_date) as end_date
    from candidates
    group by relapse_rule, spell_id
),

segment_counts as (
    select relapse_rule, spell_id, (count(*) - 1)::integer as n_relapse_spells
    from segments
    group by relapse_rule, spell_id
),

final as (
    select
        a.relapse_rule,
        a.spell_id,
        case when c.outcome = 'relapse' then 'censored' else c.outcome end as end_reason,
        c.end_date,
        a.is_relapse_within_window,
        n.n_relapse_spells
    from analysed as a
    join chosen as c using (relapse_rule, spell_id)
    join segment_counts as n using (relapse_rule, spell_id)
)

select * from final
order by relapse_rule, spell_id
