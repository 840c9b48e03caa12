"""Intermediate models: benefit periods joined into spells, persons, competing events, outcomes,
care contacts and collaboration events tied to spells, home regions and earnings.

Each function returns one `Model` (one table in schema `intermediate`, named
`int_<entity>s_<verb>ed`). The rules are those of `study.toml` and `data_schemas/tables.py`.
Dates: day 0 = the spell's first day; a spell's last day is `spell_end_date` (NULL while open
at the extraction date X).
"""

from __future__ import annotations

from datetime import date, timedelta

from data_schemas.extracts import extract
from data_schemas.tables import (
    AGE_65_BIRTHDAY,
    AGI_FIRST_MONTH,
    END_PRECEDENCE,
    HOME_REGION_SOURCES,
)
from pipeline.build.model import BuildContext, Model, sql_date, sql_list

SCHEMA = "intermediate"


def _stg(name: str) -> str:
    return f"staging.{extract(name).staging_table}"


def _month_index(expr: str) -> str:
    """Months since year 0 of a date: consecutive calendar months differ by 1."""
    return f"(year({expr}) * 12 + month({expr}) - 1)"


def benefit_periods_filtered(ctx: BuildContext) -> Model:
    codes = sql_list(ctx.study.benefit_codes)
    return Model(
        SCHEMA,
        "int_benefit_periods_filtered",
        grain="one row per benefit period of a benefit the study counts",
        sql=f"""
with benefit_periods as (
    select * from {_stg('fk_midas_sjukpenning')}
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
    where benefit_code in {codes}
)

select * from final
""",
    )


def benefit_periods_sequenced(ctx: BuildContext) -> Model:
    """The gap rule: each period gets the sequence number of its spell within the person."""
    gap = ctx.study.gap_days
    order = (
        "period_sick_start_date, period_start_date, period_end_date nulls last, extent_pct, benefit_code, "
        "diagnosis_code, occupation_status, sick_start_date"
    )
    return Model(
        SCHEMA,
        "int_benefit_periods_sequenced",
        grain="one row per benefit period of a benefit the study counts, with its spell",
        sql=f"""
with benefit_periods as (
    select * from intermediate.int_benefit_periods_filtered
),

ordered as (
    select
        *,
        -- the latest end among the person's earlier periods: an open period never ends
        max(coalesce(period_end_date, date '9999-12-31')) over (
            partition by person_id order by {order}
            rows between unbounded preceding and 1 preceding
        ) as previous_latest_end_date
    from benefit_periods
),

flagged as (
    select
        *,
        -- insjuknanderegeln: a period whose sick start is at most {gap} days after the
        -- latest end so far continues the spell (overlaps and repeats give <= 0)
        (previous_latest_end_date is null
         or period_sick_start_date - previous_latest_end_date > {gap}) as is_new_spell
    from ordered
),

final as (
    select
        *,
        sum(is_new_spell::integer) over (
            partition by person_id order by {order}
            rows between unbounded preceding and current row
        ) as spell_seq
    from flagged
)

select * from final
""",
        order_by="person_id, spell_seq, " + order,
    )


def spells_joined(ctx: BuildContext) -> Model:
    x = sql_date(ctx.extraction_date)
    return Model(
        SCHEMA,
        "int_spells_joined",
        grain="one row per spell (sjukfall) of a person, all spells built",
        sql=f"""
with benefit_periods as (
    select * from intermediate.int_benefit_periods_sequenced
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
    group by person_id, spell_seq
),

final as (
    select
        row_number() over (order by person_id, spell_seq) as spell_id,
        person_id,
        spell_seq,
        spell_start_date,
        -- a period decided beyond the extraction date is still running at it
        case when latest_end_date <= {x} then latest_end_date end as spell_end_date,
        (latest_end_date is null or latest_end_date > {x}) as is_open_at_extraction,
        (least(coalesce(latest_end_date, {x}), {x}) - spell_start_date + 1)::integer as spell_days,
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
""",
        order_by="spell_id",
    )


