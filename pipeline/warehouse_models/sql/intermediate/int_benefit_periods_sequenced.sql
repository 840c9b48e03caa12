-- int_benefit_periods_sequenced
-- grain: one row per benefit period that takes part in the gap rule, with its spell
--
-- The gap rule: each period gets the sequence number of its spell within the person. Under
-- fsjp_rule 'drop_spell' (FK's statistics) a spell with any FSJP period is dropped whole:
-- is_in_dropped_spell marks all its periods, and int_spells_joined leaves them out.
{%- set period_order = "period_sick_start_date, period_start_date, period_end_date nulls last, extent_pct, benefit_code, diagnosis_code, occupation_status, sick_start_date" %}
with benefit_periods as (
    select * from {{ ref('int_benefit_periods_filtered') }}
),

numbered as (
    -- One order, fixed once: a period delivered twice ties on every sort key, and two window
    -- functions may each break that tie their own way (one then sees the copy as first, the other
    -- as second, and the copy became a spell of its own). Every later window orders by period_seq.
    select
        *,
        row_number() over (partition by person_id order by {{ period_order }}) as period_seq
    from benefit_periods
),

ordered as (
    select
        *,
        -- the latest end among the person's earlier periods: an open period never ends
        max(coalesce(period_end_date, date '9999-12-31')) over (
            partition by person_id order by period_seq
            rows between unbounded preceding and 1 preceding
        ) as previous_latest_end_date
    from numbered
),

flagged as (
    select
        *,
        -- insjuknanderegeln: a period whose sick start is at most gap_days days after the
        -- latest end so far continues the spell (overlaps and repeats give <= 0)
        (previous_latest_end_date is null
         or period_sick_start_date - previous_latest_end_date > {{ var('gap_days') }}) as is_new_spell
    from ordered
),

sequenced as (
    select
        *,
        sum(is_new_spell::integer) over (
            partition by person_id order by period_seq
            rows between unbounded preceding and current row
        ) as spell_seq
    from flagged
),

final as (
    select
        *,
        {%- if var('spell_dropping_codes') %}
        bool_or(benefit_code in ({{ var('spell_dropping_codes') }})) over (partition by person_id, spell_seq)
        {%- else %}
        false
        {%- endif %} as is_in_dropped_spell
    from sequenced
)

select * exclude (period_seq) from final
order by person_id, spell_seq, period_seq
