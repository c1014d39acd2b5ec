"""Fault injection, the same for every stand-in (Jira, the HTTP receiver, SMTP): the next matching
requests fail with an error status (and a Retry-After), or hang past the client's timeout; with
``apply_first`` the request is applied before the fault, the ambiguous case where the peer acted but the
sender saw a failure."""

from __future__ import annotations

import threading
from dataclasses import dataclass

HANG_SECONDS = 30.0  # a "hang" fault holds the request this long, or until the stand-in stops


@dataclass
class Fault:
    status: int | str  # an HTTP status or SMTP reply code, or "hang"
    times: int = 1
    retry_after: float | None = None
    match: str | None = None  # a substring of the request (e.g. "METHOD /path"); None: any request
    apply_first: bool = False
    hang_seconds: float = HANG_SECONDS
    body: str | None = None  # the answer's text, for stand-ins that send the fault's own

    def takes(self, request: str) -> bool:
        return self.times > 0 and (self.match is None or self.match in request)


class Faults:
    """The faults waiting for the next requests (thread-safe), first injected first taken."""

    def __init__(self) -> None:
        self._pending: list[Fault] = []
        self._lock = threading.Lock()
        self._released = threading.Event()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._pending.append(fault)

    def take(self, request: str = "") -> Fault | None:
        """The first fault waiting for ``request``, counted as used; None if none is."""
        with self._lock:
            fault = next((f for f in self._pending if f.takes(request)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times == 0:
                    self._pending.remove(fault)
            return fault

    def clear(self) -> None:
        """Drop every fault still waiting: the peer answers normally again."""
        with self._lock:
            self._pending.clear()

    def hang(self, fault: Fault) -> None:
        """Hold a request for the fault's hang time, or until :meth:`release`."""
        self._released.wait(fault.hang_seconds)

    def release(self) -> None:
        """Let every hanging request go (the stand-in stops); :meth:`rearm` when it starts again."""
        self._released.set()

    def rearm(self) -> None:
        self._released.clear()
