"""Escalation alerts are routed like every other notification: the policy's ``escalation.alerts`` by
default (e-mail to the model risk team), a model file's ``notifications.escalation.alerts`` instead
(``[]``: none). The ticket's escalation itself (priority raised, in the tracker) does not depend on it."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from support import local_inventory

from mrm import pipeline
from mrm.errors import InventoryError
from mrm.notify import outbox

MODEL = "card_fraud"
RED_DAY = date(2026, 9, 5)  # the NL device-score incident: RED


@pytest.fixture
def inventory(tmp_path, monkeypatch, mrm_home, demo_files):
    """The example inventory with nothing routed but escalations (after 2 days, by e-mail)."""
    folder = local_inventory(tmp_path / "inventory", demo_files)
    policy = yaml.safe_load((folder / "_policy.yaml").read_text())
    policy["notifications"] = {"escalation": {"red_open_days": 2, "alerts": ["email"]}}
    (folder / "_policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    monkeypatch.setenv("MRM_INVENTORY", str(folder))
    return folder


def model_notifications(folder, notifications: dict) -> None:
    path = folder / f"{MODEL}.yaml"
    entry = yaml.safe_load(path.read_text())
    entry["notifications"] = notifications
    path.write_text(yaml.safe_dump(entry, sort_keys=False))


def escalate() -> list[tuple[str, str]]:
    """Run the RED day, then the daily pass two days later; the (channel, kind) of every outbox item."""
    pipeline.run_model(MODEL, RED_DAY)
    pipeline.notifier().daily(date(2026, 9, 7))
    assert escalated_tickets()
    return [(i["channel"], i["kind"]) for i in outbox.items(pipeline.get_store(), "all")]


def escalated_tickets() -> list[dict]:
    from mrm.ticketing.tracker import BuiltinTracker

    return [t for t in BuiltinTracker(pipeline.get_store()).tickets() if t["escalated_at"] is not None]


def test_the_policy_default_announces_escalations(inventory):
    items = escalate()
    assert items and set(items) == {("email", "alert.escalation")}
    assert len(items) == len(escalated_tickets())


def test_a_model_file_turns_its_escalation_alerts_off(inventory):
    model_notifications(inventory, {"tickets": [], "red_alerts": [], "escalation": {"alerts": []}})
    assert escalate() == []
    assert escalated_tickets() and all(t["priority"] == "Highest" for t in escalated_tickets())  # still


def test_a_model_file_routes_its_escalations_elsewhere(inventory):
    model_notifications(inventory, {"escalation": {"alerts": ["slack"]}})
    items = escalate()
    assert items and set(items) == {("slack", "alert.escalation")}


def test_another_models_file_does_not_change_this_ones(inventory):
    path = inventory / "aml_alert.yaml"
    entry = yaml.safe_load(path.read_text())
    entry["notifications"] = {"escalation": {"alerts": []}}
    path.write_text(yaml.safe_dump(entry, sort_keys=False))
    assert set(escalate()) == {("email", "alert.escalation")}


@pytest.mark.parametrize(
    ("escalation", "problem"),
    [
        (
            {"alerts": [], "red_open_days": 3},
            "notifications.escalation.red_open_days: ",
        ),
        ({"alerts": ["fax"]}, "notifications.escalation.alerts.0: Input should be 'email', 'slack' or 'sns'"),
        ({}, "notifications.escalation.alerts: Field required"),
    ],
)
def test_a_model_files_escalation_is_validated(inventory, escalation, problem):
    from mrm import wiring

    model_notifications(inventory, {"escalation": escalation})
    wiring.clear_caches()
    with pytest.raises(InventoryError) as exc:
        wiring.get_inventory().get(MODEL)
    assert any(f"{MODEL}.yaml: {problem}" in line for line in exc.value.lines()), exc.value.lines()
