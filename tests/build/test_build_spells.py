"""Benefit periods into spells: the gap rule, overlaps, day 15, RHP, FSJP, open spells, inclusion."""

from datetime import date

D = date.fromisoformat


def starts_and_ends(raw, lopnr):
    return [(s["spell_start_date"], s["spell_end_date"]) for s in raw.spells(lopnr)]


def test_periods_5_days_apart_join_and_6_days_apart_do_not(raw):
    # sick start - previous end = 5: one spell (insjuknanderegeln)
    raw.person(1)
    raw.period(1, "2020-03-01", "2020-03-31")
    raw.period(1, "2020-04-05", "2020-05-31")
    # = 6: two spells
    raw.person(2)
    raw.period(2, "2020-03-01", "2020-03-31")
    raw.period(2, "2020-04-06", "2020-05-31")
    raw.build(relapse="censor")  # every spell built is a row of its own
    assert starts_and_ends(raw, 1) == [(D("2020-03-01"), D("2020-05-31"))]
    assert raw.spell(1)["n_benefit_periods"] == 2
    assert starts_and_ends(raw, 2) == [(D("2020-03-01"), D("2020-03-31")), (D("2020-04-06"), D("2020-05-31"))]


def test_a_gap_of_90_days_as_option(raw):
    raw.person(1)
    raw.period(1, "2020-01-01", "2020-01-31")
    raw.period(1, "2020-05-01", "2020-05-31")  # 91 days after: still apart
    raw.person(2)
    raw.period(2, "2020-01-01", "2020-01-31")
    raw.period(2, "2020-04-30", "2020-05-31")  # 90 days after: joined
    raw.build(gap_days=90)
    assert len(raw.spells(1)) == 2
    assert starts_and_ends(raw, 2) == [(D("2020-01-01"), D("2020-05-31"))]


def test_overlapping_and_duplicated_periods_merge(raw):
    raw.person(1)
    raw.period(1, "2020-01-01", "2020-01-31", diagnosis="M54-")
    raw.period(1, "2020-01-01", "2020-01-31", diagnosis="M54-")  # delivered twice
    raw.period(1, "2020-01-20", "2020-02-28", extent="50")  # a re-decision overlapping the first
    raw.period(1, "2020-02-10", "2020-02-15", extent="50")  # inside the others
    raw.build()
    s = raw.spell(1)
    assert (s["spell_start_date"], s["spell_end_date"]) == (D("2020-01-01"), D("2020-02-28"))
    assert s["spell_days"] == 59
    assert s["n_benefit_periods"] == 4
    assert (s["extent_at_start_pct"], s["extent_at_end_pct"], s["has_extent_reduction"]) == (100, 50, True)
    segments = raw.rows("select extent_pct, segment_start_date, segment_end_date from intermediate.int_spell_extents_segmented order by segment_seq")
    assert segments == [
        {"extent_pct": 100, "segment_start_date": D("2020-01-01"), "segment_end_date": D("2020-01-31")},
        {"extent_pct": 50, "segment_start_date": D("2020-01-20"), "segment_end_date": D("2020-02-28")},
    ]


def test_an_employees_first_period_starting_on_day_15_gives_a_spell_from_day_1(raw):
    raw.person(1)
    raw.period(1, "2020-01-15", "2020-02-29", sick_start="2020-01-01")
    raw.period(1, "2020-03-01", "2020-03-31", sick_start="2020-01-01", extent="50")
    raw.contact(1, "2020-01-05")  # during the employer's sick-pay days: inside the spell
    raw.build()
    s = raw.spell(1)
    assert s["spell_start_date"] == D("2020-01-01")
    assert s["first_fk_period_date"] == D("2020-01-15")
    assert s["spell_days"] == 91
    assert s["days_to_first_gc001"] == 4


def test_rhp_counts_by_default_and_excluding_it_splits_the_spell(make_raw):
    def deliver(raw):
        raw.person(1)
        raw.period(1, "2020-01-01", "2020-03-31")
        raw.period(1, "2020-04-01", "2020-04-30", benefit="RHP")
        raw.period(1, "2020-05-01", "2020-05-31")
        return raw

    with_rhp = deliver(make_raw())
    with_rhp.build()
    s = with_rhp.spell(1)
    assert (s["spell_start_date"], s["spell_end_date"], s["has_rhp"]) == (D("2020-01-01"), D("2020-05-31"), True)

    without_rhp = deliver(make_raw())
    without_rhp.build(include_rhp=False)
    spells = without_rhp.spells(1)
    assert [(x["spell_start_date"], x["spell_end_date"]) for x in spells] == [
        (D("2020-01-01"), D("2020-03-31")),
        (D("2020-05-01"), D("2020-05-31")),
    ]
    assert not any(x["has_rhp"] for x in spells)
    # the next spell starts 31 days after the first one's end: outside the relapse window
    assert spells[0]["end_reason"] == "return_to_work"


def test_fsjp_is_not_sick_leave_by_default_and_cannot_bridge_a_gap(make_raw):
    def deliver(raw):
        raw.person(1)
        raw.period(1, "2020-01-01", "2020-03-31", benefit="FSJP")  # preventive benefit alone
        raw.person(2)
        raw.period(2, "2021-01-01", "2021-01-31")
        raw.period(2, "2021-02-01", "2021-02-28", benefit="FSJP")
        raw.period(2, "2021-03-02", "2021-03-31")
        return raw

    dropped_periods = deliver(make_raw())
    dropped_periods.build(fsjp_rule="drop_period", relapse="censor")  # every spell built is a row of its own
    assert dropped_periods.spells(1) == []
    assert starts_and_ends(dropped_periods, 2) == [(D("2021-01-01"), D("2021-01-31")), (D("2021-03-02"), D("2021-03-31"))]

    default = deliver(make_raw())  # FK's rule: the spell the FSJP period belongs to goes whole
    default.build()
    assert default.spells(1) == [] and default.spells(2) == []

    included = deliver(make_raw())
    included.build(fsjp_rule="include")
    assert starts_and_ends(included, 1) == [(D("2020-01-01"), D("2020-03-31"))]
    assert starts_and_ends(included, 2) == [(D("2021-01-01"), D("2021-03-31"))]


