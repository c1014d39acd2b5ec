"""A numeric column's profile, built in the buffer it is handed (nulls zeroed, values packed and sorted
in place), is the one the copying build gave, bit for bit: its mean is pandas', its standard deviation
numpy's, its PSI edges numpy's quantiles of the values; it leaves a caller's array as it was and peaks
at about two copies of the column. A categorical column counted in pieces has the whole column's counts,
in the same order."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mrm.checks import stats
from mrm.checks.engine.profile import DISTINCT_KEYS, ProfileSettings
from mrm.checks.engine.profile_columns import (
    categorical_profile,
    categorical_profile_of,
    numeric_profile,
    numeric_profile_owned,
)
from mrm.checks.engine.sketch import FineSketch, distinct_values, sorted_counts, sorted_sums

RNG = np.random.default_rng(11)


def with_nulls(x: np.ndarray, share: float) -> np.ndarray:
    x = x.copy()
    x[RNG.random(x.size) < share] = np.nan
    return x


CASES = {
    "normal": lambda n: RNG.normal(0, 1, n),
    "normal_with_nulls": lambda n: with_nulls(RNG.normal(5, 2, n), 0.07),
    "signed_zeros_and_nulls": lambda n: with_nulls(RNG.choice([-0.0, 0.0, 1.5, -2.0], n), 0.2),
    "zero_inflated_with_nulls": lambda n: with_nulls(
        np.where(RNG.random(n) < 0.6, 0.0, np.exp(RNG.normal(3, 1, n))), 0.01
    ),
    "discrete": lambda n: np.round(RNG.normal(0, 1, n) * 3),
    "infinities": lambda n: with_nulls(np.r_[RNG.normal(0, 1, n), -np.inf, np.inf, 1e308], 0.1),
    "all_null": lambda n: np.full(n, np.nan),
    "one_value": lambda n: np.r_[np.full(n, np.nan), 2.5],
    "huge_with_nulls": lambda n: with_nulls(RNG.normal(1e300, 1e299, n), 0.3),
}
SIZES = [1, 7, 1000, 20_011, (1 << 20) + 3_333]  # beyond one packing block (2^20 values) too


def copying_profile(values: np.ndarray, settings: ProfileSettings, binning: str) -> dict:
    """What the profile was before it was built in place: computed on copies, as the old build did."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _copying_profile(values, settings, binning)


def _copying_profile(values: np.ndarray, settings: ProfileSettings, binning: str) -> dict:
    present = values[~np.isnan(values)]
    if present.size == 0:
        return {"n": 0, "nulls": int(values.size)}
    ordered = np.sort(present)
    every = stats.all_binning_edges(ordered, settings.psi_bins)
    psi_edges, used = every[binning]
    required = np.r_[psi_edges, ordered[0], np.nextafter(ordered[-1], np.inf)]
    if used != stats.DEFAULT_BINNING:
        required = np.r_[required, *(edges for edges, _ in every.values())]
    sketch = FineSketch.build(ordered, required, settings.fine_levels, settings.grid_cells)
    distinct = distinct_values(ordered, DISTINCT_KEYS)
    exact = present.size <= settings.exact_limit
    return {
        "n": int(present.size),
        "nulls": int(values.size - present.size),
        "min": float(ordered[0]),
        "max": float(ordered[-1]),
        "mean": float(pd.Series(values).mean()),
        "std": float(np.std(pd.Series(present) if exact else present)),
        "psi_edges": psi_edges,
        "binning": used,
        "edges": sketch.edges,
        "space": sketch.space,
        "counts": sorted_counts(ordered, sketch.edges),
        "sums": sorted_sums(ordered, sketch.edges),
        "distinct": None if distinct is None else dict(zip(*(a.tolist() for a in distinct), strict=True)),
        "ordered": ordered if exact else None,
    }


def same_bits(a, b) -> bool:
    """Equal as stored: arrays byte for byte (so -0.0 differs from 0.0), floats by their bits."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is not None and b is not None and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, float) and isinstance(b, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    return a == b


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("binning", ["deciles_mass_points", "distinct_values"])
def test_the_profile_built_in_place_is_the_copying_builds_bit_for_bit(case, size, binning):
    values = CASES[case](size)
    settings = ProfileSettings(exact_limit=5_000)
    expected = copying_profile(values, settings, binning)

    p = numeric_profile_owned(values.copy(), settings, binning)

    assert (p.n, p.nulls) == (expected["n"], expected["nulls"])
    if p.n == 0:
        assert p.sketch is None and p.mean is None
        return
    got = {
        "min": p.min, "max": p.max, "mean": p.mean, "std": p.std, "psi_edges": p.psi_edges,
        "binning": p.binning, "edges": p.sketch.edges, "space": p.sketch.space, "counts": p.counts,
        "sums": p.sums, "distinct": p.distinct, "ordered": p.ordered,
    }  # fmt: skip
    for key, value in got.items():
        assert same_bits(value, expected[key]) or (value is None and expected[key] is None), key


@pytest.mark.parametrize("case", ["normal_with_nulls", "signed_zeros_and_nulls", "huge_with_nulls"])
def test_mean_std_and_edges_agree_with_pandas_and_numpy_on_the_values(case):
    values = CASES[case](50_001)
    present = values[~np.isnan(values)]
    settings = ProfileSettings(exact_limit=10)

    p = numeric_profile(values, settings, "deciles")

    with np.errstate(over="ignore", invalid="ignore"):
        assert p.mean == pd.Series(values).mean()
        assert same_bits(p.std, float(np.std(present)))
    assert np.array_equal(p.psi_edges, np.unique(np.quantile(present, np.arange(1, 10) / 10)))
    assert (p.min, p.max, p.n) == (present.min(), present.max(), present.size)


def test_numeric_profile_leaves_the_callers_array_as_it_was():
    values = CASES["normal_with_nulls"](10_000)
    before = values.copy()

    numeric_profile(values, ProfileSettings())

    assert values.tobytes() == before.tobytes()


def test_the_build_in_place_peaks_at_about_two_copies_of_the_column():
    values = CASES["normal_with_nulls"](2_000_000)
    column = values.nbytes
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        numeric_profile_owned(values, ProfileSettings())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.4 * column  # the buffer is the caller's; one temporary of its size, masks of 1/8


@pytest.mark.parametrize("dictionary", [False, True])
def test_a_categorical_column_counted_in_pieces_has_the_whole_columns_counts_in_order(dictionary):
    labels = np.array(["b", "a", "c", "d", "e"], dtype=object)
    values = labels[RNG.integers(0, 5, 3_000)].tolist()
    for i in RNG.choice(3_000, 100, replace=False):
        values[i] = None
    values[2_999] = "late"  # first seen in the last piece
    whole = pa.array(values)
    pieces = [whole.slice(i, 250) for i in range(0, 3_000, 250)]
    if dictionary:  # each piece with its own dictionary, as row groups of a Parquet file have
        pieces = [piece.dictionary_encode() for piece in pieces]

    counted, expected = categorical_profile_of(pieces), categorical_profile(pa.chunked_array(pieces))

    assert list(counted.counts.items()) == list(expected.counts.items())
    assert counted.nulls == expected.nulls == values.count(None) > 90
    assert counted.counts == {k: values.count(k) for k in set(values) - {None}}
    assert list(counted.counts) == list(dict.fromkeys(v for v in values if v is not None))  # first seen
