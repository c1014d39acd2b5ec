"""Schema changes go through Alembic: a new history is migrated to the newest revision; an existing
one at another revision is refused until `mrm db upgrade`; the upgrade adopts a pre-migration history."""

from __future__ import annotations

import sqlite3

import pytest
from support import empty_history

from mrm.cli import main
from mrm.errors import StoreError
from mrm.store import HistoryStore, migrate


def test_a_new_history_is_created_by_migration(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    assert migrate.current(store.engine) == migrate.head() == "0003"
    assert migrate.has_tables(store.engine)


def test_a_history_at_another_revision_is_refused_until_upgraded(tmp_path, monkeypatch, capsys):
    path = tmp_path / "h.db"
    HistoryStore(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:  # as if created before migrations existed
        db.execute("DROP TABLE mrm_alembic_version")

    with pytest.raises(
        StoreError, match=r"none \(created before migrations\), this mrm needs 0003: run `mrm db upgrade`"
    ):
        HistoryStore(f"sqlite:///{path}")

    monkeypatch.setenv("MRM_DB_URL", f"sqlite:///{path}")
    assert main(["db", "upgrade"]) == 0
    assert "schema revision none -> 0003" in capsys.readouterr().out
    assert migrate.current(HistoryStore(f"sqlite:///{path}").engine) == "0003"


def test_postgresql_history_is_migrated_with_its_triggers(pg_url):
    import sqlalchemy as sa

    store = HistoryStore(pg_url)
    assert migrate.current(store.engine) == "0003"
    with store.engine.connect() as conn:
        triggers = conn.execute(sa.text(
            "SELECT count(*) FROM pg_trigger WHERE tgname IN ('mrm_append_only', 'mrm_no_truncate')"
        )).scalar()  # fmt: skip
    assert triggers == 2 * 6  # 5 tables of 0001 and the purge register of 0003


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_the_auditor_views_show_current_runs_only(request, tmp_path, db):
    from datetime import UTC, date, datetime

    import sqlalchemy as sa

    from mrm.checks.results import MetricResult
    from mrm.controls import Evaluated
    from mrm.store import RunRecord

    url = f"sqlite:///{tmp_path / 'h.db'}" if db == "sqlite" else request.getfixturevalue("pg_url")
    store = HistoryStore(url)
    if db == "postgres":
        empty_history(store.engine)
    for i, value in enumerate((0.3, 0.05)):  # a run, then its rerun with another value
        now = datetime(2026, 9, 2, 1, i, tzinfo=UTC)
        run = RunRecord(f"run{i}", "m", "1", date(2026, 9, 2), "completed", now, now, "test", "h" * 64)
        store.record_run(run, [Evaluated(MetricResult("drift", "psi", "x", value), 0.1, 0.25,
                                         "RED" if value > 0.25 else "GREEN")])  # fmt: skip
    with store.engine.connect() as conn:
        latest = conn.execute(sa.text("SELECT run_id, value, status FROM mrm_v_latest_status")).all()
        series = conn.execute(sa.text("SELECT count(*) FROM mrm_v_metric_series")).scalar()
    assert [tuple(r) for r in latest] == [("run1", 0.05, "GREEN")] and series == 1
