"""Bad input and models without a maximum give errors that say what is wrong and where."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.estimators import (
    AalenJohansenSpec,
    CoxSpec,
    FineGraySpec,
    KaplanMeierSpec,
    PoissonSpec,
    fit_aalen_johansen,
    fit_cox,
    fit_fine_gray,
    fit_kaplan_meier,
    fit_poisson,
)
from koord.errors import ContractViolation, ConvergenceError


@pytest.fixture(scope="module")
def rossi(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "rossi.csv")


@pytest.mark.parametrize(
    "fit, spec, named",
    [
        (fit_cox, CoxSpec(stop="week", event="arrest", covariates=("fin", "nope"), weights="w8", cluster="person"),
         ["covariates='nope'", "weights='w8'", "cluster='person'"]),
        (fit_kaplan_meier, KaplanMeierSpec(time="weeks", event="arrest", group="sex"), ["time='weeks'", "group='sex'"]),
        (fit_aalen_johansen, AalenJohansenSpec(time="week", cause="cause", start="entry"),
         ["cause='cause'", "start='entry'"]),
        (fit_fine_gray, FineGraySpec(time="week", cause="arrest", cause_of_interest=1, covariates=("fin", "x")),
         ["covariates='x'"]),
        (fit_poisson, PoissonSpec(events="n", exposure="days", formula_rhs="fin"), ["events='n'", "exposure='days'"]),
    ],
)
def test_missing_columns_are_all_named(fit, spec, named, rossi) -> None:
    with pytest.raises(ContractViolation) as error:
        fit(rossi, spec)
    message = str(error.value)
    assert type(spec).__name__ in message and "columns present: week" in message
    for piece in named:
        assert piece in message


def test_invalid_values_are_collected_in_one_message(rossi) -> None:
    bad = rossi.copy()
    bad.loc[[3, 5], "age"] = np.nan
    bad.loc[7, "arrest"] = 2
    bad["w"] = 1.0
    bad.loc[9, "w"] = -1.0
    with pytest.raises(ContractViolation) as error:
        fit_cox(bad, CoxSpec(stop="week", event="arrest", covariates=("fin", "age"), weights="w"))
    message = str(error.value)
    assert "'age': 2 missing" in message and "row index 3, 5" in message
    assert "'arrest' must be 0 or 1: 1 row(s) (first at row index 7)" in message
    assert "must be non-negative: 1 row(s) (first at row index 9)" in message


def test_intervals_must_be_positive(rossi) -> None:
    with pytest.raises(ContractViolation, match=r"stop \('week'\) must be after start \('prio'\)"):
        fit_cox(rossi, CoxSpec(stop="week", event="arrest", covariates=("fin",), start="prio"))


def test_specs_check_themselves() -> None:
    with pytest.raises(ContractViolation, match="listed more than once"):
        CoxSpec(stop="t", event="e", covariates=("x", "x"))
    with pytest.raises(ContractViolation, match="ties='exact'"):
        CoxSpec(stop="t", event="e", covariates=("x",), ties="exact")
    with pytest.raises(ContractViolation, match="at least one covariate"):
        FineGraySpec(time="t", cause="c", cause_of_interest=1, covariates=())


def test_constant_covariate_and_no_events(rossi) -> None:
    data = rossi.assign(one=1.0)
    with pytest.raises(ContractViolation, match=r"\['one'\] have the same value"):
        fit_cox(data, CoxSpec(stop="week", event="arrest", covariates=("fin", "one")))
    with pytest.raises(ContractViolation, match="no events"):
        fit_cox(data.assign(arrest=0), CoxSpec(stop="week", event="arrest", covariates=("fin",)))


def test_cox_separation_raises_convergence_error_naming_the_covariate(rossi) -> None:
    # 'arrested' equals the event: the partial likelihood grows without bound in its coefficient
    with pytest.raises(ConvergenceError, match="coefficient of arrested grows without bound"):
        fit_cox(rossi.assign(arrested=rossi["arrest"]), CoxSpec(stop="week", event="arrest",
                                                                covariates=("fin", "arrested")))


def test_cox_collinear_covariates_raise_convergence_error(rossi) -> None:
    with pytest.raises(ConvergenceError, match="collinear"):
        fit_cox(rossi.assign(fin2=2 * rossi["fin"]), CoxSpec(stop="week", event="arrest", covariates=("fin", "fin2")))


def test_fine_gray_separation_raises_convergence_error(rossi) -> None:
    data = rossi.assign(cause=np.where(rossi["arrest"] == 1, 1 + rossi["fin"], 0))
    with pytest.raises(ConvergenceError, match="fin"):
        fit_fine_gray(data, FineGraySpec(time="week", cause="cause", cause_of_interest=1, covariates=("fin", "age")))


def test_kaplan_meier_rejects_overlapping_rows_of_one_person() -> None:
    data = pd.DataFrame({"id": [1, 1, 2], "start": [0, 5, 0], "stop": [10, 12, 8], "event": [0, 1, 1]})
    with pytest.raises(ContractViolation, match="overlap an earlier row of the same 'id'"):
        fit_kaplan_meier(data, KaplanMeierSpec(time="stop", event="event", start="start", id="id"))


def test_poisson_errors() -> None:
    cells = pd.DataFrame({"band": ["a", "a", "b", "b", "c", "c"], "x": [0, 1, 0, 1, 0, 1],
                          "events": [5, 7, 3, 4, 0, 0], "days": [100, 110, 90, 95, 50, 60.0]})
    spec = PoissonSpec(events="events", exposure="days", formula_rhs="C(band) + x")
    with pytest.raises(ConvergenceError, match=r"C\(band\)\[T.c\] is not finite"):
        fit_poisson(cells, spec)
    with pytest.raises(ContractViolation, match="cannot be built"):
        fit_poisson(cells, PoissonSpec(events="events", exposure="days", formula_rhs="C(band) + age"))
    with pytest.raises(ContractViolation, match="rows with events but zero 'days'"):
        fit_poisson(cells.assign(days=[0, 110, 90, 95, 50, 60.0]), spec)
    with pytest.raises(ContractViolation, match="cannot be built"):  # patsy must not drop NA rows silently
        fit_poisson(cells.assign(x=[0, 1, np.nan, 1, 0, 1]), PoissonSpec(events="events", exposure="days",
                                                                        formula_rhs="x"))


def test_poisson_drops_and_counts_rows_without_exposure_or_events() -> None:
    cells = pd.DataFrame({"x": [0, 1, 0, 1, 1], "events": [5, 9, 4, 8, 0], "days": [100, 110, 90, 95, 0.0]})
    fit = fit_poisson(cells, PoissonSpec(events="events", exposure="days", formula_rhs="x"))
    assert fit.diagnostics["n_rows_zero_exposure"] == 1 and fit.diagnostics["n_rows"] == 5
