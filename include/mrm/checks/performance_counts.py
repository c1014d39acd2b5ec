"""The statistics of :mod:`mrm.checks.performance_stats` from per-distinct-score counts: a labelled cohort
reduced to its distinct scores (ascending) and, for each, how many positives and negatives have it.

Nothing here holds a row: memory is three arrays of the distinct scores' length (at most the rows, far
fewer for rounded scores), whatever the cohort's size. Each statistic is the same number as the
row-based one, by construction (the tests compare them with scikit-learn, scipy and
:mod:`mrm.checks.performance_stats` on the same rows, ties and all-equal scores included):

- **AUC** (Mann–Whitney, ties one half) = Σ_v pos(v)·(neg(<v) + neg(v)/2) / (m·n), summed in integers
  (2·Σ ≤ 2·m·n < 2⁶³ for m·n < 4.6·10¹⁸): exact up to the one final division.
- **KS**: the two classes' empirical CDFs at each distinct score, as ``performance_stats``.
- **DeLong**: each positive's placement V10 = (neg(<v) + neg(v)/2) / n and each negative's
  V01 = (pos(>v) + pos(v)/2) / m depend only on its score, so their means and (n − 1) variances are
  count-weighted sums over the distinct scores (exact with ties, as the midrank form).
- **Threshold metrics**, **Brier**, **calibration by decile** and **Hosmer–Lemeshow**: sums of counts
  and of count × score; the decile edges are numpy's linear quantiles found from the cumulative counts
  (:func:`quantiles`, equal to ``np.quantile`` on the rows bit for bit), so every row lands in the same
  bin as in the row-based code.

Floating-point sums are taken with ``math.fsum`` where they feed a ratio (Brier, E of a bin), so they
are correctly rounded; the row-based code's pairwise sums differ from them by at most a few ulps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from mrm.checks.performance_stats import _chi2_sf, _hl_term, _ratio, gini
from mrm.checks.stats import DEFAULT_BINS


@dataclass(frozen=True)
class ScoreCounts:
    """A labelled cohort as counts: ``values`` the distinct scores ascending (float64), ``positives`` and
    ``negatives`` (int64) how many labelled events of each class have each score."""

    values: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, score: np.ndarray) -> ScoreCounts:
        """The counts of paired labels (0/1) and scores; the scores' finiteness is checked by the
        statistics (as the row-based code does), the labels here."""
        labels, s = np.asarray(y), np.asarray(score, dtype="float64")
        if labels.shape != s.shape or labels.ndim != 1:
            raise ValueError(f"y and score must be one-dimensional and paired, got {labels.shape}, {s.shape}")
        bad = ~np.isin(labels, (0, 1))
        if bad.any():
            found = labels[bad][0].item()
            raise ValueError(f"y must hold only 0 and 1; found {found!r} in {int(bad.sum())} rows")
        values, inverse = unique_inverse(s)
        positives = np.bincount(inverse[labels == 1], minlength=values.size).astype("int64")
        negatives = np.bincount(inverse[labels == 0], minlength=values.size).astype("int64")
        return cls(values, positives, negatives)

    @classmethod
    def empty(cls) -> ScoreCounts:
        return cls(np.array([]), np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64"))

    @property
    def n_positive(self) -> int:
        return int(self.positives.sum())

    @property
    def n_negative(self) -> int:
        return int(self.negatives.sum())

    @property
    def rows(self) -> int:
        return self.n_positive + self.n_negative

    def __len__(self) -> int:
        return self.rows

    @property
    def totals(self) -> np.ndarray:
        return self.positives + self.negatives


def unique_inverse(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(s, return_inverse=True)`` (NaN last, one value; -0.0 equal to 0.0) by hashing first:
    only the distinct scores are sorted, not the rows (scores rounded to a few decimals: far fewer)."""
    import pandas as pd

    codes, uniques = pd.factorize(s, use_na_sentinel=False)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(order.size, dtype="int64")
    rank[order] = np.arange(order.size)
    return uniques[order], rank[codes]


