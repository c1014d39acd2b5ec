"""A generic ticket sink for other trackers (ServiceNow, GitLab, an in-house tool): every ticket event
and alert as a signed JSON POST to one URL.

The Airflow connection (``notifications.channels.webhook.connection``, default ``mrm_webhook``) gives
the URL as its host and the signing secret as its password. Each request carries::

    Content-Type: application/json
    X-MRM-Event: ticket.opened                 (the item's kind)
    X-MRM-Delivery: <idempotency key>          (the same on every retry of one item)
    X-MRM-Timestamp: 1767225600                (unix seconds when it was signed)
    X-MRM-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

and the body ``{"idempotency_key", "kind", "sent_at", "payload"}`` (payload fields: see
:class:`mrm.notify.base.Delivery`).

Receivers must:

* check the signature with :func:`verify_signature` on the raw body bytes, which also rejects
  timestamps outside a tolerance (replays);
* de-duplicate on ``X-MRM-Delivery``: an item is retried when an earlier attempt timed out or failed
  after the receiver may already have acted, so the same delivery can arrive more than once. Answer
  2xx to a duplicate without acting again.

Any 2xx is success; 429 and 5xx are retried (honouring Retry-After); other 4xx need a person.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import requests

from mrm.airflow.connections import get_connection
from mrm.errors import ConfigError, DeliveryError
from mrm.inventory.notifications import WebhookChannel
from mrm.notify.base import ALERT_KINDS, TICKET_KINDS, Delivery
from mrm.notify.http import DEFAULT_TIMEOUT, call

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE = 300.0  # seconds a signed request stays acceptable to verify_signature


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-MRM-Signature value for ``body`` sent at ``timestamp`` (unix seconds, as sent)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str | None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> bool:
    """For receivers: True when ``header`` (X-MRM-Signature) signs ``body`` (the raw request bytes)
    with ``secret`` at ``timestamp`` (X-MRM-Timestamp), and the timestamp is within ``tolerance``
    seconds of now. Compares in constant time."""
    try:
        age = abs(time.time() - int(timestamp))
    except (TypeError, ValueError):
        return False
    if age > tolerance or not header:
        return False
    return hmac.compare_digest(sign(secret, str(timestamp), body), header)


class WebhookSink:
    """Ticket sink and alert channel "webhook": signs and POSTs each item (see the module docstring)."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ):
        self.url = url
        self._secret = secret
        self.timeout = timeout
        self.session = session or requests.Session()

    @classmethod
    def from_config(cls, cfg: WebhookChannel) -> WebhookSink:
        conn = get_connection(cfg.connection, "the webhook ticket sink")
        if not conn.host:
            raise ConfigError(f"Airflow connection '{cfg.connection}' has no host: set it to the webhook URL")
        if not conn.password:
            raise ConfigError(
                f"Airflow connection '{cfg.connection}' has no password: set it to the webhook's "
                "signing secret (shared with the receiver)"
            )
        return cls(conn.url(), conn.password, timeout=cfg.timeout_seconds)

    def deliver(self, item: Delivery) -> dict[str, Any]:
        if item.kind not in TICKET_KINDS + ALERT_KINDS:
            raise DeliveryError(
                f"webhook: unknown event kind '{item.kind}' of item {item.key}", transient=False
            )
        body = self._body(item)
        resp = call(
            self.session,
            "POST",
            self.url,
            what=f"webhook {item.kind} {item.key}",
            timeout=self.timeout,
            data=body,
            headers=self._headers(item, body),
        )
        return {"status": resp.status_code}

    @staticmethod
    def _body(item: Delivery) -> bytes:
        doc = {
            "idempotency_key": item.key,
            "kind": item.kind,
            "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "payload": item.payload,
        }
        return json.dumps(doc, default=str, separators=(",", ":")).encode()

    def _headers(self, item: Delivery, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {
            "Content-Type": "application/json",
            "X-MRM-Event": item.kind,
            "X-MRM-Delivery": item.key,
            "X-MRM-Timestamp": timestamp,
            "X-MRM-Signature": sign(self._secret, timestamp, body),
        }
