"""Controls evaluated again within segments (each value of a categorical feature such as country).

Segment metrics use the same definitions and thresholds as the population's; each segment's PSI bins are
its own reference deciles (the profile keeps them, :mod:`mrm.checks.engine.profile`), and the day's
counts within each segment come from its aggregate. A segment with fewer than ``min_rows`` rows today or
in the reference gives None (INSUFFICIENT_DATA) rather than a noisy number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mrm.checks import stats
from mrm.checks.engine.accumulators import CategoricalAgg, SegmentAgg
from mrm.core.results import MetricResult
from mrm.inventory import ModelEntry

if TYPE_CHECKING:
    from mrm.checks.engine.day_aggregate import DayAggregate
    from mrm.checks.engine.profile import ReferenceProfile, SegmentProfile

CHECK_OF = {"null_rate": "quality", "psi": "drift", "score_psi": "drift", "mean_score": "drift"}


def segment_results(agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry) -> list[MetricResult]:
    """Per segment column and value (seen today or in the reference, sorted), the configured metrics."""
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
    if column in ref.categorical:
        reference = ref.categorical[column]
        current = part.categories.get((value, column), CategoricalAgg())
        return stats.psi_of_counts(reference.counts, reference.nulls, current.counts, current.nulls)
    bins = ref.numeric[column]
    counts = part.counts.get((value, column), np.zeros(bins.edges.size + 1))
    return stats.psi_from_shares(bins.counts / max(bins.n, 1), counts / max(int(np.sum(counts)), 1))
