"""The outbox with a real channel on loopback: WebhookSink against the signing Receiver stand-in, on
SQLite and PostgreSQL. Idempotent enqueue, retries with backoff within a pass (the waits recorded, not
slept), Retry-After and its cap, errors that need a person, a peer down for a whole pass, per-ticket
ordering, cancelling, and a channel whose Airflow connection is missing."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from mrm.demo.standins.receiver import Receiver
from mrm.errors import ConfigError, MrmError
from mrm.inventory.notifications import Retry, WebhookChannel
from mrm.notify import outbox
from mrm.notify.base import ALERT_RED, TICKET_OCCURRENCE, TICKET_OPENED, Channel
from mrm.notify.channels.webhook import WebhookSink
from mrm.store import HistoryStore

SECRET = "whsec-outbox-tests"
DAY = date(2026, 9, 5)
RETRY = Retry(attempts=4, backoff_seconds=1, max_wait_seconds=60)


@pytest.fixture
def receiver():
    with Receiver(secret=SECRET) as server:
        yield server


def item(
    key: str, ticket_id: int | None = 1, kind: str = TICKET_OPENED, channel: str = "webhook"
) -> outbox.Item:
    payload = {
        "ticket_id": ticket_id,
        "ticket_key": f"MRM-{ticket_id}",
        "model_id": "card_fraud",
        "text": key,
    }
    return outbox.Item(key, channel, kind, payload, "card_fraud", ticket_id, DAY)


def put(store: HistoryStore, *items: outbox.Item) -> int:
    with store.engine.begin() as conn:
        return outbox.enqueue(conn, list(items))


def webhook_to(receiver: Receiver) -> Callable[[str], Channel]:
    sink = WebhookSink(receiver.url, SECRET, timeout=5)

    def channel_for(name: str) -> Channel:
        if name != "webhook":
            raise ConfigError(f"no channel {name} in this test")
        return sink

    return channel_for


class Sleeps(list):
    """A recording ``sleep``: the waits a pass asked for, none actually slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def row(store: HistoryStore, key: str) -> dict:
    (found,) = [r for r in outbox.items(store, "all") if r["key"] == key]
    return found


def aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def received_keys(receiver: Receiver) -> list[str]:
    return [doc["idempotency_key"] for doc in receiver.received]


# -- enqueue ------------------------------------------------------------------------------------------
def test_enqueue_is_idempotent_by_key(any_history):
    assert put(any_history, item("webhook:ticket:1:event:1"), item("webhook:ticket:1:event:1")) == 1
    assert put(any_history, item("webhook:ticket:1:event:1")) == 0  # a rerun queues nothing again
    assert put(any_history, item("webhook:ticket:1:event:1"), item("webhook:ticket:1:event:2")) == 1

    rows = outbox.items(any_history, "all")
    assert [r["key"] for r in rows] == ["webhook:ticket:1:event:1", "webhook:ticket:1:event:2"]
    assert all(r["status"] == "pending" and r["attempts"] == 0 and r["last_error"] is None for r in rows)
    assert [r["key"] for r in outbox.pending(any_history)] == [r["key"] for r in rows]


def test_make_key_bounds_long_keys_to_the_column():
    short = outbox.make_key("jira", "ticket", 12, "event", 40)
    assert short == "jira:ticket:12:event:40"
    long = outbox.make_key("email", "digest", "x" * 200, DAY)
    assert len(long) == 128 and long.startswith("email:digest:xxx") and "#" in long
    assert long == outbox.make_key("email", "digest", "x" * 200, DAY)  # stable


