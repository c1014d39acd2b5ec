"""Outcome analysis on matured labels: join a cohort's scores to the labels known by the run date and
compute discrimination (AUC with DeLong CI, Gini, KS), threshold metrics and calibration, against the
same statistics of the reference cohort.

A run for logical date D evaluates the events scored on ``[D − maturity − cohort_days + 1, D − maturity]``
with the labels that became known on or before D. Cohorts with fewer positives or negatives than the
inventory's minimum give None (INSUFFICIENT_DATA), never GREEN.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from mrm.checks import performance_counts
from mrm.checks.estimation import estimates
from mrm.checks.performance_counts import ScoreCounts
from mrm.core.results import MetricResult
from mrm.inventory import Performance

if TYPE_CHECKING:
    import pandas as pd

    from mrm.checks.base import CheckInputs

METRICS = ("auc", "gini", "ks", "precision", "recall", "f1", "positive_rate", "brier", "hl_p_value")


class PerformanceCheck:
    name = "performance"
    evidence_key = "performance_report"  # the notifier's link for a performance breach; not written yet

    def compute(self, inputs: CheckInputs) -> tuple[list[MetricResult], dict[str, Any]]:
        """Outcome analysis of the matured cohort (logical date − label maturity) on the labels known on
        the logical date, against the reference cohort; no evidence files, the record of the reference
        counts used for the run's lineage."""
        perf = inputs.entry.monitoring.performance
        if perf is None:
            return [], {}
        start, end = cohort_window(inputs.day, perf)
        joined, coverage, note = inputs.labelled_cohort(start, end)
        reference = inputs.reference_performance()
        results = check_performance(joined, coverage, perf, reference, (start, end), note)
        results += estimates(inputs, perf)  # label-free estimates of the day (CBPE), if enabled
        read = {  # to the run's lineage (INPUT): the kept inputs the numbers come from
            "reference_counts_input": inputs.reference_counts(),
            "day_parts_input": inputs.day_parts(),
        }
        return results, read


def cohort_window(day: date, perf: Performance) -> tuple[date, date]:
    end = day - timedelta(days=perf.label_maturity_days)
    return end - timedelta(days=perf.cohort_days - 1), end


def labelled(scored: pd.DataFrame, labels: pd.DataFrame, known_by: date) -> tuple[pd.DataFrame, float | None]:
    """Scores joined to the latest label known by the end of ``known_by``; and the label coverage."""
    import pandas as pd

    events = scored.drop_duplicates("event_id")[["event_id", "score"]]
    if labels.empty or events.empty:
        return events.assign(label=pd.Series(dtype="int64")).iloc[0:0], (0.0 if len(events) else None)
    cutoff = pd.Timestamp(known_by, tz="UTC") + pd.Timedelta(days=1)
    when = pd.to_datetime(labels["label_ts"], utc=True, format="ISO8601")  # instants, whatever the offset
    known = labels.assign(_when=when)[when < cutoff]
    known = known.sort_values("_when").drop_duplicates("event_id", keep="last")[["event_id", "label"]]
    joined = events.merge(known, on="event_id", how="inner")
    return joined, len(joined) / len(events)


def counts_of(joined: pd.DataFrame | ScoreCounts) -> ScoreCounts:
    """A labelled cohort as per-distinct-score counts (a frame of ``score`` and ``label`` rows, or
    counts already)."""
    if isinstance(joined, ScoreCounts):
        return joined
    if not len(joined):
        return ScoreCounts.empty()
    return ScoreCounts.of(joined["label"].to_numpy(dtype="int64"), joined["score"].to_numpy(dtype="float64"))


def statistics(
    joined: pd.DataFrame | ScoreCounts, perf: Performance
) -> tuple[dict[str, Any] | None, str | None]:
    """The performance statistics of a labelled cohort, or None and the reason it is too small."""
    counts = counts_of(joined)
    positives, negatives = counts.n_positive, counts.n_negative
    if positives < perf.min_positives or negatives < perf.min_negatives:
        reason = (
            f"{positives} positives / {negatives} negatives labelled; at least {perf.min_positives} / "
            f"{perf.min_negatives} are needed"
        )
        return None, reason
    return performance_counts.performance(counts, perf.threshold), None


def check_performance(
    joined: pd.DataFrame | ScoreCounts,
    coverage: float | None,
    perf: Performance,
    reference: dict[str, Any] | None,
    cohort: tuple[date, date],
    note: dict[str, Any] | None = None,
) -> list[MetricResult]:
    joined = counts_of(joined)  # the statistics below are computed from counts, whatever the cohort's size
    stats, reason = statistics(joined, perf)
    if stats:  # e.g. an infinite Hosmer-Lemeshow statistic: JSON stores have no Infinity
        stats = {k: (v if v is None or math.isfinite(v) else None) for k, v in stats.items()}
    span = {"cohort_start": cohort[0].isoformat(), "cohort_end": cohort[1].isoformat()}
    detail: dict[str, Any] = {"labelled_rows": len(joined), **(note or {})}
    if reason:
        detail["insufficient"] = reason
    get = (lambda k: stats[k]) if stats else (lambda k: None)
    out = [MetricResult("performance", "label_coverage", None, coverage, {**detail}, **span)]
    for name in METRICS:
        extra = {}
        if name == "auc" and stats:
            extra = {"ci_low": stats["auc_ci_low"], "ci_high": stats["auc_ci_high"], "ci": "DeLong 95%"}
        if name == "hl_p_value" and stats:
            extra = {"statistic": stats["hl_statistic"]}
        out.append(MetricResult("performance", name, None, get(name), {**detail, **extra}, **span))
    if stats:
        observed = joined.n_positive / joined.rows
        expected = performance_counts.mean_score(joined)
        ratio = abs(observed / expected - 1) if expected > 0 else None
        table = performance_counts.calibration_table(joined)
        calibration = {"observed_rate": observed, "expected_rate": expected, "by_score_decile": table}
        out.append(
            MetricResult("performance", "calibration_ratio", None, ratio, {**detail, **calibration}, **span)
        )
    else:
        out.append(MetricResult("performance", "calibration_ratio", None, None, detail, **span))
    for name, base in (("gini_drop", "gini"), ("ks_drop", "ks")):
        ref = reference.get(base) if reference else None
        value = ref - stats[base] if stats and ref is not None and stats[base] is not None else None
        out.append(MetricResult("performance", name, None, value, {**detail, "reference": ref}, **span))
    return out
