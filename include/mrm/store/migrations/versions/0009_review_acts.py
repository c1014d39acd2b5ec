"""The risk manager's desk: ``mrm_review_acts``, one row per review act (acknowledge, comment,
propose_close, close, accept_risk, attest) with who, how they were authenticated, when, what and why;
chained like ticket events and, on PostgreSQL, append-only (the triggers of 0007).

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mrm_review_acts",
        sa.Column("act_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("model_id", sa.String(64)),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("mrm_tickets.ticket_id")),
        sa.Column("control", sa.String(256)),
        sa.Column("logical_date", sa.Date),
        sa.Column("person", sa.String(256), nullable=False),
        sa.Column("authenticated", sa.String(64), nullable=False),
        sa.Column("via", sa.String(512)),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("action_date", sa.Date),
        sa.Column("cause", sa.String(24)),
        sa.Column("until_date", sa.Date),
        sa.Column("conditions", sa.JSON),
        sa.Column("confirms", sa.Integer),
        if_not_exists=True,
    )
    op.create_index("ix_review_acts_ticket", "mrm_review_acts", ["ticket_id"], if_not_exists=True)
    op.create_index(
        "ix_review_acts_model_date", "mrm_review_acts", ["model_id", "logical_date"], if_not_exists=True
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from mrm.store import history

        history.append_only_sql(bind, ("mrm_review_acts",))


def downgrade() -> None:
    raise NotImplementedError("the metrics history is append-only: its schema is never downgraded")
