"""WebhookSink against the signing receiver stand-in on loopback: HMAC scheme v2 (timestamp, delivery
id, event and body signed), the replay window and cache, de-duplication, malformed signatures, faults and
retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests

from mrm.demo.standins.receiver import Receiver
from mrm.errors import ConfigError, DeliveryError
from mrm.inventory.notifications import WebhookChannel
from mrm.notify.base import ALERT_SUMMARY, TICKET_OPENED, Delivery
from mrm.notify.channels.webhook import ReplayCache, WebhookSink, sign, signed_string, verify_signature

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


def signed(body: bytes, delivery: str = "d1", event: str = TICKET_OPENED, at: int | None = None) -> dict:
    """The headers WebhookSink sends for ``body`` (scheme v2), built by hand."""
    ts = str(int(time.time()) if at is None else at)
    return {
        "Content-Type": "application/json",
        "X-MRM-Event": event,
        "X-MRM-Delivery": delivery,
        "X-MRM-Timestamp": ts,
        "X-MRM-Signature": sign(SECRET, ts, delivery, event, body),
    }


def post(receiver: Receiver, body: bytes, headers: dict) -> requests.Response:
    return requests.post(receiver.url, data=body, headers=headers, timeout=5)


def test_the_headers_carry_event_delivery_and_a_valid_signature(receiver):
    item = ticket()
    body = WebhookSink._body(item)
    headers = sink(receiver)._headers(item, body)

    assert headers["Content-Type"] == "application/json"
    assert headers["X-MRM-Event"] == TICKET_OPENED
    assert headers["X-MRM-Delivery"] == item.key
    assert abs(int(headers["X-MRM-Timestamp"]) - time.time()) < 5
    assert headers["X-MRM-Signature"].startswith("v2=")
    assert verify_signature(SECRET, headers, body)


def test_scheme_v2_signs_timestamp_delivery_event_and_body_on_separate_lines():
    body, ts = b'{"kind":"ticket.opened"}', "1767225600"
    string = b"v2\n1767225600\nd1\nticket.opened\n" + body

    assert signed_string(ts, "d1", TICKET_OPENED, body) == string
    # an independent HMAC-SHA256 over the documented string
    assert (
        sign(SECRET, ts, "d1", TICKET_OPENED, body)
        == "v2=" + hmac.new(SECRET.encode(), string, hashlib.sha256).hexdigest()
    )
    with pytest.raises(ValueError):
        sign(SECRET, ts, "d1\nticket", "opened", body)  # a newline cannot move a field boundary


def test_verify_signature_rejects_tampering_other_secrets_and_stale_timestamps():
    body, now = b'{"kind":"ticket.opened"}', int(time.time())
    good = signed(body, at=now)

    assert verify_signature(SECRET, good, body)
    assert not verify_signature(SECRET, good, body + b" ")
    assert not verify_signature("another-secret", good, body)
    assert not verify_signature(SECRET, good | {"X-MRM-Timestamp": str(now + 1)}, body)  # signed too
    assert not verify_signature(SECRET, good | {"X-MRM-Delivery": "d2"}, body)
    assert not verify_signature(SECRET, good | {"X-MRM-Event": "ticket.closed"}, body)
    assert not verify_signature(SECRET, {k: v for k, v in good.items() if k != "X-MRM-Signature"}, body)
    assert not verify_signature(SECRET, {k: v for k, v in good.items() if k != "X-MRM-Delivery"}, body)
    assert not verify_signature(SECRET, good | {"X-MRM-Timestamp": "yesterday"}, body)
    assert not verify_signature(SECRET, good | {"X-MRM-Timestamp": "\u0661\u0662"}, body)  # int() takes it
    assert not verify_signature(SECRET, good | {"X-MRM-Signature": "v2=é" + "0" * 63}, body)
    assert not verify_signature(SECRET, good | {"X-MRM-Signature": good["X-MRM-Signature"][:-1]}, body)
    v1 = "sha256=" + hmac.new(SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    assert not verify_signature(SECRET, good | {"X-MRM-Signature": v1}, body)  # v1 is not accepted
    assert not verify_signature(SECRET, None, body)
    old = signed(body, at=now - 301)
    assert not verify_signature(SECRET, old, body)
    assert verify_signature(SECRET, old, body, tolerance=600)


def test_the_receiver_rejects_a_tampered_body(receiver):
    body = b'{"kind":"ticket.opened","payload":{"value":0.31}}'

    resp = post(receiver, body.replace(b"0.31", b"0.01"), signed(body))

    assert resp.status_code == 401
    assert receiver.received == []


def test_the_receiver_rejects_an_old_timestamp(receiver):
    body = b'{"kind":"ticket.opened"}'

    resp = post(receiver, body, signed(body, at=int(time.time()) - 3600))

    assert resp.status_code == 401
    assert receiver.received == []


def captured(receiver: Receiver) -> tuple[bytes, dict]:
    """One real request of the sink, as an attacker on the path would capture it (it is delivered)."""
    item = ticket()
    body = WebhookSink._body(item)
    headers = sink(receiver)._headers(item, body)
    assert post(receiver, body, headers).status_code == 200
    assert len(receiver.received) == 1
    return body, headers


def test_an_exact_replay_is_answered_but_not_stored_again(receiver):
    body, headers = captured(receiver)

    for _ in range(3):
        assert post(receiver, body, headers).status_code == 200

    assert len(receiver.received) == 1
    assert receiver.replays == 3


def test_a_replay_with_a_new_delivery_id_is_refused_and_not_stored(receiver):
    body, headers = captured(receiver)

    for n in range(3):
        resp = post(receiver, body, headers | {"X-MRM-Delivery": f"{headers['X-MRM-Delivery']}-{n}"})
        assert resp.status_code == 401

    assert len(receiver.received) == 1


def test_a_replay_with_a_changed_event_is_refused(receiver):
    body, headers = captured(receiver)

    resp = post(receiver, body, headers | {"X-MRM-Event": "ticket.closed"})

    assert resp.status_code == 401
    assert len(receiver.received) == 1


def test_a_replay_within_the_window_is_caught_even_after_the_delivery_id_is_forgotten(receiver):
    body, headers = captured(receiver)
    receiver._deliveries.clear()  # a receiver whose de-duplication store lost the id (a restart)

    assert post(receiver, body, headers).status_code == 200

    assert len(receiver.received) == 1  # the replay cache still knows the signature


@pytest.mark.parametrize(
    "signature",
    [
        "v2=" + "é" * 64,  # non-ASCII: compare_digest on str would raise TypeError
        "v2=" + "0" * 10,  # wrong length
        "",
        None,  # missing
        "sha256=" + "0" * 64,
    ],
    ids=["non-ascii", "short", "empty", "missing", "v1"],
)
def test_malformed_signatures_are_401_never_500(receiver, signature):
    body = b'{"kind":"ticket.opened"}'
    headers = signed(body)
    if signature is None:
        del headers["X-MRM-Signature"]
    else:
        headers["X-MRM-Signature"] = signature.encode("latin-1") if not signature.isascii() else signature

    resp = post(receiver, body, headers)

    assert resp.status_code == 401
    assert receiver.received == []


def test_a_non_ascii_timestamp_or_delivery_is_401(receiver):
    body = b'{"kind":"ticket.opened"}'

    for name in ("X-MRM-Timestamp", "X-MRM-Delivery", "X-MRM-Event"):
        headers = signed(body) | {name: "\u00e9t\u00e9".encode("latin-1")}
        assert post(receiver, body, headers).status_code == 401, name

    assert receiver.received == []


def test_the_replay_cache_forgets_a_signature_only_after_its_window():
    now = [1000.0]
    cache = ReplayCache(window=600, clock=lambda: now[0])

    assert cache.first("v2=aa") and not cache.first("v2=aa")
    now[0] += 300
    assert cache.first("v2=bb") and not cache.first("v2=aa")
    now[0] += 300  # aa is exactly 600 s old: a replay could still verify
    assert not cache.first("v2=aa")
    now[0] += 1
    assert cache.first("v2=cc")
    assert len(cache) == 2  # aa pruned, bb (301 s old) kept
    assert cache.first("v2=aa")


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
