"""Label-free performance estimates (confidence-based performance estimation, CBPE) of a run's own day,
whose labels are not known yet, and, once a day's labels have matured, the error of its estimate.

The day's scores are turned into probabilities of a positive by a calibrator fit on the reference
window's labelled rows (isotonic regression, :mod:`mrm.checks.isotonic`), or taken as they are when
the inventory says they already are calibrated probabilities (``calibration: none``, clipped to
[0, 1]); :mod:`mrm.checks.estimation_stats` gives the expected AUC, precision, recall, F1 and positive
rate at the operating threshold, each with its band (``ci_low``/``ci_high`` in the detail).

The day's scores are read as a column (the events of the day, duplicate event ids once, as the
performance cohort counts them), not taken from the day's aggregate: the fine sketch's ~2,000 bins
have the reference's order statistics as edges, not the operating threshold, so the rows of the bin
holding the threshold could not be split into predicted positive and negative, and the isotonic steps
fall inside bins. One float a row is read (with its event id); nothing else of the day.

``estimation_error_<m>`` = |estimated m stored for the day D − maturity − realised m of that day's events
on the labels known by D|, for the AUC, precision, recall and F1 (the estimated positive rate needs no
label, so it has no estimation error; its realised value on the labelled events is kept beside): the
estimate is only trusted while it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from mrm.checks import estimation_stats, isotonic, performance_counts
from mrm.checks.performance_counts import unique_inverse
from mrm.core.results import MetricResult
from mrm.inventory import Performance

if TYPE_CHECKING:
    from mrm.checks.base import CheckInputs
    from mrm.checks.performance_counts import ScoreCounts

BAND = (
    "normal approximation, delta-method SE under labels ~ Bernoulli(calibrated p), plus the isotonic "
    "calibrator's sampling error (each pooled block's binomial variance on the reference, pooling fixed)"
)
BAND_UNCALIBRATED = (
    "normal approximation, delta-method SE under labels ~ Bernoulli(score); the scores are taken as "
    "calibrated probabilities (calibration: none), so no calibrator error is included"
)
ERRORS = ("auc", "precision", "recall", "f1")  # estimation_error_<m>; the positive rate is known exactly


@dataclass(frozen=True)
class Calibration:
    """The reference window's calibrator, or why there is none (too few labelled rows of a class)."""

    model: isotonic.Isotonic | None
    positives: int
    negatives: int
    insufficient: str | None = None

    def probabilities(self, score: np.ndarray) -> np.ndarray:
        return self.model.predict(score)


def calibration(counts: ScoreCounts, perf: Performance) -> Calibration:
    """The isotonic calibrator of the reference's labelled events, given as per-distinct-score counts
    (:class:`mrm.checks.performance_counts.ScoreCounts`): fit on each distinct score's share of positives
    weighted by its events, which is the fit on the rows (ties are pooled either way); none below the
    minimum positives / negatives the performance check needs."""
    totals = counts.totals
    keep = np.isfinite(counts.values) & (totals > 0)
    s, w = counts.values[keep], totals[keep].astype("float64")
    y = counts.positives[keep] / w
    positives = int(counts.positives[keep].sum())
    negatives = int(counts.negatives[keep].sum())
    if positives < perf.min_positives or negatives < perf.min_negatives:
        reason = (
            f"the reference window has {positives} positives / {negatives} negatives labelled; the "
            f"calibrator needs at least {perf.min_positives} / {perf.min_negatives}"
        )
        return Calibration(None, positives, negatives, reason)
    return Calibration(isotonic.fit(s, y, w), positives, negatives)


def _empty(day: date, detail: dict[str, Any]) -> list[MetricResult]:
    span = {"cohort_start": day.isoformat(), "cohort_end": day.isoformat()}
    names = estimation_stats.METRICS
    return [MetricResult("performance", f"estimated_{m}", None, None, dict(detail), **span) for m in names]


def estimates(inputs: CheckInputs, perf: Performance) -> list[MetricResult]:
    """The estimated_* metrics of the run's day (none when estimation is off) and the estimation error
    of the matured day."""
    est = perf.estimation
    if not est.enabled:
        return []
    return day_estimates(inputs, perf) + estimation_error(inputs, perf)


