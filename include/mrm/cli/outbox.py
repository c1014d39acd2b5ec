"""``mrm outbox [deliver | cancel ITEM]`` and ``mrm notify daily``: notifications waiting for, or done
with, delivery, and the portfolio's daily notifications."""

from __future__ import annotations

import sys

from mrm.cli.args import iso_date, who
from mrm.cli.format import emit

OUTBOX_COLUMNS = ["id", "status", "channel", "kind", "model_id", "ticket_id", "logical_date", "attempts",
                  "last_error", "created_at", "delivered_at"]  # fmt: skip


def add_parsers(sub) -> None:
    obx = sub.add_parser("outbox", help="ticket events and alerts waiting for, or done with, delivery")
    obx.add_argument("--status", choices=["pending", "delivered", "cancelled", "all"], default="pending")
    obx.add_argument("--model", metavar="ID")
    obx.add_argument("--format", choices=["table", "json"], default="table")
    obx_sub = obx.add_subparsers(dest="action")
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

    rows = outbox.items(wiring.get_store(), args.status, args.model)
    print(emit(rows, OUTBOX_COLUMNS, args.format))
    return 0


def cmd_outbox_deliver(args) -> int:
    from mrm import pipeline

    report = pipeline.notifier().deliver(args.deliver_model or args.model)
    print(f"delivered {len(report.delivered)}, undelivered {len(report.undelivered)}")
    if report.undelivered:
        print(f"mrm: {report.message()}", file=sys.stderr)
        return 1
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
    ("outbox", "deliver"): cmd_outbox_deliver,
    ("outbox", "cancel"): cmd_outbox_cancel,
    ("notify", "daily"): cmd_notify_daily,
}
