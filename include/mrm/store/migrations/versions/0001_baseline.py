"""Baseline: runs, metrics, tickets, ticket events, inventory versions, the hash chain; on PostgreSQL
the append-only triggers.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    from mrm.store import history, schema

    bind = op.get_bind()
    baseline = [schema.runs, schema.metric_results, schema.tickets, schema.ticket_events,
                schema.inventory_versions, schema.chain]  # fmt: skip
    schema.metadata.create_all(bind, tables=baseline)  # later revisions use explicit op.* changes
    if bind.dialect.name == "postgresql":
        history.append_only_sql(bind)


def downgrade() -> None:
    raise NotImplementedError("the metrics history is append-only: its schema is never downgraded")
