"""What a check returns: metric values, never frames."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class MetricResult:
    check: str  # quality | drift
    metric: str  # a name from mrm.metrics.CATALOGUE
    column: str | None
    value: float | None  # None: could not be computed (e.g. no non-null values)
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricResult:
        return cls(**data)