def spell_extents_segmented(ctx: BuildContext) -> Model:
    """Extent changes within a spell: consecutive periods with the same extent form a segment."""
    return Model(
        SCHEMA,
        "int_spell_extents_segmented",
        grain="one row per spell x run of periods with the same extent",
        sql="""
with benefit_periods as (
    select * from intermediate.int_benefit_periods_sequenced
),

spells as (
    select spell_id, person_id, spell_seq from intermediate.int_spells_joined
),

ordered as (
    select
        s.spell_id,
        p.period_start_date,
        p.period_end_date,
        p.extent_pct,
        lag(p.extent_pct) over (
            partition by s.spell_id order by p.period_start_date, p.period_end_date nulls last, p.extent_pct
        ) as previous_extent_pct
    from benefit_periods as p
    join spells as s using (person_id, spell_seq)
),

numbered as (
    select
        *,
        sum((previous_extent_pct is null or previous_extent_pct <> extent_pct)::integer) over (
            partition by spell_id order by period_start_date, period_end_date nulls last, extent_pct
            rows between unbounded preceding and current row
        ) as segment_seq
    from ordered
),

final as (
    select
        spell_id,
        segment_seq::integer as segment_seq,
        min(period_start_date) as segment_start_date,
        case when count(*) = count(period_end_date) then max(period_end_date) end as segment_end_date,
        any_value(extent_pct) as extent_pct,
        bool_or(previous_extent_pct > extent_pct) as is_reduction
    from numbered
    group by spell_id, segment_seq
)

select * from final
""",
        order_by="spell_id, segment_seq",
    )


def persons_joined(ctx: BuildContext) -> Model:
    month, day = AGE_65_BIRTHDAY
    return Model(
        SCHEMA,
        "int_persons_joined",
        grain="one row per person in LISA",
        sql=f"""
with lisa as (
    select * from {_stg('scb_lisa')}
),

deaths as (
    select * from {_stg('scb_dodsorsak')}
),

lisa_persons as (
    select
        person_id,
        -- sex and birth year as LISA last registered them
        first(sex order by year desc) as sex,
        first(birth_year order by year desc)::integer as birth_year,
        min(year) as first_lisa_year,
        max(year) as last_lisa_year,
        count(distinct sex) > 1 as has_sex_changed
    from lisa
    group by person_id
),

person_deaths as (
    select person_id, min(death_date) as death_date
    from deaths
    group by person_id
),

final as (
    select
        p.*,
        d.death_date,
        -- only the birth year is known: the 65th birthday is taken as 1 July
        make_date(p.birth_year + 65, {month}, {day}) as birthday_65_date
    from lisa_persons as p
    left join person_deaths as d using (person_id)
)

select * from final
""",
        order_by="person_id",
    )


def competing_events_unioned(ctx: BuildContext) -> Model:
    x = sql_date(ctx.extraction_date)
    return Model(
        SCHEMA,
        "int_competing_events_unioned",
        grain="one row per person x competing event observed by the extraction date",
        sql=f"""
with persons as (
    select * from intermediate.int_persons_joined
),

migrations as (
    select * from {_stg('scb_migrationer')}
),

compensation_periods as (
    select * from {_stg('fk_midas_ersattning')}
),

deaths as (
    select person_id, 'death' as event_type, death_date as event_date
    from persons
    where death_date is not null
),

emigrations as (
    select person_id, 'emigration' as event_type, migration_date as event_date
    from migrations
    where migration_type = 'Utv'
),

compensation_starts as (
    -- sjukersättning or aktivitetsersättning starts
    select distinct person_id, 'sickness_compensation' as event_type, period_start_date as event_date
    from compensation_periods
),

birthdays_65 as (
    select person_id, 'age_65' as event_type, birthday_65_date as event_date
    from persons
),

unioned as (
    select * from deaths
    union all select * from emigrations
    union all select * from compensation_starts
    union all select * from birthdays_65
),

final as (
    select * from unioned
    where event_date <= {x}
)

select * from final
""",
        order_by="person_id, event_date, event_type",
    )


