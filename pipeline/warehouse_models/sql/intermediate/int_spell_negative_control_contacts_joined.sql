-- int_spell_negative_control_contacts_joined
-- grain: one row per spell in the study population x negative-control outcome x care contact whose main diagnosis is in its ranges, during the spell's follow-up
--
-- Care contacts (any region, any care level) in [spell start, end of follow-up] whose MAIN
-- diagnosis (the first code of Diagnoser) falls in a range of a negative-control outcome of the
-- study ([negative_controls] in study.toml; a range is (first, last) canonical prefixes of equal
-- length: 'H00'-'H59' or 'N390'-'N390'). The study file refuses overlapping ranges, so a contact
-- counts for one outcome at most.
with care_contacts as (
    select * from {{ ref('stg_vard__care_contacts') }}
),

spells as (
    select s.spell_id, s.person_id, s.spell_start_date, o.end_date
    from {{ ref('int_spells_in_study') }} as s
    join {{ ref('int_spell_outcomes_classified') }} as o using (spell_id)
),

ranges as (
    -- the first row is a placeholder so that a study without negative controls still parses
    select * from (values {{ var('negative_control_ranges') }}) as r(outcome_id, code_from, code_to, prefix_length)
    where outcome_id <> ''
),

negative_control_contacts as (
    select distinct c.person_id, c.contact_date, r.outcome_id
    from care_contacts as c
    join ranges as r
        on substr(c.main_diagnosis_code, 1, r.prefix_length) between r.code_from and r.code_to
    where c.main_diagnosis_code is not null
),

final as (
    select
        s.spell_id,
        s.person_id,
        n.outcome_id,
        n.contact_date,
        (n.contact_date - s.spell_start_date)::integer as contact_day
    from spells as s
    join negative_control_contacts as n
        on n.person_id = s.person_id
        and n.contact_date between s.spell_start_date and s.end_date
)

select * from final
order by spell_id, outcome_id, contact_date
