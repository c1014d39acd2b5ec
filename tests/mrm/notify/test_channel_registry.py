"""The channel seam: every built-in channel is named once in the registry and in the inventory; a channel
registered from outside mrm (here a toy that keeps what it is given) is routable from a model's file and
gets its outbox items; an unknown channel is one line listing the valid names."""

from __future__ import annotations

from datetime import date
from typing import get_args

import pytest
import yaml
from support import local_inventory

from mrm.errors import ConfigError, InventoryError
from mrm.inventory import load_inventory, notifications
from mrm.notify import outbox, registry
from mrm.notify.base import ALERT_RED, Delivery
from mrm.store import HistoryStore
from mrm.ticketing.base import could_not_run_breach
from mrm.ticketing.lifecycle import TicketLifecycle

DAY = date(2026, 9, 5)
MODEL = "credit_line"
BUILT_IN = "email, jira, slack, sns, webhook"


class Toy:
    """A channel that keeps every item it is given."""

    name = "toy"

    def __init__(self, kept: list[Delivery]):
        self.kept = kept

    def deliver(self, item: Delivery) -> dict:
        self.kept.append(item)
        return {"kept": len(self.kept)}


@pytest.fixture
def restored(monkeypatch):
    """Whatever a test registers is forgotten after it."""
    monkeypatch.setattr(registry, "CHANNELS", dict(registry.CHANNELS))
    monkeypatch.setattr(
        notifications, "REGISTERED", {route: set(names) for route, names in notifications.REGISTERED.items()}
    )


@pytest.fixture
def toy_routed(tmp_path):
    """An inventory whose credit_line model sends its RED alerts to the channel "toy" (and tickets
    nowhere but the built-in tracker)."""
    folder = local_inventory(tmp_path / "inventory", "file:///nowhere", (MODEL,))
    path = folder / f"{MODEL}.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["notifications"] = {"red_alerts": ["toy"]}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder


def test_the_inventory_names_exactly_the_registered_channels_and_their_settings():
    names = set(get_args(notifications.ChannelName)) | set(get_args(notifications.SinkName))
    assert names == set(registry.CHANNELS) == set(notifications.Channels.model_fields)


def test_an_unknown_channel_is_one_line_listing_the_valid_names():
    with pytest.raises(ConfigError) as raised:
        registry.channel_for("pager", notifications.Channels())
    assert str(raised.value) == f"unknown notification channel 'pager' in the outbox; valid: {BUILT_IN}"


def test_a_channel_registered_from_outside_is_routed_to_and_delivered_through(restored, toy_routed, tmp_path):
    with pytest.raises(InventoryError) as before:  # not a channel yet: the model file is refused
        load_inventory(toy_routed)
    assert (
        f"{MODEL}.yaml: notifications.red_alerts.0: Input should be 'email', 'slack' or 'sns', got 'toy'"
        in str(before.value)
    )

    kept: list[Delivery] = []
    registry.register_channel("toy", lambda toy_settings: Toy(kept), "alerts")
    inventory, problems = load_inventory(toy_routed, strict=False)
    assert problems == []
    entry = inventory.get(MODEL)
    lifecycle = TicketLifecycle(HistoryStore(f"sqlite:///{tmp_path / 'history.db'}"), inventory)

    action = lifecycle.on_failure(
        entry, could_not_run_breach(entry, "run-1", DAY, "read scoring log", "no files")
    )
    report = lifecycle.deliver()

    assert action == {"ticket_id": 1, "key": "MRM-1", "action": "opened"}
    assert report.delivered == [f"toy:red:{MODEL}:{DAY}:1"] and report.undelivered == []
    (item,) = kept
    assert (item.channel, item.kind, item.attempts) == ("toy", ALERT_RED, 0)
    assert item.payload["subject"] == f"[RED] {MODEL}: 1 new breach on {DAY}"
    assert item.payload["recipients"] == [str(entry.owner), str(inventory.policy.model_risk_team)]
    assert item.payload["lines"] == ["MRM-1: run.could_not_run = n/a (red n/a)"]
    (row,) = outbox.items(lifecycle.store, "all")
    assert (row["status"], row["receipt"]) == ("delivered", {"kept": 1})
    with pytest.raises(ConfigError, match=r"; valid: email, jira, slack, sns, toy, webhook$"):
        registry.channel_for("pager", inventory.policy.notifications.channels)
