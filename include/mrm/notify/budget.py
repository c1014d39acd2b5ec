"""What one delivery pass may still spend (attempts, seconds) and which channels its circuit breaker
holds back, from the policy's ``notifications.delivery``
(:class:`mrm.inventory.notifications.DeliveryBudget`).

A channel whose last attempt failed (transient) within ``breaker_seconds`` before the pass is *suspect*:
its first item gets one attempt instead of a retry schedule; if that fails, or if any item of the
channel fails its retries during the pass, the channel is *open* and its later items are not attempted
in this pass. Other channels are not affected. Without a budget (None) a pass is unlimited and has no
breaker: every item gets its full retry schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mrm.inventory.notifications import DeliveryBudget


@dataclass
class Spend:
    budget: DeliveryBudget | None
    sleep: Callable[[float], None] = time.sleep
    suspect: set[str] = field(default_factory=set)  # failed within breaker_seconds before this pass
    open: dict[str, str] = field(default_factory=dict)  # channel -> the failure that opened it
    attempts: int = 0
    _started: float = field(default_factory=time.monotonic)
    _slept_asked: float = 0.0  # the waits asked for (a test's sleep may record them without sleeping)
    _slept_real: float = 0.0

    @property
    def breaker(self) -> bool:
        return self.budget is not None and self.budget.breaker_seconds > 0

    def elapsed(self) -> float:
        """Seconds spent: real time, with each wait counted as asked."""
        return time.monotonic() - self._started - self._slept_real + self._slept_asked

    def spent(self) -> str | None:
        """Why no further attempt may start, or None."""
        b = self.budget
        if b is None or (self.attempts < b.max_attempts and self.elapsed() < b.max_seconds):
            return None
        return (
            f"not attempted: this pass spent its delivery budget ({self.attempts} attempt(s), "
            f"{self.elapsed():.1f} s of max {b.max_attempts} / {b.max_seconds:g} s, notifications.delivery); "
            "it waits for the next pass"
        )

    def tries(self, channel: str, scheduled: int) -> int:
        """Attempts this item may get: one on a suspect channel, else the retry schedule."""
        return 1 if channel in self.suspect else scheduled

    def held(self, channel: str) -> str | None:
        """Why the breaker holds ``channel``'s items back in this pass, or None."""
        if channel not in self.open:
            return None
        return f"not attempted: {channel} failed in this pass ({self.open[channel]}); tried on the next pass"

    def may_wait(self, seconds: float) -> bool:
        b = self.budget
        return b is None or self.elapsed() + seconds < b.max_seconds

    def wait(self, seconds: float) -> None:
        began = time.monotonic()
        self.sleep(seconds)
        self._slept_real += time.monotonic() - began
        self._slept_asked += seconds

    def failed(self, channel: str, error: str) -> None:
        """A transient failure that ends an item's attempts in this pass."""
        if self.breaker:
            self.open.setdefault(channel, error)

    def delivered(self, channel: str) -> None:
        self.suspect.discard(channel)
