"""Overdue acknowledgements escalate, on SQLite and PostgreSQL: an open RED ticket with no acknowledge act
more than its tier's acknowledge_within_business_days after its first logical date (business days to
the governance date: Thu 1 October 2026 to Mon 5th is 2) gets its priority raised, mirrored to Jira and
announced by the escalation alert, once; an acknowledged or AMBER ticket does not; a ticket escalated
this way is not escalated again by red_open_days; without a role map nothing is expected."""

from __future__ import annotations

from datetime import date

import pytest

from mrm.inventory import load_inventory
from mrm.inventory.roles import Roles
from mrm.notify import outbox
from mrm.ticketing import Breach, BuiltinTracker, sweep
from mrm.ticketing.desk import Actor, Desk
from mrm.ticketing.lifecycle import TicketLifecycle

THU, FRI, MON, TUE = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5), date(2026, 10, 6)
OWNERS = {"card_fraud": "fraud-models@example.com", "aml_alert": "fincrime-analytics@example.com"}


@pytest.fixture
def lifecycle(any_history, examples_dir):
    inventory, _ = load_inventory(examples_dir)
    inventory.policy = inventory.policy.model_copy(
        update={"roles": Roles(model_risk_team=["rev@example.com"])}
    )
    return TicketLifecycle(any_history, inventory)


def file(store, model: str, column: str, severity: str = "RED", tier: int = 1) -> int:
    breach = Breach(
        model, OWNERS[model], f"drift.psi[{column}]", "drift", "psi", column, severity,
        0.3, 0.1, 0.25, "run-1", THU, "psi breached",
    )  # fmt: skip
    return BuiltinTracker(store).file(breach, tier).ticket_id


def escalation_items(store) -> list[dict]:
    return [i for i in outbox.items(store, "all") if i["kind"] in ("alert.escalation", "ticket.escalated")]


def test_a_red_ticket_unacknowledged_past_its_tiers_target_escalates_once(lifecycle):
    store = lifecycle.store
    fraud = file(store, "card_fraud", "amount")  # tier 1: within 1 business day
    answered = file(store, "card_fraud", "tenure")
    file(store, "card_fraud", "region", "AMBER")  # an AMBER ticket never escalates
    aml = file(store, "aml_alert", "amount", tier=2)  # tier 2: within 2
    desk = Desk(store, lifecycle.inventory)
    desk.acknowledge(Actor(OWNERS["card_fraud"]), answered, "on it", THU, today=THU)

    assert sweep.unacknowledged(lifecycle, FRI) == []  # 1 business day: within tier 1's target
    (late,) = sweep.unacknowledged(lifecycle, MON)
    assert late == {"ticket_id": fraud, "key": f"MRM-{fraud}", "model_id": "card_fraud",
                    "business_days": 2, "target": 1}  # fmt: skip

    tracker = BuiltinTracker(store)
    escalated = {t["ticket_id"]: t for t in tracker.tickets(status="all") if t["escalated_at"] is not None}
    assert set(escalated) == {fraud}
    assert escalated[fraud]["priority"] == "Highest"  # RED tier 1 opened High
    (event,) = [e for e in tracker.events(fraud) if e["kind"] == "escalated"]
    assert event["message"] == (
        "Not acknowledged within 1 business day(s), its tier's target (acknowledge_within_business_days): "
        "2 business days by 2026-10-05; escalated to the model risk team."
    )
    items = escalation_items(store)
    assert sorted((i["channel"], i["kind"]) for i in items) == [("email", "alert.escalation"),
                                                               ("jira", "ticket.escalated")]  # fmt: skip
    (alert,) = [i for i in items if i["kind"] == "alert.escalation"]
    assert alert["payload"]["text"] == (
        f"Escalation on 2026-10-05: MRM-{fraud} ([RED] card_fraud: drift.psi[amount] breached on 2026-10-01) "
        "has not been acknowledged within 1 business day(s), its tier's target "
        "(acknowledge_within_business_days): 2 business days by 2026-10-05 (since 2026-10-01, 1 "
        "occurrence(s)). Priority raised to Highest. The model owner is fraud-models@example.com; the model "
        "risk team should follow up with them."
    )
    assert alert["payload"]["lines"][0].endswith(", not acknowledged")
    assert "fraud-models@example.com" not in alert["payload"]["recipients"]  # to the model risk team

    (later,) = sweep.unacknowledged(lifecycle, TUE)  # tier 2's turn; card_fraud not again
    assert later["ticket_id"] == aml and sweep.unacknowledged(lifecycle, TUE) == []
    lifecycle.daily(date(2026, 10, 9))  # red_open_days (5) passed: the acknowledged one escalates now
    assert {t["ticket_id"] for t in tracker.tickets() if t["escalated_at"]} == {fraud, aml, answered}
    assert [e["kind"] for e in tracker.events(fraud)].count("escalated") == 1  # not a second time
    assert len(escalation_items(store)) == 6  # two per ticket (Jira mirror, e-mail alert)


def test_without_a_role_map_no_acknowledgement_is_expected(lifecycle):
    lifecycle.inventory.policy = lifecycle.inventory.policy.model_copy(update={"roles": None})
    file(lifecycle.store, "card_fraud", "amount")
    assert sweep.unacknowledged(lifecycle, TUE) == []
    assert escalation_items(lifecycle.store) == []
