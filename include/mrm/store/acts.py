"""The SQL of review acts (``mrm_review_acts``): what people decided on tickets and days, each act with
who, how they were authenticated, when, what and why. Rows are only inserted, each chained in the
caller's transaction (the act and the ticket change and outbox rows it implies are written in one).
Rows come back as plain dicts, oldest first."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, select

from mrm.errors import StoreError
from mrm.store import chain, schema

_A = schema.review_acts
FIELDS = (
    "model_id",
    "ticket_id",
    "control",
    "logical_date",
    "via",
    "action_date",
    "cause",
    "until_date",
    "conditions",
    "confirms",
)


def insert_act(
    conn: Connection,
    kind: str,
    person: str,
    authenticated: str,
    comment: str,
    acted_at: datetime,
    **what: Any,
) -> int:
    """Record one act (``what``: any of :data:`FIELDS`) and chain it; returns its id."""
    if kind not in schema.ACT_KINDS:
        raise StoreError(f"unknown review act '{kind}'; the acts are {', '.join(schema.ACT_KINDS)}")
    unknown = sorted(set(what) - set(FIELDS))
    if unknown:
        raise StoreError(
            f"a review act has no field {', '.join(unknown)}; its fields are {', '.join(FIELDS)}"
        )
    if acted_at.tzinfo is None:
        raise StoreError(f"naive datetime {acted_at} given for a review act; use timezone-aware datetimes")
    values = dict(
        kind=kind,
        person=person,
        authenticated=authenticated,
        comment=comment,
        acted_at=acted_at.astimezone(UTC),
        **what,
    )
    act_id = conn.execute(_A.insert().values(**values)).inserted_primary_key[0]
    chain.append(conn, "mrm_review_acts", [act_id])
    return act_id


def _aware(row: dict) -> dict:
    when = row["acted_at"]
    return {**row, "acted_at": when if when.tzinfo else when.replace(tzinfo=UTC)}


def act(conn: Connection, act_id: int) -> dict | None:
    row = conn.execute(select(_A).where(_A.c.act_id == act_id)).mappings().first()
    return _aware(dict(row)) if row is not None else None


def acts(
    conn: Connection,
    *,
    ticket_id: int | None = None,
    model_id: str | None = None,
    kinds: tuple[str, ...] | None = None,
    person: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[dict]:
    """Acts in the order they were recorded, filtered by ticket, model, kinds, person and the date
    they were made (``since``/``until``, inclusive, UTC)."""
    q = select(_A).order_by(_A.c.act_id)
    if ticket_id is not None:
        q = q.where(_A.c.ticket_id == ticket_id)
    if model_id is not None:
        q = q.where(_A.c.model_id == model_id)
    if kinds:
        q = q.where(_A.c.kind.in_(kinds))
    if person is not None:
        q = q.where(_A.c.person == person)
    rows = [_aware(dict(r)) for r in conn.execute(q).mappings()]
    return [r for r in rows if _within(r["acted_at"].astimezone(UTC).date(), since, until)]


def _within(day: date, since: date | None, until: date | None) -> bool:
    return (since is None or day >= since) and (until is None or day <= until)


def open_proposal(conn: Connection, ticket_id: int) -> dict | None:
    """The ticket's latest propose_close act not yet confirmed by a close, or None."""
    return pending_proposal(acts(conn, ticket_id=ticket_id, kinds=("propose_close", "close")), ticket_id)


def pending_proposal(recorded: list[dict], ticket_id: int) -> dict | None:
    """:func:`open_proposal` from acts already read (in the order recorded)."""
    mine = [a for a in recorded if a["ticket_id"] == ticket_id]
    confirmed = {a["confirms"] for a in mine if a["kind"] == "close"}
    proposals = [a for a in mine if a["kind"] == "propose_close" and a["act_id"] not in confirmed]
    return proposals[-1] if proposals else None


def acceptances(conn: Connection, model_id: str | None = None, on: date | None = None) -> list[dict]:
    """accept_risk acts (of a model, or all), those holding on ``on`` (until_date on or after it) when
    given; oldest first."""
    found = acts(conn, model_id=model_id, kinds=("accept_risk",))
    return [a for a in found if on is None or a["until_date"] >= on]


def holding(conn: Connection, model_id: str, on: date) -> dict[str, dict]:
    """The risks accepted for the model's controls on ``on``, as :func:`mrm.controls.accept` takes them:
    control -> ``{"act_id", "until", "by", "authenticated"}`` of the acceptance holding longest (the
    latest of those)."""
    held: dict[str, dict] = {}
    for a in sorted(acceptances(conn, model_id, on), key=lambda a: (a["until_date"], a["act_id"])):
        if a["control"]:
            held[a["control"]] = {
                "act_id": a["act_id"],
                "until": a["until_date"].isoformat(),
                "by": a["person"],
                "authenticated": a["authenticated"],
            }
    return held


def attestations(conn: Connection, day: date | None = None) -> list[dict]:
    """attest acts, of one logical date when given; oldest first."""
    q = select(_A).where(_A.c.kind == "attest").order_by(_A.c.act_id)
    if day is not None:
        q = q.where(_A.c.logical_date == day)
    return [_aware(dict(r)) for r in conn.execute(q).mappings()]
