"""Time to acknowledge and time to close, per model and per owner, against the tier's targets
(:mod:`mrm.ticketing.timeliness` computes; this renders): counts met, late, pending and overdue, and the
median hours of the clocks that stopped."""

from __future__ import annotations

from mrm.ticketing.timeliness import Summary, Tally
from mrm.ui.html import Column, Table


def _hours(tally: Tally) -> float | None:
    return round(tally.median_hours, 1) if tally.median_hours is not None else None


def _row(name: str, s: Summary) -> dict:
    a, c = s.acknowledge, s.close
    return {
        "who": name,
        "tickets": s.tickets,
        "ack_met": a.met, "ack_late": a.late, "ack_pending": a.pending, "ack_overdue": a.overdue,
        "ack_median_hours": _hours(a),
        "close_met": c.met, "close_late": c.late, "close_pending": c.pending, "close_overdue": c.overdue,
        "close_median_hours": _hours(c),
    }  # fmt: skip


def table(name: str, label: str, summaries: dict[str, Summary]) -> Table:
    rows = [_row(k, s) for k, s in summaries.items()]
    counts = [
        Column(f"{clock}_{n}", f"{word} {n}", num=True)
        for clock, word in (("ack", "ack"), ("close", "close"))
        for n in ("met", "late", "pending", "overdue")
    ]
    columns = [
        Column("who", label),
        Column("tickets", "Tickets", num=True),
        *counts[:4],
        Column("ack_median_hours", "Median hours to ack", num=True),
        *counts[4:],
        Column("close_median_hours", "Median hours to close", num=True),
    ]
    return Table(name, columns, rows, "no tickets yet")
