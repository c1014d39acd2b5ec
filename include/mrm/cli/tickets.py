"""``mrm tickets [show ID | close ID]``: the built-in tracker's tickets, opened for RED controls."""

from __future__ import annotations

from mrm.cli.args import who
from mrm.cli.console import warn
from mrm.cli.format import emit

TICKET_COLUMNS = [
    "key",
    "status",
    "severity",
    "model_id",
    "control",
    "owner",
    "first_logical_date",
    "last_logical_date",
    "occurrences",
    "opened_at",
    "priority",
    "closed_by",
    "closed_reason",
]


def add_parsers(sub) -> None:
    tick = sub.add_parser("tickets", help="tickets opened for RED controls")
    tick.add_argument("--model", metavar="ID")
    tick.add_argument("--status", choices=["open", "closed", "all"], default="open")
    tick.add_argument("--format", choices=["table", "json"], default="table")
    tick_sub = tick.add_subparsers(dest="action")
    tshow = tick_sub.add_parser("show", help="one ticket with its events and deliveries")
    tshow.add_argument("ticket", metavar="ID", help="e.g. MRM-12 or 12")
    tclose = tick_sub.add_parser(
        "close", help="close a ticket: a person's decision, recorded with who and why"
    )
    tclose.add_argument("ticket", metavar="ID", help="e.g. MRM-12 or 12")
    tclose.add_argument("--reason", required=True, help="why it can be closed (kept in the history)")
    tclose.add_argument(
        "--by", default=None, metavar="NAME",
        help="on whose behalf (kept as text after the OS user, who is recorded as the closer)",
    )  # fmt: skip


def cmd_tickets(args) -> int:
    from mrm import wiring
    from mrm.ticketing import BuiltinTracker

    rows = BuiltinTracker(wiring.get_store()).tickets(args.model, args.status)
    print(emit(rows, TICKET_COLUMNS, args.format))
    return 0


def cmd_tickets_show(args) -> int:
    from mrm import pipeline, wiring
    from mrm.notify import outbox
    from mrm.ticketing.tracker import parse_ticket_id

    store = wiring.get_store()
    ticket_id = parse_ticket_id(args.ticket)
    with store.engine.connect() as conn:
        t = pipeline.notifier().tracker.ticket_in(conn, ticket_id)
    print(f"{t['key']} {t['status'].upper()} {t['severity']} priority {t['priority'] or '-'}: {t['title']}")
    span = f"{t['first_logical_date']}..{t['last_logical_date']}"
    print(f"  owner {t['owner']}; {t['occurrences']} occurrence(s) {span}")
    if t["status"] == "closed":
        print(f"  closed {t['closed_at']:%Y-%m-%d %H:%M} by {t['closed_by']}: {t['closed_reason']}")
    for e in pipeline.notifier().tracker.events(ticket_id):
        print(f"  {e['logical_date']} {e['kind']:<18} {e['message'].splitlines()[0][:120]}")
    for o in outbox.items(store, "all"):
        if o["ticket_id"] == ticket_id:
            ref = (o["receipt"] or {}).get("external_key", "")
            print(f"  outbox #{o['id']} {o['channel']} {o['kind']}: {o['status']} {ref}".rstrip())
    return 0


def cmd_tickets_close(args) -> int:
    from mrm import pipeline
    from mrm.ticketing.tracker import parse_ticket_id

    n = pipeline.notifier()
    ticket = n.close(parse_ticket_id(args.ticket), who(args.by), args.reason)
    report = n.deliver(ticket["model_id"])
    print(f"{ticket['key']} closed by {ticket['closed_by']}: {ticket['closed_reason']}")
    if report.undelivered:  # the ticket is closed; the outbox retries its mirrors and alerts
        warn(report.message())
    return 0


COMMANDS = {
    ("tickets", None): cmd_tickets,
    ("tickets", "show"): cmd_tickets_show,
    ("tickets", "close"): cmd_tickets_close,
}
