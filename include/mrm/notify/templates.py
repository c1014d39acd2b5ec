"""The words people read: one ticket template, and the alert messages (RED, digest, summary,
escalation). Plain text; channels render it (Jira ADF, Slack blocks, e-mail HTML)."""

from __future__ import annotations

from datetime import date
from typing import Any

NEXT_STEPS = {
    "quality": (
        "Check the scoring-log feed for the affected column and date with the data owner; fix or "
        "re-export the data, then clear the Airflow run for this date to re-check it."
    ),
    "drift": (
        "Open the drift report; decide whether the population change is expected (new market, product "
        "change) or a data problem. If expected, record the rationale on this ticket; a new reference "
        "window needs the validator's sign-off."
    ),
    "performance": (
        "Review the performance evidence with the validator; if discrimination or calibration has "
        "fallen, consider restricting use of the model, recalibrating or redeveloping it."
    ),
    "run": (
        "Fix the input named above (file, column or partition), then clear the failed task in Airflow "
        "to rerun the date; no controls were evaluated for it."
    ),
    "governance": (
        "Update the inventory entry or the evidence it points to (validation report, approval, "
        "owner); the finding clears on the next governance run."
    ),
}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def trend_line(points: list[tuple[date, float | None, str]]) -> str:
    """'09-27 0.04 · 09-28 0.12 (AMBER) · 09-29 0.31 (RED)', oldest first."""
    parts = []
    for day, value, status in points:
        mark = f" ({status})" if status in ("AMBER", "RED") else ""
        parts.append(f"{day:%m-%d} {_fmt(value)}{mark}")
    return " · ".join(parts) or "no earlier values"


def ticket_text(
    *,
    model: dict[str, Any],
    control: str,
    check: str,
    column: str | None,
    segment: str | None,
    severity: str,
    value: float | None,
    amber: float | None,
    red: float | None,
    logical_date: date,
    run_id: str,
    trend: list[tuple[date, float | None, str]],
    links: dict[str, str],
    detail: str | None = None,
) -> str:
    """The one ticket template: what breached, value vs thresholds, trend, run, links, next step."""
    where = ", ".join(
        p for p in (f"column {column}" if column else "", f"segment {segment}" if segment else "") if p
    )
    thresholds = f" (amber {_fmt(amber)}, red {_fmt(red)})" if amber is not None or red is not None else ""
    lines = [
        f"What breached: {control} of {model['name']} ({model['model_id']} v{model['version']}, "
        f"risk tier {model['risk_tier']}){f', {where}' if where else ''}",
        f"Value: {_fmt(value)}{thresholds}: {severity}",
    ]
    if detail:
        lines.append(f"Detail: {detail}")
    lines += [
        f"Trend (last {len(trend)} runs): {trend_line(trend)}",
        f"Run: {run_id or 'n/a'}, logical date {logical_date}",
        *(f"{name}: {url}" for name, url in links.items()),
        f"Model owner: {model['owner']}",
        f"Next step: {NEXT_STEPS.get(check, NEXT_STEPS['quality'])}",
    ]
    return "\n".join(lines)


def event_comment(
    kind: str, *, control: str, value: float | None, logical_date: date, run_id: str, text: str | None = None
) -> str:
    """The comment a ticket gets for a later event."""
    if kind == "occurrence":
        head = f"Breached again on {logical_date}: {control} = {_fmt(value)} (run {run_id})."
        return f"{head}\n\n{text}" if text else head
    if kind == "returned_to_green":
        return (
            f"Returned to green on {logical_date}: {control} = {_fmt(value)} (run {run_id}). "
            "The ticket stays open: close it with `mrm tickets close ID --reason ...` once the cause is "
            "understood."
        )
    return text or f"{kind} on {logical_date}"


def red_alert(model: dict[str, Any], logical_date: date, tickets: list[dict], links: dict[str, str]) -> dict:
    lines = [f"{t['key']}: {t['control']} = {_fmt(t['value'])} (red {_fmt(t['red'])})" for t in tickets]
    subject = (
        f"[RED] {model['model_id']}: {len(tickets)} new breach{'es' if len(tickets) > 1 else ''} "
        f"on {logical_date}"
    )
    text = (
        f"{model['name']} ({model['model_id']} v{model['version']}, tier {model['risk_tier']}) breached "
        f"{len(tickets)} control{'s' if len(tickets) > 1 else ''} at RED on {logical_date}; a ticket was "
        "opened for each:\n"
        + "\n".join(f"- {line}" for line in lines)
        + f"\n\nModel owner: {model['owner']}. Next step: review the evidence and record your assessment "
        "on each ticket."
    )
    return {"subject": subject, "text": text, "lines": lines, "links": links, "severity": "RED"}


def digest(owner: str, day: date, findings: list[dict]) -> dict:
    lines = [
        f"{f['model_id']}: {f['control']} = {_fmt(f['value'])} "
        f"(amber {_fmt(f['amber'])}, red {_fmt(f['red'])})"
        for f in findings
    ]
    models = sorted({f["model_id"] for f in findings})
    subject = (
        f"[AMBER] {len(findings)} finding{'s' if len(findings) > 1 else ''} on {day} ({', '.join(models)})"
    )
    text = (
        f"Daily digest for {owner}: AMBER findings on {day}. No ticket is opened for AMBER; it escalates "
        "to RED if it persists.\n" + "\n".join(f"- {line}" for line in lines)
    )
    return {"subject": subject, "text": text, "lines": lines, "links": {}, "severity": "AMBER"}


def summary(day: date, rows: list[dict], open_tickets: int, new_tickets: int, undelivered: int) -> dict:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    order = ("ERROR", "RED", "AMBER", "INSUFFICIENT_DATA", "GREEN", "NO RUN")
    tally = ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))
    lines = [f"{r['model_id']}: {r['status']}" + (f" ({r['note']})" if r.get("note") else "") for r in rows]
    text = (
        f"Portfolio monitoring on {day}: {len(rows)} models: {tally or 'none'}.\n"
        f"Tickets: {new_tickets} opened on {day}, {open_tickets} open in all."
        + (f"\n{undelivered} notification(s) still undelivered (see `mrm outbox`)." if undelivered else "")
        + "\n"
        + "\n".join(f"- {line}" for line in lines)
    )
    worst = next((s for s in order if counts.get(s)), "GREEN")
    severity = "RED" if worst in ("ERROR", "RED") else "AMBER" if worst == "AMBER" else "INFO"
    return {
        "subject": f"Model risk summary {day}: {tally or 'no models'}",
        "text": text,
        "lines": lines,
        "links": {},
        "severity": severity,
    }


def escalation(ticket: dict, days_open: int, priority: str, day: date) -> dict:
    line = (
        f"{ticket['key']}: {ticket['model_id']} {ticket['control']}, open {days_open} days, "
        f"owner {ticket['owner']}"
    )
    text = (
        f"Escalation on {day}: {ticket['key']} ({ticket['title']}) has been RED and unresolved for "
        f"{days_open} days (since {ticket['first_logical_date']}, {ticket['occurrences']} occurrence(s)). "
        f"Priority raised to {priority}. The model owner is {ticket['owner']}; the model risk team should "
        "follow up with them."
    )
    return {
        "subject": f"[ESCALATED] {ticket['key']} {ticket['model_id']}: {ticket['control']}",
        "text": text,
        "lines": [line],
        "links": {},
        "severity": "RED",
    }
