"""The purge register: what retention removed, when, by whom (verify accepts exactly those rows as gone).

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mrm_purges",
        sa.Column("purge_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("before_date", sa.Date, nullable=False),
        sa.Column("retention_days", sa.Integer, nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purged_by", sa.String(256), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("keys", sa.JSON, nullable=False),
        sa.Column("chain_head", sa.String(64), nullable=False),
        if_not_exists=True,
    )
    if op.get_bind().dialect.name == "postgresql":  # the purge register is append-only too
        for trigger, when, each in (
            ("mrm_append_only", "UPDATE OR DELETE", "ROW"),
            ("mrm_no_truncate", "TRUNCATE", "STATEMENT"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON mrm_purges")
            op.execute(f"CREATE TRIGGER {trigger} BEFORE {when} ON mrm_purges FOR EACH {each} "
                       "EXECUTE FUNCTION mrm_reject_change()")  # fmt: skip


def downgrade() -> None:
    raise NotImplementedError("the metrics history is append-only: its schema is never downgraded")
