"""What people hear, as outbox items: the RED alert of a run, the AMBER digest per owner, the portfolio
summary, the escalation of a RED ticket unresolved (or unacknowledged) too long, and the notice of a
risk acceptance that expired. Each message has its words (subject,
plain text, one line per finding, links, severity), the people it is for and the channels the
inventory routes it to. Nothing here reads the history: the ticket lifecycle hands the rows in."""

from __future__ import annotations

from datetime import date

from mrm.core.results import control_key
from mrm.inventory import Inventory, ModelEntry
from mrm.inventory.notifications import Routing, escalation_alerts, routing
from mrm.notify import links as page_links
from mrm.notify.base import (
    ALERT_ACCEPTANCE_EXPIRED,
    ALERT_DIGEST,
    ALERT_ESCALATION,
    ALERT_RED,
    ALERT_SUMMARY,
)
from mrm.notify.outbox import Item, make_key
from mrm.notify.templates import number, one_line

SUMMARY_ORDER = ("ERROR", "RED", "AMBER", "ACCEPTED", "INSUFFICIENT_DATA", "GREEN", "NO RUN")  # worst first


# -- who hears what -----------------------------------------------------------------------------------
def routing_for(inventory: Inventory, model_id: str | None) -> Routing:
    """The routing of one model (the policy's, with the model file's keys replacing it)."""
    entry = inventory.entries.get(model_id) if model_id else None
    return routing(inventory.policy.notifications, entry.notifications if entry else None)


def recipients(inventory: Inventory, entry: ModelEntry | None, *, owner: bool = True) -> list[str]:
    """The model's owner (unless ``owner`` is False), the model risk team and the extra recipients."""
    people = [str(entry.owner)] if entry is not None and owner else []
    people.append(str(inventory.policy.model_risk_team))
    people += [str(p) for p in routing_for(inventory, entry.model_id if entry else None).extra_recipients]
    return list(dict.fromkeys(people))


def _message(subject: str, text: str, lines: list[str], severity: str, links: dict | None = None) -> dict:
    """An alert's words. The subject and the lines hold values from data (a segment value, a run's
    reason), so they are made one line each (CR/LF never reach a header or break a list)."""
    return {
        "subject": one_line(subject),
        "text": text,
        "lines": [one_line(line) for line in lines],
        "links": links or {},
        "severity": severity,
    }


def _value_vs_red(ticket: dict) -> str:
    return f"{number(ticket['value'])} (red {number(ticket['red'])})"


def _note(row: dict) -> str:
    return f" ({row['note']})" if row.get("note") else ""


def _plural(n: int, word: str, suffix: str = "s") -> str:
    return f"{n} {word}{suffix if n > 1 else ''}"


# -- a run: RED ---------------------------------------------------------------------------------------
def red_alert(
    inventory: Inventory, entry: ModelEntry, day: date, opened: list[dict], links: dict[str, str]
) -> list[Item]:
    """One alert for the tickets a run opened (``opened``: ticket rows with the breach's ``value`` and
    ``red`` threshold), to the owner and the model risk team, on each channel of ``red_alerts``;
    ``links``: the run's evidence of the breached checks and its Airflow run (the model page is added)."""
    lines = [
        one_line(f"{t['key']}: {t['control']} = {number(t['value'])} (red {number(t['red'])})")
        for t in opened
    ]
    subject = f"[RED] {entry.model_id}: {_plural(len(opened), 'new breach', 'es')} on {day}"
    text = (
        f"{entry.name} ({entry.model_id} v{entry.version}, tier {entry.risk_tier}) breached "
        f"{_plural(len(opened), 'control')} at RED on {day}; a ticket was opened for each:\n"
        + "\n".join(f"- {line}" for line in lines)
        + f"\n\nModel owner: {entry.owner}. Next step: review the evidence and record your assessment "
        "on each ticket."
    )
    message = _message(subject, text, lines, "RED", page_links.with_model_page(links, entry.model_id))
    message.update(model_id=entry.model_id, recipients=recipients(inventory, entry))
    first = min(t["ticket_id"] for t in opened)
    return [
        Item(
            make_key(ch, "red", entry.model_id, day, first), ch, ALERT_RED, message, entry.model_id, None, day
        )
        for ch in routing_for(inventory, entry.model_id).red_alerts
    ]


