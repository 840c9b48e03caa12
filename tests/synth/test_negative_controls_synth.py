"""`koord synth` plants the negative-control outcomes of the default study (issue 14) with a known systematic error."""

from __future__ import annotations

import numpy as np
import polars as pl

from data_schemas.codes import normalise_icd10
from data_schemas.study import DEFAULT_NEGATIVE_CONTROLS, load_study
from pipeline.synth import DEFAULT_PARAMETERS
from pipeline.synth.care import (
    _BACKGROUND_CODES,
    NC_CODES_BY_OUTCOME,
    NC_MU_TRUE,
    NC_SIGMA_TRUE,
    negative_control_parameters,
)
from synth_helpers import read_csv


def _outcome_of(code):
    hits = [o.id for o in DEFAULT_NEGATIVE_CONTROLS if o.matches(code)]
    return hits[0] if hits else None


def test_the_synth_plants_the_documented_studys_outcomes_and_nothing_else_carries_them():
    assert load_study().negative_controls == DEFAULT_NEGATIVE_CONTROLS
    assert list(NC_CODES_BY_OUTCOME) == [o.id for o in DEFAULT_NEGATIVE_CONTROLS]
    for outcome, codes in NC_CODES_BY_OUTCOME.items():
        assert all(_outcome_of(c) == outcome for c in codes)
    spell_codes = [c for codes in DEFAULT_PARAMETERS.diagnosis_codes.values() for c, _ in codes]
    assert [c for c in [*spell_codes, *_BACKGROUND_CODES] if _outcome_of(c)] == []


def test_the_planted_systematic_errors_are_drawn_from_the_seed():
    a, b = negative_control_parameters(11), negative_control_parameters(12)
    assert a == negative_control_parameters(11) and a["outcomes"] != b["outcomes"]
    assert (a["mu_true"], a["sigma_true"]) == (NC_MU_TRUE, NC_SIGMA_TRUE)
    log_hr = np.array([o["log_hr"] for o in a["outcomes"]])
    assert len(log_hr) == len(DEFAULT_NEGATIVE_CONTROLS) and np.all(np.abs(log_hr - NC_MU_TRUE) < 5 * NC_SIGMA_TRUE)


def test_the_delivery_holds_the_planted_contacts(clean_delivery):
    delivery, truth = clean_delivery
    planted = truth["care"]["negative_controls"]
    assert planted["mu_true"] == NC_MU_TRUE and [o["id"] for o in planted["outcomes"]] == list(NC_CODES_BY_OUTCOME)
    contacts = read_csv(delivery / "vard_kontakter.csv", truth)
    main = [normalise_icd10(d.split(" ")[0]) if d else None for d in contacts["Diagnoser"].to_list()]
    found = pl.Series([_outcome_of(c) for c in main]).value_counts()
    counts = dict(zip(found[found.columns[0]].to_list(), found["count"].to_list()))
    for outcome, n in planted["contacts"].items():
        # exact duplicate rows (same person, day, unit, code, ...) are written once
        assert 0.98 * n <= counts.get(outcome, 0) <= n, (outcome, counts.get(outcome), n)
        assert n > 100
