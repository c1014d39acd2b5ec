"""Read-only queries for people: the Model Risk page (one to four small queries per page, on indexed
columns: model_id, logical_date, run_id, status), the note of an Airflow DAG run, and the reruns that
made a day look better than it was first recorded (:mod:`mrm.store.reruns`). Each function takes the
history's engine and opens its own connection; datetimes come back timezone-aware (UTC)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from mrm.store import schema
from mrm.store.history import current_run_ids
from mrm.store.outbox import PENDING

RUN_COLUMNS = ("run_id", "model_id", "kind", "logical_date", "status", "overall_status", "reason")
BACKTEST, PERFORMANCE = "backtest", "performance"  # kinds of run (mrm.outcomes); back-tests are analysis
PAGE_KINDS = ("monitoring", "governance", PERFORMANCE)  # what the page's charts and runs show
BACKTEST_METRICS = ("auc", "gini", "ks", "label_coverage")  # the page's back-test table


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
    """The newest logical date of the model's runs, back-tests aside."""
    r = schema.runs
    query = select(func.max(r.c.logical_date)).where(r.c.model_id == model_id, r.c.kind != BACKTEST)
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def shown_run_ids(model_id: str):
    """The current runs the page charts: monitoring and governance, and the ``performance`` runs of dates
    whose current monitoring run did not complete (a rerun that completed holds the cohort itself);
    never back-tests (their own table, :func:`backtests`)."""
    r, done = schema.runs, schema.runs.alias("done")
    completed = select(done.c.logical_date).where(
        done.c.run_id.in_(current_run_ids(model_id, ("monitoring",))), done.c.status == "completed"
    )
    return select(r.c.run_id).where(
        r.c.run_id.in_(current_run_ids(model_id, PAGE_KINDS)),
        or_(r.c.kind != PERFORMANCE, r.c.logical_date.not_in(completed)),
    )


def metrics(engine: Engine, model_id: str, since: date) -> list[dict]:
    """The model's metric rows of the current runs the page shows (:func:`shown_run_ids`) from ``since``
    on, in date order."""
    m = schema.metric_results
    columns = [
        c for c in m.c if c.name not in ("detail", "model_id")
    ]  # detail JSON is not shown: keep the rows small
    query = (
        select(*columns)
        .where(m.c.model_id == model_id, m.c.logical_date >= since)
        .where(m.c.run_id.in_(shown_run_ids(model_id)))
        .order_by(m.c.logical_date, m.c.id)
    )
    return _rows(engine, query)


def stored_value(engine: Engine, model_id: str, day: date, metric: str) -> float | None:
    """The whole-population value of ``metric`` in the current monitoring run of ``day`` (None if not
    stored or not computed): e.g. the estimate a run made before that day's labels matured."""
    m, r = schema.metric_results, schema.runs
    query = (
        select(m.c.value)
        .join(r, r.c.run_id == m.c.run_id)
        .where(
            m.c.model_id == model_id, m.c.logical_date == day, m.c.metric == metric, r.c.kind == "monitoring"
        )
        .where(m.c.column.is_(None), m.c.segment.is_(None), m.c.run_id.in_(current_run_ids(model_id)))
        .order_by(m.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def runs(engine: Engine, model_id: str, since: date) -> list[dict]:
    """Every run of the model (all kinds but back-tests, reruns included) from ``since`` on, newest
    first."""
    r = schema.runs
    columns = [c for c in r.c if c.name not in ("input_files", "reference", "lineage")]
    query = (
        select(*columns)
        .where(r.c.model_id == model_id, r.c.logical_date >= since, r.c.kind != BACKTEST)
        .order_by(r.c.logical_date.desc(), r.c.finished_at.desc())
    )
    return _rows(engine, query)


def backtests(engine: Engine, model_id: str, limit: int = 1000) -> list[dict]:
    """The model's current back-test runs (newest date first, at most ``limit``), each with its cohort
    and ``values[metric]`` of :data:`BACKTEST_METRICS` (None: insufficient labels)."""
    r, m = schema.runs, schema.metric_results
    chosen = (
        select(r.c.run_id)
        .where(r.c.run_id.in_(current_run_ids(model_id, (BACKTEST,))))
        .order_by(r.c.logical_date.desc())
        .limit(limit)
    )
    query = (
        select(
            r.c.run_id, r.c.logical_date, r.c.status, r.c.overall_status, r.c.reason, r.c.finished_at,
            r.c.triggered_by, r.c.row_count, m.c.metric, m.c.value, m.c.cohort_start, m.c.cohort_end,
        )
        .select_from(r.outerjoin(m, and_(m.c.run_id == r.c.run_id, m.c.metric.in_(BACKTEST_METRICS),
                                         m.c.segment.is_(None))))
        .where(r.c.run_id.in_(chosen.scalar_subquery()))
        .order_by(r.c.logical_date.desc())
    )  # fmt: skip
    keys = ("run_id", "logical_date", "status", "overall_status", "reason", "finished_at", "triggered_by")
    out: dict[str, dict] = {}
    for row in _rows(engine, query):
        run = out.setdefault(
            row["run_id"],
            {k: row[k] for k in (*keys, "row_count", "cohort_start", "cohort_end")} | {"values": {}},
        )
        if row["metric"] is not None:
            run["values"][row["metric"]] = row["value"]
    return list(out.values())


def run(engine: Engine, run_id: str) -> dict | None:
    r = schema.runs
    query = select(r.c.run_id, r.c.model_id, r.c.logical_date, r.c.evidence).where(r.c.run_id == run_id)
    found = _rows(engine, query)
    return found[0] if found else None


def airflow_run(engine: Engine, dag_id: str, run_id: str) -> dict | None:
    """The history's run written by this Airflow DAG run (its last try), or None."""
    r = schema.runs
    query = (  # the day's monitoring run, not the performance run of its cohort alone (recorded after)
        select(r)
        .where(r.c.triggered_by.like(f"airflow:{dag_id}/{run_id}/%"))
        .order_by((r.c.kind == PERFORMANCE).asc(), r.c.finished_at.desc())
        .limit(1)
    )
    found = _rows(engine, query)
    return found[0] if found else None


def reference_counts_hashes(engine: Engine, model_id: str, fingerprint: str) -> set[str]:
    """The SHA-256s that the model's runs recorded for the reference counts ``fingerprint`` (lineage
    ``inputs.reference_counts``): what kept counts must still be (mrm.checks.reference_counts)."""
    r = schema.runs
    digest = r.c.lineage[("inputs", "reference_counts", "sha256")].as_string()
    kept = r.c.lineage[("inputs", "reference_counts", "fingerprint")].as_string()
    query = select(digest.label("sha256")).distinct().where(r.c.model_id == model_id, kept == fingerprint)
    return {row["sha256"] for row in _rows(engine, query.where(digest.is_not(None)))}


def day_part_hashes(engine: Engine, model_id: str) -> dict[str, set[str]]:
    """The digests the model's runs recorded for the kept day parts they read (lineage
    ``inputs.day_parts``: fingerprint -> digest): what a kept part must be (mrm.sources.part_store)."""
    r = schema.runs
    parts = r.c.lineage[("inputs", "day_parts")]
    out: dict[str, set[str]] = defaultdict(set)
    for row in _rows(engine, select(parts.label("parts")).where(r.c.model_id == model_id)):
        found = row["parts"]
        if isinstance(found, str):  # a JSON text on some backends
            import json

            found = json.loads(found)
        for fp, digest in (found or {}).items():
            out[fp].add(digest)
    return dict(out)


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
