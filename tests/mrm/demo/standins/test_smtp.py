"""The SMTP stand-in's record of commands: every verb a client sent, in order, and none of the message's
own lines, over plain SMTP and after STARTTLS."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from mrm.demo.standins.smtp import SmtpStandIn


def mail(body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "s"
    msg.set_content(body)
    return msg


BODY = "AUTH PLAIN AGJvYgBzM2NyZXQ=\nMAIL FROM:<x@evil.example>\n.\nQUIT\n"  # lines that look like commands


def test_commands_are_recorded_and_message_lines_are_not():
    with SmtpStandIn() as relay, smtplib.SMTP(relay.host, relay.port, timeout=5) as client:
        client.send_message(mail(BODY))
        client.noop()

    assert relay.commands == ["EHLO", "MAIL", "RCPT", "DATA", "NOOP", "QUIT"]
    [got] = relay.messages
    assert "MAIL FROM:<x@evil.example>" in got.get_content()


def test_commands_after_starttls_are_recorded_too(tls):
    relay = SmtpStandIn(tls_context=tls.server_context())
    with relay, smtplib.SMTP(relay.host, relay.port, timeout=5) as client:
        client.starttls(context=ssl.create_default_context(cafile=tls.ca_file))
        client.send_message(mail(BODY))

    assert relay.commands == ["EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    assert len(relay.messages) == 1