def test_a_spell_still_open_at_extraction_is_censored_at_the_extraction_date(raw):
    raw.person(1)
    raw.period(1, "2024-06-01", "2024-12-31")
    raw.period(1, "2025-01-01", None)  # ongoing
    raw.person(2)
    raw.period(2, "2024-06-01", "2025-06-30")  # decided beyond the extraction date
    raw.build()
    for lopnr in (1, 2):
        s = raw.spell(lopnr)
        assert s["is_open_at_extraction"] and s["spell_end_date"] is None
        assert s["end_reason"] == "censored" and s["end_date"] == D("2025-03-31")
        assert s["spell_days"] == s["followup_days"] == (D("2025-03-31") - D("2024-06-01")).days + 1


def test_the_diagnosis_is_the_first_registered(raw):
    raw.person(1)
    raw.period(1, "2020-01-15", "2020-01-31", sick_start="2020-01-01", diagnosis=None)
    raw.period(1, "2020-02-01", "2020-02-29", sick_start="2020-01-01", diagnosis="f43.8a")
    raw.period(1, "2020-03-01", "2020-03-31", sick_start="2020-01-01", diagnosis="F32.1")
    raw.build()
    s = raw.spell(1)
    assert s["diagnosis_code"] == "F438A"
    assert (s["diagnosis_group"], s["diagnosis_chapter_group"], s["is_exhaustion_disorder"]) == ("stress", "psychiatric", True)


def test_a_spell_without_diagnosis_is_unknown(raw):
    raw.person(1)
    raw.period(1, "2020-01-01", "2020-01-31", diagnosis=None)
    raw.build()
    s = raw.spell(1)
    assert (s["diagnosis_code"], s["diagnosis_group"], s["diagnosis_chapter_group"]) == (None, "unknown", "unknown")


def test_study_period_minimum_length_and_age_at_start(raw):
    cases = {  # person: (start, end, birth year, kept)
        1: ("2017-12-31", "2018-01-31", 1980, False),  # starts before the study period
        2: ("2018-01-01", "2018-01-31", 1980, True),
        3: ("2024-06-30", "2024-07-31", 1980, True),
        4: ("2024-07-01", "2024-07-31", 1980, False),  # starts after it
        5: ("2020-01-01", "2020-01-15", 1980, True),  # 15 days > 14
        6: ("2020-01-01", "2020-01-14", 1980, False),  # 14 days is not more than 14
        7: ("2020-02-01", "2020-03-31", 1956, True),  # age 64 = 2020 - 1956
        8: ("2020-02-01", "2020-03-31", 1955, False),  # 65
        9: ("2020-02-01", "2020-03-31", 2004, True),  # 16
        10: ("2020-02-01", "2020-03-31", 2005, False),  # 15
    }
    for lopnr, (start, end, birth_year, _) in cases.items():
        raw.person(lopnr, birth_year=birth_year)
        raw.period(lopnr, start, end)
    raw.build()
    kept = {s["person_id"]: s for s in raw.spells()}
    assert set(kept) == {p for p, case in cases.items() if case[3]}
    assert (kept[7]["age_years"], kept[7]["age_group"]) == (64, "60-64")
    assert (kept[9]["age_years"], kept[9]["age_group"]) == (16, "16-29")
    assert kept[5]["spell_days"] == 15


def test_spells_of_one_person_are_numbered_in_order_and_keys_are_unique(raw):
    for lopnr in (2, 1):
        raw.person(lopnr)
        raw.period(lopnr, "2021-01-01", "2021-02-28")
        raw.period(lopnr, "2020-01-01", "2020-02-28")
    raw.build()
    ids = [(s["person_id"], s["spell_start_date"], s["spell_id"]) for s in raw.spells()]
    assert ids == [
        (1, D("2020-01-01"), 1),
        (1, D("2021-01-01"), 2),
        (2, D("2020-01-01"), 3),
        (2, D("2021-01-01"), 4),
    ]


def test_a_period_delivered_twice_never_becomes_a_spell_of_its_own(raw):
    # Two copies tie on every sort key; when two window functions broke that tie differently, the
    # copy seen "first" by the spell counter but "second" by the gap rule started a spell of its own
    # (seen in a random reference delivery). Many persons, so that any such disagreement shows.
    for lopnr in range(1, 401):
        raw.person(lopnr)
        raw.period(lopnr, "2020-01-15", "2020-03-31", sick_start="2020-01-01")
        raw.period(lopnr, "2020-01-15", "2020-03-31", sick_start="2020-01-01")  # delivered twice
        raw.period(lopnr, "2020-04-03", "2020-05-31", sick_start="2020-01-01")  # continues the spell
    raw.build(relapse="censor")
    spells = raw.rows("select person_id, count(*) as n, min(spell_start_date) as start, max(spell_end_date) as last "
                      "from intermediate.int_spells_joined group by person_id")
    assert len(spells) == 400
    assert {(s["n"], s["start"], s["last"]) for s in spells} == {(1, D("2020-01-01"), D("2020-05-31"))}
