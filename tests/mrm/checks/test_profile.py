"""The reference profile: the fine sketch bins exactly like a binary search, the PSI edges are those of
mrm.checks.stats, a profile survives its files, equals the pipeline's reference information, and is
computed once per fingerprint and read back from the cache afterwards."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrm.checks import stats
from mrm.checks.engine.profile import DISTINCT_KEYS, ProfileSettings, ReferenceProfile
from mrm.checks.engine.profiling import categorical_profile, numeric_profile, profile_from_frame
from mrm.checks.engine.sketch import FineSketch
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
    assert p.distinct is None or len(p.distinct) <= DISTINCT_KEYS


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


def test_fine_sketch_lookup_table_refuses_crowded_cells():
    with pytest.raises(ValueError, match="more than two edges"):
        FineSketch(np.array([0.0, 0.1, 0.2, 10.0]), "linear", 0.0, 1.0, 4)
