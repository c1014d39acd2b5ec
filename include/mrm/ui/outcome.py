"""The newest day of a model's monitoring, which its page leads with: when that day could not run, why,
since when, and its ticket, before the controls of the last run that completed (with that run's date),
so a day nothing was checked never reads as a clean one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import takewhile

from mrm.store.tickets import ticket_key
from mrm.ui.html import e, fmt, link

COULD_NOT_RUN = "run.could_not_run"  # the control of a run that could not complete (mrm.ticketing.base)


@dataclass(frozen=True)
class Outcome:
    day: date  # the model's newest monitoring logical date
    failed: bool  # its current run could not complete: no control was evaluated for it
    reason: str | None  # why (the run's reason)
    since: date | None  # the first of the newest days in a row that could not run
    days_failed: int  # how many days in a row, the newest included
    ticket: dict | None  # the open could-not-run ticket
    last_completed: date | None  # the newest day whose current run completed


def newest(runs: list[dict], tickets: list[dict]) -> Outcome | None:
    """The outcome of the newest monitoring day of ``runs`` (newest first, reruns included: the first of
    each date is the current one); None when there is no monitoring run."""
    current: dict[date, dict] = {}
    for run in runs:
        if run["kind"] == "monitoring":
            current.setdefault(run["logical_date"], run)
    if not current:
        return None
    days = sorted(current, reverse=True)
    last_completed = next((d for d in days if current[d]["status"] != "failed"), None)
    head = current[days[0]]
    if head["status"] != "failed":
        return Outcome(days[0], False, None, None, 0, None, last_completed)
    streak = list(takewhile(lambda d: current[d]["status"] == "failed", days))
    ticket = next((t for t in tickets if t["control"] == COULD_NOT_RUN and t["status"] == "open"), None)
    return Outcome(days[0], True, head["reason"], streak[-1], len(streak), ticket, last_completed)


def notice(found: Outcome) -> str:
    """The could-not-run box: the day, why, since when, the ticket (linked to the page's tickets)."""
    in_a_row = "1 day" if found.days_failed == 1 else f"{found.days_failed} days in a row"
    ticket = "none open"
    if found.ticket:
        key = ticket_key(found.ticket["ticket_id"])
        ticket = link("#tickets", key) + e(f" (open since {fmt(found.ticket['first_logical_date'])})")
    fields = [
        ("Why", e(found.reason or "no reason recorded")),
        ("Since", e(f"{fmt(found.since)} ({in_a_row})")),
        ("Ticket", ticket),
    ]
    items = "".join(f"<div><dt>{e(k)}</dt><dd>{v}</dd></div>" for k, v in fields)
    return (
        '<div class="notice outcome" id="newest-outcome">'
        f'<p><span class="badge b-ERROR">could not run</span> <b>{e(fmt(found.day))}</b>: '
        "no control was evaluated for this day.</p>"
        f'<dl class="card">{items}</dl></div>'
    )


def completed_heading(found: Outcome, governance_day: date | None) -> str:
    """What the controls below the box are: the last completed run's, with its date."""
    text = (
        f"Last completed run: {fmt(found.last_completed)}"
        if found.last_completed
        else "No completed monitoring run in this window"
    )
    if governance_day:
        text += f" · governance run: {fmt(governance_day)}"
    return f'<h3 class="last-completed">{e(text)}</h3>'


def no_findings(found: Outcome) -> str:
    """The empty text of the controls table when the newest day could not run."""
    if found.last_completed is None:
        return "no controls evaluated"
    return f"no control AMBER or RED on {fmt(found.last_completed)}"
