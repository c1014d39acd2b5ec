"""The scoring-log contract: required columns and usable types, checked before any statistic runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrm.errors import SchemaError
from mrm.sources.contract import conform, required_columns


@pytest.fixture
def entry(make_entry):
    return make_entry()


@pytest.fixture
def day(entry, make_scoring_frame) -> pd.DataFrame:
    return make_scoring_frame(entry, 20, seed=3)


def test_the_required_columns_are_the_contract_then_the_features(entry):
    assert required_columns(entry) == [
        "event_id",
        "event_ts",
        "score",
        "decision",
        "amount",
        "tenure",
        "region",
    ]


def test_a_conforming_frame_comes_back_with_float_numerics_and_none_for_missing_categories(entry, day):
    day["tenure"] = np.arange(20, dtype="int64")
    day["region"] = pd.array(["north", pd.NA] * 10, dtype="string")

    out = conform(day, entry, "the test day")

    assert out["tenure"].dtype == np.float64 and out["tenure"].tolist() == list(range(20))
    assert out["score"].dtype == np.float64
    assert out["region"].dtype == object
    assert out["region"].tolist() == ["north", None] * 10
    assert day["tenure"].dtype == np.int64, "the input frame is not modified"


def test_missing_columns_are_all_named_with_the_model_and_the_place(entry, day):
    frame = day.drop(columns=["tenure", "decision"])

    with pytest.raises(SchemaError) as exc:
        conform(frame, entry, "scoring log file:///x/dt=2026-09-01/")

    assert str(exc.value) == (
        "toy_model: scoring log file:///x/dt=2026-09-01/ lacks required column(s) decision, tenure; "
        "fix the export or the inventory's feature list, then rerun"
    )


def test_a_numeric_feature_holding_strings_is_a_schema_error_naming_the_column(entry, day):
    day["amount"] = day["amount"].map(lambda v: f"{v:.2f}")
    day["score"] = day["score"].astype(str)

    with pytest.raises(SchemaError) as exc:
        conform(day, entry, "the test day")

    assert str(exc.value) == (
        "toy_model: the test day has wrong column types: "
        "score is object, expected numeric; amount is object, expected numeric; fix the export (or the "
        "inventory's feature types), then rerun this date"
    )


def test_an_entirely_null_numeric_column_is_accepted_as_float(entry, day):
    day["amount"] = None

    out = conform(day, entry, "the test day")

    assert out["amount"].dtype == np.float64 and out["amount"].isna().all()
