"""The alerts as outbox items, from rows handed in, with the example inventory's routing (RED alerts by
e-mail, Slack and SNS; the AMBER digest by e-mail; the summary to Slack; escalations by e-mail)."""

from __future__ import annotations

from datetime import date

import pytest
from support import INVENTORY

from mrm.inventory import Inventory, load_inventory
from mrm.notify import messages
from mrm.notify.base import ALERT_DIGEST, ALERT_ESCALATION, ALERT_RED, ALERT_SUMMARY

DAY = date(2026, 9, 5)
TEAM = "model-risk@example.com"


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(INVENTORY)[0]


def metric(model_id: str, metric: str, status: str, value: float, column: str | None = None) -> dict:
    return {"model_id": model_id, "check": "quality", "metric": metric, "column": column, "segment": None,
            "status": status, "value": value, "amber_threshold": 0.05, "red_threshold": 0.1}  # fmt: skip


def test_one_red_alert_per_channel_names_every_ticket_the_run_opened(inventory):
    entry = inventory.get("credit_line")
    opened = [
        {"ticket_id": 7, "key": "MRM-7", "control": "drift.psi[amount]", "value": 0.31, "red": 0.25},
        {
            "ticket_id": 8,
            "key": "MRM-8",
            "control": "quality.null_rate[utilization]",
            "value": None,
            "red": None,
        },
    ]

    items = messages.red_alert(inventory, entry, DAY, opened, {"Airflow run": "http://airflow/runs/1"})

    assert [(i.key, i.channel, i.kind, i.model_id, i.ticket_id) for i in items] == [
        (f"{ch}:red:credit_line:{DAY}:7", ch, ALERT_RED, "credit_line", None)
        for ch in ("email", "slack", "sns")
    ]
    payload = items[0].payload
    assert payload["subject"] == f"[RED] credit_line: 2 new breaches on {DAY}"
    assert payload["lines"] == [
        "MRM-7: drift.psi[amount] = 0.31 (red 0.25)",
        "MRM-8: quality.null_rate[utilization] = n/a (red n/a)",
    ]
    assert payload["text"].splitlines()[0] == (
        "Consumer credit-line assignment (credit_line v2.0.1, tier 1) breached 2 controls at RED on "
        f"{DAY}; a ticket was opened for each:"
    )
    assert payload["recipients"] == ["credit-risk-models@example.com", TEAM]
    assert (payload["severity"], payload["links"]) == ("RED", {"Airflow run": "http://airflow/runs/1"})


def test_the_digest_is_one_message_per_owner_with_only_the_amber_findings(inventory):
    rows = [
        metric("credit_line", "null_rate", "AMBER", 0.07, "utilization"),
        metric("credit_line", "volume_ratio", "RED", 0.2),
        metric("aml_alert", "null_rate", "AMBER", 0.06, "amount"),
        metric("not_in_inventory", "null_rate", "AMBER", 0.06),
    ]

    items = messages.digests(inventory, rows, DAY)

    owners = ["credit-risk-models@example.com", "fincrime-analytics@example.com"]
    assert [(i.key, i.kind, i.payload["recipients"]) for i in items] == [
        (f"email:digest:{owner}:{DAY}", ALERT_DIGEST, [owner]) for owner in owners
    ]
    assert items[0].payload["subject"] == f"[AMBER] 1 finding on {DAY} (credit_line)"
    assert items[0].payload["lines"] == [
        "credit_line: quality.null_rate[utilization] = 0.07 (amber 0.05, red 0.1)"
    ]


def test_the_summary_counts_each_monitored_model_by_its_latest_run(inventory):
    runs = [
        {"model_id": "card_fraud", "overall_status": "AMBER", "status": "completed", "reason": None},
        {"model_id": "card_fraud", "overall_status": "ERROR", "status": "failed", "reason": "no files"},
        {"model_id": "credit_line", "overall_status": None, "status": "completed", "reason": None},
    ]
    tickets = [{"status": "open", "first_logical_date": DAY}, {"status": "closed", "first_logical_date": DAY}]

    (item,) = messages.summary(inventory, DAY, runs, tickets, undelivered=2)

    assert (item.key, item.kind, item.payload["recipients"]) == (
        f"slack:summary:{DAY}",
        ALERT_SUMMARY,
        [TEAM],
    )
    assert item.payload["subject"] == f"Model risk summary {DAY}: 1 ERROR, 1 GREEN, 1 NO RUN"
    assert item.payload["severity"] == "RED"
    assert item.payload["text"].splitlines() == [
        f"Portfolio monitoring on {DAY}: 3 models: 1 ERROR, 1 GREEN, 1 NO RUN.",
        f"Tickets: 2 opened on {DAY}, 1 open in all.",
        "2 notification(s) still undelivered (see `mrm outbox`).",
        "- aml_alert: NO RUN",
        "- card_fraud: ERROR (no files)",
        "- credit_line: GREEN",
    ]