# -- retries within one pass --------------------------------------------------------------------------
def test_a_transient_failure_is_retried_with_doubling_backoff_and_delivered_once(any_history, receiver):
    put(any_history, item("webhook:ticket:1:event:1"))
    receiver.inject(503, times=2)
    sleeps = Sleeps()

    report = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=sleeps)

    assert report.delivered == ["webhook:ticket:1:event:1"] and report.undelivered == []
    assert sleeps == [1, 2]  # backoff 1, doubled after each failed attempt
    assert received_keys(receiver) == ["webhook:ticket:1:event:1"]
    done = row(any_history, "webhook:ticket:1:event:1")
    assert (done["status"], done["attempts"], done["receipt"]) == ("delivered", 3, {"status": 200})
    assert done["delivered_at"] is not None
    assert outbox.pending(any_history) == []
    # a second pass has nothing to do
    again = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=sleeps)
    assert (again.delivered, again.undelivered, len(receiver.received)) == ([], [], 1)


def test_retry_after_within_the_cap_is_the_wait(any_history, receiver):
    put(any_history, item("webhook:ticket:1:event:1"))
    receiver.inject(429, times=1, retry_after=3)
    sleeps = Sleeps()

    report = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=sleeps)

    assert sleeps == [3]
    assert report.delivered == ["webhook:ticket:1:event:1"]
    assert received_keys(receiver) == ["webhook:ticket:1:event:1"]
    assert row(any_history, "webhook:ticket:1:event:1")["attempts"] == 2


def test_retry_after_above_the_cap_defers_the_item_to_a_later_pass(any_history, receiver):
    put(any_history, item("webhook:ticket:1:event:1"))
    receiver.inject(429, times=1, retry_after=120)
    sleeps = Sleeps()
    before = datetime.now(UTC)

    report = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=sleeps)

    assert sleeps == []  # not waited for within the pass
    assert report.delivered == []
    (undelivered,) = report.undelivered
    assert undelivered["key"] == "webhook:ticket:1:event:1"
    assert undelivered["error"].endswith("HTTP 429: Too Many Requests (retry after 120 s)")
    waiting = row(any_history, "webhook:ticket:1:event:1")
    assert waiting["status"] == "pending" and waiting["attempts"] == 1
    assert waiting["last_error"].startswith("[transient] webhook ticket.opened")
    assert (
        before + timedelta(seconds=115) < aware(waiting["next_attempt_at"]) < before + timedelta(seconds=180)
    )
    assert outbox.pending(any_history) == []  # not due
    assert [r["key"] for r in outbox.pending(any_history, due_only=False)] == ["webhook:ticket:1:event:1"]
    # the next pass, before the peer's time is up, leaves it alone
    later = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=sleeps)
    assert (later.delivered, later.undelivered, receiver.received) == ([], [], [])
    assert row(any_history, "webhook:ticket:1:event:1")["attempts"] == 1


def test_a_failure_that_needs_a_person_is_not_retried_within_the_pass(any_history, receiver):
    put(any_history, item("webhook:ticket:1:event:1"))
    receiver.inject(400, times=1, body="unknown project RISK")
    sleeps = Sleeps()

    report = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=sleeps)

    assert sleeps == [] and receiver.received == []
    (undelivered,) = report.undelivered
    assert undelivered["error"] == (
        "webhook ticket.opened webhook:ticket:1:event:1: HTTP 400: unknown project RISK"
    )
    failed = row(any_history, "webhook:ticket:1:event:1")
    assert failed["status"] == "pending" and failed["attempts"] == 1
    assert failed["last_error"] == f"[needs a fix] {undelivered['error']}"
    assert "mrm outbox deliver" in report.message() and "(outbox #" in report.message()


# -- a peer down for a whole pass ---------------------------------------------------------------------
def _dead_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/mrm"


