"""The built-in tracker: tickets in the metrics history's own database (the embedded default).

It is always the system of record: every ticket and its events (opened, occurrence, returned to green,
escalated, closed) are written here first, in the caller's transaction, and each method that writes
returns the :class:`Event` it recorded; the ticket lifecycle (:mod:`mrm.ticketing.lifecycle`) mirrors
those events to external sinks (Jira, webhook) through the outbox. Methods ending in ``_in`` take an
open connection; the SQL is in :mod:`mrm.store.tickets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from mrm.errors import MrmError, TicketNotFoundError
from mrm.store import HistoryStore
from mrm.store import tickets as store_tickets
from mrm.store.tickets import PREFIX, ticket_key
from mrm.ticketing.base import Breach, TicketAction, priority_for, raise_priority

OPENED, OCCURRENCE, RETURNED_TO_GREEN, ESCALATED, CLOSED = (
    "opened",
    "occurrence",
    "returned_to_green",
    "escalated",
    "closed",
)


@dataclass(frozen=True)
class Event:
    """One event recorded on a ticket: its id, its kind (opened ... closed) and the ticket after it."""

    id: int
    kind: str
    ticket: dict[str, Any]


@dataclass(frozen=True)
class Filed:
    """What filing one breach did: the action, and the event it recorded (None: already recorded)."""

    action: TicketAction
    event: Event | None


def parse_ticket_id(text: str) -> int:
    """``MRM-12`` or ``12`` -> 12."""
    raw = text.strip().upper().removeprefix(f"{PREFIX}-")
    if not raw.isdigit():
        raise TicketNotFoundError(
            f"'{text}' is not a ticket id; use the number or key, e.g. 12 or {PREFIX}-12"
        )
    return int(raw)


def _keyed(ticket: dict) -> dict:
    return {**ticket, "key": ticket_key(ticket["ticket_id"])}


class BuiltinTracker:
    def __init__(self, store: HistoryStore):
        self.store = store

    # -- writing --------------------------------------------------------------------------------------
    def file(self, breach: Breach, tier: int | None = None) -> TicketAction:
        """Open a ticket, or add an occurrence to the open one for the same model and control."""

        def once() -> TicketAction:
            with self.store.engine.begin() as conn:
                return self.file_in(conn, breach, tier).action

        return self.store.retry_on_conflict(once)

    def file_in(self, conn, breach: Breach, tier: int | None = None) -> Filed:
        open_id = store_tickets.open_ticket_id(conn, breach.model_id, breach.control)
        if open_id is None:
            return self._open_in(conn, breach, tier)
        if store_tickets.has_event(conn, open_id, breach.logical_date, (OPENED, OCCURRENCE)):
            return Filed(TicketAction(open_id, ticket_key(open_id), "already_recorded"), None)  # a rerun
        store_tickets.add_occurrence(conn, open_id, breach.logical_date)
        event = self._event(
            conn, open_id, breach.run_id, breach.logical_date, OCCURRENCE, breach.value, breach.message
        )
        return Filed(TicketAction(open_id, ticket_key(open_id), OCCURRENCE), event)

    def _open_in(self, conn, breach: Breach, tier: int | None) -> Filed:
        now = datetime.now(UTC)
        ticket_id = store_tickets.insert_ticket(
            conn,
            model_id=breach.model_id,
            control=breach.control,
            check=breach.check,
            metric=breach.metric,
            column=breach.column,
            status="open",
            severity=breach.severity,
            priority=priority_for(breach.severity, tier),
            title=breach.title(),
            owner=breach.owner,
            opened_at=now,
            opened_run_id=breach.run_id,
            first_logical_date=breach.logical_date,
            last_logical_date=breach.logical_date,
            occurrences=1,
        )
        event = self._event(
            conn, ticket_id, breach.run_id, breach.logical_date, OPENED, breach.value, breach.message, now
        )
        return Filed(TicketAction(ticket_id, ticket_key(ticket_id), OPENED), event)

    def returned_to_green_in(
        self, conn, ticket_id: int, run_id: str, day: date, value: float | None, message: str
    ) -> Event | None:
        """Note that the control is GREEN again (the ticket stays open: closing needs a person).
        Only on the transition: not again while it stays GREEN, not twice for one date."""
        last = store_tickets.last_event_kind(conn, ticket_id, (OPENED, OCCURRENCE, RETURNED_TO_GREEN))
        if last == RETURNED_TO_GREEN or store_tickets.has_event(conn, ticket_id, day, (RETURNED_TO_GREEN,)):
            return None
        return self._event(conn, ticket_id, run_id, day, RETURNED_TO_GREEN, value, message)

    def escalate_in(self, conn, ticket_id: int, day: date, message: str) -> Event | None:
        """Raise the priority of an unresolved ticket once; the event's ticket has the new priority."""
        row = self.ticket_in(conn, ticket_id)
        if row["escalated_at"] is not None or row["status"] != "open":
            return None
        now = datetime.now(UTC)
        store_tickets.update_ticket(
            conn, ticket_id, priority=raise_priority(row["priority"]), escalated_at=now
        )
        return self._event(conn, ticket_id, "", day, ESCALATED, None, message, now)

    def close_in(self, conn, ticket_id: int, by: str, reason: str, day: date, message: str = "") -> Event:
        """Close a ticket, recording who and why (``message``: the closed event's words, by default
        "closed by <by>: <reason>"). Raises if it is unknown or already closed."""
        status = self.ticket_in(conn, ticket_id)["status"]
        if status != "open":
            raise TicketNotFoundError(f"ticket {ticket_key(ticket_id)} is already {status}")
        if not reason.strip():
            raise MrmError(f"closing {ticket_key(ticket_id)} needs a reason (--reason '...')")
        now = datetime.now(UTC)
        store_tickets.update_ticket(
            conn, ticket_id, status="closed", closed_at=now, closed_by=by, closed_reason=reason
        )
        message = message or f"closed by {by}: {reason}"
        return self._event(conn, ticket_id, "", day, CLOSED, None, message, now)

    # -- reading --------------------------------------------------------------------------------------
    @staticmethod
    def ticket_in(conn, ticket_id: int) -> dict:
        row = store_tickets.ticket(conn, ticket_id)
        if row is None:
            raise TicketNotFoundError(f"ticket {ticket_key(ticket_id)} does not exist (see `mrm tickets`)")
        return _keyed(row)

    @staticmethod
    def tickets_in(conn, model_id: str | None = None, status: str = "open") -> list[dict]:
        return [_keyed(r) for r in store_tickets.tickets(conn, model_id, status)]

    def tickets(self, model_id: str | None = None, status: str = "open") -> list[dict]:
        with self.store.engine.connect() as conn:
            return self.tickets_in(conn, model_id, status)

    def events(self, ticket_id: int) -> list[dict]:
        with self.store.engine.connect() as conn:
            return store_tickets.events(conn, ticket_id)

    # -- internals ------------------------------------------------------------------------------------
    def _event(
        self, conn, ticket_id: int, run_id: str, day: date, kind: str, value, message: str, now=None
    ) -> Event:
        event_id = store_tickets.insert_event(
            conn, ticket_id, run_id, day, kind, value, message, now or datetime.now(UTC)
        )
        return Event(event_id, kind, self.ticket_in(conn, ticket_id))
