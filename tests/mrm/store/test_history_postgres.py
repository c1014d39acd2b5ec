"""The same history and ticket code against PostgreSQL (the production store), on the local server."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support import empty_history

from mrm import pipeline
from mrm.core.results import control_key
from mrm.store import schema
from mrm.ticketing import BuiltinTracker

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_history(pg_url, mrm_home, file_inventory, monkeypatch):
    monkeypatch.setenv("MRM_DB_URL", pg_url)
    store = pipeline.get_store()
    empty_history(store.engine)  # each test starts from empty tables
    return store


def test_a_monitoring_run_lands_in_postgresql(pg_history):
    from datetime import date

    result = pipeline.run_model("card_fraud", date(2026, 9, 25))
    assert result["overall_status"] == "RED"
    (run,) = pg_history.runs("card_fraud")
    assert run["status"] == "completed" and run["started_at"].tzinfo is not None
    rows = pg_history.metrics(run_id=run["run_id"])
    nulls = next(r for r in rows if r["metric"] == "null_rate" and r["column"] == "device_score")
    assert nulls["status"] == "RED" and nulls["value"] == pytest.approx(0.3005836575875486, abs=0.05)
    red = {
        control_key(r["check"], r["metric"], r["column"], r["segment"]) for r in rows if r["status"] == "RED"
    }
    assert "quality.null_rate[device_score]" in red and "quality.null_rate[device_score]{country=NL}" in red
    assert sorted(t["control"] for t in BuiltinTracker(pg_history).tickets()) == sorted(red)


def test_a_rerun_supersedes_and_adds_no_ticket_occurrence(pg_history):
    from datetime import date

    for _ in range(2):
        pipeline.run_model("card_fraud", date(2026, 9, 26))
    assert len(pg_history.runs("card_fraud")) == 2
    current = pg_history.metrics("card_fraud")
    assert len({r["run_id"] for r in current}) == 1
    assert len(pg_history.metrics("card_fraud", all_runs=True)) == 2 * len(current)
    tickets = BuiltinTracker(pg_history).tickets()
    assert tickets and all(t["occurrences"] == 1 for t in tickets)
    assert len({t["control"] for t in tickets}) == len(tickets)


def test_the_database_refuses_a_second_open_ticket_for_the_same_control(pg_history):
    from datetime import UTC, date, datetime

    row = dict(
        model_id="m", control="drift.psi[x]", check="drift", metric="psi", column="x", status="open",
        severity="RED", title="t", owner="o@example.com", opened_at=datetime.now(UTC), opened_run_id="r",
        first_logical_date=date(2026, 9, 1), last_logical_date=date(2026, 9, 1), occurrences=1,
    )  # fmt: skip
    with pg_history.engine.begin() as conn:
        conn.execute(schema.tickets.insert().values(**row))
    with pytest.raises(sa.exc.IntegrityError), pg_history.engine.begin() as conn:
        conn.execute(schema.tickets.insert().values(**row))
    with pg_history.engine.begin() as conn:  # a closed one with the same key is fine
        conn.execute(schema.tickets.insert().values(**{**row, "status": "closed"}))
