"""Every quality and drift metric of a day, computed from its aggregate (:mod:`mrm.checks.aggregate`) and
the reference profile, with the names, columns and details of the frame-based checks
(:mod:`mrm.checks.quality`, :mod:`mrm.checks.drift`, :mod:`mrm.checks.segments`).

Exactness: PSI, null, range, category, duplicate, volume, day and freshness
metrics, chi-square and categorical Jensen-Shannon are exact. KS and Wasserstein are exact (scipy on the
data, as Evidently computes them) when the whole day fits in the sample and the profile holds the sorted
reference; otherwise they come from the fine sketch with a stated bound, recorded in the metric's detail:
the KS statistic within ``max over bins of min(reference share, current share)`` (at most the sketch's
largest reference bin share, about 1/2048); the Wasserstein distance exact wherever the CDF gap keeps its
sign within a fine bin (from the sums of the values per bin, kept for features that ask for it) and
bounded where it may change sign (see :func:`wasserstein_bounds`). Numeric Jensen-Shannon over
Evidently's Sturges bins is approximate unless the day fits in the sample.
"""

from __future__ import annotations

import numpy as np

from mrm.checks.aggregate import NAT, CategoricalAgg, DayAggregate, NumericAgg, SegmentAgg
from mrm.checks.profile import NumericProfile, ReferenceProfile, SegmentProfile, numeric_values
from mrm.core.results import MetricResult
from mrm.inventory import ModelEntry

NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
UNIQUE = "expect_column_values_to_be_unique"
ROW_COUNT = "expect_table_row_count_to_be_between"


def metrics_from_aggregates(
    agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry, expected_rows: float | None = None
) -> list[MetricResult]:
    """Every quality and drift metric of :mod:`mrm.checks.quality` and :mod:`mrm.checks.drift`, with the
    same names, columns and details, from the aggregates."""
    return quality_results(agg, profile, entry, expected_rows) + drift_results(agg, profile, entry)


def _nulls(agg: DayAggregate, column: str) -> int:
    if column == "event_id":
        return agg.ids.nulls
    if column == "event_ts":
        return agg.times.nulls
    return (agg.numeric.get(column) or agg.categorical[column]).nulls


def _gx(metric: str, column: str | None, unexpected: int, of: int, expectation: str) -> MetricResult:
    """A metric GX observes on the whole day: unexpected / ``of``; success when nothing is unexpected."""
    value = unexpected / of if of else None
    return MetricResult(
        "quality", metric, column, value, {"expectation": expectation, "gx_success": unexpected == 0}
    )


def _unexpected(agg: CategoricalAgg, allowed: list[str]) -> tuple[int, int]:
    allowed_set = set(allowed)
    return sum(n for v, n in agg.counts.items() if v not in allowed_set), agg.rows - agg.nulls


def quality_results(
    agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry, expected_rows: float | None = None
) -> list[MetricResult]:
    """The metrics of :func:`mrm.checks.quality.check_quality` (in its order) and of
    :func:`~mrm.checks.quality.check_quality_extras`. ``expected_rows``: the reference's median daily
    rows unless given."""
    expected = profile.info["median_daily_rows"] if expected_rows is None else expected_rows
    features = entry.monitoring.features
    out = [
        _gx("null_rate", c, _nulls(agg, c), agg.rows, NOT_NULL)
        for c in ["event_id", "event_ts", "score", "decision"]
    ]
    out += [_gx("null_rate", f.name, _nulls(agg, f.name), agg.rows, NOT_NULL) for f in features]
    score = agg.numeric["score"]
    out.append(_gx("out_of_range_rate", "score", score.out_of_range, score.n, BETWEEN))
    for f in features:
        if f.type == "numeric" and (f.min is not None or f.max is not None):
            a = agg.numeric[f.name]
            out.append(_gx("out_of_range_rate", f.name, a.out_of_range, a.n, BETWEEN))
        if f.type == "categorical" and f.categories:
            out.append(
                _gx(
                    "unexpected_category_rate",
                    f.name,
                    *_unexpected(agg.categorical[f.name], f.categories),
                    IN_SET,
                )
            )
    decisions = _unexpected(agg.categorical["decision"], entry.monitoring.decisions)
    out.append(_gx("unexpected_category_rate", "decision", *decisions, IN_SET))
    out.append(_gx("duplicate_rate", None, agg.ids.duplicated, agg.ids.n, UNIQUE))
    low = int(expected * 0.5) if expected else 0
    out.append(
        MetricResult(
            "quality",
            "row_count",
            None,
            float(agg.rows),
            {"expectation": ROW_COUNT, "gx_success": agg.rows >= low},
        )
    )
    if expected:
        out.append(
            MetricResult("quality", "volume_ratio", None, agg.rows / expected, {"expected_rows": expected})
        )
    return out + _quality_extras(agg, profile, entry)


