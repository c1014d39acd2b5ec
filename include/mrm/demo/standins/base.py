"""What the stand-ins share: ``with`` around start/stop, their injected faults, and for the HTTP ones a
threaded server on a free port of 127.0.0.1 that stops at once and writes each answer."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from mrm.demo.standins.faults import Faults

HOST = "127.0.0.1"
POLL_SECONDS = 0.05  # how often a server checks for stop(): stopping takes at most this long


class StandIn:
    """A local service with ``start()``/``stop()``, usable as ``with StandIn() as s``; ``faults`` are
    the faults injected for its next requests."""

    def __init__(self) -> None:
        self.faults = Faults()

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HttpStandIn(StandIn):
    """A stand-in serving HTTP on 127.0.0.1 in a daemon thread."""

    def __init__(self) -> None:
        super().__init__()
        self._server: ThreadingHTTPServer | None = None

    def serve(self, handler: type[BaseHTTPRequestHandler], thread_name: str) -> int:
        """Serve requests with ``handler`` on a free port; returns the port."""
        self.faults.rearm()
        self._server = ThreadingHTTPServer((HOST, 0), handler)
        self._server.daemon_threads = True
        serve = {"poll_interval": POLL_SECONDS}
        threading.Thread(
            target=self._server.serve_forever, kwargs=serve, name=thread_name, daemon=True
        ).start()
        return self._server.server_address[1]

    def stop(self) -> None:
        self.faults.release()  # releases hanging requests
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (one stderr line per request otherwise) and writes answers
    to clients that may have given up."""

    def send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout) before the answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass
