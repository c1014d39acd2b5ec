"""The desk's auditor views (migration 0010) on SQLite and PostgreSQL, against acts made through the
Desk: ``mrm_v_review_acts`` holds every act with who, how authenticated, via, when and what, so acts by
person and date are one SELECT; ``mrm_v_acceptances`` holds every accepted risk and whether it is in
force today. The SQL proposed for the README's "For auditors" section runs here as written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from mrm.inventory import load_inventory
from mrm.inventory.roles import Roles
from mrm.store import acts, review_views
from mrm.ticketing import Breach, BuiltinTracker
from mrm.ticketing.desk import Actor, Desk
from mrm.ticketing.review import CLI

OWNER = "fraud-models@example.com"  # card_fraud's owner in the example inventory
REVIEWER, OTHER = "rev@example.com", "second@example.com"
CLI_VIA = "cli:bob (os user, not authenticated by Airflow)"
TODAY = datetime.now(UTC).date()

# proposed for the README's "For auditors" (/work/notes/readme-audit.md), run here as written
BY_PERSON_AND_DATE = """
-- review acts by person and date: who did what, how authenticated, on which ticket or day
-- (narrow it with e.g. WHERE person = 'rev@example.com' AND acted_on BETWEEN '2026-10-01' AND '2026-10-31')
SELECT acted_on, person, authenticated, kind, model_id, ticket_key, control, logical_date, cause, comment
FROM mrm_v_review_acts
ORDER BY acted_on, person, act_id;
"""
IN_FORCE = """
-- accepted risks in force today (UTC): which control, until when, accepted by whom, on which conditions
SELECT model_id, control, ticket_key, until_date, person, authenticated, acted_on, comment, conditions
FROM mrm_v_acceptances WHERE in_force
ORDER BY model_id, until_date;
"""


@pytest.fixture
def desk(any_history, examples_dir) -> Desk:
    inventory, _ = load_inventory(examples_dir)
    roles = Roles(model_risk_team=[REVIEWER, OTHER])
    inventory.policy = inventory.policy.model_copy(update={"roles": roles})
    return Desk(any_history, inventory)


def ticket(store, control: str = "drift.psi[amount]", column: str = "amount") -> int:
    breach = Breach("card_fraud", OWNER, control, "drift", "psi", column, "RED", 0.3, 0.1, 0.25, "run-1",
                    date(2026, 9, 30), "psi breached")  # fmt: skip
    return BuiltinTracker(store).file(breach, 1).ticket_id


@pytest.fixture
def acted(desk) -> dict:
    """Acts of three people: the owner acknowledges and proposes closing; a reviewer closes from the
    Model Risk page, another (from the CLI) comments; two acceptances (one expired); two attestations."""
    first, second = ticket(desk.store), ticket(desk.store, "drift.psi[tenure]", "tenure")
    desk.acknowledge(Actor(OWNER), first, "checking the merchants", TODAY + timedelta(days=3), today=TODAY)
    desk.propose_close(Actor(OWNER), first, "new segment, expected", "accepted", today=TODAY)
    desk.close(Actor(REVIEWER), first, "agreed", "accepted", today=TODAY)
    desk.comment(Actor(OTHER, CLI, CLI_VIA), second, "vendor says fixed tomorrow", today=TODAY)
    old = ticket(desk.store, "drift.psi[age]", "age")  # an acceptance closes its ticket: one each
    desk.accept(Actor(REVIEWER), old, "long ago", date(2020, 1, 10), ["watch"], today=date(2020, 1, 1))
    desk.accept(Actor(REVIEWER), second, "until the vendor fix", TODAY + timedelta(days=7),
                ["watch daily", "re-ticket if psi > 0.4"], today=TODAY)  # fmt: skip
    desk.attest(Actor(REVIEWER), date(2026, 9, 30), None, "morning review", today=TODAY)
    desk.attest(Actor(OTHER), date(2026, 9, 30), "card_fraud", "card fraud only", today=TODAY)
    return {"first": first, "second": second}


def test_every_act_is_in_the_view_as_the_desk_recorded_it(desk, acted):
    with desk.store.engine.connect() as conn:
        recorded = acts.acts(conn)
    shown = review_views.review_acts(desk.store.engine)

    assert len(shown) == len(recorded) == 8
    for act, row in zip(recorded, shown, strict=True):
        for field in ("act_id", "person", "authenticated", "via", "kind", "model_id", "ticket_id",
                      "control", "logical_date", "action_date", "until_date", "cause", "comment",
                      "conditions", "confirms"):  # fmt: skip
            assert row[field] == act[field], (act["kind"], field)
        assert row["acted_at"] == act["acted_at"]
        assert row["acted_on"] == act["acted_at"].astimezone(UTC).date()
        assert row["ticket_key"] == (f"MRM-{act['ticket_id']}" if act["ticket_id"] else None)
    close = next(r for r in shown if r["kind"] == "close")
    proposal = next(r for r in shown if r["kind"] == "propose_close")
    assert (close["person"], close["cause"], close["confirms"]) == (REVIEWER, "accepted", proposal["act_id"])
    comment = next(r for r in shown if r["kind"] == "comment")
    assert (comment["person"], comment["authenticated"], comment["via"]) == (OTHER, CLI, CLI_VIA)
    portfolio = next(r for r in shown if r["kind"] == "attest" and r["model_id"] is None)
    assert (portfolio["logical_date"], portfolio["ticket_key"]) == (date(2026, 9, 30), None)


def test_acts_by_person_and_date_are_one_select(desk, acted):
    engine = desk.store.engine
    day = acted_on(engine)
    narrowed = "WHERE person = '{}' AND acted_on BETWEEN '{}' AND '{}'\nORDER BY"
    with engine.connect() as conn:
        rows = conn.execute(sa.text(BY_PERSON_AND_DATE)).mappings().all()
        others = conn.execute(
            sa.text(BY_PERSON_AND_DATE.replace("ORDER BY", narrowed.format(OTHER, day, day)))
        )
        before = conn.execute(sa.text(BY_PERSON_AND_DATE.replace(
            "ORDER BY", narrowed.format(OTHER, "2000-01-01", day - timedelta(days=1)))))  # fmt: skip
        others, before = others.mappings().all(), before.all()

    assert [(r["person"], r["kind"]) for r in rows] == [
        (OWNER, "acknowledge"),
        (OWNER, "propose_close"),
        (REVIEWER, "close"),
        (REVIEWER, "accept_risk"),
        (REVIEWER, "accept_risk"),
        (REVIEWER, "attest"),
        (OTHER, "comment"),
        (OTHER, "attest"),
    ] and before == []
    assert [r["kind"] for r in others] == ["comment", "attest"]
    assert {str(r["acted_on"]) for r in rows} == {str(day)}
    assert rows[2]["ticket_key"] == f"MRM-{acted['first']}" and rows[2]["cause"] == "accepted"
    filtered = review_views.review_acts(engine, person=OTHER, since=day, until=day)
    assert [r["kind"] for r in filtered] == ["comment", "attest"]
    assert review_views.review_acts(engine, person=OTHER, until=day - timedelta(days=1)) == []
    assert [r["kind"] for r in review_views.review_acts(engine, person=OWNER)] == [
        "acknowledge",
        "propose_close",
    ]


def test_acceptances_show_which_are_in_force_today(desk, acted):
    engine = desk.store.engine
    with engine.connect() as conn:
        in_force = conn.execute(sa.text(IN_FORCE)).mappings().all()

    assert [(r["ticket_key"], str(r["until_date"])) for r in in_force] == [
        (f"MRM-{acted['second']}", str(TODAY + timedelta(days=7)))
    ]
    conditions = in_force[0]["conditions"]  # JSON: parsed on PostgreSQL, its text on SQLite
    assert (conditions if isinstance(conditions, list) else __import__("json").loads(conditions)) == [
        "watch daily",
        "re-ticket if psi > 0.4",
    ]
    every = review_views.acceptances(engine)
    assert [(r["until_date"], r["in_force"], r["person"]) for r in every] == [
        (date(2020, 1, 10), False, REVIEWER),
        (TODAY + timedelta(days=7), True, REVIEWER),
    ]
    assert every[1]["control"] == "drift.psi[tenure]" and every[1]["conditions"][0] == "watch daily"
    assert [r["until_date"] for r in review_views.acceptances(engine, in_force=False)] == [date(2020, 1, 10)]
    assert review_views.acceptances(engine, model_id="credit_line") == []


def test_an_acceptance_ending_today_is_in_force_and_one_ending_yesterday_is_not(desk):
    for n, until in enumerate((TODAY, TODAY - timedelta(days=1))):  # accepted earlier, ending then
        tid = ticket(desk.store, f"drift.psi[c{n}]", f"c{n}")  # an acceptance closes its ticket: one each
        desk.accept(Actor(REVIEWER), tid, f"until {until}", until, today=until - timedelta(days=5))
    assert [(r["until_date"], r["in_force"]) for r in review_views.acceptances(desk.store.engine)] == [
        (TODAY, True),
        (TODAY - timedelta(days=1), False),
    ]


def acted_on(engine) -> date:
    """The UTC date the fixture's acts were made (today, unless the test ran across midnight)."""
    with engine.connect() as conn:
        (first,) = {a["acted_at"].astimezone(UTC).date() for a in acts.acts(conn)}
    return first
