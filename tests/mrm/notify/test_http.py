"""HTTP failures become DeliveryErrors a person can act on: transient or not, with Retry-After, and no
URL's path or query (a token) in any message, the outbox, its attempts, `mrm outbox show` or the log."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import date
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from mrm.demo.standins.receiver import Receiver
from mrm.errors import DeliveryError
from mrm.inventory.notifications import Retry
from mrm.notify.base import TICKET_OPENED, Delivery
from mrm.notify.channels.webhook import WebhookSink
from mrm.notify.http import call, redact, redact_url, retry_after


class _Scripted(BaseHTTPRequestHandler):
    """GET /<status>?... answers with that status; /hang sleeps past the client's timeout."""

    def do_GET(self):
        path = self.path.strip("/")
        if path == "hang":
            time.sleep(1.0)
            path = "200"
        status = int(path.split("?")[0])
        body = b""
        if status == 400:
            body = json.dumps(
                {"errorMessages": [], "errors": {"project": "valid project is required"}}
            ).encode()
        self.send_response(status)
        if status in (429, 503):
            self.send_header("Retry-After", "7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _get(url: str, timeout: float = 5.0):
    with requests.Session() as session:
        return call(session, "GET", url, what="test peer", timeout=timeout)


def test_success_returns_the_response(server):
    assert _get(f"{server}/201").status_code == 201


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(server, status):
    with pytest.raises(DeliveryError) as err:
        _get(f"{server}/{status}")
    assert err.value.transient and f"HTTP {status}" in str(err.value)


def test_429_is_transient_and_carries_retry_after(server):
    with pytest.raises(DeliveryError) as err:
        _get(f"{server}/429")
    assert err.value.transient and err.value.retry_after == 7.0


def test_400_is_not_transient_and_quotes_the_peer(server):
    with pytest.raises(DeliveryError) as err:
        _get(f"{server}/400")
    assert not err.value.transient
    assert str(err.value) == "test peer: HTTP 400: project: valid project is required"


def test_401_says_to_check_the_connection(server):
    with pytest.raises(
        DeliveryError, match=r"HTTP 401 \(check the login and token of the Airflow connection\)"
    ):
        _get(f"{server}/401")


def test_a_hanging_peer_is_a_transient_timeout(server):
    with pytest.raises(DeliveryError, match=r"no answer from .* within 0.2 s") as err:
        _get(f"{server}/hang", timeout=0.2)
    assert err.value.transient


def test_a_refused_connection_is_transient():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(DeliveryError, match="cannot connect to") as err:
        _get(f"http://127.0.0.1:{port}/")
    assert err.value.transient


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after("120") == 120.0
    assert 55 <= retry_after(formatdate(time.time() + 60, usegmt=True)) <= 60
    assert retry_after(None) is None and retry_after("soon") is None


# -- no URL's path or query in any message --------------------------------------------------------------
TOKEN_PATH = "/hooks/glpat-SECRET-TOKEN-123"
TOKEN_QUERY = "token=qs-SECRET-456&channel=risk"
SECRETS = ("glpat-SECRET", "SECRET-TOKEN", "qs-SECRET", "SECRET-456")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def assert_redacted(text: str, port: int) -> None:
    assert not any(secret in text for secret in SECRETS), text
    assert TOKEN_PATH not in text and "channel=risk" not in text, text
    assert f"http://127.0.0.1:{port}/…" in text, text


def test_redact_cuts_every_url_to_scheme_host_and_port():
    text = (
        "POST https://bot:pw@hooks.example.com:8443/services/T0/B0/XyZ?token=abc failed; see "
        "http://jira.example/rest/api/3/issue?jql=x). HTTPConnectionPool(host='h', port=9): Max retries "
        "exceeded with url: /hooks/glpat-SECRET-TOKEN-1 (Caused by NewConnectionError('refused'))"
    )

    assert redact(text) == (
        "POST https://hooks.example.com:8443/… failed; see http://jira.example/…). "
        "HTTPConnectionPool(host='h', port=9): Max retries exceeded with url: /… "
        "(Caused by NewConnectionError('refused'))"
    )
    assert redact_url("https://bot:pw@hooks.example.com/a/b?c=d#e") == "https://hooks.example.com/…"


def test_redact_removes_the_request_path_and_query_even_alone_or_cut_short():
    url = f"http://127.0.0.1:9{TOKEN_PATH}?{TOKEN_QUERY}"

    assert redact(f"Cannot POST {TOKEN_PATH}", url) == "Cannot POST /…"
    assert redact(f"bad token {TOKEN_QUERY[:14]}", url) == "bad token /…"
    assert redact(f"…url: {TOKEN_PATH[:12]}", url) == "…url: /…"
    assert redact("nothing of it here", url) == "nothing of it here"


@pytest.mark.parametrize("where", ["path", "query"])
def test_a_closed_port_names_only_scheme_host_and_port(where):
    port = _closed_port()
    url = f"http://127.0.0.1:{port}" + (TOKEN_PATH if where == "path" else f"/hooks?{TOKEN_QUERY}")

    with pytest.raises(DeliveryError) as err, requests.Session() as session:
        call(session, "POST", url, what="webhook ticket.opened k1", timeout=2)

    assert err.value.transient
    assert "cannot connect to" in str(err.value)
    assert_redacted(str(err.value), port)
    assert "with url: /…" in str(err.value)  # urllib3's own copy of the path, cut too


@pytest.mark.parametrize("where", ["path", "query"])
def test_a_500_echoing_the_url_names_only_scheme_host_and_port(where):
    url_tail = TOKEN_PATH if where == "path" else f"/hooks?{TOKEN_QUERY}"
    with Receiver(secret="s") as peer:
        peer.inject(500, body=f"no route for POST {url_tail} (full: {peer.url}{url_tail})")
        port = int(peer.url.rsplit(":", 1)[1])
        sink = WebhookSink(peer.url + url_tail, "s", timeout=2)
        with pytest.raises(DeliveryError) as err:
            sink.deliver(Delivery("webhook:ticket:1:event:1", "webhook", TICKET_OPENED, {"ticket_id": 1}))
        sink.session.close()

    assert err.value.transient and "HTTP 500" in str(err.value)
    assert_redacted(str(err.value), port)


def test_no_path_or_query_reaches_the_outbox_its_attempts_the_cli_or_the_log(any_history, caplog):
    from mrm.cli.outbox import show_lines
    from mrm.notify import outbox

    day = date(2026, 9, 5)
    item = outbox.Item("webhook:ticket:1:event:1", "webhook", TICKET_OPENED, {"ticket_id": 1}, "m", 1, day)
    with any_history.engine.begin() as conn:
        outbox.enqueue(conn, [item])
    port = _closed_port()
    sink = WebhookSink(f"http://127.0.0.1:{port}{TOKEN_PATH}?{TOKEN_QUERY}", "s", timeout=2)
    retry = Retry(attempts=2, backoff_seconds=0, max_wait_seconds=0)

    with caplog.at_level(logging.DEBUG):
        report = outbox.deliver(any_history, lambda name: sink, retry, sleep=lambda s: None)
    sink.session.close()

    [row] = outbox.items(any_history, "all")
    head, attempts = outbox.trail(any_history, row["id"])
    shown = "\n".join(show_lines(head, attempts))
    assert len(attempts) == 2 and row["last_error"].startswith("[transient] ")
    for text in (row["last_error"], report.undelivered[0]["error"], report.message(), shown, caplog.text):
        assert_redacted(text, port)
