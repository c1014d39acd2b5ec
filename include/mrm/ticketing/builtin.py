"""The built-in tracker: tickets in the metrics history's own database (the embedded default)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from mrm.store import HistoryStore, chain, schema
from mrm.ticketing.base import Breach, TicketAction

PREFIX = "MRM"


def ticket_key(ticket_id: int) -> str:
    return f"{PREFIX}-{ticket_id}"


class BuiltinTracker:
    def __init__(self, store: HistoryStore):
        self.store = store

    def file(self, breach: Breach) -> TicketAction:
        """Open a ticket, or add an occurrence to the open one for the same model and control."""
        try:
            return self._file(breach)
        except IntegrityError:  # a concurrent writer opened it first: add to that one
            return self._file(breach)

    def _file(self, breach: Breach) -> TicketAction:
        t, ev = schema.tickets, schema.ticket_events
        now = datetime.now(UTC)
        with self.store.engine.begin() as conn:
            open_id = conn.execute(
                select(t.c.ticket_id).where(
                    and_(t.c.model_id == breach.model_id, t.c.control == breach.control, t.c.status == "open")
                )
            ).scalar()
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
                        title=breach.title(),
                        owner=breach.owner,
                        opened_at=now,
                        opened_run_id=breach.run_id,
                        first_logical_date=breach.logical_date,
                        last_logical_date=breach.logical_date,
                        occurrences=1,
                    )
                ).inserted_primary_key[0]
                self._event(conn, open_id, breach, "opened", now)
                return TicketAction(open_id, ticket_key(open_id), "opened")
            seen = conn.execute(
                select(ev.c.id).where(
                    and_(ev.c.ticket_id == open_id, ev.c.logical_date == breach.logical_date)
                )
            ).first()
            if seen:  # a rerun of a date already on the ticket
                return TicketAction(open_id, ticket_key(open_id), "already_recorded")
            self._event(conn, open_id, breach, "occurrence", now)
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
            return TicketAction(open_id, ticket_key(open_id), "occurrence")

    @staticmethod
    def _event(conn, ticket_id: int, breach: Breach, kind: str, now: datetime) -> None:
        inserted = conn.execute(
            schema.ticket_events.insert().values(
                ticket_id=ticket_id,
                run_id=breach.run_id,
                logical_date=breach.logical_date,
                kind=kind,
                value=breach.value,
                message=breach.message,
                created_at=now,
            )
        )
        chain.append(conn, "mrm_ticket_events", [inserted.inserted_primary_key[0]])

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
