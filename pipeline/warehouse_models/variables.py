"""The values models read through `{{ var('name') }}`: the study's choices, the delivery, the contracts' definitions.

Every number, date and code list a model's SQL depends on comes from here, named; the SQL
holds no study value of its own. `render` turns each value into a SQL literal (see
`pipeline.warehouse_models.render.sql_value`).
"""

from __future__ import annotations

from typing import Any

from data_schemas.codes import EXHAUSTION_DISORDER, code_list, healthcare_regions, regions
from data_schemas.tables import (
    AGE_65_BIRTHDAY,
    AGI_FIRST_MONTH,
    COLLABORATION_EVENT_COLUMNS,
    END_PRECEDENCE,
    END_REASONS,
    FIRST_DAYS_WINDOW,
    PRIOR_SICK_LEAVE_DAYS,
    SEXES,
)
from data_schemas.study import RELAPSE_RULES
from pipeline.warehouse_models.model import BuildContext



def model_vars(ctx: BuildContext) -> dict[str, Any]:
    """Every var a model may read, by name."""
    st = ctx.study
    birthday_month, birthday_day = AGE_65_BIRTHDAY
    starts = st.time_bands
    return {
        # the study's choices (study.toml)
        "spell_start_from": st.spell_start_from,
        "spell_start_to": st.spell_start_to,
        "age_min_years": st.age_min_years,
        "age_max_years": st.age_max_years,
        "min_spell_days": st.min_spell_days,
        "gap_days": st.gap_days,
        # benefit codes: counted as sick leave; joined into spells by the gap rule (those plus FSJP
        # under fsjp_rule 'drop_spell'); one period of which drops its spell; known to the study
        "benefit_codes": list(st.benefit_codes),
        "spell_benefit_codes": list(st.spell_benefit_codes),
        "spell_dropping_codes": list(st.spell_dropping_codes),
        "known_benefit_codes": list(st.known_benefit_codes),
        "fsjp_rule": st.fsjp_rule,
        "relapse_window_days": st.relapse_window_days,
        # the study's relapse rule, and every rule (the relapse sensitivity analysis compares them)
        "relapse": st.relapse,
        "relapse_rules": list(RELAPSE_RULES),
        "return_to_work": st.return_to_work,
        # (label, first day, first day of the next band or NULL): the rows of person_time's bands
        "time_bands": [
            (label, lo, hi) for label, lo, hi in zip(st.time_band_labels(), starts, (*starts[1:], None))
        ],
        # the delivery
        "extraction_date": ctx.extraction_date,
        # definitions of the contracts (data_schemas)
        "agi_first_month": AGI_FIRST_MONTH,
        "age_65_birthday_month": birthday_month,
        "age_65_birthday_day": birthday_day,
        "first_days_window": FIRST_DAYS_WINDOW,
        "prior_sick_leave_days": PRIOR_SICK_LEAVE_DAYS,
        "end_precedence": list(END_PRECEDENCE),
        "event_columns": {r: f"event_{r}" for r in END_REASONS if r != "censored"},
        "collaboration_event_columns": dict(COLLABORATION_EVENT_COLUMNS),
        # (code, first date column, days-to-first column) of every collaboration event type
        "collaboration_first_columns": [(code, f"first_{col[2:]}_date", f"days_to_first_{col[2:]}")
                                        for code, col in COLLABORATION_EVENT_COLUMNS.items()],
        # (outcome id, first, last, prefix length) of every negative-control range (issue 14), after a
        # placeholder row ('', '', '', 0) that the models drop: a study may have none
        "negative_control_ranges": [("", "", "", 0)] + [
            (o.id, lo, hi, len(lo)) for o in st.negative_controls for lo, hi in o.ranges()],
        "exhaustion_disorder_code": EXHAUSTION_DISORDER,
        "born_in_sweden_code": next(c.code for c in code_list("birth_region") if c.label_en == "Sweden"),
        "sexes": list(SEXES),
        # (code, name) of every region of the code list, in code order: the rows of region_care_units
        "regions": [(r.code, r.name) for r in regions()],
        # (region code, healthcare region, its name): the survey's region groups (survey_responses)
        "healthcare_regions": [(code, hr, name) for code, (hr, name) in healthcare_regions().items()],
    }
