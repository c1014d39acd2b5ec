"""Which logical dates of a model still await an attested review past its tier's target.

A logical date with runs of a model (monitoring or performance runs, those that ticket) is attested
by an ``attest`` act (:meth:`mrm.ticketing.desk.Desk.attest`) for that model, or for the portfolio,
with that logical date. Unattested more than the tier's ``attest_within_business_days`` after it,
counted in business days (:mod:`mrm.core.business_days`) to the governance logical date, it is
overdue: the governance finding ``review_not_attested`` is AMBER, and RED (ticketed to the model risk
team) once a day is overdue more than twice the target. Only dates of the last :data:`LOOKBACK_DAYS`
days are looked at, and only with a role map in ``_policy.yaml`` (without one the desk is not in use).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from mrm.controls import AMBER, GREEN, RED
from mrm.core import business_days

LOOKBACK_DAYS = 30  # calendar days before the governance date whose runs must be attested


def overdue(
    run_days: Iterable[date], attestations: Iterable[dict], model_id: str, day: date, target: int
) -> list[tuple[date, int]]:
    """(logical date, business days since) of each run day not attested for ``model_id`` (nor for the
    portfolio) more than ``target`` business days before ``day``; oldest first."""
    covered = {a["logical_date"] for a in attestations if a["model_id"] in (None, model_id)}
    late = ((d, business_days.between(d, day)) for d in sorted(set(run_days)) if d not in covered)
    return [(d, waited) for d, waited in late if waited > target]


def status(late: list[tuple[date, int]], target: int) -> str:
    """RED when a day waits more than twice the target, AMBER when one waits more than it, else GREEN."""
    if any(waited > 2 * target for _, waited in late):
        return RED
    return AMBER if late else GREEN
