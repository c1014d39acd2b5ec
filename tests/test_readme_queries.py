"""The SQL examples of the README's "For auditors" section run on a real history and return rows."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from support import REPO, empty_history

from mrm import pipeline


def readme_queries() -> list[str]:
    section = (REPO / "README.md").read_text().split("## For auditors", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def test_the_readme_has_the_five_auditor_queries():
    assert len(readme_queries()) == 5


def desk_acts() -> None:
    """A reviewer accepts the open null-rate ticket's risk for a week and attests the portfolio's day."""
    from datetime import UTC, datetime, timedelta

    from mrm.inventory.roles import Roles
    from mrm.ticketing import BuiltinTracker
    from mrm.ticketing.desk import Actor, Desk

    inventory = pipeline.notifier().inventory
    inventory.policy = inventory.policy.model_copy(
        update={"roles": Roles(model_risk_team=["rev@example.com"])}
    )
    store, today = pipeline.get_store(), datetime.now(UTC).date()
    (ticket,) = [
        t for t in BuiltinTracker(store).tickets() if t["control"] == "quality.null_rate[device_score]"
    ]
    desk, reviewer = Desk(store, inventory), Actor("rev@example.com")
    desk.accept(reviewer, ticket["ticket_id"], "vendor fix due", today + timedelta(days=7), ["watch daily"])
    desk.attest(reviewer, date(2026, 9, 26), None, "morning review")


@pytest.fixture(params=["sqlite", "postgres"])
def history(request, mrm_home, file_inventory, monkeypatch):
    if request.param == "postgres":
        from support import clear_caches

        monkeypatch.setenv("MRM_DB_URL", request.getfixturevalue("pg_url"))
        clear_caches()
        empty_history(pipeline.get_store().engine)
    return request.param


def test_every_auditor_query_runs_and_returns_rows(history):
    for day in (date(2026, 9, 25), date(2026, 9, 26)):
        pipeline.run_model("card_fraud", day)
    desk_acts()
    engine = pipeline.get_store().engine
    with engine.connect() as conn:
        results = [conn.execute(sa.text(q)).mappings().all() for q in readme_queries()]

    latest, trail, series, acts, accepted = results
    assert {r["logical_date"] for r in latest} == {date(2026, 9, 26)} or {
        str(r["logical_date"]) for r in latest
    } == {"2026-09-26"}
    assert any(r["metric"] == "null_rate" and r["status"] == "RED" for r in latest)
    assert [r["kind"] for r in trail if r["control"] == "quality.null_rate[device_score]"] == [
        "opened",
        "occurrence",
        "closed",  # the accepted risk closes the ticket
    ]
    assert len(series) == 2 and all(r["red_threshold"] == 0.25 for r in series)
    assert [(r["person"], r["kind"]) for r in acts] == [
        ("rev@example.com", "accept_risk"),
        ("rev@example.com", "attest"),
    ]
    assert [(r["control"], r["person"]) for r in accepted] == [
        ("quality.null_rate[device_score]", "rev@example.com")
    ]
