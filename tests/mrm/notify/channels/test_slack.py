"""SlackAlerts against the Slack incoming-webhook stand-in on loopback."""

from __future__ import annotations

import json

import pytest
import requests

from mrm.demo.s3 import free_port
from mrm.demo.standins.receiver import Receiver
from mrm.errors import DeliveryError
from mrm.inventory.notifications import SlackChannel
from mrm.notify.base import ALERT_DIGEST, TICKET_OPENED, Delivery
from mrm.notify.channels.slack import SlackAlerts

TOKEN = "T0MRM/B0MRM/xoxSecretWebhookToken0123456789abcdef"


def alert(**payload) -> Delivery:
    base = {
        "subject": "[AMBER] digest for owner@bank.example: 3 findings",
        "text": "3 AMBER findings on 2026-09-14 <see below> & more",
        "severity": "AMBER",
        "model_id": "credit_line",
        "recipients": ["owner@bank.example"],
        "lines": ["drift.psi[income] = 0.14", "quality.null_rate[age] = 0.06", "perf.auc = 0.71"],
        "links": {"evidence": "https://mrm.example/evidence/run-1"},
    }
    return Delivery(
        key="alert.digest:owner:2026-09-14:slack",
        channel="slack",
        kind=ALERT_DIGEST,
        payload={**base, **payload},
    )


@pytest.fixture
def slack():
    with Receiver() as receiver:
        yield receiver


def channel(receiver: Receiver, timeout: float = 5) -> SlackAlerts:
    return SlackAlerts(f"{receiver.url}/services/{TOKEN}", timeout=timeout)


def test_a_readable_block_kit_message_arrives(slack):
    assert channel(slack).deliver(alert()) == {"status": 200}

    [msg] = slack.received
    assert msg["text"] == ":large_orange_circle: [AMBER] digest for owner@bank.example: 3 findings"
    header, summary, findings, links = msg["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[AMBER] digest for owner@bank.example: 3 findings"},
    }
    assert summary["text"] == {
        "type": "mrkdwn",
        "text": ":large_orange_circle: *AMBER*\n3 AMBER findings on 2026-09-14 &lt;see below&gt; &amp; more",
    }
    assert findings["text"]["text"].splitlines() == [
        "• drift.psi[income] = 0.14",
        "• quality.null_rate[age] = 0.06",
        "• perf.auc = 0.71",
    ]
    assert links == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "<https://mrm.example/evidence/run-1|evidence>"}],
    }


def test_slack_limits_are_respected(slack):
    item = alert(
        subject="S" * 400, text="x" * 5000, lines=[f"finding {i:04d} " + "y" * 60 for i in range(500)]
    )

    channel(slack).deliver(item)  # the stand-in answers invalid_blocks past Slack's limits

    header, summary, findings, _ = slack.received[0]["blocks"]
    assert len(header["text"]["text"]) == 150
    assert len(summary["text"]["text"]) == 3000
    assert summary["text"]["text"].endswith("…")
    assert len(findings["text"]["text"]) <= 3000
    assert findings["text"]["text"].splitlines()[-1].startswith("… and ")
    shown = len(findings["text"]["text"].splitlines()) - 1
    assert findings["text"]["text"].endswith(f"… and {500 - shown} more")


def test_the_stand_in_refuses_what_slack_refuses(slack):
    assert requests.post(slack.url, json={"attachments": []}, timeout=5).text == "invalid_payload"
    too_long = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "z" * 3001}}]}
    resp = requests.post(slack.url, json=too_long, timeout=5)
    assert (resp.status_code, resp.text) == (400, "invalid_blocks")
    assert slack.received == []


def test_invalid_payload_is_not_transient_and_hides_the_token(slack):
    slack.inject(400, body="invalid_payload")

    with pytest.raises(DeliveryError) as err:
        channel(slack).deliver(alert())

    assert not err.value.transient
    assert "HTTP 400: invalid_payload" in str(err.value)
    assert "report it" in str(err.value)
    assert "xoxSecret" not in str(err.value)


def test_rate_limited_is_transient_with_retry_after(slack):
    slack.inject(429, retry_after=7, body="rate_limited")

    with pytest.raises(DeliveryError) as err:
        channel(slack).deliver(alert())
    channel(slack).deliver(alert())

    assert err.value.transient
    assert err.value.retry_after == 7
    assert len(slack.received) == 1


@pytest.mark.parametrize("fault", ["closed port", "hang"])
def test_no_answer_is_transient_and_hides_the_token(slack, fault):
    if fault == "hang":
        slack.inject("hang")
        url = f"{slack.url}/services/{TOKEN}"
    else:
        url = f"http://127.0.0.1:{free_port()}/services/{TOKEN}"

    with pytest.raises(DeliveryError) as err:
        SlackAlerts(url, timeout=0.5).deliver(alert())

    assert err.value.transient
    for part in TOKEN.split("/"):
        assert part[:6] not in str(err.value)


def test_from_config_takes_the_url_from_the_connection(slack, monkeypatch):
    conn = {"conn_type": "slackwebhook", "host": f"{slack.url}/services", "password": TOKEN}
    monkeypatch.setenv("AIRFLOW_CONN_MRM_SLACK", json.dumps(conn))

    SlackAlerts.from_config(SlackChannel()).deliver(alert())

    assert len(slack.received) == 1


def test_tickets_are_refused(slack):
    with pytest.raises(DeliveryError) as err:
        channel(slack).deliver(Delivery(key="t1", channel="slack", kind=TICKET_OPENED, payload={}))

    assert not err.value.transient
    assert slack.received == []
