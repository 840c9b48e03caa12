-- int_spell_extents_segmented
-- grain: one row per spell x run of periods with the same extent
--
-- Extent changes within a spell: consecutive periods with the same extent form a segment.
with benefit_periods as (
    select * from {{ ref('int_benefit_periods_sequenced') }}
),

spells as (
    select spell_id, person_id, spell_seq from {{ ref('int_spells_joined') }}
),

ordered as (
    select
        s.spell_id,
        p.period_start_date,
        p.period_end_date,
        p.extent_pct,
        lag(p.extent_pct) over (
            partition by s.spell_id order by p.period_start_date, p.period_end_date nulls last, p.extent_pct
        ) as previous_extent_pct
    from benefit_periods as p
    join spells as s using (person_id, spell_seq)
),

numbered as (
    select
        *,
        sum((previous_extent_pct is null or previous_extent_pct <> extent_pct)::integer) over (
            partition by spell_id order by period_start_date, period_end_date nulls last, extent_pct
            rows between unbounded preceding and current row
        ) as segment_seq
    from ordered
),

final as (
    select
        spell_id,
        segment_seq::integer as segment_seq,
        min(period_start_date) as segment_start_date,
        case when count(*) = count(period_end_date) then max(period_end_date) end as segment_end_date,
        any_value(extent_pct) as extent_pct,
        bool_or(previous_extent_pct > extent_pct) as is_reduction
    from numbered
    group by spell_id, segment_seq
)

select * from final
order by spell_id, segment_seq
