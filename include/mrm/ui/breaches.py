"""Breaches and tickets: every open ticket across the portfolio, most severe and oldest first, and the
notifications that have not reached their channel yet."""

from __future__ import annotations

from mrm.inventory import Inventory
from mrm.store.tickets import ticket_key
from mrm.ui.html import STATUS_ORDER, Column, Table, badge, e, fmt, link

PRIORITY = {"Highest": 0, "High": 1, "Medium": 2, "Low": 3}


def rows(tickets: list[dict], inventory: Inventory) -> list[dict]:
    """Open tickets with their model's tier and name; ``age_days``: logical days from the first breach to
    the newest date the history holds for the model (what the escalation rule counts)."""
    out = []
    for t in tickets:
        entry = inventory.entries.get(t["model_id"])
        as_of = t["as_of"] or t["last_logical_date"]
        out.append(
            {
                **t,
                "key": ticket_key(t["ticket_id"]),
                "tier": entry.risk_tier if entry else None,
                "model_name": entry.name if entry else "",
                "age_days": (as_of - t["first_logical_date"]).days,
            }
        )
    out.sort(
        key=lambda r: (
            STATUS_ORDER.get(r["severity"], 9),
            PRIORITY.get(r["priority"] or "", 9),
            -r["age_days"],
            r["ticket_id"],
        )
    )
    return out


def table(chosen: list[dict], base: str) -> Table:
    columns = [
        Column("key", "Ticket", lambda r: link(f"{base}/tickets/{r['ticket_id']}", r["key"])),
        Column("severity", "Severity", lambda r: badge(r["severity"])),
        Column("model_id", "Model", lambda r: link(f"{base}/models/{r['model_id']}", r["model_id"])),
        Column("tier", "Tier", num=True),
        Column("control", "Control"),
        Column("age_days", "Age (days)", num=True),
        Column("occurrences", "Occurrences", num=True),
        Column("last_value", "Last value", num=True),
        Column("priority", "Priority"),
        Column("owner", "Owner"),
        Column("first_logical_date", "First breach"),
        Column("last_logical_date", "Last breach"),
        Column("escalated_at", "Escalated", lambda r: e(fmt(r["escalated_at"])) if r["escalated_at"] else ""),
        Column("model_name", "Model name", in_html=False),
        Column("opened_at", "Opened", in_html=False),
        Column("as_of", "Age as of", in_html=False),
        Column("title", "Title", in_html=False),
    ]
    return Table("open_tickets", columns, chosen, "no open tickets")


def outbox_notice(pending: list[dict]) -> str:
    if not pending:
        return ""
    total = sum(p["n"] for p in pending)
    parts = ", ".join(f"{p['n']} {p['channel']}" for p in pending)
    oldest = min(p["oldest"] for p in pending)
    return (
        f'<div class="notice" id="undelivered"><b>{total} notifications undelivered</b> ({e(parts)}), '
        f"the oldest queued {e(fmt(oldest))}. See <code>mrm outbox</code>.</div>"
    )


def body(chosen: list[dict], pending: list[dict], base: str) -> str:
    csv = link("?format=csv", "CSV")
    return (
        f"<h1>Breaches &amp; tickets</h1>{outbox_notice(pending)}"
        f'<h2>{len(chosen)} open tickets <span class="csv">{csv}</span>'
        '<span class="hint">most severe first; age in logical days up to the model\'s latest run</span></h2>'
        f"{table(chosen, base).html()}"
    )