def test_a_peer_down_for_a_whole_pass_gets_the_item_exactly_once_on_the_next_pass(any_history, receiver):
    put(any_history, item("webhook:ticket:1:event:1"), item("webhook:red:card_fraud", None, ALERT_RED))
    where = {"url": _dead_url()}
    built = []

    def channel_for(name: str) -> Channel:
        built.append(name)
        return WebhookSink(where["url"], SECRET, timeout=5)

    sleeps = Sleeps()
    down = outbox.deliver(any_history, channel_for, RETRY, sleep=sleeps)

    assert down.delivered == [] and built == ["webhook"]  # one channel per pass
    assert [u["key"] for u in down.undelivered] == ["webhook:ticket:1:event:1", "webhook:red:card_fraud"]
    assert all("cannot connect to http://127.0.0.1:" in u["error"] for u in down.undelivered)
    assert sleeps == [1, 2, 4] * 2  # every attempt of both items failed
    for key in ("webhook:ticket:1:event:1", "webhook:red:card_fraud"):
        pending = row(any_history, key)
        assert (pending["status"], pending["attempts"]) == ("pending", 4)
        assert pending["last_error"].startswith("[transient] ")

    where["url"] = receiver.url  # the peer is back
    up = outbox.deliver(any_history, channel_for, RETRY, sleep=sleeps)

    assert up.delivered == ["webhook:ticket:1:event:1", "webhook:red:card_fraud"] and up.undelivered == []
    assert received_keys(receiver) == ["webhook:ticket:1:event:1", "webhook:red:card_fraud"]
    assert row(any_history, "webhook:ticket:1:event:1")["attempts"] == 5


def test_a_peer_that_acted_before_failing_still_gets_the_item_once(any_history, receiver):
    """The ambiguous case: the receiver stored the delivery, then answered 503 to every attempt of the
    pass. The next pass sends it again under the same key, which the receiver de-duplicates."""
    put(any_history, item("webhook:ticket:1:event:1"))
    receiver.inject(503, times=RETRY.attempts, apply_first=True)

    first = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=Sleeps())
    assert [u["key"] for u in first.undelivered] == ["webhook:ticket:1:event:1"]
    assert row(any_history, "webhook:ticket:1:event:1")["status"] == "pending"

    second = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=Sleeps())
    assert second.delivered == ["webhook:ticket:1:event:1"]
    assert received_keys(receiver) == ["webhook:ticket:1:event:1"]


# -- ordering -----------------------------------------------------------------------------------------
def test_later_items_of_a_ticket_wait_for_its_failed_earlier_item(any_history, receiver):
    put(
        any_history,
        item("webhook:ticket:1:event:1", 1, TICKET_OPENED),
        item("webhook:ticket:2:event:2", 2, TICKET_OPENED),
        item("webhook:ticket:1:event:3", 1, TICKET_OCCURRENCE),
        item("webhook:red:card_fraud", None, ALERT_RED),
    )
    receiver.inject(400, times=1)  # the first request: ticket 1's opened event

    report = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=Sleeps())

    assert report.delivered == ["webhook:ticket:2:event:2", "webhook:red:card_fraud"]
    assert [(u["key"], u["error"]) for u in report.undelivered] == [
        ("webhook:ticket:1:event:1", "webhook ticket.opened webhook:ticket:1:event:1: HTTP 400: Bad Request"),
        ("webhook:ticket:1:event:3", "waiting for an earlier item of the same ticket"),
    ]
    assert row(any_history, "webhook:ticket:1:event:3")["attempts"] == 0  # not attempted at all
    assert received_keys(receiver) == ["webhook:ticket:2:event:2", "webhook:red:card_fraud"]

    later = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=Sleeps())
    assert later.delivered == ["webhook:ticket:1:event:1", "webhook:ticket:1:event:3"]
    assert received_keys(receiver)[2:] == ["webhook:ticket:1:event:1", "webhook:ticket:1:event:3"]


def test_a_ticket_item_deferred_by_retry_after_still_holds_back_the_later_items(any_history, receiver):
    put(any_history, item("webhook:ticket:1:event:1", 1, TICKET_OPENED))
    receiver.inject(429, times=1, retry_after=120)
    outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=Sleeps())
    put(any_history, item("webhook:ticket:1:event:2", 1, TICKET_OCCURRENCE))  # the next run's event

    report = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=Sleeps())

    assert report.delivered == []
    assert receiver.received == []  # the occurrence must not overtake the deferred opened event
    assert row(any_history, "webhook:ticket:1:event:2")["status"] == "pending"


