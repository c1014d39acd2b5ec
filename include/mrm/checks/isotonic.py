"""Isotonic regression by pool-adjacent-violators, in plain numpy: the calibrator of label-free
performance estimation (:mod:`mrm.checks.estimation`).

:func:`fit` is ``sklearn.isotonic.IsotonicRegression(out_of_bounds="clip")`` (increasing, unbounded) on
the same rows: the labels of each distinct score are pooled first (their weighted mean, weights
summed), adjacent blocks that violate the order are pooled until the fitted values are non-decreasing,
and :meth:`Isotonic.predict` interpolates linearly between the distinct scores and clips outside the
range seen. (scikit-learn merges scores closer than 1e-15 into one; here only equal scores are merged.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Isotonic:
    """A fitted non-decreasing step-and-ramp function: its value at each distinct fitted score."""

    x: np.ndarray  # the distinct scores of the fit, ascending
    y: np.ndarray  # the fitted value at each

    def predict(self, score: np.ndarray) -> np.ndarray:
        """Linear interpolation between the fitted points; constant beyond the first and last."""
        return np.interp(np.asarray(score, dtype="float64"), self.x, self.y)


def pava(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing fit of ``y`` (in the given order), by
    pool-adjacent-violators: O(n), one pass with a stack of blocks (Python floats: faster per step
    than numpy scalars)."""
    mean: list[float] = []
    weight: list[float] = []
    size: list[int] = []
    for value, wt in zip(y.tolist(), w.tolist(), strict=True):
        count = 1
        while mean and mean[-1] >= value:  # a violation (or a tie): pool with the block before
            before, w_before = mean.pop(), weight.pop()
            value = (before * w_before + value * wt) / (w_before + wt)
            wt += w_before
            count += size.pop()
        mean.append(value)
        weight.append(wt)
        size.append(count)
    return np.repeat(np.array(mean, dtype="float64"), size)


def fit(score: np.ndarray, label: np.ndarray, weight: np.ndarray | None = None) -> Isotonic:
    """The isotonic calibrator of labels (0/1, or any reals) on scores; ValueError without rows."""
    x = np.asarray(score, dtype="float64")
    y = np.asarray(label, dtype="float64")
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype="float64")
    if x.size == 0 or x.shape != y.shape or x.shape != w.shape:
        raise ValueError(f"isotonic fit needs equal, non-empty scores and labels; got {x.size} and {y.size}")
    distinct, inverse = np.unique(x, return_inverse=True)
    pooled_w = np.bincount(inverse, weights=w, minlength=distinct.size)
    pooled_y = np.bincount(inverse, weights=w * y, minlength=distinct.size) / pooled_w
    return Isotonic(distinct, pava(pooled_y, pooled_w))
