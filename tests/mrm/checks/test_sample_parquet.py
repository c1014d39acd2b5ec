"""The evidence sample as Parquet: every Arrow type a scoring log can bring reads back equal (values,
nulls, NaN, order, the types themselves), each column in the encoding that stores it smallest, and the
whole smaller than Parquet's defaults. Encodings and sizes are read with pyarrow, not with mrm."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import same_table

from mrm.checks.engine.sample_parquet import TRIAL_ROWS, sample_parquet

ROWS = 5_000


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(7)
    floats = rng.normal(0, 1, ROWS)
    floats[::97] = np.nan
    nulls = rng.random(ROWS) < 0.02
    ts = 1_788_220_800 * 10**9 + rng.integers(0, 86_400 * 10**9, ROWS)
    return pa.table(
        {
            "event_id": pa.array([f"{v:016x}" for v in rng.integers(0, 2**63, ROWS)]),
            "event_ts": pa.array(ts, pa.timestamp("ns", tz="UTC")),
            "score": pa.array(rng.beta(2, 5, ROWS)),
            "amount": pa.array(np.round(rng.lognormal(3, 1, ROWS), 2), mask=nulls),
            "nan_and_null": pa.array(floats, mask=nulls),  # NaN and null both kept, apart
            "ratio32": pa.array(rng.random(ROWS).astype(np.float32)),
            "age_days": pa.array(rng.integers(0, 20_000, ROWS)),
            "hour": pa.array(rng.integers(0, 24, ROWS).astype(np.int8)),
            "big": pa.array(rng.integers(0, 2**63, ROWS, dtype=np.uint64), pa.uint64()),
            "small": pa.array(rng.integers(0, 200, ROWS).astype(np.uint8)),
            "half": pa.array(rng.random(ROWS).astype(np.float16)),
            "flag": pa.array(rng.random(ROWS) < 0.1),
            "country": pa.array(rng.choice(["DE", "FR", "GB", None], ROWS)),
            "merchant": pa.array(rng.choice(["grocery", "travel", "fuel"], ROWS)).dictionary_encode(),
            "note": pa.array(rng.choice(["a", "bb", None], ROWS), pa.large_string()),
            "raw": pa.array([bytes([i % 7]) * (i % 5) for i in range(ROWS)], pa.binary()),
            "opened": pa.array([date(2020, 1, 1 + i % 28) for i in range(ROWS)], pa.date32()),
            "limit": pa.array([Decimal(i % 900) / 100 for i in range(ROWS)], pa.decimal128(9, 2)),
            "all_null": pa.nulls(ROWS, pa.float64()),
        }
    )


def read(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data))


def encodings(data: bytes) -> dict[str, set[str]]:
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    return {meta.row_group(0).column(c).path_in_schema: set(meta.row_group(0).column(c).encodings)
            for c in range(meta.num_columns)}  # fmt: skip


def default_parquet(table: pa.Table, **options) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, **options)
    return out.getvalue()


def test_every_type_reads_back_equal(table):
    back = read(sample_parquet(table))
    assert back.schema.equals(table.schema, check_metadata=False)
    assert same_table(back, table)
    nan = back.column("nan_and_null").to_numpy(zero_copy_only=False)
    assert back.column("nan_and_null").null_count == table.column("nan_and_null").null_count > 0
    assert np.isnan(nan).sum() > back.column("nan_and_null").null_count  # NaNs as well as nulls


def test_each_column_in_its_smallest_encoding(table):
    data = sample_parquet(table)
    found = encodings(data)
    assert {c.compression for c in (pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(i)
                                    for i in range(table.num_columns))} == {"ZSTD"}  # fmt: skip
    for few_values in ("country", "merchant", "note"):
        assert "RLE_DICTIONARY" in found[few_values], few_values
    for continuous in ("score", "event_ts", "ratio32"):
        assert "BYTE_STREAM_SPLIT" in found[continuous], continuous
        assert "RLE_DICTIONARY" not in found[continuous], continuous
    # the chosen encoding is no larger than dictionary or plain for that column alone
    for name in ("score", "amount", "age_days", "hour", "opened", "event_id", "country", "flag"):
        alone = table.select([name])
        chosen = len(sample_parquet(alone))
        for dictionary in (True, False):
            assert chosen <= len(default_parquet(alone, compression="zstd", use_dictionary=dictionary,
                                                 write_statistics=False)), (name, dictionary)  # fmt: skip


def test_smaller_than_parquet_defaults(table):
    data = sample_parquet(table)
    assert len(data) < len(default_parquet(table, compression="zstd"))
    assert len(data) < len(default_parquet(table))


def test_a_sample_longer_than_the_trial_is_chosen_on_its_first_rows_and_reads_back_whole(table):
    long = pa.concat_tables([table] * (TRIAL_ROWS // ROWS + 1))
    assert long.num_rows > TRIAL_ROWS
    back = read(sample_parquet(long))
    assert same_table(back, long)
    assert pq.ParquetFile(io.BytesIO(sample_parquet(long))).metadata.num_row_groups == 1


@pytest.mark.parametrize(
    "odd",
    [
        pa.table({"a": pa.array([[1, 2], None, [3]]), "b": pa.array([1.0, 2.0, None])}),  # nested
        pa.table({"a": pa.array([], pa.float64()), "b": pa.array([], pa.string())}),  # no rows
    ],
    ids=["nested", "empty"],
)
def test_tables_the_options_cannot_name_still_read_back(odd):
    back = read(sample_parquet(odd))
    assert same_table(back, odd)
