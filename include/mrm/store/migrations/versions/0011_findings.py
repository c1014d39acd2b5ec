"""The validation findings register: ``mrm_findings_events``, one row per event of a finding (added,
updated, remediation_submitted, returned, verified_closed), each holding the whole finding as it stands
after the event, with who, how authenticated, when and why; chained and, on PostgreSQL, append-only
(the triggers of 0007). One table of events rather than a findings table plus events: no row ever
changes, so the app role needs no UPDATE and verify needs no versioned rows; a finding's current state
is its latest event, which the auditor view ``mrm_v_findings`` shows (with when it was added).

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = ("event_id", "finding_id", "event", "model_id", "severity", "description", "owner", "plan",
           "due_date", "status", "evidence", "person", "authenticated", "via", "acted_at",
           "reason")  # fmt: skip

# each finding's latest event, and when it was added (the first event's acted_at)
VIEW = f"""
    SELECT {", ".join(f"e.{c}" for c in COLUMNS)}, e.added_at
    FROM (SELECT f.*,
                 ROW_NUMBER() OVER (PARTITION BY f.finding_id ORDER BY f.event_id DESC) AS rn,
                 MIN(f.acted_at) OVER (PARTITION BY f.finding_id) AS added_at
          FROM mrm_findings_events f) e
    WHERE e.rn = 1
"""


def upgrade() -> None:
    op.create_table(
        "mrm_findings_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("finding_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("plan", sa.Text),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("person", sa.String(256), nullable=False),
        sa.Column("authenticated", sa.String(64), nullable=False),
        sa.Column("via", sa.String(512)),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text),
        if_not_exists=True,
    )
    op.create_index("ix_findings_events_finding", "mrm_findings_events", ["finding_id"], if_not_exists=True)
    op.create_index("ix_findings_events_model", "mrm_findings_events", ["model_id"], if_not_exists=True)
    op.create_index(
        "ux_findings_added",
        "mrm_findings_events",
        ["finding_id"],
        unique=True,
        sqlite_where=sa.text("event = 'added'"),
        postgresql_where=sa.text("event = 'added'"),
        if_not_exists=True,
    )
    bind = op.get_bind()
    create = "CREATE OR REPLACE VIEW" if bind.dialect.name == "postgresql" else "CREATE VIEW IF NOT EXISTS"
    op.execute(f"{create} mrm_v_findings AS {VIEW}")
    if bind.dialect.name == "postgresql":
        from mrm.store import history

        history.append_only_sql(bind, ("mrm_findings_events",))


def downgrade() -> None:
    raise NotImplementedError("the metrics history is append-only: its schema is never downgraded")
