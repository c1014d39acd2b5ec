"""Every quality and drift metric of a day from the engine, as one list: what the frame-based oracles
(:mod:`oracles.frame_checks`) are compared with."""

from __future__ import annotations

from mrm.checks.drift import drift_results
from mrm.checks.engine.day_aggregate import DayAggregate
from mrm.checks.engine.profile import ReferenceProfile
from mrm.checks.quality import quality_results
from mrm.core.results import MetricResult
from mrm.inventory import ModelEntry


def metrics_from_aggregates(
    agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry, expected_rows: float | None = None
) -> list[MetricResult]:
    """The quality metrics, then the drift metrics (segments included), in the checks' order."""
    return quality_results(agg, profile, entry, expected_rows) + drift_results(agg, profile, entry)
