"""Retention: nothing younger than the retention period (default 7 years) is ever deleted.

``mrm purge --before DATE`` removes runs (with their metrics) and ticket events of logical dates before
DATE, and only if DATE is at least the retention period in the past; anything younger is refused. The
purge is itself recorded in ``mrm_purges`` (when, by whom, how many rows, exactly which rows, and the
chain head at that moment); ``mrm audit verify`` accepts exactly those rows as gone, and still reports
any other missing record. Chain entries are never removed. On PostgreSQL the append-only triggers
stop the application role: a purge is an act of governance, run by a privileged role
(``session_replication_role = replica`` needs a superuser).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from mrm.errors import StoreError
from mrm.store import chain, schema

DEFAULT_RETENTION_DAYS = 7 * 365 + 2  # seven years, leap days included
MIN_RETENTION_DAYS = 183  # six months: the floor no setting or policy may go below (EU AI Act Art. 19)


def purge(
    store, before: date, by: str, retention_days: int = DEFAULT_RETENTION_DAYS, today: date | None = None
):
    today = today or datetime.now(UTC).date()
    oldest_allowed = today - timedelta(days=retention_days)
    if before > oldest_allowed:
        raise StoreError(
            f"refusing to purge records before {before}: the retention period is {retention_days} days, so "
            f"only records before {oldest_allowed} may go"
        )
    r, m, ev = schema.runs, schema.metric_results, schema.ticket_events
    with store.engine.begin() as conn:
        chain.lock(conn)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        run_ids = [x for (x,) in conn.execute(select(r.c.run_id).where(r.c.logical_date < before))]
        metric_ids = (
            [x for (x,) in conn.execute(select(m.c.id).where(m.c.run_id.in_(run_ids)))] if run_ids else []
        )
        event_ids = [x for (x,) in conn.execute(select(ev.c.id).where(ev.c.logical_date < before))]
        keys = {
            "mrm_runs": run_ids,
            "mrm_metrics": [str(i) for i in metric_ids],
            "mrm_ticket_events": [str(i) for i in event_ids],
        }
        if event_ids:
            conn.execute(ev.delete().where(ev.c.id.in_(event_ids)))
        if metric_ids:
            conn.execute(m.delete().where(m.c.id.in_(metric_ids)))
        if run_ids:
            conn.execute(r.delete().where(r.c.run_id.in_(run_ids)))
        counts = {t: len(k) for t, k in keys.items()}
        conn.execute(
            schema.purges.insert().values(
                before_date=before, retention_days=retention_days, purged_at=datetime.now(UTC), purged_by=by,
                counts=counts, keys=keys, chain_head=chain.head(conn),
            )
        )  # fmt: skip
        chain.append(conn, "mrm_purges", [conn.execute(select(schema.purges.c.purge_id).order_by(
            schema.purges.c.purge_id.desc()).limit(1)).scalar()])  # fmt: skip
    return counts
