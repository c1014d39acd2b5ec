"""Read-only queries behind the Model Risk page: the store's reads (:mod:`mrm.store.reads`). Each page
runs one to four small queries on indexed columns; nothing here computes a check or writes a row."""

from __future__ import annotations

from mrm.store.reads import (
    RUN_COLUMNS,
    last_logical_date,
    latest_runs,
    metrics,
    open_ticket_counts,
    run,
    runs,
    tickets,
    undelivered,
)

__all__ = [
    "RUN_COLUMNS",
    "last_logical_date",
    "latest_runs",
    "metrics",
    "open_ticket_counts",
    "run",
    "runs",
    "tickets",
    "undelivered",
]
