"""Business days: Monday to Friday, with no holiday calendar (a public holiday counts as one).

The desk's targets (``acknowledge_within_business_days``, ``attest_within_business_days``) count in
these: "within N business days after day D" means by the end of the N-th weekday after D, so a ticket
opened on a Friday, a Saturday or a Sunday with a target of 1 is due by the end of Monday."""

from __future__ import annotations

from datetime import date, timedelta

WEEKEND = (5, 6)  # date.weekday() of Saturday and Sunday


def between(start: date, end: date) -> int:
    """The weekdays d with ``start < d <= end``: the business days that have passed since ``start`` by
    the end of ``end`` (0 when ``end`` is not after ``start``). Friday to Monday is 1, Monday to Monday 5."""
    if end <= start:
        return 0
    weeks, rest = divmod((end - start).days, 7)
    extra = sum((start + timedelta(days=i)).weekday() not in WEEKEND for i in range(1, rest + 1))
    return weeks * 5 + extra


def due(start: date, business_days: int) -> date:
    """The last day within ``business_days`` business days after ``start``: the N-th weekday after it."""
    day, left = start, business_days
    while left > 0:
        day += timedelta(days=1)
        left -= day.weekday() not in WEEKEND
    return day
