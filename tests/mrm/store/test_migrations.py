"""Schema changes go through Alembic: a new history is migrated to the newest revision; an existing
one at another revision is refused until `mrm db upgrade`; the upgrade adopts a pre-migration history."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from support import empty_history

from mrm.cli import main
from mrm.errors import StoreError
from mrm.store import HistoryStore, migrate


def test_a_new_history_is_created_by_migration(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    assert migrate.current(store.engine) == migrate.head() == "0011"
    assert migrate.has_tables(store.engine)


def test_a_history_at_another_revision_is_refused_until_upgraded(tmp_path, monkeypatch, capsys):
    path = tmp_path / "h.db"
    HistoryStore(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:  # as if created before migrations existed
        db.execute("DROP TABLE mrm_alembic_version")

    with pytest.raises(
        StoreError, match=r"none \(created before migrations\), this mrm needs 0011: run `mrm db upgrade`"
    ):
        HistoryStore(f"sqlite:///{path}")

    monkeypatch.setenv("MRM_DB_URL", f"sqlite:///{path}")
    assert main(["db", "upgrade"]) == 0
    assert "schema revision none -> 0011" in capsys.readouterr().out
    assert migrate.current(HistoryStore(f"sqlite:///{path}").engine) == "0011"


def test_postgresql_history_is_migrated_with_its_triggers(pg_url):
    import sqlalchemy as sa

    store = HistoryStore(pg_url)
    assert migrate.current(store.engine) == "0011"
    with store.engine.connect() as conn:
        triggers = conn.execute(sa.text(
            "SELECT count(*) FROM pg_trigger WHERE tgname IN ('mrm_append_only', 'mrm_no_truncate')"
        )).scalar()  # fmt: skip
    assert triggers == 2 * 9  # 5 tables of 0001, the purge register (0003), the key rotations (0006), the
    # review acts (0009), the findings register (0011)


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_the_auditor_views_show_current_runs_only(request, tmp_path, db):
    from datetime import UTC, date, datetime

    import sqlalchemy as sa

    from mrm.controls import Evaluated
    from mrm.core.results import MetricResult
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


def test_a_0003_history_with_tickets_upgrades_to_0004_keeping_them(any_history, monkeypatch):
    """Revision 0004 adds the outbox, a ticket's priority and escalation time, and (PostgreSQL) widens
    the event kind behind the breach-trail view; existing tickets and events are kept."""
    from datetime import date

    import sqlalchemy as sa

    from mrm.ticketing import Breach, BuiltinTracker

    store = any_history
    BuiltinTracker(store).file(
        Breach("card_fraud", "o@example.com", "drift.psi[amount]", "drift", "psi", "amount", "RED", 0.3, 0.1,
               0.25, "run-1", date(2026, 9, 1), "psi breached")
    )  # fmt: skip
    postgres = store.engine.dialect.name == "postgresql"
    with store.engine.begin() as conn:  # back to what 0003 left
        conn.exec_driver_sql("DROP TABLE mrm_outbox")
        conn.exec_driver_sql("ALTER TABLE mrm_tickets DROP COLUMN priority")
        conn.exec_driver_sql("ALTER TABLE mrm_tickets DROP COLUMN escalated_at")
        if postgres:
            conn.exec_driver_sql("DROP VIEW mrm_v_breach_trail")
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.exec_driver_sql("ALTER TABLE mrm_ticket_events ALTER COLUMN kind TYPE varchar(16)")
            conn.exec_driver_sql(
                "CREATE VIEW mrm_v_breach_trail AS SELECT t.ticket_id, e.kind AS event FROM mrm_tickets t "
                "JOIN mrm_ticket_events e ON e.ticket_id = t.ticket_id"
            )
        conn.exec_driver_sql("UPDATE mrm_alembic_version SET version_num = '0003'")
    with pytest.raises(StoreError, match="is at schema revision 0003, this mrm needs 0011"):
        HistoryStore(store.url)

    monkeypatch.setenv("MRM_DB_URL", store.url)
    tag = f"t{uuid.uuid4().hex[:8]}"  # PostgreSQL: roles of this test only, dropped below
    assert main(["db", "upgrade", "--owner-role", f"{tag}_owner", "--app-role", f"{tag}_app"]) == 0
    if postgres:
        with store.engine.begin() as conn:
            for role in (f"{tag}_app", f"{tag}_owner"):
                conn.exec_driver_sql(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
                conn.exec_driver_sql(f"DROP OWNED BY {role}")
                conn.exec_driver_sql(f"DROP ROLE {role}")
    upgraded = HistoryStore(store.url)
    columns = {c["name"] for c in sa.inspect(upgraded.engine).get_columns("mrm_tickets")}
    assert {"priority", "escalated_at"} <= columns
    assert {"mrm_outbox", "mrm_outbox_attempts"} <= set(sa.inspect(upgraded.engine).get_table_names())
    with upgraded.engine.connect() as conn:
        trail = conn.exec_driver_sql("SELECT event, control FROM mrm_v_breach_trail").all()
    assert [tuple(r) for r in trail] == [("opened", "drift.psi[amount]")]
    assert [t["control"] for t in BuiltinTracker(upgraded).tickets()] == ["drift.psi[amount]"]


def test_a_0007_history_upgrades_to_0008_keeping_earlier_duplicate_events(any_history):
    """Revision 0008 adds an outbox item's claim and the unique index on ticket events; duplicates that
    concurrent runs wrote before it are kept (the chain holds them) and the index covers what follows."""
    from datetime import UTC, date, datetime

    import sqlalchemy as sa
    from sqlalchemy.exc import IntegrityError

    from mrm.store import chain
    from mrm.store import tickets as store_tickets
    from mrm.ticketing import Breach, BuiltinTracker

    store, day = any_history, date(2026, 9, 1)
    BuiltinTracker(store).file(
        Breach("card_fraud", "o@example.com", "drift.psi[amount]", "drift", "psi", "amount", "RED", 0.3, 0.1,
               0.25, "run-1", day, "psi breached")
    )  # fmt: skip
    (ticket,) = BuiltinTracker(store).tickets()
    now = datetime.now(UTC)
    with store.engine.begin() as conn:  # back to what 0007 left, plus a duplicate written by a race
        conn.exec_driver_sql("DROP INDEX ux_ticket_events_once")
        for column in ("claimed_by", "lease_until"):
            conn.exec_driver_sql(f"ALTER TABLE mrm_outbox DROP COLUMN {column}")
        store_tickets.insert_event(conn, ticket["ticket_id"], "run-2", day, "opened", 0.3, "twice", now)
        conn.exec_driver_sql("UPDATE mrm_alembic_version SET version_num = '0007'")
    with pytest.raises(StoreError, match="is at schema revision 0007, this mrm needs 0011"):
        HistoryStore(store.url)

    assert migrate.upgrade(store.engine) == ("0007", "0011")

    upgraded = HistoryStore(store.url)
    columns = {c["name"] for c in sa.inspect(upgraded.engine).get_columns("mrm_outbox")}
    assert {"claimed_by", "lease_until"} <= columns
    assert [e["kind"] for e in BuiltinTracker(upgraded).events(ticket["ticket_id"])] == ["opened", "opened"]
    with (
        pytest.raises(IntegrityError, match=r"ux_ticket_events_once|UNIQUE constraint failed"),
        upgraded.engine.begin() as conn,
    ):
        store_tickets.insert_event(conn, ticket["ticket_id"], "run-3", day, "opened", 0.3, "thrice", now)
    with upgraded.engine.begin() as conn:  # another date is a new event
        store_tickets.insert_event(conn, ticket["ticket_id"], "run-3", date(2026, 9, 2), "occurrence", 0.3,
                                   "again", now)  # fmt: skip
    assert chain.verify(upgraded.engine)[0] == []
    upgraded.engine.dispose()


def test_a_0009_history_with_acts_upgrades_to_0010_whose_views_show_them(any_history):
    """Revision 0010 adds the desk's auditor views over the acts recorded before it."""
    from datetime import UTC, date, datetime

    from mrm.store import acts

    store = any_history
    with store.engine.begin() as conn:
        acts.insert_act(conn, "attest", "rev@example.com", "airflow", "reviewed",
                        datetime(2026, 9, 2, 23, 59, tzinfo=UTC), logical_date=date(2026, 9, 1))  # fmt: skip
        for view in ("mrm_v_acceptances", "mrm_v_review_acts"):  # back to what 0009 left
            conn.exec_driver_sql(f"DROP VIEW {view}")
        conn.exec_driver_sql("UPDATE mrm_alembic_version SET version_num = '0009'")
    with pytest.raises(StoreError, match="is at schema revision 0009, this mrm needs 0011"):
        HistoryStore(store.url)

    assert migrate.upgrade(store.engine) == ("0009", "0011")
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "postgresql":  # a session far east of UTC: still the UTC date
            conn.exec_driver_sql("SET TIME ZONE 'Pacific/Kiritimati'")
        rows = conn.exec_driver_sql("SELECT person, kind, acted_on FROM mrm_v_review_acts").all()
        accepted = conn.exec_driver_sql("SELECT count(*) FROM mrm_v_acceptances").scalar()
    assert [(r[0], r[1], str(r[2])) for r in rows] == [("rev@example.com", "attest", "2026-09-02")]
    assert accepted == 0


