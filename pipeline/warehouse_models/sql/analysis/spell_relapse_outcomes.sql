-- spell_relapse_outcomes
-- grain: one row per relapse rule ('continue', 'censor', 'event') x spell the rule analyses
--
-- The input of the relapse sensitivity analysis (issue 14): each spell's follow-up, end reason and
-- first GC001 under every relapse rule, with the confounders at its start defined as in spells
-- (the same macros and models), so the main models can be rerun per rule. The rows of the study's
-- rule are the spells of `spells`. Columns in data_schemas/tables.py (SPELL_RELAPSE_OUTCOMES).
with rule_outcomes as (
    select * from {{ ref('int_spell_rule_outcomes_classified') }}
),

study_spells as (
    select * from {{ ref('int_spells_in_study') }}
),

persons as (
    select * from {{ ref('int_persons_joined') }}
),

home_regions as (
    select * from {{ ref('int_spell_home_regions_resolved') }}
),

prior_sick_days as (
    select * from {{ ref('int_spell_prior_sick_days_summed') }}
),

care_contacts as (
    select * from {{ ref('stg_vard__care_contacts') }}
),

first_gc001 as (
    -- the first GC001 within each rule's follow-up [spell start, end_date], any region
    select o.relapse_rule, o.spell_id, min(c.contact_date) as first_gc001_date
    from rule_outcomes as o
    join study_spells as s using (spell_id)
    join care_contacts as c
        on c.person_id = s.person_id
        and c.has_gc001
        and c.contact_date between s.spell_start_date and o.end_date
    group by o.relapse_rule, o.spell_id
),

joined as (
    select
        o.relapse_rule,
        o.relapse_rule = {{ var('relapse') }} as is_study_rule,
        o.spell_id,
        s.person_id,
        p.sex,
        s.spell_start_date,
        o.end_date,
        (o.end_date - s.spell_start_date + 1)::integer as followup_days,
        o.end_reason,
        o.is_relapse_within_window,
        o.n_relapse_spells,
        (g.first_gc001_date - s.spell_start_date)::integer as days_to_first_gc001,
        {{ diagnosis_group('s.diagnosis_code') }} as diagnosis_group,
        coalesce(s.diagnosis_code = {{ var('exhaustion_disorder_code') }}, false) as is_exhaustion_disorder,
        s.age_years::integer as age_years,
        s.occupation_status,
        s.extent_at_start_pct,
        coalesce(d.prior_sick_days_365, 0) as prior_sick_days_365,
        coalesce(d.prior_sick_days_730, 0) as prior_sick_days_730,
        h.education_level,
        h.birth_region_code,
        h.home_region_code
    from rule_outcomes as o
    join study_spells as s using (spell_id)
    join persons as p using (person_id)
    join home_regions as h using (spell_id)
    left join prior_sick_days as d using (spell_id)
    left join first_gc001 as g using (relapse_rule, spell_id)
),

final as (
    select
        relapse_rule,
        is_study_rule,
        spell_id,
        person_id,
        end_date,
        followup_days,
        end_reason,
        is_relapse_within_window,
        n_relapse_spells,
        days_to_first_gc001,
        sex,
        spell_start_date,
        diagnosis_group,
        {{ chapter_group('diagnosis_group') }} as diagnosis_chapter_group,
        is_exhaustion_disorder,
        age_years,
        {{ age_group('age_years') }} as age_group,
        occupation_status,
        extent_at_start_pct,
        prior_sick_days_365,
        prior_sick_days_365 > 0 as has_prior_sick_leave,
        prior_sick_days_730,
        {{ education_group('education_level') }} as education_group,
        birth_region_code,
        birth_region_code = {{ var('born_in_sweden_code') }} as is_born_in_sweden,
        home_region_code
    from joined
)

select * from final
order by relapse_rule, spell_id
