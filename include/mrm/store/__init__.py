"""The metrics history: runs, metric results and tickets in a SQL database (SQLite or PostgreSQL)."""

from __future__ import annotations

from mrm.store.history import HistoryStore, RunRecord

__all__ = ["HistoryStore", "RunRecord"]