def spells_screened(ctx: BuildContext) -> Model:
    """The inclusion criteria as flags, in the order of the attrition table."""
    st = ctx.study
    return Model(
        SCHEMA,
        "int_spells_screened",
        grain="one row per spell built, with the inclusion criteria it meets",
        sql=f"""
with spells as (
    select * from intermediate.int_spells_joined
),

persons as (
    select * from intermediate.int_persons_joined
),

flagged as (
    select
        s.spell_id,
        s.person_id,
        p.sex,
        s.n_benefit_periods,
        s.spell_start_date between {sql_date(st.spell_start_from)} and {sql_date(st.spell_start_to)}
            as is_start_in_study_period,
        year(s.spell_start_date) - p.birth_year as age_years,
        -- a person not in LISA has no known age: excluded at the LISA step, not here
        coalesce(year(s.spell_start_date) - p.birth_year between {st.age_min_years} and {st.age_max_years}, true)
            as is_age_in_range,
        s.spell_days > {st.min_spell_days} as is_long_enough,
        p.person_id is not null and p.sex is not null and p.birth_year is not null as is_in_lisa
    from spells as s
    left join persons as p using (person_id)
),

final as (
    select
        *,
        is_start_in_study_period and is_age_in_range and is_long_enough and is_in_lisa
            as is_in_study_population
    from flagged
)

select * from final
""",
        order_by="spell_id",
    )


def spell_earnings_joined(ctx: BuildContext) -> Model:
    """AGI pay before (12 months before the start month) and after (the month after the end month).

    A month is observed if it is from `AGI_FIRST_MONTH` and complete by the extraction date;
    an observed month without AGI rows counts as 0 SEK. The AGI rows stream through a hash
    join on the spells' month windows (no person-month table of all AGI rows is built).
    """
    last_month = _last_complete_month_index(ctx.extraction_date)
    first_month = AGI_FIRST_MONTH.year * 12 + AGI_FIRST_MONTH.month - 1
    month = _month_index("e.payment_month")
    return Model(
        SCHEMA,
        "int_spell_earnings_joined",
        grain="one row per spell in the study population",
        sql=f"""
with spells as (
    select s.spell_id, s.person_id, s.spell_start_date, s.spell_end_date
    from intermediate.int_spells_joined as s
    join intermediate.int_spells_screened as c using (spell_id)
    where c.is_in_study_population
),

monthly_earnings as (
    select * from {_stg('skv_agi_manad')}
),

windows as (
    select
        spell_id,
        person_id,
        greatest({_month_index('spell_start_date')} - 12, {first_month}) as before_first_month,
        least({_month_index('spell_start_date')} - 1, {last_month}) as before_last_month,
        {_month_index('spell_end_date')} + 1 as after_month
    from spells
),

earnings_rows as (
    select
        w.spell_id,
        {month} between w.before_first_month and w.before_last_month as is_before,
        {month} = w.after_month as is_after,
        e.cash_pay_sek
    from monthly_earnings as e
    join windows as w
        on e.person_id = w.person_id
        and ({month} between w.before_first_month and w.before_last_month or {month} = w.after_month)
),

sums as (
    select
        spell_id,
        sum(cash_pay_sek) filter (where is_before) as before_sek,
        sum(cash_pay_sek) filter (where is_after) as after_sek
    from earnings_rows
    group by spell_id
),

final as (
    select
        w.spell_id,
        greatest(w.before_last_month - w.before_first_month + 1, 0)::integer as n_months_before_observed,
        case when w.before_last_month >= w.before_first_month
            then coalesce(m.before_sek, 0) / (w.before_last_month - w.before_first_month + 1)
        end::double as earnings_before_sek,
        case when w.after_month between {first_month} and {last_month}
            then coalesce(m.after_sek, 0)
        end::bigint as earnings_after_sek
    from windows as w
    left join sums as m using (spell_id)
)

select * from final
""",
        order_by="spell_id",
    )


