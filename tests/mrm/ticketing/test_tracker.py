"""The built-in tracker: one ticket per model and control while open, one event per logical date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from mrm.store import HistoryStore, schema
from mrm.ticketing import Breach, BuiltinTracker, TicketAction

DAY = date(2026, 9, 10)


@pytest.fixture
def store(any_history) -> HistoryStore:
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_history


@pytest.fixture
def tracker(store) -> BuiltinTracker:
    return BuiltinTracker(store)


def breach(
    day: date = DAY, run_id: str = "run-1", *, model_id: str = "card_fraud", column: str = "amount"
) -> Breach:
    return Breach(
        model_id=model_id,
        owner="fraud-models@example.com",
        control=f"drift.psi[{column}]",
        check="drift",
        metric="psi",
        column=column,
        severity="RED",
        value=0.31,
        amber=0.10,
        red=0.25,
        run_id=run_id,
        logical_date=day,
        message=f"psi of {column} is 0.31 >= red 0.25",
    )


def test_the_first_red_opens_a_ticket_with_one_event(tracker):
    action = tracker.file(breach())

    [ticket] = tracker.tickets()
    assert action == TicketAction(ticket["ticket_id"], f"MRM-{ticket['ticket_id']}", "opened")
    assert ticket["key"] == action.key
    assert (ticket["status"], ticket["severity"], ticket["occurrences"]) == ("open", "RED", 1)
    assert ticket["title"] == "[RED] card_fraud: drift.psi[amount] breached on 2026-09-10"
    assert (ticket["first_logical_date"], ticket["last_logical_date"]) == (DAY, DAY)
    assert [(e["kind"], e["run_id"], e["value"]) for e in tracker.events(action.ticket_id)] == [
        ("opened", "run-1", 0.31)
    ]


def test_the_same_control_on_another_date_is_an_occurrence_on_the_open_ticket(tracker):
    opened = tracker.file(breach(DAY, "run-1"))

    action = tracker.file(breach(DAY + timedelta(days=1), "run-2"))

    assert action == TicketAction(opened.ticket_id, opened.key, "occurrence")
    [ticket] = tracker.tickets()
    assert ticket["occurrences"] == 2
    assert (ticket["first_logical_date"], ticket["last_logical_date"]) == (DAY, DAY + timedelta(days=1))
    assert [e["kind"] for e in tracker.events(opened.ticket_id)] == ["opened", "occurrence"]


def test_a_rerun_of_a_date_already_on_the_ticket_adds_nothing(tracker):
    opened = tracker.file(breach(DAY, "run-1"))
    tracker.file(breach(DAY + timedelta(days=1), "run-2"))

    again = [tracker.file(breach(DAY, "rerun-1")), tracker.file(breach(DAY + timedelta(days=1), "rerun-2"))]

    assert [a.action for a in again] == ["already_recorded", "already_recorded"]
    assert {a.ticket_id for a in again} == {opened.ticket_id}
    assert [e["run_id"] for e in tracker.events(opened.ticket_id)] == ["run-1", "run-2"]
    assert tracker.tickets()[0]["occurrences"] == 2


def test_another_control_or_another_model_gets_its_own_ticket(tracker):
    first = tracker.file(breach())
    other_column = tracker.file(breach(column="country"))
    other_model = tracker.file(breach(model_id="credit_line"))

    assert [a.action for a in (first, other_column, other_model)] == ["opened"] * 3
    assert len({first.ticket_id, other_column.ticket_id, other_model.ticket_id}) == 3
    assert [(t["model_id"], t["control"]) for t in tracker.tickets()] == [
        ("card_fraud", "drift.psi[amount]"),
        ("card_fraud", "drift.psi[country]"),
        ("credit_line", "drift.psi[amount]"),
    ]
    assert [t["control"] for t in tracker.tickets(model_id="credit_line")] == ["drift.psi[amount]"]


def test_after_a_ticket_is_closed_a_new_breach_opens_a_new_ticket(tracker, store):
    first = tracker.file(breach())
    with store.engine.begin() as conn:
        conn.execute(update(schema.tickets).values(status="closed", closed_by="2lod@example.com"))

    again = tracker.file(breach(DAY + timedelta(days=3), "run-4"))

    assert again.action == "opened" and again.ticket_id != first.ticket_id
    assert [t["ticket_id"] for t in tracker.tickets()] == [again.ticket_id]
    assert [t["status"] for t in tracker.tickets(status="all")] == ["closed", "open"]


def test_the_database_allows_only_one_open_ticket_per_model_and_control(tracker, store):
    tracker.file(breach())
    [row] = tracker.tickets()
    duplicate = {k: v for k, v in row.items() if k not in ("ticket_id", "key")}

    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(schema.tickets.insert().values(**duplicate))

    with store.engine.begin() as conn:  # a closed twin is fine
        conn.execute(schema.tickets.insert().values(**{**duplicate, "status": "closed"}))
    assert len(tracker.tickets(status="all")) == 2


def test_a_backfilled_earlier_date_moves_the_first_date_back(tracker):
    tracker.file(breach(DAY, "run-10"))

    tracker.file(breach(DAY - timedelta(days=5), "backfill-5"))

    [ticket] = tracker.tickets()
    assert ticket["last_logical_date"] == DAY
    assert ticket["first_logical_date"] == DAY - timedelta(days=5)


# -- lifecycle: returned to green, escalation, closing by a person --------------------------------------
def test_returned_to_green_is_noted_once_per_transition_and_the_ticket_stays_open(tracker, store):
    opened = tracker.file(breach())
    with store.engine.begin() as conn:
        first = tracker.returned_to_green_in(
            conn, opened.ticket_id, "run-2", DAY + timedelta(days=1), 0.02, "green"
        )
    with store.engine.begin() as conn:  # still GREEN the next day: nothing new
        again = tracker.returned_to_green_in(
            conn, opened.ticket_id, "run-3", DAY + timedelta(days=2), 0.01, "g"
        )
    tracker.file(breach(DAY + timedelta(days=3), "run-4"))  # RED again, then GREEN again: a new note
    with store.engine.begin() as conn:
        second = tracker.returned_to_green_in(
            conn, opened.ticket_id, "run-5", DAY + timedelta(days=4), 0.0, "g"
        )
    assert first is not None and again is None and second is not None
    kinds = [e["kind"] for e in tracker.events(opened.ticket_id)]
    assert kinds == ["opened", "returned_to_green", "occurrence", "returned_to_green"]
    assert tracker.tickets()[0]["status"] == "open"


def test_escalation_raises_the_priority_once(tracker, store):
    opened = tracker.file(breach(), tier=1)
    assert tracker.tickets()[0]["priority"] == "High"
    with store.engine.begin() as conn:
        done = tracker.escalate_in(conn, opened.ticket_id, DAY + timedelta(days=6), "unresolved")
    with store.engine.begin() as conn:
        twice = tracker.escalate_in(conn, opened.ticket_id, DAY + timedelta(days=7), "unresolved")
    assert done.ticket["priority"] == "Highest" and twice is None
    ticket = tracker.tickets()[0]
    assert ticket["priority"] == "Highest" and ticket["escalated_at"] is not None


def test_closing_records_who_and_why_and_needs_a_reason(tracker, store):
    from mrm.errors import MrmError
    from mrm.ticketing.tracker import TicketNotFoundError

    opened = tracker.file(breach())
    with pytest.raises(MrmError, match="needs a reason"), store.engine.begin() as conn:
        tracker.close_in(conn, opened.ticket_id, "alice", "  ", DAY)
    with store.engine.begin() as conn:
        tracker.close_in(conn, opened.ticket_id, "alice", "new market launched in NL; re-baselined", DAY)
    ticket = tracker.tickets(status="all")[0]
    assert (ticket["status"], ticket["closed_by"]) == ("closed", "alice")
    assert ticket["closed_reason"] == "new market launched in NL; re-baselined"
    assert tracker.events(opened.ticket_id)[-1]["kind"] == "closed"
    with (
        pytest.raises(TicketNotFoundError, match=f"{opened.key} is already closed"),
        store.engine.begin() as conn,
    ):
        tracker.close_in(conn, opened.ticket_id, "bob", "again", DAY)
    with pytest.raises(TicketNotFoundError, match="MRM-999999 does not exist"), store.engine.begin() as conn:
        tracker.close_in(conn, 999999, "bob", "no such", DAY)


def test_ticket_ids_are_parsed_from_key_or_number():
    from mrm.ticketing.tracker import TicketNotFoundError, parse_ticket_id

    assert parse_ticket_id("MRM-12") == parse_ticket_id("mrm-12") == parse_ticket_id("12") == 12
    with pytest.raises(TicketNotFoundError, match="not a ticket id"):
        parse_ticket_id("JIRA-12")
