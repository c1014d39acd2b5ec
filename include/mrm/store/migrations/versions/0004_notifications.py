"""Notifications: the outbox (every ticket event and alert, written before delivery is attempted) and a
ticket's priority and escalation time.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0001 creates mrm_tickets from the current table definition, so a new history has these already
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("mrm_tickets")}
    for column in (
        sa.Column("priority", sa.String(16)),
        sa.Column("escalated_at", sa.DateTime(timezone=True)),
    ):
        if column.name not in have:
            op.add_column("mrm_tickets", column)
    if op.get_bind().dialect.name == "postgresql":  # SQLite does not enforce VARCHAR lengths
        # 'returned_to_green' needs 17 characters; the breach-trail view reads the column, so it is
        # dropped and recreated around the change
        from importlib import import_module

        views = import_module("mrm.store.migrations.versions.0002_auditor_views").VIEWS
        op.execute("DROP VIEW IF EXISTS mrm_v_breach_trail")
        op.alter_column("mrm_ticket_events", "kind", type_=sa.String(24), existing_nullable=False)
        op.execute(f"CREATE VIEW mrm_v_breach_trail AS {views['mrm_v_breach_trail']}")
    op.create_table(
        "mrm_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(128), nullable=False, unique=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("model_id", sa.String(64)),
        sa.Column("ticket_id", sa.Integer),
        sa.Column("logical_date", sa.Date),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("receipt", sa.JSON),
        sa.Column("cancelled_by", sa.String(256)),
        sa.Column("cancelled_reason", sa.Text),
        if_not_exists=True,
    )
    op.create_index("ix_outbox_pending", "mrm_outbox", ["status", "next_attempt_at"], if_not_exists=True)


def downgrade() -> None:
    raise NotImplementedError("the metrics history is append-only: its schema is never downgraded")
