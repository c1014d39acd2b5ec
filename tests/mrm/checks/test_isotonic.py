"""The isotonic calibrator against scikit-learn's IsotonicRegression(out_of_bounds="clip") on fixed data,
and pool-adjacent-violators against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from mrm.checks import isotonic


def test_pava_pools_the_violators_by_hand():
    # blocks: [1] [3] [2]: 3 >= 2, pooled to 2.5; [0]: 2.5 >= 0, pooled to (3 + 2 + 0) / 3 = 5/3;
    # 1 < 5/3 stops the pooling; [4] stays
    fitted = isotonic.pava(np.array([1.0, 3.0, 2.0, 0.0, 4.0]), np.ones(5))
    np.testing.assert_allclose(fitted, [1.0, 5 / 3, 5 / 3, 5 / 3, 4.0], rtol=0, atol=1e-15)
    weighted = isotonic.pava(np.array([2.0, 1.0]), np.array([3.0, 1.0]))  # (2*3 + 1*1) / 4
    np.testing.assert_allclose(weighted, [1.75, 1.75], rtol=0, atol=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_calibrator_equals_scikit_learn_on_fixed_data(seed):
    rng = np.random.default_rng(seed)
    score = np.round(rng.beta(1.5, 4.0, 4000), 3)  # many tied scores
    label = (rng.random(score.size) < np.sqrt(score)).astype("float64")
    theirs = IsotonicRegression(out_of_bounds="clip").fit(score, label)
    ours = isotonic.fit(score, label)
    grid = np.concatenate([score, rng.uniform(-0.2, 1.2, 2000), [score.min(), score.max(), -1.0, 2.0]])
    np.testing.assert_allclose(ours.predict(grid), theirs.predict(grid), rtol=0, atol=1e-12)
    assert np.all(np.diff(ours.y) >= 0)


def test_weights_and_continuous_scores_equal_scikit_learn():
    rng = np.random.default_rng(7)
    score, weight = rng.normal(size=500), rng.uniform(0.1, 3.0, 500)
    label = (rng.random(500) < 1 / (1 + np.exp(-2 * score))).astype("float64")
    theirs = IsotonicRegression(out_of_bounds="clip").fit(score, label, sample_weight=weight)
    grid = np.linspace(-4, 4, 1001)
    np.testing.assert_allclose(
        isotonic.fit(score, label, weight).predict(grid), theirs.predict(grid), rtol=0, atol=1e-12
    )


def test_no_rows_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        isotonic.fit(np.array([]), np.array([]))


def test_each_point_carries_the_weight_of_its_pooled_block():
    """The block weights against scikit-learn's fit: points with equal fitted values form one block (PAVA's
    blocks strictly rise), whose weight is the sum of its rows' weights."""
    rng = np.random.default_rng(3)
    score = np.round(rng.uniform(0, 1, 3000), 2)
    weight = rng.uniform(0.5, 2.0, score.size)
    label = (rng.random(score.size) < score**2).astype("float64")
    theirs = IsotonicRegression(out_of_bounds="clip").fit(score, label, sample_weight=weight)
    ours = isotonic.fit(score, label, weight)
    fitted_row = theirs.predict(score)
    for x, w in zip(ours.x, ours.w, strict=True):
        same_block = np.isclose(fitted_row, theirs.predict([x])[0], rtol=0, atol=1e-12)
        assert w == pytest.approx(weight[same_block].sum(), rel=1e-12)


def test_the_calibrator_variance_by_finite_differences():
    """variance_of(score)(g) = Σ_blocks (Σ_i g_i ∂p_i/∂block)² · y(1 − y)/w: the derivatives taken here by
    moving each block's value and predicting again (interpolation included), not from the formula."""
    rng = np.random.default_rng(5)
    ref = rng.uniform(0, 1, 400)
    cal = isotonic.fit(ref, (rng.random(ref.size) < ref).astype("float64"))
    day = rng.uniform(-0.1, 1.1, 300)  # some outside the fitted range: clipped
    g = rng.normal(size=day.size)
    first = np.flatnonzero(np.concatenate([[True], cal.y[1:] != cal.y[:-1]]))
    blocks = np.searchsorted(first, np.arange(cal.y.size), side="right") - 1
    want, eps = 0.0, 1e-6
    for b, start in enumerate(first):
        moved = cal.y + eps * (blocks == b)
        dp = (isotonic.Isotonic(cal.x, moved).predict(day) - cal.predict(day)) / eps
        y, w = cal.y[start], cal.w[start]
        want += float(np.dot(g, dp)) ** 2 * y * (1 - y) / w
    assert cal.variance_of(day)(g) == pytest.approx(want, rel=1e-6)
    assert isotonic.Isotonic(cal.x, cal.y).variance_of(day) is None  # no weights: no error term
