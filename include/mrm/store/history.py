"""HistoryStore: write runs and their metrics in one transaction; read them back for people."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, func, make_url, select
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from mrm.controls import Evaluated
from mrm.core.results import control_key
from mrm.errors import RunNotFoundError, StoreError
from mrm.store import chain, keys, migrate, schema


@dataclass
class RunRecord:
    run_id: str
    model_id: str
    model_version: str
    logical_date: date
    status: str  # completed | failed
    started_at: datetime
    finished_at: datetime
    triggered_by: str
    inventory_hash: str
    overall_status: str | None = None
    reason: str | None = None
    row_count: int | None = None
    input_files: list[dict[str, Any]] = field(default_factory=list)
    reference: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    kind: str = "monitoring"  # monitoring | governance | performance (the cohort alone) | backtest
    lineage: dict[str, Any] = field(default_factory=dict)  # software versions, git commit, step timings
    rerun_reason: str | None = None  # why the date was run again (CLI: --reason; Airflow: conf or run/try)
    supersedes: str | None = None  # filled by record_run: the run that was current for this date and kind


def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _):  # WAL: readers (UI, CLI) never block the monitoring run
            dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA foreign_keys=ON")

        @event.listens_for(engine, "begin")
        def _begin(conn):  # one writer at a time, so appends to the chain never fork
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _utc(when: datetime) -> datetime:
    """Store UTC only: SQLite keeps no offset, so ordering by time must compare like with like."""
    if when.tzinfo is None:
        raise StoreError(f"naive datetime {when} given to the history; use timezone-aware datetimes")
    return when.astimezone(UTC)


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _aware(row: dict) -> dict:
    for key in ("started_at", "finished_at"):
        if isinstance(row.get(key), datetime) and row[key].tzinfo is None:
            row[key] = row[key].replace(tzinfo=UTC)
    return row


def _filtered(q, table, model_id: str | None, since: date | None, until: date | None):
    """Restrict a query on a table with model_id and logical_date columns."""
    if model_id:
        q = q.where(table.c.model_id == model_id)
    if since:
        q = q.where(table.c.logical_date >= since)
    if until:
        q = q.where(table.c.logical_date <= until)
    return q


APPEND_ONLY_TABLES = ("mrm_runs", "mrm_metrics", "mrm_ticket_events", "mrm_inventory_versions", "mrm_chain")

# DELETE passes only for a member of the table's owner role (mrm db upgrade: mrm_owner) in a transaction
# that set mrm.purge = 'on' (mrm.store.retention); UPDATE and TRUNCATE are refused for every role
REJECT_CHANGE = """
CREATE OR REPLACE FUNCTION mrm_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND coalesce(current_setting('mrm.purge', true), '') = 'on'
     AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'mrm history is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
    USING HINT = 'only a purge (mrm purge, by a member of the owner role) may delete';
END $$
"""


def append_only_sql(conn, tables: tuple[str, ...] = APPEND_ONLY_TABLES) -> None:
    """PostgreSQL: the history tables reject UPDATE and TRUNCATE (triggers raise) for every role, and
    DELETE for every role but a purge by a member of the owner role. The app role of ``mrm db upgrade``
    does not own the tables, so it cannot disable the triggers either; the owner (and a superuser) can,
    which the keyed chain and the anchor then show. Run by migration 0001 and, for every table, 0007."""
    conn.exec_driver_sql(REJECT_CHANGE.replace("%", "%%"))
    for table in tables:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS mrm_append_only ON {table}")
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS mrm_no_truncate ON {table}")
        conn.exec_driver_sql(
            f"CREATE TRIGGER mrm_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION mrm_reject_change()"
        )
        conn.exec_driver_sql(
            f"CREATE TRIGGER mrm_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION mrm_reject_change()"
        )


def current_run_ids(model_id: str | None = None, kinds: tuple[str, ...] | None = None):
    """The ids of the latest run per model, logical date and kind (a rerun supersedes earlier runs);
    ``kinds``: of those kinds only."""
    r = schema.runs
    ranked = select(
        r.c.run_id,
        func.row_number()
        .over(
            partition_by=(r.c.model_id, r.c.logical_date, r.c.kind),
            order_by=(r.c.finished_at.desc(), r.c.run_id.desc()),
        )
        .label("rn"),
    )
    if model_id:
        ranked = ranked.where(r.c.model_id == model_id)
    if kinds:
        ranked = ranked.where(r.c.kind.in_(kinds))
    ranked = ranked.subquery()
    return select(ranked.c.run_id).where(ranked.c.rn == 1)


T = TypeVar("T")


def hide_password(url: str) -> str:
    """The database URL as people may see it: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable MRM_DB_URL)"


