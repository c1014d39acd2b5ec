"""SmtpAlerts against the aiosmtpd stand-in on loopback: real SMTP sessions, faults injected."""

from __future__ import annotations

import json
import mailbox

import pytest

from mrm.demo.s3 import free_port
from mrm.demo.standins.smtp import SmtpStandIn
from mrm.errors import DeliveryError
from mrm.inventory.notifications import EmailChannel
from mrm.notify.base import ALERT_RED, TICKET_OPENED, Delivery
from mrm.notify.channels.email import SmtpAlerts

SENDER = "mrm@bank.example"
PASSWORD = "smtp-pa55word-do-not-print"


def alert(key: str = "alert.red:credit_line:run-1:email", **payload) -> Delivery:
    base = {
        "subject": "[RED] credit_line: 2 controls breached",
        "text": "Model credit_line breached 2 controls on 2026-09-14.\nScore PSI 0.31 > 0.25 <red>",
        "severity": "RED",
        "model_id": "credit_line",
        "recipients": ["owner@bank.example", "mrt@bank.example"],
        "lines": ["drift.psi[score] = 0.31 (red > 0.25)", "quality.null_rate[income] = 0.12 (red > 0.10)"],
        "links": {
            "evidence": "https://mrm.example/evidence/run-1",
            "airflow_run": "https://af.example/run-1",
        },
    }
    return Delivery(key=key, channel="email", kind=ALERT_RED, payload={**base, **payload})


@pytest.fixture
def smtp(tmp_path):
    with SmtpStandIn(tmp_path / "mail.mbox") as server:
        yield server


def channel(server: SmtpStandIn, **kwargs) -> SmtpAlerts:
    return SmtpAlerts(server.host, server.port, sender=SENDER, timeout=5, **kwargs)


def test_a_real_mail_arrives_with_headers_and_both_parts(smtp, tmp_path):
    receipt = channel(smtp).deliver(alert())

    assert receipt == {
        "message_id": "<alert.red-credit_line-run-1-email@mrm>",
        "recipients": ["owner@bank.example", "mrt@bank.example"],
    }
    [msg] = smtp.messages
    assert msg["To"] == "owner@bank.example, mrt@bank.example"
    assert msg["X-RcptTo"] == "owner@bank.example, mrt@bank.example"
    assert msg["From"] == SENDER
    assert msg["Subject"] == "[RED] credit_line: 2 controls breached"
    assert msg["Message-ID"] == "<alert.red-credit_line-run-1-email@mrm>"
    assert msg["X-MRM-Idempotency-Key"] == "alert.red:credit_line:run-1:email"
    plain = msg.get_body(preferencelist=("plain",)).get_content()
    assert plain.startswith("Model credit_line breached 2 controls")
    assert "evidence: https://mrm.example/evidence/run-1" in plain
    page = msg.get_body(preferencelist=("html",)).get_content()
    assert "0.31 &gt; 0.25 &lt;red&gt;" in page  # escaped
    assert "<td>drift.psi[score] = 0.31 (red &gt; 0.25)</td>" in page
    assert '<a href="https://af.example/run-1">airflow_run</a>' in page
    box = mailbox.mbox(tmp_path / "mail.mbox")
    [stored] = list(box)
    box.close()
    assert stored["Message-ID"] == msg["Message-ID"]


def test_from_config_reads_the_airflow_connection(smtp, monkeypatch):
    conn = {"conn_type": "smtp", "host": smtp.host, "port": smtp.port, "extra": {"starttls": False}}
    monkeypatch.setenv("AIRFLOW_CONN_MRM_SMTP", json.dumps(conn))

    channel = SmtpAlerts.from_config(EmailChannel(sender=SENDER))
    channel.deliver(alert())

    assert smtp.messages[0]["From"] == SENDER


def test_a_451_reply_is_transient_and_the_retry_delivers(smtp):
    smtp.reject(451)

    with pytest.raises(DeliveryError) as err:
        channel(smtp).deliver(alert())
    assert err.value.transient
    assert f"SMTP server 127.0.0.1:{smtp.port}" in str(err.value)
    assert "451" in str(err.value)

    channel(smtp).deliver(alert())
    assert len(smtp.messages) == 1


def test_a_550_reply_is_not_transient(smtp):
    smtp.reject(550)

    with pytest.raises(DeliveryError) as err:
        channel(smtp).deliver(alert())

    assert not err.value.transient
    assert "550" in str(err.value)
    assert smtp.messages == []


def test_a_closed_port_is_transient():
    with pytest.raises(DeliveryError) as err:
        SmtpAlerts("127.0.0.1", free_port(), sender=SENDER, timeout=2).deliver(alert())

    assert err.value.transient
    assert "cannot connect" in str(err.value)


def test_a_failed_login_is_not_transient_and_never_shows_the_password():
    with SmtpStandIn(credentials=("mrm", "the-right-one")) as server:
        with pytest.raises(DeliveryError) as err:
            channel(server, login="mrm", password=PASSWORD).deliver(alert())
        channel(server, login="mrm", password="the-right-one").deliver(alert())

    assert not err.value.transient
    assert "535" in str(err.value)
    assert "check the login ('mrm') and password" in str(err.value)
    assert PASSWORD not in str(err.value)
    assert len(server.messages) == 1


def test_starttls_on_a_server_without_it_says_what_to_fix(smtp):
    with pytest.raises(DeliveryError) as err:
        channel(smtp, starttls=True).deliver(alert())

    assert not err.value.transient
    assert '"starttls"/"ssl"' in str(err.value)


def test_no_recipients_is_not_transient(smtp):
    with pytest.raises(DeliveryError) as err:
        channel(smtp).deliver(alert(recipients=[]))

    assert not err.value.transient
    assert "no recipients" in str(err.value)


def test_tickets_are_refused(smtp):
    item = Delivery(key="t1", channel="email", kind=TICKET_OPENED, payload={"title": "x"})

    with pytest.raises(DeliveryError) as err:
        channel(smtp).deliver(item)

    assert not err.value.transient
    assert "route tickets to jira or webhook" in str(err.value)
