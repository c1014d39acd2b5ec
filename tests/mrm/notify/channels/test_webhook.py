"""WebhookSink against the signing receiver stand-in on loopback: HMAC, replay window, de-duplication,
faults and retries."""

from __future__ import annotations

import json
import time

import pytest
import requests

from mrm.demo.standins.receiver import Receiver
from mrm.errors import ConfigError, DeliveryError
from mrm.inventory.notifications import WebhookChannel
from mrm.notify.base import ALERT_SUMMARY, TICKET_OPENED, Delivery
from mrm.notify.channels.webhook import WebhookSink, sign, verify_signature

SECRET = "whsec-5h4r3d-between-mrm-and-receiver"


def ticket(key: str = "ticket.opened:MRM-12:webhook", attempts: int = 0) -> Delivery:
    payload = {
        "ticket_id": 12,
        "ticket_key": "MRM-12",
        "model_id": "credit_line",
        "control": "drift.psi[score]",
        "severity": "RED",
        "title": "[RED] credit_line: drift.psi[score] breached on 2026-09-14",
        "value": 0.31,
        "logical_date": "2026-09-14",
        "links": {"evidence": "https://mrm.example/evidence/run-1"},
    }
    return Delivery(key=key, channel="webhook", kind=TICKET_OPENED, payload=payload, attempts=attempts)


@pytest.fixture
def receiver(tmp_path):
    with Receiver(secret=SECRET, log=tmp_path / "received.jsonl") as server:
        yield server


def sink(receiver: Receiver, secret: str = SECRET, timeout: float = 5) -> WebhookSink:
    return WebhookSink(receiver.url, secret, timeout=timeout)


def test_a_signed_ticket_is_verified_and_stored(receiver, tmp_path):
    assert sink(receiver).deliver(ticket()) == {"status": 200}

    [doc] = receiver.received
    assert doc["idempotency_key"] == "ticket.opened:MRM-12:webhook"
    assert doc["kind"] == TICKET_OPENED
    assert doc["payload"]["ticket_key"] == "MRM-12"
    assert doc["sent_at"].endswith("+00:00")
    [line] = (tmp_path / "received.jsonl").read_text().splitlines()
    assert json.loads(line) == doc


def test_alerts_are_accepted_too(receiver):
    item = Delivery(key="a1", channel="webhook", kind=ALERT_SUMMARY, payload={"subject": "portfolio"})

    sink(receiver).deliver(item)

    assert receiver.received[0]["kind"] == ALERT_SUMMARY


def test_the_headers_carry_event_delivery_and_a_valid_signature(receiver):
    item = ticket()
    body = WebhookSink._body(item)
    headers = sink(receiver)._headers(item, body)

    assert headers["Content-Type"] == "application/json"
    assert headers["X-MRM-Event"] == TICKET_OPENED
    assert headers["X-MRM-Delivery"] == item.key
    assert abs(int(headers["X-MRM-Timestamp"]) - time.time()) < 5
    assert headers["X-MRM-Signature"].startswith("sha256=")
    assert verify_signature(SECRET, headers["X-MRM-Timestamp"], body, headers["X-MRM-Signature"])


def test_verify_signature_rejects_tampering_other_secrets_and_stale_timestamps():
    body, now = b'{"kind":"ticket.opened"}', int(time.time())
    good = sign(SECRET, str(now), body)

    assert verify_signature(SECRET, now, body, good)
    assert not verify_signature(SECRET, now, body + b" ", good)
    assert not verify_signature("another-secret", now, body, good)
    assert not verify_signature(SECRET, now + 1, body, good)  # the timestamp is signed too
    assert not verify_signature(SECRET, now, body, None)
    assert not verify_signature(SECRET, "yesterday", body, good)
    old = now - 301
    assert not verify_signature(SECRET, old, body, sign(SECRET, str(old), body))
    assert verify_signature(SECRET, old, body, sign(SECRET, str(old), body), tolerance=600)


def test_the_receiver_rejects_a_tampered_body(receiver):
    now = int(time.time())
    body = b'{"kind":"ticket.opened","payload":{"value":0.31}}'
    headers = {
        "X-MRM-Delivery": "d1",
        "X-MRM-Timestamp": str(now),
        "X-MRM-Signature": sign(SECRET, str(now), body),
    }

    resp = requests.post(receiver.url, data=body.replace(b"0.31", b"0.01"), headers=headers, timeout=5)

    assert resp.status_code == 401
    assert receiver.received == []


def test_the_receiver_rejects_an_old_timestamp(receiver):
    then = int(time.time()) - 3600
    body = b'{"kind":"ticket.opened"}'
    headers = {
        "X-MRM-Delivery": "d1",
        "X-MRM-Timestamp": str(then),
        "X-MRM-Signature": sign(SECRET, str(then), body),
    }

    resp = requests.post(receiver.url, data=body, headers=headers, timeout=5)

    assert resp.status_code == 401
    assert receiver.received == []


def test_a_duplicate_delivery_is_answered_but_stored_once(receiver):
    sink(receiver).deliver(ticket())
    sink(receiver).deliver(ticket(attempts=1))
    sink(receiver).deliver(ticket(key="ticket.occurrence:MRM-12:2:webhook"))

    assert [d["idempotency_key"] for d in receiver.received] == [
        "ticket.opened:MRM-12:webhook",
        "ticket.occurrence:MRM-12:2:webhook",
    ]


def test_503_is_transient_and_the_retry_is_stored(receiver):
    receiver.inject(503, retry_after=2)

    with pytest.raises(DeliveryError) as err:
        sink(receiver).deliver(ticket())
    assert err.value.transient
    assert err.value.retry_after == 2
    assert receiver.received == []

    sink(receiver).deliver(ticket(attempts=1))
    assert len(receiver.received) == 1


@pytest.mark.parametrize("fault", [503, "hang"])
def test_applied_but_failed_then_retried_is_stored_once(receiver, fault):
    receiver.inject(fault, apply_first=True)

    with pytest.raises(DeliveryError) as err:
        sink(receiver, timeout=0.5).deliver(ticket())
    assert err.value.transient
    assert len(receiver.received) == 1  # the receiver acted although the sender saw a failure

    assert sink(receiver).deliver(ticket(attempts=1)) == {"status": 200}
    assert len(receiver.received) == 1


def test_a_wrong_secret_is_not_transient_and_no_secret_is_in_the_message(receiver):
    with pytest.raises(DeliveryError) as err:
        sink(receiver, secret="not-the-" + SECRET).deliver(ticket())

    assert not err.value.transient
    assert "HTTP 401" in str(err.value)
    assert SECRET not in str(err.value)
    assert receiver.received == []


def test_an_unknown_kind_is_not_transient(receiver):
    with pytest.raises(DeliveryError) as err:
        sink(receiver).deliver(Delivery(key="x", channel="webhook", kind="ticket.reopened", payload={}))

    assert not err.value.transient
    assert "unknown event kind 'ticket.reopened'" in str(err.value)


def test_from_config_reads_url_and_secret_from_the_connection(receiver, monkeypatch):
    conn = {"conn_type": "http", "host": receiver.url, "password": SECRET}
    monkeypatch.setenv("AIRFLOW_CONN_MRM_WEBHOOK", json.dumps(conn))

    WebhookSink.from_config(WebhookChannel()).deliver(ticket())

    assert len(receiver.received) == 1


def test_from_config_needs_a_secret(receiver, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MRM_WEBHOOK", json.dumps({"conn_type": "http", "host": receiver.url}))

    with pytest.raises(ConfigError, match="no password: set it to the webhook's signing secret"):
        WebhookSink.from_config(WebhookChannel())
