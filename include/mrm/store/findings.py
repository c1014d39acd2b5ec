"""The SQL of the validation findings register (``mrm_findings_events``): each event of a finding is one
row holding the whole finding as it stands after it, with who, how authenticated, when and why. Rows are
only inserted, each chained in the caller's transaction; a finding's current state is its latest row.
Rows come back as plain dicts, oldest first (events) or by finding id (current states)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from mrm.errors import StoreError
from mrm.store import chain, schema

_F = schema.findings_events
FINDING = ("model_id", "severity", "description", "owner", "plan", "due_date", "status", "evidence")
WHO = ("person", "authenticated", "via", "acted_at", "reason")


def insert_event(
    conn: Connection,
    finding_id: str,
    event: str,
    finding: dict[str, Any],
    *,
    person: str,
    authenticated: str,
    acted_at: datetime,
    via: str | None = None,
    reason: str | None = None,
) -> int:
    """Record one event of ``finding_id`` with the finding as it stands after it (``finding``: every key
    of :data:`FINDING`) and chain it; returns the event's id."""
    if event not in schema.FINDING_EVENTS:
        raise StoreError(
            f"unknown finding event '{event}'; the events are {', '.join(schema.FINDING_EVENTS)}"
        )
    missing = [k for k in FINDING if k not in finding and k != "plan"]
    if missing:
        raise StoreError(f"finding {finding_id} event {event} lacks {', '.join(missing)}")
    if acted_at.tzinfo is None:
        raise StoreError(f"naive datetime {acted_at} given for finding {finding_id}; use timezone-aware")
    values = {k: finding.get(k) for k in FINDING}
    values["evidence"] = list(values["evidence"] or [])
    event_id = conn.execute(
        _F.insert().values(
            finding_id=finding_id,
            event=event,
            person=person,
            authenticated=authenticated,
            via=via,
            acted_at=acted_at.astimezone(UTC),
            reason=reason,
            **values,
        )
    ).inserted_primary_key[0]
    chain.append(conn, "mrm_findings_events", [event_id])
    return event_id


def _aware(row: dict) -> dict:
    out = dict(row)
    for key in ("acted_at", "added_at"):
        when = out.get(key)
        if isinstance(when, datetime) and when.tzinfo is None:
            out[key] = when.replace(tzinfo=UTC)
    return out


def history(conn: Connection, finding_id: str) -> list[dict]:
    """Every event of one finding, oldest first (empty: no such finding)."""
    q = select(_F).where(_F.c.finding_id == finding_id).order_by(_F.c.event_id)
    return [_aware(r) for r in conn.execute(q).mappings()]


def findings(conn: Connection, *, model_id: str | None = None, status: str | None = None) -> list[dict]:
    """The current state of each finding (its latest event, with ``added_at``: when its first event was
    recorded), of one model and in one status when given, by finding id."""
    latest = (
        select(
            _F.c.finding_id,
            func.max(_F.c.event_id).label("event_id"),
            func.min(_F.c.acted_at).label("added_at"),
        )
        .group_by(_F.c.finding_id)
        .subquery()
    )
    q = (
        select(_F, latest.c.added_at)
        .join(latest, _F.c.event_id == latest.c.event_id)
        .order_by(_F.c.finding_id)
    )
    if model_id is not None:
        q = q.where(_F.c.model_id == model_id)
    if status is not None:
        q = q.where(_F.c.status == status)
    return [_aware(r) for r in conn.execute(q).mappings()]


def finding(conn: Connection, finding_id: str) -> dict | None:
    """One finding's current state, or None."""
    q = select(_F).where(_F.c.finding_id == finding_id).order_by(_F.c.event_id.desc()).limit(1)
    row = conn.execute(q).mappings().first()
    if row is None:
        return None
    added = conn.execute(select(func.min(_F.c.acted_at)).where(_F.c.finding_id == finding_id)).scalar()
    return _aware({**row, "added_at": added})


def known_ids(conn: Connection) -> set[str]:
    """Every finding id in the register."""
    return {fid for (fid,) in conn.execute(select(_F.c.finding_id).distinct())}
