"""The drift methods Evidently offers (KS, Wasserstein, Jensen-Shannon, chi-square), computed as
Evidently computes them on the whole day, from the day's aggregate and the reference profile.

Exactness: chi-square and categorical Jensen-Shannon are exact. KS and Wasserstein are exact (scipy on
the data, as Evidently computes them) when the whole day fits in the sample and the profile holds the
sorted reference; otherwise they come from the fine sketch with a stated bound, recorded in the metric's
detail: the KS statistic within ``max over bins of min(reference share, current share)`` (at most the
sketch's largest reference bin share, about 1/2048); the Wasserstein distance exact wherever the CDF gap
keeps its sign within a fine bin (from the sums of the values per bin, kept for features that ask for it)
and bounded where it may change sign (see :func:`wasserstein_bounds`). Numeric Jensen-Shannon over
Evidently's Sturges bins is approximate unless the day fits in the sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mrm.checks import stats
from mrm.sources.contract import numeric_values

if TYPE_CHECKING:
    from mrm.checks.engine.accumulators import NumericAgg
    from mrm.checks.engine.day_aggregate import DayAggregate
    from mrm.checks.engine.profile import NumericProfile, ReferenceProfile


def method_value(
    agg: DayAggregate, profile: ReferenceProfile, column: str, method: str
) -> tuple[float | None, dict]:
    """An Evidently drift method's value (as Evidently computes it on the whole day) and detail: exact,
    or from the fine sketch with its error bound stated in the detail."""
    if column in profile.categorical:
        return _categorical_method(profile.categorical[column], agg.categorical[column], method), {}
    p, a = profile.numeric[column], agg.numeric[column]
    if p.n == 0 or a.n == 0:
        return None, {}
    if agg.complete and p.ordered is not None:
        current = numeric_values(agg.sample.column(column))
        return _exact_numeric(p, current[~np.isnan(current)], method), {}
    return {"ks": _ks_sketch, "wasserstein": _wasserstein_sketch, "jensenshannon": _js_sketch}[method](p, a)


def _evidently_keys(agg) -> dict[str, int]:
    """Category counts as Evidently sees them: nulls marked as stats.MISSING."""
    counts = dict(agg.counts)
    if agg.nulls:
        counts[stats.MISSING] = counts.get(stats.MISSING, 0) + agg.nulls
    return counts


def _categorical_method(ref, cur, method: str) -> float:
    from scipy.spatial import distance
    from scipy.stats import chisquare

    r, c = _evidently_keys(ref), _evidently_keys(cur)
    keys = sorted(set(r) | set(c))
    r_counts = np.array([r.get(k, 0) for k in keys], dtype="float64")
    c_counts = np.array([c.get(k, 0) for k in keys], dtype="float64")
    if method == "chisquare":
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(chisquare(c_counts, r_counts * (cur.rows / ref.rows))[1])
    return float(distance.jensenshannon(r_counts / ref.rows, c_counts / cur.rows))


def _exact_numeric(p: NumericProfile, current: np.ndarray, method: str) -> float:
    from scipy import stats as st
    from scipy.spatial import distance

    if method == "ks":
        return float(st.ks_2samp(p.ordered, current)[1])
    if method == "wasserstein":
        return float(st.wasserstein_distance(p.ordered, current) / max(p.std, 0.001))
    if p.distinct is not None:
        keys = sorted(set(p.distinct) | set(np.unique(current).tolist()))
        ref = np.array([p.distinct.get(k, 0) for k in keys]) / p.n
        cur_values, cur_counts = np.unique(current, return_counts=True)
        found = dict(zip(cur_values.tolist(), cur_counts.tolist(), strict=True))
        return float(distance.jensenshannon(ref, np.array([found.get(k, 0) for k in keys]) / current.size))
    edges = np.histogram_bin_edges(np.concatenate([p.ordered, current]), bins="sturges")
    ref = np.histogram(p.ordered, edges)[0] / p.n
    return float(distance.jensenshannon(ref, np.histogram(current, edges)[0] / current.size))


def _cdfs(p: NumericProfile, a: NumericAgg) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current CDFs just below each bin boundary (boundary 0 = -inf ... bins = +inf)."""
    return np.r_[0.0, np.cumsum(p.counts)] / p.n, np.r_[0.0, np.cumsum(a.counts)] / a.n


def ks_bounds(p: NumericProfile, a: NumericAgg) -> tuple[float, float]:
    """The KS statistic lies in [low, high]: low is the largest CDF gap at the sketch's edges; within a
    bin the gap can grow by at most min(reference share, current share) of that bin (none in a bin that
    holds a single value)."""
    ref, cur = _cdfs(p, a)
    low = float(np.max(np.abs(ref - cur)))
    spread = np.maximum(ref[1:] - cur[:-1], cur[1:] - ref[:-1])[~p.sketch.singletons()]
    return low, max(low, float(spread.max(initial=0.0)))


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """The two-sided KS p-value for statistic d from the Kolmogorov limit distribution at the effective
    size n1*n2/(n1+n2) (scipy.stats.kstwobign). scipy's ks_2samp uses the finite-size kstwo instead,
    which can take half a second per call at these sizes; the two differ by under 1% (relative) for
    effective sizes above 10,000, far less than the statistic's own sketch bound moves the p-value."""
    from scipy.stats import kstwobign

    en = n1 * n2 / (n1 + n2)
    return float(np.clip(kstwobign.sf(d * np.sqrt(en)), 0.0, 1.0))


