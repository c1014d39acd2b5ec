"""``mrm tickets ack | comment | propose-close | accept | attest`` and ``close``: the risk manager's desk
from the command line. Each act goes through :class:`mrm.ticketing.desk.Desk`, as the Model Risk page's
do, recorded as the OS user (the real uid's name, which the role map must list to act) marked ``cli: not
authenticated by Airflow``; ``--by NAME`` is kept only as "on behalf of NAME". A RED ticket's closure
from here is recorded as a proposal, which a reviewer confirms in the Model Risk page."""

from __future__ import annotations

from mrm.cli.args import iso_date, who
from mrm.cli.console import warn

CAUSES = ("data_issue", "model_issue", "false_positive", "accepted", "other")  # mrm.store.schema.CAUSES


def _common(p, ticket: bool = True) -> None:
    if ticket:
        p.add_argument("ticket", metavar="ID", help="e.g. MRM-12 or 12")
    p.add_argument(
        "--by",
        default=None,
        metavar="NAME",
        help="on whose behalf (kept as text after the OS user, who is recorded as acting)",
    )


def add_parsers(tick_sub) -> None:
    """Adds the desk's acts to ``mrm tickets``' sub-commands (``close`` replaces the plain closure)."""
    ack = tick_sub.add_parser("ack", help="acknowledge a ticket (owner): a comment and a planned action date")
    _common(ack)
    ack.add_argument("--comment", required=True, help="what will be done")
    ack.add_argument("--action-date", required=True, type=iso_date, metavar="YYYY-MM-DD")
    com = tick_sub.add_parser("comment", help="comment on a ticket (root cause, actions taken)")
    _common(com)
    com.add_argument("--comment", required=True)
    for name, text in (
        ("propose-close", "propose closing a ticket (owner), for a reviewer to confirm"),
        ("close", "close a ticket with a rationale and a cause (RED: recorded as a proposal)"),
    ):
        p = tick_sub.add_parser(name, help=text)
        _common(p)
        p.add_argument("--reason", required=True, help="the rationale (kept in the history)")
        p.add_argument("--cause", choices=CAUSES, default="other", help="the cause category (default other)")
    acc = tick_sub.add_parser("accept", help="accept a ticket's control breached until a date (reviewer)")
    _common(acc)
    acc.add_argument("--until", required=True, type=iso_date, metavar="YYYY-MM-DD")
    acc.add_argument("--reason", required=True, help="why the risk is accepted")
    acc.add_argument(
        "--condition", action="append", default=[], metavar="TEXT", help="a condition (repeatable)"
    )
    att = tick_sub.add_parser("attest", help="attest the review of a logical date (reviewer)")
    _common(att, ticket=False)
    att.add_argument("--date", required=True, type=iso_date, metavar="YYYY-MM-DD")
    att.add_argument("--model", metavar="ID", help="one model (default: the whole portfolio)")
    att.add_argument("--comment", required=True)


def _desk():
    from mrm import pipeline, wiring
    from mrm.ticketing.desk import Desk

    n = pipeline.notifier()
    return Desk(wiring.get_store(), n.inventory, n), n


def _actor(by: str | None):
    from mrm import wiring
    from mrm.ticketing.desk import Actor
    from mrm.ticketing.review import CLI

    return Actor(wiring.os_user(), CLI, who(by))


def _done(n, recorded) -> int:
    from mrm.ticketing.desk import describe

    ticket = recorded.ticket
    print(f"{ticket['key'] + ' ' if ticket else ''}{describe(recorded.act)}")
    if recorded.note:
        print(recorded.note)
    report = n.deliver(ticket["model_id"] if ticket else None) if ticket else None
    if report is not None and report.undelivered:  # recorded; the outbox retries its mirrors
        warn(report.message())
    return 0


def _ticket(args) -> int:
    from mrm.ticketing.tracker import parse_ticket_id

    return parse_ticket_id(args.ticket)


def cmd_ack(args) -> int:
    desk, n = _desk()
    return _done(n, desk.acknowledge(_actor(args.by), _ticket(args), args.comment, args.action_date))


def cmd_comment(args) -> int:
    desk, n = _desk()
    return _done(n, desk.comment(_actor(args.by), _ticket(args), args.comment))


def cmd_propose_close(args) -> int:
    desk, n = _desk()
    return _done(n, desk.propose_close(_actor(args.by), _ticket(args), args.reason, args.cause))


def cmd_close(args) -> int:
    desk, n = _desk()
    return _done(n, desk.close(_actor(args.by), _ticket(args), args.reason, args.cause))


def cmd_accept(args) -> int:
    desk, n = _desk()
    recorded = desk.accept(_actor(args.by), _ticket(args), args.reason, args.until, args.condition)
    return _done(n, recorded)


def cmd_attest(args) -> int:
    desk, n = _desk()
    return _done(n, desk.attest(_actor(args.by), args.date, args.model, args.comment))


COMMANDS = {
    ("tickets", "ack"): cmd_ack,
    ("tickets", "comment"): cmd_comment,
    ("tickets", "propose-close"): cmd_propose_close,
    ("tickets", "close"): cmd_close,
    ("tickets", "accept"): cmd_accept,
    ("tickets", "attest"): cmd_attest,
}
