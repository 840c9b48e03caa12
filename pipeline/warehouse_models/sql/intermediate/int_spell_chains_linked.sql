-- int_spell_chains_linked
-- grain: one row per spell built (int_spells_joined)
--
-- Relapse chains ([outcome] relapse_window_days): a spell whose person starts a new spell at most
-- relapse_window_days after its last day (a relapse) is linked to that spell; linked spells form
-- a chain. Under [outcome] relapse = 'continue' the first spell of a chain in the study population
-- is followed through the rest of the chain, and the chain's later spells in the study population
-- are not analysed as spells of their own (is_relapse_continuation).
with spells as (
    select * from {{ ref('int_spells_joined') }}
),

screened as (
    select * from {{ ref('int_spells_screened') }}
),

linked as (
    select
        s.spell_id,
        s.person_id,
        s.spell_seq,
        s.spell_end_date,
        coalesce(s.next_spell_start_date - s.spell_end_date <= {{ var('relapse_window_days') }}, false)
            as is_relapse_within_window,
        c.is_in_study_population
    from spells as s
    join screened as c using (spell_id)
),

chain_starts as (
    -- a chain starts at every spell that is not the relapse of the spell before it
    select
        *,
        not coalesce(lag(is_relapse_within_window) over (partition by person_id order by spell_seq), false)
            as is_chain_start
    from linked
),

numbered as (
    select
        *,
        sum(is_chain_start::integer) over (partition by person_id order by spell_seq) as chain_seq
    from chain_starts
),

final as (
    select
        spell_id,
        person_id,
        spell_seq,
        chain_seq::integer as chain_seq,
        is_relapse_within_window,
        is_in_study_population,
        -- an earlier spell of the chain is studied: under 'continue' this one is part of its follow-up
        coalesce(is_in_study_population and count(*) filter (where is_in_study_population) over (
            partition by person_id, chain_seq order by spell_seq rows between unbounded preceding and 1 preceding
        ) > 0, false) as is_relapse_continuation,
        -- the later spells of the chain, and the last day of its last spell (NULL while open)
        (max(spell_seq) over chain - spell_seq)::integer as n_later_chain_spells,
        last(spell_end_date) over chain as chain_end_date
    from numbered
    window chain as (partition by person_id, chain_seq order by spell_seq
                     rows between unbounded preceding and unbounded following)
)

select * from final
order by spell_id