def _ks_sketch(p: NumericProfile, a: NumericAgg) -> tuple[float, dict]:
    low, high = ks_bounds(p, a)
    detail = {
        "statistic": low,
        "statistic_bounds": [low, high],
        "p_value_range": [ks_pvalue(high, p.n, a.n), ks_pvalue(low, p.n, a.n)],
        "approximation": "fine sketch of the reference (statistic at the sketch's edges); p-value from "
        "the Kolmogorov limit distribution",
    }
    return ks_pvalue(low, p.n, a.n), detail


def wasserstein_bounds(p: NumericProfile, a: NumericAgg) -> tuple[float, float]:
    """(estimate, error bound) of the Wasserstein-1 distance ∫|F_ref - F_cur| dx.

    Beyond the reference's range F_ref is 0 or 1, and the integral is exact from the sums of the values
    there. Inside, per fine bin [l, r): the CDF gap G ranges over [A_k - B_k+1, A_k+1 - B_k]; with the
    sums of the values in the bin (both sides) ∫G over the bin is exact, and so is ∫|G| wherever G keeps
    its sign; where it may change sign, ∫|G| lies between |∫G| and the bounds that G's range allows.
    Without the current's sums, G is taken as linear within a bin, off by at most what its range allows."""
    ref, cur = _cdfs(p, a)
    edges = p.sketch.edges
    width = np.diff(edges)
    lo, hi = ref[1:-2] - cur[2:-1], ref[2:-1] - cur[1:-2]
    floor = width * np.where(lo > 0, lo, np.where(hi < 0, -hi, 0.0))
    ceiling = width * np.maximum(np.abs(lo), np.abs(hi))
    if a.sums is not None and p.sums is not None:
        right = edges[1:]
        gap = width * (ref[1:-2] - cur[1:-2]) + (p.counts[1:-1] * right - p.sums[1:-1]) / p.n
        gap -= (a.counts[1:-1] * right - a.sums[1:-1]) / a.n
        low = np.maximum(np.abs(gap), floor)
        high = np.minimum.reduce(
            [ceiling, gap + 2 * width * np.maximum(-lo, 0), 2 * width * np.maximum(hi, 0) - gap]
        )
        high = np.maximum(high, low)
    else:
        low, high = floor, ceiling
    d = ref - cur
    estimate = np.clip(width * _mean_abs_linear(d[1:-2], d[2:-1]), low, high)
    error = np.maximum(high - estimate, estimate - low)
    below = (a.counts[0] * edges[0] - a.below_sum) / a.n
    above = (a.above_sum - a.counts[-1] * edges[-1]) / a.n
    return float(np.sum(estimate)) + below + above, float(np.sum(error))


def _mean_abs_linear(d0: np.ndarray, d1: np.ndarray) -> np.ndarray:
    """The mean of |g| over [0, 1] for g linear from d0 to d1."""
    same = d0 * d1 >= 0
    total = np.abs(d0) + np.abs(d1)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(total > 0, (d0 * d0 + d1 * d1) / (2 * total), 0.0)
    return np.where(same, total / 2, crossing)


def _wasserstein_sketch(p: NumericProfile, a: NumericAgg) -> tuple[float, dict]:
    norm = max(p.std, 0.001)
    estimate, error = wasserstein_bounds(p, a)
    detail = {
        "error_bound": error / norm,
        "approximation": "fine sketch of the reference (CDFs linear within a bin)",
    }
    return estimate / norm, detail


def _js_sketch(p: NumericProfile, a: NumericAgg) -> tuple[float, dict]:
    """Evidently's numeric Jensen-Shannon: by value (<= 20 reference values; exact when each of them has
    a bin of its own) or over Sturges bins across both ranges (approximate: CDFs interpolated linearly
    within fine bins)."""
    from scipy.spatial import distance

    held = p.counts > 0
    if p.distinct is not None and np.all(p.sketch.singletons()[held]):
        return float(distance.jensenshannon(p.counts / p.n, a.counts / a.n)), {}
    lo, hi = min(p.min, a.min), max(p.max, a.max)
    n = p.n + a.n
    width = (hi - lo) / (np.log2(n) + 1.0)
    edges = np.linspace(lo, hi, (int(np.ceil((hi - lo) / width)) if width else 1) + 1)
    ref, cur = _cdfs(p, a)
    inner = np.r_[min(lo, p.sketch.edges[0]), p.sketch.edges, max(hi, p.sketch.edges[-1])]
    ref_at, cur_at = np.interp(edges, inner, ref), np.interp(edges, inner, cur)
    ref_at[-1] = cur_at[-1] = 1.0
    which = np.searchsorted(p.sketch.edges, edges[1:-1], side="right")
    uncertain = float(np.sum(np.maximum(p.counts[which] / p.n, a.counts[which] / a.n)))
    detail = {"approximation": "Sturges bins from the fine sketch (CDFs linear within a bin)",
              "uncertain_mass": uncertain}  # fmt: skip
    return float(distance.jensenshannon(np.diff(ref_at), np.diff(cur_at))), detail
