"""What a check returns: metric values, never frames."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def control_key(check: str, metric: str, column: str | None, segment: str | None = None) -> str:
    """``drift.psi[amount]``, ``quality.null_rate[device_score]{country=DE}``, ``performance.gini``."""
    return f"{check}.{metric}" + (f"[{column}]" if column else "") + (f"{{{segment}}}" if segment else "")


@dataclass(frozen=True)
class MetricResult:
    check: str  # quality | drift | performance
    metric: str  # a name from mrm.metrics.CATALOGUE
    column: str | None
    value: float | None  # None: could not be computed (e.g. no non-null values)
    detail: dict[str, Any] = field(default_factory=dict)
    segment: str | None = None  # e.g. "country=DE"; None for the whole population
    cohort_start: str | None = None  # performance rows: the scored days the cohort covers (ISO dates)
    cohort_end: str | None = None

    @property
    def key(self) -> str:
        """Stable name of the control instance (see :func:`control_key`)."""
        return control_key(self.check, self.metric, self.column, self.segment)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricResult:
        return cls(**data)