# -- the portfolio, daily -----------------------------------------------------------------------------
def digests(inventory: Inventory, rows: list[dict], day: date) -> list[Item]:
    """One message per channel and owner with the AMBER findings of ``rows`` (the day's metric rows)."""
    per: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        entry = inventory.entries.get(row["model_id"])
        if entry is None or row["status"] != "AMBER":
            continue
        finding = {
            "model_id": row["model_id"],
            "control": control_key(row["check"], row["metric"], row["column"], row["segment"]),
            "value": row["value"],
            "amber": row["amber_threshold"],
            "red": row["red_threshold"],
        }
        for ch in routing_for(inventory, entry.model_id).amber_digest:
            per.setdefault((ch, str(entry.owner)), []).append(finding)
    items = []
    for (ch, owner), findings in sorted(per.items()):
        message = _digest(owner, day, findings)
        message.update(model_id=None, recipients=[owner])
        items.append(Item(make_key(ch, "digest", owner, day), ch, ALERT_DIGEST, message, None, None, day))
    return items


def _digest(owner: str, day: date, findings: list[dict]) -> dict:
    lines = [
        one_line(
            f"{f['model_id']}: {f['control']} = {number(f['value'])} "
            f"(amber {number(f['amber'])}, red {number(f['red'])})"
        )
        for f in findings
    ]
    models = sorted({f["model_id"] for f in findings})
    subject = f"[AMBER] {_plural(len(findings), 'finding')} on {day} ({', '.join(models)})"
    text = (
        f"Daily digest for {owner}: AMBER findings on {day}. No ticket is opened for AMBER; it escalates "
        "to RED if it persists.\n" + "\n".join(f"- {line}" for line in lines)
    )
    return _message(subject, text, lines, "AMBER")


def summary(
    inventory: Inventory,
    day: date,
    runs: list[dict],
    tickets: list[dict],
    undelivered: int,
    accepted: list[dict] = (),
    expiring: list[dict] = (),
) -> list[Item]:
    """The portfolio's state on ``day`` (``runs``: that day's runs, latest last; ``tickets``: every
    ticket; ``undelivered``: items still pending; ``accepted``: the risk acceptances in force, those
    ending soon also in ``expiring``), to the model risk team on each summary channel."""
    channels = inventory.policy.notifications.portfolio_summary
    if not channels:
        return []
    latest = {r["model_id"]: r for r in runs}
    rows = [
        _status(model_id, latest.get(model_id))
        for model_id, e in sorted(inventory.entries.items())
        if e.monitored
    ]
    open_count = sum(t["status"] == "open" for t in tickets)
    new = sum(t["first_logical_date"] == day for t in tickets)
    message = _summary(day, rows, open_count, new, undelivered)
    if accepted:
        _acceptances(message, accepted, {a["act_id"] for a in expiring})
    message.update(model_id=None, recipients=[str(inventory.policy.model_risk_team)])
    return [
        Item(make_key(ch, "summary", day), ch, ALERT_SUMMARY, message, None, None, day) for ch in channels
    ]


def _status(model_id: str, run: dict | None) -> dict:
    status = "NO RUN" if run is None else (run["overall_status"] or "GREEN")
    note = run["reason"] if run is not None and run["status"] == "failed" else None
    return {"model_id": model_id, "status": status, "note": note}


def _summary(day: date, rows: list[dict], open_tickets: int, new_tickets: int, undelivered: int) -> dict:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    tally = ", ".join(f"{counts[s]} {s}" for s in SUMMARY_ORDER if counts.get(s))
    lines = [
        one_line(f"{r['model_id']}: {r['status']}" + (f" ({r['note']})" if r.get("note") else ""))
        for r in rows
    ]
    text = (
        f"Portfolio monitoring on {day}: {len(rows)} models: {tally or 'none'}.\n"
        f"Tickets: {new_tickets} opened on {day}, {open_tickets} open in all."
        + (f"\n{undelivered} notification(s) still undelivered (see `mrm outbox`)." if undelivered else "")
        + "\n"
        + "\n".join(f"- {line}" for line in lines)
    )
    worst = next((s for s in SUMMARY_ORDER if counts.get(s)), "GREEN")
    severity = "RED" if worst in ("ERROR", "RED") else "AMBER" if worst == "AMBER" else "INFO"
    return _message(f"Model risk summary {day}: {tally or 'no models'}", text, lines, severity)


