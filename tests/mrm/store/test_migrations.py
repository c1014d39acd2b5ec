"""Schema changes go through Alembic: a new history is migrated to the newest revision; an existing
one at another revision is refused until `mrm db upgrade`; the upgrade adopts a pre-migration history."""

from __future__ import annotations

import sqlite3

import pytest

from mrm.cli import main
from mrm.errors import StoreError
from mrm.store import HistoryStore, migrate


def test_a_new_history_is_created_by_migration(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    assert migrate.current(store.engine) == migrate.head() == "0001"
    assert migrate.has_tables(store.engine)


def test_a_history_at_another_revision_is_refused_until_upgraded(tmp_path, monkeypatch, capsys):
    path = tmp_path / "h.db"
    HistoryStore(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:  # as if created before migrations existed
        db.execute("DROP TABLE mrm_alembic_version")

    with pytest.raises(
        StoreError, match=r"none \(created before migrations\), this mrm needs 0001: run `mrm db upgrade`"
    ):
        HistoryStore(f"sqlite:///{path}")

    monkeypatch.setenv("MRM_DB_URL", f"sqlite:///{path}")
    assert main(["db", "upgrade"]) == 0
    assert "schema revision none -> 0001" in capsys.readouterr().out
    assert migrate.current(HistoryStore(f"sqlite:///{path}").engine) == "0001"


def test_postgresql_history_is_migrated_with_its_triggers(pg_url):
    import sqlalchemy as sa

    store = HistoryStore(pg_url)
    assert migrate.current(store.engine) == "0001"
    with store.engine.connect() as conn:
        triggers = conn.execute(sa.text(
            "SELECT count(*) FROM pg_trigger WHERE tgname IN ('mrm_append_only', 'mrm_no_truncate')"
        )).scalar()  # fmt: skip
    assert triggers == 2 * 5
