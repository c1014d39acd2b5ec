"""Two first tasks of a deployment open a new, empty PostgreSQL history at the same moment (what the
Celery test saw: each migrated it, and one failed on PostgreSQL's catalog). One migrates; the others wait
on the migration lock and find the schema at head."""

from __future__ import annotations

import multiprocessing as mp
import uuid

import pytest

from mrm.store import migrate

pytestmark = pytest.mark.postgres


def _open(url: str, barrier, results) -> None:
    from mrm.store import HistoryStore

    barrier.wait()
    try:
        store = HistoryStore(url)
        results.put(migrate.current(store.engine))
    except Exception as exc:  # the failure is the finding: report it to the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_history_at_once_all_get_the_schema(pg_url):
    import sqlalchemy as sa

    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"mrm_race_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        ctx = mp.get_context("spawn")
        n = 4
        barrier, results = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(url, barrier, results)) for _ in range(n)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert outcomes == [migrate.head()] * n
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
