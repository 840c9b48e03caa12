-- attrition
-- grain: one row per inclusion step x sex ('all', 'woman', 'man')
--
-- Every inclusion step in order, with persons, spells and periods remaining. Steps 1-3 count
-- benefit periods (spells are not built yet: n_spells is NULL): the delivery's, those with a code
-- the study knows (the code list or extra_sick_leave_codes; the step names the unknown codes it
-- removes), those the gap rule joins into spells. Step 4 counts every spell built, step 5 the
-- spells the FSJP rule keeps (fsjp_rule 'drop_spell' drops each spell with an FSJP period);
-- from step 6 on, each step keeps the spells of the previous step that meet one more criterion
-- of int_spells_screened, so every count can only stay or fall; step 10 removes, under the relapse
-- rule 'continue', the spells that continue an earlier studied spell's relapse chain (they are
-- part of its follow-up). Sex is LISA's: persons not in LISA count under 'all' only, until step 9
-- excludes them.
with benefit_periods as (
    select * from {{ ref('stg_fk__benefit_periods') }}
),

included_periods as (
    select * from {{ ref('int_benefit_periods_filtered') }}
),

sequenced_periods as (
    select * from {{ ref('int_benefit_periods_sequenced') }}
),

built_spells as (
    -- every spell the gap rule built, before the FSJP rule
    select person_id, spell_seq, count(*) as n_benefit_periods
    from sequenced_periods
    group by person_id, spell_seq
),

known_periods as (
    select * from benefit_periods
    where benefit_code in ({{ var('known_benefit_codes') }})
),

unknown_codes as (
    -- the codes neither in the code list nor listed by the study, named in step 2
    select string_agg(distinct coalesce(benefit_code, '(tom)'), ', ' order by coalesce(benefit_code, '(tom)')) as codes
    from benefit_periods
    where benefit_code is null or benefit_code not in ({{ var('known_benefit_codes') }})
),

persons as (
    select * from {{ ref('int_persons_joined') }}
),

screened as (
    select * from {{ ref('int_spells_screened') }}
),

chains as (
    select * from {{ ref('int_spell_chains_linked') }}
),

steps as (
    -- the steps with their Swedish descriptions, the study's values filled in
    select * from (values
        (1, 'benefit_periods', 'Personer med förmånsperioder i leveransen (alla förmånskoder)'),
        (2, 'known_benefit_codes', format('Perioder med förmånskoder som studien känner ({}); bort: {}',
            array_to_string([{{ var('known_benefit_codes') }}], ', '),
            coalesce('okända koder ' || (select codes from unknown_codes), 'inga okända koder'))),
        (3, 'included_benefits', format('Perioder med förmåner som bildar sjukfall ({}){}',
            array_to_string([{{ var('spell_benefit_codes') }}], ', '),
            case when {{ var('fsjp_rule') }} = 'drop_spell'
                then '; FSJP för att hitta sjukfallen som tas bort i nästa steg' else '' end)),
        (4, 'spells_built', format('Sjukfall byggda av perioderna (insjuknanderegeln: glapp högst {} dagar)',
            {{ var('gap_days') }})),
        (5, 'fsjp_rule', case {{ var('fsjp_rule') }}
            when 'drop_spell' then 'Sjukfall utan period med förebyggande sjukpenning (FSJP): '
                || 'Försäkringskassans regel tar bort hela sjukfallet'
            when 'drop_period' then 'Förebyggande sjukpenning (FSJP): perioderna ingår inte i sjukfallen, '
                || 'inga sjukfall tas bort här'
            else 'Förebyggande sjukpenning (FSJP) räknas som sjukfrånvaro, inga sjukfall tas bort här' end),
        (6, 'start_in_study_period', format('Sjukfallet börjar {}–{}',
            {{ var('spell_start_from') }}, {{ var('spell_start_to') }})),
        (7, 'age_in_range', format('Ålder vid sjukfallets start {}–{} år',
            {{ var('age_min_years') }}, {{ var('age_max_years') }})),
        (8, 'min_spell_length', format('Sjukfallet varar mer än {} dagar', {{ var('min_spell_days') }})),
        (9, 'person_in_lisa', 'Personen finns i LISA (kön och födelseår kända)'),
        (10, 'relapse_continuation', case {{ var('relapse') }}
            when 'continue' then format('Sjukfallet fortsätter inte ett tidigare sjukfall: ett nytt sjukfall som '
                || 'börjar högst {} dagar efter det förra räknas som återinsjuknande och följs som en del av det',
                {{ var('relapse_window_days') }})
            else format('Återinsjuknande (nytt sjukfall högst {} dagar efter det förra): varje sjukfall följs för sig, '
                || 'inga sjukfall tas bort här', {{ var('relapse_window_days') }}) end),
        (11, 'study_population', 'Studiepopulationen')
    ) as s(step_order, step, description_sv)
),

