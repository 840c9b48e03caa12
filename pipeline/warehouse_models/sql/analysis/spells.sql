-- spells
-- grain: one row per sick-leave spell (sjukfall) in the study population
--
-- The analysis table of spells: follow-up, end reason, covariates at the start, coordination
-- and collaboration during follow-up, earnings around the spell. Every column is declared and
-- defined in data_schemas/tables.py (SPELLS).
with study_spells as (
    select * from {{ ref('int_spells_in_study') }}
),

persons as (
    select * from {{ ref('int_persons_joined') }}
),

outcomes as (
    select * from {{ ref('int_spell_outcomes_classified') }}
),

home_regions as (
    select * from {{ ref('int_spell_home_regions_resolved') }}
),

spell_earnings as (
    select * from {{ ref('int_spell_earnings_joined') }}
),

extent_segments as (
    select * from {{ ref('int_spell_extents_segmented') }}
),

care_contacts as (
    select * from {{ ref('int_spell_care_contacts_joined') }}
),

collaboration_events as (
    select * from {{ ref('int_spell_collaboration_events_joined') }}
),

af_registrations as (
    select * from {{ ref('int_spell_af_registrations_joined') }}
),

af as (
    -- registered at AF on the spell's first day; the first registration starting during follow-up
    select
        spell_id,
        bool_or(is_running_at_start) as is_registered_af_at_start,
        min(registration_date) filter (where is_started_during_followup) as first_af_registration_date
    from af_registrations
    group by spell_id
),

prior_sick_days as (
    select * from {{ ref('int_spell_prior_sick_days_summed') }}
),

extent_changes as (
    select spell_id, bool_or(is_reduction) as has_extent_reduction
    from extent_segments
    group by spell_id
),

coordination as (
    select
        spell_id,
        min(contact_date) filter (where has_gc001) as first_gc001_date,
        count(*) filter (where has_gc001) as n_gc001,
        first(care_level order by contact_date, care_level, care_region_code) filter (where has_gc001)
            as first_gc001_care_level,
        first(care_region_code order by contact_date, care_level, care_region_code) filter (where has_gc001)
            as first_gc001_region_code,
        min(contact_date) filter (where has_dv077) as first_dv077_date,
        count(*) filter (where has_dv077) as n_dv077,
        min(contact_date) filter (where has_aw026) as first_aw026_date,
        count(*) filter (where has_aw026) as n_aw026
    from care_contacts
    group by spell_id
),

collaboration as (
    -- one count per collaboration event type of the code list
    select
        spell_id
        {%- for code, column in var('collaboration_event_columns') %},
        count(*) filter (where event_type = {{ code }}) as {{ column | name }}
        {%- endfor %}
        {%- for code, first_column, _days in var('collaboration_first_columns') %},
        min(event_date) filter (where event_type = {{ code }}) as {{ first_column | name }}
        {%- endfor %},
        min(event_date) filter (where event_type = 'AVST' and has_employer_participated) as first_avst_employer_date
    from collaboration_events
    group by spell_id
),

