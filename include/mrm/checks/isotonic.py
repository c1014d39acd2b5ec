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
    pool-adjacent-violators: O(n), one pass with a stack of blocks."""
    n = y.size
    mean, weight, size = np.empty(n), np.empty(n), np.empty(n, dtype=np.intp)
    top = -1
    for i in range(n):
        top += 1
        mean[top], weight[top], size[top] = y[i], w[i], 1
        while top > 0 and mean[top - 1] >= mean[top]:  # a violation (or a tie): pool the two blocks
            total = weight[top - 1] + weight[top]
            mean[top - 1] = (mean[top - 1] * weight[top - 1] + mean[top] * weight[top]) / total
            weight[top - 1], size[top - 1] = total, size[top - 1] + size[top]
            top -= 1
    return np.repeat(mean[: top + 1], size[: top + 1])


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
