"""The SQL of the outbox table: one row per delivery of a ticket event or alert to one channel.

Every function takes an open connection (the caller's transaction: items are inserted in the one that
records their ticket event). Rows come back as plain dicts, in id order: the order of delivery.

A deliverer works on an item only while it holds the item's claim (:func:`claim`: one atomic UPDATE,
so of two deliverers one gets it), and records the outcome only under that claim (``claimed_by``); a
claim not finished by ``lease_until`` (the deliverer died) lapses and the next deliverer takes the item
over. An item of a ticket is claimed only when no earlier item of that ticket and channel is pending,
so a ticket's events reach each sink in order whichever deliverer sends them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, or_, select

from mrm.store import schema

PENDING, DELIVERED, CANCELLED = "pending", "delivered", "cancelled"

_O = schema.outbox


def existing_keys(conn: Connection, keys: list[str]) -> set[str]:
    """Which of ``keys`` the outbox already holds."""
    return set(conn.execute(select(_O.c.key).where(_O.c.key.in_(keys))).scalars())


def insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert rows one by one, so their ids follow the list's order."""
    for row in rows:
        conn.execute(_O.insert().values(**row))


def rows(conn: Connection, status: str = PENDING, model_id: str | None = None) -> list[dict]:
    """Items with one status (or ``all``), of one model or all, in id order."""
    q = select(_O).order_by(_O.c.id)
    if status != "all":
        q = q.where(_O.c.status == status)
    if model_id:
        q = q.where(_O.c.model_id == model_id)
    return [dict(r) for r in conn.execute(q).mappings()]


def update(conn: Connection, item_id: int, **values: Any) -> None:
    conn.execute(_O.update().where(_O.c.id == item_id).values(**values))


def claim(conn: Connection, item_id: int, me: str, now: datetime, until: datetime) -> dict | None:
    """Claim the item for deliverer ``me`` until ``until``: only if it is pending, due, not claimed by
    another deliverer whose lease still runs, and no earlier item of its ticket and channel is pending.
    Returns the item as it is now (attempts included), or None when it was not claimed."""
    earlier = _O.alias("earlier")
    before = exists().where(
        earlier.c.channel == _O.c.channel,
        earlier.c.ticket_id == _O.c.ticket_id,
        earlier.c.id < _O.c.id,
        earlier.c.status == PENDING,
    )
    q = (
        _O.update()
        .where(_O.c.id == item_id, _O.c.status == PENDING, _O.c.next_attempt_at <= now)
        .where(or_(_O.c.lease_until.is_(None), _O.c.lease_until < now, _O.c.claimed_by == me))
        .where(or_(_O.c.ticket_id.is_(None), ~before))
        .values(claimed_by=me, lease_until=until)
    )
    if conn.execute(q).rowcount != 1:
        return None
    return item(conn, item_id)


def renew(conn: Connection, item_id: int, me: str, until: datetime) -> bool:
    """Extend ``me``'s claim on a pending item; False when the claim was lost (lapsed and taken over)."""
    q = _O.update().where(_O.c.id == item_id, _O.c.claimed_by == me, _O.c.status == PENDING)
    return conn.execute(q.values(lease_until=until)).rowcount == 1


def update_claimed(conn: Connection, item_id: int, me: str, **values: Any) -> bool:
    """Change a pending item ``me`` holds the claim of; False when another deliverer holds it now."""
    q = _O.update().where(_O.c.id == item_id, _O.c.claimed_by == me, _O.c.status == PENDING)
    return conn.execute(q.values(**values)).rowcount == 1


def release(conn: Connection, item_id: int, me: str) -> None:
    """Give up ``me``'s claim on an item still pending (its next attempt is for a later pass)."""
    update_claimed(conn, item_id, me, claimed_by=None, lease_until=None)


def cancel_pending(conn: Connection, item_id: int, by: str, reason: str) -> str | None:
    """Cancel the item if it is pending. Returns the status it had (None: no such item)."""
    found = conn.execute(select(_O.c.status).where(_O.c.id == item_id)).scalar()
    if found == PENDING:
        update(conn, item_id, status=CANCELLED, cancelled_by=by, cancelled_reason=reason)
    return found


def external_keys(conn: Connection, channel: str) -> dict[int, str | None]:
    """``{ticket_id: external_key}`` from the receipts of the channel's delivered ticket items (the
    latest item of a ticket wins)."""
    q = (
        select(_O.c.ticket_id, _O.c.receipt)
        .where(_O.c.channel == channel, _O.c.status == DELIVERED, _O.c.ticket_id.is_not(None))
        .order_by(_O.c.id)
    )
    return {r.ticket_id: (r.receipt or {}).get("external_key") for r in conn.execute(q)}


_A = schema.outbox_attempts


def item(conn: Connection, item_id: int) -> dict | None:
    """One item by its id, or None."""
    found = conn.execute(select(_O).where(_O.c.id == item_id)).mappings().first()
    return dict(found) if found else None


def add_attempt(conn: Connection, item_id: int, **values: Any) -> None:
    """Record one delivery attempt (attempt, at, outcome, error, receipt, seconds) of an item."""
    conn.execute(_A.insert().values(outbox_id=item_id, **values))


def attempts(conn: Connection, item_id: int) -> list[dict]:
    """An item's attempts, oldest first."""
    q = select(_A).where(_A.c.outbox_id == item_id).order_by(_A.c.id)
    return [dict(r) for r in conn.execute(q).mappings()]


def last_outcomes(conn: Connection, since: datetime) -> dict[str, tuple[str, str | None]]:
    """``{channel: (outcome, error)}`` of each channel's latest attempt at or after ``since``."""
    q = (
        select(_O.c.channel, _A.c.outcome, _A.c.error)
        .join(_O, _O.c.id == _A.c.outbox_id)
        .where(_A.c.at >= since)
        .order_by(_A.c.id)
    )
    return {r.channel: (r.outcome, r.error) for r in conn.execute(q)}
