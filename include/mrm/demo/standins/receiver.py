"""A local HTTP receiver on 127.0.0.1: a Slack incoming webhook, or a webhook-sink receiver.

Without a secret it behaves like a Slack incoming webhook: it answers 200 "ok" to JSON with "text" or
"blocks", and 400 "invalid_payload" / "invalid_blocks" like Slack does (it checks Slack's header
and section length limits). With a secret it is a receiver of
:class:`mrm.notify.channels.webhook.WebhookSink` as its docstring asks: it verifies X-MRM-Signature
(scheme v2, over the timestamp, X-MRM-Delivery, X-MRM-Event and the body: 401 if wrong, stale,
malformed or missing), answers 200 without storing to a request whose signature it accepted within the
replay window (an exact replay), and de-duplicates on X-MRM-Delivery (a repeated delivery gets 200 and
is not stored again). ``replays`` counts the requests it recognised as replays or duplicates.

Accepted JSON bodies are kept in ``received`` and, when a file is given, appended to it as JSON lines;
``requests_log`` has the path of every request, faulted ones included.
``inject()`` makes the next requests fail (503, 429 with Retry-After, or a hang past the client's
timeout); with ``apply_first=True`` the request is stored before the fault is returned, the ambiguous
case where the peer acted but the sender saw a failure.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from pathlib import Path
from typing import Any

from mrm.demo.standins.base import HOST, HttpStandIn, QuietHandler
from mrm.demo.standins.faults import Fault
from mrm.notify.channels.webhook import ReplayCache, verify_signature

SLACK_LIMITS = {"header": 150, "section": 3000}  # max characters of the block's text
SLACK_MAX_BLOCKS = 50


def _slack_problem(doc: Any) -> str | None:
    """Slack's error code for a message it would refuse, else None."""
    if not isinstance(doc, dict) or not (doc.get("text") or doc.get("blocks")):
        return "invalid_payload"
    blocks = doc.get("blocks") or []
    if not isinstance(blocks, list) or len(blocks) > SLACK_MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        limit = SLACK_LIMITS.get(block.get("type"))
        if limit is not None and len((block.get("text") or {}).get("text", "")) > limit:
            return "invalid_blocks"
    return None


class Receiver(HttpStandIn):
    """``secret``: act as a webhook-sink receiver (else as a Slack webhook). ``log``: a JSON-lines
    file that receives a copy of every stored body."""

    def __init__(self, secret: str | None = None, log: Path | None = None):
        super().__init__()
        self.secret = secret
        self.log = log
        self.received: list[dict[str, Any]] = []
        self.requests_log: list[str] = []  # the path of every request, faulted ones included
        self._deliveries: set[str] = set()
        self._signatures = ReplayCache()
        self.replays = 0  # requests answered 200 without storing: a replay or a repeated delivery
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the receiver is not started")
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> Receiver:
        self.serve(_handler_class(self), "mrm-receiver-standin")
        return self

    def inject(
        self,
        status: int | str = 503,
        times: int = 1,
        retry_after: float | None = None,
        apply_first: bool = False,
        body: str | None = None,
    ) -> None:
        """The next ``times`` requests get ``status`` (e.g. 503, 429, 400) with ``body`` (default: the
        status phrase) and a Retry-After header if given, or "hang": no answer until the client gives
        up. ``apply_first``: store the request first, then fail (the peer acted, the sender cannot know)."""
        if status != "hang" and not isinstance(status, int):
            raise ValueError(f"inject() takes an HTTP status or 'hang', not {status!r}")
        text = body if body is not None else ("" if status == "hang" else HTTPStatus(status).phrase)
        self.faults.add(Fault(status, times, retry_after, apply_first=apply_first, body=text))

    def _check(self, headers: Any, raw: bytes) -> tuple[int, str, dict[str, Any] | None]:
        """(status, answer, body to store or None) for one request, before any fault."""
        if self.secret is not None and not verify_signature(self.secret, headers, raw):
            return 401, "bad, stale or missing signature", None
        try:
            doc = json.loads(raw)
        except ValueError:
            return 400, "invalid_payload", None
        if self.secret is None:
            problem = _slack_problem(doc)
            return (400, problem, None) if problem else (200, "ok", doc)
        if not self._signatures.first(headers.get("X-MRM-Signature")):
            with self._lock:
                self.replays += 1
            return 200, "ok (replay: already accepted)", None
        return 200, "ok", doc

    def _store(self, doc: dict[str, Any], delivery: str | None) -> None:
        """Keep ``doc`` unless its ``delivery`` (webhook-sink mode) was stored before."""
        with self._lock:
            if delivery in self._deliveries:
                self.replays += 1
                return
            if delivery is not None:
                self._deliveries.add(delivery)
            self.received.append(doc)
            if self.log is not None:
                with self.log.open("a") as fh:
                    fh.write(json.dumps(doc, default=str) + "\n")


def _handler_class(receiver: Receiver) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver._lock:
                receiver.requests_log.append(self.path)
            fault = receiver.faults.take()
            if fault and not fault.apply_first:
                return self._fail(fault)
            status, answer, doc = receiver._check(self.headers, raw)
            if doc is not None:
                receiver._store(doc, self.headers.get("X-MRM-Delivery") if receiver.secret else None)
            if fault:
                return self._fail(fault)
            self._answer(status, answer)

        def _fail(self, fault: Fault) -> None:
            if fault.status == "hang":
                receiver.faults.hang(fault)
                self.close_connection = True
                return
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            self._answer(int(fault.status), fault.body or "", headers)

        def _answer(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
            self.send(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})})

    return Handler
