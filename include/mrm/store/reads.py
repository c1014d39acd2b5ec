"""Read-only queries for people: the Model Risk page (one to four small queries per page, on indexed
columns: model_id, logical_date, run_id, status) and the note of an Airflow DAG run. Each function takes
the history's engine and opens its own connection; datetimes come back timezone-aware (UTC)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from mrm.store import schema
from mrm.store.history import current_run_ids
from mrm.store.outbox import PENDING

RUN_COLUMNS = ("run_id", "model_id", "kind", "logical_date", "status", "overall_status", "reason")


def _aware(value: Any) -> Any:
    """SQLite returns naive datetimes; the history stores UTC only."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _rows(engine: Engine, query) -> list[dict]:
    with engine.connect() as conn:
        return [{k: _aware(v) for k, v in r.items()} for r in conn.execute(query).mappings()]


# -- portfolio ----------------------------------------------------------------------------------------
def latest_runs(engine: Engine) -> dict[str, dict[str, dict]]:
    """``{model_id: {kind: run}}``: each model's run of its newest logical date per kind (the latest rerun
    of that date), with ``statuses[check][status]`` = how many of its metric rows had that status."""
    r, m = schema.runs, schema.metric_results
    ranked = select(
        *(r.c[c] for c in RUN_COLUMNS),
        r.c.finished_at,
        r.c.triggered_by,
        func.row_number()
        .over(
            partition_by=(r.c.model_id, r.c.kind),
            order_by=(r.c.logical_date.desc(), r.c.finished_at.desc(), r.c.run_id.desc()),
        )
        .label("rn"),
    ).subquery()
    latest = select(ranked).where(ranked.c.rn == 1).subquery()
    keys = [latest.c[c] for c in (*RUN_COLUMNS, "finished_at", "triggered_by")]
    query = (
        select(*keys, m.c.check, m.c.status.label("metric_status"), func.count(m.c.id).label("n"))
        .select_from(latest.outerjoin(m, m.c.run_id == latest.c.run_id))
        .group_by(*keys, m.c.check, m.c.status)
    )
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in _rows(engine, query):
        run = out[row["model_id"]].setdefault(
            row["kind"], {k: row[k] for k in (*RUN_COLUMNS, "finished_at", "triggered_by")} | {"statuses": {}}
        )
        if row["check"] is not None:
            run["statuses"].setdefault(row["check"], {})[row["metric_status"]] = row["n"]
    return dict(out)


def open_ticket_counts(engine: Engine) -> dict[str, int]:
    t = schema.tickets
    query = select(t.c.model_id, func.count().label("n")).where(t.c.status == "open").group_by(t.c.model_id)
    return {r["model_id"]: r["n"] for r in _rows(engine, query)}


# -- tickets ------------------------------------------------------------------------------------------
def tickets(engine: Engine, model_id: str | None = None, *, open_only: bool = True) -> list[dict]:
    """Tickets with the last value recorded on them and ``as_of``: the newest logical date the history
    holds for their model (a ticket's age counts logical days, as its escalation does)."""
    t, ev, r = schema.tickets, schema.ticket_events, schema.runs
    last_value = (
        select(ev.c.value)
        .where(ev.c.ticket_id == t.c.ticket_id, ev.c.value.is_not(None))
        .order_by(ev.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    as_of = select(func.max(r.c.logical_date)).where(r.c.model_id == t.c.model_id).scalar_subquery()
    query = select(t, last_value.label("last_value"), as_of.label("as_of")).order_by(t.c.ticket_id)
    if model_id:
        query = query.where(t.c.model_id == model_id)
    if open_only:
        query = query.where(t.c.status == "open")
    rows = _rows(engine, query)
    for row in rows:  # a scalar subquery's date comes back as text on SQLite
        if isinstance(row["as_of"], str):
            row["as_of"] = date.fromisoformat(row["as_of"])
    return rows


def open_tickets_by_control(engine: Engine, model_id: str) -> dict[str, int]:
    """``{control: ticket_id}`` of the model's open tickets."""
    t = schema.tickets
    query = select(t.c.ticket_id, t.c.control).where(t.c.model_id == model_id, t.c.status == "open")
    return {r["control"]: r["ticket_id"] for r in _rows(engine, query)}


def undelivered(engine: Engine) -> list[dict]:
    """Outbox items still pending, per channel: how many, the oldest, and whether any has an error."""
    o = schema.outbox
    query = (
        select(
            o.c.channel,
            func.count().label("n"),
            func.min(o.c.created_at).label("oldest"),
            func.count(o.c.last_error).label("with_error"),
        )
        .where(o.c.status == PENDING)
        .group_by(o.c.channel)
        .order_by(o.c.channel)
    )
    return _rows(engine, query)


# -- one model ----------------------------------------------------------------------------------------
def last_logical_date(engine: Engine, model_id: str) -> date | None:
    r = schema.runs
    with engine.connect() as conn:
        return conn.execute(select(func.max(r.c.logical_date)).where(r.c.model_id == model_id)).scalar()


def metrics(engine: Engine, model_id: str, since: date) -> list[dict]:
    """The model's metric rows of its current runs from ``since`` on, in date order."""
    m = schema.metric_results
    columns = [
        c for c in m.c if c.name not in ("detail", "model_id")
    ]  # detail JSON is not shown: keep the rows small
    query = (
        select(*columns)
        .where(m.c.model_id == model_id, m.c.logical_date >= since)
        .where(m.c.run_id.in_(current_run_ids(model_id)))
        .order_by(m.c.logical_date, m.c.id)
    )
    return _rows(engine, query)


def runs(engine: Engine, model_id: str, since: date) -> list[dict]:
    """Every run of the model (all kinds, reruns included) from ``since`` on, newest first."""
    r = schema.runs
    columns = [c for c in r.c if c.name not in ("input_files", "reference", "lineage")]
    query = (
        select(*columns)
        .where(r.c.model_id == model_id, r.c.logical_date >= since)
        .order_by(r.c.logical_date.desc(), r.c.finished_at.desc())
    )
    return _rows(engine, query)


def run(engine: Engine, run_id: str) -> dict | None:
    r = schema.runs
    query = select(r.c.run_id, r.c.model_id, r.c.logical_date, r.c.evidence).where(r.c.run_id == run_id)
    found = _rows(engine, query)
    return found[0] if found else None


def airflow_run(engine: Engine, dag_id: str, run_id: str) -> dict | None:
    """The history's run written by this Airflow DAG run (its last try), or None."""
    r = schema.runs
    query = (
        select(r)
        .where(r.c.triggered_by.like(f"airflow:{dag_id}/{run_id}/%"))
        .order_by(r.c.finished_at.desc())
        .limit(1)
    )
    found = _rows(engine, query)
    return found[0] if found else None


def profile_hashes(engine: Engine, model_id: str, fingerprint: str) -> set[str]:
    """The SHA-256s that the model's runs recorded for the reference profile ``fingerprint``
    (``reference.profile_sha256`` where ``reference.profile_fingerprint`` is it): what a cached profile
    must still be (mrm.checks.reference)."""
    r = schema.runs
    digest = r.c.reference["profile_sha256"].as_string()
    query = (
        select(digest.label("sha256"))
        .distinct()
        .where(r.c.model_id == model_id, r.c.reference["profile_fingerprint"].as_string() == fingerprint)
        .where(digest.is_not(None))
    )
    return {row["sha256"] for row in _rows(engine, query)}
