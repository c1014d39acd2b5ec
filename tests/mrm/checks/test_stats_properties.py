"""Hypothesis properties of the PSI in the credit-risk convention: never negative, zero on itself,
blind to row order, and finite when bins are empty (the EPSILON share), numeric and categorical.

Values are drawn within ±1e6: decile edges of samples near ±1e308 overflow in numpy's quantile
interpolation, which is outside any scoring log's range and outside what these properties are about.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mrm.checks import stats

FAST = settings(max_examples=150, deadline=None)
VALUE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
WITH_NULLS = st.one_of(VALUE, VALUE, VALUE, st.just(math.nan))
SAMPLE = st.lists(VALUE, min_size=1, max_size=120)
SAMPLE_WITH_NULLS = st.lists(WITH_NULLS, min_size=0, max_size=120)
BINS = st.integers(min_value=1, max_value=20)
CATEGORY = st.one_of(st.sampled_from(["a", "b", "c", "d", "e"]), st.none(), st.just(math.nan), st.just(3))
CATEGORIES = st.lists(CATEGORY, min_size=0, max_size=120)


def psi_num(reference: list[float], current: list[float], bins: int = stats.DEFAULT_BINS) -> float:
    return stats.psi_numeric(np.array(reference, dtype="float64"), np.array(current, dtype="float64"), bins)


# -- numeric -------------------------------------------------------------------------------------------


@FAST
@given(reference=SAMPLE_WITH_NULLS, current=SAMPLE_WITH_NULLS, bins=BINS)
def test_property_numeric_psi_is_finite_and_never_negative(reference, current, bins):
    value = psi_num(reference, current, bins)

    assert math.isfinite(value)
    assert value >= 0.0


@FAST
@given(sample=SAMPLE_WITH_NULLS, bins=BINS)
def test_property_numeric_psi_of_a_sample_with_itself_is_zero(sample, bins):
    assert abs(psi_num(sample, sample, bins)) <= 1e-12


@FAST
@given(reference=SAMPLE_WITH_NULLS, current=SAMPLE_WITH_NULLS, data=st.data())
def test_property_numeric_psi_ignores_the_row_order_of_either_input(reference, current, data):
    shuffled_ref = data.draw(st.permutations(reference), label="reference reordered")
    shuffled_cur = data.draw(st.permutations(current), label="current reordered")

    assert psi_num(shuffled_ref, shuffled_cur) == psi_num(reference, current)


@FAST
@given(reference=SAMPLE, offsets=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=120), below=st.booleans())
def test_property_numeric_psi_is_finite_when_current_lies_outside_the_reference_range(
    reference, offsets, below
):
    edge = min(reference) - 1.0 if below else max(reference) + 1.0
    current = [edge - o if below else edge + o for o in offsets]

    value = psi_num(reference, current)

    assert math.isfinite(value)
    assert value >= 0.0
    edges = stats.decile_edges(np.array(reference))
    # the current mass sits in one end bin; it shows unless the reference fills that bin too
    if edges.size and (below or edges[-1] > min(reference)):
        assert value > 0.0


@FAST
@given(reference=SAMPLE, current=SAMPLE)
def test_property_numeric_nulls_are_left_out(reference, current):
    assert psi_num([*reference, math.nan], [math.nan, *current, math.nan]) == psi_num(reference, current)


def test_a_zero_inflated_feature_that_shifts_has_a_positive_psi():
    reference = [0.0] * 95 + [1.0, 2.0, 3.0, 5.0, 8.0]  # 5% non-zero
    current = [0.0] * 50 + [1.0, 2.0, 3.0, 5.0, 8.0] * 10  # 50% non-zero

    assert psi_num(reference, current) > 0.25
    assert psi_num(reference, [50.0] * 100) > 0.25  # every value far above the reference range


def test_an_empty_current_window_gives_a_finite_psi():
    assert math.isfinite(psi_num([1.0, 2.0, 3.0, 4.0], []))
    assert psi_num([], []) == 0.0


# -- categorical ---------------------------------------------------------------------------------------


@FAST
@given(reference=CATEGORIES, current=CATEGORIES)
def test_property_categorical_psi_is_finite_and_never_negative(reference, current):
    value = stats.psi_categorical(reference, current)

    assert math.isfinite(value)
    assert value >= 0.0


@FAST
@given(sample=CATEGORIES)
def test_property_categorical_psi_of_a_sample_with_itself_is_zero(sample):
    assert abs(stats.psi_categorical(sample, sample)) <= 1e-12


@FAST
@given(reference=CATEGORIES, current=CATEGORIES, data=st.data())
def test_property_categorical_psi_ignores_the_row_order_of_either_input(reference, current, data):
    shuffled_ref = data.draw(st.permutations(reference), label="reference reordered")
    shuffled_cur = data.draw(st.permutations(current), label="current reordered")

    assert stats.psi_categorical(shuffled_ref, shuffled_cur) == stats.psi_categorical(reference, current)


@FAST
@given(
    reference=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=120),
    current=st.lists(st.sampled_from(["x", "y"]), min_size=1, max_size=120),
)
def test_property_categorical_psi_is_finite_when_every_current_value_is_unseen(reference, current):
    value = stats.psi_categorical(reference, current)

    assert math.isfinite(value) and value > 0.0


@FAST
@given(reference=CATEGORIES, current=CATEGORIES)
def test_property_none_nan_and_the_missing_marker_are_the_same_bin(reference, current):
    def marked(values: list) -> list:
        return [stats.MISSING if stats.is_missing(v) else v for v in values]

    def as_none(values: list) -> list:
        return [None if stats.is_missing(v) else v for v in values]

    value = stats.psi_categorical(reference, current)

    assert stats.psi_categorical(marked(reference), marked(current)) == value
    assert stats.psi_categorical(as_none(reference), as_none(current)) == value
