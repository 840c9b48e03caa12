-- person_time
-- grain: one row per spell x time band x coordination state with days at risk
--
-- The Lexis split of each spell's follow-up by time band and coordination state, vectorised
-- (a join with the bands and the two states): exposure from t_c exactly, the event on the last
-- interval. Columns in data_schemas/tables.py (PERSON_TIME).
with spells as (
    select spell_id, person_id, followup_days, days_to_first_gc001, end_reason from {{ ref('spells') }}
),

bands as (
    select * from (values {{ var('time_bands') }}) as b(time_band, band_start_day, band_stop_day)
),

states as (
    select * from (values (false), (true)) as c(is_coordinated)
),

intervals as (
    -- unexposed: (band start, min(band stop, followup, t_c)]; exposed: (max(band start, t_c), min(band stop, followup)]
    select
        s.spell_id,
        s.person_id,
        b.time_band,
        b.band_start_day,
        c.is_coordinated,
        case when c.is_coordinated then greatest(b.band_start_day, s.days_to_first_gc001)
            else b.band_start_day end as start_day,
        case when c.is_coordinated then least(coalesce(b.band_stop_day, s.followup_days), s.followup_days)
            else least(coalesce(b.band_stop_day, s.followup_days), s.followup_days,
                       coalesce(s.days_to_first_gc001, s.followup_days)) end as stop_day,
        s.followup_days,
        s.end_reason
    from spells as s
    join bands as b on b.band_start_day < s.followup_days
    join states as c on not c.is_coordinated or s.days_to_first_gc001 is not null
),

final as (
    select
        spell_id,
        person_id,
        time_band,
        band_start_day::integer as band_start_day,
        is_coordinated,
        start_day::integer as start_day,
        stop_day::integer as stop_day,
        (stop_day - start_day)::integer as days_at_risk
        {%- for reason, column in var('event_columns') %},
        (stop_day = followup_days and end_reason = {{ reason }})::integer as {{ column | name }}
        {%- endfor %}
    from intervals
    where stop_day > start_day
)

select * from final
order by spell_id, start_day