joined as (
    select
        s.spell_id,
        s.person_id,
        p.sex,
        s.spell_start_date,
        s.spell_end_date,
        s.is_open_at_extraction,
        o.end_date,
        s.spell_days,
        (o.end_date - s.spell_start_date + 1)::integer as followup_days,
        o.end_reason,
        o.is_relapse_within_window,
        o.n_relapse_spells,
        s.n_benefit_periods,
        s.has_rhp,
        s.first_fk_period_date,
        s.diagnosis_code,
        s.extent_at_start_pct,
        s.extent_at_end_pct,
        coalesce(x.has_extent_reduction, false) as has_extent_reduction,
        s.occupation_status,
        h.home_region_code,
        h.home_region_name,
        h.home_region_year,
        h.home_region_source,
        p.birth_year,
        s.age_years::integer as age_years,
        h.education_level,
        h.disposable_income_hsek,
        h.birth_region_code,
        coalesce(d.prior_sick_days_365, 0) as prior_sick_days_365,
        coalesce(d.prior_sick_days_730, 0) as prior_sick_days_730,
        c.first_gc001_date,
        coalesce(c.n_gc001, 0)::integer as n_gc001,
        c.first_gc001_care_level,
        c.first_gc001_region_code,
        c.first_dv077_date,
        coalesce(c.n_dv077, 0)::integer as n_dv077,
        c.first_aw026_date,
        coalesce(c.n_aw026, 0)::integer as n_aw026,
        {%- for _code, column in var('collaboration_event_columns') %}
        coalesce(f.{{ column | name }}, 0)::integer as {{ column | name }},
        {%- endfor %}
        {%- for _code, first_column, days_column in var('collaboration_first_columns') %}
        (f.{{ first_column | name }} - s.spell_start_date)::integer as {{ days_column | name }},
        {%- endfor %}
        (f.first_avst_employer_date - s.spell_start_date)::integer as days_to_first_avst_employer,
        coalesce(a.is_registered_af_at_start, false) as is_registered_af_at_start,
        (a.first_af_registration_date - s.spell_start_date)::integer as days_to_af_registration,
        e.earnings_before_sek,
        e.earnings_after_sek
    from study_spells as s
    join persons as p using (person_id)
    join outcomes as o using (spell_id)
    join home_regions as h using (spell_id)
    left join spell_earnings as e using (spell_id)
    left join extent_changes as x using (spell_id)
    left join prior_sick_days as d using (spell_id)
    left join coordination as c using (spell_id)
    left join collaboration as f using (spell_id)
    left join af as a using (spell_id)
),

diagnosed as (
    select
        *,
        {{ diagnosis_group('diagnosis_code') }} as diagnosis_group
    from joined
),

final as (
    select
        spell_id,
        person_id,
        sex,
        spell_start_date,
        spell_end_date,
        is_open_at_extraction,
        end_date,
        spell_days,
        followup_days,
        end_reason,
        is_relapse_within_window,
        n_relapse_spells,
        n_benefit_periods,
        has_rhp,
        first_fk_period_date,
        diagnosis_code,
        diagnosis_group,
        {{ chapter_group('diagnosis_group') }} as diagnosis_chapter_group,
        coalesce(diagnosis_code = {{ var('exhaustion_disorder_code') }}, false) as is_exhaustion_disorder,
        extent_at_start_pct,
        extent_at_end_pct,
        has_extent_reduction,
        occupation_status,
        home_region_code,
        home_region_name,
        home_region_year,
        home_region_source,
        birth_year,
        age_years,
        {{ age_group('age_years') }} as age_group,
        education_level,
        {{ education_group('education_level') }} as education_group,
        disposable_income_hsek,
        birth_region_code,
        birth_region_code = {{ var('born_in_sweden_code') }} as is_born_in_sweden,
        prior_sick_days_365,
        prior_sick_days_365 > 0 as has_prior_sick_leave,
        prior_sick_days_730,
        first_gc001_date,
        (first_gc001_date - spell_start_date)::integer as days_to_first_gc001,
        n_gc001,
        first_gc001_date is not null as is_coordinated,
        coalesce(first_gc001_date - spell_start_date < {{ var('first_days_window') }}, false) as is_coordinated_first_90_days,
        first_gc001_care_level,
        first_gc001_region_code,
        first_gc001_region_code = home_region_code as is_gc001_in_home_region,
        first_dv077_date,
        (first_dv077_date - spell_start_date)::integer as days_to_first_dv077,
        n_dv077,
        first_aw026_date,
        (first_aw026_date - spell_start_date)::integer as days_to_first_aw026,
        n_aw026,
        {%- for _code, column in var('collaboration_event_columns') %}
        {{ column | name }},
        {%- endfor %}
        {%- for _code, _first, days_column in var('collaboration_first_columns') %}
        {{ days_column | name }},
        {%- endfor %}
        days_to_first_avst_employer,
        is_registered_af_at_start,
        days_to_af_registration,
        earnings_before_sek,
        earnings_after_sek,
        earnings_after_sek > 0 as has_earnings_month_after
    from diagnosed
)

select * from final
order by spell_id
