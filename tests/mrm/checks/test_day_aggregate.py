"""The day's aggregate as bytes (``day_aggregate.npz``, what the run's next task reads and the evidence
keeps). Written today: counts deflated, the sample as zstd Parquet in its smallest per-column encodings,
stored once; it reads back to the same counts, sample and metrics, and is smaller than the earlier
layouts. Written by earlier code (``fixtures/day_aggregate``, made by commit ebacc2e: ``v1`` snappy
Parquet in a stored .npz, the format before fac6924; ``v2`` zstd dictionary Parquet in a deflated .npz):
both still open, to the metrics that code computed from the aggregate in memory (``metrics.json``). The
layouts are told apart by reading the bytes with zipfile and pyarrow, not with mrm."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from oracles.engine_metrics import metrics_from_aggregates
from support import same_table

from mrm.checks.engine import aggregate as ag
from mrm.checks.engine.day_aggregate import DayAggregate
from mrm.checks.engine.profile import ReferenceProfile
from mrm.checks.engine.profiling import profile_from_frame
from mrm.inventory import ModelEntry
from mrm.sources.contract import conform, required_columns

DAY = date(2026, 9, 1)
FIXTURES = Path(__file__).parent / "fixtures" / "day_aggregate"
EARLIER = ("v1_snappy_stored.npz", "v2_zstd_deflated.npz")


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


@pytest.fixture(scope="module")
def kept():
    """(entry, profile, {file: bytes}) of the aggregate earlier code wrote, and its metrics then."""
    entry = ModelEntry.model_validate(json.loads((FIXTURES / "entry.json").read_text()))
    files = {p.name.removeprefix("profile_"): p.read_bytes() for p in FIXTURES.glob("profile_*")}
    written = {name: (FIXTURES / name).read_bytes() for name in EARLIER}
    then = json.loads((FIXTURES / "metrics.json").read_text())
    return entry, ReferenceProfile.from_files(files), written, then


def metrics(agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry) -> list[dict]:
    """The quality and drift metrics as JSON would keep them (tuples as lists)."""
    return json.loads(json.dumps([r.to_dict() for r in metrics_from_aggregates(agg, profile, entry)]))


def by_key(results: list[dict]) -> list[dict]:
    """``results`` in a fixed order: a cached profile lists its columns sorted, so its metrics come in
    another order than from the profile in memory."""
    return sorted(results, key=lambda r: json.dumps([r["check"], r["metric"], r["column"], r["segment"]]))


def assert_same_counts(a: DayAggregate, b: DayAggregate) -> None:
    assert (a.day, a.rows, a.columns, a.info) == (b.day, b.rows, b.columns, b.info)
    for c, x in a.numeric.items():
        y = b.numeric[c]
        assert x.state() == y.state(), c
        np.testing.assert_array_equal(x.counts, y.counts, err_msg=c)
        assert x.counts.dtype == y.counts.dtype, c
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


def assert_same_sample(a: DayAggregate, b: DayAggregate) -> None:
    assert same_table(a.sample, b.sample)


def sample_parquet(npz: bytes) -> pq.FileMetaData:
    """The metadata of the sample's Parquet inside the .npz (read with numpy and pyarrow)."""
    with np.load(io.BytesIO(npz), allow_pickle=False) as arrays:
        return pq.ParquetFile(io.BytesIO(arrays["sample"].tobytes())).metadata


def chunks(meta: pq.FileMetaData):
    return [meta.row_group(r).column(c) for r in range(meta.num_row_groups) for c in range(meta.num_columns)]


def zip_methods(npz: bytes) -> dict[str, int]:
    return {i.filename: i.compress_type for i in zipfile.ZipFile(io.BytesIO(npz)).infolist()}


def test_the_aggregate_reads_back_to_the_same_counts_sample_and_metrics(day):
    entry, profile, agg = day
    data = agg.to_bytes()
    back = DayAggregate.from_bytes(data, profile, entry)

    assert_same_counts(back, agg)
    assert_same_sample(back, agg)
    assert metrics(back, profile, entry) == metrics(agg, profile, entry)
    assert agg.sample.num_rows == 800 < agg.rows
    assert data == agg.to_bytes()  # the same aggregate gives the same bytes (and SHA-256)


def test_the_sample_is_zstd_parquet_in_per_column_encodings_stored_once(day):
    entry, _, agg = day
    data = agg.to_bytes()

    methods = zip_methods(data)
    assert methods.pop("sample.npy") == zipfile.ZIP_STORED  # already compressed: not deflated again
    assert set(methods.values()) == {zipfile.ZIP_DEFLATED} and "meta.npy" in methods
    meta = sample_parquet(data)
    assert meta.num_row_groups == 1 and {c.compression for c in chunks(meta)} == {"ZSTD"}
    encodings = {c.path_in_schema: set(c.encodings) for c in chunks(meta)}
    categorical = [f.name for f in entry.monitoring.features if f.type == "categorical"]
    assert all("RLE_DICTIONARY" in encodings[c] for c in [*categorical, "decision"])
    assert "BYTE_STREAM_SPLIT" in encodings["score"]  # continuous: no dictionary of distinct values


@pytest.mark.parametrize("name", EARLIER)
def test_an_aggregate_written_by_earlier_code_still_opens_to_its_metrics(kept, name):
    entry, profile, written, then = kept
    old = DayAggregate.from_bytes(written[name], profile, entry)
    assert old.sample.num_rows == 800 < old.rows
    assert by_key(metrics(old, profile, entry)) == by_key(then)

    rewritten = old.to_bytes()
    back = DayAggregate.from_bytes(rewritten, profile, entry)
    assert_same_counts(back, old)
    assert_same_sample(back, old)
    assert metrics(back, profile, entry) == metrics(old, profile, entry)
    assert len(rewritten) < len(written[name])


def test_the_earlier_layouts_are_what_they_are_named(kept):
    _, _, written, _ = kept
    v1, v2 = (written[name] for name in EARLIER)
    assert set(zip_methods(v1).values()) == {zipfile.ZIP_STORED}
    assert {c.compression for c in chunks(sample_parquet(v1))} == {"SNAPPY"}
    assert set(zip_methods(v2).values()) == {zipfile.ZIP_DEFLATED}
    assert {c.compression for c in chunks(sample_parquet(v2))} == {"ZSTD"}


def test_an_aggregate_without_a_sample_reads_back(day):
    entry, profile, agg = day
    bare = copy.copy(agg)
    bare.sample = None
    data = bare.to_bytes()
    assert "sample.npy" not in zip_methods(data)
    back = DayAggregate.from_bytes(data, profile, entry)
    assert back.sample is None
    assert_same_counts(back, agg)


def test_a_complete_sample_reads_back_to_the_same_exact_statistics(make_entry, make_scoring_frame, day):
    """A day no larger than the sample: its drift methods are computed exactly from the sample's values
    (checks.drift_methods), so they are what the read-back sample gives too."""
    entry, profile, _ = day
    current = conform(make_scoring_frame(entry, 600, seed=3, shift=0.2), entry, "day")
    agg = ag.aggregate_frame(current, entry, profile, DAY, sample_rows=800)
    back = DayAggregate.from_bytes(agg.to_bytes(), profile, entry)
    assert agg.complete and back.complete
    assert_same_sample(back, agg)
    assert metrics(back, profile, entry) == metrics(agg, profile, entry)