def _last_complete_month_index(x: date) -> int:
    """Month index of the last calendar month complete on the extraction date."""
    index = x.year * 12 + x.month - 1
    return index if (x + timedelta(days=1)).day == 1 else index - 1


def spell_outcomes_classified(ctx: BuildContext) -> Model:
    """End reason and end date of each study spell (see `data_schemas.tables.SPELLS.end_reason`)."""
    st, x = ctx.study, sql_date(ctx.extraction_date)
    window = st.relapse_window_days
    precedence = " ".join(f"when '{k}' then {i}" for i, k in enumerate(END_PRECEDENCE, start=1))
    earnings_condition = "and e.earnings_after_sek > 0" if st.return_to_work == "earnings_confirmed" else ""
    return Model(
        SCHEMA,
        "int_spell_outcomes_classified",
        grain="one row per spell in the study population",
        sql=f"""
with spells as (
    select s.*
    from intermediate.int_spells_joined as s
    join intermediate.int_spells_screened as c using (spell_id)
    where c.is_in_study_population
),

competing_events as (
    select * from intermediate.int_competing_events_unioned
),

spell_earnings as (
    select * from intermediate.int_spell_earnings_joined
),

events_during as (
    -- end follow-up on their date; compensation starting on day d ends sick leave on d - 1
    select
        s.spell_id,
        e.event_type as outcome,
        case when e.event_type = 'sickness_compensation'
            then greatest(e.event_date - 1, s.spell_start_date)
            else e.event_date
        end as candidate_end_date
    from spells as s
    join competing_events as e
        on e.person_id = s.person_id
        and e.event_date between s.spell_start_date and coalesce(s.spell_end_date, {x})
),

events_after as (
    -- within the window after the last day: the reason, on the last day
    select s.spell_id, e.event_type as outcome, s.spell_end_date as candidate_end_date
    from spells as s
    join competing_events as e
        on e.person_id = s.person_id
        and e.event_date > s.spell_end_date
        and e.event_date <= s.spell_end_date + {window}
),

relapses as (
    select spell_id, 'relapse' as outcome, spell_end_date as candidate_end_date
    from spells
    where next_spell_start_date - spell_end_date <= {window}
),

returns_to_work as (
    -- the whole window must be observed before the extraction date
    select s.spell_id, 'return_to_work' as outcome, s.spell_end_date as candidate_end_date
    from spells as s
    left join spell_earnings as e using (spell_id)
    where s.spell_end_date is not null
        and s.spell_end_date + {window} <= {x}
        {earnings_condition}
),

censorings as (
    select spell_id, 'censored' as outcome, coalesce(spell_end_date, {x}) as candidate_end_date
    from spells
),

candidates as (
    select * from events_during
    union all select * from events_after
    union all select * from relapses
    union all select * from returns_to_work
    union all select * from censorings
),

chosen as (
    select
        spell_id,
        first(outcome order by candidate_end_date, case outcome {precedence} end) as outcome,
        min(candidate_end_date) as end_date,
        bool_or(outcome = 'relapse') as is_relapse_within_window
    from candidates
    group by spell_id
),

final as (
    select
        spell_id,
        case when outcome = 'relapse' then 'censored' else outcome end as end_reason,
        end_date,
        is_relapse_within_window
    from chosen
)

select * from final
""",
        order_by="spell_id",
    )


def spell_care_contacts_joined(ctx: BuildContext) -> Model:
    """Care contacts with GC001 or DV077 in [spell start, end of follow-up], any region."""
    return Model(
        SCHEMA,
        "int_spell_care_contacts_joined",
        grain="one row per spell in the study population x care contact with GC001 or DV077 during its follow-up",
        sql=f"""
with care_contacts as (
    select * from {_stg('vard_kontakter')}
),

spells as (
    select s.spell_id, s.person_id, s.spell_start_date, o.end_date
    from intermediate.int_spells_joined as s
    join intermediate.int_spell_outcomes_classified as o using (spell_id)
),

coordination_contacts as (
    select person_id, contact_date, care_region_code, care_level, has_gc001, has_dv077
    from care_contacts
    where has_gc001 or has_dv077
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
        c.has_dv077
    from spells as s
    join coordination_contacts as c
        on c.person_id = s.person_id
        and c.contact_date between s.spell_start_date and s.end_date
)

select * from final
""",
        order_by="spell_id, contact_date, care_level, care_region_code, has_gc001, has_dv077",
    )


