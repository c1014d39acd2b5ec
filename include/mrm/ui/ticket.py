"""One ticket's page: what breached, its trail (the tracker's events and the desk's acts, oldest first:
every entry) and the forms of the acts the person may take (:mod:`mrm.ui.desk_forms`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from mrm.store.tickets import ticket_key
from mrm.ticketing.desk import describe
from mrm.ui.html import badge, e, fmt, link


@dataclass
class TicketView:
    ticket: dict
    events: list[dict]
    acts: list[dict]
    forms: str = ""  # the desk's forms for this person ("" when they may take no act)
    done: dict | None = None  # the act just recorded (after a form's redirect)
    notes: list[str] = field(default_factory=list)  # why no forms (e.g. read-only in Airflow)


def trail(events: list[dict], acts: list[dict]) -> list[tuple]:
    """(when, who-or-source, kind, text) of every event and act, oldest first."""
    rows = [(_utc(ev["created_at"]), "mrm", ev["kind"], ev["message"].splitlines()[0]) for ev in events]
    rows += [(_utc(a["acted_at"]), a["person"], a["kind"], describe(a)) for a in acts]
    return sorted(rows, key=lambda r: r[0])


def _utc(when: datetime) -> datetime:
    """SQLite gives back naive datetimes; the history stores UTC."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def body(view: TicketView, base: str) -> str:
    t = view.ticket
    model_href = f"{base}/models/{quote(t['model_id'], safe='')}"
    facts = [
        ("Status", e(t["status"])),
        ("Severity", badge(t["severity"])),
        ("Priority", e(fmt(t.get("priority")))),
        ("Model", link(model_href, t["model_id"])),
        ("Control", e(t["control"])),
        ("Owner", e(t["owner"])),
        ("Breached", e(f"{fmt(t['first_logical_date'])} .. {fmt(t['last_logical_date'])}")),
        ("Occurrences", e(t["occurrences"])),
    ]
    if t["status"] != "open":
        facts.append(("Closed", e(f"{fmt(t['closed_at'])} by {t['closed_by']}: {t['closed_reason']}")))
    card = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
    rows = "".join(
        f"<tr><td>{e(fmt(when))}</td><td>{e(who)}</td><td>{e(kind)}</td><td class=wrap>{e(text)}</td></tr>"
        for when, who, kind, text in trail(view.events, view.acts)
    )
    done = f'<p class="notice done">Recorded: {e(describe(view.done))}</p>' if view.done else ""
    notes = "".join(f'<p class="small muted">{e(n)}</p>' for n in view.notes)
    return (
        f'<p class="small">{link(model_href, "← " + t["model_id"])}</p>{done}'
        f"<h1>{e(ticket_key(t['ticket_id']))}: {e(t['title'])}</h1><dl class=card>{card}</dl>"
        '<h2 id="trail">Trail <span class="hint">every event and act, oldest first</span></h2>'
        '<div class="scroll"><table><thead><tr><th>When</th><th>Who</th><th>What</th><th>Entry</th></tr>'
        f"</thead><tbody>{rows}</tbody></table></div>"
        '<h2 id="desk">Review <span class="hint">acts are recorded with your Airflow login</span></h2>'
        f"{view.forms}{notes}"
    )
