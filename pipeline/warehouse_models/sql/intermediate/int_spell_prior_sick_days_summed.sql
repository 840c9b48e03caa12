-- int_spell_prior_sick_days_summed
-- grain: one row per spell in the study population with another spell of the person in the two years before its start
--
-- Days of the person's other spells in the prior_sick_leave_days (365) days before the start
-- (day -365 .. -1), and the same over two years (day -730 .. -1): a confounder of spells and of
-- the relapse sensitivity's spell_relapse_outcomes alike.
with study_spells as (
    select * from {{ ref('int_spells_in_study') }}
),

all_spells as (
    select * from {{ ref('int_spells_joined') }}
),

final as (
    select
        s.spell_id,
        sum(greatest(0,
            least(coalesce(o.spell_end_date, {{ var('extraction_date') }}), s.spell_start_date - 1)
            - greatest(o.spell_start_date, s.spell_start_date - {{ var('prior_sick_leave_days') }}) + 1
        ))::integer as prior_sick_days_365,
        sum(greatest(0,
            least(coalesce(o.spell_end_date, {{ var('extraction_date') }}), s.spell_start_date - 1)
            - greatest(o.spell_start_date, s.spell_start_date - 2 * {{ var('prior_sick_leave_days') }}) + 1
        ))::integer as prior_sick_days_730
    from study_spells as s
    join all_spells as o
        on o.person_id = s.person_id
        and o.spell_start_date < s.spell_start_date
        and coalesce(o.spell_end_date, {{ var('extraction_date') }}) >= s.spell_start_date - 2 * {{ var('prior_sick_leave_days') }}
    group by s.spell_id
)

select * from final
order by spell_id
