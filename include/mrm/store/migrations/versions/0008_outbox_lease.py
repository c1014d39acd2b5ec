"""Exactly-once delivery and one occurrence per date: an outbox item's claim (``claimed_by``, the
deliverer holding it, and ``lease_until``, when an unfinished claim lapses so another deliverer takes
the item over), and a unique index on ticket events (ticket, logical date, kind), so two concurrent
runs of one model and date cannot both count an occurrence.

A history that already holds such duplicates (written before this revision by concurrent runs) keeps
them, as the chain records them: the index leaves out the later copies (by id), so the first of each
still refuses any new duplicate.

Revision ID: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEX = "ux_ticket_events_once"


def upgrade() -> None:
    # 0001 creates the tables from the current definitions, so a new history has these already
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    have = {c["name"] for c in inspector.get_columns("mrm_outbox")}
    for column in (
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
    ):
        if column.name not in have:
            op.add_column("mrm_outbox", column)
    if INDEX in {i["name"] for i in inspector.get_indexes("mrm_ticket_events")}:
        return
    copies = (
        bind.execute(
            sa.text(
                "SELECT e.id FROM mrm_ticket_events e WHERE EXISTS (SELECT 1 FROM mrm_ticket_events d "
                "WHERE d.ticket_id = e.ticket_id AND d.logical_date = e.logical_date AND d.kind = e.kind "
                "AND d.id < e.id) ORDER BY e.id"
            )
        )
        .scalars()
        .all()
    )
    predicate = sa.text(f"id NOT IN ({', '.join(str(int(i)) for i in copies)})")
    where = {f"{dialect}_where": predicate for dialect in ("sqlite", "postgresql")} if copies else {}
    op.create_index(INDEX, "mrm_ticket_events", ["ticket_id", "logical_date", "kind"], unique=True, **where)


def downgrade() -> None:
    raise NotImplementedError("the metrics history is append-only: its schema is never downgraded")
