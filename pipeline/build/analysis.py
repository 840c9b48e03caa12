"""Analysis tables (marts) `spells`, `persons` and `person_time`, one stated grain each.

Columns and their definitions are declared in `data_schemas/tables.py`; the SQL here builds
them from the intermediate models. `person_time` is the Lexis split of each spell's follow-up
by time band and coordination state, vectorised (a join with the bands and the two states).
"""

from __future__ import annotations

from data_schemas.codes import EXHAUSTION_DISORDER, chapter_group_sql, code_list, diagnosis_group_sql
from data_schemas.tables import (
    COLLABORATION_EVENT_COLUMNS,
    END_REASONS,
    FIRST_DAYS_WINDOW,
    PERSON_TIME,
    PERSONS,
    SPELLS,
    age_group_sql,
    education_group_sql,
)
from pipeline.build.model import BuildContext, Model, sql_date

SCHEMA = "main"


def spells_model(ctx: BuildContext) -> Model:
    x = sql_date(ctx.extraction_date)
    sweden = next(c.code for c in code_list("birth_region") if c.label_en == "Sweden")
    collaboration_counts = ",\n        ".join(
        f"count(*) filter (where event_type = '{code}') as {col}" for code, col in COLLABORATION_EVENT_COLUMNS.items()
    )
    collaboration_columns = ",\n        ".join(f"coalesce(f.{col}, 0)::integer as {col}" for col in COLLABORATION_EVENT_COLUMNS.values())
    return Model(
        SCHEMA,
        SPELLS.name,
        grain=SPELLS.grain,
        sql=f"""
with all_spells as (
    select * from intermediate.int_spells_joined
),

screened as (
    select * from intermediate.int_spells_screened
),

persons as (
    select * from intermediate.int_persons_joined
),

outcomes as (
    select * from intermediate.int_spell_outcomes_classified
),

home_regions as (
    select * from intermediate.int_spell_home_regions_resolved
),

spell_earnings as (
    select * from intermediate.int_spell_earnings_joined
),

extent_segments as (
    select * from intermediate.int_spell_extents_segmented
),

care_contacts as (
    select * from intermediate.int_spell_care_contacts_joined
),

collaboration_events as (
    select * from intermediate.int_spell_collaboration_events_joined
),

study_spells as (
    select s.*, c.age_years
    from all_spells as s
    join screened as c using (spell_id)
    where c.is_in_study_population
),

prior_sick_days as (
    -- days of the person's other spells in the 365 days before the start (day -365 .. -1)
    select
        s.spell_id,
        sum(greatest(0,
            least(coalesce(o.spell_end_date, {x}), s.spell_start_date - 1)
            - greatest(o.spell_start_date, s.spell_start_date - 365) + 1
        ))::integer as prior_sick_days_365
    from study_spells as s
    join all_spells as o
        on o.person_id = s.person_id
        and o.spell_start_date < s.spell_start_date
        and coalesce(o.spell_end_date, {x}) >= s.spell_start_date - 365
    group by s.spell_id
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
        count(*) filter (where has_dv077) as n_dv077
    from care_contacts
    group by spell_id
),

collaboration as (
    select
        spell_id,
        {collaboration_counts}
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
        c.first_gc001_date,
        coalesce(c.n_gc001, 0)::integer as n_gc001,
        c.first_gc001_care_level,
        c.first_gc001_region_code,
        c.first_dv077_date,
        coalesce(c.n_dv077, 0)::integer as n_dv077,
        {collaboration_columns},
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
),

diagnosed as (
    select
        *,
        {diagnosis_group_sql('diagnosis_code')} as diagnosis_group
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
        n_benefit_periods,
        has_rhp,
        first_fk_period_date,
        diagnosis_code,
        diagnosis_group,
        {chapter_group_sql('diagnosis_group')} as diagnosis_chapter_group,
        coalesce(diagnosis_code = '{EXHAUSTION_DISORDER}', false) as is_exhaustion_disorder,
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
        {age_group_sql('age_years')} as age_group,
        education_level,
        {education_group_sql('education_level')} as education_group,
        disposable_income_hsek,
        birth_region_code,
        birth_region_code = '{sweden}' as is_born_in_sweden,
        prior_sick_days_365,
        prior_sick_days_365 > 0 as has_prior_sick_leave,
        first_gc001_date,
        (first_gc001_date - spell_start_date)::integer as days_to_first_gc001,
        n_gc001,
        first_gc001_date is not null as is_coordinated,
        coalesce(first_gc001_date - spell_start_date < {FIRST_DAYS_WINDOW}, false) as is_coordinated_first_90_days,
        first_gc001_care_level,
        first_gc001_region_code,
        first_gc001_region_code = home_region_code as is_gc001_in_home_region,
        first_dv077_date,
        n_dv077,
        {", ".join(COLLABORATION_EVENT_COLUMNS.values())},
        earnings_before_sek,
        earnings_after_sek,
        earnings_after_sek > 0 as has_earnings_month_after
    from diagnosed
)

select * from final
""",
        order_by="spell_id",
    )


