"""SmtpAlerts against the aiosmtpd stand-in on loopback: real SMTP sessions over STARTTLS (a
certificate made by the test, trusted through its CA file), TLS on connect and, only when the
connection says insecure, plain SMTP; faults injected; the commands the server received."""

from __future__ import annotations

import json
import logging
import mailbox

import pytest

from mrm.demo.s3 import free_port
from mrm.demo.standins.smtp import SmtpStandIn
from mrm.errors import ConfigError, DeliveryError
from mrm.inventory.notifications import EmailChannel
from mrm.notify.base import ALERT_RED, TICKET_OPENED, Delivery
from mrm.notify.channels.email import SmtpAlerts, build_message

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
def smtp(tmp_path, tls):
    """A relay offering STARTTLS (the default mrm requires)."""
    with SmtpStandIn(tmp_path / "mail.mbox", tls_context=tls.server_context()) as server:
        yield server


@pytest.fixture
def plain():
    """A plaintext relay that offers AUTH in clear (as a careless relay would)."""
    with SmtpStandIn(credentials=("mrm", PASSWORD)) as server:
        yield server


def channel(server: SmtpStandIn, ca_file: str | None = None, **kwargs) -> SmtpAlerts:
    return SmtpAlerts(server.host, server.port, sender=SENDER, timeout=5, cafile=ca_file, **kwargs)


def set_conn(monkeypatch, server: SmtpStandIn, **fields) -> None:
    conn = {"conn_type": "smtp", "host": server.host, "port": server.port, **fields}
    monkeypatch.setenv("AIRFLOW_CONN_MRM_SMTP", json.dumps(conn))


def test_a_real_mail_arrives_with_headers_and_both_parts(smtp, tls, tmp_path):
    receipt = channel(smtp, tls.ca_file).deliver(alert())

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
    assert smtp.commands[:3] == ["EHLO", "STARTTLS", "EHLO"]  # the mail went after the upgrade


def test_from_config_requires_starttls_by_default_and_logs_in_after_it(tmp_path, tls, monkeypatch):
    relay = SmtpStandIn(credentials=("mrm", PASSWORD), tls_context=tls.server_context())
    with relay:
        set_conn(monkeypatch, relay, login="mrm", password=PASSWORD, extra={"ca_file": tls.ca_file})

        channel = SmtpAlerts.from_config(EmailChannel(sender=SENDER))
        channel.deliver(alert())

    assert (channel.security, channel.insecure) == ("starttls", False)
    assert relay.messages[0]["From"] == SENDER
    assert relay.commands[:4] == ["EHLO", "STARTTLS", "EHLO", "AUTH"]


def test_the_default_refuses_a_plaintext_relay_and_never_sends_auth(plain, monkeypatch):
    set_conn(monkeypatch, plain, login="mrm", password=PASSWORD)

    with pytest.raises(DeliveryError) as err:
        SmtpAlerts.from_config(EmailChannel(sender=SENDER)).deliver(alert())

    message = str(err.value)
    assert not err.value.transient
    assert "\n" not in message
    assert f"SMTP server 127.0.0.1:{plain.port} does not offer STARTTLS" in message
    assert '{"insecure": true}' in message
    assert PASSWORD not in message
    assert "AUTH" not in plain.commands and "MAIL" not in plain.commands
    assert plain.commands[0] == "EHLO"
    assert plain.messages == []


def test_a_starttls_false_without_insecure_is_refused(plain, monkeypatch):
    set_conn(monkeypatch, plain, extra={"starttls": False})

    with pytest.raises(
        ConfigError, match="sets starttls false, which would send mail and any login in clear"
    ):
        SmtpAlerts.from_config(EmailChannel(sender=SENDER))
    with pytest.raises(ConfigError, match="plain SMTP would send mail and any login in clear"):
        SmtpAlerts(plain.host, plain.port, security="none")
    assert plain.commands == []


def test_insecure_true_sends_in_clear_with_a_warning(plain, monkeypatch, caplog):
    set_conn(monkeypatch, plain, login="mrm", password=PASSWORD, extra={"insecure": True})

    with caplog.at_level(logging.WARNING, logger="mrm.notify"):
        channel = SmtpAlerts.from_config(EmailChannel(sender=SENDER))
        channel.deliver(alert())

    assert (channel.security, channel.port) == ("none", plain.port)
    assert len(plain.messages) == 1
    assert "STARTTLS" not in plain.commands and "AUTH" in plain.commands
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "logging in as 'mrm' over plain SMTP, in clear" in warning
    assert PASSWORD not in warning


