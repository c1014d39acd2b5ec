"""The keyed chain and the record of reruns: which chain key made each chain hash (``key_id``), the
register of key rotations (chained, append-only), and per run the run it superseded and why.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0001 creates the tables from the current definitions, so a new history has these already
    inspector = sa.inspect(op.get_bind())
    for table, column in (
        ("mrm_chain", sa.Column("key_id", sa.String(16))),
        ("mrm_runs", sa.Column("supersedes", sa.String(32))),
        ("mrm_runs", sa.Column("rerun_reason", sa.Text)),
    ):
        if column.name not in {c["name"] for c in inspector.get_columns(table)}:
            op.add_column(table, column)
    op.create_table(
        "mrm_key_rotations",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("previous_key_id", sa.String(16)),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_by", sa.String(256), nullable=False),
        if_not_exists=True,
    )
    if op.get_bind().dialect.name == "postgresql":  # the rotation register is append-only too
        for trigger, when, each in (
            ("mrm_append_only", "UPDATE OR DELETE", "ROW"),
            ("mrm_no_truncate", "TRUNCATE", "STATEMENT"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON mrm_key_rotations")
            op.execute(f"CREATE TRIGGER {trigger} BEFORE {when} ON mrm_key_rotations FOR EACH {each} "
                       "EXECUTE FUNCTION mrm_reject_change()")  # fmt: skip


def downgrade() -> None:
    raise NotImplementedError("the metrics history is append-only: its schema is never downgraded")
