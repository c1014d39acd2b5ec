"""The demo's report lists tickets in the order one process running the days one after another
would have opened them, though the models' workers open theirs side by side."""

from __future__ import annotations

from datetime import date

from mrm.demo.report import in_demo_order


def _ticket(ticket_id: int, model_id: str, first: date) -> dict:
    return {"ticket_id": ticket_id, "model_id": model_id, "first_logical_date": first, "control": "c"}


def test_tickets_in_the_order_of_their_first_day_then_the_demos_models_then_opening():
    d5, d25 = date(2026, 9, 5), date(2026, 9, 25)
    opened = [  # as three workers happened to open them
        _ticket(1, "aml_alert", d5),
        _ticket(2, "card_fraud", d25),
        _ticket(3, "credit_line", d5),
        _ticket(4, "card_fraud", d5),
        _ticket(5, "card_fraud", d5),
        _ticket(6, "unknown_model", d5),
    ]
    ordered = [t["ticket_id"] for t in in_demo_order(opened)]
    assert ordered == [4, 5, 3, 1, 6, 2]