def _quality_extras(agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry) -> list[MetricResult]:
    import pandas as pd

    from mrm.sources.contract import declared_columns

    rows, info = agg.rows, profile.info
    counts = np.asarray(info["daily_rows"], dtype="float64")
    median = float(np.median(counts))
    mad = float(np.median(np.abs(counts - median))) * 1.4826
    detail = {"rows": rows, "reference_median": median, "reference_mad_scaled": mad}
    out = [MetricResult("quality", "volume_robust_z", None, abs(rows - median) / max(mad, 1.0), detail)]
    for col, ref_rate in info["null_rates"].items():
        if col in agg.columns:
            now = _nulls(agg, col) / rows if rows else float("nan")
            out.append(
                MetricResult("quality", "null_rate_increase", col, now - ref_rate, {"reference": ref_rate})
            )
    t = agg.times
    outside = t.outside / rows if rows else None
    out.append(MetricResult("quality", "out_of_day_rate", None, outside, {"day": agg.day.isoformat()}))
    newest = pd.Timestamp(t.newest, tz="UTC") if t.newest != NAT else pd.NaT
    gap = None if t.newest == NAT else max((t.end - t.newest) / 1e9 / 3600, 0.0)
    out.append(MetricResult("quality", "freshness_hours", None, gap, {"newest_event": str(newest)}))
    extra = sorted(set(agg.columns) - declared_columns(entry))
    out.append(MetricResult("quality", "extra_column_count", None, float(len(extra)), {"columns": extra}))
    return out


def drift_results(agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry) -> list[MetricResult]:
    """The metrics of :func:`mrm.checks.drift.check_drift` (PSI per feature, requested methods, drifted
    share, score PSI, decision shifts, mean score) and of :func:`mrm.checks.segments.check_segments`."""
    from mrm import metrics
    from mrm.checks.drift import _drifted_share, stattest_name

    bins = entry.monitoring.psi_bins
    psi = stattest_name(bins)
    features = entry.monitoring.features
    out = [
        MetricResult("drift", "psi", f.name, psi_value(agg, profile, f.name), {"method": psi, "bins": bins})
        for f in features
    ]
    for f in features:
        for method in f.drift_methods:
            value, detail = method_value(agg, profile, f.name, method)
            out.append(
                MetricResult(
                    "drift", metrics.EVIDENTLY_METHODS[method], f.name, value, {"method": method, **detail}
                )
            )
    out.append(_drifted_share(out, entry))
    out.append(MetricResult("drift", "score_psi", None, psi_value(agg, profile, "score"), {"method": psi}))
    ref, cur = profile.categorical["decision"], agg.categorical["decision"]
    for d in entry.monitoring.decisions:
        e = ref.counts.get(d, 0) / (ref.rows - ref.nulls) if ref.rows > ref.nulls else 0.0
        a = cur.counts.get(d, 0) / (cur.rows - cur.nulls) if cur.rows > cur.nulls else 0.0
        out.append(
            MetricResult("drift", "decision_rate_shift", d, abs(a - e), {"reference": e, "current": a})
        )
    score = agg.numeric["score"]
    mean = score.total / score.n if score.n else None
    out.append(MetricResult("drift", "mean_score", None, mean, {"reference": profile.numeric["score"].mean}))
    return out + segment_results(agg, profile, entry)


