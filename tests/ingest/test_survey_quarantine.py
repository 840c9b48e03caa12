"""A malformed survey file (enkat_samverkan) and frame (enkat_urval) are quarantined row by row with reasons."""

from __future__ import annotations

from data_schemas.extracts import extract

from .builder import valid_rows, write_extract

SURVEY = extract("enkat_samverkan")


def test_a_malformed_survey_is_quarantined_row_by_row(delivery, load):
    rows = valid_rows(SURVEY, 8)
    rows[1]["F3_Arbetsgivare"] = "7"  # line 3: item out of range 1-6
    rows[2]["F1_FK"] = "0"  # line 4: item out of range
    rows[3]["Region"] = "02"  # line 5: no region 02
    rows[4]["RespondentId"] = rows[0]["RespondentId"]  # line 6: respondent of line 2 again (other answers)
    rows[4]["F2_AF"] = "1" if rows[0]["F2_AF"] != "1" else "2"
    rows[5]["Vardniva"] = "XYZ"  # line 7: no such care level
    rows.append(dict(rows[6]))  # line 10: an exact copy of line 8
    path = write_extract(delivery, "enkat_samverkan", rows=rows)
    loaded = load(delivery)
    got = [(line, col, kind) for _, line, col, _, kind, _ in loaded.quarantine(path.name)]
    assert got == [
        (3, "F3_Arbetsgivare", "unknown_code"),
        (4, "F1_FK", "unknown_code"),
        (5, "Region", "unknown_code"),
        (6, "RespondentId", "duplicate_key"),
        (7, "Vardniva", "unknown_code"),
        (10, None, "exact_duplicate"),  # counted once: not also as a duplicate key
    ]
    reasons = {line: reason for _, line, _, _, _, reason in loaded.quarantine(path.name)}
    assert reasons[6] == "RespondentId already on line 2"
    assert loaded.load_log()[path.name] == (9, 3, 6)  # rows in = loaded + quarantined
    assert [r[0] for r in loaded.rows("select _source_line from raw.enkat_samverkan order by 1")] == [2, 8, 9]


def test_the_frame_quarantines_a_repeated_cell_and_a_non_positive_count(delivery, load):
    frame = extract("enkat_urval")
    rows = valid_rows(frame, 3)
    rows.append({**rows[0], "AntalIUrval": str(int(rows[0]["AntalIUrval"]) + 5)})  # line 5: cell of line 2 again
    rows[1]["AntalIUrval"] = "0"  # line 3
    path = write_extract(delivery, "enkat_urval", rows=rows)
    loaded = load(delivery)
    got = [(line, kind) for _, line, _, _, kind, _ in loaded.quarantine(path.name)]
    assert got == [(3, "not_positive"), (5, "duplicate_key")]
    assert loaded.load_log()[path.name] == (4, 2, 2)
