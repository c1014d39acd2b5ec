"""Retention: nothing younger than the retention period (default 7 years, never below six months) goes.

``mrm purge --before DATE`` removes runs (with their metrics) and ticket events of logical dates before
DATE, and only if DATE is at least the retention period in the past; anything younger is refused. The
period applied is the larger of the inventory policy's ``retention_days`` and ``MRM_RETENTION_DAYS``,
and never less than ``MIN_RETENTION_DAYS`` (183 days, EU AI Act Art. 19). The purge is itself recorded
in ``mrm_purges`` (when, by whom, the period applied, exactly which rows, and the chain head) and that
row is chained; ``mrm audit verify`` accepts exactly those rows as gone, and still reports any other
missing record. Chain entries are never removed.

Who may purge: on PostgreSQL the append-only trigger lets a DELETE through only for a login that is a
member of the history's owner role (``mrm db upgrade`` creates it, see :mod:`mrm.store.roles`) and only
in a transaction that set ``mrm.purge`` to ``on``; the application role cannot. A local SQLite history
has no roles, so whoever can write the file could purge: there a purge needs ``break_glass``
(``mrm purge --break-glass``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from mrm.errors import StoreError
from mrm.settings import DEFAULT_RETENTION_DAYS, MIN_RETENTION_DAYS
from mrm.store import chain, schema

__all__ = ["DEFAULT_RETENTION_DAYS", "MIN_RETENTION_DAYS", "period", "purge"]


def period(*days: int | None) -> int:
    """The retention period in force: the longest of those given (policy, setting), never below the floor."""
    return max([MIN_RETENTION_DAYS, *(d for d in days if d is not None)])


def _may_purge(conn, store) -> None:
    """Refuse before deleting anything when this login cannot purge (the trigger would refuse anyway)."""
    if conn.dialect.name != "postgresql":
        return
    user, owner, member = conn.execute(
        text(
            "SELECT current_user, pg_get_userbyid(c.relowner), pg_has_role(current_user, c.relowner, "
            "'MEMBER') FROM pg_class c WHERE c.oid = to_regclass('mrm_runs')"
        )
    ).one()
    if not member:
        raise StoreError(
            f"a purge needs the owner role's login: {user} is not a member of {owner}, which owns the "
            f"history at {store.safe_url}; run it as a member of {owner} "
            f"(e.g. MRM_DB_URL=postgresql+psycopg://<{owner}-member>@.../<db> mrm purge ...)"
        )


def purge(
    store,
    before: date,
    by: str,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    today: date | None = None,
    *,
    break_glass: bool = False,
) -> dict[str, int]:
    """Remove the records of logical dates before ``before``; returns the rows removed per table."""
    if retention_days < MIN_RETENTION_DAYS:
        raise StoreError(
            f"a retention period of {retention_days} days is below the floor of {MIN_RETENTION_DAYS} days "
            "(six months, EU AI Act Art. 19); nothing was purged"
        )
    today = today or datetime.now(UTC).date()
    oldest_allowed = today - timedelta(days=retention_days)
    if before > oldest_allowed:
        raise StoreError(
            f"refusing to purge records before {before}: the retention period is {retention_days} days, so "
            f"only records before {oldest_allowed} may go"
        )
    if store.engine.dialect.name == "sqlite" and not break_glass:
        raise StoreError(
            f"refusing to purge the SQLite history at {store.safe_url} without --break-glass: a local "
            "history has no role that could be kept from purging (whoever can write the file can delete), so "
            "the purge must say it means it"
        )
    try:
        return _purge(store, before, by, retention_days)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreError(
            f"could not purge the history at {store.safe_url}: {reason}; nothing was purged"
        ) from None


def _purge(store, before: date, by: str, retention_days: int) -> dict[str, int]:
    r, m, ev = schema.runs, schema.metric_results, schema.ticket_events
    with store.engine.begin() as conn:
        _may_purge(conn, store)
        chain.lock(conn)
        if conn.dialect.name == "postgresql":  # the trigger lets an owner-member's DELETE through
            conn.execute(text("SELECT set_config('mrm.purge', 'on', true)"))  # SET LOCAL
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
        purge_id = conn.execute(
            schema.purges.insert().returning(schema.purges.c.purge_id).values(
                before_date=before, retention_days=retention_days, purged_at=datetime.now(UTC), purged_by=by,
                counts=counts, keys=keys, chain_head=chain.head(conn),
            )
        ).scalar_one()  # fmt: skip
        chain.append(conn, "mrm_purges", [purge_id])
    return counts
