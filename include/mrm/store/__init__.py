"""The metrics history: runs, metric results, tickets and the outbox in a SQL database (SQLite or
PostgreSQL). The only package that issues SQL on mrm's tables.

history.py    HistoryStore: runs and their metrics written in one transaction, read back
tickets.py    the built-in tracker's tickets and their events  } functions on an open connection:
outbox.py     the deliveries waiting for, or done by, channels } the caller's transaction
reads.py      read-only queries for the Model Risk page and the Airflow run notes
chain.py      the tamper-evident hash chain, keyed (keys.py); verify.py walks it; retention.py: purging
schema.py, migrate.py, migrations/
anchor/       the chain head signed and published outside the database (file://, S3 with Object Lock)
"""

from __future__ import annotations

from mrm.store import verify as _verify  # noqa: F401 - registers chain.verify
from mrm.store.history import HistoryStore, RunRecord

__all__ = ["HistoryStore", "RunRecord"]
