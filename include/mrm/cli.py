"""The ``mrm`` command. A stable contract: users and later issues script against it.

    mrm inventory validate [--inventory DIR]
    mrm inventory new --model-id ID [--inventory DIR]
    mrm inventory list [--status S] [--tier N] [--format table|csv|json] [--inventory DIR]
    mrm inventory show ID [--inventory DIR]
    mrm run --model ID --date YYYY-MM-DD [--inventory DIR]
    mrm history --model ID [--since DATE] [--until DATE] [--format table|csv|json] [--all-runs]
    mrm tickets [--model ID] [--status open|closed|all] [--format table|json]
    mrm tickets show ID
    mrm tickets close ID --reason TEXT [--by NAME]
    mrm outbox [--status pending|delivered|cancelled|all] [--model ID] [--format table|json]
    mrm outbox deliver [--model ID]
    mrm outbox cancel ITEM --reason TEXT [--by NAME]
    mrm notify daily --date YYYY-MM-DD
    mrm export [--since DATE] [--until DATE] --to URI [--format csv|json|parquet]
    mrm evidence-pack --model ID [--since DATE] [--until DATE] --out FILE.zip
    mrm baseline suggest --model ID [--inventory DIR]
    mrm audit verify
    mrm db upgrade
    mrm purge --before DATE
    mrm demo [--days N] [--load-to URI]
    mrm airflow [--port N]

Exit codes: 0 done (a run with breaches is done), 1 could not do it (one line on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
from datetime import date
from pathlib import Path

from mrm.errors import InventoryError, MrmError

HISTORY_COLUMNS = [
    "model_id", "logical_date", "run_id", "check", "metric", "column", "segment",
    "cohort_start", "cohort_end", "value", "amber_threshold", "red_threshold", "status",
]  # fmt: skip
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


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def _inventory_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--inventory", metavar="DIR", help="inventory folder (default: $MRM_INVENTORY or include/inventory)"
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="mrm", description="Model risk monitoring: checks, history, tickets.")
    sub = root.add_subparsers(dest="command", required=True)

    inv = sub.add_parser("inventory", help="the model inventory").add_subparsers(dest="action", required=True)
    validate = inv.add_parser("validate", help="validate every inventory file; exit 1 listing each problem")
    _inventory_arg(validate)
    new = inv.add_parser("new", help="scaffold a proposed entry with every field explained")
    new.add_argument("--model-id", required=True, metavar="ID")
    _inventory_arg(new)
    lst = inv.add_parser("list", help="every model in the inventory with its status")
    lst.add_argument("--status", choices=["proposed", "in_validation", "approved", "suspended", "retired"])
    lst.add_argument("--tier", type=int, choices=[1, 2, 3])
    lst.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _inventory_arg(lst)
    show = inv.add_parser("show", help="one entry as validated (tier defaults merged)")
    show.add_argument("model_id", metavar="ID")
    _inventory_arg(show)

    run = sub.add_parser("run", help="monitor one model for one logical date")
    run.add_argument("--model", required=True, metavar="ID")
    run.add_argument("--date", required=True, type=_date, metavar="YYYY-MM-DD")
    _inventory_arg(run)

    hist = sub.add_parser("history", help="metric results of a model (the latest run per date)")
    hist.add_argument("--model", required=True, metavar="ID")
    hist.add_argument("--since", type=_date, metavar="DATE")
    hist.add_argument("--until", type=_date, metavar="DATE")
    hist.add_argument("--format", choices=["table", "csv", "json"], default="table")
    hist.add_argument("--all-runs", action="store_true", help="include runs superseded by a rerun")

    exp = sub.add_parser(
        "export", help="the history of a period as CSV / JSON / Parquet (a dataset if --to ends in /)"
    )
    exp.add_argument("--since", type=_date, metavar="DATE")
    exp.add_argument("--until", type=_date, metavar="DATE")
    exp.add_argument(
        "--to", required=True, metavar="URI", help="file, s3://bucket/key, or a folder/prefix ending in /"
    )
    exp.add_argument("--format", choices=["csv", "json", "parquet"])

    pack = sub.add_parser(
        "evidence-pack", help="runs, metrics, tickets, inventory versions and evidence files in a zip"
    )
    pack.add_argument("--model", required=True, metavar="ID")
    pack.add_argument("--since", type=_date, metavar="DATE")
    pack.add_argument("--until", type=_date, metavar="DATE")
    pack.add_argument("--out", required=True, metavar="FILE.zip")

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
    tclose.add_argument("--by", default=None, help="who decided (default: the login name)")

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
    daily.add_argument("--date", type=_date, required=True)

    db = sub.add_parser("db", help="the metrics history's schema").add_subparsers(
        dest="action", required=True
    )
    db.add_parser("upgrade", help="apply the schema migrations (Alembic) to MRM_DB_URL")

    audit = sub.add_parser("audit", help="the tamper-evident history").add_subparsers(
        dest="action", required=True
    )
    audit.add_parser(
        "verify", help="walk the hash chain; exit 1 naming the first edited/deleted/inserted record"
    )
    purge = sub.add_parser(
        "purge", help="remove records older than the retention period (refuses younger ones)"
    )
    purge.add_argument("--before", required=True, type=_date, metavar="DATE")

    base = sub.add_parser("baseline", help="the reference window").add_subparsers(
        dest="action", required=True
    )
    sug = base.add_parser(
        "suggest", help="propose control thresholds from the reference window (prints YAML)"
    )
    sug.add_argument("--model", required=True, metavar="ID")
    _inventory_arg(sug)

    demo = sub.add_parser("demo", help="monitor 3 example models for 60 days through real Airflow DAGs")
    demo.add_argument("--days", type=int, default=60)
    demo.add_argument(
        "--load-to", metavar="URI", help="only write the demo data under URI (e.g. s3://mrm-demo) and exit"
    )

    af = sub.add_parser("airflow", help="airflow standalone on this repo's DAGs and the demo's history")
    af.add_argument("--port", type=int, default=8080)
    return root


def _table(rows: list[dict], columns: list[str]) -> str:
    def cell(v) -> str:
        if v is None:
            return ""
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _emit(rows: list[dict], columns: list[str], fmt: str) -> str:
    rows = [{c: r.get(c) for c in columns} for r in rows]
    if fmt == "json":
        return json.dumps(rows, indent=1, default=str)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue().rstrip("\n")
    return _table(rows, columns) if rows else "(no rows)"


def cmd_inventory_validate(args) -> int:
    from mrm import settings
    from mrm.inventory import inventory_files, load_inventory

    folder = settings.inventory_dir()
    inventory, problems = load_inventory(folder, strict=False)
    for line in problems:
        print(line, file=sys.stderr)
    print(
        f"{folder}: {len(inventory_files(folder))} file(s), {len(inventory.entries)} valid, "
        f"{len(inventory.monitored())} approved for monitoring, {len(problems)} problem(s)"
    )
    return 1 if problems else 0


INVENTORY_COLUMNS = [
    "model_id", "name", "version", "status", "risk_tier", "owner", "validator", "approved_on",
    "validation_due", "monitored",
]  # fmt: skip


def cmd_inventory_new(args) -> int:
    import re

    from mrm import settings
    from mrm.inventory.scaffold import scaffold

    if not re.fullmatch(r"[a-z][a-z0-9_]{1,62}", args.model_id):
        print(
            f"mrm: error: model id {args.model_id!r} must be lower_snake_case (a-z, 0-9, _)", file=sys.stderr
        )
        return 1
    path = settings.inventory_dir() / f"{args.model_id}.yaml"
    if path.exists():
        print(f"mrm: error: {path} already exists; edit it instead", file=sys.stderr)
        return 1
    path.write_text(scaffold(args.model_id))
    print(f"{path}: proposed entry written; fill in the TODOs, then run `mrm inventory validate`")
    return 0


def cmd_inventory_list(args) -> int:
    from mrm import pipeline

    rows = []
    for e in sorted(pipeline.get_inventory().entries.values(), key=lambda e: (e.risk_tier, e.model_id)):
        if (args.status and e.status != args.status) or (args.tier and e.risk_tier != args.tier):
            continue
        rows.append({
            "model_id": e.model_id, "name": e.name, "version": e.version, "status": e.status,
            "risk_tier": e.risk_tier, "owner": str(e.owner), "validator": str(e.validator),
            "approved_on": e.approval.date if e.approval else None, "validation_due": e.validation_due,
            "monitored": e.monitored,
        })  # fmt: skip
    print(_emit(rows, INVENTORY_COLUMNS, args.format))
    return 0


def cmd_inventory_show(args) -> int:
    import yaml

    from mrm import pipeline

    entry = pipeline.get_inventory().get(args.model_id)
    doc = entry.model_dump(mode="json", exclude_none=True)
    doc["derived"] = {
        "monitored": entry.monitored,
        "validation_due": str(entry.validation_due) if entry.validation_due else None,
        "inventory_hash": entry.fingerprint(),
    }
    print(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).rstrip())
    return 0


def cmd_run(args) -> int:
    from mrm import pipeline

    result = pipeline.run_model(args.model, args.date)
    print(
        f"{result['model_id']} {result['logical_date']}: {result['overall_status']} (run {result['run_id']})"
    )
    for b in result["breaches"]:
        print(
            f"  {b['status']:<6} {b['control']} = {b['value']:.4g} (amber {b['amber']:g}, red {b['red']:g})"
        )
    for t in result["tickets"]:
        print(f"  ticket {t['key']}: {t['action']}")
    print(
        f"  rows: {result['rows']:,} (every metric on all of them; the Evidently report and the GX result "
        f"drawn from a seeded sample of {result['sample_rows']:,})"
    )
    print(f"  evidence: {result['evidence']['drift_report']['uri'].rsplit('/', 1)[0]}/")
    sent = result["notifications"]
    if sent["delivered"]:
        print(f"  notifications delivered: {sent['delivered']}")
    if sent["undelivered"]:
        first = sent["undelivered"][0]
        print(
            f"mrm: {len(sent['undelivered'])} notification(s) undelivered, e.g. {first['channel']} "
            f"{first['kind']}: {first['error']}; kept in the outbox (`mrm outbox`), retried on the next run",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_history(args) -> int:
    from mrm import pipeline

    pipeline.get_inventory().get(args.model)
    rows = pipeline.get_store().metrics(args.model, args.since, args.until, all_runs=args.all_runs)
    print(_emit(rows, HISTORY_COLUMNS, args.format))
    return 0


def cmd_export(args) -> int:
    from mrm import pipeline
    from mrm.export import export

    to = args.to
    if "://" not in to:  # a local path
        to = Path(to).resolve().as_uri() + ("/" if args.to.endswith("/") else "")
    print(export(pipeline.get_store(), to, args.since, args.until, args.format))
    return 0


def cmd_evidence_pack(args) -> int:
    from mrm import pipeline
    from mrm.evidence_pack import build

    data, manifest = build(pipeline.get_store(), args.model, args.since, args.until)
    Path(args.out).write_bytes(data)
    chain_state = "intact" if manifest["chain"]["intact"] else "NOT intact (see manifest.json)"
    print(f"{args.out}: {len(manifest['files'])} files, {len(manifest['evidence_files'])} evidence files; "
          f"hash chain {chain_state}")  # fmt: skip
    return 0


def cmd_tickets(args) -> int:
    from mrm import pipeline
    from mrm.ticketing import BuiltinTracker

    rows = BuiltinTracker(pipeline.get_store()).tickets(args.model, args.status)
    print(_emit(rows, TICKET_COLUMNS, args.format))
    return 0


def _who(by: str | None) -> str:
    import getpass

    return by or getpass.getuser()


def cmd_tickets_show(args) -> int:
    from mrm import pipeline
    from mrm.notify import outbox
    from mrm.ticketing.tracker import parse_ticket_id

    store = pipeline.get_store()
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
    ticket = n.close(parse_ticket_id(args.ticket), _who(args.by), args.reason)
    report = n.deliver(ticket["model_id"])
    print(f"{ticket['key']} closed by {ticket['closed_by']}: {ticket['closed_reason']}")
    if report.undelivered:
        print(f"mrm: {report.message()}", file=sys.stderr)
        return 1
    return 0


OUTBOX_COLUMNS = ["id", "status", "channel", "kind", "model_id", "ticket_id", "logical_date", "attempts",
                  "last_error", "created_at", "delivered_at"]  # fmt: skip


def cmd_outbox(args) -> int:
    from mrm import pipeline
    from mrm.notify import outbox

    rows = outbox.items(pipeline.get_store(), args.status, args.model)
    print(_emit(rows, OUTBOX_COLUMNS, args.format))
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
    from mrm import pipeline
    from mrm.notify import outbox

    outbox.cancel(pipeline.get_store(), args.item, _who(args.by), args.reason)
    print(f"outbox #{args.item} cancelled")
    return 0


def cmd_notify_daily(args) -> int:
    from mrm import governance, pipeline

    done = governance.notify_portfolio(args.date, pipeline.get_inventory(), pipeline.get_store())
    print(", ".join(f"{k}: {v if not isinstance(v, list) else len(v)}" for k, v in done.items()))
    return 0


def cmd_db_upgrade(args) -> int:
    from mrm import settings
    from mrm.store.history import HistoryStore, hide_password

    before, after = HistoryStore.upgrade(settings.db_url())
    safe = hide_password(settings.db_url())
    print(f"{safe}: schema revision {before or 'none'} -> {after}")
    return 0


def cmd_purge(args) -> int:
    from mrm import pipeline, settings
    from mrm.store.retention import purge

    counts = purge(pipeline.get_store(), args.before, pipeline.cli_trigger(), settings.retention_days())
    print(f"purged records before {args.before}: " + ", ".join(f"{n} from {t}" for t, n in counts.items()))
    return 0


def cmd_audit_verify(args) -> int:
    from mrm import pipeline
    from mrm.store import chain

    store = pipeline.get_store()
    problems, head, count = chain.verify(store.engine)
    for line in problems:
        print(f"mrm: {line}", file=sys.stderr)
    if problems:
        print(f"{store.safe_url}: {len(problems)} problem(s) in a chain of {count} records", file=sys.stderr)
        return 1
    print(f"{store.safe_url}: chain of {count} records intact; head {head}")
    return 0


def cmd_baseline_suggest(args) -> int:
    from mrm import pipeline
    from mrm.baseline import suggest

    entry = pipeline.get_inventory().get(args.model)
    frame, _ = pipeline.reference(entry)
    print(suggest(frame, entry))
    return 0


def cmd_demo(args) -> int:
    if args.load_to:
        from mrm.demo.data import load_to

        print(load_to(args.load_to, days=args.days))
        return 0
    from mrm.demo.runner import run_demo

    return run_demo(days=args.days)


def cmd_airflow(args) -> int:
    from mrm.demo.standalone import run_standalone

    return run_standalone(args.port)


COMMANDS = {
    ("inventory", "validate"): cmd_inventory_validate,
    ("inventory", "new"): cmd_inventory_new,
    ("inventory", "list"): cmd_inventory_list,
    ("inventory", "show"): cmd_inventory_show,
    ("run", None): cmd_run,
    ("history", None): cmd_history,
    ("tickets", None): cmd_tickets,
    ("tickets", "show"): cmd_tickets_show,
    ("tickets", "close"): cmd_tickets_close,
    ("outbox", None): cmd_outbox,
    ("outbox", "deliver"): cmd_outbox_deliver,
    ("outbox", "cancel"): cmd_outbox_cancel,
    ("notify", "daily"): cmd_notify_daily,
    ("export", None): cmd_export,
    ("evidence-pack", None): cmd_evidence_pack,
    ("baseline", "suggest"): cmd_baseline_suggest,
    ("audit", "verify"): cmd_audit_verify,
    ("purge", None): cmd_purge,
    ("db", "upgrade"): cmd_db_upgrade,
    ("demo", None): cmd_demo,
    ("airflow", None): cmd_airflow,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "inventory", None):
        os.environ["MRM_INVENTORY"] = str(Path(args.inventory).resolve())
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mrm.pipeline").setLevel(logging.CRITICAL)  # the CLI prints its own one-line outcome
    try:
        return COMMANDS[(args.command, getattr(args, "action", None))](args)
    except InventoryError as exc:
        for line in exc.lines():
            print(f"mrm: {line}", file=sys.stderr)
        return 1
    except MrmError as exc:
        print(f"mrm: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
