"""Least privilege: the append-only trigger lets a DELETE through only for a purge (``mrm.purge`` set
in the transaction) by a member of the tables' owner role, so a purge needs no superuser; UPDATE and
TRUNCATE stay refused for every role. The triggers are (re)made on every append-only table.

Revision ID: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("mrm_runs", "mrm_metrics", "mrm_ticket_events", "mrm_inventory_versions", "mrm_chain",
          "mrm_purges", "mrm_key_rotations")  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from mrm.store import history

        history.append_only_sql(bind, TABLES)


def downgrade() -> None:
    raise NotImplementedError("the metrics history is append-only: its schema is never downgraded")
