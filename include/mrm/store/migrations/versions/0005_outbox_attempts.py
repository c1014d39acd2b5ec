"""Every delivery attempt of an outbox item (when, outcome, error or receipt): its trail, shown by
`mrm outbox show ITEM`, and what the per-channel circuit breaker reads.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mrm_outbox_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("outbox_id", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("receipt", sa.JSON),
        sa.Column("seconds", sa.Float),
        if_not_exists=True,
    )
    op.create_index("ix_outbox_attempts_item", "mrm_outbox_attempts", ["outbox_id"], if_not_exists=True)
    op.create_index("ix_outbox_attempts_at", "mrm_outbox_attempts", ["at"], if_not_exists=True)


def downgrade() -> None:
    raise NotImplementedError("the metrics history is append-only: its schema is never downgraded")
