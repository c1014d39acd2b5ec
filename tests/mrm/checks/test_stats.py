"""PSI in the credit-risk convention, checked against hand computations and an independent implementation.

Independent implementation used here: bins by ``pandas.cut(right=False)`` on the reference deciles, and
PSI as the symmetrised Kullback-Leibler divergence ``Σ rel_entr(a, e) + rel_entr(e, a)`` from scipy, which
equals ``Σ (a − e) · ln(a / e)``. Tolerance 1e-12 (only summation order differs).
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import pytest
from scipy.special import rel_entr

from mrm.checks import stats

EPS = 1e-4  # the documented share given to an empty bin
TOL = 1e-12


def psi_by_hand(expected: list[float], actual: list[float]) -> float:
    pairs = [(max(e, EPS), max(a, EPS)) for e, a in zip(expected, actual, strict=True)]
    return sum((a - e) * math.log(a / e) for e, a in pairs)


def psi_independent(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    ref = reference[~np.isnan(reference)]
    cur = current[~np.isnan(current)]
    quantiles = list(np.quantile(ref, np.arange(1, bins) / bins))
    # a value several deciles share (a mass point) is a bin of its own: [v, the next float above v)
    repeated = {q for q in quantiles if quantiles.count(q) > 1}
    inner = sorted(set(quantiles) | {math.nextafter(q, math.inf) for q in repeated})

    def shares(values: np.ndarray) -> np.ndarray:  # bins [e_k, e_k+1): count by bisection in pure Python
        counts = [0] * (len(inner) + 1)
        for v in values.tolist():
            counts[bisect.bisect_right(inner, v)] += 1
        return np.maximum(np.array(counts) / values.size, EPS)

    e, a = shares(ref), shares(cur)
    return float(np.sum(rel_entr(a, e) + rel_entr(e, a)))


# -- hand computations --------------------------------------------------------------------------------


def test_psi_on_two_bins_matches_the_hand_computation():
    reference = np.arange(1, 11, dtype=float)  # median 5.5: shares 5/10 below, 5/10 at or above
    current = np.array([1, 2, 3, 7, 8, 9, 10, 11], dtype=float)  # 3/8 below 5.5, 5/8 above

    expected = (3 / 8 - 1 / 2) * math.log((3 / 8) / (1 / 2)) + (5 / 8 - 1 / 2) * math.log((5 / 8) / (1 / 2))

    assert stats.psi_numeric(reference, current, bins=2) == pytest.approx(expected, abs=TOL)


def test_psi_on_reference_deciles_with_empty_bins_matches_the_hand_computation():
    reference = np.arange(1, 21, dtype=float)
    # deciles of 1..20 (linear interpolation): 2.9, 4.8, 6.7, 8.6, 10.5, 12.4, 14.3, 16.2, 18.1,
    # so each of the ten bins [q_k, q_k+1) holds exactly two reference values: every e_i = 0.1
    assert np.quantile(reference, np.arange(1, 10) / 10) == pytest.approx(
        [2.9, 4.8, 6.7, 8.6, 10.5, 12.4, 14.3, 16.2, 18.1]
    )
    current = np.array([1, 1, 1, 1, 5, 5, 10, 15, 20, 20], dtype=float)
    # bins:             0  0  0  0  2  2  4   7   9   9  -> counts 4,0,2,0,1,0,0,1,0,2 of 10
    actual = [0.4, 0.0, 0.2, 0.0, 0.1, 0.0, 0.0, 0.1, 0.0, 0.2]

    assert stats.psi_numeric(reference, current) == pytest.approx(psi_by_hand([0.1] * 10, actual), abs=TOL)


def test_a_value_on_an_edge_falls_in_the_bin_above_it():
    edges = np.array([2.9, 4.8])

    shares = stats.numeric_shares(np.array([2.9, 4.8, 4.8, 1.0]), edges)

    assert shares.tolist() == [1 / 4, 1 / 4, 2 / 4]


def test_an_unseen_category_goes_to_other_and_nulls_to_missing():
    reference = ["a"] * 6 + ["b"] * 4
    current = ["a", "a", "a", "b", "c", "c", None, float("nan"), stats.MISSING]
    # bins a, b, other, missing; reference = 0.6, 0.4, 0, 0; current (9 rows) = 3/9, 1/9, 2/9, 3/9
    expected = psi_by_hand([0.6, 0.4, 0.0, 0.0], [3 / 9, 1 / 9, 2 / 9, 3 / 9])

    assert stats.categorical_shares(current, ["a", "b"]).tolist() == pytest.approx(
        [3 / 9, 1 / 9, 2 / 9, 3 / 9]
    )
    assert stats.psi_categorical(reference, current) == pytest.approx(expected, abs=TOL)


def test_a_completely_shifted_current_window_gives_a_finite_psi_from_the_epsilon():
    reference = np.arange(1, 11, dtype=float)
    current = np.full(50, 1000.0)  # every value in the top bin; the bottom bin is empty

    expected = psi_by_hand([0.5, 0.5], [0.0, 1.0])

    assert math.isfinite(stats.psi_numeric(reference, current, bins=2))
    assert stats.psi_numeric(reference, current, bins=2) == pytest.approx(expected, abs=TOL)
    assert stats.psi_numeric(reference, current, bins=2) > 0.25  # a red-level shift


# -- identities and the independent implementation ------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_psi_of_a_sample_with_itself_is_zero(seed):
    rng = np.random.default_rng(seed)
    values = rng.lognormal(size=500)
    categories = list(rng.choice(["x", "y", "z"], 300))

    assert stats.psi_numeric(values, values) == 0.0
    assert stats.psi_categorical(categories, categories) == 0.0


@pytest.mark.parametrize("seed", range(20))
def test_psi_is_never_negative_and_matches_an_independent_implementation(seed):
    rng = np.random.default_rng(seed)
    reference = rng.normal(0.0, 1.0, int(rng.integers(50, 400)))
    current = rng.normal(rng.uniform(-1, 1), rng.uniform(0.5, 2.0), int(rng.integers(20, 400)))
    if seed % 3 == 0:  # ties: a discrete feature whose deciles coincide
        reference, current = np.round(reference), np.round(current)

    value = stats.psi_numeric(reference, current)

    assert value >= 0.0
    assert value == pytest.approx(psi_independent(reference, current), abs=TOL)


@pytest.mark.parametrize("seed", range(10))
def test_categorical_psi_is_never_negative(seed):
    rng = np.random.default_rng(seed)
    reference = list(rng.choice(["a", "b", "c", "d"], 200, p=[0.4, 0.3, 0.2, 0.1]))
    current = list(rng.choice(["a", "b", "c", "e"], 150))

    assert stats.psi_categorical(reference, current) >= 0.0


def test_psi_from_shares_equals_the_symmetrised_kl_divergence():
    expected = np.array([0.1, 0.2, 0.3, 0.4])
    actual = np.array([0.25, 0.25, 0.25, 0.25])

    kl_both_ways = float(np.sum(rel_entr(actual, expected) + rel_entr(expected, actual)))

    assert stats.psi_from_shares(expected, actual) == pytest.approx(kl_both_ways, abs=TOL)


def test_nulls_are_excluded_from_numeric_psi():
    rng = np.random.default_rng(7)
    reference, current = rng.normal(size=300), rng.normal(0.3, 1.0, size=200)
    with_nulls_ref = np.concatenate([reference, [np.nan] * 40])
    with_nulls_cur = np.concatenate([[np.nan] * 60, current])

    assert stats.psi_numeric(with_nulls_ref, with_nulls_cur) == stats.psi_numeric(reference, current)


def test_psi_grows_with_the_size_of_the_shift():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=2000)

    values = [stats.psi_numeric(reference, rng.normal(shift, 1.0, 2000)) for shift in (0.0, 0.3, 0.6, 1.0)]

    assert values == sorted(values)
    assert values[0] < 0.10 < 0.25 < values[-1]  # stable without a shift, red with a one-sigma shift
