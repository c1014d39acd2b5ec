"""Alerts to Slack through an incoming webhook, as a Block Kit message.

The Airflow connection (``notifications.channels.slack.connection``, default ``mrm_slack``) gives the
webhook URL: as its password, as its host, or (Airflow's Slack convention) the host
``https://hooks.slack.com/services`` with the ``T…/B…/…`` token as the password. The URL is a
credential, so error messages show only its host (:func:`mrm.notify.http.redact`). Its scheme is the
one written (plain http only to loopback, or with extra ``{"allow_insecure_http": true}``:
:mod:`mrm.airflow.connections`).

The message: a header (the subject), a section with the severity and the text, a bulleted section
with the findings (``lines``), the links as a context line, and a plain ``text`` fallback for
notifications. Slack's limits (150 characters in a header, 3000 in a section) are respected by
cutting the text and saying how many findings were left out.
"""

from __future__ import annotations

from typing import Any

import requests

from mrm.airflow.connections import Conn, get_connection
from mrm.errors import ConfigError, DeliveryError
from mrm.inventory.notifications import SlackChannel
from mrm.notify.base import ALERT_KINDS, Delivery
from mrm.notify.http import DEFAULT_TIMEOUT, call, redact

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
EMOJI = {"RED": ":red_circle:", "AMBER": ":large_orange_circle:", "INFO": ":information_source:"}
SLACK_HINTS = {  # Slack's error bodies and what a person should do
    "invalid_payload": "mrm built a message Slack refuses; report it with the item",
    "invalid_blocks": "mrm built a message Slack refuses; report it with the item",
    "no_service": "the webhook was removed or revoked: create one and update the Airflow connection",
    "no_team": "the Slack workspace is gone or the webhook URL is wrong: update the Airflow connection",
    "channel_is_archived": "the webhook's channel is archived: unarchive it or create a webhook elsewhere",
    "action_prohibited": "a Slack admin blocks posting to this channel",
}


def webhook_url(conn: Conn) -> str:
    """The incoming-webhook URL of a connection (see the module docstring)."""
    if conn.password and "://" in conn.password:
        return conn.checked(conn.password)
    if not conn.host:
        raise ConfigError(
            f"Airflow connection '{conn.conn_id}' has no webhook URL: set its host (or password) to the "
            "Slack incoming webhook URL"
        )
    base = conn.url()
    return f"{base}/{conn.password.strip('/')}" if conn.password else base


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _bullets(lines: list[str], limit: int = SECTION_LIMIT) -> str:
    """As many "• line" rows as fit in ``limit`` characters, then "… and N more"."""
    rows: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        row = _clip(f"• {_mrkdwn(str(line))}", limit // 2)
        if used + len(row) > limit - 32:  # keep room for the "… and N more" row
            return "\n".join([*rows, f"… and {len(lines) - i} more"])
        rows.append(row)
        used += len(row) + 1
    return "\n".join(rows)


def blocks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The Block Kit blocks of an alert payload."""
    severity = payload.get("severity") or "INFO"
    title = _clip(payload.get("subject") or "mrm alert", HEADER_LIMIT)
    text = f"{EMOJI.get(severity, '')} *{severity}*".strip() + "\n" + _mrkdwn(payload.get("text") or "")
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT)}},
    ]
    if payload.get("lines"):
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": _bullets(payload["lines"])}})
    links = payload.get("links") or {}
    if links:
        text = " · ".join(f"<{url}|{_mrkdwn(name)}>" for name, url in links.items())
        out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT)}]})
    return out


def message(payload: dict[str, Any]) -> dict[str, Any]:
    """The webhook body: blocks plus the plain-text fallback shown in notifications."""
    severity = payload.get("severity") or "INFO"
    fallback = f"{EMOJI.get(severity, '')} {payload.get('subject') or 'mrm alert'}".strip()
    return {"text": _clip(fallback, SECTION_LIMIT), "blocks": blocks(payload)}


class SlackAlerts:
    """Alert channel "slack"."""

    name = "slack"

    def __init__(
        self, url: str, *, timeout: float = DEFAULT_TIMEOUT, session: requests.Session | None = None
    ):
        self._url = url
        self.timeout = timeout
        self.session = session or requests.Session()

    @classmethod
    def from_config(cls, cfg: SlackChannel) -> SlackAlerts:
        conn = get_connection(cfg.connection, "Slack alerts")
        return cls(webhook_url(conn), timeout=cfg.timeout_seconds)

    def deliver(self, item: Delivery) -> dict[str, Any]:
        if item.kind not in ALERT_KINDS:
            raise DeliveryError(
                f"Slack delivers alerts, not {item.kind} (item {item.key}): route tickets to jira or webhook",
                transient=False,
            )
        try:
            resp = call(
                self.session,
                "POST",
                self._url,
                what=f"Slack webhook {item.kind} {item.key}",
                timeout=self.timeout,
                json=message(item.payload),
            )
        except DeliveryError as exc:
            raise self._redacted(exc) from None
        return {"status": resp.status_code}

    def _redacted(self, exc: DeliveryError) -> DeliveryError:
        """The same error without the webhook URL's secret path, plus what to do about Slack's code."""
        text = redact(str(exc), self._url)
        hint = next((h for code, h in SLACK_HINTS.items() if code in text), None)
        return DeliveryError(
            f"{text} ({hint})" if hint else text, transient=exc.transient, retry_after=exc.retry_after
        )
