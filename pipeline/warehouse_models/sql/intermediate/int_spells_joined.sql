-- int_spells_joined
-- grain: one row per spell (sjukfall) of a person, all spells built and kept by the FSJP rule
--
-- The periods of one spell joined into it; spells the FSJP rule drops (fsjp_rule 'drop_spell')
-- are left out, so they are neither studied nor anyone's next spell. Dates: day 0 = the spell's first day; its last day
-- is spell_end_date (NULL while open at the extraction date).
with benefit_periods as (
    select * from {{ ref('int_benefit_periods_sequenced') }}
),

spells as (
    select
        person_id,
        spell_seq,
        min(period_sick_start_date) as spell_start_date,
        -- an open period keeps the spell open
        case when count(*) = count(period_end_date) then max(period_end_date) end as latest_end_date,
        min(period_start_date) as first_fk_period_date,
        count(*) as n_benefit_periods,
        bool_or(benefit_code = 'RHP') as has_rhp,
        -- FK's statistics: the spell's diagnosis is the first registered one
        first(diagnosis_code order by period_start_date, diagnosis_code)
            filter (where diagnosis_code is not null) as diagnosis_code,
        first(extent_pct order by period_start_date, extent_pct desc) as extent_at_start_pct,
        first(extent_pct order by coalesce(period_end_date, date '9999-12-31') desc, period_start_date desc, extent_pct)
            as extent_at_end_pct,
        first(occupation_status order by period_start_date, occupation_status) as occupation_status
    from benefit_periods
    where not is_in_dropped_spell
    group by person_id, spell_seq
),

final as (
    select
        row_number() over (order by person_id, spell_seq) as spell_id,
        person_id,
        spell_seq,
        spell_start_date,
        -- a period decided beyond the extraction date is still running at it
        case when latest_end_date <= {{ var('extraction_date') }} then latest_end_date end as spell_end_date,
        (latest_end_date is null or latest_end_date > {{ var('extraction_date') }}) as is_open_at_extraction,
        (least(coalesce(latest_end_date, {{ var('extraction_date') }}), {{ var('extraction_date') }}) - spell_start_date + 1)::integer
            as spell_days,
        lead(spell_start_date) over (partition by person_id order by spell_seq) as next_spell_start_date,
        first_fk_period_date,
        n_benefit_periods::integer as n_benefit_periods,
        has_rhp,
        diagnosis_code,
        extent_at_start_pct,
        extent_at_end_pct,
        occupation_status
    from spells
)

select * from final
order by spell_id
