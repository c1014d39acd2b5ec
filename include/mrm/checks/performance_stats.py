"""Discrimination and calibration of a binary probability score against realised labels, in plain numpy.

Conventions:

- ``y`` holds the realised labels, 1 = positive (the "bad": fraud, default), 0 = negative; ``score`` is
  the model's probability of a positive, higher = riskier. Rows are paired by position.
- **AUC** is the probability that a random positive scores above a random negative, ties counting one
  half: the Mann–Whitney statistic with midranks, equal to ``sklearn.metrics.roc_auc_score``.
  **Gini** = 2·AUC − 1. **KS** is max over thresholds t of |F_pos(t) − F_neg(t)|, F the empirical
  CDFs of the two classes' scores (``scipy.stats.ks_2samp``).
- **DeLong interval**: AUC ± z·SE, SE from DeLong, DeLong & Clarke-Pearson (1988) in the fast midrank
  form of Sun & Xu (2014), variances with n − 1 (as R's pROC), clipped to [0, 1].
- **At a threshold**, predicted positive means ``score >= threshold``. A ratio whose denominator is 0
  is None, as scikit-learn's ``zero_division=np.nan``: precision when nothing is predicted positive,
  recall when y has no positive, and F1 = 2·TP / (2·TP + FP + FN) only when TP + FP + FN = 0 (so F1
  is 0.0, not None, when positives exist but none is predicted). ``positive_rate`` is the share of rows
  predicted positive (the alert rate).
- **Calibration bins** are the score's own deciles (``bins`` quantiles, de-duplicated, as
  :func:`mrm.checks.stats.decile_edges`), half-open [q_k, q_{k+1}); the open ends are reported as 0 and
  1, the ends of the probability scale, and the last bin includes 1. Bin numbers count the
  de-duplicated edges from 0 (lowest scores); empty bins are left out, so numbers can skip.
- **Hosmer–Lemeshow** = Σ over those bins of (O − E)² / (E·(1 − E/n)), O the positives, E the summed
  scores and n the rows of a bin; p-value from chi-square with (bins used − 2) degrees of freedom, None
  below 3 bins. A bin whose scores are all exactly 0 (or all 1) has no variance: it adds 0 if O = E,
  otherwise the statistic is infinite and the p-value 0.

Discrimination (AUC, KS, DeLong, threshold metrics) accepts any finite score; Brier, calibration and
Hosmer–Lemeshow need probabilities in [0, 1]. None marks a number the data cannot give (one class
only, too few rows). Invalid input raises ValueError with one line saying what is wrong and where.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from mrm.checks.stats import DEFAULT_BINS, decile_edges

# -- input ---------------------------------------------------------------------------------------------


def _refuse_rows(requirement: str, bad: np.ndarray, values: np.ndarray) -> None:
    if bad.any():
        found = ", ".join(repr(v) for v in list(dict.fromkeys(values[bad].tolist()))[:3])
        raise ValueError(
            f"{requirement}; found {found} in {bad.sum()} of {bad.size} rows, first at row {np.argmax(bad)}"
        )


def _checked(y: np.ndarray, score: np.ndarray, probabilities: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(labels as int64, scores as float64), or ValueError naming the first problem found."""
    labels, s = np.asarray(y), np.asarray(score, dtype="float64")
    if labels.ndim != 1 or s.ndim != 1:
        raise ValueError(f"y and score must be one-dimensional, got shapes {labels.shape} and {s.shape}")
    if labels.size != s.size:
        raise ValueError(f"y and score differ in length: {labels.size} labels, {s.size} scores")
    if labels.size == 0:
        raise ValueError("y and score are empty: there are no labelled rows to assess")
    _refuse_rows("y must hold only 0 and 1", ~np.isin(labels, (0, 1)), labels)
    _refuse_rows("score must be finite", ~np.isfinite(s), s)
    if probabilities:
        _refuse_rows("score must be a probability in [0, 1]", (s < 0) | (s > 1), s)
    return labels.astype("int64"), s


# -- discrimination ------------------------------------------------------------------------------------


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of x; tied values share the mean of the positions they occupy."""
    order = np.argsort(x, kind="mergesort")
    _, first, counts = np.unique(x[order], return_index=True, return_counts=True)
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    return ranks


def auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC by the Mann–Whitney rank formula with midranks; None if y has only one class."""
    labels, s = _checked(y, score)
    positive = labels == 1
    m, n = int(positive.sum()), int((~positive).sum())
    if m == 0 or n == 0:
        return None
    return float((_midranks(s)[positive].sum() - m * (m + 1) / 2) / (m * n))


def gini(auc_value: float) -> float:
    """Gini (accuracy ratio) = 2·AUC − 1."""
    return 2.0 * auc_value - 1.0


def ks_statistic(y: np.ndarray, score: np.ndarray) -> float | None:
    """Two-sample KS between the positives' and negatives' scores; None if a class is empty."""
    labels, s = _checked(y, score)
    pos, neg = np.sort(s[labels == 1]), np.sort(s[labels == 0])
    if pos.size == 0 or neg.size == 0:
        return None
    grid = np.concatenate([pos, neg])
    cdf_pos = np.searchsorted(pos, grid, side="right") / pos.size
    cdf_neg = np.searchsorted(neg, grid, side="right") / neg.size
    return float(np.max(np.abs(cdf_pos - cdf_neg)))


