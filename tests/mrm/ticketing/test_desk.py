"""The desk records acts through the rules, on SQLite and PostgreSQL: an owner acknowledges and
proposes closing a RED ticket; their own closure is refused; a reviewer's closure confirms the proposal
and closes the ticket (its closed event and Jira mirror); a RED closure from the CLI is a proposal; a
reviewer accepts a risk (which closes the ticket, cause accepted, mirrored as a closure) and attests a
day; every act is chained and verify finds nothing wrong."""

from __future__ import annotations

from datetime import date

import pytest
from support import file_red_ticket

from mrm.errors import InventoryError, ReviewTermsError, SegregationOfDutiesError
from mrm.inventory import load_inventory
from mrm.inventory.roles import Roles
from mrm.notify import outbox
from mrm.store import acts, chain
from mrm.ticketing import BuiltinTracker
from mrm.ticketing.desk import Actor, Desk, describe
from mrm.ticketing.review import CLI

TODAY = date(2026, 10, 1)
OWNER = "fraud-models@example.com"  # card_fraud's owner in the example inventory
REVIEWER = "rev@example.com"
OWNER_AT = Actor(OWNER)
REVIEWER_AT = Actor(REVIEWER)


@pytest.fixture
def desk(any_history, examples_dir):
    inventory, _ = load_inventory(examples_dir)
    inventory.policy = inventory.policy.model_copy(update={"roles": Roles(model_risk_team=[REVIEWER])})
    return Desk(any_history, inventory)


def test_owner_acknowledges_and_proposes_a_reviewer_confirms_and_closes(desk):
    tid = file_red_ticket(desk.store)
    desk.acknowledge(OWNER_AT, tid, "checking the new merchants", date(2026, 10, 3), today=TODAY)
    proposal = desk.propose_close(OWNER_AT, tid, "new merchant segment, expected", "accepted", today=TODAY)
    with pytest.raises(SegregationOfDutiesError, match=f"^{OWNER} may not close RED ticket MRM-{tid} "):
        desk.close(OWNER_AT, tid, "done", "accepted", today=TODAY)
    closed = desk.close(REVIEWER_AT, tid, "agreed: the segment is genuine", "accepted", today=TODAY)

    assert closed.ticket["status"] == "closed" and closed.note == ""
    assert closed.ticket["closed_by"] == f"{REVIEWER} (airflow)"
    assert closed.act["confirms"] == proposal.act["act_id"]
    with desk.store.engine.connect() as conn:
        trail = acts.acts(conn, ticket_id=tid)
        assert acts.open_proposal(conn, tid) is None
    assert [a["kind"] for a in trail] == ["acknowledge", "propose_close", "close"]
    assert describe(trail[0]) == (
        f"acknowledged by {OWNER} (airflow), action planned by 2026-10-03: checking the new merchants"
    )
    assert [e["kind"] for e in BuiltinTracker(desk.store).events(tid)] == ["opened", "closed"]
    mirrors = [(o["channel"], o["kind"]) for o in outbox.items(desk.store, "all") if o["ticket_id"] == tid]
    # BuiltinTracker.file opened it without mirrors; each act and the closure go to the model's sink
    assert mirrors == [("jira", "ticket.reviewed"), ("jira", "ticket.reviewed"), ("jira", "ticket.closed")]
    assert chain.verify(desk.store.engine)[0] == []


def test_a_red_closure_from_the_cli_is_recorded_as_a_proposal(desk):
    tid = file_red_ticket(desk.store)
    cli_reviewer = Actor(REVIEWER, CLI, "cli:bob (os user, not authenticated by Airflow)")
    done = desk.close(cli_reviewer, tid, "fixed upstream", "data_issue", today=TODAY)
    assert done.act["kind"] == "propose_close" and done.act["authenticated"] == CLI
    assert done.ticket["status"] == "open"
    assert done.note.startswith(f"recorded as a proposal: RED ticket MRM-{tid} is closed only when a member")


def test_a_reviewer_accepts_a_risk_within_the_tiers_maximum_and_attests_the_day(desk):
    tid = file_red_ticket(desk.store)
    accepted = desk.accept(
        REVIEWER_AT, tid, "known segment", date(2026, 10, 31), ["watch weekly", " "], today=TODAY
    )
    assert (accepted.act["until_date"], accepted.act["conditions"]) == (date(2026, 10, 31), ["watch weekly"])
    portfolio = desk.attest(REVIEWER_AT, date(2026, 9, 30), None, "morning review done", today=TODAY)
    one = desk.attest(REVIEWER_AT, date(2026, 9, 30), "card_fraud", "fine", today=TODAY)
    assert (portfolio.act["model_id"], one.act["model_id"]) == (None, "card_fraud")
    with pytest.raises(InventoryError, match="model 'card_frau' is not in the inventory"):
        desk.attest(REVIEWER_AT, date(2026, 9, 30), "card_frau", "x", today=TODAY)
    with desk.store.engine.connect() as conn:
        assert len(acts.acceptances(conn, "card_fraud", on=date(2026, 10, 31))) == 1
        assert len(acts.attestations(conn, date(2026, 9, 30))) == 2
    assert chain.verify(desk.store.engine)[0] == []


def test_accepting_a_risk_closes_the_ticket_with_cause_accepted_and_mirrors_the_closure(desk):
    tid = file_red_ticket(desk.store)
    done = desk.accept(REVIEWER_AT, tid, "known segment", date(2026, 10, 31), ["watch weekly"], today=TODAY)

    said = (
        f"risk accepted by {REVIEWER} (airflow) until 2026-10-31: known segment (cause accepted) "
        "(conditions: watch weekly)"
    )
    assert done.ticket["status"] == "closed" and done.ticket["closed_by"] == f"{REVIEWER} (airflow)"
    assert done.ticket["closed_reason"] == "risk accepted until 2026-10-31: known segment (cause accepted)"
    events = BuiltinTracker(desk.store).events(tid)
    assert [(e["kind"], e["message"]) for e in events[1:]] == [("closed", said)]
    mirrors = [o for o in outbox.items(desk.store, "all") if o["ticket_id"] == tid]
    assert [(o["channel"], o["kind"]) for o in mirrors] == [("jira", "ticket.closed")]  # no ticket.reviewed
    assert (mirrors[0]["payload"]["text"], mirrors[0]["payload"]["closed_by"]) == (
        said,
        f"{REVIEWER} (airflow)",
    )
    with desk.store.engine.connect() as conn:
        assert [a["kind"] for a in acts.acts(conn, ticket_id=tid)] == ["accept_risk"]
        assert (
            acts.holding(conn, "card_fraud", date(2026, 10, 31))["drift.psi[amount]"]["act_id"]
            == (done.act["act_id"])
        )
    assert chain.verify(desk.store.engine)[0] == []

    with pytest.raises(ReviewTermsError, match=f"^{REVIEWER} cannot accept the risk of MRM-{tid} .*closed"):
        desk.accept(REVIEWER_AT, tid, "again", date(2026, 10, 31), today=TODAY)
    with desk.store.engine.connect() as conn:
        assert len(acts.acts(conn, ticket_id=tid)) == 1  # the refused act left nothing behind
