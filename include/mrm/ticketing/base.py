"""The ticket-sink seam."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True)
class Breach:
    model_id: str
    owner: str
    control: str  # e.g. drift.psi[amount], or run.could_not_run
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

    def title(self) -> str:
        return f"[{self.severity}] {self.model_id}: {self.control} breached on {self.logical_date}"


@dataclass(frozen=True)
class TicketAction:
    ticket_id: int
    key: str  # how people refer to it, e.g. MRM-12
    action: str  # opened | occurrence | already_recorded


class TicketSink(Protocol):
    def file(self, breach: Breach) -> TicketAction: ...