def day_estimates(inputs: CheckInputs, perf: Performance) -> list[MetricResult]:
    est, day = perf.estimation, inputs.day
    band = BAND if est.calibration == "isotonic" else BAND_UNCALIBRATED
    detail: dict[str, Any] = {"calibration": est.calibration, "confidence": est.confidence, "ci": band}
    cal = None
    if est.calibration == "isotonic":
        cal = inputs.reference_calibration()
        detail |= {"reference_positives": cal.positives, "reference_negatives": cal.negatives}
        if cal.insufficient:
            return _empty(day, detail | {"insufficient": cal.insufficient})
    scores = inputs.day_scores()
    scores = scores[np.isfinite(scores)] if scores is not None else np.empty(0)
    if scores.size == 0:
        return _empty(day, detail | {"insufficient": f"no scores on {day.isoformat()}"})
    scores, rows = _distinct(scores)  # the estimates are functions of the scores: exact per distinct score
    p = cal.probabilities(scores) if cal else np.clip(scores, 0.0, 1.0)
    calibrator = cal.model.variance_of(scores) if cal else None
    stats = estimation_stats.estimates(p, scores, perf.threshold, est.confidence, calibrator, rows)
    c = stats["confusion"]
    detail |= {"rows": c["n"], "expected_positives": c["tp"] + c["fn"], "expected_confusion": c}
    span = {"cohort_start": day.isoformat(), "cohort_end": day.isoformat()}
    return [
        MetricResult(
            "performance",
            f"estimated_{name}",
            None,
            stats[name][0],
            {
                **detail,
                "ci_low": stats[name][1],
                "ci_high": stats[name][2],
                "se_labels": stats["se"][name][0],
                "se_calibration": stats["se"][name][1],
            },
            **span,
        )
        for name in estimation_stats.METRICS
    ]


def _distinct(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct scores ascending, how many rows have each)."""
    values, inverse = unique_inverse(scores)
    return values, np.bincount(inverse, minlength=values.size).astype("float64")


def matured_day(day: date, perf: Performance) -> date:
    """The day whose labels mature on ``day``: the last day of the run's performance cohort."""
    return day - timedelta(days=perf.label_maturity_days)


def estimation_error(inputs: CheckInputs, perf: Performance) -> list[MetricResult]:
    """|the estimate the history stores for the matured day − its realised value on the labels known now|,
    one ``estimation_error_<m>`` per metric of :data:`ERRORS` (the estimated and realised values of every
    estimate in the detail); None, with the reason, when the estimate or enough labels are missing."""
    then = matured_day(inputs.day, perf)
    span = {"cohort_start": then.isoformat(), "cohort_end": then.isoformat()}
    names = (*ERRORS, "positive_rate")
    estimated = {name: inputs.stored_estimate(then, f"estimated_{name}") for name in names}
    base: dict[str, Any] = {"estimated_on": then.isoformat()}

    def rows(realised: dict[str, float | None], reason: str | None = None) -> list[MetricResult]:
        beside = {n: {"estimated": estimated[n], "realised": realised.get(n)} for n in names}
        out = []
        for name in ERRORS:
            est, real = estimated[name], realised.get(name)
            detail = {**base, "estimated": est, "realised": real, "beside": beside}
            why = reason or _missing(name, est, real, then)
            value = None if why else abs(est - real)
            out.append(
                MetricResult(
                    "performance", f"estimation_error_{name}", None, value, detail | _why(why), **span
                )
            )
        return out

    if all(estimated[name] is None for name in ERRORS):
        return rows({}, f"no estimates stored for {then.isoformat()}")
    counts, _, _ = inputs.labelled_cohort(then, then)  # per-distinct-score counts (ScoreCounts)
    positives, negatives = counts.n_positive, counts.n_negative
    base |= {"labelled_rows": counts.rows, "positives": positives, "negatives": negatives}
    if positives < perf.min_positives or negatives < perf.min_negatives:
        return rows(
            {},
            f"{positives} positives / {negatives} negatives labelled on {then.isoformat()}; at least "
            f"{perf.min_positives} / {perf.min_negatives} are needed",
        )
    at = performance_counts.confusion_at(counts, perf.threshold)
    realised = {"auc": performance_counts.auc(counts), **{n: at[n] for n in (*ERRORS[1:], "positive_rate")}}
    return rows(realised)


def _missing(name: str, estimated: float | None, realised: float | None, then: date) -> str | None:
    if estimated is None:
        return f"no estimated {name} stored for {then.isoformat()}"
    if realised is None:
        return f"the realised {name} of {then.isoformat()} is undefined"
    return None


def _why(reason: str | None) -> dict[str, str]:
    return {"insufficient": reason} if reason else {}
