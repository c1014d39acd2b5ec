"""The breaches page: every open ticket across the portfolio with age, severity, priority, owner,
occurrences and last value, most severe and oldest first; undelivered notifications counted."""

from __future__ import annotations

from datetime import UTC, datetime

from ui_pages import csv_rows

from mrm.store import schema
from mrm.ticketing.tracker import BuiltinTracker


def test_every_open_ticket_with_its_age_severity_owner_and_last_value(client, ui_history):
    table = csv_rows(client.get("/model-risk/breaches?format=csv"))
    tracker = BuiltinTracker(ui_history.store)
    tickets = {t["key"]: t for t in tracker.tickets(status="open")}

    assert sorted(t["key"] for t in table) == sorted(tickets)
    newest = {
        m: ui_history.store.runs(m, kind=None)[-1]["logical_date"]
        for m in ("card_fraud", "credit_line", "aml_alert")
    }
    for row in table:
        ticket = tickets[row["key"]]
        age = (newest[ticket["model_id"]] - ticket["first_logical_date"]).days
        values = [e["value"] for e in tracker.events(ticket["ticket_id"]) if e["value"] is not None]
        assert int(row["age_days"]) == age, row["key"]
        assert row["last_value"] == (repr(values[-1]) if values else ""), row["key"]
        assert (row["severity"], row["priority"], row["owner"], row["occurrences"]) == (
            ticket["severity"], ticket["priority"], ticket["owner"], str(ticket["occurrences"])
        )  # fmt: skip


def test_the_dutch_null_ticket_is_the_oldest_and_listed_first(client):
    table = csv_rows(client.get("/model-risk/breaches?format=csv"))
    first = table[0]
    # opened on day 5, card_fraud's newest date is day 14 (governance): 9 logical days
    assert (first["control"], first["age_days"], first["occurrences"], first["tier"]) == (
        "quality.null_rate[device_score]{country=NL}", "9", "3", "1"
    )  # fmt: skip
    assert [t["priority"] for t in table] == sorted(
        (t["priority"] for t in table), key=["Highest", "High", "Medium", "Low"].index
    )
    could_not_run = next(t for t in table if t["control"] == "run.could_not_run")
    assert (could_not_run["model_id"], could_not_run["first_logical_date"]) == ("aml_alert", "2026-09-20")


def test_the_page_links_each_ticket_to_its_model(client):
    html = client.get("/model-risk/breaches").text
    assert "6 open tickets" in html
    assert html.count('<a href="/model-risk/models/card_fraud">card_fraud</a>') == 2
    assert 'id="undelivered"' not in html  # nothing waits in the outbox here


def test_undelivered_notifications_are_counted_per_channel(empty):
    now = datetime(2026, 9, 20, 6, 0, tzinfo=UTC)
    items = [("a", "email", "pending"), ("b", "jira", "pending"), ("c", "email", "pending")]
    items.append(("d", "slack", "delivered"))
    with empty.store.engine.begin() as conn:
        for key, channel, status in items:
            conn.execute(
                schema.outbox.insert().values(
                    key=key, channel=channel, kind="alert.red", payload={}, status=status, attempts=1,
                    next_attempt_at=now, created_at=now, last_error="HTTP 503" if key == "b" else None,
                )
            )  # fmt: skip
    html = empty.client.get("/model-risk/breaches").text
    assert (
        "<b>3 notifications undelivered</b> (2 email, 1 jira), the oldest queued 2026-09-20 06:00 UTC" in html
    )