def test_insecure_without_a_login_sends_without_a_warning(tmp_path, monkeypatch, caplog):
    with SmtpStandIn() as relay:  # the demo's relay: plaintext on loopback, no login
        set_conn(monkeypatch, relay, extra={"insecure": True})
        with caplog.at_level(logging.WARNING, logger="mrm.notify"):
            SmtpAlerts.from_config(EmailChannel(sender=SENDER)).deliver(alert())

    assert len(relay.messages) == 1
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_tls_on_connect_delivers(tls, monkeypatch):
    relay = SmtpStandIn(credentials=("mrm", PASSWORD), tls_context=tls.server_context(), implicit_tls=True)
    with relay:
        set_conn(
            monkeypatch, relay, login="mrm", password=PASSWORD, extra={"ssl": True, "ca_file": tls.ca_file}
        )
        channel = SmtpAlerts.from_config(EmailChannel(sender=SENDER))
        channel.deliver(alert())

    assert channel.security == "ssl"
    assert len(relay.messages) == 1
    assert relay.commands[:2] == ["EHLO", "AUTH"]  # already encrypted: no STARTTLS


def test_a_certificate_the_client_does_not_trust_fails_and_says_what_to_fix(smtp):
    with pytest.raises(DeliveryError) as err:
        channel(smtp).deliver(alert())  # the system's CAs only: the test's certificate is unknown

    assert not err.value.transient
    assert "TLS failed" in str(err.value) and '"ca_file"' in str(err.value)
    assert "MAIL" not in smtp.commands
    assert smtp.messages == []


def test_a_451_reply_is_transient_and_the_retry_delivers(smtp, tls):
    smtp.reject(451)

    with pytest.raises(DeliveryError) as err:
        channel(smtp, tls.ca_file).deliver(alert())
    assert err.value.transient
    assert f"SMTP server 127.0.0.1:{smtp.port}" in str(err.value)
    assert "451" in str(err.value)

    channel(smtp, tls.ca_file).deliver(alert())
    assert len(smtp.messages) == 1


def test_a_550_reply_is_not_transient(smtp, tls):
    smtp.reject(550)

    with pytest.raises(DeliveryError) as err:
        channel(smtp, tls.ca_file).deliver(alert())

    assert not err.value.transient
    assert "550" in str(err.value)
    assert smtp.messages == []


def test_a_closed_port_is_transient():
    with pytest.raises(DeliveryError) as err:
        SmtpAlerts("127.0.0.1", free_port(), sender=SENDER, timeout=2).deliver(alert())

    assert err.value.transient
    assert "cannot connect" in str(err.value)


def test_a_failed_login_is_not_transient_and_never_shows_the_password(tls):
    with SmtpStandIn(credentials=("mrm", "the-right-one"), tls_context=tls.server_context()) as server:
        with pytest.raises(DeliveryError) as err:
            channel(server, tls.ca_file, login="mrm", password=PASSWORD).deliver(alert())
        channel(server, tls.ca_file, login="mrm", password="the-right-one").deliver(alert())

    assert not err.value.transient
    assert "535" in str(err.value)
    assert "check the login ('mrm') and password" in str(err.value)
    assert PASSWORD not in str(err.value)
    assert len(server.messages) == 1


def test_no_recipients_is_not_transient(smtp, tls):
    with pytest.raises(DeliveryError) as err:
        channel(smtp, tls.ca_file).deliver(alert(recipients=[]))

    assert not err.value.transient
    assert "no recipients" in str(err.value)


def test_tickets_are_refused(smtp, tls):
    item = Delivery(key="t1", channel="email", kind=TICKET_OPENED, payload={"title": "x"})

    with pytest.raises(DeliveryError) as err:
        channel(smtp, tls.ca_file).deliver(item)

    assert not err.value.transient
    assert "route tickets to jira or webhook" in str(err.value)


NEWLINES = "drift.psi[score]{segment=NL\r\nBcc: attacker@evil.example\n\u2028X-Injected: 1\x00}"


def test_cr_lf_and_control_characters_from_data_never_reach_a_header(smtp, tls):
    item = alert(subject=f"[ESCALATED] MRM-3 credit_line: {NEWLINES}", key=f"alert:{NEWLINES}")

    msg = build_message(item, SENDER)  # EmailMessage raised ValueError on the raw value
    channel(smtp, tls.ca_file).deliver(item)

    [got] = smtp.messages
    for header in (msg["Subject"], got["Subject"], got["X-MRM-Idempotency-Key"]):
        assert not any(ch in str(header) for ch in "\r\n\x00\u2028"), header
    assert " ".join(str(got["Subject"]).split()) == (
        "[ESCALATED] MRM-3 credit_line: drift.psi[score]{segment=NL Bcc: attacker@evil.example "
        "X-Injected: 1 }"
    )
    assert got["Bcc"] is None and got["X-Injected"] is None
    assert got["X-RcptTo"] == "owner@bank.example, mrt@bank.example"
