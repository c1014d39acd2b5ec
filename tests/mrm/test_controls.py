"""Controls: metric values + the inventory's thresholds -> GREEN / AMBER / RED, INFO, INSUFFICIENT_DATA."""

from __future__ import annotations

import math

import pytest

from mrm import controls
from mrm.controls import ACCEPTED, AMBER, GREEN, INFO, INSUFFICIENT, RED
from mrm.core.results import MetricResult


def below(x: float) -> float:
    return math.nextafter(x, -math.inf)


def above(x: float) -> float:
    return math.nextafter(x, math.inf)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (0.0, GREEN),
        (below(0.10), GREEN),
        (0.10, AMBER),
        (below(0.25), AMBER),
        (0.25, RED),
        (3.0, RED),
    ],
)
def test_higher_is_worse_breaches_at_or_above_the_threshold(value, status):
    assert controls.status_of(value, 0.10, 0.25, "above") == status


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (1.2, GREEN),
        (above(0.8), GREEN),
        (0.8, AMBER),
        (above(0.6), AMBER),
        (0.6, RED),
        (0.0, RED),
    ],
)
def test_lower_is_worse_breaches_at_or_below_the_threshold(value, status):
    assert controls.status_of(value, 0.8, 0.6, "below") == status


@pytest.mark.parametrize("direction", ["above", "below"])
def test_a_value_that_could_not_be_computed_is_insufficient_data(direction):
    assert controls.status_of(None, 0.1, 0.2, direction) == INSUFFICIENT


@pytest.mark.parametrize("direction", ["above", "below"])
def test_a_nan_value_is_not_green(direction):
    assert controls.status_of(math.nan, 0.1, 0.2, direction) == INSUFFICIENT


def test_a_per_column_override_replaces_the_model_wide_thresholds(make_entry):
    entry = make_entry()  # null_rate: 0.05 / 0.10, overridden for tenure to 0.20 / 0.40

    assert controls.thresholds(entry, "null_rate", "tenure") == (0.20, 0.40)
    assert controls.thresholds(entry, "null_rate", "amount") == (0.05, 0.10)
    assert controls.thresholds(entry, "null_rate", None) == (0.05, 0.10)
    assert controls.thresholds(entry, "mean_score", None) is None


def test_evaluate_applies_overrides_direction_and_info(make_entry):
    entry = make_entry()
    results = [
        MetricResult("quality", "null_rate", "tenure", 0.15, {}),  # override: green (< 0.20)
        MetricResult("quality", "null_rate", "amount", 0.15, {}),  # model-wide: red (>= 0.10)
        MetricResult("quality", "volume_ratio", None, 0.7, {}),  # below: amber (<= 0.8, > 0.6)
        MetricResult("drift", "psi", "region", None, {}),  # could not be computed
        MetricResult("drift", "mean_score", None, 0.9, {}),  # no control in the inventory
        MetricResult("quality", "row_count", None, 3.0, {}),  # no control in the inventory
    ]

    evaluated = controls.evaluate(results, entry)

    assert [(e.control, e.amber, e.red, e.status) for e in evaluated] == [
        ("quality.null_rate[tenure]", 0.20, 0.40, GREEN),
        ("quality.null_rate[amount]", 0.05, 0.10, RED),
        ("quality.volume_ratio", 0.8, 0.6, AMBER),
        ("drift.psi[region]", 0.10, 0.25, INSUFFICIENT),
        ("drift.mean_score", None, None, INFO),
        ("quality.row_count", None, None, INFO),
    ]
    assert [e.result for e in evaluated] == results


@pytest.mark.parametrize(
    ("statuses", "overall"),
    [
        ([], GREEN),
        ([GREEN, INFO], GREEN),
        ([GREEN, INSUFFICIENT, INFO], INSUFFICIENT),
        ([INSUFFICIENT, AMBER, GREEN], AMBER),
        ([AMBER, RED, INSUFFICIENT], RED),
        ([RED], RED),
        ([GREEN, INSUFFICIENT, ACCEPTED, INFO], ACCEPTED),  # a run whose only breaches are accepted
        ([ACCEPTED, AMBER, GREEN], AMBER),
        ([ACCEPTED, RED], RED),
    ],
)
def test_worst_ranks_red_over_amber_over_accepted_over_insufficient_data_over_green(statuses, overall):
    assert controls.worst(statuses) == overall
