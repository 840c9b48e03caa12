-- int_benefit_periods_filtered
-- grain: one row per benefit period that takes part in the gap rule
--
-- The benefit periods the gap rule joins into spells: those of the benefits the study counts as
-- sick leave (SJP always; RHP, ASJP and the study's extra codes as chosen; FSJP under fsjp_rule
-- 'include'), plus FSJP under FK's rule 'drop_spell', whose spells int_benefit_periods_sequenced
-- then marks for dropping. Periods of other codes (unknown ones included) take no part.
with benefit_periods as (
    select * from {{ ref('stg_fk__benefit_periods') }}
),

final as (
    select
        person_id,
        benefit_code,
        period_start_date,
        period_end_date,
        extent_pct,
        diagnosis_code,
        occupation_status,
        sick_start_date,
        -- a period's sick start cannot be after its first day
        least(sick_start_date, period_start_date) as period_sick_start_date
    from benefit_periods
    where benefit_code in ({{ var('spell_benefit_codes') }})
)

select * from final
