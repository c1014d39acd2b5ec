"""Tables of the metrics history. Rows are only ever inserted, except a ticket's state (open/closed,
priority) and an outbox item's delivery state (and its claim by a deliverer). Review acts (who
acknowledged, commented, proposed or confirmed a closure, accepted a risk, attested a day) are rows of
``mrm_review_acts``, inserted only; so is each event of a validation finding (``mrm_findings_events``)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

runs = Table(
    "mrm_runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("model_id", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("logical_date", Date, nullable=False),
    Column("kind", String(16), nullable=False, server_default="monitoring"),  # monitoring | governance
    Column("status", String(16), nullable=False),  # completed | failed
    Column("overall_status", String(24)),  # worst RAG of the run's controls; ERROR if failed
    Column("reason", Text),  # why a failed run could not complete
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("triggered_by", String(512), nullable=False),
    Column("inventory_hash", String(64), nullable=False),
    Column("row_count", Integer),
    Column("input_files", JSON),
    Column("reference", JSON),
    Column("evidence", JSON),
    Column("lineage", JSON),  # package versions, git commit, seconds per step
    Column("supersedes", String(32)),  # the run that was current for this model, date and kind when written
    Column("rerun_reason", Text),  # why a rerun was made (required from the CLI; Airflow: its run and try)
    Index("ix_runs_model_date", "model_id", "logical_date"),
)

metric_results = Table(
    "mrm_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("mrm_runs.run_id"), nullable=False),
    Column("model_id", String(64), nullable=False),
    Column("logical_date", Date, nullable=False),
    Column("check", String(32), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("column", String(128)),
    Column("segment", String(256)),  # e.g. country=DE; null for the whole population
    Column("cohort_start", Date),  # performance rows: the scored days of the matured cohort
    Column("cohort_end", Date),
    Column("value", Float),
    Column("amber_threshold", Float),
    Column("red_threshold", Float),
    Column("status", String(24), nullable=False),
    Column("detail", JSON),
    Index("ix_metrics_model_date", "model_id", "logical_date"),
    Index("ix_metrics_run", "run_id"),
)

tickets = Table(
    "mrm_tickets",
    metadata,
    Column("ticket_id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(64), nullable=False),
    Column("control", String(256), nullable=False),  # e.g. drift.psi[amount]
    Column("check", String(32), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("column", String(128)),
    Column("status", String(16), nullable=False),  # open | closed
    Column("severity", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("owner", String(256), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("opened_run_id", String(32), nullable=False),
    Column("first_logical_date", Date, nullable=False),
    Column("last_logical_date", Date, nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", String(256)),
    Column("closed_reason", Text),
    Column("priority", String(16)),  # Jira-style: Low | Medium | High | Highest (raised on escalation)
    Column("escalated_at", DateTime(timezone=True)),  # when an unresolved RED ticket was escalated
    # at most one open ticket per model and control, even with concurrent writers
    Index(
        "ux_tickets_open",
        "model_id",
        "control",
        unique=True,
        sqlite_where=text("status = 'open'"),
        postgresql_where=text("status = 'open'"),
    ),
)

ticket_events = Table(
    "mrm_ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("mrm_tickets.ticket_id"), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("logical_date", Date, nullable=False),
    Column(
        "kind", String(24), nullable=False
    ),  # opened | occurrence | returned_to_green | escalated | closed
    Column("value", Float),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # one event of a kind per ticket and logical date: two concurrent runs of one model and date count
    # one occurrence (the second writer's transaction fails and, retried, finds the first's event)
    Index("ux_ticket_events_once", "ticket_id", "logical_date", "kind", unique=True),
)


ACT_KINDS = ("acknowledge", "comment", "propose_close", "close", "accept_risk", "attest")
CAUSES = ("data_issue", "model_issue", "false_positive", "accepted", "other")  # of a closure

review_acts = Table(
    "mrm_review_acts",
    metadata,
    Column("act_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),  # one of ACT_KINDS
    Column("model_id", String(64)),  # None: an attestation of the whole portfolio
    Column("ticket_id", Integer, ForeignKey("mrm_tickets.ticket_id")),  # None: an attestation
    Column("control", String(256)),  # the ticket's control (accept_risk: the control accepted)
    Column("logical_date", Date),  # attest: the day reviewed
    Column("person", String(256), nullable=False),  # who acted: a person id of the role map
    Column("authenticated", String(64), nullable=False),  # airflow | cli: not authenticated by Airflow
    Column("via", String(512)),  # how it came: the CLI's os user, the Airflow user's name
    Column("acted_at", DateTime(timezone=True), nullable=False),
    Column("comment", Text, nullable=False),  # why: the comment, the rationale
    Column("action_date", Date),  # acknowledge: when the owner plans to act
    Column("cause", String(24)),  # close: one of CAUSES
    Column("until_date", Date),  # accept_risk: the acceptance holds through this date
    Column("conditions", JSON),  # accept_risk: the conditions, a list of lines
    Column("confirms", Integer),  # close: the propose_close act it confirms
    Index("ix_review_acts_ticket", "ticket_id"),
    Index("ix_review_acts_model_date", "model_id", "logical_date"),
)

FINDING_EVENTS = ("added", "updated", "remediation_submitted", "returned", "verified_closed")
SEVERITIES = ("high", "medium", "low")
FINDING_STATUSES = ("open", "remediation_submitted", "verified_closed")

# the validation findings register: one row per event of a finding, each the whole finding as it stands
# after the event (its current state is its latest row), with who, how authenticated, when and why
findings_events = Table(
    "mrm_findings_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("finding_id", String(32), nullable=False),  # given by the validator, e.g. VAL-2026-001
    Column("event", String(24), nullable=False),  # one of FINDING_EVENTS
    Column("model_id", String(64), nullable=False),
    Column("severity", String(8), nullable=False),  # one of SEVERITIES
    Column("description", Text, nullable=False),
    Column("owner", String(256), nullable=False),  # who remediates
    Column("plan", Text),  # the remediation plan
    Column("due_date", Date, nullable=False),
    Column("status", String(24), nullable=False),  # one of FINDING_STATUSES
    Column("evidence", JSON, nullable=False),  # links (URIs), a list
    Column("person", String(256), nullable=False),  # who acted: a person id of the role map
    Column("authenticated", String(64), nullable=False),  # airflow | cli: not authenticated by Airflow
    Column("via", String(512)),  # how it came: the CLI's os user
    Column("acted_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text),  # why: a closure's verification, an update's comment
    Index("ix_findings_events_finding", "finding_id"),
    Index("ix_findings_events_model", "model_id"),
    # a finding id is added once, even with concurrent writers
    Index(
        "ux_findings_added",
        "finding_id",
        unique=True,
        sqlite_where=text("event = 'added'"),
        postgresql_where=text("event = 'added'"),
    ),
)

inventory_versions = Table(
    "mrm_inventory_versions",
    metadata,
    Column("inventory_hash", String(64), primary_key=True),  # SHA-256 of the entry's canonical JSON
    Column("model_id", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("content", JSON, nullable=False),  # the entry as validated (tier defaults merged)
    Column("first_used_at", DateTime(timezone=True), nullable=False),
    Column("first_used_by_run", String(32), nullable=False),
)

chain = Table(
    "mrm_chain",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("table_name", String(64), nullable=False),
    Column("row_key", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),  # SHA-256 of the row's canonical content
    Column("prev_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),  # HMAC-SHA256(key, prev_hash | table | key | row_hash)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(16)),  # which chain key made chain_hash; NULL: unkeyed SHA-256 (before 0006)
)

key_rotations = Table(
    "mrm_key_rotations",
    metadata,
    Column("key_id", String(16), primary_key=True),  # the new key's id (mrm.store.keys.key_id)
    Column("previous_key_id", String(16)),  # NULL: the first key of a history written before keys
    Column("rotated_at", DateTime(timezone=True), nullable=False),
    Column("rotated_by", String(256), nullable=False),
)

purges = Table(
    "mrm_purges",
    metadata,
    Column("purge_id", Integer, primary_key=True, autoincrement=True),
    Column("before_date", Date, nullable=False),  # rows of logical dates before this were removed
    Column("retention_days", Integer, nullable=False),
    Column("purged_at", DateTime(timezone=True), nullable=False),
    Column("purged_by", String(256), nullable=False),
    Column("counts", JSON, nullable=False),  # rows removed per table
    Column("keys", JSON, nullable=False),  # {table: [row keys]}: verify accepts exactly these as gone
    Column("chain_head", String(64), nullable=False),  # the chain's head hash when the purge ran
)

outbox = Table(
    "mrm_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False, unique=True),  # idempotency key: one per event and channel
    Column("channel", String(16), nullable=False),  # jira | webhook | email | slack | sns
    Column("kind", String(32), nullable=False),  # ticket.opened, alert.red, ... (mrm.notify.base)
    Column("model_id", String(64)),  # None for portfolio messages
    Column("ticket_id", Integer),  # ticket.* items: the built-in ticket they mirror
    Column("logical_date", Date),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | cancelled
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("receipt", JSON),  # what the channel answered, e.g. {"external_key": "RISK-12"}
    Column("cancelled_by", String(256)),
    Column("cancelled_reason", Text),
    Column("claimed_by", String(64)),  # the deliverer holding (or, once delivered, that delivered) the item
    Column("lease_until", DateTime(timezone=True)),  # a claim not finished by then lapses: others may take it
    Index("ix_outbox_pending", "status", "next_attempt_at"),
)

outbox_attempts = Table(
    "mrm_outbox_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_id", Integer, nullable=False),  # mrm_outbox.id
    Column("attempt", Integer, nullable=False),  # 1 for an item's first attempt
    Column("at", DateTime(timezone=True), nullable=False),  # when it ended
    Column("outcome", String(16), nullable=False),  # delivered | transient | needs a fix
    Column("error", Text),
    Column("receipt", JSON),  # what the channel answered, when delivered
    Column("seconds", Float),
    Index("ix_outbox_attempts_item", "outbox_id"),
    Index("ix_outbox_attempts_at", "at"),
)
