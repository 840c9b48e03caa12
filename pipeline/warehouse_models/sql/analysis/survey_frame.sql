-- survey_frame
-- grain: one row per region x care level of the survey's frame
--
-- Staff invited (the frame count) beside the survey's respondents, per region and care level
-- (data_schemas/tables.py, SURVEY_FRAME). Without the optional frame the table has the cells
-- where someone answered, with n_invited NULL: the response rate is then not computed. A cell
-- with respondents but no frame row keeps n_invited NULL too (the contract's check flags
-- respondents beyond the frame).
with frame as (
    select * from {{ ref('stg_enkat__frame_cells') }}
),

responses as (
    select * from {{ ref('survey_responses') }}
),

healthcare_regions as (
    select * from (values {{ var('healthcare_regions') }}) as h(region_code, healthcare_region_code, healthcare_region_name)
),

answered as (
    select region_code, care_level, count(*) as n_respondents
    from responses
    group by all
),

cells as (
    select region_code, care_level from frame
    union
    select region_code, care_level from answered
),

final as (
    select
        c.region_code,
        h.healthcare_region_code,
        c.care_level,
        f.n_invited,
        coalesce(a.n_respondents, 0)::bigint as n_respondents
    from cells as c
    left join frame as f using (region_code, care_level)
    left join answered as a using (region_code, care_level)
    left join healthcare_regions as h using (region_code)
)

select * from final
order by region_code, care_level
