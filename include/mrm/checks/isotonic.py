"""Isotonic regression by pool-adjacent-violators (scipy's compiled PAVA): the calibrator of label-free
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
    """A fitted non-decreasing step-and-ramp function: its value at each distinct fitted score, and the
    weight (rows) of the pooled block each point belongs to."""

    x: np.ndarray  # the distinct scores of the fit, ascending
    y: np.ndarray  # the fitted value at each
    w: np.ndarray | None = None  # the total weight of each point's block (None: unknown, no error term)

    def predict(self, score: np.ndarray) -> np.ndarray:
        """Linear interpolation between the fitted points; constant beyond the first and last."""
        return np.interp(np.asarray(score, dtype="float64"), self.x, self.y)

    def variance_of(self, score: np.ndarray):
        """For these scores, the function ``gradient -> variance`` of Σ_i gradient_i · δp_i, δp_i the
        error of ``predict(score)_i`` from the calibrator's sampling error: each pooled block's value is
        a mean of its rows' 0/1 labels, variance y(1 − y)/weight, blocks independent, the pooling taken as
        fixed (first order); a prediction between two points moves with both of their blocks by its
        interpolation weights. None when the block weights are unknown."""
        if self.w is None:
            return None
        s = np.asarray(score, dtype="float64")
        block = blocks(self.y)
        first = np.flatnonzero(np.concatenate([[True], block[1:] != block[:-1]]))
        value, weight = self.y[first], self.w[first]
        var = value * (1.0 - value) / weight
        at = np.clip(np.searchsorted(self.x, s, side="right") - 1, 0, self.x.size - 1)
        nxt = np.minimum(at + 1, self.x.size - 1)
        span = self.x[nxt] - self.x[at]
        lam = np.where(
            span > 0, (np.clip(s, self.x[0], self.x[-1]) - self.x[at]) / np.where(span > 0, span, 1), 0
        )
        n_blocks = first.size

        def variance(gradient: np.ndarray) -> float:
            g = np.asarray(gradient, dtype="float64")
            sums = np.bincount(block[at], weights=g * (1.0 - lam), minlength=n_blocks)
            sums += np.bincount(block[nxt], weights=g * lam, minlength=n_blocks)
            return float(np.dot(sums**2, var))

        return variance


def blocks(fitted: np.ndarray) -> np.ndarray:
    """Each fitted point's pooled block (0, 1, ...): PAVA's blocks strictly rise, so a block is a run of
    equal fitted values."""
    return np.concatenate([[0], np.cumsum(fitted[1:] != fitted[:-1])])


def pava(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing fit of ``y`` (in the given order), by
    pool-adjacent-violators: scipy's compiled PAVA (``scipy.optimize.isotonic_regression``; 0.02 s for
    10⁶ distinct scores where a Python loop takes 0.4 s). Equal adjacent blocks are one block for
    :func:`blocks` either way."""
    from scipy.optimize import isotonic_regression

    return np.asarray(isotonic_regression(y, weights=w, increasing=True).x, dtype="float64")


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
    fitted = pava(pooled_y, pooled_w)
    block = blocks(fitted)
    return Isotonic(distinct, fitted, np.bincount(block, weights=pooled_w)[block])
