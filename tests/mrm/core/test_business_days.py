"""Business days, counted by hand on the calendar of October 2026 (Thu 1st; weekends 3-4, 10-11, 17-18)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from mrm.core import business_days

THU, FRI, SAT, SUN, MON, TUE = (date(2026, 10, d) for d in (1, 2, 3, 4, 5, 6))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (MON, MON, 0),  # the same day: none has passed
        (MON, TUE, 1),
        (THU, FRI, 1),
        (FRI, SAT, 0),  # the weekend does not count
        (FRI, SUN, 0),
        (FRI, MON, 1),  # Friday to Monday is one business day
        (SAT, MON, 1),
        (SUN, MON, 1),
        (SAT, SUN, 0),
        (THU, TUE, 3),  # Fri, Mon, Tue
        (MON, MON + timedelta(days=7), 5),  # a whole week
        (FRI, date(2026, 10, 9), 5),  # Fri to the next Fri
        (FRI, date(2026, 10, 16), 10),  # two weeks
        (THU, date(2026, 10, 19), 12),  # Thu 1st to Mon 19th: 2 + 5 + 5
        (TUE, MON, 0),  # the end before the start
    ],
)
def test_between_counts_the_weekdays_after_the_start_up_to_the_end(start, end, expected):
    assert business_days.between(start, end) == expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (MON, 1, TUE),
        (THU, 1, FRI),
        (FRI, 1, MON),
        (SAT, 1, MON),
        (SUN, 2, TUE),
        (THU, 5, date(2026, 10, 8)),
        (MON, 0, MON),
    ],
)
def test_due_is_the_nth_weekday_after_the_start(start, n, expected):
    assert business_days.due(start, n) == expected


def test_between_and_due_agree_on_every_start_of_three_weeks():
    for offset in range(21):
        start = THU + timedelta(days=offset)
        for n in range(1, 8):
            last = business_days.due(start, n)
            assert business_days.between(start, last) == n
            assert business_days.between(start, last + timedelta(days=1)) > n or last.weekday() == 4
