"""Two reviewers act on the same ticket at the same moment (two threads, two connections, on SQLite and
PostgreSQL): one closure wins, the other is refused with the ticket already closed; the history holds
one closing act, one closed event and one mirror, and its chain verifies."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from support import file_red_ticket

from mrm.errors import ReviewTermsError
from mrm.inventory import load_inventory
from mrm.inventory.roles import Roles
from mrm.store import acts, chain
from mrm.store import tickets as store_tickets
from mrm.ticketing.desk import Actor, Desk

TODAY = date(2026, 10, 1)
FIRST, SECOND = Actor("rev.one@example.com"), Actor("rev.two@example.com")


@pytest.fixture
def desk(any_history, examples_dir):
    inventory, _ = load_inventory(examples_dir)
    roles = Roles(model_risk_team=[FIRST.person, SECOND.person])
    inventory.policy = inventory.policy.model_copy(update={"roles": roles})
    return Desk(any_history, inventory)


def close(desk, who, tid):
    return desk.close(who, tid, f"closed by {who.person}", "data_issue", today=TODAY)


def accept(desk, who, tid):
    return desk.accept(who, tid, f"accepted by {who.person}", date(2026, 10, 20), today=TODAY)


@pytest.mark.parametrize(
    "pair", [(close, close), (close, accept), (accept, accept)], ids=lambda p: "-".join(f.__name__ for f in p)
)
def test_two_reviewers_at_once_one_closing_wins(desk, pair):
    tid = file_red_ticket(desk.store)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def act(name, who, how):
        barrier.wait()
        try:
            outcomes[name] = how(desk, who, tid)
        except ReviewTermsError as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(target=act, args=("first", FIRST, pair[0])),
        threading.Thread(target=act, args=("second", SECOND, pair[1])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    refused = [o for o in outcomes.values() if isinstance(o, ReviewTermsError)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert "it is closed; only an open ticket takes this act" in str(refused[0])
    with desk.store.engine.connect() as conn:
        closing = acts.acts(conn, ticket_id=tid, kinds=("close", "accept_risk"))
        events = [e for e in store_tickets.events(conn, tid) if e["kind"] == "closed"]
    assert len(closing) == 1 and len(events) == 1
    assert chain.verify(desk.store.engine)[0] == []