class HistoryStore:
    def __init__(self, url: str, key_source: keys.KeySource | None = None):
        """``key_source``: returns the chain's keyring, asked on the first append or verification (not
        for reads); default :func:`mrm.store.keys.from_settings` of ``url``."""
        self.url = url
        self.keyring: keys.KeySource = functools.cache(key_source or (lambda: keys.from_settings(url)))
        try:
            self.engine = _engine(url)
            chain.bind(self.engine, self.keyring)
            self._check_schema()
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise StoreError(f"cannot open the metrics history at {self.safe_url}: {reason}") from None
        except (OSError, ImportError) as exc:
            raise StoreError(
                f"cannot open the metrics history at {self.safe_url}: {exc}; check MRM_DB_URL / MRM_HOME "
                "(a postgresql:// URL needs the psycopg driver: postgresql+psycopg://user@host/db)"
            ) from None

    def _check_schema(self) -> None:
        """A new, empty history gets the schema by migration; an existing one must already be at the
        newest revision (``mrm db upgrade``): the schema of a live history never changes implicitly."""
        revision, newest = migrate.current(self.engine), migrate.head()
        if revision == newest:
            return
        if revision is None and not migrate.has_tables(self.engine):
            migrate.upgrade(self.engine)
            return
        if revision is None:  # tables but no revision: another process may have just migrated a new history
            revision = migrate.current(self.engine)
            if revision == newest:
                return
        raise StoreError(
            f"the metrics history at {self.safe_url} is at schema revision "
            f"{revision or 'none (created before migrations)'}, this mrm needs {newest}: run `mrm db upgrade`"
        )

    @property
    def safe_url(self) -> str:
        """Where the history is, without the password (for messages and manifests)."""
        return hide_password(self.url)

    @staticmethod
    def upgrade(url: str) -> tuple[str | None, str]:
        """Bring the history at ``url`` to the newest schema revision (``mrm db upgrade``); returns the
        revisions before and after. Unlike opening a store, an older schema is not an error here."""
        return migrate.upgrade(_engine(url))

    @staticmethod
    def retry_on_conflict(work: Callable[[], T]) -> T:
        """``work()``, which writes in its own transaction, once more if a concurrent writer inserted the
        same unique row first (e.g. opened the same ticket): the second try finds that row."""
        try:
            return work()
        except IntegrityError:
            return work()

    # -- writing -------------------------------------------------------------------------------
    def record_run(
        self, run: RunRecord, evaluated: list[Evaluated] = (), entry: dict[str, Any] | None = None
    ) -> None:
        """Insert the run and all its metric rows atomically: either all land or none. ``entry``: the
        inventory entry the run used, kept once per version (keyed by ``run.inventory_hash``).
        ``run.supersedes`` is set here, under the chain's lock: the run then current for the same model,
        logical date and kind (None for the first run of the day)."""
        rows = [
            {
                "run_id": run.run_id,
                "model_id": run.model_id,
                "logical_date": run.logical_date,
                "check": e.result.check,
                "metric": e.result.metric,
                "column": e.result.column,
                "segment": e.result.segment,
                "cohort_start": _date(e.result.cohort_start),
                "cohort_end": _date(e.result.cohort_end),
                "value": e.result.value,
                "amber_threshold": e.amber,
                "red_threshold": e.red,
                "status": e.status,
                "detail": e.result.detail,
            }
            for e in evaluated
        ]
        values = asdict(run)
        values["started_at"] = _utc(run.started_at)
        values["finished_at"] = _utc(run.finished_at)
        try:
            with self.engine.begin() as conn:
                chain.lock(conn)  # one writer at a time: the chain cannot fork, entry versions not race
                values["supersedes"] = self._current_run(conn, run)
                conn.execute(schema.runs.insert().values(**values))
                ids = []
                if rows:
                    inserted = conn.execute(
                        schema.metric_results.insert().returning(
                            schema.metric_results.c.id, sort_by_parameter_order=True
                        ),
                        rows,
                    )
                    ids = [r.id for r in inserted]
                kept = self._keep_entry(conn, run, entry) if entry is not None else False
                chain.append(conn, "mrm_runs", [run.run_id])
                chain.append(conn, "mrm_metrics", ids)
                if kept:
                    chain.append(conn, "mrm_inventory_versions", [run.inventory_hash])
        except (SQLAlchemyError, TypeError, ValueError) as exc:  # e.g. a value JSON cannot hold
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]  # PostgreSQL adds DETAIL lines
            raise StoreError(
                f"could not record run {run.run_id} of {run.model_id} for {run.logical_date} in "
                f"{self.safe_url}: {reason}; nothing was written, rerun the date"
            ) from None
        run.supersedes = values["supersedes"]

    @staticmethod
    def _current_run(conn, run: RunRecord) -> str | None:
        """The run id current for ``run``'s model, logical date and kind (the one a rerun supersedes)."""
        r = schema.runs
        query = select(r.c.run_id).where(
            r.c.run_id.in_(current_run_ids(run.model_id)),
            r.c.logical_date == run.logical_date,
            r.c.kind == run.kind,
        )
        return conn.execute(query).scalar()

    @staticmethod
    def _keep_entry(conn, run: RunRecord, entry: dict[str, Any]) -> bool:
        v = schema.inventory_versions
        known = conn.execute(
            select(v.c.inventory_hash).where(v.c.inventory_hash == run.inventory_hash)
        ).first()
        if known is None:
            conn.execute(
                v.insert().values(
                    inventory_hash=run.inventory_hash, model_id=run.model_id, model_version=run.model_version,
                    content=entry, first_used_at=_utc(run.finished_at), first_used_by_run=run.run_id,
                )
            )  # fmt: skip
        return known is None

    def inventory_versions(self, model_id: str | None = None) -> list[dict]:
        """Every version of every inventory entry a run ever used, oldest first."""
        v = schema.inventory_versions
        q = select(v).order_by(v.c.first_used_at)
        if model_id:
            q = q.where(v.c.model_id == model_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # -- reading -------------------------------------------------------------------------------
    def run(self, run_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.runs).where(schema.runs.c.run_id == run_id)).mappings().first()
        if row is None:
            raise RunNotFoundError(f"run {run_id} is not in the history at {self.safe_url}")
        return _aware(dict(row))

    def runs(
        self,
        model_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
        kind: str | None = "monitoring",
    ) -> list[dict]:
        """Runs of one kind (monitoring by default; None: all kinds), in date order."""
        t = schema.runs
        q = _filtered(
            select(t).order_by(t.c.model_id, t.c.logical_date, t.c.finished_at), t, model_id, since, until
        )
        if kind:
            q = q.where(t.c.kind == kind)
        with self.engine.connect() as conn:
            return [_aware(dict(r)) for r in conn.execute(q).mappings()]

    def metrics(
        self,
        model_id: str | None = None,
        since: date | None = None,
        until: date | None = None,
        *,
        all_runs: bool = False,
        run_id: str | None = None,
        kinds: tuple[str, ...] | None = None,
    ) -> list[dict]:
        """Metric rows of the current runs (``all_runs``: of every run; ``run_id``: of one), of runs of
        ``kinds`` only if given."""
        m, r = schema.metric_results, schema.runs
        q = select(m).order_by(m.c.model_id, m.c.logical_date, m.c.id)
        if run_id:
            q = q.where(m.c.run_id == run_id)
        elif not all_runs:
            q = q.where(m.c.run_id.in_(current_run_ids(kinds=kinds)))
        elif kinds:
            q = q.where(m.c.run_id.in_(select(r.c.run_id).where(r.c.kind.in_(kinds))))
        q = _filtered(q, m, model_id, since, until)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def previous_statuses(self, model_id: str, before: date, runs: int) -> dict[str, list[str]]:
        """Statuses per control in the latest ``runs`` completed runs before ``before``, newest first."""
        t, m = schema.runs, schema.metric_results
        q = (
            select(t.c.run_id, t.c.logical_date)
            .where(t.c.run_id.in_(current_run_ids()), t.c.model_id == model_id)
            .where(t.c.logical_date < before, t.c.status == "completed", t.c.kind == "monitoring")
            .order_by(t.c.logical_date.desc())
            .limit(runs)
        )
        with self.engine.connect() as conn:
            order = [r.run_id for r in conn.execute(q)]
            rows = conn.execute(select(m).where(m.c.run_id.in_(order))).mappings().all() if order else []
        out: dict[str, list[str]] = {}
        for row in sorted(rows, key=lambda r: order.index(r["run_id"])):
            key = control_key(row["check"], row["metric"], row["column"], row["segment"])
            out.setdefault(key, []).append(row["status"])
        return out
