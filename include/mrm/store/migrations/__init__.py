"""Alembic migrations of the metrics history (``mrm db upgrade``). A schema change is a new file in
versions/ with explicit operations; the baseline (0001) created the tables as they were at that point."""
