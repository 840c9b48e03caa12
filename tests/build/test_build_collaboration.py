"""Issue 13's warehouse columns: spell_collaboration_events, the employer's meeting and AF registration on spells.

Every case is one person with a spell 2020-01-01 to 2020-06-30 ending in a return to work
(follow-up 182 days), unless stated otherwise.
"""

from datetime import date

import pytest

D = date.fromisoformat


def _spell(raw, lopnr):
    raw.person(lopnr)
    raw.period(lopnr, "2020-01-01", "2020-06-30")


@pytest.fixture(scope="module")
def built(new_raw):
    raw = new_raw()
    _spell(raw, 1)
    raw.add("fk_samverkan", LopNr=1, HandelseDatum="2020-02-01", HandelseTyp="AVST", DeltagVard="1",
            DeltagArbetsgivare="0", DeltagAF="0")  # day 31, no employer
    raw.add("fk_samverkan", LopNr=1, HandelseDatum="2020-03-01", HandelseTyp="AVST", DeltagVard="0",
            DeltagArbetsgivare="1", DeltagAF="1")  # day 60, the employer takes part
    raw.add("fk_samverkan", LopNr=1, HandelseDatum="2020-03-01", HandelseTyp="AVST", DeltagVard="0",
            DeltagArbetsgivare="1", DeltagAF="1")  # the same meeting delivered twice: two rows
    raw.add("fk_samverkan", LopNr=1, HandelseDatum="2020-02-15", HandelseTyp="INFO4")
    raw.add("fk_samverkan", LopNr=1, HandelseDatum="2019-12-01", HandelseTyp="AVST",
            DeltagArbetsgivare="1")  # before the spell: not joined
    _spell(raw, 2)
    raw.add("fk_samverkan", LopNr=2, HandelseDatum="2020-01-11", HandelseTyp="AVST")  # participation not recorded
    # AF: 3 registered since before the spell (running at start); 4 registers on day 45; 5 was
    # deregistered before the spell and registers again after its end; 6 registers on the first day
    for lopnr in (3, 4, 5, 6):
        _spell(raw, lopnr)
    raw.add("af_inskrivning", LopNr=3, InskrDatum="2019-06-01", AvaktDatum=None, SokandeKategori="ARBL")
    raw.add("af_inskrivning", LopNr=4, InskrDatum="2020-02-15", AvaktDatum="2020-09-01", SokandeKategori="ARBL")
    raw.add("af_inskrivning", LopNr=5, InskrDatum="2019-01-01", AvaktDatum="2019-12-31", SokandeKategori="ARBL")
    raw.add("af_inskrivning", LopNr=5, InskrDatum="2020-07-01", AvaktDatum=None, SokandeKategori="ARBL")
    raw.add("af_inskrivning", LopNr=6, InskrDatum="2020-01-01", AvaktDatum=None, SokandeKategori="DELT")
    raw.build()
    return raw


def test_events_table_keeps_every_event_in_follow_up_with_its_day_and_participants(built):
    s = built.spell(1)
    rows = built.rows(f"select * from main.spell_collaboration_events where spell_id = {s['spell_id']} order by event_seq")
    got = [(r["event_seq"], r["event_type"], r["day_index"], r["has_care_participated"], r["has_employer_participated"],
            r["has_af_participated"]) for r in rows]
    assert got == [(1, "AVST", 31, True, False, False), (2, "INFO4", 45, None, None, None),
                   (3, "AVST", 60, False, True, True), (4, "AVST", 60, False, True, True)]
    assert (s["n_fk_avst"], s["n_fk_info4"], s["days_to_first_fk_avst"], s["days_to_first_avst_employer"]) == (3, 1, 31, 60)


def test_unrecorded_participation_is_null_and_no_employer_meeting(built):
    s = built.spell(2)
    rows = built.rows(f"select * from main.spell_collaboration_events where spell_id = {s['spell_id']}")
    assert [(r["day_index"], r["has_employer_participated"]) for r in rows] == [(10, None)]
    assert s["days_to_first_avst_employer"] is None


@pytest.mark.parametrize("lopnr, at_start, days", [(3, True, None), (4, False, 45), (5, False, None), (6, True, 0),
                                                   (1, False, None)])
def test_af_registration_at_start_and_during_follow_up(built, lopnr, at_start, days):
    s = built.spell(lopnr)
    assert (s["is_registered_af_at_start"], s["days_to_af_registration"]) == (at_start, days)
