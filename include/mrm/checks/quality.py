"""The quality check: is the day's data what the inventory promises, on every row of the day.

From the day's aggregate (:mod:`mrm.checks.engine`), exactly: null rates of the contract columns and the
features, values out of the inventory's range, unexpected categories and decisions, duplicate event ids,
the row count and volume against the reference; and what GX lacks: volume against the reference's robust
band, null rates against the reference, events outside the logical day, freshness and extra columns.
Names, columns and details are those of the GX suite (:mod:`mrm.checks.quality_gx`).

Evidence: the GX validation result of the model's suite on the day's seeded sample, labelled as such,
its expectations carrying the controls' AMBER and RED thresholds as GX severities (warning, critical;
:mod:`mrm.checks.gx_severity`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mrm.checks.engine.accumulators import NAT, CategoricalAgg
from mrm.core.results import MetricResult
from mrm.inventory import ModelEntry

if TYPE_CHECKING:
    from mrm.checks.base import CheckInputs
    from mrm.checks.engine.day_aggregate import DayAggregate
    from mrm.checks.engine.profile import ReferenceProfile

NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
UNIQUE = "expect_column_values_to_be_unique"
ROW_COUNT = "expect_table_row_count_to_be_between"


class QualityCheck:
    name = "quality"
    evidence_key = "quality_gx"

    def compute(self, inputs: CheckInputs) -> tuple[list[MetricResult], dict[str, Any]]:
        """The quality metrics of the day; evidence: the GX result of the model's suite on the sample."""
        from mrm.checks.sample_evidence import quality_gx_json

        profile, agg = inputs.day_aggregate()
        results = quality_results(agg, profile, inputs.entry)
        return results, {
            "quality_gx": inputs.writer.put("quality_gx.json", quality_gx_json(agg, inputs.entry))
        }


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
    """The metrics of the GX suite (:func:`mrm.checks.quality_gx.check_quality`, in its order), then
    those GX lacks. ``expected_rows``: the reference's median daily rows unless given."""
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
    out += _oversized(agg)
    extra = sorted(set(agg.columns) - declared_columns(entry))
    out.append(MetricResult("quality", "extra_column_count", None, float(len(extra)), {"columns": extra}))
    return out


def _oversized(agg: DayAggregate) -> list[MetricResult]:
    """Per categorical column, the share of its non-null values longer than ``MAX_VALUE_CHARS`` (kept
    truncated with a hash, :mod:`mrm.checks.engine.bounds`); AMBER by default."""
    from mrm.checks.engine.bounds import MAX_VALUE_CHARS

    out = []
    for c, a in agg.categorical.items():
        present = a.rows - a.nulls
        detail = {"values": a.oversized, "limit_chars": MAX_VALUE_CHARS}
        out.append(
            MetricResult(
                "quality", "oversized_value_rate", c, a.oversized / present if present else 0.0, detail
            )
        )
    return out
