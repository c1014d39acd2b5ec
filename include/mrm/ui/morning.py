"""The morning view: what changed since the last attested review of the portfolio, worst first: new RED
and new AMBER controls, controls back to GREEN, risk acceptances that expired, tickets not yet
acknowledged. Each item that has a ticket carries that ticket's forms; the page ends with the form to
attest the newest day. Built from rows the history holds (:func:`changes` is pure)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from mrm.core.results import control_key
from mrm.store.tickets import ticket_key
from mrm.ui.html import badge, e, fmt, link

# kind -> (rank, badge status, label); lower rank first
KINDS = {
    "new_red": (0, "RED", "new RED"),
    "expired": (1, "RED", "acceptance expired"),
    "ack_overdue": (1, "RED", "acknowledgement overdue"),
    "unacknowledged": (2, "AMBER", "not acknowledged"),
    "new_amber": (3, "AMBER", "new AMBER"),
    "green_again": (4, "GREEN", "back to GREEN"),
}
BREACH = ("RED", "AMBER")


@dataclass(frozen=True)
class Change:
    kind: str
    model_id: str
    control: str
    day: date
    text: str
    ticket: dict | None = None

    @property
    def rank(self) -> tuple:
        return (KINDS[self.kind][0], self.model_id, self.control)


def _statuses(rows: list[dict]) -> dict[date, dict[str, str]]:
    by_day: dict[date, dict[str, str]] = defaultdict(dict)
    for r in rows:
        by_day[r["logical_date"]][control_key(r["check"], r["metric"], r["column"], r["segment"])] = r[
            "status"
        ]
    return by_day


def model_changes(model_id: str, rows: list[dict], since: date | None, open_tickets: dict[str, dict]) -> list:
    """One model's changes between the attested day ``since`` (None: never attested, so every breach is
    new) and its newest day in ``rows`` (metric rows of current runs, from ``since`` on)."""
    by_day = _statuses(rows)
    if not by_day:
        return []
    newest = max(by_day)
    if since is not None and newest <= since:
        return []
    before, now = by_day.get(since, {}) if since else {}, by_day[newest]
    out = []
    for control, status in sorted(now.items()):
        was = before.get(control)
        if status == "RED" and was != "RED":
            kind = "new_red"
        elif status == "AMBER" and was not in BREACH:
            kind = "new_amber"
        elif status == "GREEN" and was in BREACH:
            kind = "green_again"
        else:
            continue
        text = (
            f"{control}: {was or 'not recorded'} on {since} → {status} on {newest}"
            if since
            else (f"{control}: {status} on {newest} (no review attested yet)")
        )
        out.append(Change(kind, model_id, control, newest, text, open_tickets.get(control)))
    return out


def desk_changes(
    tickets: list[dict], acts: list[dict], since: date | None, today: date, readable: set[str],
    overdue: dict[int, str] | None = None,
) -> list[Change]:  # fmt: skip
    """Acceptances expired since ``since`` (until_date before today) and open tickets with no
    acknowledgement, of the readable models; ``overdue``: ticket id -> the target its acknowledgement
    is past (those are listed as overdue)."""
    overdue = overdue or {}
    open_by_id = {t["ticket_id"]: t for t in tickets if t["status"] == "open"}
    by_control = {(t["model_id"], t["control"]): t for t in open_by_id.values()}
    out = []
    for a in acts:
        expired = a["kind"] == "accept_risk" and a["model_id"] in readable and a["until_date"] < today
        if expired and (since is None or a["until_date"] >= since):
            who = f"accepted by {a['person']} until {a['until_date']}"
            ticket = by_control.get((a["model_id"], a["control"]))
            text = f"{a['control']}: {who}; the control counts again"
            out.append(Change("expired", a["model_id"], a["control"], a["until_date"], text, ticket))
    acknowledged = {a["ticket_id"] for a in acts if a["kind"] == "acknowledge"}
    for t in open_by_id.values():
        if t["model_id"] in readable and t["ticket_id"] not in acknowledged:
            text = (
                f"{ticket_key(t['ticket_id'])} open since {fmt(t['first_logical_date'])}, no acknowledgement"
            )
            late = overdue.get(t["ticket_id"])
            kind = "ack_overdue" if late else "unacknowledged"
            text += f" (target: {late})" if late else ""
            out.append(Change(kind, t["model_id"], t["control"], t["first_logical_date"], text, t))
    return out


def body(
    items: list[Change], last: dict | None, newest: date | None, forms: dict[int, str], attest: str,
    base: str, done: str = "", attested: list[dict] = (), timeliness: str = "",
) -> str:  # fmt: skip
    """``forms``: ticket id -> that ticket's forms for the person; ``attest``: the attest form (or "");
    ``attested``: recent attestations (newest first) for the "Reviewed days" table."""
    head = (
        f"Last attested review: {fmt(last['logical_date'])} by {e(last['person'])} at {fmt(last['acted_at'])}"
        if last
        else "No review attested yet: every breach below is new."
    )
    cards = []
    for c in sorted(items, key=lambda c: c.rank):
        _, status, label = KINDS[c.kind]
        model = link(f"{base}/models/{quote(c.model_id, safe='')}", c.model_id)
        ticket = (
            " · " + link(f"{base}/tickets/{c.ticket['ticket_id']}", ticket_key(c.ticket["ticket_id"]))
            if c.ticket
            else ""
        )
        acts = forms.get(c.ticket["ticket_id"], "") if c.ticket else ""
        cards.append(
            f'<div class="change" data-kind="{c.kind}">{badge(status)} <b>{e(label)}</b> · {model}{ticket}'
            f'<div class="small">{e(c.text)}</div>{acts}</div>'
        )
    listing = "".join(cards) or '<div class="empty">nothing changed since the last attested review</div>'
    rows = "".join(
        f"<tr><td>{fmt(a['logical_date'])}</td><td>{e(a['model_id'] or 'portfolio')}</td>"
        f"<td>{e(a['person'])}</td><td>{fmt(a['acted_at'])}</td><td class=wrap>{e(a['comment'])}</td></tr>"
        for a in attested
    )
    reviewed = (
        '<div class="scroll"><table><thead><tr><th>Day</th><th>Of</th><th>Reviewed by</th><th>At</th>'
        f"<th>Comment</th></tr></thead><tbody>{rows}</tbody></table></div>"
        if rows
        else '<div class="empty">no day attested yet</div>'
    )
    note = f'<p class="notice done">Recorded: {e(done)}</p>' if done else ""
    day = f" (newest day with runs: {fmt(newest)})" if newest else ""
    return (
        f"{note}<h1>Review</h1><p>{head}{e(day)}</p>"
        f'<h2 id="changes">What changed <span class="hint">worst first</span></h2>{listing}'
        f'<h2 id="attest">Attest</h2>{attest or "<p class=muted>You may not attest the portfolio.</p>"}'
        f'<h2 id="reviewed">Reviewed days</h2>{reviewed}'
        + (
            '<h2 id="timeliness">Time to acknowledge and close <span class="hint">against the tier\'s '
            f"targets in _policy.yaml</span></h2>{timeliness}"
            if timeliness
            else ""
        )
    )
