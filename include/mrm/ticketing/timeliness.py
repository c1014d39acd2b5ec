"""How quickly tickets are acknowledged and closed, against the tier's targets of the policy.

Pure: the caller reads the rows, this module only computes. Two clocks per ticket, both started at
the ticket's ``opened_at`` (UTC):

- acknowledge: stops at the ticket's first ``acknowledge`` act, or at its closure if that comes first
  (the first response on record); target ``acknowledge_within_business_days`` (business days).
- close: stops at ``closed_at``; target ``close_within_days`` (calendar days).

A clock is ``met`` (stopped within its target), ``late`` (stopped after it), ``pending`` (running,
still within it) or ``overdue`` (running past it). Business days: :mod:`mrm.core.business_days`
(Monday to Friday on UTC dates, no holidays). Targets: :meth:`mrm.inventory.Policy.targets`.

Use::

    with store.engine.connect() as conn:
        tickets = store_tickets.tickets(conn, status="all")
        acts = store_acts.acts(conn, kinds=("acknowledge",))
    rows = timeliness.measure(tickets, acts, inventory, now)  # one TicketTimeliness per ticket
    timeliness.by_model(rows)  # {model_id: Summary}, by_owner(rows): {owner: Summary}
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from mrm.core import business_days
from mrm.inventory import Inventory
from mrm.store.tickets import ticket_key

MET, LATE, PENDING, OVERDUE = "met", "late", "pending", "overdue"
STATUSES = (MET, LATE, PENDING, OVERDUE)
BUSINESS_DAYS, DAYS = "business days", "days"  # the unit of a clock's target


@dataclass(frozen=True)
class Clock:
    """One measured interval of one ticket. ``hours``, ``business_days`` and ``days`` run to
    ``stopped``, or to ``now`` while the clock runs (``stopped`` None); ``target`` is in ``unit``."""

    started: datetime
    stopped: datetime | None
    stopped_by: str | None  # acknowledge | close | None (running)
    hours: float
    business_days: int
    days: int
    target: int
    unit: str
    status: str  # met | late | pending | overdue


@dataclass(frozen=True)
class TicketTimeliness:
    ticket_id: int
    key: str
    model_id: str
    owner: str
    severity: str
    tier: int | None  # None: the model is no longer in the inventory (tier 3's targets)
    status: str  # the ticket's: open | closed
    acknowledge: Clock
    close: Clock


@dataclass(frozen=True)
class Tally:
    """One clock over several tickets: how many in each status, and the medians of those stopped."""

    met: int = 0
    late: int = 0
    pending: int = 0
    overdue: int = 0
    median_hours: float | None = None
    median_business_days: float | None = None

    @property
    def stopped(self) -> int:
        return self.met + self.late


@dataclass(frozen=True)
class Summary:
    """The tickets of one model or owner: their count and both clocks."""

    tickets: int
    acknowledge: Tally
    close: Tally


def measure(
    tickets: Iterable[dict], acts: Iterable[dict], inventory: Inventory, now: datetime | None = None
) -> list[TicketTimeliness]:
    """Both clocks of every ticket (rows of :func:`mrm.store.tickets.tickets`), in the order given.
    ``acts``: review acts (:func:`mrm.store.acts.acts`); only ``acknowledge`` acts are read. ``now``
    (timezone-aware, default the current time) is where running clocks are read."""
    now = _utc(now or datetime.now(UTC))
    acknowledged: dict[int, datetime] = {}
    for act in acts:
        if act["kind"] == "acknowledge" and act["ticket_id"] is not None:
            when = _utc(act["acted_at"])
            acknowledged[act["ticket_id"]] = min(when, acknowledged.get(act["ticket_id"], when))
    return [_ticket(t, acknowledged.get(t["ticket_id"]), inventory, now) for t in tickets]


def by_model(measured: Iterable[TicketTimeliness]) -> dict[str, Summary]:
    """:func:`summarise` per model id, in model id order."""
    return summarise(measured, lambda t: t.model_id)


def by_owner(measured: Iterable[TicketTimeliness]) -> dict[str, Summary]:
    """:func:`summarise` per ticket owner (the model's owner when it opened; governance tickets: the
    model risk team), in owner order."""
    return summarise(measured, lambda t: t.owner)


def summarise(
    measured: Iterable[TicketTimeliness], key: Callable[[TicketTimeliness], str]
) -> dict[str, Summary]:
    """The tickets grouped by ``key``, each group summarised."""
    groups: dict[str, list[TicketTimeliness]] = {}
    for t in measured:
        groups.setdefault(key(t), []).append(t)
    return {
        name: Summary(len(rows), tally(r.acknowledge for r in rows), tally(r.close for r in rows))
        for name, rows in sorted(groups.items())
    }


def tally(clocks: Iterable[Clock]) -> Tally:
    """Counts per status; medians of hours and business days over the stopped clocks (None: none)."""
    clocks = list(clocks)
    stopped = [c for c in clocks if c.stopped is not None]
    count = {s: sum(c.status == s for c in clocks) for s in STATUSES}
    return Tally(
        **count,
        median_hours=statistics.median(c.hours for c in stopped) if stopped else None,
        median_business_days=statistics.median(c.business_days for c in stopped) if stopped else None,
    )


# -- one ticket -----------------------------------------------------------------------------------------
def _ticket(
    ticket: dict, acknowledged: datetime | None, inventory: Inventory, now: datetime
) -> TicketTimeliness:
    entry = inventory.entries.get(ticket["model_id"])
    tier = entry.risk_tier if entry else None
    targets = inventory.policy.targets(tier)
    opened = _utc(ticket["opened_at"])
    closed = _utc(ticket["closed_at"]) if ticket.get("closed_at") else None
    if acknowledged is not None and (closed is None or acknowledged <= closed):
        ack_stop, ack_by = acknowledged, "acknowledge"
    else:
        ack_stop, ack_by = closed, "close" if closed else None
    return TicketTimeliness(
        ticket_id=ticket["ticket_id"],
        key=ticket.get("key") or ticket_key(ticket["ticket_id"]),
        model_id=ticket["model_id"],
        owner=ticket["owner"],
        severity=ticket["severity"],
        tier=tier,
        status=ticket["status"],
        acknowledge=clock(opened, ack_stop, ack_by, now, targets.acknowledge_business_days, BUSINESS_DAYS),
        close=clock(opened, closed, "close" if closed else None, now, targets.close_days, DAYS),
    )


def clock(
    started: datetime, stopped: datetime | None, stopped_by: str | None, now: datetime, target: int, unit: str
) -> Clock:
    """A clock from ``started`` to ``stopped`` (None: running, read at ``now``) against ``target``
    ``unit`` (:data:`BUSINESS_DAYS` or :data:`DAYS`), counted on UTC dates."""
    end = stopped or max(now, started)
    bdays = business_days.between(started.date(), end.date())
    days = (end.date() - started.date()).days
    within = (bdays if unit == BUSINESS_DAYS else days) <= target
    status = (MET if within else LATE) if stopped is not None else (PENDING if within else OVERDUE)
    hours = (end - started).total_seconds() / 3600
    return Clock(started, stopped, stopped_by, hours, bdays, days, target, unit, status)


def _utc(when: datetime) -> datetime:
    """Aware, in UTC (SQLite hands back naive datetimes: they were written in UTC)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
