"""Risk acceptances as governance sees them: which hold on a day, which expire soon, which expired.

An acceptance is an ``accept_risk`` act (:mod:`mrm.ticketing.desk`) of a model's control, holding
through its ``until_date``. A control accepted more than once (renewed) is one acceptance: the one
that holds longest (the latest ``until_date``; of equal ones, the newest act). It is *in force* on a
day up to its until date, *expiring* when that is at most :data:`EXPIRING_DAYS` days ahead, and
*expired* once the day is after it. The governance run lists those in force and expiring (findings
and the portfolio summary) and tells the owner once of each expiry (:func:`expiry_notices`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from mrm.inventory import Inventory
from mrm.notify import messages, outbox
from mrm.store import HistoryStore
from mrm.store import acts as store_acts

EXPIRING_DAYS = 7  # an acceptance ending within this many days of the governance date is listed as expiring


def latest(acts: Iterable[dict]) -> list[dict]:
    """One ``accept_risk`` act per (model, control): the one holding longest, in model and control order."""
    best: dict[tuple[str, str], dict] = {}
    for act in acts:
        if act["kind"] != "accept_risk":
            continue
        key = (act["model_id"], act["control"])
        held = best.get(key)
        if held is None or (act["until_date"], act["act_id"]) > (held["until_date"], held["act_id"]):
            best[key] = act
    return [best[k] for k in sorted(best)]


def in_force(acts: Iterable[dict], day: date) -> list[dict]:
    """The acceptances holding on ``day`` (until it or later), one per control."""
    return [a for a in latest(acts) if a["until_date"] >= day]


def expiring(acts: Iterable[dict], day: date, within: int = EXPIRING_DAYS) -> list[dict]:
    """Those in force on ``day`` whose last day is at most ``within`` days ahead."""
    return [a for a in in_force(acts, day) if a["until_date"] <= day + timedelta(days=within)]


def expired(acts: Iterable[dict], day: date) -> list[dict]:
    """The acceptances whose last day is before ``day`` and that no later acceptance renewed."""
    return [a for a in latest(acts) if a["until_date"] < day]


def held(store: HistoryStore, day: date) -> list[dict]:
    """:func:`in_force` on ``day``, read from the history."""
    with store.engine.connect() as conn:
        return in_force(store_acts.acts(conn, kinds=("accept_risk",)), day)


def expiry_notices(inventory: Inventory, acts: Iterable[dict], day: date) -> list[outbox.Item]:
    """One notice per expired acceptance of a model in the inventory, to its owner (and the model risk
    team) on the channels of its ``red_alerts``. Keyed by the act: enqueued again, nothing new is sent,
    so each owner is told once."""
    items = []
    for act in expired(acts, day):
        entry = inventory.entries.get(act["model_id"])
        if entry is not None:
            items += messages.acceptance_expired(inventory, entry, act, day)
    return items