def test_an_escalation_goes_to_the_model_risk_team_not_the_owner(inventory):
    ticket = {"ticket_id": 3, "key": "MRM-3", "model_id": "card_fraud", "control": "drift.psi[amount]",
              "owner": "fraud-models@example.com", "title": "[RED] card_fraud: drift.psi[amount] breached",
              "first_logical_date": date(2026, 8, 30), "occurrences": 4, "priority": "Highest"}  # fmt: skip

    (item,) = messages.escalation(inventory, ticket, 6, DAY)

    assert (item.key, item.kind, item.model_id) == ("email:escalation:3", ALERT_ESCALATION, "card_fraud")
    assert item.payload["recipients"] == [TEAM]
    assert item.payload["subject"] == "[ESCALATED] MRM-3 card_fraud: drift.psi[amount]"
    assert "Priority raised to Highest. The model owner is fraud-models@example.com;" in item.payload["text"]


# a segment value from the scoring data, carried into the control key: CR/LF and a line separator
SEGMENT_CONTROL = "quality.null_rate[device_score]{merchant=ACME\r\nBcc: attacker@evil.example\u2028x}"


def test_a_segment_value_with_newlines_gives_one_line_subjects_and_lines(inventory):
    ticket = {"ticket_id": 3, "key": "MRM-3", "model_id": "card_fraud", "control": SEGMENT_CONTROL,
              "owner": "fraud-models@example.com", "title": "[RED] card_fraud", "occurrences": 4,
              "first_logical_date": date(2026, 8, 30), "priority": "Highest"}  # fmt: skip
    entry = inventory.get("card_fraud")
    opened = [{"ticket_id": 3, "key": "MRM-3", "control": SEGMENT_CONTROL, "value": 0.4, "red": 0.1}]
    rows = [metric("card_fraud", "null_rate", "AMBER", 0.07, "device_score") | {"segment": "m=a\nb"}]

    payloads = [
        messages.escalation(inventory, ticket, 6, DAY)[0].payload,
        messages.red_alert(inventory, entry, DAY, opened, {})[0].payload,
        messages.digests(inventory, rows, DAY)[0].payload,
    ]

    for payload in payloads:
        for value in (payload["subject"], *payload["lines"]):
            assert not any(ch in value for ch in "\r\n\u2028"), value
    assert payloads[0]["subject"] == (
        "[ESCALATED] MRM-3 card_fraud: quality.null_rate[device_score]{merchant=ACME Bcc: "
        "attacker@evil.example x}"
    )
    assert payloads[1]["lines"] == [
        "MRM-3: quality.null_rate[device_score]{merchant=ACME Bcc: attacker@evil.example x} = 0.4 (red 0.1)"
    ]


def test_the_escalation_mail_of_such_a_segment_is_delivered_with_a_one_line_subject(inventory, tls):
    from mrm.demo.standins.smtp import SmtpStandIn
    from mrm.notify.base import Delivery
    from mrm.notify.channels.email import SmtpAlerts

    ticket = {"ticket_id": 3, "key": "MRM-3", "model_id": "card_fraud", "control": SEGMENT_CONTROL,
              "owner": "fraud-models@example.com", "title": "[RED] card_fraud", "occurrences": 4,
              "first_logical_date": date(2026, 8, 30), "priority": "Highest"}  # fmt: skip
    (item,) = messages.escalation(inventory, ticket, 6, DAY)

    with SmtpStandIn(tls_context=tls.server_context()) as relay:
        SmtpAlerts(relay.host, relay.port, cafile=tls.ca_file, timeout=5).deliver(
            Delivery(item.key, item.channel, item.kind, item.payload)
        )

    [mail] = relay.messages
    assert mail["Bcc"] is None
    assert " ".join(str(mail["Subject"]).split()) == item.payload["subject"]
    assert mail["X-RcptTo"] == TEAM


def test_the_summary_ranks_an_accepted_model_after_amber_and_before_green_and_it_is_no_alarm(inventory):
    runs = [
        {"model_id": "card_fraud", "overall_status": "ACCEPTED", "status": "completed", "reason": None},
        {"model_id": "credit_line", "overall_status": "GREEN", "status": "completed", "reason": None},
        {"model_id": "aml_alert", "overall_status": "AMBER", "status": "completed", "reason": None},
    ]
    (item,) = messages.summary(inventory, DAY, runs, [], undelivered=0)

    assert item.payload["subject"] == f"Model risk summary {DAY}: 1 AMBER, 1 ACCEPTED, 1 GREEN"
    (alone,) = messages.summary(inventory, DAY, runs[:2], [], undelivered=0)
    assert alone.payload["severity"] == "INFO"  # an accepted risk alarms nobody
