"""Landmark and naive 'ever coordinated' rows on hand-made spells."""

import numpy as np
import pandas as pd

from analyses.designs.landmark import landmark_rows
from analyses.designs.naive import naive_rows

SPELLS = pd.DataFrame({
    "spell_id": [1, 2, 3, 4, 5],
    "person_id": [1, 2, 3, 4, 5],
    "followup_days": [40, 25, 31, 100, 30],
    "days_to_first_gc001": [10, np.nan, 30, 45, np.nan],
    "end_reason": ["return_to_work", "return_to_work", "death", "return_to_work", "censored"],
    "is_coordinated": [True, False, True, True, False],
    "sex": "woman",
})


def test_landmark_eligibility_and_exposure_fixed_at_the_landmark():
    rows = landmark_rows(SPELLS, 30, ("sex",)).set_index("spell_id")
    # spell 2 (follow-up 25) and 5 (follow-up ends at 30) are no longer at risk at day 30
    assert list(rows.index) == [1, 3, 4]
    # coordinated by day 30: GC001 on day 10 and on day 30 itself; spell 4's GC001 on day 45 is after
    assert list(rows["is_coordinated"]) == [1.0, 1.0, 0.0]
    assert (rows["start"] == 30).all() and list(rows["stop"]) == [40, 31, 100]
    assert list(rows["event"]) == [1.0, 0.0, 1.0]


def test_later_landmark_sees_later_coordination():
    rows = landmark_rows(SPELLS, 60, ("sex",)).set_index("spell_id")
    assert list(rows.index) == [4] and rows.loc[4, "is_coordinated"] == 1.0


def test_naive_rows_classify_whole_follow_up_by_ever_coordinated():
    rows = naive_rows(SPELLS, 14, ("sex",)).set_index("spell_id")
    assert list(rows.index) == [1, 2, 3, 4, 5]
    assert list(rows["is_coordinated"]) == [1.0, 0.0, 1.0, 1.0, 0.0]
    assert (rows["start"] == 14).all()
    # the immortal time: spell 4 counts as coordinated from day 14 though its GC001 is on day 45
    assert rows.loc[4, "days_at_risk"] == 86