def _acceptances(message: dict, accepted: list[dict], expiring: set[int]) -> None:
    """The summary's list of risk acceptances in force, those expiring soon marked."""
    lines = [
        one_line(
            f"accepted: {a['model_id']} {a['control']} until {a['until_date']} by {a['person']}"
            + (" (expiring soon)" if a["act_id"] in expiring else "")
        )
        for a in accepted
    ]
    message["text"] += (
        f"\nRisk acceptances in force: {len(accepted)}, {len(expiring)} expiring within a week:\n"
        + "\n".join(f"- {line}" for line in lines)
    )
    message["lines"] += lines


# -- a RED ticket unresolved too long -----------------------------------------------------------------
def escalation(
    inventory: Inventory, ticket: dict, days_open: int, day: date, why: str | None = None
) -> list[Item]:
    """To the model risk team, on each channel of the model's ``escalation.alerts`` (the model file's,
    else the policy's; :func:`mrm.inventory.notifications.escalation_alerts`): ``ticket`` (as escalated, with
    its raised priority) has been RED and unresolved for ``days_open`` days, or ``why`` (what it has not
    had: "has not been acknowledged within ...")."""
    line = (
        f"{ticket['key']}: {ticket['model_id']} {ticket['control']}, open {days_open} days, "
        f"owner {ticket['owner']}" + (", not acknowledged" if why else "")
    )
    text = (
        f"Escalation on {day}: {ticket['key']} ({ticket['title']}) "
        f"{why or f'has been RED and unresolved for {days_open} days'} "
        f"(since {ticket['first_logical_date']}, {ticket['occurrences']} occurrence(s)). "
        f"Priority raised to {ticket['priority']}. The model owner is {ticket['owner']}; the model risk "
        "team should follow up with them."
    )
    message = _message(
        f"[ESCALATED] {ticket['key']} {ticket['model_id']}: {ticket['control']}", text, [line], "RED"
    )
    entry = inventory.entries.get(ticket["model_id"])
    message.update(model_id=ticket["model_id"], recipients=recipients(inventory, entry, owner=False))
    return [
        Item(
            make_key(ch, "escalation", ticket["ticket_id"]),
            ch,
            ALERT_ESCALATION,
            message,
            ticket["model_id"],
            None,
            day,
        )
        for ch in escalation_alerts(inventory.policy.notifications, entry.notifications if entry else None)
    ]


# -- a risk acceptance that ended ---------------------------------------------------------------------
def acceptance_expired(inventory: Inventory, entry: ModelEntry, act: dict, day: date) -> list[Item]:
    """To the model's owner and the model risk team, on each channel of its ``red_alerts``: the
    acceptance ``act`` (an ``accept_risk`` act) held through its until date, which ``day`` is after."""
    ticket = f"MRM-{act['ticket_id']}" if act.get("ticket_id") else "its ticket"
    line = f"{entry.model_id} {act['control']}: accepted until {act['until_date']} by {act['person']}"
    text = (
        f"The risk acceptance of {act['control']} of {entry.name} ({entry.model_id}, tier "
        f"{entry.risk_tier}), accepted by {act['person']} until {act['until_date']} on {ticket}, has "
        f"expired (governance run of {day}). The control is monitored as before: a RED result opens a "
        f"ticket and alerts again. Model owner: {entry.owner}. Next step: fix the cause, or ask the model "
        "risk team for a new acceptance on the Model Risk page."
    )
    message = _message(
        f"[EXPIRED] {entry.model_id}: risk acceptance of {act['control']} ended", text, [line], "AMBER"
    )
    message.update(model_id=entry.model_id, recipients=recipients(inventory, entry))
    return [
        Item(
            make_key(ch, "acceptance_expired", act["act_id"]),
            ch,
            ALERT_ACCEPTANCE_EXPIRED,
            message,
            entry.model_id,
            None,
            day,
        )
        for ch in routing_for(inventory, entry.model_id).red_alerts
    ]