# -- cancelling ---------------------------------------------------------------------------------------
def test_cancel_needs_a_reason_and_a_pending_item(any_history, receiver):
    put(any_history, item("webhook:ticket:1:event:1"), item("webhook:ticket:2:event:2", 2))
    ids = {r["key"]: r["id"] for r in outbox.items(any_history, "all")}
    stuck, sent = ids["webhook:ticket:1:event:1"], ids["webhook:ticket:2:event:2"]
    receiver.inject(400, times=1)
    outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=Sleeps())
    assert row(any_history, "webhook:ticket:2:event:2")["status"] == "delivered"

    with pytest.raises(MrmError, match=rf"^cancelling outbox #{stuck} needs a reason \(--reason '...'\)$"):
        outbox.cancel(any_history, stuck, "alice", "   ")
    with pytest.raises(MrmError, match=rf"^outbox #{sent} is delivered; only pending items can be cancelled"):
        outbox.cancel(any_history, sent, "alice", "retired channel")
    with pytest.raises(MrmError, match=r"^outbox #999 does not exist; only pending items"):
        outbox.cancel(any_history, 999, "alice", "retired channel")
    assert row(any_history, "webhook:ticket:1:event:1")["status"] == "pending"

    outbox.cancel(any_history, stuck, "alice", "the receiver was retired")

    gone = row(any_history, "webhook:ticket:1:event:1")
    assert (gone["status"], gone["cancelled_by"], gone["cancelled_reason"]) == (
        "cancelled",
        "alice",
        "the receiver was retired",
    )
    assert outbox.pending(any_history, due_only=False) == []
    assert [r["id"] for r in outbox.items(any_history, "cancelled")] == [stuck]
    again = outbox.deliver(any_history, webhook_to(receiver), RETRY, sleep=Sleeps())
    assert (again.delivered, again.undelivered) == ([], [])
    assert received_keys(receiver) == ["webhook:ticket:2:event:2"]
    with pytest.raises(MrmError, match=rf"^outbox #{stuck} is cancelled; only pending items"):
        outbox.cancel(any_history, stuck, "bob", "twice")


# -- a channel that cannot be built -------------------------------------------------------------------
def test_a_missing_connection_leaves_items_pending_with_the_variable_to_set(
    any_history, receiver, monkeypatch
):
    monkeypatch.delenv("AIRFLOW_CONN_MRM_WEBHOOK", raising=False)
    put(any_history, item("webhook:ticket:1:event:1"), item("webhook:ticket:2:event:2", 2))
    calls = []

    def channel_for(name: str) -> Channel:
        calls.append(name)
        return WebhookSink.from_config(WebhookChannel())

    report = outbox.deliver(any_history, channel_for, RETRY, sleep=Sleeps())

    assert calls == ["webhook"] and report.delivered == []
    assert [u["key"] for u in report.undelivered] == ["webhook:ticket:1:event:1", "webhook:ticket:2:event:2"]
    for u in report.undelivered:
        assert u["error"].startswith(
            "no Airflow connection 'mrm_webhook' (needed for the webhook ticket sink)"
        )
        assert u["error"].endswith("or set AIRFLOW_CONN_MRM_WEBHOOK")
        stuck = row(any_history, u["key"])
        assert (stuck["status"], stuck["attempts"]) == ("pending", 1)
        assert stuck["last_error"] == f"[needs a fix] {u['error']}"

    # the connection is added: the next pass delivers both
    monkeypatch.setenv(
        "AIRFLOW_CONN_MRM_WEBHOOK",
        json.dumps({"conn_type": "http", "host": receiver.url, "password": SECRET}),
    )
    fixed = outbox.deliver(any_history, channel_for, RETRY, sleep=Sleeps())
    assert fixed.delivered == ["webhook:ticket:1:event:1", "webhook:ticket:2:event:2"]
    assert received_keys(receiver) == ["webhook:ticket:1:event:1", "webhook:ticket:2:event:2"]
