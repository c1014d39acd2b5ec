"""The ticket-sink seam: a breach, what filing it did, and ticket priorities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Jira's default priority scheme, lowest first; a RED ticket's priority follows the model's risk tier
# and is raised one step when it stays unresolved too long (escalation).
PRIORITIES = ("Lowest", "Low", "Medium", "High", "Highest")
_RED_BY_TIER = {1: "High", 2: "Medium", 3: "Low"}


def priority_for(severity: str, tier: int | None) -> str:
    if severity != "RED":
        return "Low"
    return _RED_BY_TIER.get(tier or 2, "Medium")


def raise_priority(priority: str | None) -> str:
    index = PRIORITIES.index(priority) if priority in PRIORITIES else PRIORITIES.index("Medium")
    return PRIORITIES[min(index + 1, len(PRIORITIES) - 1)]


@dataclass(frozen=True)
class Breach:
    model_id: str
    owner: str
    control: str  # e.g. drift.psi[amount], quality.null_rate[device_score]{country=NL}, run.could_not_run
    check: str
    metric: str
    column: str | None
    severity: str  # RED | AMBER
    value: float | None
    amber: float | None
    red: float | None
    run_id: str
    logical_date: date
    message: str
    segment: str | None = None

    def title(self) -> str:
        return f"[{self.severity}] {self.model_id}: {self.control} breached on {self.logical_date}"


@dataclass(frozen=True)
class TicketAction:
    ticket_id: int
    key: str  # how people refer to it, e.g. MRM-12
    action: str  # opened | occurrence | already_recorded
