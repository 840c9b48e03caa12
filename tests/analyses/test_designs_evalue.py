"""E-values against hand calculations from VanderWeele & Ding (Ann Intern Med 2017) and VanderWeele (2020)."""

import math

import pytest

from analyses.designs.evalue import e_value_of_risk_ratio, e_values_hazard_ratio, risk_ratio_from_hazard_ratio


def test_published_risk_ratio_example():
    # VanderWeele & Ding 2017: RR 3.9 (95 % CI 1.8-8.7) -> E-value 7.26, for the lower limit 3.0.
    # 3.9 + sqrt(3.9 * 2.9) = 3.9 + 3.3630 = 7.2630; 1.8 + sqrt(1.8 * 0.8) = 1.8 + 1.2 = 3.0
    assert e_value_of_risk_ratio(3.9) == pytest.approx(7.2630, abs=1e-4)
    point, limit = e_values_hazard_ratio(3.9, 1.8, 8.7, outcome_is_common=False)
    assert point == pytest.approx(7.2630, abs=1e-4)
    assert limit == pytest.approx(3.0, abs=1e-12)


def test_common_outcome_square_root_conversion_by_hand():
    # HR 1.4, common outcome: RR = (1 - 0.5^sqrt(1.4)) / (1 - 0.5^sqrt(1/1.4))
    # 0.5^1.18322 = 0.44040 -> 0.55960; 0.5^0.84515 = 0.55669 -> 0.44331; RR = 1.2623
    # E = 1.2623 + sqrt(1.2623 * 0.2623) = 1.2623 + 0.5754 = 1.8377
    assert risk_ratio_from_hazard_ratio(1.4, outcome_is_common=True) == pytest.approx(1.2623, abs=1e-4)
    point, _ = e_values_hazard_ratio(1.4, 1.2, 1.6)
    assert point == pytest.approx(1.8377, abs=1e-4)


def test_protective_estimate_uses_the_inverse_and_upper_limit():
    # HR 0.5: RR = (1 - 0.5^0.70711) / (1 - 0.5^1.41421) = 0.38745 / 0.62479 = 0.62014 -> 1/RR = 1.61255
    # E = 1.61255 + sqrt(1.61255 * 0.61255) = 1.61255 + 0.99386 = 2.6064
    point, limit = e_values_hazard_ratio(0.5, 0.3, 0.8)
    assert point == pytest.approx(2.6064, abs=1e-4)
    # the limit closer to 1 is the upper one, 0.8
    assert limit == pytest.approx(e_value_of_risk_ratio(risk_ratio_from_hazard_ratio(0.8, True)), rel=1e-12)
    assert limit < point


def test_interval_including_one_gives_one():
    assert e_values_hazard_ratio(1.3, 0.9, 1.8)[1] == 1.0
    assert e_value_of_risk_ratio(1.0) == 1.0


def test_rare_outcome_takes_the_hazard_ratio_as_risk_ratio():
    assert risk_ratio_from_hazard_ratio(2.0, outcome_is_common=False) == 2.0
    assert e_value_of_risk_ratio(2.0) == pytest.approx(2 + math.sqrt(2), rel=1e-12)


def test_invalid_ratio_is_refused():
    with pytest.raises(ValueError):
        e_value_of_risk_ratio(0.0)
    with pytest.raises(ValueError):
        risk_ratio_from_hazard_ratio(float("nan"), True)
