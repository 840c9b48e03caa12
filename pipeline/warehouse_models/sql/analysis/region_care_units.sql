-- region_care_units
-- grain: one row per care region x calendar year of the delivery's care contacts
--
-- How completely each region's care units record KVÅ GC001 (data_schemas/tables.py,
-- REGION_CARE_UNITS): a data-quality indicator to stand beside every regional comparison. A
-- region whose units barely record GC001 may be under-reporting rather than not coordinating.
-- Recording practice is a property of the region's care units, so the counts cover every
-- staged care contact of the delivery, not only those of the study population; the region is
-- the one that gave the care. Years run from the first to the last contact year of the
-- delivery, every year and every region of the code list present (0 where no contacts); the
-- last year is covered only up to the extraction date. Beside them, the region's spell
-- volume: spells of the study population starting that year whose home region it is.
with care_contacts as (
    select * from {{ ref('stg_vard__care_contacts') }}
),

spells as (
    select * from {{ ref('spells') }}
),

regions as (
    select * from (values {{ var('regions') }}) as r(care_region_code, care_region_name)
),

years as (
    -- every year from the first to the last contact year (none when there are no contacts)
    select unnest(generate_series(min(year(contact_date)), max(year(contact_date))))::integer as year
    from care_contacts
    having count(contact_date) > 0
),

contacts as (
    select
        care_region_code,
        year(contact_date)::integer as year,
        care_unit_id,
        has_gc001
    from care_contacts
    where contact_date is not null
),

counted as (
    select
        care_region_code,
        year,
        count(*) as n_contacts,
        count(distinct care_unit_id) as n_care_units,
        count(distinct care_unit_id) filter (where has_gc001) as n_care_units_recording_gc001,
        count(*) filter (where has_gc001) as n_gc001_contacts,
        count(*) filter (where care_unit_id is null) as n_contacts_without_unit
    from contacts
    group by care_region_code, year
),

spell_volume as (
    select
        home_region_code as care_region_code,
        year(spell_start_date)::integer as year,
        count(*) as n_spells
    from spells
    group by all
),

final as (
    select
        r.care_region_code,
        r.care_region_name,
        y.year,
        coalesce(c.n_contacts, 0)::bigint as n_contacts,
        coalesce(c.n_care_units, 0)::bigint as n_care_units,
        coalesce(c.n_care_units_recording_gc001, 0)::bigint as n_care_units_recording_gc001,
        (c.n_care_units_recording_gc001 / nullif(c.n_care_units, 0))::double as share_care_units_recording_gc001,
        coalesce(c.n_gc001_contacts, 0)::bigint as n_gc001_contacts,
        coalesce(c.n_contacts_without_unit, 0)::bigint as n_contacts_without_unit,
        coalesce(s.n_spells, 0)::bigint as n_spells
    from regions as r
    cross join years as y
    left join counted as c on c.care_region_code = r.care_region_code and c.year = y.year
    left join spell_volume as s on s.care_region_code = r.care_region_code and s.year = y.year
)

select * from final
order by care_region_code, year
