"""``mrm tickets [show ID]``: the built-in tracker's tickets, opened for RED controls, with the desk's acts on
them (:mod:`mrm.cli.desk`: ack, comment, propose-close, close, accept, attest)."""

from __future__ import annotations

from mrm.cli import desk
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
    desk.add_parsers(tick_sub)


def cmd_tickets(args) -> int:
    from mrm import wiring
    from mrm.ticketing import BuiltinTracker

    rows = BuiltinTracker(wiring.get_store()).tickets(args.model, args.status)
    print(emit(rows, TICKET_COLUMNS, args.format))
    return 0


def cmd_tickets_show(args) -> int:
    from mrm import pipeline, wiring
    from mrm.notify import outbox
    from mrm.store import acts as store_acts
    from mrm.ticketing.desk import describe
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
    with store.engine.connect() as conn:
        acts = store_acts.acts(conn, ticket_id=ticket_id)
    for a in acts:
        print(f"  act #{a['act_id']} {a['acted_at']:%Y-%m-%d %H:%M} {describe(a)}")
    for o in outbox.items(store, "all"):
        if o["ticket_id"] == ticket_id:
            ref = (o["receipt"] or {}).get("external_key", "")
            print(f"  outbox #{o['id']} {o['channel']} {o['kind']}: {o['status']} {ref}".rstrip())
    return 0


COMMANDS = {
    ("tickets", None): cmd_tickets,
    ("tickets", "show"): cmd_tickets_show,
    **desk.COMMANDS,
}
