"""The reference profile: the fine sketch bins exactly like a binary search, the PSI edges are those of
mrm.checks.stats, a profile survives its files, equals the pipeline's reference information, and is
computed once per fingerprint and read back from the cache afterwards."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrm.checks import profile as prof
from mrm.checks import stats
from mrm.checks.profile import (
    FineSketch,
    ProfileCache,
    ProfileSettings,
    ReferenceProfile,
    categorical_profile,
    numeric_profile,
    profile_from_frame,
    reference_profile,
)
from mrm.errors import NoDataError, SchemaError
from mrm.inventory import ModelEntry

RNG = np.random.default_rng(7)
SHAPES = {
    "normal": lambda n: RNG.normal(0, 1, n),
    "lognormal": lambda n: np.exp(RNG.normal(0, 1, n)) * 50,
    "pareto": lambda n: (RNG.pareto(1.5, n) + 1) * 10,
    "student_t2": lambda n: RNG.standard_t(2, n),
    "discrete": lambda n: np.round(RNG.normal(0, 1, n) * 3),
    "zero_inflated": lambda n: np.where(RNG.random(n) < 0.6, 0.0, np.exp(RNG.normal(3, 1, n))),
    "constant": lambda n: np.full(n, 3.0),
    "zeros": lambda n: np.zeros(n),
    "binary": lambda n: (RNG.random(n) < 0.1).astype(float),
    "tiny_and_huge": lambda n: np.r_[RNG.normal(0, 1e-300, n // 2), RNG.normal(0, 1e300, n - n // 2)],
}
PROBES = np.array([-np.inf, -1e308, -1.0, -0.0, 0.0, 5e-324, 1.0, 3.0, 50.0, 1e308, np.inf])


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_fine_sketch_bins_every_value_as_a_binary_search_over_its_edges(shape):
    reference = SHAPES[shape](50_000)
    sketch = numeric_profile(reference, ProfileSettings()).sketch
    current = np.r_[
        SHAPES[shape](20_000), reference[:1000], sketch.edges, np.nextafter(sketch.edges, -np.inf), PROBES
    ]

    assert np.array_equal(sketch.index(current), np.searchsorted(sketch.edges, current, side="right"))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=300),
    st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=300),
)
def test_the_fine_sketch_agrees_with_searchsorted_on_arbitrary_floats(reference, current):
    sketch = numeric_profile(np.array(reference), ProfileSettings(fine_levels=64, grid_cells=256)).sketch
    values = np.array(current)

    assert np.array_equal(sketch.index(values), np.searchsorted(sketch.edges, values, side="right"))


@pytest.mark.parametrize("shape", ["normal", "lognormal", "pareto", "zero_inflated"])
def test_no_fine_bin_that_spans_several_values_holds_more_than_two_2048ths_of_the_reference(shape):
    reference = SHAPES[shape](200_000)
    p = numeric_profile(reference, ProfileSettings())

    assert p.sketch.space in ("linear", "key")  # a lookup table, not a binary search
    assert p.counts[~p.sketch.singletons()].max() / p.n <= 2 / 2048


def test_a_discrete_reference_gets_a_bin_per_value_so_its_sketch_is_exact():
    p = numeric_profile(SHAPES["discrete"](100_000), ProfileSettings())

    assert p.counts[~p.sketch.singletons()].max() == 0
    assert p.distinct is None or len(p.distinct) <= prof.DISTINCT_KEYS


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_psi_edges_and_reference_counts_are_those_of_mrm_checks_stats(shape):
    reference = SHAPES[shape](30_000)
    reference[::97] = np.nan
    p = numeric_profile(reference, ProfileSettings())
    edges = stats.decile_edges(reference)

    assert np.array_equal(p.psi_edges, edges)
    assert np.array_equal(p.psi_counts(p.counts) / p.n, stats.numeric_shares(reference, edges))
    assert (p.n, p.nulls) == (int(np.sum(~np.isnan(reference))), int(np.sum(np.isnan(reference))))


def test_a_column_without_values_has_no_sketch():
    p = numeric_profile(np.full(10, np.nan), ProfileSettings())

    assert (p.n, p.nulls, p.sketch, p.psi_edges) == (0, 10, None, None)


def test_categorical_counts_use_str_values_and_count_none_and_nan_as_null():
    p = categorical_profile(["a", "b", None, "a", float("nan"), stats.MISSING])

    assert p.counts == {"a": 2, "b": 1, stats.MISSING: 1}
    assert (p.nulls, p.rows) == (2, 6)


# -- the whole profile ------------------------------------------------------------------------------------
@pytest.fixture
def entry(make_entry) -> ModelEntry:
    return make_entry(psi_bins=12)


@pytest.fixture
def reference_frame(entry, make_scoring_frame):
    from mrm.sources.contract import conform

    frame = make_scoring_frame(entry, 3000, seed=3)
    frame.loc[:99, "amount"] = np.nan
    frame.loc[100:149, "region"] = None
    return conform(frame, entry, "reference")


def test_a_profile_survives_its_files(entry, reference_frame):
    info = {"daily_rows": [3000], "median_daily_rows": 3000.0, "null_rates": {"amount": 0.1}}
    original = profile_from_frame(
        reference_frame, entry, info, ProfileSettings.for_entry(entry, sample_rows=500)
    )

    back = ReferenceProfile.from_files(original.to_files())

    assert back.settings == original.settings and back.settings.psi_bins == 12
    assert back.info == info and back.rows == 3000
    for name, p in original.numeric.items():
        q = back.numeric[name]
        assert np.array_equal(p.psi_edges, q.psi_edges) and np.array_equal(p.counts, q.counts)
        assert np.array_equal(p.sketch.edges, q.sketch.edges) and np.array_equal(p.ordered, q.ordered)
        assert (p.min, p.max, p.mean, p.std, p.n, p.nulls) == (q.min, q.max, q.mean, q.std, q.n, q.nulls)
        probe = reference_frame[name].dropna().to_numpy()
        assert np.array_equal(p.sketch.index(probe), q.sketch.index(probe))
    assert back.categorical["region"].counts == original.categorical["region"].counts
    assert back.categorical["region"].nulls == 50
    assert back.sample.num_rows == 500 and back.sample.equals(original.sample)


def write_days(root, entry, make_scoring_frame, days: list[date], rows: int = 400) -> None:
    for i, day in enumerate(days):
        folder = root / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        frame = make_scoring_frame(entry, rows + 50 * i, seed=10 + i)
        frame.loc[: 5 * i, "amount"] = np.nan
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0.parquet")


@pytest.fixture
def file_entry(tmp_path, make_entry, make_scoring_frame) -> ModelEntry:
    raw = make_entry()
    root = tmp_path / "scoring"
    ref = raw.monitoring.reference
    days = [d for d in ref.days() if d != ref.start + timedelta(days=3)]  # one day missing
    probe = make_entry(scoring_log=root.as_uri() + "/")
    write_days(root, probe, make_scoring_frame, days)
    return probe


def test_the_profile_of_the_files_carries_the_pipelines_reference_information(file_entry, tmp_path):
    from mrm.evidence import fingerprint
    from mrm.sources.contract import conform, required_columns
    from mrm.sources.parquet import PartitionedParquet

    profile, cached = reference_profile(file_entry, (tmp_path / "profiles").as_uri())
    data = PartitionedParquet(file_entry.monitoring.scoring_log).read_days(
        file_entry.monitoring.reference.days()
    )
    frame = conform(data.frame, file_entry, "reference")

    assert not cached
    assert profile.info == {
        "window": ["2026-08-18", "2026-08-31"],
        "rows": len(frame),
        "files": len(data.files),
        "fingerprint": fingerprint(data.files),
        "missing_days": [d.isoformat() for d in data.missing_days],
        "median_daily_rows": float(frame.groupby("_dt").size().median()),
        "daily_rows": [int(n) for n in frame.groupby("_dt").size()],
        "null_rates": {c: float(frame[c].isna().mean()) for c in required_columns(file_entry)},
    }
    for name, p in profile.numeric.items():
        assert np.array_equal(p.psi_edges, stats.decile_edges(frame[name].to_numpy(dtype="float64"))), name
        assert p.mean == float(frame[name].mean()) and p.std == pytest.approx(
            float(np.std(frame[name].dropna()))
        )
    region = frame["region"].value_counts().to_dict()
    assert profile.categorical["region"].counts == region
    assert profile.sample.num_rows == len(frame)  # fewer rows than the sample size: all of them


def test_the_second_call_reads_the_cache_and_not_the_reference(file_entry, tmp_path, monkeypatch):
    cache = (tmp_path / "profiles").as_uri()
    first, cached_first = reference_profile(file_entry, cache)
    monkeypatch.setattr(prof, "profile_from_files", lambda *a, **k: pytest.fail("recomputed"))

    second, cached_second = reference_profile(file_entry, cache)

    assert (cached_first, cached_second) == (False, True)
    assert second.fingerprint == first.fingerprint
    assert [o.uri.rsplit("/", 1)[1] for o in ProfileCache(cache).store.list(cache + "/")] == [
        "arrays.npz", "profile.json", "sample.parquet",
    ]  # fmt: skip
    assert np.array_equal(second.numeric["amount"].counts, first.numeric["amount"].counts)


def test_a_changed_reference_file_or_inventory_entry_gets_a_new_profile(
    file_entry, tmp_path, make_scoring_frame
):
    cache = (tmp_path / "profiles").as_uri()
    first, _ = reference_profile(file_entry, cache)
    raw = copy.deepcopy(file_entry.model_dump(mode="json"))
    raw["monitoring"]["psi_bins"] = 5
    rebinned, cached = reference_profile(ModelEntry.model_validate(raw), cache)
    assert (
        not cached
        and rebinned.fingerprint != first.fingerprint
        and rebinned.numeric["amount"].psi_edges.size == 4
    )

    day = file_entry.monitoring.reference.start
    root = tmp_path / "scoring"
    write_days(root, file_entry, make_scoring_frame, [day], rows=999)
    changed, cached = reference_profile(file_entry, cache)
    assert (
        not cached and changed.fingerprint != first.fingerprint and changed.info["rows"] != first.info["rows"]
    )


def test_a_reference_window_without_files_names_the_window(make_entry, tmp_path):
    entry = make_entry(scoring_log=(tmp_path / "nothing").as_uri() + "/")

    with pytest.raises(
        NoDataError, match=r"no reference scoring log data at all for 2026-08-18\.\.2026-08-31"
    ):
        reference_profile(entry, (tmp_path / "profiles").as_uri())


def test_missing_and_non_numeric_reference_columns_are_schema_errors(
    make_entry, make_scoring_frame, tmp_path
):
    root = tmp_path / "scoring"
    entry = make_entry(scoring_log=root.as_uri() + "/")
    folder = root / "dt=2026-08-20"
    folder.mkdir(parents=True)
    frame = make_scoring_frame(entry, 50).drop(columns=["tenure"])
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0.parquet")
    with pytest.raises(SchemaError, match=r"toy_model: reference window .* lacks required column"):
        reference_profile(entry, (tmp_path / "p").as_uri())

    frame = make_scoring_frame(entry, 50)
    frame["amount"] = "12"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0.parquet")
    with pytest.raises(SchemaError, match="wrong column types: amount is object, expected numeric"):
        reference_profile(entry, (tmp_path / "p").as_uri())


def test_fine_sketch_lookup_table_refuses_crowded_cells():
    with pytest.raises(ValueError, match="more than two edges"):
        FineSketch(np.array([0.0, 0.1, 0.2, 10.0]), "linear", 0.0, 1.0, 4)
