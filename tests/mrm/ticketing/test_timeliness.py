"""Time to acknowledge and time to close against the tier's targets, counted by hand on the calendar of
October 2026 (Thu 1st; weekends 3-4 and 10-11). card_fraud is tier 1 (acknowledge within 1 business
day, close within 10 days), aml_alert tier 2 (2 business days, 20 days)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import file_red_ticket

from mrm.inventory import load_inventory
from mrm.inventory.policy import Policy
from mrm.store import acts as store_acts
from mrm.store import tickets as store_tickets
from mrm.ticketing import timeliness
from mrm.ticketing.desk import Actor, Desk
from mrm.ticketing.timeliness import LATE, MET, OVERDUE, PENDING


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


@pytest.fixture
def inv(examples_dir):
    return load_inventory(examples_dir)[0]


def ticket(tid: int, opened: datetime, closed: datetime | None = None, model: str = "card_fraud") -> dict:
    return {
        "ticket_id": tid,
        "model_id": model,
        "owner": f"{model}-owner@example.com",
        "severity": "RED",
        "status": "closed" if closed else "open",
        "opened_at": opened,
        "closed_at": closed,
    }


def ack(tid: int, when: datetime) -> dict:
    return {"kind": "acknowledge", "ticket_id": tid, "acted_at": when}


ACK_CASES = [
    # (what, model, opened, acknowledged, closed, now, status, business days, hours, stopped by)
    (
        "Fri afternoon to Mon morning",
        "card_fraud",
        at(2, 16),
        at(5),
        None,
        at(9),
        MET,
        1,
        65.0,
        "acknowledge",
    ),
    (
        "Fri afternoon to Tue morning",
        "card_fraud",
        at(2, 16),
        at(6),
        None,
        at(9),
        LATE,
        2,
        89.0,
        "acknowledge",
    ),
    (
        "opened Saturday, acknowledged Monday",
        "card_fraud",
        at(3, 10),
        at(5, 8),
        None,
        at(9),
        MET,
        1,
        46.0,
        "acknowledge",
    ),
    ("the same day", "card_fraud", at(1), at(1, 17), None, at(9), MET, 0, 8.0, "acknowledge"),
    ("running on Friday evening", "card_fraud", at(1), None, None, at(2, 18), PENDING, 1, 33.0, None),
    ("running over the weekend", "card_fraud", at(2), None, None, at(4, 9), PENDING, 0, 48.0, None),
    ("running on Monday", "card_fraud", at(1), None, None, at(5), OVERDUE, 2, 96.0, None),
    ("tier 2 on Monday", "aml_alert", at(1), None, None, at(5), PENDING, 2, 96.0, None),
    ("tier 2 on Tuesday", "aml_alert", at(1), None, None, at(6), OVERDUE, 3, 120.0, None),
    ("closed before any acknowledgement", "card_fraud", at(1), None, at(1, 15), at(9), MET, 0, 6.0, "close"),
    ("closed late without one", "card_fraud", at(1), None, at(6), at(9), LATE, 3, 120.0, "close"),
    ("acknowledged, then closed", "card_fraud", at(1), at(2), at(8), at(9), MET, 1, 24.0, "acknowledge"),
    (
        "a model gone from the inventory: tier 3",
        "retired_x",
        at(1),
        None,
        None,
        at(7),
        PENDING,
        4,
        144.0,
        None,
    ),
    ("a model gone, a week on", "retired_x", at(1), None, None, at(9), OVERDUE, 6, 192.0, None),
]


@pytest.mark.parametrize(
    ("model", "opened", "acked", "closed", "now", "status", "bdays", "hours", "by"),
    [c[1:] for c in ACK_CASES],
    ids=[c[0] for c in ACK_CASES],
)
def test_time_to_acknowledge(inv, model, opened, acked, closed, now, status, bdays, hours, by):
    acts = [ack(1, acked)] if acked else []
    (row,) = timeliness.measure([ticket(1, opened, closed, model)], acts, inv, now)
    clock = row.acknowledge
    assert (clock.status, clock.business_days, clock.stopped_by) == (status, bdays, by)
    assert clock.hours == pytest.approx(hours)
    assert clock.unit == "business days" and clock.target == {"card_fraud": 1, "aml_alert": 2}.get(model, 5)


CLOSE_CASES = [
    # (what, opened, closed, now, status, calendar days, business days)
    ("closed on the tenth day", at(1), at(11, 20), at(20), MET, 10, 6),
    ("closed on the eleventh", at(1), at(12), at(20), LATE, 11, 7),
    ("open on the tenth day", at(1), None, at(11, 23), PENDING, 10, 6),
    ("open on the eleventh", at(1), None, at(12, 0), OVERDUE, 11, 7),
]


@pytest.mark.parametrize(
    ("opened", "closed", "now", "status", "days", "bdays"),
    [c[1:] for c in CLOSE_CASES],
    ids=[c[0] for c in CLOSE_CASES],
)
def test_time_to_close_counts_calendar_days(inv, opened, closed, now, status, days, bdays):
    (row,) = timeliness.measure([ticket(1, opened, closed)], [], inv, now)
    assert (row.close.status, row.close.days, row.close.business_days) == (status, days, bdays)
    assert (row.close.target, row.close.unit) == (10, "days")
    assert row.close.hours == pytest.approx(((closed or now) - opened).total_seconds() / 3600)


def test_the_first_acknowledgement_counts_and_naive_times_are_utc(inv):
    naive = at(5).replace(tzinfo=None)  # as SQLite hands it back
    acts = [ack(1, at(6)), ack(1, naive), {"kind": "comment", "ticket_id": 1, "acted_at": at(2)}]
    (row,) = timeliness.measure([ticket(1, at(2, 16))], acts, inv, at(9))
    assert (row.acknowledge.stopped, row.acknowledge.status) == (at(5), MET)


def test_a_tiers_own_targets_replace_the_defaults(inv):
    inv.policy = Policy.model_validate(
        {"tiers": {1: {"acknowledge_within_business_days": 3, "close_within_days": 5}}}
    )
    (row,) = timeliness.measure([ticket(1, at(1))], [], inv, at(6))
    assert (row.acknowledge.status, row.acknowledge.target) == (PENDING, 3)
    assert (row.close.status, row.close.target) == (PENDING, 5)
    (row,) = timeliness.measure([ticket(1, at(1))], [], inv, at(7))
    assert (row.acknowledge.status, row.close.status) == (OVERDUE, OVERDUE)


def test_summaries_per_model_and_owner(inv):
    rows = timeliness.measure(
        [
            ticket(1, at(1), at(2)),  # acknowledged after 4 h (met), closed after 24 h (met)
            ticket(2, at(1)),  # acknowledged after 30 h (met), open: pending on the 5th
            ticket(3, at(1)),  # nothing: acknowledgement overdue on the 5th
            ticket(4, at(1), at(1, 11), "aml_alert"),  # closed after 2 h: both met
        ],
        [ack(1, at(1, 13)), ack(2, at(2, 15))],
        inv,
        at(5),
    )
    models = timeliness.by_model(rows)
    assert list(models) == ["aml_alert", "card_fraud"]
    fraud = models["card_fraud"]
    assert fraud.tickets == 3
    assert (fraud.acknowledge.met, fraud.acknowledge.late, fraud.acknowledge.overdue) == (2, 0, 1)
    assert fraud.acknowledge.median_hours == pytest.approx(17.0)  # median of 4 and 30
    assert fraud.acknowledge.median_business_days == 0.5  # median of 0 and 1
    assert (fraud.close.met, fraud.close.pending, fraud.close.stopped) == (1, 2, 1)
    assert fraud.close.median_hours == pytest.approx(24.0)
    assert timeliness.by_owner(rows)["aml_alert-owner@example.com"].close.median_hours == pytest.approx(2.0)
    assert timeliness.tally([]) == timeliness.Tally()


def test_measured_from_a_real_store(any_history, examples_dir):
    inventory = load_inventory(examples_dir)[0]
    ids = [file_red_ticket(any_history, c) for c in ("amount", "tenure")]
    Desk(any_history, inventory).acknowledge(
        Actor("fraud-models@example.com"), ids[0], "looking", datetime.now(UTC).date()
    )
    with any_history.engine.connect() as conn:
        tickets = store_tickets.tickets(conn, status="all")
        acts = store_acts.acts(conn, kinds=("acknowledge",))
    soon, later = datetime.now(UTC), datetime.now(UTC) + timedelta(days=8)
    first, second = timeliness.measure(tickets, acts, inventory, soon)
    assert (first.key, first.acknowledge.stopped_by, first.acknowledge.status) == (
        f"MRM-{ids[0]}", "acknowledge", MET,
    )  # fmt: skip
    assert first.acknowledge.hours < 1 and first.tier == 1
    assert (second.acknowledge.status, second.close.status) == (PENDING, PENDING)
    first, second = timeliness.measure(tickets, acts, inventory, later)
    assert (first.acknowledge.status, second.acknowledge.status) == (MET, OVERDUE)
