"""Where breaches go: the built-in tracker (the system of record) opens a ticket per model and control
and adds occurrences while it is open; the ticket lifecycle mirrors its events to the ticket sinks and
raises the alerts, through the outbox (:mod:`mrm.notify`)."""

from __future__ import annotations

from mrm.ticketing.base import Breach, TicketAction
from mrm.ticketing.tracker import BuiltinTracker

__all__ = ["Breach", "BuiltinTracker", "TicketAction"]