def _delong(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """(AUC, its DeLong variance) from the structural components V10 (positives) and V01 (negatives)."""
    m, n = pos.size, neg.size
    combined = _midranks(np.concatenate([pos, neg]))
    v10 = (combined[:m] - _midranks(pos)) / n
    v01 = 1.0 - (combined[m:] - _midranks(neg)) / m
    return float(v10.mean()), float(v10.var(ddof=1) / m + v01.var(ddof=1) / n)


def delong_ci(y: np.ndarray, score: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """Two-sided DeLong confidence interval for the AUC, clipped to [0, 1]; None below 2 rows per class."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    labels, s = _checked(y, score)
    pos, neg = s[labels == 1], s[labels == 0]
    if pos.size < 2 or neg.size < 2:
        return None
    value, variance = _delong(pos, neg)
    half = NormalDist().inv_cdf(0.5 + level / 2) * math.sqrt(variance)
    return max(0.0, value - half), min(1.0, value + half)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def confusion_at(y: np.ndarray, score: np.ndarray, threshold: float) -> dict:
    """Confusion counts and ratios with ``score >= threshold`` predicted positive (see the module notes)."""
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    labels, s = _checked(y, score)
    predicted, actual = s >= threshold, labels == 1
    tp, fp = int(np.sum(predicted & actual)), int(np.sum(predicted & ~actual))
    fn, tn = int(np.sum(~predicted & actual)), int(np.sum(~predicted & ~actual))
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "positive_rate": (tp + fp) / labels.size,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


# -- calibration ---------------------------------------------------------------------------------------


def brier(y: np.ndarray, score: np.ndarray) -> float:
    """Brier score: the mean squared difference between the probability and the 0/1 outcome."""
    labels, s = _checked(y, score, probabilities=True)
    return float(np.mean((s - labels) ** 2))


def _score_bins(s: np.ndarray, bins: int) -> list[tuple[int, float, float, np.ndarray]]:
    """(bin number, lower, upper, row mask) of each non-empty decile bin of the scores."""
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    edges = decile_edges(s, bins, mass_points=False)
    which = np.searchsorted(edges, s, side="right")
    bounds = [0.0, *edges.tolist(), 1.0]
    masks = ((k, which == k) for k in range(edges.size + 1))
    return [(k, bounds[k], bounds[k + 1], mask) for k, mask in masks if mask.any()]


def calibration_table(y: np.ndarray, score: np.ndarray, bins: int = DEFAULT_BINS) -> list[dict]:
    """Expected (mean score) against observed (mean y) rate per score decile; empty bins left out."""
    labels, s = _checked(y, score, probabilities=True)
    return [
        {
            "bin": k,
            "lower": lower,
            "upper": upper,
            "n": int(mask.sum()),
            "expected_rate": float(s[mask].mean()),
            "observed_rate": float(labels[mask].mean()),
        }
        for k, lower, upper, mask in _score_bins(s, bins)
    ]


def _hl_term(observed: float, expected: float, n: int) -> float:
    variance = expected * (1.0 - expected / n)
    if variance <= 0.0:
        return 0.0 if observed == expected else math.inf
    return (observed - expected) ** 2 / variance


def _chi2_sf(x: float, df: int) -> float:
    """P(X > x) for X ~ chi-square with integer df ≥ 1: the closed-form Poisson/erfc series, in logs."""
    if x <= 0.0:
        return 1.0
    if math.isinf(x):
        return 0.0
    h = x / 2.0
    if df % 2 == 0:
        terms = (math.exp(-h + i * math.log(h) - math.lgamma(i + 1)) for i in range(df // 2))
        return min(1.0, math.fsum(terms))
    terms = (math.exp(-h + (i - 0.5) * math.log(h) - math.lgamma(i + 0.5)) for i in range(1, (df + 1) // 2))
    return min(1.0, math.erfc(math.sqrt(h)) + math.fsum(terms))


def hosmer_lemeshow(y: np.ndarray, score: np.ndarray, groups: int = DEFAULT_BINS) -> dict:
    """Hosmer–Lemeshow statistic over the calibration bins, with its chi-square (groups − 2) p-value."""
    labels, s = _checked(y, score, probabilities=True)
    masks = [mask for *_, mask in _score_bins(s, groups)]
    statistic = math.fsum(_hl_term(float(labels[m].sum()), float(s[m].sum()), int(m.sum())) for m in masks)
    df = len(masks) - 2
    return {
        "statistic": statistic,
        "p_value": _chi2_sf(statistic, df) if df >= 1 else None,
        "groups": len(masks),
    }


# -- everything at once --------------------------------------------------------------------------------


def performance(y: np.ndarray, score: np.ndarray, threshold: float) -> dict:
    """Every statistic of this module for one labelled cohort; None where the data cannot give it."""
    labels, s = _checked(y, score, probabilities=True)
    value, interval = auc(labels, s), delong_ci(labels, s) or (None, None)
    at, hl = confusion_at(labels, s, threshold), hosmer_lemeshow(labels, s)
    positives = int(labels.sum())
    return {
        "auc": value,
        "auc_ci_low": interval[0],
        "auc_ci_high": interval[1],
        "gini": None if value is None else gini(value),
        "ks": ks_statistic(labels, s),
        **{key: at[key] for key in ("precision", "recall", "f1", "positive_rate")},
        "brier": brier(labels, s),
        "hl_statistic": hl["statistic"],
        "hl_p_value": hl["p_value"],
        "n": int(labels.size),
        "positives": positives,
        "negatives": int(labels.size) - positives,
    }
