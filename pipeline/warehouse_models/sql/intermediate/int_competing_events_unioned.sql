-- int_competing_events_unioned
-- grain: one row per person x competing event observed by the extraction date
--
-- Death, emigration, the start of sickness or activity compensation, the 65th birthday.
with persons as (
    select * from {{ ref('int_persons_joined') }}
),

migrations as (
    select * from {{ ref('stg_scb__migrations') }}
),

compensation_periods as (
    select * from {{ ref('stg_fk__compensation_periods') }}
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
    where event_date <= {{ var('extraction_date') }}
)

select * from final
order by person_id, event_date, event_type
