"""A delivery pass spends at most its budget (``notifications.delivery``) and a channel that is failing is
tried once per pass, not once per item, while the other channels are delivered. Real peers on
loopback: the signing webhook receiver answering 503, counted by the requests it received, and a Slack
receiver that is up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from mrm.demo.standins.receiver import Receiver
from mrm.inventory.notifications import DeliveryBudget, Retry
from mrm.notify import outbox
from mrm.notify.base import ALERT_RED, Channel
from mrm.notify.channels.slack import SlackAlerts
from mrm.notify.channels.webhook import WebhookSink
from mrm.store import HistoryStore
from mrm.store import outbox as store_outbox

SECRET = "whsec-budget-tests"
DAY = date(2026, 9, 5)
RETRY = Retry(attempts=4, backoff_seconds=1, max_wait_seconds=60)
ALERT = {"subject": "[RED] card_fraud", "text": "1 new breach", "severity": "RED", "lines": [], "links": {}}


@pytest.fixture
def webhook():
    with Receiver(secret=SECRET) as server:
        server.inject(503, times=1000)  # down for the whole test unless it clears the faults
        yield server


@pytest.fixture
def slack():
    with Receiver() as server:
        yield server


def alerts(store: HistoryStore, channel: str, *names: str) -> None:
    items = [outbox.Item(f"{channel}:{n}", channel, ALERT_RED, ALERT, "card_fraud", None, DAY) for n in names]
    with store.engine.begin() as conn:
        outbox.enqueue(conn, items)


def channels(webhook: Receiver, slack: Receiver | None = None) -> Callable[[str], Channel]:
    built = {"webhook": WebhookSink(webhook.url, SECRET, timeout=5)}
    if slack is not None:
        built["slack"] = SlackAlerts(slack.url, timeout=5)
    return built.__getitem__


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def state(store: HistoryStore) -> list[tuple[str, str, int]]:
    return [(r["key"], r["status"], r["attempts"]) for r in outbox.items(store, "all")]


def test_a_pass_makes_at_most_the_budgets_attempts_to_a_peer_answering_503_and_leaves_the_rest_pending(
    any_history, webhook
):
    alerts(any_history, "webhook", "a", "b", "c", "d")
    budget = DeliveryBudget(max_attempts=3, max_seconds=60, breaker_seconds=0)

    report = outbox.deliver(any_history, channels(webhook), RETRY, sleep=Sleeps(), budget=budget)

    assert len(webhook.requests_log) == 3  # what the peer received
    assert report.delivered == [] and [u["key"] for u in report.undelivered] == [
        "webhook:a", "webhook:b", "webhook:c", "webhook:d"
    ]  # fmt: skip
    assert report.undelivered[0]["error"] == "webhook alert.red webhook:a: HTTP 503: Service Unavailable"
    assert report.undelivered[1]["error"].startswith(
        "not attempted: this pass spent its delivery budget (3 attempt(s), "
    )
    assert report.undelivered[1]["error"].endswith(
        "of max 3 / 60 s, notifications.delivery); it waits for the next pass"
    )
    assert state(any_history) == [("webhook:a", "pending", 3)] + [
        (f"webhook:{n}", "pending", 0) for n in "bcd"
    ]


def test_a_pass_waits_no_longer_than_the_budgets_seconds(any_history, webhook):
    alerts(any_history, "webhook", "a", "b")
    budget = DeliveryBudget(max_attempts=50, max_seconds=2.5, breaker_seconds=0)
    sleeps = Sleeps()

    report = outbox.deliver(any_history, channels(webhook), RETRY, sleep=sleeps, budget=budget)

    # a: 1 s wait, then its next backoff (2 s) would end after 2.5 s; b: 1 s wait, then the same
    assert sleeps == [1, 1] and sum(sleeps) <= budget.max_seconds
    assert len(webhook.requests_log) == 4 and report.delivered == []
    assert state(any_history) == [("webhook:a", "pending", 2), ("webhook:b", "pending", 2)]
    again = outbox.deliver(any_history, channels(webhook), RETRY, sleep=Sleeps(), budget=budget)
    assert len(again.undelivered) == 2 and len(webhook.requests_log) == 8  # each pass its own budget


def test_a_failing_channel_is_tried_once_per_pass_and_the_other_channels_are_delivered(
    any_history, webhook, slack
):
    alerts(any_history, "webhook", "a", "b", "c")
    alerts(any_history, "slack", "x", "y")
    budget = DeliveryBudget()  # the shipped breaker: 300 s
    sleeps = Sleeps()

    first = outbox.deliver(any_history, channels(webhook, slack), RETRY, sleep=sleeps, budget=budget)

    assert len(webhook.requests_log) == RETRY.attempts  # item a's schedule, then the breaker holds b, c
    assert sleeps == [1, 2, 4]
    assert first.delivered == ["slack:x", "slack:y"] and len(slack.received) == 2
    assert [(u["key"], u["error"]) for u in first.undelivered[1:]] == [
        (f"webhook:{n}", "not attempted: webhook failed in this pass (webhook alert.red webhook:a: HTTP 503: "
         "Service Unavailable); tried on the next pass") for n in "bc"
    ]  # fmt: skip

    second = outbox.deliver(any_history, channels(webhook, slack), RETRY, sleep=sleeps, budget=budget)

    assert len(webhook.requests_log) == RETRY.attempts + 1  # failed a moment ago: one attempt this pass
    assert sleeps == [1, 2, 4] and second.delivered == []
    assert state(any_history)[:3] == [("webhook:a", "pending", 5), ("webhook:b", "pending", 0),
                                  ("webhook:c", "pending", 0)]  # fmt: skip

    webhook.faults.clear()  # the peer is back
    back = outbox.deliver(any_history, channels(webhook, slack), RETRY, sleep=sleeps, budget=budget)

    assert back.delivered == ["webhook:a", "webhook:b", "webhook:c"] and back.undelivered == []
    assert len(webhook.requests_log) == RETRY.attempts + 1 + 3


def test_each_attempt_is_in_the_items_trail(any_history, webhook):
    alerts(any_history, "webhook", "a")
    outbox.deliver(any_history, channels(webhook), Retry(attempts=2, backoff_seconds=0), sleep=Sleeps())
    webhook.faults.clear()
    outbox.deliver(any_history, channels(webhook), RETRY, sleep=Sleeps())

    (item,) = outbox.items(any_history, "all")
    with any_history.engine.connect() as conn:
        trail = store_outbox.attempts(conn, item["id"])
    assert [(a["attempt"], a["outcome"], a["error"], a["receipt"]) for a in trail] == [
        (1, "transient", "webhook alert.red webhook:a: HTTP 503: Service Unavailable", None),
        (2, "transient", "webhook alert.red webhook:a: HTTP 503: Service Unavailable", None),
        (3, "delivered", None, {"status": 200}),
    ]
    assert all(a["seconds"] >= 0 for a in trail)
