"""The scoring-log contract: required columns and usable types, checked before any statistic runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mrm.errors import SchemaError
from mrm.sources.contract import check_readable, check_unified, conform, required_columns


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


@pytest.mark.parametrize(
    ("kind", "shown"),
    [
        (pa.struct([("code", pa.string())]), "region is struct<code: string>"),
        (pa.list_(pa.string()), "region is list<item: string>"),
        (pa.map_(pa.string(), pa.string()), "region is map<string, string>"),
        (pa.dictionary(pa.int32(), pa.list_(pa.int64())), "region is dictionary<values=list<item: int64>"),
    ],
    ids=["struct", "list", "map", "dictionary of lists"],
)
def test_a_nested_contract_column_is_one_schema_error_before_any_value_is_read(entry, kind, shown):
    schema = pa.schema(
        [("event_id", pa.string()), ("region", kind), ("debug", pa.struct([("a", pa.int8())]))]
    )

    with pytest.raises(SchemaError) as exc:
        check_readable(zip(schema.names, schema.types, strict=True), entry, "scoring log of 2026-09-01")

    message = str(exc.value)
    assert message.startswith(
        "toy_model: scoring log of 2026-09-01 has column(s) of a type mrm cannot read: "
    )
    assert shown in message and "debug" not in message and "\n" not in message  # extra columns are not read
    assert message.endswith("then rerun this date")


def test_files_of_a_day_must_agree_on_each_contract_columns_type(entry):
    text = pa.schema([("region", pa.string()), ("amount", pa.int64())])
    floats = pa.schema([("region", pa.string()), ("amount", pa.float64())])
    codes = pa.schema([("region", pa.int64()), ("amount", pa.float64())])

    check_unified([("a.parquet", text), ("b.parquet", floats)], entry, "day")  # int64 widens to double
    with pytest.raises(SchemaError, match=r"^toy_model: day has files that disagree on the type of column "
                       r"region: string in a\.parquet, int64 in c\.parquet; re-export"):  # fmt: skip
        check_unified([("a.parquet", text), ("c.parquet", codes)], entry, "day")
