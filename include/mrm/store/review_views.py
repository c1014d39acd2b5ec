"""Reading the desk's auditor views (migration 0010): ``mrm_v_review_acts`` (every act with who, how
authenticated, via, when and what) and ``mrm_v_acceptances`` (every accepted risk, in force or not).
``mrm audit acts`` prints the first. The views are read as typed tables, so rows come back with the
same Python types on SQLite and PostgreSQL (dates, aware datetimes, conditions as a list)."""

from __future__ import annotations

from datetime import UTC, date

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Engine, Integer, MetaData, String, Table, Text

_M = MetaData()  # not the history's metadata: views are created by the migration, never by create_all


def _who_when() -> list[Column]:
    return [
        Column("person", String),
        Column("authenticated", String),
        Column("via", String),
        Column("acted_at", DateTime(timezone=True)),
        Column("acted_on", Date),
    ]


REVIEW_ACTS = Table(
    "mrm_v_review_acts",
    _M,
    Column("act_id", Integer),
    *_who_when(),
    Column("kind", String),
    Column("model_id", String),
    Column("ticket_id", Integer),
    Column("ticket_key", String),
    Column("control", String),
    Column("logical_date", Date),
    Column("action_date", Date),
    Column("until_date", Date),
    Column("cause", String),
    Column("comment", Text),
    Column("conditions", JSON),
    Column("confirms", Integer),
)
ACCEPTANCES = Table(
    "mrm_v_acceptances",
    _M,
    Column("act_id", Integer),
    Column("model_id", String),
    Column("control", String),
    Column("ticket_id", Integer),
    Column("ticket_key", String),
    Column("until_date", Date),
    Column("in_force", Boolean),
    *_who_when(),
    Column("comment", Text),
    Column("conditions", JSON),
)
ACT_COLUMNS = [c.name for c in REVIEW_ACTS.columns]
ACCEPTANCE_COLUMNS = [c.name for c in ACCEPTANCES.columns]


def review_acts(
    engine: Engine,
    *,
    person: str | None = None,
    model_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[dict]:
    """Acts of ``mrm_v_review_acts`` in the order they were recorded, filtered by who acted, the model
    and the UTC date they were made (``since``/``until`` inclusive)."""
    v = REVIEW_ACTS.c
    q = REVIEW_ACTS.select().order_by(v.act_id)
    if person is not None:
        q = q.where(v.person == person)
    if model_id is not None:
        q = q.where(v.model_id == model_id)
    if since is not None:
        q = q.where(v.acted_on >= since)
    if until is not None:
        q = q.where(v.acted_on <= until)
    return _rows(engine, q)


def acceptances(engine: Engine, *, model_id: str | None = None, in_force: bool | None = None) -> list[dict]:
    """Rows of ``mrm_v_acceptances`` (of a model, or all; only those in force today, or only those no
    longer in force, when ``in_force`` is given), oldest first."""
    v = ACCEPTANCES.c
    q = ACCEPTANCES.select().order_by(v.act_id)
    if model_id is not None:
        q = q.where(v.model_id == model_id)
    if in_force is not None:
        q = q.where(v.in_force.is_(True) if in_force else v.in_force.is_(False))
    return _rows(engine, q)


def _rows(engine: Engine, query) -> list[dict]:
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for r in rows:  # SQLite keeps no time zone: acted_at is stored in UTC
        if r["acted_at"] is not None and r["acted_at"].tzinfo is None:
            r["acted_at"] = r["acted_at"].replace(tzinfo=UTC)
        if "in_force" in r and r["in_force"] is not None:
            r["in_force"] = bool(r["in_force"])
    return rows
