"""The findings register is rows of the chained history: each event holds the whole finding with who,
how authenticated, when and why; the current state is the latest event; `mrm audit verify` names an
event edited, deleted or inserted behind mrm's back, on SQLite and PostgreSQL (where the triggers refuse
the UPDATE in the first place); a finding id is added once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from mrm.errors import StoreError
from mrm.store import chain, findings

WHEN = datetime(2026, 9, 2, 8, 30, tzinfo=UTC)
FINDING = {"model_id": "card_fraud", "severity": "high", "description": "no override monitoring",
           "owner": "owner@example.com", "plan": None, "due_date": date(2026, 10, 1), "status": "open",
           "evidence": ["s3://val/report.pdf"]}  # fmt: skip


def record(store, finding_id: str, event: str, minutes: int = 0, **changes) -> int:
    with store.engine.begin() as conn:
        return findings.insert_event(
            conn, finding_id, event, {**FINDING, **changes}, person="val@example.com",
            authenticated="cli: not authenticated by Airflow", acted_at=WHEN + timedelta(minutes=minutes),
            via="cli:val (os user, not authenticated by Airflow)", reason="why",
        )  # fmt: skip


def write(store) -> None:
    record(store, "VAL-2026-001", "added")
    record(store, "VAL-2026-002", "added", severity="low", model_id="credit_line")
    record(store, "VAL-2026-001", "remediation_submitted", 5, status="remediation_submitted", plan="fix")


def tamper(store, sql: str) -> None:
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql(sql)


def test_the_current_state_is_the_latest_event_and_the_history_keeps_every_one(any_history):
    write(any_history)
    with any_history.engine.connect() as conn:
        current = findings.findings(conn)
        submitted = findings.findings(conn, status="remediation_submitted")
        of_credit = findings.findings(conn, model_id="credit_line")
        one = findings.finding(conn, "VAL-2026-001")
        trail = findings.history(conn, "VAL-2026-001")
        missing = findings.finding(conn, "VAL-2026-999")
        ids = findings.known_ids(conn)
        view = conn.exec_driver_sql("SELECT finding_id, status, plan FROM mrm_v_findings ORDER BY 1").all()
    assert [(f["finding_id"], f["status"]) for f in current] == [
        ("VAL-2026-001", "remediation_submitted"),
        ("VAL-2026-002", "open"),
    ]
    assert [f["finding_id"] for f in submitted] == ["VAL-2026-001"]
    assert [f["finding_id"] for f in of_credit] == ["VAL-2026-002"]
    assert (one["plan"], one["added_at"], one["acted_at"], one["evidence"]) == (
        "fix", WHEN, WHEN + timedelta(minutes=5), ["s3://val/report.pdf"],
    )  # fmt: skip
    assert [e["event"] for e in trail] == ["added", "remediation_submitted"]
    assert trail[0]["person"] == "val@example.com" and trail[0]["via"].startswith("cli:val")
    assert missing is None and ids == {"VAL-2026-001", "VAL-2026-002"}
    assert [tuple(r) for r in view] == [("VAL-2026-001", "remediation_submitted", "fix"),
                                        ("VAL-2026-002", "open", None)]  # fmt: skip
    assert chain.verify(any_history.engine)[0] == []


def test_an_unknown_event_a_missing_field_or_a_naive_time_is_refused(any_history):
    with any_history.engine.begin() as conn:
        with pytest.raises(StoreError, match="unknown finding event 'reopened'; the events are added"):
            findings.insert_event(conn, "V-1", "reopened", FINDING, person="p", authenticated="airflow",
                                  acted_at=WHEN)  # fmt: skip
        with pytest.raises(StoreError, match="finding V-1 event added lacks severity"):
            no_severity = {k: v for k, v in FINDING.items() if k != "severity"}
            findings.insert_event(conn, "V-1", "added", no_severity, person="p", authenticated="airflow",
                                  acted_at=WHEN)  # fmt: skip
        with pytest.raises(StoreError, match="naive datetime"):
            findings.insert_event(conn, "V-1", "added", FINDING, person="p", authenticated="airflow",
                                  acted_at=datetime(2026, 9, 2))  # noqa: DTZ001  # fmt: skip


def test_a_finding_id_is_added_once(any_history):
    record(any_history, "VAL-2026-001", "added")
    with pytest.raises(sa.exc.IntegrityError):
        record(any_history, "VAL-2026-001", "added")
    with any_history.engine.connect() as conn:
        assert len(findings.history(conn, "VAL-2026-001")) == 1


def test_verify_names_a_finding_edited_with_sql(any_history):
    write(any_history)
    tamper(
        any_history,
        "UPDATE mrm_findings_events SET due_date = '2027-12-31' WHERE finding_id = 'VAL-2026-002'",
    )
    with any_history.engine.connect() as conn:
        (event_id,) = conn.exec_driver_sql(
            "SELECT event_id FROM mrm_findings_events WHERE finding_id = 'VAL-2026-002'"
        ).one()
        seq = conn.exec_driver_sql(
            f"SELECT seq FROM mrm_chain WHERE table_name = 'mrm_findings_events' AND row_key = '{event_id}'"
        ).scalar()
    assert chain.verify(any_history.engine)[0] == [
        f"chain entry {seq} (mrm_findings_events {event_id}): the record was edited after it was written"
    ]


def test_verify_names_an_event_deleted_or_inserted_outside_mrm(any_history):
    write(any_history)
    with any_history.engine.connect() as conn:
        last = findings.history(conn, "VAL-2026-001")[-1]["event_id"]
    tamper(any_history, f"DELETE FROM mrm_findings_events WHERE event_id = {last}")  # the submission
    tamper(
        any_history,
        "INSERT INTO mrm_findings_events (event_id, finding_id, event, model_id, severity, description, "
        "owner, due_date, status, evidence, person, authenticated, acted_at) VALUES "
        f"({last + 1}, 'VAL-2026-002', 'verified_closed', 'credit_line', 'low', 'd', 'o', '2026-10-01', "
        "'verified_closed', '[]', 'mallory', 'airflow', '2026-09-03 00:00:00+00')",
    )
    problems = chain.verify(any_history.engine)[0]
    assert len(problems) == 2
    assert problems[0].endswith(f"(mrm_findings_events {last}): the record was deleted")
    assert problems[1] == (
        f"mrm_findings_events {last + 1}: the record is not in the chain (inserted outside mrm)"
    )


def test_postgresql_refuses_changing_or_deleting_an_event(any_history):
    if any_history.engine.dialect.name != "postgresql":
        pytest.skip("the append-only triggers are PostgreSQL's")
    write(any_history)
    for sql, op in (("UPDATE mrm_findings_events SET status = 'verified_closed'", "UPDATE"),
                    ("DELETE FROM mrm_findings_events", "DELETE")):  # fmt: skip
        refused = pytest.raises(sa.exc.DBAPIError, match=f"append-only: {op} on mrm_findings_events")
        with refused, any_history.engine.begin() as conn:
            conn.exec_driver_sql(sql)
