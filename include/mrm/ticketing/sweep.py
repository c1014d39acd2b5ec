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

Nor does a RED ticket stay unacknowledged: :func:`unacknowledged` (the governance DAG, daily) escalates
each open RED ticket with no ``acknowledge`` act more than its tier's ``acknowledge_within_business_days``
after its first logical date, counted in business days (:mod:`mrm.core.business_days`) to the
governance logical date, as ``red_open_days`` counts days: priority one step up, mirrored, and the
escalation alert routed by ``escalation.alerts``. A ticket escalates once (its ``escalated_at``), for
whichever comes first, this or ``red_open_days``. Only with a role map in ``_policy.yaml``: without one
the desk is not in use and nobody is expected to acknowledge.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from mrm.core import business_days
from mrm.notify import outbox
from mrm.store import acts as store_acts
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


def unacknowledged(lifecycle: TicketLifecycle, day: date) -> list[dict]:
    """Escalate the open RED tickets not acknowledged within their tier's target by ``day`` (see the
    module). Returns one ``{"ticket_id", "key", "model_id", "business_days", "target"}`` per ticket it
    escalated now, in ticket order."""
    if lifecycle.inventory.policy.roles is None:
        return []

    def once() -> list[dict]:
        done, items = [], []
        with lifecycle.store.engine.begin() as conn:
            store_tickets.serialise(conn)
            acknowledged = {a["ticket_id"] for a in store_acts.acts(conn, kinds=("acknowledge",))}
            for ticket in lifecycle.tracker.tickets_in(conn):
                late = None if ticket["ticket_id"] in acknowledged else _late(lifecycle, ticket, day)
                if late is None:
                    continue
                within = (
                    f"within {late['target']} business day(s), its tier's target "
                    f"(acknowledge_within_business_days): {late['business_days']} business days by {day}"
                )
                message = f"Not acknowledged {within}; escalated to the model risk team."
                found = lifecycle.escalate_in(
                    conn, ticket, day, message, f"has not been acknowledged {within}"
                )
                if found:
                    items += found
                    done.append(late)
            outbox.enqueue(conn, items)
        return done

    escalated = lifecycle.store.retry_on_conflict(once)
    for t in escalated:
        log.warning(
            "%s %s: not acknowledged after %d business days (target %d), escalated",
            t["model_id"], t["key"], t["business_days"], t["target"],
        )  # fmt: skip
    return escalated


def _late(lifecycle: TicketLifecycle, ticket: dict, day: date) -> dict | None:
    """An open RED ticket not yet escalated and past its acknowledgement target on ``day``: what
    :func:`unacknowledged` returns of it; else None."""
    if ticket["severity"] != "RED" or ticket["escalated_at"] is not None:
        return None
    entry = lifecycle.inventory.entries.get(ticket["model_id"])
    target = lifecycle.inventory.policy.targets(entry.risk_tier if entry else None).acknowledge_business_days
    waited = business_days.between(ticket["first_logical_date"], day)
    if waited <= target:
        return None
    return {"ticket_id": ticket["ticket_id"], "key": ticket["key"], "model_id": ticket["model_id"],
            "business_days": waited, "target": target}  # fmt: skip
