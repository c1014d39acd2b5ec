"""A generic ticket sink for other trackers (ServiceNow, GitLab, an in-house tool): every ticket event
and alert as a signed JSON POST to one URL.

The Airflow connection (``notifications.channels.webhook.connection``, default ``mrm_webhook``) gives
the URL as its host and the signing secret as its password. Each request carries::

    Content-Type: application/json
    X-MRM-Event: ticket.opened                 (the item's kind)
    X-MRM-Delivery: <idempotency key>          (the same on every retry of one item)
    X-MRM-Timestamp: 1767225600                (unix seconds when it was signed)
    X-MRM-Signature: v2=<hex HMAC-SHA256(secret, "v2\n<timestamp>\n<delivery>\n<event>\n<body>")>

and the body ``{"idempotency_key", "kind", "sent_at", "payload"}`` (payload fields: see
:class:`mrm.notify.base.Delivery`). Signature scheme v2 signs the delivery id and the event with the
body, so neither header can be changed on a captured request; the lines are joined by newlines, which
no header value can contain. (v1, ``sha256=`` over ``<timestamp>.<body>``, signed neither and is no
longer sent or accepted.)

Receivers must:

* check the signature with :func:`verify_signature` on the raw body bytes and the four headers, which
  also rejects timestamps outside a tolerance (300 s either way);
* remember every signature they accepted for the whole tolerance window and not act on it again
  (:class:`ReplayCache`): an exact replay within the window carries a valid signature;
* de-duplicate on ``X-MRM-Delivery``: an item is retried (newly signed) when an earlier attempt timed
  out or failed after the receiver may already have acted, so the same delivery can arrive more than
  once. Answer 2xx to a duplicate without acting again.

Any 2xx is success; 429 and 5xx are retried (honouring Retry-After); other 4xx need a person.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from mrm.airflow.connections import get_connection
from mrm.errors import ConfigError, DeliveryError
from mrm.inventory.notifications import WebhookChannel
from mrm.notify.base import ALERT_KINDS, TICKET_KINDS, Delivery
from mrm.notify.http import DEFAULT_TIMEOUT, call

SCHEME = "v2"  # the signature scheme: what is signed, and the X-MRM-Signature prefix
SIGNATURE_PREFIX = f"{SCHEME}="
DEFAULT_TOLERANCE = 300.0  # seconds a signed request stays acceptable to verify_signature


def signed_string(timestamp: str, delivery: str, event: str, body: bytes) -> bytes:
    """What scheme v2 signs: ``v2``, the timestamp, the delivery id and the event, each on its own line,
    then the raw body."""
    head = "\n".join((SCHEME, timestamp, delivery, event)) + "\n"
    return head.encode() + body


def sign(secret: str, timestamp: str, delivery: str, event: str, body: bytes) -> str:
    """The X-MRM-Signature value for ``body`` of ``event`` (X-MRM-Event) and ``delivery``
    (X-MRM-Delivery) sent at ``timestamp`` (unix seconds, as sent)."""
    if any(ch in "\r\n" for ch in timestamp + delivery + event):
        raise ValueError("a header value cannot contain CR or LF")
    string = signed_string(timestamp, delivery, event, body)
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), string, hashlib.sha256).hexdigest()


def _ascii(*values: object) -> bool:
    return all(isinstance(v, str) and v.isascii() for v in values)


def verify_signature(
    secret: str,
    headers: dict[str, str] | object,
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> bool:
    """For receivers: True when the request's X-MRM-Signature signs (scheme v2) its raw ``body`` with
    ``secret`` together with its X-MRM-Timestamp, X-MRM-Delivery and X-MRM-Event, and the timestamp is
    within ``tolerance`` seconds of now. ``headers``: any mapping with ``.get`` (a missing header, a
    malformed or non-ASCII value is False, never an exception). Compares in constant time."""
    get = getattr(headers, "get", None)
    if get is None:
        return False
    timestamp, delivery = get("X-MRM-Timestamp"), get("X-MRM-Delivery")
    event, header = get("X-MRM-Event"), get("X-MRM-Signature")
    if not _ascii(timestamp, delivery, event, header) or not (delivery and event):
        return False
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    try:
        expected = sign(secret, timestamp, delivery, event, body)
    except ValueError:
        return False
    return hmac.compare_digest(expected.encode(), header.encode())


class ReplayCache:
    """The signatures a receiver accepted, each kept for ``window`` seconds (twice the tolerance: a
    timestamp is accepted up to ``tolerance`` either side of now). ``first(signature)`` is True once,
    then False for as long as a replay of that request could still verify. Thread-safe."""

    def __init__(self, window: float = 2 * DEFAULT_TOLERANCE, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first(self, signature: str) -> bool:
        now = self._clock()
        with self._lock:
            for old, at in list(self._seen.items()):  # oldest first: a dict keeps insertion order
                if now - at <= self.window:
                    break
                del self._seen[old]
            if signature in self._seen:
                return False
            self._seen[signature] = now
            return True

    def __len__(self) -> int:
        return len(self._seen)


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
        try:
            headers = self._headers(item, body)
        except ValueError:
            raise DeliveryError(
                f"webhook: item {item.key!r} has CR or LF in its key or kind, which no header can carry",
                transient=False,
            ) from None
        resp = call(
            self.session,
            "POST",
            self.url,
            what=f"webhook {item.kind} {item.key}",
            timeout=self.timeout,
            data=body,
            headers=headers,
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
            "X-MRM-Signature": sign(self._secret, timestamp, item.key, item.kind, body),
        }
