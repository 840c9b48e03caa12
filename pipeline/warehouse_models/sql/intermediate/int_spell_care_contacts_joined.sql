-- int_spell_care_contacts_joined
-- grain: one row per spell in the study population x care contact with GC001, DV077 or AW026 during its follow-up
--
-- Care contacts with GC001, DV077 or AW026 in [spell start, end of follow-up], any region.
with care_contacts as (
    select * from {{ ref('stg_vard__care_contacts') }}
),

spells as (
    select s.spell_id, s.person_id, s.spell_start_date, o.end_date
    from {{ ref('int_spells_in_study') }} as s
    join {{ ref('int_spell_outcomes_classified') }} as o using (spell_id)
),

coordination_contacts as (
    select person_id, contact_date, care_region_code, care_level, has_gc001, has_dv077, has_aw026
    from care_contacts
    where has_gc001 or has_dv077 or has_aw026
),

final as (
    select
        s.spell_id,
        s.person_id,
        c.contact_date,
        (c.contact_date - s.spell_start_date)::integer as contact_day,
        c.care_region_code,
        c.care_level,
        c.has_gc001,
        c.has_dv077,
        c.has_aw026
    from spells as s
    join coordination_contacts as c
        on c.person_id = s.person_id
        and c.contact_date between s.spell_start_date and s.end_date
)

select * from final
order by spell_id, contact_date, care_level, care_region_code, has_gc001, has_dv077, has_aw026