def test_a_0010_history_upgrades_to_0011_with_the_findings_register_and_its_view(any_history):
    """Revision 0011 adds the append-only, chained findings register and the view of each finding's
    current state; a history at 0010 is refused until upgraded, then records and shows findings."""
    from datetime import UTC, date, datetime

    from mrm.store import chain, findings

    store = any_history
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP VIEW mrm_v_findings")
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql("DROP TABLE mrm_findings_events")  # back to what 0010 left
        conn.exec_driver_sql("UPDATE mrm_alembic_version SET version_num = '0010'")
    with pytest.raises(StoreError, match="is at schema revision 0010, this mrm needs 0011"):
        HistoryStore(store.url)

    assert migrate.upgrade(store.engine) == ("0010", "0011")
    finding = {"model_id": "m", "severity": "high", "description": "d", "owner": "o@example.com",
               "plan": None, "due_date": date(2026, 10, 1), "status": "open", "evidence": []}  # fmt: skip
    with store.engine.begin() as conn:
        for status in ("open", "remediation_submitted"):
            event = "added" if status == "open" else "updated"
            findings.insert_event(conn, "VAL-2026-001", event, {**finding, "status": status},
                                  person="v@example.com", authenticated="airflow",
                                  acted_at=datetime(2026, 9, 2, tzinfo=UTC))  # fmt: skip
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT finding_id, status FROM mrm_v_findings").all()
    assert [tuple(r) for r in rows] == [("VAL-2026-001", "remediation_submitted")]
    assert chain.verify(store.engine)[0] == []
