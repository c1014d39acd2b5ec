"""The governance run's desk rules on a real history: risk acceptances in force and expiring within a
week are findings and in the portfolio summary; an expired one is told to the owner once; run days not
attested within the tier's target are a finding (AMBER, RED past twice the target), only with a role
map. Governance date: Mon 5 or Tue 6 October 2026; card_fraud is tier 1 (attest within 1 business
day), aml_alert tier 2 (within 2)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from support import local_inventory

from mrm import governance
from mrm.inventory import load_inventory
from mrm.inventory.roles import Roles
from mrm.notify import outbox
from mrm.store import HistoryStore, RunRecord
from mrm.ticketing import Breach, BuiltinTracker
from mrm.ticketing.desk import Actor, Desk
from mrm.ticketing.lifecycle import TicketLifecycle

THU, FRI, SAT, MON, TUE = (date(2026, 10, d) for d in (1, 2, 3, 5, 6))
REVIEWER = Actor("rev@example.com")
OWNER = "fraud-models@example.com"


@pytest.fixture
def inventory(tmp_path, mrm_home):
    folder = local_inventory(tmp_path / "inventory", (tmp_path / "no-data").as_uri(), notifications=True)
    inventory, _ = load_inventory(folder)
    inventory.policy = inventory.policy.model_copy(update={"roles": Roles(model_risk_team=[REVIEWER.person])})
    return inventory


@pytest.fixture
def store(tmp_path):
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    yield store
    store.engine.dispose()


def findings(store: HistoryStore, model_id: str, day: date) -> dict[str, dict]:
    rows = store.metrics(model_id=model_id, since=day, until=day, kinds=("governance",))
    return {r["metric"]: r for r in rows}


def monitoring_run(store: HistoryStore, model_id: str, day: date, kind: str = "monitoring") -> None:
    now = datetime.now(UTC)
    run = RunRecord(uuid.uuid4().hex, model_id, "1", day, "completed", now, now, "test", "h" * 64, "GREEN",
                    kind=kind)  # fmt: skip
    store.record_run(run)


def red_ticket(store: HistoryStore, column: str, model_id: str = "card_fraud") -> int:
    breach = Breach(model_id, OWNER, f"drift.psi[{column}]", "drift", "psi", column, "RED",
                    0.3, 0.1, 0.25, "run-1", THU, "psi breached")  # fmt: skip
    return BuiltinTracker(store).file(breach, 1).ticket_id


# -- risk acceptances -----------------------------------------------------------------------------------
def accept(store, inventory, column: str, until: date) -> int:
    tid = red_ticket(store, column)
    done = Desk(store, inventory).accept(
        REVIEWER, tid, "known", until, ["watch"], today=until - timedelta(days=10)
    )
    return done.act


def test_acceptances_in_force_and_expiring_are_findings_and_in_the_summary(store, inventory):
    first = accept(store, inventory, "amount", MON + timedelta(days=3))  # ends Thursday: expiring
    accept(store, inventory, "tenure", MON + timedelta(days=30))
    accept(store, inventory, "region", MON + timedelta(days=7))  # the seventh day: expiring too
    governance.run_governance(MON, "test", inventory, store)

    found = findings(store, "card_fraud", MON)
    held, soon = found["risk_accepted"], found["risk_acceptance_expiring"]
    assert (held["status"], held["value"]) == ("GREEN", 3.0)
    assert [a["control"] for a in held["detail"]["accepted"]] == [
        "drift.psi[amount]", "drift.psi[region]", "drift.psi[tenure]",
    ]  # fmt: skip
    assert held["detail"]["accepted"][0] == {
        "control": "drift.psi[amount]", "until": "2026-10-08", "by": "rev@example.com",
        "ticket": f"MRM-{first['ticket_id']}",
    }  # fmt: skip
    assert (soon["status"], soon["value"]) == ("AMBER", 3.0)  # days to the first expiry
    assert [a["until"] for a in soon["detail"]["expiring"]] == ["2026-10-08", "2026-10-12"]
    assert "risk_accepted" not in findings(store, "aml_alert", MON)  # nothing accepted there

    TicketLifecycle(store, inventory).daily(MON)
    items = outbox.items(store, "all")
    (summary,) = [i for i in items if i["kind"] == "alert.summary"]
    assert "\nRisk acceptances in force: 3, 2 expiring within a week:\n" in summary["payload"]["text"]
    assert summary["payload"]["lines"][-3:] == [
        "accepted: card_fraud drift.psi[amount] until 2026-10-08 by rev@example.com (expiring soon)",
        "accepted: card_fraud drift.psi[region] until 2026-10-12 by rev@example.com (expiring soon)",
        "accepted: card_fraud drift.psi[tenure] until 2026-11-04 by rev@example.com",
    ]
    digests = [i["payload"]["text"] for i in items if i["kind"] == "alert.digest"]
    assert any("card_fraud: governance.risk_acceptance_expiring" in t for t in digests)  # the owner's


def test_no_acceptance_expiring_within_a_week_is_green(store, inventory):
    accept(store, inventory, "amount", MON + timedelta(days=8))
    governance.run_governance(MON, "test", inventory, store)
    assert findings(store, "card_fraud", MON)["risk_acceptance_expiring"]["status"] == "GREEN"


def test_an_expired_acceptance_is_told_to_the_owner_once(any_history, inventory):
    store = any_history
    gone = accept(store, inventory, "amount", FRI)  # held through Friday
    accept(store, inventory, "tenure", FRI)
    accept(store, inventory, "tenure", MON + timedelta(days=20))  # renewed: not expired
    governance.run_governance(FRI, "test", inventory, store)
    assert [i for i in outbox.items(store, "all") if i["kind"] == "alert.acceptance_expired"] == []

    governance.run_governance(SAT, "test", inventory, store)
    told = [i for i in outbox.items(store, "all") if i["kind"] == "alert.acceptance_expired"]
    assert sorted(i["channel"] for i in told) == ["email", "slack", "sns"]  # the policy's red_alerts
    assert {i["key"] for i in told} == {
        f"{ch}:acceptance_expired:{gone['act_id']}" for ch in ("email", "slack", "sns")
    }
    payload = told[0]["payload"]
    assert payload["subject"] == "[EXPIRED] card_fraud: risk acceptance of drift.psi[amount] ended"
    assert payload["recipients"][:2] == [OWNER, "model-risk@example.com"]
    assert payload["text"] == (
        "The risk acceptance of drift.psi[amount] of Card-not-present fraud score (card_fraud, tier 1), "
        f"accepted by rev@example.com until 2026-10-02 on MRM-{gone['ticket_id']}, has expired (governance "
        "run of 2026-10-03). "
        "The control is monitored as before: a RED result opens a ticket and alerts again. Model owner: "
        "fraud-models@example.com. Next step: fix the cause, or ask the model risk team for a new acceptance "
        "on the Model Risk page."
    )
    held = findings(store, "card_fraud", SAT)["risk_accepted"]["detail"]["accepted"]
    assert [(a["control"], a["until"]) for a in held] == [("drift.psi[tenure]", "2026-10-25")]

    governance.run_governance(MON, "test", inventory, store)  # later runs tell nobody again
    governance.run_governance(SAT, "test", inventory, store)
    again = [i for i in outbox.items(store, "all") if i["kind"] == "alert.acceptance_expired"]
    assert len(again) == 3


# -- attested reviews -----------------------------------------------------------------------------------
def test_run_days_not_attested_in_time_are_a_finding(store, inventory):
    for day in (THU, FRI, SAT):
        monitoring_run(store, "card_fraud", day)
    monitoring_run(store, "aml_alert", THU, kind="performance")

    governance.run_governance(MON, "test", inventory, store)
    fraud = findings(store, "card_fraud", MON)["review_not_attested"]
    assert (fraud["status"], fraud["value"]) == ("AMBER", 1.0)  # Thu: 2 business days; Fri, Sat: 1
    assert fraud["detail"] == {"days": ["2026-10-01"], "target_business_days": 1, "oldest_business_days": 2}
    assert findings(store, "aml_alert", MON)["review_not_attested"]["status"] == "GREEN"  # 2, within 2
    assert "review_not_attested" not in findings(store, "credit_line", MON)  # no runs: nothing to attest

    governance.run_governance(TUE, "test", inventory, store)
    fraud = findings(store, "card_fraud", TUE)["review_not_attested"]
    assert (fraud["status"], fraud["detail"]["days"]) == ("RED", ["2026-10-01", "2026-10-02", "2026-10-03"])
    assert findings(store, "aml_alert", TUE)["review_not_attested"]["status"] == "AMBER"  # 3 > 2
    tickets = [t for t in BuiltinTracker(store).tickets() if t["control"] == "governance.review_not_attested"]
    assert [(t["model_id"], t["owner"]) for t in tickets] == [("card_fraud", "model-risk@example.com")]


def test_the_portfolio_or_the_models_attestation_covers_a_day(store, inventory):
    for day in (THU, FRI, SAT):
        monitoring_run(store, "card_fraud", day)
    monitoring_run(store, "aml_alert", THU)
    desk = Desk(store, inventory)
    desk.attest(REVIEWER, THU, None, "portfolio reviewed", today=TUE)
    desk.attest(REVIEWER, FRI, "card_fraud", "reviewed", today=TUE)
    desk.attest(REVIEWER, SAT, "aml_alert", "the other model", today=TUE)

    governance.run_governance(TUE, "test", inventory, store)
    fraud = findings(store, "card_fraud", TUE)["review_not_attested"]
    assert (fraud["status"], fraud["detail"]["days"]) == ("AMBER", ["2026-10-03"])  # Sat: 2 business days
    assert findings(store, "aml_alert", TUE)["review_not_attested"]["status"] == "GREEN"

    desk.attest(REVIEWER, SAT, "card_fraud", "done", today=TUE)
    governance.run_governance(TUE, "test", inventory, store, reason="attested since")
    assert findings(store, "card_fraud", TUE)["review_not_attested"]["status"] == "GREEN"


def test_without_a_role_map_no_attestation_is_expected(store, inventory):
    inventory.policy = inventory.policy.model_copy(update={"roles": None})
    monitoring_run(store, "card_fraud", THU)
    governance.run_governance(TUE, "test", inventory, store)
    assert "review_not_attested" not in findings(store, "card_fraud", TUE)


def test_governance_and_backtest_runs_need_no_attestation(store, inventory):
    monitoring_run(store, "card_fraud", THU, kind="backtest")
    governance.run_governance(MON, "test", inventory, store)  # its own governance run of Monday too
    governance.run_governance(TUE, "test", inventory, store)
    assert "review_not_attested" not in findings(store, "card_fraud", TUE)
