"""Alerts by e-mail over SMTP (any relay, e.g. Amazon SES SMTP).

The Airflow connection (``notifications.channels.email.connection``, default ``mrm_smtp``) gives host,
port, login and password. The connection is encrypted unless it says otherwise:

* by default, STARTTLS is required (port 587 unless given): a server that does not offer it fails the
  send with one line saying so, before any login or mail is sent;
* extra ``{"ssl": true}`` (or a ``smtps://`` URI) connects over TLS at once (port 465);
* extra ``{"insecure": true}`` allows plain SMTP (port 25): only for a relay you trust on a private
  network (or the demo's stand-in). A login is then sent in clear, and every send logs a warning;
* extra ``{"ca_file": "/path/ca.pem"}`` trusts that CA (a private relay's) instead of the system's.

``{"starttls": false}`` without ``insecure`` is refused: it would send in clear. Each mail has a
plain-text part and an HTML alternative, a ``Message-ID`` derived from the item's idempotency key and
an ``X-MRM-Idempotency-Key`` header, so a message sent twice (a retry after a lost answer) can be
recognised as the same one. Header values never carry CR, LF or other control characters from data
(:func:`mrm.notify.templates.one_line`).

Failures: no connection, a timeout, a dropped connection or a 4xx reply are transient (retried);
a 5xx reply (a refused recipient, a failed login) needs a person and names what to fix.
"""

from __future__ import annotations

import html
import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Literal

from mrm.airflow.connections import Conn, flag, get_connection
from mrm.errors import ConfigError, DeliveryError
from mrm.inventory.notifications import EmailChannel
from mrm.notify.base import ALERT_KINDS, Delivery
from mrm.notify.templates import one_line

log = logging.getLogger("mrm.notify")
Security = Literal["starttls", "ssl", "none"]  # how the connection to the server is protected
PORTS = {"ssl": 465, "starttls": 587, "none": 25}
FIX_TLS = (
    'use the server\'s TLS port with extra {"ssl": true}, or for a relay you trust on a private network '
    'set extra {"insecure": true} on the Airflow connection'
)
NOT_IN_MSG_ID = re.compile(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]")  # RFC 5322 dot-atom characters


def message_id(key: str) -> str:
    return f"<{NOT_IN_MSG_ID.sub('-', key)}@mrm>"


def _text_body(payload: dict[str, Any]) -> str:
    links = "\n".join(f"{name}: {url}" for name, url in (payload.get("links") or {}).items())
    return (payload.get("text") or "") + (f"\n\n{links}" if links else "") + "\n"


def _html_body(payload: dict[str, Any]) -> str:
    esc = html.escape
    parts = [f'<p style="white-space: pre-wrap">{esc(payload.get("text") or "")}</p>']
    lines = payload.get("lines") or []
    if lines:
        rows = "".join(f"<tr><td>{esc(str(line))}</td></tr>" for line in lines)
        parts.append(f'<table border="1" cellpadding="4" style="border-collapse: collapse">{rows}</table>')
    links = payload.get("links") or {}
    if links:
        items = "".join(f'<li><a href="{esc(url)}">{esc(name)}</a></li>' for name, url in links.items())
        parts.append(f"<ul>{items}</ul>")
    return f"<html><body>{''.join(parts)}</body></html>"


def build_message(item: Delivery, sender: str) -> EmailMessage:
    """The mail for an alert item: To, Subject, ids, a plain-text part and its HTML alternative."""
    payload = item.payload
    msg = EmailMessage()
    msg["From"] = one_line(sender)
    msg["To"] = ", ".join(one_line(str(r)) for r in payload["recipients"])
    msg["Subject"] = one_line(payload.get("subject") or "") or item.kind
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id(item.key)
    msg["X-MRM-Idempotency-Key"] = one_line(item.key)
    msg.set_content(_text_body(payload))
    msg.add_alternative(_html_body(payload), subtype="html")
    return msg


