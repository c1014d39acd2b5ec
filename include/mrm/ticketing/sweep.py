"""Nothing RED stays unticketed: the sweep files what a run recorded but never ticketed.

A monitoring run records its results (``record``) and files its tickets (``tickets``) in two steps, two
Airflow tasks and two transactions; a worker killed between them leaves RED controls in the history
with no ticket, and an Airflow retry covers that only if it happens and succeeds. So every run's
``tickets`` step first sweeps the model's earlier days, and the governance DAG sweeps every model up to
its logical date: each current monitoring run (or performance run of a date without its log; back-tests
never ticket) of the last :data:`SWEEP_DAYS` days whose RED control
(or, for a run that could not complete, its could-not-run "control") has no opened/occurrence event of
that model, control and date is filed now, as its own run would have filed it (tickets, mirrors, the
RED alert; not returns to green or escalations, which are the newest run's to decide). Filing is
idempotent (one event per ticket, date and kind), so a sweep racing the run's own step counts once.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from mrm.store import tickets as store_tickets
from mrm.ticketing.base import could_not_run_breach
from mrm.ticketing.lifecycle import TicketLifecycle

log = logging.getLogger("mrm.notify")
SWEEP_DAYS = 14  # how far back a sweep looks for a recorded but unticketed day


def unticketed(
    lifecycle: TicketLifecycle,
    day: date,
    model_ids: list[str] | None = None,
    *,
    days: int = SWEEP_DAYS,
    before: bool = False,
) -> list[dict]:
    """File the unticketed REDs of current monitoring runs dated ``day - days`` to ``day`` (``before``:
    to the day before), of ``model_ids`` or every inventory entry. Returns one
    ``{"model_id", "logical_date", "run_id", "controls", "tickets"}`` per run it filed, oldest first."""
    inventory = lifecycle.inventory
    since, until = day - timedelta(days=days), day - timedelta(days=1 if before else 0)
    filed = []
    for model_id in model_ids or sorted(inventory.entries):
        entry = inventory.entries.get(model_id)
        if entry is None:
            continue
        with lifecycle.store.engine.connect() as conn:
            found = store_tickets.unticketed(conn, model_id, since, until)
        for run in found:
            when = run["logical_date"]
            if run["status"] == "completed":
                actions = lifecycle.on_run(entry, run["run_id"], when, reds_only=True)
            else:
                step, _, reason = (run["reason"] or "").partition(": ")
                breach = could_not_run_breach(entry, run["run_id"], when, step, reason or step)
                actions = [lifecycle.on_failure(entry, breach)]
            log.warning(
                "%s %s: run %s was recorded but not ticketed (%s); ticketed now: %s",
                model_id, when, run["run_id"], ", ".join(run["controls"]),
                ", ".join(a["key"] for a in actions),
            )  # fmt: skip
            filed.append(
                {"model_id": model_id, "logical_date": when.isoformat(), "run_id": run["run_id"],
                 "controls": run["controls"], "tickets": actions}
            )  # fmt: skip
    return filed
