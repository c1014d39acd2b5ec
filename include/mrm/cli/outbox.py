"""``mrm outbox [show ITEM | deliver | cancel ITEM]`` and ``mrm notify daily``: notifications waiting
for, or done with, delivery, and the portfolio's daily notifications."""

from __future__ import annotations

import json

from mrm.cli.args import iso_date, who
from mrm.cli.format import emit

# key: the idempotency key (the `mrm-event:` marker of Jira comments, X-MRM-Delivery, Message-ID);
# remote_id: what the peer calls the item (Jira issue key, SNS MessageId, SMTP Message-ID)
OUTBOX_COLUMNS = ["id", "status", "channel", "kind", "model_id", "ticket_id", "logical_date", "key",
                  "remote_id", "attempts", "last_error", "created_at", "delivered_at"]  # fmt: skip


def add_parsers(sub) -> None:
    obx = sub.add_parser("outbox", help="ticket events and alerts waiting for, or done with, delivery")
    obx.add_argument("--status", choices=["pending", "delivered", "cancelled", "all"], default="pending")
    obx.add_argument("--model", metavar="ID")
    obx.add_argument("--format", choices=["table", "json"], default="table")
    obx_sub = obx.add_subparsers(dest="action")
    oshow = obx_sub.add_parser("show", help="one item's whole trail: attempts, errors, receipts")
    oshow.add_argument("item", type=int, metavar="ITEM", help="the outbox id (see `mrm outbox`)")
    odeliver = obx_sub.add_parser("deliver", help="deliver what is pending now (e.g. after fixing a channel)")
    odeliver.add_argument("--model", metavar="ID", dest="deliver_model")
    ocancel = obx_sub.add_parser("cancel", help="drop a pending item that can never be delivered")
    ocancel.add_argument("item", type=int, metavar="ITEM", help="the outbox id (see `mrm outbox`)")
    ocancel.add_argument("--reason", required=True)
    ocancel.add_argument("--by", default=None)

    notify = sub.add_parser("notify", help="portfolio notifications").add_subparsers(
        dest="action", required=True
    )
    daily = notify.add_parser(
        "daily",
        help="read back Jira, escalate, AMBER digests, portfolio summary, deliver (as mrm_governance)",
    )
    daily.add_argument("--date", type=iso_date, required=True)


def cmd_outbox(args) -> int:
    from mrm import wiring
    from mrm.notify import outbox
    from mrm.notify.base import remote_id

    rows = outbox.items(wiring.get_store(), args.status, args.model)
    rows = [{**r, "remote_id": remote_id(r["receipt"])} for r in rows]
    print(emit(rows, OUTBOX_COLUMNS, args.format))
    return 0


def cmd_outbox_show(args) -> int:
    from mrm import wiring
    from mrm.notify import outbox

    item, attempts = outbox.trail(wiring.get_store(), args.item)
    print("\n".join(show_lines(item, attempts)))
    return 0


def show_lines(item: dict, attempts: list[dict]) -> list[str]:
    """The item, what the peer calls it, then one line per attempt (outcome, seconds, error or receipt)."""
    from mrm.notify.base import remote_id

    ticket = f", ticket {item['ticket_id']}" if item["ticket_id"] is not None else ""
    lines = [
        f"outbox #{item['id']} {item['channel']} {item['kind']}: {item['status']}",
        f"  key {item['key']}",
        f"  remote id {remote_id(item['receipt']) or '(none from this channel)'}",
        f"  model {item['model_id'] or '(portfolio)'}{ticket}, logical date {item['logical_date']}",
        f"  created {_at(item['created_at'])}, {item['attempts']} attempt(s)",
    ]
    lines += [_attempt_line(a) for a in attempts]
    if item["attempts"] > len(attempts):  # attempted before the trail was recorded (revision 0005)
        lines.append(f"  {item['attempts'] - len(attempts)} earlier attempt(s) not recorded; last error: "
                     f"{item['last_error']}")  # fmt: skip
    if item["status"] == "cancelled":
        lines.append(f"  cancelled by {item['cancelled_by']}: {item['cancelled_reason']}")
    elif item["status"] == "pending" and item["attempts"]:
        lines.append(f"  next attempt not before {_at(item['next_attempt_at'])}")
    if item["status"] == "pending" and item.get("claimed_by"):  # a deliverer holds it (or held it and died)
        lines.append(f"  claimed by deliverer {item['claimed_by']} until {_at(item.get('lease_until'))}; "
                     "another deliverer takes it over after that")  # fmt: skip
    return lines


def _attempt_line(a: dict) -> str:
    seconds = f" {a['seconds']:.2f} s" if a["seconds"] is not None else ""
    what = (
        a["error"] if a["outcome"] != "delivered" else json.dumps(a["receipt"], default=str, sort_keys=True)
    )
    return f"  attempt {a['attempt']} {_at(a['at'])} {a['outcome']}{seconds}: {what}"


def _at(when) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S") if when is not None else "-"


def cmd_outbox_deliver(args) -> int:
    from mrm import pipeline
    from mrm.notify.outbox import undelivered_error

    report = pipeline.notifier().deliver(args.deliver_model or args.model)
    held = f", left to another deliverer {len(report.elsewhere)}" if report.elsewhere else ""
    print(f"delivered {len(report.delivered)}, undelivered {len(report.undelivered)}{held}")
    if error := undelivered_error(report):  # delivering was the job: exit 1 with the outbox's line
        raise error
    return 0


def cmd_outbox_cancel(args) -> int:
    from mrm import wiring
    from mrm.notify import outbox

    outbox.cancel(wiring.get_store(), args.item, who(args.by), args.reason)
    print(f"outbox #{args.item} cancelled")
    return 0


def cmd_notify_daily(args) -> int:
    from mrm import governance, wiring

    done = governance.notify_portfolio(args.date, wiring.get_inventory(), wiring.get_store())
    print(", ".join(f"{k}: {v if not isinstance(v, list) else len(v)}" for k, v in done.items()))
    return 0


COMMANDS = {
    ("outbox", None): cmd_outbox,
    ("outbox", "show"): cmd_outbox_show,
    ("outbox", "deliver"): cmd_outbox_deliver,
    ("outbox", "cancel"): cmd_outbox_cancel,
    ("notify", "daily"): cmd_notify_daily,
}
