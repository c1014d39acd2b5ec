"""Exactly once with several deliverers, on SQLite and PostgreSQL: each item is claimed before it is
attempted, an outcome is recorded only under the claim, a lapsed claim (a killed deliverer) is taken
over, a ticket's items go in order whoever sends them, and any exception from a channel fails only its
item. Real peers on loopback: the Jira stand-in (slowed so that two passes overlap), a Slack webhook
and a webhook-sink receiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from mrm.demo.standins.jira import DEFAULT_LOGIN, DEFAULT_TOKEN, JiraStandIn
from mrm.demo.standins.receiver import Receiver
from mrm.errors import ConfigError
from mrm.inventory.notifications import Retry
from mrm.notify import outbox
from mrm.notify.base import ALERT_RED, TICKET_OCCURRENCE, TICKET_OPENED, Channel, Delivery
from mrm.notify.channels.jira import JiraSink, key_label, plain_text
from mrm.notify.channels.slack import SlackAlerts
from mrm.notify.channels.webhook import WebhookSink
from mrm.store import HistoryStore
from mrm.store import outbox as store_outbox

SECRET = "whsec-claims-tests"
DAY = date(2026, 9, 5)
RETRY = Retry(attempts=3, backoff_seconds=1, max_wait_seconds=60)
TICKETS = (1, 2, 3)


@pytest.fixture
def peers():
    with (
        JiraStandIn("cloud") as jira,
        Receiver() as slack,
        Receiver(secret=SECRET) as webhook,
    ):
        yield jira, slack, webhook


def channels_to(jira: JiraStandIn, slack: Receiver, webhook: Receiver) -> Callable[[str], Channel]:
    def channel_for(name: str) -> Channel:
        if name == "jira":
            return JiraSink(jira.base_url, "cloud", "MRM", "Task", DEFAULT_LOGIN, DEFAULT_TOKEN, 30.0)
        if name == "slack":
            return SlackAlerts(f"{slack.url}/services/T0/B0/claims", timeout=10)
        if name == "webhook":
            return WebhookSink(webhook.url, SECRET, timeout=10)
        raise ConfigError(f"no channel {name} in this test")

    return channel_for


def ticket_item(channel: str, ticket_id: int, event_id: int, kind: str = TICKET_OPENED) -> outbox.Item:
    control = f"drift.psi[feature_{ticket_id}]"
    payload = {
        "ticket_id": ticket_id, "ticket_key": f"MRM-{ticket_id}", "model_id": "card_fraud",
        "model_name": "Card fraud", "control": control, "check": "drift", "metric": "psi",
        "column": f"feature_{ticket_id}", "segment": None, "severity": "RED", "priority": "High", "tier": 1,
        "owner": None, "title": f"[RED] card_fraud: {control} breached on {DAY}",
        "text": f"{kind} of ticket {ticket_id}", "value": 0.3, "logical_date": DAY.isoformat(),
        "run_id": "run-1", "links": {},
    }  # fmt: skip
    key = outbox.make_key(channel, "ticket", ticket_id, "event", event_id)
    return outbox.Item(key, channel, kind, payload, "card_fraud", ticket_id, DAY)


def alert_item(n: int) -> outbox.Item:
    payload = {"subject": f"RED alert {n}", "text": f"alert {n}", "severity": "RED", "model_id": "card_fraud",
               "recipients": [], "lines": [f"line {n}"], "links": {}}  # fmt: skip
    return outbox.Item(f"slack:red:card_fraud:{n}", "slack", ALERT_RED, payload, "card_fraud", None, DAY)


def every_item() -> list[outbox.Item]:
    """Per ticket: Jira and webhook mirrors of its opened event and of an occurrence; three alerts."""
    out = []
    for t in TICKETS:
        for channel in ("jira", "webhook"):
            out += [ticket_item(channel, t, 10 * t), ticket_item(channel, t, 10 * t + 1, TICKET_OCCURRENCE)]
    return out + [alert_item(n) for n in (1, 2, 3)]


def put(store: HistoryStore, items: list[outbox.Item]) -> None:
    with store.engine.begin() as conn:
        outbox.enqueue(conn, items)


def no_sleep(seconds: float) -> None:
    pass


def row(store: HistoryStore, key: str) -> dict:
    (found,) = [r for r in outbox.items(store, "all") if r["key"] == key]
    return found


def assert_each_peer_got_everything_once(jira: JiraStandIn, slack: Receiver, webhook: Receiver) -> None:
    issues = list(jira.issues.values())
    wanted = [f"[RED] card_fraud: drift.psi[feature_{t}] breached on {DAY}" for t in TICKETS]
    assert sorted(i["summary"] for i in issues) == wanted
    for issue in issues:  # the opened event created it; the occurrence is its one comment
        t = int(issue["summary"].split("feature_")[1].split("]")[0])
        assert key_label(f"jira:ticket:{t}:event:{10 * t}") in issue["labels"]
        [comment] = issue["comments"]
        assert (
            plain_text(comment["body"]).splitlines()[-1] == f"mrm-event: jira:ticket:{t}:event:{10 * t + 1}"
        )
    assert sorted(doc["text"] for doc in slack.received) == [
        ":red_circle: RED alert 1",
        ":red_circle: RED alert 2",
        ":red_circle: RED alert 3",
    ]
    assert len(slack.requests_log) == 3  # Slack cannot de-duplicate: each message was sent once
    sent = [doc["idempotency_key"] for doc in webhook.received]
    assert len(webhook.requests_log) == len(sent) == 2 * len(TICKETS)  # no delivery sent twice
    for t in TICKETS:  # and each ticket's events in order
        mine = [k for k in sent if k.startswith(f"webhook:ticket:{t}:")]
        assert mine == [f"webhook:ticket:{t}:event:{10 * t}", f"webhook:ticket:{t}:event:{10 * t + 1}"]


# -- two deliverers at once ---------------------------------------------------------------------------
def test_two_deliverers_started_together_send_everything_exactly_once(any_history, peers):
    jira, slack, webhook = peers
    items = every_item()
    put(any_history, items)
    jira.slow(0.15)  # every Jira request: the two passes overlap on the same items
    barrier = threading.Barrier(2)
    reports: list[outbox.Report] = []
    errors: list[BaseException] = []

    def deliverer() -> None:
        try:
            barrier.wait(timeout=30)
            reports.append(outbox.deliver(any_history, channels_to(*peers), RETRY, sleep=no_sleep))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliverer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == [] and len(reports) == 2

    delivered = Counter(k for r in reports for k in r.delivered)
    assert delivered == Counter({i.key: 1 for i in items})  # each item delivered by one of the two
    assert all(r.undelivered == [] for r in reports)
    assert all(set(r.elsewhere) <= set(delivered) for r in reports)
    assert sum(len(r.elsewhere) for r in reports) > 0  # they did overlap: each left some to the other
    assert outbox.pending(any_history, due_only=False) == []
    for i in items:
        done = row(any_history, i.key)
        assert (done["status"], done["attempts"], done["lease_until"]) == ("delivered", 1, None)
    assert_each_peer_got_everything_once(jira, slack, webhook)


# -- claims -------------------------------------------------------------------------------------------
def claim(store: HistoryStore, key: str, me: str, lease: timedelta) -> dict | None:
    item_id, now = row(store, key)["id"], datetime.now(UTC)
    with store.engine.begin() as conn:
        return store_outbox.claim(conn, item_id, me, now, now + lease)


def test_an_item_claimed_by_a_live_deliverer_is_left_to_it_with_the_rest_of_its_ticket(any_history, peers):
    _, _, webhook = peers
    first, later = ticket_item("webhook", 1, 10), ticket_item("webhook", 1, 11, TICKET_OCCURRENCE)
    other = ticket_item("webhook", 2, 20)
    put(any_history, [first, later, other])
    assert claim(any_history, first.key, "deliverer-a", timedelta(minutes=5))["claimed_by"] == "deliverer-a"
    assert claim(any_history, first.key, "deliverer-b", timedelta(minutes=5)) is None  # one holder
    assert claim(any_history, later.key, "deliverer-b", timedelta(minutes=5)) is None  # the ticket's order

    report = outbox.deliver(any_history, channels_to(*peers), RETRY, sleep=no_sleep)

    assert report.delivered == [other.key] and report.undelivered == []  # nothing of this pass failed
    assert report.elsewhere == [first.key, later.key]
    assert [d["idempotency_key"] for d in webhook.received] == [other.key]
    held = row(any_history, first.key)
    assert (held["status"], held["attempts"], held["claimed_by"]) == ("pending", 0, "deliverer-a")


def test_an_expired_lease_is_taken_over_and_delivered_once(any_history, peers):
    _, slack, webhook = peers
    put(any_history, [alert_item(1), ticket_item("webhook", 1, 10)])
    for key in ("slack:red:card_fraud:1", "webhook:ticket:1:event:10"):  # a deliverer that died
        assert claim(any_history, key, "killed-deliverer", timedelta(seconds=-1)) is not None

    report = outbox.deliver(any_history, channels_to(*peers), RETRY, sleep=no_sleep)
    again = outbox.deliver(any_history, channels_to(*peers), RETRY, sleep=no_sleep)

    assert report.delivered == ["slack:red:card_fraud:1", "webhook:ticket:1:event:10"]
    assert (again.delivered, again.undelivered, again.elsewhere) == ([], [], [])
    assert len(slack.requests_log) == len(webhook.requests_log) == 1
    done = row(any_history, "slack:red:card_fraud:1")
    assert done["status"] == "delivered" and done["claimed_by"] not in (None, "killed-deliverer")


def test_a_deliverer_whose_claim_was_taken_over_records_nothing_on_the_item(any_history):
    put(any_history, [alert_item(1)])
    item_id = row(any_history, "slack:red:card_fraud:1")["id"]
    assert claim(any_history, "slack:red:card_fraud:1", "slow", timedelta(seconds=-1)) is not None
    assert claim(any_history, "slack:red:card_fraud:1", "next", timedelta(minutes=5)) is not None

    with any_history.engine.begin() as conn:
        assert not store_outbox.renew(conn, item_id, "slow", datetime.now(UTC) + timedelta(minutes=5))
        assert not store_outbox.update_claimed(conn, item_id, "slow", status="delivered")
        assert store_outbox.update_claimed(conn, item_id, "next", status="delivered")
    assert row(any_history, "slack:red:card_fraud:1")["claimed_by"] == "next"


def test_a_failed_item_gives_its_claim_up_for_the_next_pass(any_history, peers):
    _, slack, _ = peers
    put(any_history, [alert_item(1)])
    slack.inject(400, body="invalid_payload")

    report = outbox.deliver(any_history, channels_to(*peers), RETRY, sleep=no_sleep)

    assert [u["key"] for u in report.undelivered] == ["slack:red:card_fraud:1"]
    failed = row(any_history, "slack:red:card_fraud:1")
    assert (failed["status"], failed["attempts"], failed["claimed_by"], failed["lease_until"]) == (
        "pending", 1, None, None
    )  # fmt: skip
    assert outbox.deliver(any_history, channels_to(*peers), RETRY, sleep=no_sleep).delivered == [
        "slack:red:card_fraud:1"
    ]


# -- a poison item ------------------------------------------------------------------------------------
class Poisoned:
    """A channel with a bug for one item: any exception, not a DeliveryError."""

    name = "slack"

    def __init__(self, real: Channel, poison: str):
        self.real, self.poison = real, poison

    def deliver(self, item: Delivery) -> dict:
        if item.key == self.poison:
            raise ValueError("Header values may not contain linefeed or carriage return characters")
        return self.real.deliver(item)


def test_an_exception_from_a_channel_fails_only_its_item_and_the_pass_goes_on(any_history, peers):
    _, slack, _ = peers
    put(any_history, [alert_item(1), alert_item(2), ticket_item("webhook", 1, 10)])
    real = channels_to(*peers)

    def channel_for(name: str) -> Channel:
        return Poisoned(real(name), "slack:red:card_fraud:1") if name == "slack" else real(name)

    report = outbox.deliver(any_history, channel_for, RETRY, sleep=no_sleep)

    assert report.delivered == ["slack:red:card_fraud:2", "webhook:ticket:1:event:10"]
    (poison,) = report.undelivered
    assert poison["key"] == "slack:red:card_fraud:1"
    assert poison["error"] == (
        "slack alert.red slack:red:card_fraud:1: unexpected ValueError: Header values may not contain "
        "linefeed or carriage return characters"
    )
    stuck = row(any_history, "slack:red:card_fraud:1")
    assert (stuck["status"], stuck["attempts"]) == ("pending", 1)  # not retried: it needs a fix
    assert stuck["last_error"] == f"[needs a fix] {poison['error']}"
    (attempt,) = outbox.trail(any_history, stuck["id"])[1]
    assert (attempt["attempt"], attempt["outcome"]) == (1, "needs a fix")
    assert [d["text"] for d in slack.received] == [":red_circle: RED alert 2"]


def test_a_channel_whose_set_up_raises_holds_back_only_its_own_items(any_history, peers):
    put(any_history, [alert_item(1), ticket_item("webhook", 1, 10)])
    real = channels_to(*peers)

    def channel_for(name: str) -> Channel:
        if name == "slack":
            raise KeyError("url")  # a bug, not a ConfigError
        return real(name)

    report = outbox.deliver(any_history, channel_for, RETRY, sleep=no_sleep)

    assert report.delivered == ["webhook:ticket:1:event:10"]
    assert [u["error"] for u in report.undelivered] == ["slack: unexpected KeyError: 'url'"]


# -- a deliverer killed in the middle of a Jira create ------------------------------------------------
KILLED_DELIVERER = """
import sys
from mrm.inventory.notifications import Retry
from mrm.notify import outbox
from mrm.notify.channels.jira import JiraSink
from mrm.store import HistoryStore

