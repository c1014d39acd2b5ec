"""The built-in tracker: tickets in the metrics history's own database (the embedded default).

It is always the system of record: every ticket and its events (opened, occurrence, returned to green,
escalated, closed) are written here first, in the caller's transaction; external sinks (Jira, webhook)
mirror them through the outbox. Methods ending in ``_in`` take an open connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, and_, select
from sqlalchemy.exc import IntegrityError

from mrm.errors import MrmError
from mrm.store import HistoryStore, chain, schema
from mrm.ticketing.base import Breach, TicketAction, priority_for, raise_priority

PREFIX = "MRM"

OPENED, OCCURRENCE, RETURNED_TO_GREEN, ESCALATED, CLOSED = (
    "opened",
    "occurrence",
    "returned_to_green",
    "escalated",
    "closed",
)


class TicketNotFoundError(MrmError):
    """A ticket id that the built-in tracker does not hold."""


@dataclass(frozen=True)
class Filed:
    """What filing one breach did: the action, and the event it wrote (None if already recorded)."""

    action: TicketAction
    event_id: int | None


def ticket_key(ticket_id: int) -> str:
    return f"{PREFIX}-{ticket_id}"


def parse_ticket_id(text: str) -> int:
    """``MRM-12`` or ``12`` -> 12."""
    raw = text.strip().upper().removeprefix(f"{PREFIX}-")
    if not raw.isdigit():
        raise TicketNotFoundError(
            f"'{text}' is not a ticket id; use the number or key, e.g. 12 or {PREFIX}-12"
        )
    return int(raw)


class BuiltinTracker:
    def __init__(self, store: HistoryStore):
        self.store = store

    # -- writing --------------------------------------------------------------------------------------
    def file(self, breach: Breach, tier: int | None = None) -> TicketAction:
        """Open a ticket, or add an occurrence to the open one for the same model and control."""
        try:
            with self.store.engine.begin() as conn:
                return self.file_in(conn, breach, tier).action
        except IntegrityError:  # a concurrent writer opened it first: add to that one
            with self.store.engine.begin() as conn:
                return self.file_in(conn, breach, tier).action

    def file_in(self, conn: Connection, breach: Breach, tier: int | None = None) -> Filed:
        t = schema.tickets
        now = datetime.now(UTC)
        open_id = self.open_ticket_in(conn, breach.model_id, breach.control)
        if open_id is None:
            open_id = conn.execute(
                t.insert().values(
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
            ).inserted_primary_key[0]
            event = self._event(
                conn, open_id, breach.run_id, breach.logical_date, OPENED, breach.value, breach.message, now
            )
            return Filed(TicketAction(open_id, ticket_key(open_id), OPENED), event)
        if self._has_event(conn, open_id, breach.logical_date, (OPENED, OCCURRENCE)):
            return Filed(TicketAction(open_id, ticket_key(open_id), "already_recorded"), None)  # a rerun
        event = self._event(
            conn, open_id, breach.run_id, breach.logical_date, OCCURRENCE, breach.value, breach.message, now
        )
        row = conn.execute(
            select(t.c.occurrences, t.c.first_logical_date, t.c.last_logical_date).where(
                t.c.ticket_id == open_id
            )
        ).one()
        conn.execute(
            t.update()
            .where(t.c.ticket_id == open_id)
            .values(
                occurrences=row.occurrences + 1,
                first_logical_date=min(row.first_logical_date, breach.logical_date),
                last_logical_date=max(row.last_logical_date, breach.logical_date),
            )
        )
        return Filed(TicketAction(open_id, ticket_key(open_id), OCCURRENCE), event)

    def returned_to_green_in(
        self, conn: Connection, ticket_id: int, run_id: str, day: date, value: float | None, message: str
    ) -> int | None:
        """Note that the control is GREEN again (the ticket stays open: closing needs a person).
        Only on the transition: not again while it stays GREEN, not twice for one date."""
        last = self._last_event_kind(conn, ticket_id, (OPENED, OCCURRENCE, RETURNED_TO_GREEN))
        if last == RETURNED_TO_GREEN or self._has_event(conn, ticket_id, day, (RETURNED_TO_GREEN,)):
            return None
        return self._event(conn, ticket_id, run_id, day, RETURNED_TO_GREEN, value, message, datetime.now(UTC))

    def escalate_in(
        self, conn: Connection, ticket_id: int, day: date, message: str
    ) -> tuple[int, str] | None:
        """Raise the priority of an unresolved ticket once; returns (event id, new priority)."""
        t = schema.tickets
        row = conn.execute(select(t).where(t.c.ticket_id == ticket_id)).mappings().one()
        if row["escalated_at"] is not None or row["status"] != "open":
            return None
        now = datetime.now(UTC)
        priority = raise_priority(row["priority"])
        conn.execute(t.update().where(t.c.ticket_id == ticket_id).values(priority=priority, escalated_at=now))
        return self._event(conn, ticket_id, "", day, ESCALATED, None, message, now), priority

    def close_in(self, conn: Connection, ticket_id: int, by: str, reason: str, day: date) -> int:
        """Close a ticket, recording who and why. Raises if it is unknown or already closed."""
        t = schema.tickets
        row = conn.execute(select(t.c.status).where(t.c.ticket_id == ticket_id)).first()
        if row is None:
            raise TicketNotFoundError(f"ticket {ticket_key(ticket_id)} does not exist (see `mrm tickets`)")
        if row.status != "open":
            raise TicketNotFoundError(f"ticket {ticket_key(ticket_id)} is already {row.status}")
        if not reason.strip():
            raise MrmError(f"closing {ticket_key(ticket_id)} needs a reason (--reason '...')")
        now = datetime.now(UTC)
        conn.execute(
            t.update()
            .where(t.c.ticket_id == ticket_id)
            .values(status="closed", closed_at=now, closed_by=by, closed_reason=reason)
        )
        return self._event(conn, ticket_id, "", day, CLOSED, None, f"closed by {by}: {reason}", now)

    # -- reading --------------------------------------------------------------------------------------
    @staticmethod
    def open_ticket_in(conn: Connection, model_id: str, control: str) -> int | None:
        t = schema.tickets
        return conn.execute(
            select(t.c.ticket_id).where(
                and_(t.c.model_id == model_id, t.c.control == control, t.c.status == "open")
            )
        ).scalar()

    @staticmethod
    def ticket_in(conn: Connection, ticket_id: int) -> dict:
        t = schema.tickets
        row = conn.execute(select(t).where(t.c.ticket_id == ticket_id)).mappings().first()
        if row is None:
            raise TicketNotFoundError(f"ticket {ticket_key(ticket_id)} does not exist (see `mrm tickets`)")
        return {**dict(row), "key": ticket_key(ticket_id)}

    def tickets(self, model_id: str | None = None, status: str = "open") -> list[dict]:
        t = schema.tickets
        q = select(t).order_by(t.c.ticket_id)
        if model_id:
            q = q.where(t.c.model_id == model_id)
        if status != "all":
            q = q.where(t.c.status == status)
        with self.store.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        for r in rows:
            r["key"] = ticket_key(r["ticket_id"])
        return rows

    def events(self, ticket_id: int) -> list[dict]:
        ev = schema.ticket_events
        with self.store.engine.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    select(ev).where(ev.c.ticket_id == ticket_id).order_by(ev.c.id)
                ).mappings()
            ]

    # -- internals ------------------------------------------------------------------------------------
    @staticmethod
    def _has_event(conn: Connection, ticket_id: int, day: date, kinds: tuple[str, ...]) -> bool:
        ev = schema.ticket_events
        return (
            conn.execute(
                select(ev.c.id).where(
                    ev.c.ticket_id == ticket_id, ev.c.logical_date == day, ev.c.kind.in_(kinds)
                )
            ).first()
            is not None
        )

    @staticmethod
    def _last_event_kind(conn: Connection, ticket_id: int, kinds: tuple[str, ...]) -> str | None:
        ev = schema.ticket_events
        return conn.execute(
            select(ev.c.kind)
            .where(ev.c.ticket_id == ticket_id, ev.c.kind.in_(kinds))
            .order_by(ev.c.logical_date.desc(), ev.c.id.desc())
            .limit(1)
        ).scalar()

    @staticmethod
    def _event(conn, ticket_id: int, run_id: str, day: date, kind: str, value, message: str, now) -> int:
        inserted = conn.execute(
            schema.ticket_events.insert().values(
                ticket_id=ticket_id,
                run_id=run_id,
                logical_date=day,
                kind=kind,
                value=value,
                message=message,
                created_at=now,
            )
        )
        event_id = inserted.inserted_primary_key[0]
        chain.append(conn, "mrm_ticket_events", [event_id])
        return event_id