def spell_collaboration_events_joined(ctx: BuildContext) -> Model:
    return Model(
        SCHEMA,
        "int_spell_collaboration_events_joined",
        grain="one row per spell in the study population x FK collaboration event during its follow-up",
        sql=f"""
with collaboration_events as (
    select * from {_stg('fk_samverkan')}
),

spells as (
    select s.spell_id, s.person_id, s.spell_start_date, o.end_date
    from intermediate.int_spells_joined as s
    join intermediate.int_spell_outcomes_classified as o using (spell_id)
),

final as (
    select
        s.spell_id,
        s.person_id,
        e.event_date,
        e.event_type
    from spells as s
    join collaboration_events as e
        on e.person_id = s.person_id
        and e.event_date between s.spell_start_date and s.end_date
)

select * from final
""",
        order_by="spell_id, event_date, event_type",
    )


def spell_home_regions_resolved(ctx: BuildContext) -> Model:
    """The LISA year of each study spell's covariates: the year before the start, or the fallback.

    The nearest year at or before the year before the start covers both `year_before` and
    `earlier_year`; without one, the nearest year from the start year on (`start_year`,
    `later_year`).
    """
    year_before, earlier, start_year, later = HOME_REGION_SOURCES
    return Model(
        SCHEMA,
        "int_spell_home_regions_resolved",
        grain="one row per spell in the study population",
        sql=f"""
with lisa as (
    select * from {_stg('scb_lisa')}
),

spells as (
    select s.spell_id, s.person_id, year(s.spell_start_date) as start_year
    from intermediate.int_spells_joined as s
    join intermediate.int_spells_screened as c using (spell_id)
    where c.is_in_study_population
),

chosen_years as (
    select
        s.spell_id,
        s.person_id,
        s.start_year,
        coalesce(
            max(l.year) filter (where l.year <= s.start_year - 1),
            min(l.year) filter (where l.year >= s.start_year)
        ) as home_region_year
    from spells as s
    join lisa as l using (person_id)
    group by s.spell_id, s.person_id, s.start_year
),

final as (
    select
        c.spell_id,
        c.home_region_year,
        case
            when c.home_region_year = c.start_year - 1 then '{year_before}'
            when c.home_region_year < c.start_year - 1 then '{earlier}'
            when c.home_region_year = c.start_year then '{start_year}'
            else '{later}'
        end as home_region_source,
        l.region_code as home_region_code,
        l.region_name as home_region_name,
        l.education_level,
        l.disposable_income_hsek,
        l.birth_region_code
    from chosen_years as c
    join lisa as l on l.person_id = c.person_id and l.year = c.home_region_year
    -- one LISA row per person and year; should a delivery repeat one, keep one deterministically
    qualify row_number() over (partition by c.spell_id order by l.region_code, l.education_level, l.disposable_income_hsek) = 1
)

select * from final
""",
        order_by="spell_id",
    )


def intermediate_models(ctx: BuildContext) -> list[Model]:
    """The intermediate models in build order."""
    return [
        benefit_periods_filtered(ctx),
        benefit_periods_sequenced(ctx),
        spells_joined(ctx),
        spell_extents_segmented(ctx),
        persons_joined(ctx),
        competing_events_unioned(ctx),
        spells_screened(ctx),
        spell_earnings_joined(ctx),
        spell_outcomes_classified(ctx),
        spell_care_contacts_joined(ctx),
        spell_collaboration_events_joined(ctx),
        spell_home_regions_resolved(ctx),
    ]
