"""SQL views for auditors: latest status per model and control, breach history with ticket trail,
metric time series with the run that produced each value.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VIEWS = {
    # the current (latest) run of each model, logical date and kind
    "mrm_v_current_runs": """
        SELECT r.* FROM mrm_runs r
        WHERE NOT EXISTS (
            SELECT 1 FROM mrm_runs n
            WHERE n.model_id = r.model_id AND n.logical_date = r.logical_date AND n.kind = r.kind
              AND (n.finished_at > r.finished_at OR (n.finished_at = r.finished_at AND n.run_id > r.run_id)))
    """,
    # every metric of the current runs, with its run's trigger and inventory hash: the time series
    "mrm_v_metric_series": """
        SELECT m.model_id, m.logical_date, m."check", m.metric, m."column", m.segment, m.cohort_start,
               m.cohort_end, m.value, m.amber_threshold, m.red_threshold, m.status, m.run_id,
               c.kind AS run_kind, c.triggered_by, c.inventory_hash
        FROM mrm_metrics m JOIN mrm_v_current_runs c ON c.run_id = m.run_id
    """,
    # the latest status of each model's controls: its most recent logical date of each kind
    "mrm_v_latest_status": """
        SELECT s.* FROM mrm_v_metric_series s
        WHERE s.logical_date = (SELECT max(c.logical_date) FROM mrm_v_current_runs c
                                WHERE c.model_id = s.model_id AND c.kind = s.run_kind)
    """,
    # every ticket event with its ticket: the breach history and what was done about it
    "mrm_v_breach_trail": """
        SELECT t.ticket_id, t.model_id, t.control, t.severity, t.status AS ticket_status, t.owner,
               e.logical_date, e.kind AS event, e.value, e.message, e.run_id, e.created_at
        FROM mrm_tickets t JOIN mrm_ticket_events e ON e.ticket_id = t.ticket_id
    """,
}


def upgrade() -> None:
    create = (
        "CREATE OR REPLACE VIEW"
        if op.get_bind().dialect.name == "postgresql"
        else "CREATE VIEW IF NOT EXISTS"
    )
    for name, sql in VIEWS.items():
        op.execute(f"{create} {name} AS {sql}")


def downgrade() -> None:
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW IF EXISTS {name}")
