"""``mrm run`` and ``mrm history``: monitor one model for one day, and read back what runs recorded."""

from __future__ import annotations

import argparse
import sys

from mrm.cli.args import inventory_arg, iso_date
from mrm.cli.console import warn
from mrm.cli.format import emit

HISTORY_COLUMNS = [
    "model_id", "logical_date", "run_id", "check", "metric", "column", "segment",
    "cohort_start", "cohort_end", "value", "amber_threshold", "red_threshold", "status", "reason",
]  # fmt: skip
RUN_EXIT_CODES = """exit codes:
  0  the run completed and is recorded, whatever its status (GREEN, AMBER, RED); notifications that
     stayed undelivered are kept in the outbox and retried: one "mrm: warning:" line on stderr
  1  the run could not run (no partition, a corrupt file, a missing column, a check that failed): it
     is recorded as a failed run (status ERROR in `mrm history`) with a "could not run" ticket; one
     "mrm: error:" line on stderr. When the day's scoring log could not be read, the matured cohort is
     still evaluated and recorded as a run of kind performance (one line on stdout before the error)
  2  usage: a bad argument, or a rerun of a date that has a run without --reason"""
KINDS = ("monitoring", "governance", "performance", "backtest")


def kinds_of(kind: str | None) -> tuple[str, ...] | None:
    """``--kind``: one kind; ``all``: every kind (None); not given: every kind but backtest."""
    if kind == "all":
        return None
    return (kind,) if kind else tuple(k for k in KINDS if k != "backtest")


def add_parsers(sub) -> None:
    run = sub.add_parser(
        "run",
        help="monitor one model for one logical date",
        epilog=RUN_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--model", required=True, metavar="ID")
    run.add_argument("--date", required=True, type=iso_date, metavar="YYYY-MM-DD")
    run.add_argument(
        "--reason", metavar="TEXT", help="why the date is run again (required when it already has a run)"
    )
    inventory_arg(run)

    hist = sub.add_parser("history", help="metric results of a model (the latest run per date)")
    hist.add_argument("--model", required=True, metavar="ID")
    hist.add_argument("--since", type=iso_date, metavar="DATE")
    hist.add_argument("--until", type=iso_date, metavar="DATE")
    hist.add_argument("--format", choices=["table", "csv", "json"], default="table")
    hist.add_argument("--all-runs", action="store_true", help="include runs superseded by a rerun")
    hist.add_argument(
        "--kind",
        choices=[*KINDS, "all"],
        help="runs of one kind (default: every kind but backtest; `mrm backtest` records backtest runs)",
    )


def refuse_rerun_without_reason(model_id: str, day, reason: str | None) -> str | None:
    """The one-line refusal of a rerun without ``--reason`` (a rerun replaces the day's run), or None."""
    from mrm import wiring
    from mrm.store import reruns

    if reason and reason.strip():
        return None
    run = reruns.current_run(wiring.get_store().engine, model_id, day)
    if run is None:
        return None
    return (
        f"{model_id} already has a run for {day} (run {run['run_id']}, {run['overall_status']}, by "
        f"{run['triggered_by']}); a rerun replaces it in the history: give --reason 'why'"
    )


def cmd_run(args) -> int:
    from mrm import outcomes
    from mrm.controls import ACCEPTED, accepted_phrase

    if refusal := refuse_rerun_without_reason(args.model, args.date, args.reason):
        print(f"mrm: error: {refusal}", file=sys.stderr)
        return 2
    reason = (args.reason or "").strip() or None
    alone = lambda r: print(outcomes.line(r))  # noqa: E731  # the cohort alone, when the day cannot be read
    result = outcomes.run_day(args.model, args.date, reason=reason, on_alone=alone)
    rerun = f"; a rerun replacing run {result['supersedes']}" if result["supersedes"] else ""
    print(
        f"{result['model_id']} {result['logical_date']}: {result['overall_status']} "
        f"(run {result['run_id']}{rerun})"
    )
    for b in result["breaches"]:
        held = f"; {accepted_phrase(b)}" if b["status"] == ACCEPTED else ""
        print(
            f"  {b['status']:<6} {b['control']} = {b['value']:.4g} (amber {b['amber']:g}, red {b['red']:g}"
            f"{held})"
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
    if sent["undelivered"]:  # the run is done; the outbox retries them (its own log line is this one)
        from mrm.notify.outbox import Report

        warn(Report(undelivered=sent["undelivered"]).message())
    return 0


def cmd_history(args) -> int:
    """The metric rows, and a row (status ERROR, its reason) for each run that could not run; then a
    ``flag:`` line per rerun that showed its day better than the run it replaced (after a table; on
    stderr for csv and json, which stay machine-readable)."""
    from mrm import wiring
    from mrm.controls import ACCEPTED, accepted_phrase
    from mrm.store import reruns

    wiring.get_inventory().get(args.model)
    store = wiring.get_store()
    kinds = kinds_of(args.kind)
    rows = store.metrics(args.model, args.since, args.until, all_runs=args.all_runs, kinds=kinds)
    failed = reruns.failed_runs(
        store.engine, args.model, args.since, args.until, all_runs=args.all_runs, kinds=kinds
    )
    for r in rows:  # an ACCEPTED control's verdict and how long its acceptance holds, as its reason
        if r["status"] == ACCEPTED:
            r["reason"] = accepted_phrase(r["detail"])
    rows = sorted([*rows, *failed], key=lambda r: r["logical_date"])  # stable: metric order kept
    print(emit(rows, HISTORY_COLUMNS, args.format))
    flags = reruns.format_flags(reruns.rerun_flags(store.engine, args.model, args.since, args.until))
    for line in flags:
        print(line, file=sys.stdout if args.format == "table" else sys.stderr)
    return 0


COMMANDS = {
    ("run", None): cmd_run,
    ("history", None): cmd_history,
}
