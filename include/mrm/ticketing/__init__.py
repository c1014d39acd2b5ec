"""Where breaches go. A sink opens a ticket per model+control and adds occurrences while it is open."""

from __future__ import annotations

from mrm.ticketing.base import Breach, TicketAction
from mrm.ticketing.builtin import BuiltinTracker

__all__ = ["Breach", "BuiltinTracker", "TicketAction"]
