"""The SQL of the built-in tracker's tables: tickets (their open/closed state) and ticket events (their
trail). Every function takes an open connection, so the caller decides the transaction: a ticket event
and the outbox rows mirroring it are written in one. Rows come back as plain dicts. Every write goes
through here and is chained: each event, and each version of a ticket (its insert and every update)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from mrm.core.results import control_key
from mrm.store import chain, schema
from mrm.store.history import current_run_ids

PREFIX = "MRM"  # ticket keys: MRM-<id>


def ticket_key(ticket_id: int) -> str:
    """The key people and other systems know a built-in ticket by: ``MRM-12``."""
    return f"{PREFIX}-{ticket_id}"


_T, _EV = schema.tickets, schema.ticket_events
FILED = ("opened", "occurrence")  # the events that count a breach of a logical date


def serialise(conn: Connection) -> None:
    """Take the writers' lock first (the chain's: PostgreSQL's advisory lock; SQLite's transactions
    begin IMMEDIATE), so what the transaction reads before writing cannot change under it: two runs of
    one model and date then count one occurrence. The unique index on (ticket, date, kind) holds it too."""
    chain.lock(conn)


def open_ticket_id(conn: Connection, model_id: str, control: str) -> int | None:
    """The open ticket of a model and control (at most one: a unique index holds it), or None."""
    q = select(_T.c.ticket_id).where(
        _T.c.model_id == model_id, _T.c.control == control, _T.c.status == "open"
    )
    return conn.execute(q).scalar()


def insert_ticket(conn: Connection, **values: Any) -> int:
    """A new ticket (chained); raises IntegrityError when a concurrent writer opened the same one first."""
    ticket_id = conn.execute(_T.insert().values(**values)).inserted_primary_key[0]
    chain.append(conn, "mrm_tickets", [ticket_id])
    return ticket_id


def ticket(conn: Connection, ticket_id: int) -> dict | None:
    row = conn.execute(select(_T).where(_T.c.ticket_id == ticket_id)).mappings().first()
    return dict(row) if row is not None else None


def tickets(conn: Connection, model_id: str | None = None, status: str = "open") -> list[dict]:
    """Tickets in id order, of one model or all, with one status or ``all``."""
    q = select(_T).order_by(_T.c.ticket_id)
    if model_id:
        q = q.where(_T.c.model_id == model_id)
    if status != "all":
        q = q.where(_T.c.status == status)
    return [dict(r) for r in conn.execute(q).mappings()]


def update_ticket(conn: Connection, ticket_id: int, **values: Any) -> None:
    """Change a ticket; its new version is chained."""
    conn.execute(_T.update().where(_T.c.ticket_id == ticket_id).values(**values))
    chain.append(conn, "mrm_tickets", [ticket_id])


def add_occurrence(conn: Connection, ticket_id: int, day: date) -> None:
    """Count one more occurrence and widen the ticket's first/last logical dates to ``day``."""
    q = select(_T.c.occurrences, _T.c.first_logical_date, _T.c.last_logical_date)
    row = conn.execute(q.where(_T.c.ticket_id == ticket_id)).one()
    update_ticket(
        conn,
        ticket_id,
        occurrences=row.occurrences + 1,
        first_logical_date=min(row.first_logical_date, day),
        last_logical_date=max(row.last_logical_date, day),
    )


def has_event(conn: Connection, ticket_id: int, day: date, kinds: tuple[str, ...]) -> bool:
    """Whether the ticket has an event of one of ``kinds`` for the logical date ``day``."""
    q = select(_EV.c.id).where(_EV.c.ticket_id == ticket_id, _EV.c.logical_date == day, _EV.c.kind.in_(kinds))
    return conn.execute(q).first() is not None


def last_event_kind(conn: Connection, ticket_id: int, kinds: tuple[str, ...]) -> str | None:
    """The kind of the ticket's latest event (by logical date) among ``kinds``."""
    q = (
        select(_EV.c.kind)
        .where(_EV.c.ticket_id == ticket_id, _EV.c.kind.in_(kinds))
        .order_by(_EV.c.logical_date.desc(), _EV.c.id.desc())
        .limit(1)
    )
    return conn.execute(q).scalar()


def insert_event(
    conn: Connection,
    ticket_id: int,
    run_id: str,
    day: date,
    kind: str,
    value: float | None,
    message: str,
    now: datetime,
) -> int:
    """Append an event to the ticket's trail (and to the hash chain); returns its id."""
    values = dict(run_id=run_id, logical_date=day, kind=kind, value=value, message=message, created_at=now)
    event_id = conn.execute(_EV.insert().values(ticket_id=ticket_id, **values)).inserted_primary_key[0]
    chain.append(conn, "mrm_ticket_events", [event_id])
    return event_id


def events(conn: Connection, ticket_id: int) -> list[dict]:
    """The ticket's trail, oldest first."""
    q = select(_EV).where(_EV.c.ticket_id == ticket_id).order_by(_EV.c.id)
    return [dict(r) for r in conn.execute(q).mappings()]


TICKETED_KINDS = ("monitoring", "performance")  # the kinds of run whose REDs are ticketed


def unticketed(conn: Connection, model_id: str, since: date, until: date) -> list[dict]:
    """The current runs that ticket (kinds :data:`TICKETED_KINDS`: monitoring, and performance runs of a
    date without its log; never back-tests) of ``model_id`` with logical dates in [since, until] that
    hold a RED control (or, failed, the could-not-run "control") with no opened/occurrence event of that
    model and control on that date: what a crash between recording a run and ticketing it left
    behind. Oldest first; each ``{"run_id", "logical_date", "status", "reason", "controls"}``."""
    r, m = schema.runs, schema.metric_results
    current = current_run_ids(model_id).scalar_subquery()
    runs = conn.execute(
        select(r.c.run_id, r.c.logical_date, r.c.status, r.c.reason)
        .where(r.c.run_id.in_(current), r.c.kind.in_(TICKETED_KINDS))
        .where(r.c.logical_date >= since, r.c.logical_date <= until)
        .order_by(r.c.logical_date, r.c.kind)
    ).all()
    if not runs:
        return []
    reds: dict[str, set[str]] = {run.run_id: set() for run in runs}
    q = select(m.c.run_id, m.c.check, m.c.metric, m.c.column, m.c.segment).where(
        m.c.run_id.in_(list(reds)), m.c.status == "RED"
    )
    for row in conn.execute(q):
        reds[row.run_id].add(control_key(row.check, row.metric, row.column, row.segment))
    q = (
        select(_T.c.control, _EV.c.logical_date)
        .join(_EV, _EV.c.ticket_id == _T.c.ticket_id)
        .where(_T.c.model_id == model_id, _EV.c.kind.in_(FILED))
        .where(_EV.c.logical_date >= since, _EV.c.logical_date <= until)
    )
    filed = {(row.control, row.logical_date) for row in conn.execute(q)}
    out = []
    for run in runs:
        wanted = reds[run.run_id] if run.status == "completed" else {"run.could_not_run"}
        missing = sorted(c for c in wanted if (c, run.logical_date) not in filed)
        if missing:
            out.append({**run._asdict(), "controls": missing})
    return out
