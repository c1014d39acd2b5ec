"""``mrm run`` and ``mrm history``: monitor one model for one day, and read back what runs recorded."""

from __future__ import annotations

import sys

from mrm.cli.args import inventory_arg, iso_date
from mrm.cli.format import emit

HISTORY_COLUMNS = [
    "model_id", "logical_date", "run_id", "check", "metric", "column", "segment",
    "cohort_start", "cohort_end", "value", "amber_threshold", "red_threshold", "status",
]  # fmt: skip


def add_parsers(sub) -> None:
    run = sub.add_parser("run", help="monitor one model for one logical date")
    run.add_argument("--model", required=True, metavar="ID")
    run.add_argument("--date", required=True, type=iso_date, metavar="YYYY-MM-DD")
    inventory_arg(run)

    hist = sub.add_parser("history", help="metric results of a model (the latest run per date)")
    hist.add_argument("--model", required=True, metavar="ID")
    hist.add_argument("--since", type=iso_date, metavar="DATE")
    hist.add_argument("--until", type=iso_date, metavar="DATE")
    hist.add_argument("--format", choices=["table", "csv", "json"], default="table")
    hist.add_argument("--all-runs", action="store_true", help="include runs superseded by a rerun")


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
    from mrm import wiring

    wiring.get_inventory().get(args.model)
    rows = wiring.get_store().metrics(args.model, args.since, args.until, all_runs=args.all_runs)
    print(emit(rows, HISTORY_COLUMNS, args.format))
    return 0


COMMANDS = {
    ("run", None): cmd_run,
    ("history", None): cmd_history,
}
