-- int_spell_earnings_joined
-- grain: one row per spell in the study population
--
-- AGI pay before (12 months before the start month) and after (the month after the end month;
-- for the relapse rule 'continue' also the month after the end month of the spell's relapse chain).
-- A month is observed if it is from the first AGI month and complete by the extraction date;
-- an observed month without AGI rows counts as 0 SEK. The AGI rows stream through a hash join
-- on the spells' month windows (no person-month table of all AGI rows is built).
with spells as (
    select s.spell_id, s.person_id, s.spell_start_date, s.spell_end_date, c.chain_end_date
    from {{ ref('int_spells_in_study') }} as s
    join {{ ref('int_spell_chains_linked') }} as c using (spell_id)
),

monthly_earnings as (
    select * from {{ ref('stg_skv__monthly_earnings') }}
),

observed_months as (
    -- from the first AGI month to the last month complete on the extraction date (the month
    -- before the one holding the day after it)
    select
        {{ month_index(var('agi_first_month')) }} as first_month,
        {{ month_index(var('extraction_date') ~ ' + 1') }} - 1 as last_month
),

windows as (
    select
        s.spell_id,
        s.person_id,
        greatest({{ month_index('s.spell_start_date') }} - 12, m.first_month) as before_first_month,
        least({{ month_index('s.spell_start_date') }} - 1, m.last_month) as before_last_month,
        {{ month_index('s.spell_end_date') }} + 1 as after_month,
        {{ month_index('s.chain_end_date') }} + 1 as after_chain_month
    from spells as s
    cross join observed_months as m
),

earnings_rows as (
    select
        w.spell_id,
        {{ month_index('e.payment_month') }} between w.before_first_month and w.before_last_month as is_before,
        {{ month_index('e.payment_month') }} = w.after_month as is_after,
        {{ month_index('e.payment_month') }} = w.after_chain_month as is_after_chain,
        e.cash_pay_sek
    from monthly_earnings as e
    join windows as w
        on e.person_id = w.person_id
        and ({{ month_index('e.payment_month') }} between w.before_first_month and w.before_last_month
             or {{ month_index('e.payment_month') }} = w.after_month
             or {{ month_index('e.payment_month') }} = w.after_chain_month)
),

sums as (
    select
        spell_id,
        sum(cash_pay_sek) filter (where is_before) as before_sek,
        sum(cash_pay_sek) filter (where is_after) as after_sek,
        sum(cash_pay_sek) filter (where is_after_chain) as after_chain_sek
    from earnings_rows
    group by spell_id
),

final as (
    select
        w.spell_id,
        greatest(w.before_last_month - w.before_first_month + 1, 0)::integer as n_months_before_observed,
        case when w.before_last_month >= w.before_first_month
            then coalesce(s.before_sek, 0) / (w.before_last_month - w.before_first_month + 1)
        end::double as earnings_before_sek,
        case when w.after_month between m.first_month and m.last_month
            then coalesce(s.after_sek, 0)
        end::bigint as earnings_after_sek,
        case when w.after_chain_month between m.first_month and m.last_month
            then coalesce(s.after_chain_sek, 0)
        end::bigint as earnings_after_chain_sek
    from windows as w
    cross join observed_months as m
    left join sums as s using (spell_id)
)

select * from final
order by spell_id