def _checked(c: ScoreCounts, probabilities: bool = False) -> ScoreCounts:
    if c.rows == 0:
        raise ValueError("y and score are empty: there are no labelled rows to assess")
    present = c.totals > 0
    bad = present & ~np.isfinite(c.values)
    if bad.any():
        rows = int(c.totals[bad].sum())
        raise ValueError(f"score must be finite; found {c.values[bad][0].item()!r} in {rows} rows")
    if probabilities:
        bad = present & ((c.values < 0) | (c.values > 1))
        if bad.any():
            found = c.values[bad][0].item()
            raise ValueError(
                f"score must be a probability in [0, 1]; found {found!r} in {int(c.totals[bad].sum())} rows"
            )
    return c


# -- discrimination ------------------------------------------------------------------------------------


def _below(counts: np.ndarray) -> np.ndarray:
    """For each distinct score, how many of ``counts`` lie strictly below it."""
    return np.cumsum(counts) - counts


def auc(c: ScoreCounts) -> float | None:
    """ROC AUC (Mann–Whitney, ties one half), exact in integers; None if a class is empty."""
    _checked(c)
    m, n = c.n_positive, c.n_negative
    if m == 0 or n == 0:
        return None
    twice = int(np.sum(c.positives * (2 * _below(c.negatives) + c.negatives), dtype="int64"))
    return twice / (2 * m * n)


def ks_statistic(c: ScoreCounts) -> float | None:
    """Two-sample KS between the classes' scores; None if a class is empty."""
    _checked(c)
    m, n = c.n_positive, c.n_negative
    if m == 0 or n == 0:
        return None
    return float(np.max(np.abs(np.cumsum(c.positives) / m - np.cumsum(c.negatives) / n)))


def _weighted_var(x: np.ndarray, w: np.ndarray, total: int) -> tuple[float, float]:
    """(mean, variance with total − 1) of values ``x`` occurring ``w`` times each."""
    mean = math.fsum((x * w).tolist()) / total
    return mean, math.fsum((w * (x - mean) ** 2).tolist()) / (total - 1)


def delong(c: ScoreCounts) -> tuple[float, float]:
    """(AUC, its DeLong variance) from the placements of each distinct score."""
    m, n = c.n_positive, c.n_negative
    v10 = (_below(c.negatives) + c.negatives / 2) / n  # a positive's share of negatives it outranks
    above_pos = m - np.cumsum(c.positives)
    v01 = (above_pos + c.positives / 2) / m  # a negative's share of positives that outrank it
    keep_p, keep_n = c.positives > 0, c.negatives > 0
    mean10, var10 = _weighted_var(v10[keep_p], c.positives[keep_p], m)
    _, var01 = _weighted_var(v01[keep_n], c.negatives[keep_n], n)
    return mean10, var10 / m + var01 / n


def delong_ci(c: ScoreCounts, level: float = 0.95) -> tuple[float, float] | None:
    """Two-sided DeLong interval for the AUC, clipped to [0, 1]; None below 2 rows per class."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    _checked(c)
    if c.n_positive < 2 or c.n_negative < 2:
        return None
    value, variance = delong(c)
    half = NormalDist().inv_cdf(0.5 + level / 2) * math.sqrt(variance)
    return max(0.0, value - half), min(1.0, value + half)


def confusion_at(c: ScoreCounts, threshold: float) -> dict:
    """Confusion counts and ratios with ``score >= threshold`` predicted positive."""
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    _checked(c)
    predicted = c.values >= threshold
    tp, fp = int(c.positives[predicted].sum()), int(c.negatives[predicted].sum())
    fn, tn = c.n_positive - tp, c.n_negative - fp
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "positive_rate": (tp + fp) / c.rows,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


# -- calibration ---------------------------------------------------------------------------------------


def mean_score(c: ScoreCounts) -> float:
    return math.fsum((c.values * c.totals).tolist()) / c.rows


def brier(c: ScoreCounts) -> float:
    """Mean of (score − y)²: Σ_v pos(v)·(1 − v)² + neg(v)·v², over the rows."""
    _checked(c, probabilities=True)
    v = c.values
    return math.fsum((c.positives * (v - 1.0) ** 2 + c.negatives * v**2).tolist()) / c.rows


def quantiles(values: np.ndarray, counts: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile`` (method linear) of the rows that ``values`` (ascending) occur ``counts`` times
    each, without the rows: the virtual index (N − 1)·q, its two neighbours found in the cumulative
    counts, and numpy's own interpolation (``a + (b − a)·g``, or ``b − (b − a)·(1 − g)`` for g ≥ ½)."""
    total = int(counts.sum())
    cum = np.cumsum(counts)
    index = (total - 1) * np.asarray(q, dtype="float64")
    previous = np.floor(index)
    above = index >= total - 1
    prev_i = np.where(above, total - 1, previous).astype("int64")
    next_i = np.where(above, total - 1, previous + 1).astype("int64")
    gamma = index - np.where(above, -1.0, previous)
    a = values[np.searchsorted(cum, prev_i, side="right")]
    b = values[np.searchsorted(cum, next_i, side="right")]
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