sexes as (
    select unnest(['all', {{ var('sexes') }}]) as sex
),

period_rows as (
    select 1 as step_order, b.person_id, p.sex, null::integer as n_spells, 1 as n_benefit_periods
    from benefit_periods as b
    left join persons as p using (person_id)
    union all
    select 2, k.person_id, p.sex, null::integer, 1
    from known_periods as k
    left join persons as p using (person_id)
    union all
    select 3, i.person_id, p.sex, null::integer, 1
    from included_periods as i
    left join persons as p using (person_id)
),

spell_rows as (
    -- a spell remains at step k if it meets every criterion up to k
    select 4 as step_order, b.person_id, p.sex, 1 as n_spells, b.n_benefit_periods
    from built_spells as b
    left join persons as p using (person_id)
    union all
    -- int_spells_screened holds the spells the FSJP rule keeps
    select 5, person_id, sex, 1, n_benefit_periods from screened
    union all
    select 6, person_id, sex, 1, n_benefit_periods from screened
    where is_start_in_study_period
    union all
    select 7, person_id, sex, 1, n_benefit_periods from screened
    where is_start_in_study_period and is_age_in_range
    union all
    select 8, person_id, sex, 1, n_benefit_periods from screened
    where is_start_in_study_period and is_age_in_range and is_long_enough
    union all
    select 9, person_id, sex, 1, n_benefit_periods from screened
    where is_start_in_study_period and is_age_in_range and is_long_enough and is_in_lisa
    union all
    select 10, s.person_id, s.sex, 1, s.n_benefit_periods from screened as s
    join chains as c using (spell_id)
    where s.is_start_in_study_period and s.is_age_in_range and s.is_long_enough and s.is_in_lisa
        and ({{ var('relapse') }} <> 'continue' or not c.is_relapse_continuation)
    union all
    select 11, s.person_id, s.sex, 1, s.n_benefit_periods from screened as s
    join chains as c using (spell_id)
    where s.is_in_study_population and ({{ var('relapse') }} <> 'continue' or not c.is_relapse_continuation)
),

remaining as (
    select * from period_rows
    union all
    select * from spell_rows
),

counted as (
    select
        step_order,
        coalesce(sex, 'all') as sex,
        count(distinct person_id) as n_persons,
        sum(n_spells) as n_spells,
        sum(n_benefit_periods) as n_benefit_periods
    from remaining
    group by grouping sets ((step_order), (step_order, sex))
    -- persons without LISA have no sex: they count under 'all' only
    having grouping(sex) = 1 or sex is not null
),

final as (
    select
        s.step_order::integer as step_order,
        s.step,
        s.description_sv,
        x.sex,
        coalesce(c.n_persons, 0)::bigint as n_persons,
        case when s.step_order >= 4 then coalesce(c.n_spells, 0) end::bigint as n_spells,
        coalesce(c.n_benefit_periods, 0)::bigint as n_benefit_periods
    from steps as s
    cross join sexes as x
    left join counted as c on c.step_order = s.step_order and c.sex = x.sex
)

select * from final
order by step_order, list_position(['all', {{ var('sexes') }}], sex)
