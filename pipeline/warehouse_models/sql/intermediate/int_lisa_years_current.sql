-- int_lisa_years_current
-- grain: one row per person and LISA year (the current identity's row)
--
-- LISA as the models use it. A LopNr repeats within a year when the person's identity number
-- changed; SenPNr = 1 marks the row of the current identity (extracts.md), and only that row
-- is kept. A person and year with no row marked current (or a file without SenPNr) keeps
-- its rows as delivered: the repeats are counted in the load report (senpnr_repeat).
with lisa as (
    select * from {{ ref('stg_scb__lisa_years') }}
),

final as (
    select *
    from lisa
    qualify coalesce(is_current_identity, false)
        or not coalesce(bool_or(is_current_identity) over (partition by person_id, year), false)
)

select * from final
