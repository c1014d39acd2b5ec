"""SnsAlerts against moto's server on 127.0.0.1; each topic has an SQS queue subscribed to read what
was published."""

from __future__ import annotations

import hashlib
import json

import boto3
import pytest

from mrm.demo.s3 import free_port
from mrm.errors import DeliveryError
from mrm.inventory.notifications import SnsChannel
from mrm.notify.base import ALERT_RED, ALERT_SUMMARY, TICKET_OPENED, Delivery
from mrm.notify.channels.sns import SnsAlerts, subject


def topic_with_queue(name: str) -> tuple[str, str]:
    """A topic and the URL of an SQS queue subscribed to it (FIFO when the name ends in .fifo)."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    fifo = name.endswith(".fifo")
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"} if fifo else {})["TopicArn"]
    queue = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=attributes["QueueArn"])
    return arn, queue


def received(queue: str) -> list[dict]:
    """The SNS envelopes in the queue, with the queue's FIFO attributes under "sqs"."""
    resp = boto3.client("sqs").receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
    )
    return [{**json.loads(m["Body"]), "sqs": m["Attributes"]} for m in resp.get("Messages", [])]


def alert(key: str = "alert.red:credit_line:run-1:sns", kind: str = ALERT_RED, **payload) -> Delivery:
    base = {
        "subject": "[RED] credit_line: drift.psi[score] = 0.31 — owner notified",
        "text": "Model credit_line breached 1 control on 2026-09-14.",
        "severity": "RED",
        "model_id": "credit_line",
        "recipients": [],
        "lines": ["drift.psi[score] = 0.31 (red > 0.25)"],
        "links": {"evidence": "https://mrm.example/evidence/run-1"},
    }
    return Delivery(key=key, channel="sns", kind=kind, payload={**base, **payload})


def test_topic_by_severity_with_subject_message_and_attributes(aws):
    red, red_queue = topic_with_queue("mrm-red")
    info, info_queue = topic_with_queue("mrm-info")
    channel = SnsAlerts.from_config(SnsChannel(severities={"RED": red, "INFO": info}))

    receipt = channel.deliver(alert())

    assert receipt["topic_arn"] == red
    [msg] = received(red_queue)
    assert received(info_queue) == []
    assert msg["MessageId"] == receipt["message_id"]
    assert msg["Subject"] == "[RED] credit_line: drift.psi[score] = 0.31 - owner notified"
    assert msg["Message"] == (
        "Model credit_line breached 1 control on 2026-09-14.\n\nevidence: https://mrm.example/evidence/run-1"
    )
    attributes = {name: a["Value"] for name, a in msg["MessageAttributes"].items()}
    assert attributes == {
        "model_id": "credit_line",
        "severity": "RED",
        "kind": ALERT_RED,
        "idempotency_key": "alert.red:credit_line:run-1:sns",
    }


def test_a_model_topic_wins_over_the_severity_topic(aws):
    red, red_queue = topic_with_queue("mrm-red")
    model, model_queue = topic_with_queue("credit-line-alerts")
    channel = SnsAlerts({"RED": red}, {"credit_line": model})

    channel.deliver(alert())
    channel.deliver(alert(key="other", model_id="fraud_score"))

    assert [m["MessageAttributes"]["idempotency_key"]["Value"] for m in received(model_queue)] == [
        "alert.red:credit_line:run-1:sns"
    ]
    assert [m["MessageAttributes"]["model_id"]["Value"] for m in received(red_queue)] == ["fraud_score"]


def test_a_fifo_topic_groups_by_model_and_drops_a_retried_duplicate(aws):
    arn, queue = topic_with_queue("mrm-red.fifo")
    channel = SnsAlerts({"RED": arn, "INFO": arn})

    channel.deliver(alert())
    channel.deliver(alert())  # a retry after a lost answer
    summary = alert(key="alert.summary:run-1:sns", kind=ALERT_SUMMARY, model_id=None, severity="INFO")
    channel.deliver(summary)

    msgs = received(queue)
    assert [m["sqs"]["MessageGroupId"] for m in msgs] == ["credit_line", "portfolio"]
    key_digest = hashlib.sha256(b"alert.red:credit_line:run-1:sns").hexdigest()
    assert msgs[0]["sqs"]["MessageDeduplicationId"] == key_digest
    assert msgs[1]["MessageAttributes"]["model_id"]["Value"] == "portfolio"


def test_no_topic_configured_is_not_transient_and_names_the_setting(aws):
    channel = SnsAlerts({"AMBER": "arn:aws:sns:us-east-1:123456789012:mrm-amber"})

    with pytest.raises(DeliveryError) as err:
        channel.deliver(alert())

    assert not err.value.transient
    assert "set notifications.channels.sns.severities.RED (or .models.credit_line)" in str(err.value)


def test_a_missing_topic_is_not_transient(aws):
    arn = "arn:aws:sns:us-east-1:123456789012:no-such-topic"

    with pytest.raises(DeliveryError) as err:
        SnsAlerts({"RED": arn}).deliver(alert())

    assert not err.value.transient
    assert arn in str(err.value)
    assert "NotFound" in str(err.value)


def test_no_endpoint_is_transient_and_no_secret_is_in_the_message(aws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")

    with pytest.raises(DeliveryError) as err:
        SnsAlerts({"RED": "arn:aws:sns:us-east-1:123456789012:mrm-red"}).deliver(alert())

    assert err.value.transient
    assert "cannot reach SNS" in str(err.value)
    assert "mrm-test-secret" not in str(err.value)


def test_an_endpoint_path_and_query_never_reach_the_message(aws, monkeypatch):
    port = free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}/proxy/tok-SECRET-77?key=qs-SECRET-88")

    with pytest.raises(DeliveryError) as err:
        SnsAlerts({"RED": "arn:aws:sns:us-east-1:123456789012:mrm-red"}).deliver(alert())

    message = str(err.value)
    assert err.value.transient
    assert f"http://127.0.0.1:{port}/…" in message
    assert "SECRET" not in message and "/proxy" not in message
    assert "arn:aws:sns:us-east-1:123456789012:mrm-red" in message  # the topic is named, not redacted


def test_tickets_are_refused(aws):
    with pytest.raises(DeliveryError) as err:
        SnsAlerts().deliver(Delivery(key="t", channel="sns", kind=TICKET_OPENED, payload={}))

    assert not err.value.transient


def test_subject_is_sanitised_for_sns():
    assert subject("Ünïcode\nsubject\twith  tabs ✓ – “quoted”") == 'Unicode subject with tabs - "quoted"'
    assert len(subject("x" * 300)) == 100
    assert subject("x" * 300).endswith("...")
    assert subject("✓✓") == "mrm alert"
