"""HTTP failures become DeliveryErrors a person can act on: transient or not, with Retry-After."""

from __future__ import annotations

import json
import socket
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from mrm.errors import DeliveryError
from mrm.notify.http import call, retry_after


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


def _get(url: str, timeout: float = 5.0):
    return call(requests.Session(), "GET", url, what="test peer", timeout=timeout)


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