def persons_model(ctx: BuildContext) -> Model:
    return Model(
        SCHEMA,
        PERSONS.name,
        grain=PERSONS.grain,
        sql="""
with spells as (
    select * from main.spells
),

persons as (
    select * from intermediate.int_persons_joined
),

spell_counts as (
    select person_id, count(*)::integer as n_spells
    from spells
    group by person_id
),

final as (
    select
        p.person_id,
        p.sex,
        p.birth_year,
        p.death_date,
        c.n_spells
    from spell_counts as c
    join persons as p using (person_id)
)

select * from final
""",
        order_by="person_id",
    )


def person_time_model(ctx: BuildContext) -> Model:
    """Lexis split: bands x coordination state, exposure from t_c exactly, the event on the last interval."""
    study = ctx.study
    starts = study.time_bands
    rows = ", ".join(
        f"('{label}', {lo}, {hi if hi is not None else 'null'})"
        for label, lo, hi in zip(study.time_band_labels(), starts, (*starts[1:], None))
    )
    events = ",\n        ".join(
        f"(stop_day = followup_days and end_reason = '{r}')::integer as event_{r}" for r in END_REASONS if r != "censored"
    )
    return Model(
        SCHEMA,
        PERSON_TIME.name,
        grain=PERSON_TIME.grain,
        sql=f"""
with spells as (
    select spell_id, person_id, followup_days, days_to_first_gc001, end_reason from main.spells
),

bands as (
    select * from (values {rows}) as b(time_band, band_start_day, band_stop_day)
),

states as (
    select * from (values (false), (true)) as c(is_coordinated)
),

intervals as (
    -- unexposed: (band start, min(band stop, followup, t_c)]; exposed: (max(band start, t_c), min(band stop, followup)]
    select
        s.spell_id,
        s.person_id,
        b.time_band,
        b.band_start_day,
        c.is_coordinated,
        case when c.is_coordinated then greatest(b.band_start_day, s.days_to_first_gc001)
            else b.band_start_day end as start_day,
        case when c.is_coordinated then least(coalesce(b.band_stop_day, s.followup_days), s.followup_days)
            else least(coalesce(b.band_stop_day, s.followup_days), s.followup_days,
                       coalesce(s.days_to_first_gc001, s.followup_days)) end as stop_day,
        s.followup_days,
        s.end_reason
    from spells as s
    join bands as b on b.band_start_day < s.followup_days
    join states as c on not c.is_coordinated or s.days_to_first_gc001 is not null
),

final as (
    select
        spell_id,
        person_id,
        time_band,
        band_start_day::integer as band_start_day,
        is_coordinated,
        start_day::integer as start_day,
        stop_day::integer as stop_day,
        (stop_day - start_day)::integer as days_at_risk,
        {events}
    from intervals
    where stop_day > start_day
)

select * from final
""",
        order_by="spell_id, start_day",
    )


def analysis_models(ctx: BuildContext) -> list[Model]:
    """The analysis tables in build order (attrition comes from `pipeline.build.attrition`)."""
    return [spells_model(ctx), persons_model(ctx), person_time_model(ctx)]
