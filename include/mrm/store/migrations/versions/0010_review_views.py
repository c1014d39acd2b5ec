"""SQL views of the risk manager's desk for auditors: every review act with who, how authenticated, via,
when and what (``mrm_v_review_acts``: acts by person and date are one SELECT), and every risk acceptance
with whether it is in force today (``mrm_v_acceptances``).

Dates are UTC on both databases: ``acted_on`` is the UTC date of ``acted_at``, and ``in_force`` compares
``until_date`` (inclusive) with today's UTC date, not the PostgreSQL session's time zone.

Revision ID: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TICKET_KEY = "'MRM-' || CAST(a.ticket_id AS TEXT)"  # mrm.store.tickets.ticket_key: MRM-<id>
UTC_DATE = {  # per dialect: the UTC date of a timestamp, and today's UTC date
    "postgresql": (
        "CAST(({}) AT TIME ZONE 'UTC' AS DATE)",
        "CAST((CURRENT_TIMESTAMP AT TIME ZONE 'UTC') AS DATE)",
    ),
    "sqlite": ("date({})", "CURRENT_DATE"),
}


def views(dialect: str) -> dict[str, str]:
    on_date, today = UTC_DATE["postgresql" if dialect == "postgresql" else "sqlite"]
    return {
        # every act: who, how authenticated, via, when (and its UTC date), what, why
        "mrm_v_review_acts": f"""
            SELECT a.act_id, a.person, a.authenticated, a.via, a.acted_at,
                   {on_date.format("a.acted_at")} AS acted_on, a.kind, a.model_id, a.ticket_id,
                   {TICKET_KEY} AS ticket_key, a.control, a.logical_date, a.action_date, a.until_date,
                   a.cause, a.comment, a.conditions, a.confirms
            FROM mrm_review_acts a
        """,
        # every accepted risk: the control accepted until a date (inclusive), by whom, on which conditions
        "mrm_v_acceptances": f"""
            SELECT a.act_id, a.model_id, a.control, a.ticket_id, {TICKET_KEY} AS ticket_key, a.until_date,
                   (a.until_date >= {today}) AS in_force, a.person, a.authenticated, a.via, a.acted_at,
                   {on_date.format("a.acted_at")} AS acted_on, a.comment, a.conditions
            FROM mrm_review_acts a WHERE a.kind = 'accept_risk'
        """,
    }


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    create = "CREATE OR REPLACE VIEW" if dialect == "postgresql" else "CREATE VIEW IF NOT EXISTS"
    for name, sql in views(dialect).items():
        op.execute(f"{create} {name} AS {sql}")


def downgrade() -> None:
    for name in reversed(list(views(op.get_bind().dialect.name))):
        op.execute(f"DROP VIEW IF EXISTS {name}")