class SmtpAlerts:
    """Alert channel "email". ``security``: ``starttls`` (required, the default), ``ssl`` or ``none``
    (plain SMTP, only with ``insecure=True``); ``cafile``: a CA to trust (see the module docstring)."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        sender: str = "mrm@example.com",
        login: str | None = None,
        password: str | None = None,
        security: Security = "starttls",
        insecure: bool = False,
        cafile: str | None = None,
        timeout: float = 10.0,
    ):
        if security == "none" and not insecure:
            raise ConfigError(
                f"SMTP server {host}: plain SMTP would send mail and any login in clear: "
                "use STARTTLS (the default) or ssl, or set insecure to allow it"
            )
        self.host = host
        self.port = port or PORTS[security]
        self.sender = sender
        self.login = login
        self._password = password
        self.security = security
        self.insecure = insecure
        self.cafile = cafile
        self.timeout = timeout

    @classmethod
    def from_config(cls, cfg: EmailChannel) -> SmtpAlerts:
        conn: Conn = get_connection(cfg.connection, "e-mail alerts")
        if not conn.host:
            raise ConfigError(f"Airflow connection '{cfg.connection}' has no host: set the SMTP server")
        return cls(
            conn.host,
            conn.port,
            sender=str(cfg.sender),
            login=conn.login,
            password=conn.password,
            security=security_of(conn),
            insecure=flag(conn.extra.get("insecure")),
            cafile=conn.extra.get("ca_file") or None,
            timeout=cfg.timeout_seconds,
        )

    @property
    def server(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    def deliver(self, item: Delivery) -> dict[str, Any]:
        if item.kind not in ALERT_KINDS:
            raise DeliveryError(
                f"e-mail delivers alerts, not {item.kind} (item {item.key}): "
                "route tickets to jira or webhook",
                transient=False,
            )
        recipients = list(item.payload.get("recipients") or [])
        if not recipients:
            raise DeliveryError(
                f"e-mail alert {item.key} has no recipients: set the model's owner or "
                "notifications.extra_recipients",
                transient=False,
            )
        msg = build_message(item, self.sender)
        try:
            refused = self._send(msg, recipients)
        except OSError as exc:  # smtplib.SMTPException included
            raise self._error(exc) from None
        accepted = [r for r in recipients if r not in refused]
        receipt: dict[str, Any] = {"message_id": msg["Message-ID"], "recipients": accepted}
        if refused:
            receipt["refused"] = {r: f"{code} {_text(reply)}" for r, (code, reply) in refused.items()}
        return receipt

    def _send(self, msg: EmailMessage, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
        """Send; the recipients the server refused while accepting others (all refused raises)."""
        context = ssl.create_default_context(cafile=self.cafile)
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                self._starttls(smtp, context)
            if self.login:
                self._log_in(smtp)
            return smtp.send_message(msg, from_addr=self.sender, to_addrs=recipients)
        finally:
            _close(smtp)

    def _starttls(self, smtp: smtplib.SMTP, context: ssl.SSLContext) -> None:
        """Upgrade to TLS, or fail (before any login or mail) if the server does not offer it."""
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("starttls"):
            raise DeliveryError(
                f"{self.server} does not offer STARTTLS, which mrm requires by default so that mail and "
                f"login are encrypted: {FIX_TLS}",
                transient=False,
            )
        smtp.starttls(context=context)

    def _log_in(self, smtp: smtplib.SMTP) -> None:
        if self.security == "none":
            if not self.insecure:  # the constructor refuses this; never log in in clear by accident
                raise DeliveryError(f"{self.server}: no login over plain SMTP: {FIX_TLS}", transient=False)
            log.warning(
                "%s: logging in as '%s' over plain SMTP, in clear, because the Airflow connection says "
                "insecure: true; use STARTTLS or ssl unless the network is private",
                self.server,
                self.login,
            )
        smtp.login(self.login or "", self._password or "")

    def _error(self, exc: OSError) -> DeliveryError:
        message, transient = _describe(exc, self)
        if self._password:
            message = message.replace(self._password, "***")
        return DeliveryError(f"{self.server}: {message}", transient=transient)


def security_of(conn: Conn) -> Security:
    """How a connection asks to be protected: ``ssl`` (extra ssl, or smtps), ``none`` (extra insecure
    without starttls true), else ``starttls``. ``starttls: false`` without ``insecure`` is refused."""
    extra = conn.extra
    if flag(extra.get("ssl")) or conn.conn_type == "smtps":
        return "ssl"
    starttls = extra.get("starttls")
    if flag(extra.get("insecure")):
        return "starttls" if starttls is not None and flag(starttls) else "none"
    if starttls is not None and not flag(starttls):
        raise ConfigError(
            f"Airflow connection '{conn.conn_id}' sets starttls false, which would send mail and any "
            f'login in clear: remove it (STARTTLS is the default), use {{"ssl": true}}, or set '
            f'{{"insecure": true}} if this relay is meant to be plain SMTP'
        )
    return "starttls"


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT politely; the mail is already accepted, so a failure here is not a delivery failure."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _text(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:200]


def _describe(exc: OSError, channel: SmtpAlerts) -> tuple[str, bool]:
    """(what happened and what to do, transient?) for an SMTP failure (SMTPException is an OSError)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{r} ({code} {_text(reply)})" for r, (code, reply) in exc.recipients.items())
        if all(400 <= code < 500 for code, _ in exc.recipients.values()):
            return f"refused every recipient for now: {refused}: a temporary failure, will retry", True
        return f"refused every recipient: {refused}: check the alert's recipients", False
    if isinstance(exc, smtplib.SMTPResponseException):
        return _describe_reply(exc, channel)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"closed the connection ({exc})", True
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return (
            f"does not support what the connection asks ({exc}): check the port and the extra "
            '"ssl"/"insecure" of the Airflow connection',
            False,
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f'TLS failed ({exc.reason or exc}): check the port, the extra "ssl" and, for a private CA, '
            '"ca_file" of the Airflow connection',
            False,
        )
    if isinstance(exc, smtplib.SMTPException):  # e.g. no AUTH mechanism in common
        return f"{exc}: check the Airflow connection", False
    return f"cannot connect or no answer within {channel.timeout:g} s ({exc})", True  # an OSError


def _describe_reply(exc: smtplib.SMTPResponseException, channel: SmtpAlerts) -> tuple[str, bool]:
    reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if 400 <= exc.smtp_code < 500:
        return f"answered {reply}: a temporary failure, will retry", True
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        fix = f"check the login ('{channel.login}') and password of the Airflow connection"
    elif isinstance(exc, smtplib.SMTPSenderRefused):
        fix = f"check the sender ('{channel.sender}', notifications.channels.email.sender)"
    elif isinstance(exc, smtplib.SMTPDataError):
        fix = "the server refused the message itself; see its reply"
    else:
        fix = "see the server's reply"
    return f"answered {reply}: {fix}", False