url, base = sys.argv[1], sys.argv[2]
sink = JiraSink(base, "cloud", "MRM", "Task", "mrm@example.com", "token", 120.0)
outbox.deliver(HistoryStore(url), lambda name: sink, Retry(attempts=1), lease_seconds=2)
"""


def test_a_deliverer_killed_after_jira_created_the_issue_leaves_one_issue(any_history, tmp_path):
    """The deliverer's create reached Jira, then the process was killed (SIGKILL) before it recorded
    anything (attempts 0), and a person closed the issue in Jira meanwhile. Once the lease lapses the
    next pass takes the item over, finds the issue by the item's key label and creates no second one."""
    with JiraStandIn("cloud") as jira:
        opened = ticket_item("jira", 1, 10)
        put(any_history, [opened])
        jira.inject("hang", match="POST /rest/api/3/issue", apply_first=True, hang_seconds=60)
        script = tmp_path / "deliver.py"
        script.write_text(KILLED_DELIVERER)
        proc = subprocess.Popen([sys.executable, str(script), any_history.url, jira.base_url], env=os.environ)
        try:
            deadline = time.monotonic() + 60
            while not jira.issues and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert list(jira.issues) == ["MRM-1"]  # Jira acted; its answer never came
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        killed = row(any_history, opened.key)
        assert (killed["status"], killed["attempts"]) == ("pending", 0) and killed["claimed_by"] is not None
        jira.close("MRM-1")  # no open issue to find by model and control any more

        sink = JiraSink(jira.base_url, "cloud", "MRM", "Task", DEFAULT_LOGIN, DEFAULT_TOKEN, 10.0)
        early = outbox.deliver(any_history, lambda name: sink, RETRY, sleep=no_sleep)
        assert early.elsewhere == [opened.key] or early.delivered == [opened.key]  # lease may have lapsed
        while row(any_history, opened.key)["status"] == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)  # until the killed deliverer's lease lapses
            outbox.deliver(any_history, lambda name: sink, RETRY, sleep=no_sleep)

        done = row(any_history, opened.key)
        assert (done["status"], done["receipt"]["external_key"], done["receipt"]["action"]) == (
            "delivered", "MRM-1", "already_done"
        )  # fmt: skip
        assert list(jira.issues) == ["MRM-1"] and jira.issues["MRM-1"]["comments"] == []
