"""``mrm backtest``: evaluate the matured cohort of every logical date in a range, each recorded as a run
of kind ``backtest`` (:mod:`mrm.outcomes`). For any inventory entry with a performance plan, a retired
model too; analysis, so nothing is ticketed or notified."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from mrm.cli.args import inventory_arg, iso_date

MAX_DAYS = 3660  # one back-test covers at most ten years of logical dates
BACKTEST_EXIT_CODES = """Each date evaluates the cohort scored label_maturity_days before it on the labels
known by it, exactly as that date's monitoring run does, and prints one line as it is recorded: date, cohort,
AUC / Gini / KS (or why the labels are insufficient), status. `mrm history --kind backtest` and the
model's page (Back-tests) show them. Back-test runs open no tickets and send nothing: they are analysis.

exit codes:
  0  every date is recorded (whatever its status, INSUFFICIENT_DATA included)
  1  a date could not be evaluated (it is recorded as a failed backtest run and the others go on; one
     "mrm: error:" line at the end), or the model has no performance plan in the inventory
  2  usage: a bad argument, --since after --until, a range over ten years"""


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "backtest",
        help="evaluate every matured cohort in a range of logical dates (recorded as backtest runs)",
        epilog=BACKTEST_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, metavar="ID")
    p.add_argument("--since", required=True, type=iso_date, metavar="YYYY-MM-DD", help="first logical date")
    p.add_argument("--until", required=True, type=iso_date, metavar="YYYY-MM-DD", help="last logical date")
    p.add_argument("--reason", metavar="TEXT", help="why (kept with each date back-tested before)")
    inventory_arg(p)


def cmd_backtest(args) -> int:
    from mrm import outcomes, pipeline, wiring
    from mrm.errors import MrmError
    from mrm.store import reruns

    days = (args.until - args.since).days + 1
    if days < 1 or days > MAX_DAYS:
        why = "--since is after --until" if days < 1 else f"{days} dates; at most {MAX_DAYS} per back-test"
        print(f"mrm: error: {why}; give a range of logical dates (YYYY-MM-DD)", file=sys.stderr)
        return 2
    entry = wiring.get_inventory().get(args.model)
    if entry.monitoring is None or entry.monitoring.performance is None:
        raise MrmError(
            f"{args.model} has no monitoring.performance in its inventory entry: "
            "nothing to back-test; add label_maturity_days and cohort_days (docs/inventory.md)"
        )
    trigger, engine = wiring.cli_trigger(), wiring.get_store().engine
    print(
        f"{args.model}: back-testing {days} date(s) {args.since}..{args.until}, one line each as it is "
        "recorded (the first also builds the reference window's labelled counts unless they are kept)",
        flush=True,
    )
    failed: list[str] = []
    for n in range(days):
        day = args.since + timedelta(days=n)
        again = reruns.current_run(engine, args.model, day, "backtest") is not None
        given = (args.reason or "").strip()
        reason = given or (f"back-test {args.since}..{args.until} again" if again else None)
        try:
            result = outcomes.backtest_day(args.model, day, trigger, reason)
        except Exception as exc:  # recorded as a failed backtest run (one line); the other dates go on
            text = str(exc) if isinstance(exc, MrmError) else pipeline.unexpected(exc)
            print(f"{args.model} {day} backtest could not run: {text}", flush=True)
            failed.append(day.isoformat())
            continue
        print(outcomes.line(result), flush=True)
    recorded = days - len(failed)
    print(f"{args.model}: {recorded} of {days} dates back-tested ({args.since}..{args.until})", flush=True)
    if failed:
        shown = ", ".join(failed[:5]) + (", ..." if len(failed) > 5 else "")
        print(
            f"mrm: error: {args.model}: {len(failed)} date(s) could not be back-tested ({shown}); see the "
            "lines above, fix and back-test them again",
            file=sys.stderr,
        )
        return 1
    return 0


COMMANDS = {("backtest", None): cmd_backtest}
