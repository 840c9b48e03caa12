-- int_spell_af_registrations_joined
-- grain: one row per spell in the study population x AF registration period overlapping or starting during its follow-up
--
-- Registration periods as job seeker (af_inskrivning) against the spell's follow-up
-- [spell_start_date, end_date]: a period counts if it is running on the spell's first day
-- (registered at start) or starts during follow-up. An empty AvaktDatum = still registered.
with registrations as (
    select * from {{ ref('stg_af__registration_periods') }}
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
        r.registration_date,
        r.deregistration_date,
        r.jobseeker_category,
        r.registration_date <= s.spell_start_date
            and coalesce(r.deregistration_date >= s.spell_start_date, true) as is_running_at_start,
        r.registration_date between s.spell_start_date and s.end_date as is_started_during_followup
    from spells as s
    join registrations as r
        on r.person_id = s.person_id
        and r.registration_date <= s.end_date
        and coalesce(r.deregistration_date >= s.spell_start_date, true)
)

select * from final
order by spell_id, registration_date
