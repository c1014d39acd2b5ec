"""The check seam: what a check is, and the registry of the checks every run computes.

A check turns what the pipeline hands it (:class:`CheckInputs`) into metric results and references to
the evidence it wrote. ``CHECKS`` holds them by name, in the order a run computes them: quality, drift,
performance. The pipeline runs each in its own step (one Airflow task per check) and the record step
reads the results of every registered check; the notifier links a breach to the evidence named by its
check's ``evidence_key`` (:data:`EVIDENCE_KEYS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from mrm.checks.drift import DriftCheck
from mrm.checks.performance import PerformanceCheck
from mrm.checks.quality import QualityCheck
from mrm.core.results import MetricResult
from mrm.errors import CheckError
from mrm.inventory import ModelEntry

if TYPE_CHECKING:
    import numpy as np

    from mrm.checks.engine.day_aggregate import DayAggregate
    from mrm.checks.engine.profile import ReferenceProfile
    from mrm.checks.estimation import Calibration
    from mrm.checks.performance_counts import ScoreCounts
    from mrm.evidence.writer import EvidenceWriter


@dataclass(frozen=True)
class CheckInputs:
    """What a check reads, and where it writes its evidence; the readers run only when a check calls
    them, so a check reads nothing it does not use."""

    entry: ModelEntry
    day: date  # the run's logical date
    writer: EvidenceWriter  # the run's evidence folder
    evidence_uri: str  # the evidence root, for files many reports share
    day_aggregate: Callable[[], tuple[ReferenceProfile, DayAggregate]]  # as the run's first step kept it
    labelled_cohort: Callable[[date, date], tuple[ScoreCounts, float | None, dict[str, Any]]]
    """The scores of the events scored on [start, end] joined to the labels known by the logical date:
    (their per-distinct-score counts, label coverage or None without scores, a note on missing or
    unreadable days)."""
    reference_performance: Callable[[], dict[str, Any] | None]  # the reference cohort's statistics
    reference_counts: Callable[[], dict[str, Any] | None] = lambda: None  # which kept counts they are of
    day_parts: Callable[[], dict[str, str] | None] = lambda: None  # the kept day parts read: fp -> digest
    # label-free estimates (mrm.checks.estimation): the reference's calibrator, the day's scores (None
    # without any), and the value the history stores for a metric of an earlier logical date
    reference_calibration: Callable[[], Calibration] = lambda: None
    day_scores: Callable[[], np.ndarray | None] = lambda: None
    stored_estimate: Callable[[date, str], float | None] = lambda day, metric: None


class Check(Protocol):
    """A family of controls a run computes (quality, drift, performance)."""

    name: str  # the step and results file name ("quality" -> quality_results.json)
    evidence_key: str  # the evidence reference a breach of this check links to

    def compute(self, inputs: CheckInputs) -> tuple[list[MetricResult], dict[str, Any]]:
        """(the metric results, references of the evidence files written)."""
        ...


CHECKS: dict[str, Check] = {check.name: check for check in (QualityCheck(), DriftCheck(), PerformanceCheck())}
EVIDENCE_KEYS: dict[str, str] = {name: check.evidence_key for name, check in CHECKS.items()}


def check_for(name: str) -> Check:
    try:
        return CHECKS[name]
    except KeyError:
        raise CheckError(f"unknown check '{name}'; valid: {', '.join(CHECKS)}") from None


def evidence_key_for(check_name: str) -> str:
    """The evidence reference a breach of the named check links to."""
    return check_for(check_name).evidence_key


def results_file(check_name: str) -> str:
    """The evidence file a check's results are kept in until the run's record step reads them."""
    return f"{check_name}_results.json"
