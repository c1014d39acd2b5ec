"""Expected performance of a day whose labels are not known yet, from calibrated probabilities (the
statistics of confidence-based performance estimation, CBPE), in plain numpy.

Conventions (as :mod:`mrm.checks.performance_stats`): ``s`` holds the day's scores, ``p`` the calibrated
probability of a positive of each row; predicted positive means ``s >= threshold``. Each row's label is
taken as an independent Bernoulli(p_i) draw, so that:

- the **expected confusion matrix** is TP = Σ p_i·[s_i ≥ t], FP = Σ (1 − p_i)·[s_i ≥ t],
  FN = Σ p_i·[s_i < t], TN = Σ (1 − p_i)·[s_i < t];
- precision = TP / K (K the rows predicted positive, known without labels), recall = TP / Σp,
  F1 = 2·TP / (K + Σp): ratios of expectations (as NannyML's CBPE); None when the denominator is 0;
  positive rate = K / n is known exactly without labels;
- **expected AUC** = Σ_{i≠j} p_i (1 − p_j)·([s_i > s_j] + ½[s_i = s_j]) / (Σp·Σ(1 − p) − Σ p(1 − p)):
  the expected Mann–Whitney count over the expected number of (positive, negative) pairs, computed in
  O(n log n) over the distinct scores (NannyML's trapezoid also counts each row paired with itself,
  half a tie, in numerator and denominator: a difference of order 1/n);
- the **band** is a normal approximation: estimate ± z·SE, z the two-sided quantile of ``confidence``,
  SE from the delta method (the first-order variance of the realised metric as a function of the
  Bernoulli labels, Var(y_i) = p_i(1 − p_i)), clipped to [0, 1]. It is the range in which the realised
  value is expected to fall with the stated confidence *if the calibration holds*. The positive rate's
  band is the value itself;
- the **calibrator's error** (a finite reference) is added to that variance when ``calibration_variance``
  is given: a function of the metric's gradient with respect to the probabilities, ∂metric/∂p_i, that
  returns the variance of Σ_i ∂metric/∂p_i · δp_i over the calibrator's sampling error
  (:meth:`mrm.checks.isotonic.Isotonic.variance_of`). The gradients are those of the estimates as
  written above (for precision, recall and F1 they equal the label gradients; for the AUC the self-pair
  terms of the expected count differ by value·(1 − 2p_i)/pairs).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np

from mrm.checks.performance_counts import unique_inverse

METRICS = ("auc", "precision", "recall", "f1", "positive_rate")


def _checked(p: np.ndarray, s: np.ndarray, w: np.ndarray | None = None):
    """(p, s, w) as float64; ``w`` the rows each entry stands for (None: one each)."""
    p, s = np.asarray(p, dtype="float64"), np.asarray(s, dtype="float64")
    if p.shape != s.shape or p.ndim != 1:
        raise ValueError(f"p and s must be one-dimensional and equal in length, got {p.shape} and {s.shape}")
    if not (np.isfinite(s).all() and np.isfinite(p).all()) or ((p < 0) | (p > 1)).any():
        raise ValueError("p must be probabilities in [0, 1] and s finite scores")
    w = np.ones(s.size) if w is None else np.asarray(w, dtype="float64")
    if w.shape != s.shape or (w < 0).any():
        raise ValueError(f"w must be non-negative row counts paired with s, got shape {w.shape}")
    return p, s, w


def expected_confusion(p: np.ndarray, s: np.ndarray, threshold: float, w: np.ndarray | None = None) -> dict:
    """Expected TP, FP, FN, TN at ``s >= threshold``, and the rows predicted positive (K) and all (n);
    ``w``: the rows each (p, s) stands for (e.g. a day's distinct scores and their counts)."""
    p, s, w = _checked(p, s, w)
    predicted = s >= threshold
    tp, fn = float(np.dot(p[predicted], w[predicted])), float(np.dot(p[~predicted], w[~predicted]))
    k, n = round(float(w[predicted].sum())), round(float(w.sum()))
    return {"tp": tp, "fp": k - tp, "fn": fn, "tn": (n - k) - fn, "predicted": k, "n": n}


def _band(value: float | None, variance: float, z: float) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    half = z * math.sqrt(max(variance, 0.0))
    return max(0.0, value - half), min(1.0, value + half)


def expected_auc(p: np.ndarray, s: np.ndarray, w: np.ndarray | None = None) -> tuple[float | None, float]:
    """(expected AUC, its delta-method variance); None when no (positive, negative) pair is expected."""
    value, variance, _ = _auc_and_gradients(p, s, w)
    return value, variance


def _auc_and_gradients(p: np.ndarray, s: np.ndarray, w: np.ndarray | None = None):
    """(expected AUC, its delta-method variance over the labels, (its gradient with respect to each
    row's label, with respect to its p; one value per entry, the same for each row it stands for) or
    None)."""
    p, s, w = _checked(p, s, w)
    q, v = 1.0 - p, p * (1.0 - p)
    distinct, group = unique_inverse(s)  # np.unique's result, by hashing
    pos = np.bincount(group, weights=w * p, minlength=distinct.size)  # expected positives per distinct score
    neg = np.bincount(group, weights=w * q, minlength=distinct.size)
    neg_below = np.cumsum(neg) - neg
    pos_above = pos.sum() - np.cumsum(pos)
    m, n, self_pairs = float(np.dot(w, p)), float(np.dot(w, q)), float(np.dot(w, v))
    pairs = m * n - self_pairs
    if pairs <= 0.0:
        return None, 0.0, None
    count = float(np.dot(pos, neg_below)) + 0.5 * (float(np.dot(pos, neg)) - self_pairs)
    value = min(1.0, max(0.0, count / pairs))
    below = neg_below[group] + 0.5 * (neg[group] - q)  # a_k: expected negatives ranked below row k
    above = pos_above[group] + 0.5 * (pos[group] - p)  # b_k: expected positives ranked above row k
    gradient = ((below - above) - value * (n - m)) / pairs  # with respect to the labels y_k
    by_p = gradient + value * (1.0 - 2.0 * p) / pairs  # with respect to p_k: ∂pairs/∂p_k = n − m − (1 − 2p_k)
    return value, float(np.dot(gradient**2, w * v)), (gradient, by_p)


def estimates(
    p: np.ndarray,
    s: np.ndarray,
    threshold: float,
    confidence: float = 0.95,
    calibration_variance: Callable[[np.ndarray], float] | None = None,
    w: np.ndarray | None = None,
) -> dict:
    """Every estimate of this module with its band: ``{metric: (value, low, high)}`` plus ``confusion``
    and ``se``: ``{metric: (standard error over the labels, over the calibrator or None)}``. ``w``: the
    rows each (p, s) stands for (a day's distinct scores and their counts give the rows' figures
    exactly, in time and memory of the distinct scores); ``calibration_variance`` is then given each
    entry's gradient summed over its rows."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    p, s, w = _checked(p, s, w)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    c = expected_confusion(p, s, threshold, w)
    v = w * p * (1.0 - p)  # each entry's rows' label variance
    d = (s >= threshold).astype("float64")
    k, m, tp = c["predicted"], float(np.dot(w, p)), c["tp"]
    out: dict = {"confusion": c, "se": {}}

    def put(
        name: str, value: float | None, gradient: np.ndarray | None, by_p: np.ndarray | None = None
    ) -> None:
        """The estimate with its band: labels' variance (gradient² · p(1 − p)) plus the calibrator's
        (through the gradient with respect to p, ``by_p``, where it differs from the labels')."""
        if value is None or gradient is None:
            out[name], out["se"][name] = (value, None, None), (None, None)
            return
        labels = float(np.dot(gradient**2, v))
        calibrator = (
            calibration_variance(w * (gradient if by_p is None else by_p)) if calibration_variance else None
        )
        out[name] = (value, *_band(value, labels + (calibrator or 0.0), z))
        out["se"][name] = (math.sqrt(labels), None if calibrator is None else math.sqrt(calibrator))

    precision = tp / k if k else None
    put("precision", precision, d / k if k else None)
    recall = tp / m if m > 0 else None
    put("recall", recall, (d - recall) / m if recall is not None else None)
    f1 = 2 * tp / (k + m) if k + m > 0 else None
    put("f1", f1, (2 * d - f1) / (k + m) if f1 is not None else None)
    rate = k / c["n"] if c["n"] else None
    out["positive_rate"] = (rate, rate, rate)  # known without labels: no band
    out["se"]["positive_rate"] = (0.0, 0.0) if rate is not None else (None, None)
    value, _, gradients = _auc_and_gradients(p, s, w)
    put("auc", value, *(gradients or (None, None)))
    return out
