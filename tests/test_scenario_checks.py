"""check-truth's scenario rules (w-x of `pipeline.commands.recovery_scenarios`): the truth is computed at the analysis' own uptake target."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from analyses.designs.run import catalogue
from analyses.designs.specs import specs_from_table
from pipeline.commands import recovery_scenarios as R
from pipeline.commands.recovery import CATALOGUE


def _catalogue(diagnostics: dict) -> pd.DataFrame:
    spec = specs_from_table({"run": ["scenarios"], "scenarios": {"entry_day": 14}})[0]
    result = SimpleNamespace(summary=pd.DataFrame(), diagnostics=diagnostics)  # what the catalogue reads of a Result
    return catalogue((spec,), {spec.id: result})


def test_the_analysis_target_is_read_from_the_catalogue():
    assert R.analysis_uptake_target(_catalogue({"uptake_target": 0.1834})) == 0.1834
    assert R.analysis_uptake_target(_catalogue({})) is None
    assert R.analysis_uptake_target(_catalogue({"uptake_target": 0.2}), analysis_id="other") is None


def test_the_truth_of_the_uptake_scenario_is_computed_at_the_analysis_target(monkeypatch):
    seen = {}

    def cohort_truth(spells, linked, params, uptake_target=None):
        seen["target"] = uptake_target
        return {}

    monkeypatch.setattr(R, "cohort_truth", cohort_truth)
    monkeypatch.setattr(R, "scenario_checks", lambda table, truth: [])
    spells = pd.DataFrame({"followup_days": [30]})
    results = {R.SCENARIO_ANALYSIS: pd.DataFrame(), CATALOGUE: _catalogue({"uptake_target": 0.1834})}
    assert R.issue15_checks(results, spells, linked=None) == ([], [])
    assert seen["target"] == 0.1834
    # results without the recorded target (an older run): the quantile of the true uptakes, said in a note
    results[CATALOGUE] = _catalogue({})
    rows, notes = R.issue15_checks(results, spells, linked=None)
    assert seen["target"] is None and "uptake_target" in notes[0]
