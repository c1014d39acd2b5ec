"""Data quality through real Great Expectations: observed rates equal hand counts on a small frame."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from mrm.checks.quality_gx import check_quality
from mrm.errors import CheckError

NAN = np.nan


@pytest.fixture(scope="module")
def entry(make_entry):
    return make_entry()  # amount numeric [0, 100], tenure numeric [0, 50], region in north/south/east


@pytest.fixture(scope="module")
def day() -> pd.DataFrame:
    """Ten rows of the toy model with known defects, counted by hand in the tests below."""
    return pd.DataFrame(
        {
            "event_id": ["a", "a", "b", "c", "d", "d", "d", None, "e", "f"],
            "event_ts": pd.Timestamp(datetime(2026, 9, 1, tzinfo=UTC)),
            "score": [0.1, 0.2, 1.5, -0.1, 0.5, NAN, 0.3, 0.0, 1.0, 0.3],
            "decision": ["approve", "approve", "review", "decline", "maybe", None, "approve"]
            + ["review"] * 3,
            "amount": [1.0, 101.0, NAN, -1.0, 100.0, 0.0, 5.0, NAN, 3.0, 2.0],
            "tenure": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
            "region": ["north", "south", "west", None, "north", "north", "mars", "south", "east", "north"],
        }
    )


@pytest.fixture(scope="module")
def values(day, entry) -> dict[tuple[str, str | None], float | None]:
    outcome = check_quality(day, entry, expected_rows=8.0)
    by_key = {(r.metric, r.column): r.value for r in outcome.results}
    assert len(by_key) == len(outcome.results), "one result per metric and column"
    return by_key


@pytest.mark.parametrize(
    ("column", "rate"),
    [
        ("event_id", 1 / 10),  # index 7
        ("event_ts", 0 / 10),
        ("score", 1 / 10),  # index 5
        ("decision", 1 / 10),  # index 5
        ("amount", 2 / 10),  # indexes 2 and 7
        ("tenure", 0 / 10),
        ("region", 1 / 10),  # index 3
    ],
)
def test_null_rate_is_the_share_of_all_rows_that_are_null(values, column, rate):
    assert values[("null_rate", column)] == rate


@pytest.mark.parametrize(
    ("column", "rate"),
    [
        ("score", 2 / 9),  # 1.5 and -0.1 of 9 non-null; 0.0 and 1.0 are inside [0, 1]
        ("amount", 2 / 8),  # 101 and -1 of 8 non-null; 0 and 100 are inside [0, 100]
        ("tenure", 0 / 10),
    ],
)
def test_out_of_range_rate_is_the_share_of_non_null_values_outside_min_max(values, column, rate):
    assert values[("out_of_range_rate", column)] == rate


@pytest.mark.parametrize(
    ("column", "rate"),
    [
        ("region", 2 / 9),  # west and mars of 9 non-null
        ("decision", 1 / 9),  # maybe of 9 non-null
    ],
)
def test_unexpected_category_rate_is_the_share_of_non_null_values_outside_the_list(values, column, rate):
    assert values[("unexpected_category_rate", column)] == rate


def test_duplicate_rate_is_the_share_of_non_null_ids_that_repeat(values, day):
    # a twice and d three times: 5 of the 9 rows with an event_id carry a repeated id
    assert values[("duplicate_rate", None)] == 5 / 9
    ids = day["event_id"].dropna()
    assert ids.duplicated(keep=False).sum() / len(ids) == 5 / 9  # the same reading, counted by pandas


def test_row_count_and_volume_ratio(values):
    assert values[("row_count", None)] == 10
    assert values[("volume_ratio", None)] == 10 / 8


def test_without_an_expected_volume_there_is_no_volume_ratio(day, entry):
    outcome = check_quality(day.iloc[:4], entry, expected_rows=None)

    metrics = {(r.metric, r.column): r.value for r in outcome.results}
    assert ("volume_ratio", None) not in metrics
    assert metrics[("row_count", None)] == 4


def test_every_feature_and_contract_column_is_checked(values, entry):
    checked = {column for metric, column in values if metric == "null_rate"}

    assert checked == {
        "event_id",
        "event_ts",
        "score",
        "decision",
        *(f.name for f in entry.monitoring.features),
    }


def test_the_gx_validation_result_is_kept_as_json_evidence(day, entry):
    import json

    outcome = check_quality(day, entry, expected_rows=None)

    doc = json.loads(outcome.gx_result_json)
    kinds = {r["expectation_config"]["type"] for r in doc["results"]}
    assert {"expect_column_values_to_not_be_null", "expect_column_values_to_be_unique"} <= kinds
    assert doc["success"] is False  # the frame has defects


def test_an_expectation_gx_cannot_evaluate_is_a_check_error(day, entry):
    with pytest.raises(CheckError, match=r"toy_model: GX could not evaluate null_rate on region: .*region"):
        check_quality(day.drop(columns=["region"]), entry, expected_rows=None)


def _configs(expectations) -> list[dict]:
    return [{k: v for k, v in e.configuration.to_json_dict().items() if k != "id"} for e in expectations]


def test_the_suite_holds_what_gx_add_expectation_would_keep_duplicates_left_out(entry):
    """distinct() against GX's own set semantics (ExpectationSuite.add_expectation, one by one): the
    same expectations in the same order, an expectation equal to an earlier one (other meta) left out."""
    import great_expectations as gx

    from mrm.checks.quality_gx import build_suite, distinct

    def plan() -> list:  # fresh expectations each time: a suite binds the ones it is given
        fresh = build_suite(entry, 1000)
        return [*fresh, (build_suite(entry, 1000)[3][0], "twin", None)]  # equal to [3] but for its meta

    reference = gx.ExpectationSuite(name="by_gx")
    for expectation, metric, column in plan():
        expectation.meta = {"mrm_metric": metric, "mrm_column": column, **(expectation.meta or {})}
        reference.add_expectation(expectation)
    ours = distinct(plan())
    assert len(ours) == len(plan()) - 1 == len(reference.expectations)
    assert _configs(ours) == _configs(reference.expectations)
