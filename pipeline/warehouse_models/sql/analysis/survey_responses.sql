-- survey_responses
-- grain: one row per respondent of the coordinators' survey
--
-- The survey's answers with the respondent's weighting-class coordinates (data_schemas/tables.py,
-- SURVEY_RESPONSES): region, its healthcare region (sjukvårdsregion, the region group of the
-- weighting classes) and care level. Items keep the scale as answered: 1-5, 6 = don't know,
-- NULL = no answer. No sex: the survey does not ask it.
with responses as (
    select * from {{ ref('stg_enkat__responses') }}
),

healthcare_regions as (
    select * from (values {{ var('healthcare_regions') }}) as h(region_code, healthcare_region_code, healthcare_region_name)
),

final as (
    select
        r.respondent_id,
        r.region_code,
        r.region_name,
        h.healthcare_region_code,
        h.healthcare_region_name,
        r.care_level,
        r.response_date,
        cast(r.item_fk as integer) as item_fk,
        cast(r.item_af as integer) as item_af,
        cast(r.item_employer as integer) as item_employer,
        cast(r.item_municipality as integer) as item_municipality,
        cast(r.item_internal as integer) as item_internal,
        cast(r.item_time as integer) as item_time,
        cast(r.item_routines as integer) as item_routines,
        cast(r.item_training as integer) as item_training
    from responses as r
    left join healthcare_regions as h using (region_code)
)

select * from final
order by respondent_id
