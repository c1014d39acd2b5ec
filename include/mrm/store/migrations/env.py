"""Alembic environment: mrm runs migrations programmatically on a connection it passes in."""

from __future__ import annotations

from alembic import context

from mrm.store import schema
from mrm.store.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=schema.metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
