"""The morning view's rules (mrm.ui.morning): what changed between the attested day and the newest, per
control; expired acceptances and unacknowledged (or overdue) tickets; worst first."""

from __future__ import annotations

from datetime import date

import pytest

from mrm.ui.morning import Change, desk_changes, model_changes

D0, D1, D2 = date(2026, 9, 5), date(2026, 9, 6), date(2026, 9, 7)


def rows(day, **statuses) -> list[dict]:
    return [
        {"logical_date": day, "check": "drift", "metric": "psi", "column": col, "segment": None, "status": s}
        for col, s in statuses.items()
    ]


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        ("GREEN", "RED", "new_red"),
        ("AMBER", "RED", "new_red"),
        ("RED", "RED", None),  # still RED: not a change
        ("GREEN", "AMBER", "new_amber"),
        ("RED", "AMBER", None),  # better, still a breach
        ("AMBER", "AMBER", None),
        ("RED", "GREEN", "green_again"),
        ("AMBER", "GREEN", "green_again"),
        ("GREEN", "GREEN", None),
        ("RED", "ACCEPTED", None),  # accepted: the desk already decided
        (None, "RED", "new_red"),  # not recorded on the attested day
    ],
)
def test_a_control_changes_by_its_status_on_the_attested_and_the_newest_day(before, now, expected):
    history = (rows(D0, amount=before) if before else []) + rows(D2, amount=now)
    found = model_changes("card_fraud", history, D0, {})
    assert [c.kind for c in found] == ([expected] if expected else [])


def test_never_attested_every_breach_of_the_newest_day_is_new_and_carries_its_ticket():
    ticket = {"ticket_id": 7, "control": "drift.psi[amount]"}
    found = model_changes(
        "m", rows(D1, amount="RED", score="AMBER", x="GREEN"), None, {"drift.psi[amount]": ticket}
    )
    assert [(c.kind, c.control) for c in found] == [
        ("new_red", "drift.psi[amount]"),
        ("new_amber", "drift.psi[score]"),
    ]
    assert found[0].ticket is ticket and "no review attested yet" in found[0].text


def test_nothing_newer_than_the_attested_day_is_no_change():
    assert model_changes("m", rows(D1, amount="RED"), D1, {}) == []


def ticket(n, status="open", first=D0):
    return {
        "ticket_id": n,
        "model_id": "m",
        "control": f"c{n}",
        "status": status,
        "first_logical_date": first,
    }


def act(kind, **kw):
    return {"kind": kind, "model_id": "m", **kw}


def test_expired_acceptances_and_unacknowledged_tickets_with_the_overdue_ones_marked():
    tickets = [ticket(1), ticket(2), ticket(3, "closed")]
    acts = [
        act("acknowledge", ticket_id=2),
        act("accept_risk", control="c9", until_date=D1, person="rev"),  # expired since the attested D0
        act("accept_risk", control="c8", until_date=D2, person="rev"),  # holds on D2 (today)
        act("accept_risk", control="c7", until_date=date(2026, 9, 1), person="rev"),  # before D0: old news
    ]
    found = desk_changes(tickets, acts, D0, D2, {"m"}, overdue={1: "1 business days"})
    assert sorted((c.kind, c.control) for c in found) == [("ack_overdue", "c1"), ("expired", "c9")]
    assert "target: 1 business days" in next(c.text for c in found if c.kind == "ack_overdue")
    assert desk_changes(tickets, acts, D0, D2, set()) == []  # unreadable model: nothing


def test_worst_first():
    kinds = ["green_again", "new_amber", "unacknowledged", "ack_overdue", "expired", "new_red"]
    changes = [Change(k, "m", k, D0, "") for k in kinds]
    assert [c.kind for c in sorted(changes, key=lambda c: c.rank)][:2] == ["new_red", "ack_overdue"]
    assert [c.kind for c in sorted(changes, key=lambda c: c.rank)][-3:] == [
        "unacknowledged",
        "new_amber",
        "green_again",
    ]
