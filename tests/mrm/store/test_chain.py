"""Tamper evidence: `mrm audit verify` names the first record edited, deleted, inserted outside mrm,
or reordered, on SQLite and on PostgreSQL; concurrent writers never fork the chain."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from support import empty_history

from mrm.controls import Evaluated
from mrm.core.results import MetricResult
from mrm.store import HistoryStore, RunRecord, chain
from mrm.ticketing import Breach, BuiltinTracker


def record(store: HistoryStore, model_id: str, day: date, n_metrics: int = 3) -> RunRecord:
    now = datetime.now(UTC)
    run = RunRecord(
        run_id=f"{model_id}{day:%m%d}{now.microsecond:06d}", model_id=model_id, model_version="1",
        logical_date=day, status="completed", started_at=now, finished_at=now, triggered_by="test",
        inventory_hash="f" * 64, overall_status="RED",
    )  # fmt: skip
    metrics = [
        Evaluated(MetricResult("drift", "psi", f"x{i}", 0.1 * (i + 1), {"i": i}), 0.1, 0.25, "AMBER")
        for i in range(n_metrics)
    ]
    store.record_run(run, metrics, {"model_id": model_id, "threshold": 0.25})
    breach = Breach(model_id, "o@example.com", "drift.psi[x0]", "drift", "psi", "x0", "RED", 0.3, 0.1, 0.25,
                    run.run_id, day, "breach")  # fmt: skip
    BuiltinTracker(store).file(breach)
    return run


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        yield HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
        return
    url = request.getfixturevalue("pg_url")
    s = HistoryStore(url)
    empty_history(s.engine)
    yield s


def tamper(store: HistoryStore, sql: str) -> None:
    """Change rows behind mrm's back, as a database superuser could."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql(sql)


@pytest.fixture
def filled(store):
    for d in (1, 2, 3):
        record(store, "m", date(2026, 9, d))
    return store


def test_an_untouched_history_verifies(filled):
    problems, head, count = chain.verify(filled.engine)
    assert problems == [] and len(head) == 64
    # per day: run, 3 metrics, ticket event and the ticket's new version; the entry version once
    assert count == 3 * (1 + 3 + 1 + 1) + 1


def test_an_edited_value_is_named(filled):
    tamper(filled, "UPDATE mrm_metrics SET value = 0.01 WHERE id = (SELECT min(id) FROM mrm_metrics)")
    problems, _, _ = chain.verify(filled.engine)
    assert len(problems) == 1
    assert problems[0].endswith("the record was edited after it was written") and "mrm_metrics" in problems[0]


def test_a_deleted_record_is_named(filled):
    tamper(filled, "DELETE FROM mrm_ticket_events WHERE id = (SELECT max(id) FROM mrm_ticket_events)")
    (problem,) = chain.verify(filled.engine)[0]
    assert "mrm_ticket_events" in problem and problem.endswith("the record was deleted")


def test_a_record_inserted_outside_mrm_is_named(filled):
    tamper(
        filled,
        'INSERT INTO mrm_metrics (run_id, model_id, logical_date, "check", metric, value, status) '
        "SELECT run_id, model_id, logical_date, 'drift', 'psi', 0.0, 'GREEN' FROM mrm_runs LIMIT 1",
    )
    (problem,) = chain.verify(filled.engine)[0]
    assert problem.startswith("mrm_metrics ") and problem.endswith(
        "is not in the chain (inserted outside mrm)"
    )


def test_reordered_and_deleted_chain_entries_are_named(filled):
    with filled.engine.connect() as conn:
        first = conn.execute(sa.text("SELECT min(seq) FROM mrm_chain")).scalar()
    # move the third entry to the end: the entry after its old place and the moved one no longer link
    tamper(filled, f"UPDATE mrm_chain SET seq = seq + 1000 WHERE seq = {first + 2}")
    problems = chain.verify(filled.engine)[0]
    assert len(problems) == 2 and all("altered or reordered" in p for p in problems)
    assert problems[0].startswith(f"chain entry {first + 3} ") and problems[1].startswith(
        f"chain entry {first + 1002} "
    )
    # deleting an entry (not leaving its row unchained) breaks the link of the one after it
    tamper(filled, f"UPDATE mrm_chain SET seq = {first + 2} WHERE seq = {first + 1002}")
    tamper(filled, f"DELETE FROM mrm_chain WHERE seq = {first + 5}")  # the ticket's first version, superseded
    (problem,) = chain.verify(filled.engine)[0]
    assert (
        problem.startswith(f"chain entry {first + 6} (mrm_ticket_events ")
        and "an entry was deleted" in problem
    )


def test_postgresql_rejects_update_and_delete(store):
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the append-only triggers are PostgreSQL's")
    record(store, "m", date(2026, 9, 1))
    for sql in ("UPDATE mrm_metrics SET value = 0", "DELETE FROM mrm_runs", "TRUNCATE mrm_chain"):
        with pytest.raises(sa.exc.DBAPIError, match="mrm history is append-only"), store.engine.begin() as c:
            c.exec_driver_sql(sql)
    assert chain.verify(store.engine)[0] == []


def test_concurrent_writers_of_different_models_lose_nothing_and_never_fork(store):
    errors = []

    def write(model_id: str):
        try:
            for d in range(1, 6):
                record(store, model_id, date(2026, 9, d))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(m,)) for m in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    problems, _, count = chain.verify(store.engine)
    assert errors == [] and problems == []
    assert len(store.runs()) == 10 and count == 10 * 6 + 1  # run, 3 metrics, event, ticket version


def test_a_purge_younger_than_the_retention_period_is_refused(filled):
    from mrm.errors import StoreError
    from mrm.store.retention import purge

    with pytest.raises(
        StoreError, match=r"refusing to purge records before 2026-09-03: the retention period is 2557"
    ):
        purge(filled, date(2026, 9, 3), "test", today=date(2030, 1, 1))
    assert len(filled.runs()) == 3


def test_a_recorded_purge_keeps_the_chain_verifiable_and_other_deletions_still_show(store):
    from mrm.store import schema
    from mrm.store.retention import purge

    filled = store
    for d in (1, 2, 3):  # old enough for a purge that keeps the retention floor (its purged_at is now)
        record(filled, "m", date(2025, 9, d))
    counts = purge(filled, date(2025, 9, 3), "auditor", retention_days=200, break_glass=True)

    assert counts == {"mrm_runs": 2, "mrm_metrics": 6, "mrm_ticket_events": 2}
    assert [r["logical_date"] for r in filled.runs()] == [date(2025, 9, 3)]
    assert chain.verify(filled.engine)[0] == []
    with filled.engine.connect() as conn:
        (register,) = conn.execute(sa.select(schema.purges)).mappings().all()
    assert (
        register["purged_by"] == "auditor"
        and register["counts"] == counts
        and len(register["chain_head"]) == 64
    )

    tamper(filled, "DELETE FROM mrm_metrics WHERE id = (SELECT max(id) FROM mrm_metrics)")
    (problem,) = chain.verify(filled.engine)[0]
    assert problem.endswith("the record was deleted")
