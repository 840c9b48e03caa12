-- int_spell_outcomes_classified
-- grain: one row per spell analysed under the study's relapse rule ([outcome] relapse)
--
-- End reason and end date of each analysed spell (see data_schemas/tables.py, spells.end_reason),
-- under the study's relapse rule; every rule's are in int_spell_rule_outcomes_classified. Under
-- 'continue' the spells that continue an earlier studied spell's relapse chain have no row: they
-- are part of that spell's follow-up.
with rule_outcomes as (
    select * from {{ ref('int_spell_rule_outcomes_classified') }}
),

final as (
    select spell_id, end_reason, end_date, is_relapse_within_window, n_relapse_spells
    from rule_outcomes
    where relapse_rule = {{ var('relapse') }}
)

select * from final
order by spell_id
