"""The channel seam: one outbox item in, a receipt out, or a DeliveryError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# what an outbox item asks a channel to do
TICKET_OPENED = "ticket.opened"  # a new incident: create the issue (or comment on the open one)
TICKET_OCCURRENCE = "ticket.occurrence"  # the control breached again while the ticket is open
TICKET_GREEN = "ticket.returned_to_green"  # the control is GREEN again; the ticket stays open
TICKET_ESCALATED = "ticket.escalated"  # RED and unresolved too long: priority raised
TICKET_CLOSED = "ticket.closed"  # closed by a person with a reason
TICKET_REVIEWED = "ticket.reviewed"  # a person's act on the desk: acknowledged, commented, proposed, accepted
ALERT_RED = "alert.red"  # immediate: new RED breaches of one model run
ALERT_DIGEST = "alert.digest"  # one per owner per day: the AMBER findings
ALERT_SUMMARY = "alert.summary"  # one per portfolio run
ALERT_ESCALATION = "alert.escalation"  # to the model risk team: a RED ticket unresolved too long
ALERT_ACCEPTANCE_EXPIRED = "alert.acceptance_expired"  # to the owner: a risk acceptance ended

TICKET_KINDS = (
    TICKET_OPENED,
    TICKET_OCCURRENCE,
    TICKET_GREEN,
    TICKET_ESCALATED,
    TICKET_CLOSED,
    TICKET_REVIEWED,
)
ALERT_KINDS = (ALERT_RED, ALERT_DIGEST, ALERT_SUMMARY, ALERT_ESCALATION, ALERT_ACCEPTANCE_EXPIRED)

# the two kinds of failed delivery (DeliveryError.transient), as the outbox records them
TRANSIENT, NEEDS_A_FIX = "transient", "needs a fix"


def failure_kind(exc: Exception) -> str:
    """``transient`` when a retry may succeed, else ``needs a fix`` (a person must act)."""
    return TRANSIENT if getattr(exc, "transient", False) else NEEDS_A_FIX


def remote_id(receipt: dict[str, Any] | None) -> str | None:
    """What the peer calls a delivered item: Jira's issue key, the SNS MessageId, the mail's Message-ID
    (or a ``remote_id`` a channel from elsewhere returns); None when the peer gave none (webhook, Slack)."""
    r = receipt or {}
    found = r.get("external_key") or r.get("message_id") or r.get("remote_id")
    return str(found) if found else None


@dataclass(frozen=True)
class Delivery:
    """One outbox item handed to a channel.

    ``key`` is the idempotency key (unique per event and channel). ``attempts`` counts earlier
    attempts: above 0, an earlier attempt may have reached the peer even though it failed here (a
    timeout after the peer acted), so a channel that can check first (Jira: search the comments for the
    key) must do so before acting again.

    Ticket payloads (kind ``ticket.*``) carry: ticket_id, ticket_key (MRM-12), model_id, model_name,
    control, check, metric, column, segment, severity, priority, tier, owner, title, text (the rendered
    ticket text), value, logical_date, run_id, links {evidence, airflow_run}, and for ticket.closed
    closed_by and reason; for ticket.reviewed act (its kind), act_id, person and authenticated.
    Alert payloads (kind ``alert.*``) carry: subject, text (plain text, several lines), severity
    (RED | AMBER | INFO), model_id (None for portfolio messages), recipients (e-mail addresses),
    lines (list of short strings, one per finding, for compact renderings such as Slack), links
    {name: url}.
    """

    key: str
    channel: str
    kind: str
    payload: dict[str, Any]
    attempts: int = 0


class Channel(Protocol):
    """A ticket sink (jira, webhook) or alert channel (email, slack, sns)."""

    name: str

    def deliver(self, item: Delivery) -> dict[str, Any]:
        """Deliver the item or raise DeliveryError. Returns a JSON-able receipt, e.g.
        ``{"external_key": "MRM-12", "url": ...}``, stored with the item."""
        ...
