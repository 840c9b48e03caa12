-- int_benefit_periods_filtered
-- grain: one row per benefit period of a benefit the study counts
--
-- The benefit periods of the benefits the study counts (SJP always; RHP and FSJP as chosen).
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
    where benefit_code in ({{ var('benefit_codes') }})
)

select * from final