def psi_value(agg: DayAggregate, profile: ReferenceProfile, column: str) -> float | None:
    """PSI exactly as :mod:`mrm.checks.stats` computes it, from counts; None for a numeric column
    without values on either side."""
    from mrm.checks import stats

    if column in profile.categorical:
        ref, cur = profile.categorical[column], agg.categorical[column]
        categories = sorted(k for k in ref.counts if k != stats.MISSING)
        return stats.psi_from_shares(_category_shares(ref, categories), _category_shares(cur, categories))
    p, a = profile.numeric[column], agg.numeric[column]
    if p.n == 0 or a.n == 0:
        return None
    return stats.psi_from_shares(p.psi_counts(p.counts) / p.n, p.psi_counts(a.counts) / a.n)


def _category_shares(agg, categories: list[str]) -> np.ndarray:
    from mrm.checks import stats

    known = set(categories)
    other = sum(n for k, n in agg.counts.items() if k not in known and k != stats.MISSING)
    missing = agg.nulls + agg.counts.get(stats.MISSING, 0)
    counts = np.array([*(agg.counts.get(c, 0) for c in categories), other, missing], dtype="float64")
    return counts / max(agg.rows, 1)


def segment_results(agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry) -> list[MetricResult]:
    """The metrics of :func:`mrm.checks.segments.check_segments`, from the segment aggregates."""
    from mrm.checks.segments import CHECK_OF

    config = entry.monitoring.segments
    out = []
    for seg, part in agg.segments.items():
        ref = profile.segments[seg]
        for value in sorted(set(part.rows) | set(ref)):
            rows, ref_rows = part.rows.get(value, 0), ref[value].rows if value in ref else 0
            small = rows < config.min_rows or ref_rows < config.min_rows
            detail = {"rows": rows, "reference_rows": ref_rows, "min_rows": config.min_rows}
            for metric, column, v in _segment_values(part, ref.get(value), value, config.metrics, small):
                out.append(
                    MetricResult(CHECK_OF[metric], metric, column, v, detail, segment=f"{seg}={value}")
                )
    return out


def _segment_values(part: SegmentAgg, ref: SegmentProfile | None, value: str, wanted: list[str], small: bool):
    rows = part.rows.get(value, 0)
    for metric in wanted:
        if metric == "null_rate":
            for c in part.features:
                yield metric, c, None if small else part.nulls.get((value, c), 0) / rows
        elif metric == "psi":
            for c in (c for c in part.psi if c != "score"):
                has = rows > part.nulls.get((value, c), 0) and _reference_values(ref, c)
                yield metric, c, None if small or not has else _segment_psi(part, ref, value, c)
        elif metric == "score_psi":
            yield metric, None, None if small else _segment_psi(part, ref, value, "score")
        elif metric == "mean_score":
            total, n = part.score.get(value, [0.0, 0])
            yield metric, None, None if small else (total / n if n else float("nan"))


def _reference_values(ref: SegmentProfile | None, column: str) -> bool:
    if ref is None:
        return False
    if column in ref.numeric:
        return ref.numeric[column].n > 0
    return ref.rows > ref.categorical[column].nulls


def _segment_psi(part: SegmentAgg, ref: SegmentProfile, value: str, column: str) -> float:
    from mrm.checks import stats

    if column in ref.categorical:
        categories = sorted(k for k in ref.categorical[column].counts if k != stats.MISSING)
        current = part.categories.get((value, column), CategoricalAgg())
        return stats.psi_from_shares(
            _category_shares(ref.categorical[column], categories), _category_shares(current, categories)
        )
    bins = ref.numeric[column]
    counts = part.counts.get((value, column), np.zeros(bins.edges.size + 1))
    return stats.psi_from_shares(bins.counts / max(bins.n, 1), counts / max(int(np.sum(counts)), 1))


# -- KS, Wasserstein, Jensen-Shannon, chi-square ---------------------------------------------------------
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
    from mrm.checks import stats

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
