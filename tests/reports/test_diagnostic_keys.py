"""The declaration of the diagnostics keys (`analyses.diagnostic_keys`): what a report may publish of them.

That every key the designs write on a synthetic run is declared is tested end to end in
`test_report_synthetic.py` (it needs the run).
"""

from __future__ import annotations

import pytest

from analyses import diagnostic_keys as dk
from analyses.designs.diagnostics import flags
from analyses.designs.specs import CommonParameters
from reports.sections.diagnostics import DIAGNOSTICS, FLAGS


def test_the_report_publishes_statistics_flags_and_protocol_and_never_counts():
    assert dk.PUBLISHED_KINDS == {dk.STATISTIC, dk.FLAG, dk.PROTOCOL}
    assert dk.kind_of(dk.EVENTS_PER_ARM) is dk.COUNT
    assert dk.kind_of("grace_days") is dk.PROTOCOL and dk.kind_of("n_trial_weeks") is dk.PROTOCOL  # n_, not a count
    assert dk.kind_of("effective_sample_size_treated") is dk.COUNT
    assert dk.kind_of("a_key_nobody_declared") is None


def test_every_diagnostic_the_report_shows_is_declared_publishable():
    shown = [k for k, _, _ in DIAGNOSTICS] + [f"{k}_pass" for k, _, _ in DIAGNOSTICS] + [k for k, _ in FLAGS]
    assert {k: dk.kind_of(k) for k in shown if dk.kind_of(k) not in (dk.STATISTIC, dk.FLAG)} == {}
    assert dk.kind_of("passes") is dk.FLAG and dk.kind_of("design") is dk.PROTOCOL  # read by the sections


def test_the_gates_of_every_design_are_declared():
    params = CommonParameters()
    gates = flags(params, max_abs_smd=0.05, equipoise_share=0.4, support_share=0.95, mdrr=1.3,
                  mde_risk_difference=0.02, events_per_arm={"treated": 40.0, "control": 300.0})
    assert dk.undeclared(gates) == []
    kept, noted = dk.select(gates, dk.PUBLISHED_KINDS)
    assert noted == [] and dk.EVENTS_PER_ARM not in kept and kept["passes"] is gates["passes"]


def test_select_descends_into_groups_and_labelled_mappings_and_notes_what_is_undeclared():
    diagnostics = {
        "design": "target_trial", "n_entries": 1200,
        "populations": {"all/all=all": {"equipoise": 0.4, "n_trials": 12, "weights": {"max_raw_weight": 8.1, "x": 1}},
                        "man/sex=man": "no trial with both arms"},
        "models": {"all/main": {"converged": True, "levels": {"sex": {"reference": "woman"}}}},
        "positivity": {"n_treated_below": 3},
    }
    kept, noted = dk.select(diagnostics, dk.PUBLISHED_KINDS)
    assert kept == {"design": "target_trial",
                    "populations": {"all/all=all": {"equipoise": 0.4, "weights": {"max_raw_weight": 8.1}}},
                    "models": {"all/main": {"converged": True}}}
    assert noted == ["populations.all/all=all.weights.x", "populations.man/sex=man", "positivity.n_treated_below"]
    assert dk.undeclared(diagnostics) == ["populations.all/all=all.weights.x", "positivity.n_treated_below"]


@pytest.mark.parametrize("kind, good, bad", [
    (dk.STATISTIC, [0.1, 3, None], [True, "0.1", [0.1], {"a": 1}]),
    (dk.FLAG, [True, False, None], [1, 0.0, "yes"]),
    (dk.PROTOCOL, ["sqrt", 7, None, True, [1, 99], ["(0,30]"]], [{"a": 1}, [[1]], [None]]),
    (dk.GROUP, [{}, {"a": 1}], [1, None, [1]]),
])
def test_a_value_must_have_the_shape_of_its_kind(kind, good, bad):
    assert all(dk.has_shape(kind, v) for v in good)
    assert not any(dk.has_shape(kind, v) for v in bad)


def test_a_key_declared_twice_is_refused():
    with pytest.raises(ValueError, match="declared twice"):
        dk._declare((dk.STATISTIC, ("mdrr",)), (dk.COUNT, ("mdrr",)))