def _bins(c: ScoreCounts, bins: int) -> list[tuple[int, float, float, np.ndarray]]:
    """(bin number, lower, upper, mask of the distinct scores) of each non-empty decile bin."""
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    present = c.totals > 0
    values, totals = c.values[present], c.totals[present]
    edges = np.unique(quantiles(values, totals, np.arange(1, bins) / bins))
    which = np.searchsorted(edges, c.values, side="right")
    bounds = [0.0, *edges.tolist(), 1.0]
    masks = ((k, (which == k) & present) for k in range(edges.size + 1))
    return [(k, bounds[k], bounds[k + 1], mask) for k, mask in masks if mask.any()]


def _observed_expected_n(c: ScoreCounts, mask: np.ndarray) -> tuple[float, float, int]:
    n = int(c.totals[mask].sum())
    expected = math.fsum((c.values[mask] * c.totals[mask]).tolist())
    return float(c.positives[mask].sum()), expected, n


def calibration_table(c: ScoreCounts, bins: int = DEFAULT_BINS) -> list[dict]:
    """Expected (mean score) against observed (mean y) rate per score decile; empty bins left out."""
    _checked(c, probabilities=True)
    out = []
    for k, lower, upper, mask in _bins(c, bins):
        observed, expected, n = _observed_expected_n(c, mask)
        out.append(
            {
                "bin": k,
                "lower": lower,
                "upper": upper,
                "n": n,
                "expected_rate": expected / n,
                "observed_rate": observed / n,
            }
        )
    return out


def hosmer_lemeshow(c: ScoreCounts, groups: int = DEFAULT_BINS) -> dict:
    """Hosmer–Lemeshow over the calibration bins, with its chi-square (groups − 2) p-value."""
    _checked(c, probabilities=True)
    terms = [_hl_term(*_observed_expected_n(c, mask)) for *_, mask in _bins(c, groups)]
    statistic, df = math.fsum(terms), len(terms) - 2
    p_value = _chi2_sf(statistic, df) if df >= 1 else None
    return {"statistic": statistic, "p_value": p_value, "groups": len(terms)}


def performance(c: ScoreCounts, threshold: float) -> dict:
    """Every statistic of :func:`mrm.checks.performance_stats.performance`, from the counts."""
    _checked(c, probabilities=True)
    value, interval = auc(c), delong_ci(c) or (None, None)
    at, hl = confusion_at(c, threshold), hosmer_lemeshow(c)
    return {
        "auc": value,
        "auc_ci_low": interval[0],
        "auc_ci_high": interval[1],
        "gini": None if value is None else gini(value),
        "ks": ks_statistic(c),
        **{key: at[key] for key in ("precision", "recall", "f1", "positive_rate")},
        "brier": brier(c),
        "hl_statistic": hl["statistic"],
        "hl_p_value": hl["p_value"],
        "n": c.rows,
        "positives": c.n_positive,
        "negatives": c.n_negative,
    }
