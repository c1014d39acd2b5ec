"""The day's aggregate as bytes (``day_aggregate.npz``, what the run's next task reads and the evidence
keeps): the compact format (the sample as Parquet zstd with dictionaries, in a compressed .npz) and the
earlier one (snappy Parquet in a stored .npz) both load to the same counts and sample, and the compact one
is smaller. The formats are told apart by reading the bytes with zipfile and pyarrow, not with mrm."""

from __future__ import annotations

import copy
import io
import zipfile
from datetime import date

import numpy as np
import pyarrow.parquet as pq
import pytest
from oracles.engine_metrics import metrics_from_aggregates

from mrm.checks.engine import aggregate as ag
from mrm.checks.engine.day_aggregate import DayAggregate
from mrm.checks.engine.profiling import profile_from_frame
from mrm.inventory import ModelEntry
from mrm.sources.contract import conform, required_columns

DAY = date(2026, 9, 1)


@pytest.fixture(scope="module")
def day(make_entry, make_scoring_frame):
    """(entry, profile, aggregate): segments, Wasserstein sums per bin, a sample smaller than the day."""
    entry = make_entry(segments={"columns": ["region"], "min_rows": 10})
    raw = copy.deepcopy(entry.model_dump(mode="json"))
    raw["monitoring"]["features"][0]["drift_methods"] = ["ks", "wasserstein"]
    entry = ModelEntry.model_validate(raw)
    reference = conform(make_scoring_frame(entry, 3000, seed=1).assign(_dt=date(2026, 8, 20)), entry, "ref")
    current = conform(make_scoring_frame(entry, 2500, seed=2, shift=0.3), entry, "day")
    nulls = {c: float(reference[c].isna().mean()) for c in required_columns(entry)}
    info = {"daily_rows": [3000], "median_daily_rows": 3000.0, "null_rates": nulls}
    profile = profile_from_frame(reference, entry, info)
    return entry, profile, ag.aggregate_frame(current, entry, profile, DAY, sample_rows=800)


def assert_same_counts(a: DayAggregate, b: DayAggregate) -> None:
    assert (a.day, a.rows, a.columns, a.info) == (b.day, b.rows, b.columns, b.info)
    for c, x in a.numeric.items():
        y = b.numeric[c]
        assert x.state() == y.state(), c
        np.testing.assert_array_equal(x.counts, y.counts, err_msg=c)
        if x.sums is not None or y.sums is not None:
            np.testing.assert_array_equal(x.sums, y.sums, err_msg=c)
    assert {c: (x.counts, x.nulls, x.oversized) for c, x in a.categorical.items()} == {
        c: (x.counts, x.nulls, x.oversized) for c, x in b.categorical.items()
    }
    assert (a.ids.nulls, a.ids.n, a.ids.duplicated) == (b.ids.nulls, b.ids.n, b.ids.duplicated)
    t, u = a.times, b.times
    assert (t.start, t.end, t.nulls, t.outside, t.newest) == (u.start, u.end, u.nulls, u.outside, u.newest)
    assert set(a.segments) == set(b.segments)
    for seg, g in a.segments.items():
        h = b.segments[seg]
        assert (g.rows, g.score, g.nulls) == (h.rows, h.score, h.nulls), seg
        assert set(g.counts) == set(h.counts)
        for key, counts in g.counts.items():
            np.testing.assert_array_equal(counts, h.counts[key], err_msg=str(key))


def parquet_codecs(npz: bytes) -> set[str]:
    """The compression of every column chunk of the sample inside the .npz (read with pyarrow)."""
    with np.load(io.BytesIO(npz), allow_pickle=False) as arrays:
        meta = pq.ParquetFile(io.BytesIO(arrays["sample"].tobytes())).metadata
    return {
        meta.row_group(r).column(c).compression
        for r in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    }


def zip_methods(npz: bytes) -> set[int]:
    return {i.compress_type for i in zipfile.ZipFile(io.BytesIO(npz)).infolist()}


def test_the_compact_and_the_earlier_format_load_to_the_same_aggregate(day):
    entry, profile, agg = day
    earlier, compact = agg.to_bytes(compact=False), agg.to_bytes()

    # what each format is, read without mrm
    assert parquet_codecs(earlier) == {"SNAPPY"} and zip_methods(earlier) == {zipfile.ZIP_STORED}
    assert parquet_codecs(compact) == {"ZSTD"} and zip_methods(compact) == {zipfile.ZIP_DEFLATED}

    old, new = (DayAggregate.from_bytes(b, profile, entry) for b in (earlier, compact))

    for back in (old, new):
        assert back.sample.equals(agg.sample) and back.sample.schema.equals(agg.sample.schema)
        assert_same_counts(back, agg)
        assert [r.to_dict() for r in metrics_from_aggregates(back, profile, entry)] == [
            r.to_dict() for r in metrics_from_aggregates(agg, profile, entry)
        ]
    assert agg.sample.num_rows == 800 < agg.rows
    assert len(compact) < len(earlier)


def test_an_aggregate_without_a_sample_survives_both_formats(day):
    entry, profile, agg = day
    bare = copy.copy(agg)
    bare.sample = None
    for data in (bare.to_bytes(compact=False), bare.to_bytes()):
        back = DayAggregate.from_bytes(data, profile, entry)
        assert back.sample is None
        assert_same_counts(back, agg)
