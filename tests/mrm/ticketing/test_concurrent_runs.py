"""Two runs of one model and date ticketing at once count one occurrence (finding 17). On PostgreSQL the
lifecycle takes the writers' lock before reading, and the unique index on (ticket, date, kind) refuses
a second event even from a writer that read before the first committed; the refused writer's rolled
back chain entry leaves a gap in the sequence that verify does not mistake for a deletion."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from support import empty_history

from mrm.controls import Evaluated
from mrm.core.results import MetricResult
from mrm.store import HistoryStore, RunRecord, chain
from mrm.ticketing import Breach, BuiltinTracker
from mrm.ticketing.lifecycle import TicketLifecycle
from mrm.wiring import get_inventory

MODEL = "card_fraud"
CONTROL = "drift.psi[amount]"
DAY1, DAY2 = date(2026, 9, 1), date(2026, 9, 2)


@pytest.fixture
def pg(pg_url, file_inventory, mrm_home):
    store = HistoryStore(pg_url)
    empty_history(store.engine)
    yield store
    store.engine.dispose()


def red_run(store: HistoryStore, run_id: str, day: date, minute: int) -> None:
    entry = get_inventory().get(MODEL)
    at = datetime(2026, 9, day.day, 3, minute, tzinfo=UTC)
    run = RunRecord(run_id, MODEL, entry.version, day, "completed", at, at, "test", entry.fingerprint(),
                    overall_status="RED")  # fmt: skip
    store.record_run(run, [Evaluated(MetricResult("drift", "psi", "amount", 0.4), 0.1, 0.25, "RED")])


def the_ticket(store: HistoryStore) -> tuple[dict, list[tuple[str, date]]]:
    tracker = BuiltinTracker(store)
    (ticket,) = tracker.tickets(MODEL, "all")
    return ticket, [(e["kind"], e["logical_date"]) for e in tracker.events(ticket["ticket_id"])]


def test_two_concurrent_on_run_for_one_model_and_date_count_one_occurrence(pg):
    red_run(pg, "day1", DAY1, 0)
    TicketLifecycle(pg, get_inventory()).on_run(get_inventory().get(MODEL), "day1", DAY1)
    red_run(pg, "day2-a", DAY2, 0)
    red_run(pg, "day2-b", DAY2, 1)  # a rerun of the same date, ticketed at the same moment
    barrier = threading.Barrier(2)
    actions: dict[str, list[dict]] = {}
    errors: list[BaseException] = []

    def ticket(run_id: str) -> None:
        lifecycle = TicketLifecycle(pg, get_inventory())
        entry = get_inventory().get(MODEL)
        try:
            barrier.wait(timeout=30)
            actions[run_id] = lifecycle.on_run(entry, run_id, DAY2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ticket, args=(r,)) for r in ("day2-a", "day2-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert sorted(a["action"] for run in actions.values() for a in run) == ["already_recorded", "occurrence"]
    ticket, trail = the_ticket(pg)
    assert trail == [("opened", DAY1), ("occurrence", DAY2)] and ticket["occurrences"] == 2
    assert chain.verify(pg.engine)[0] == []


def _waiting_for_a_lock(store: HistoryStore) -> bool:
    with store.engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar())


def breach(run_id: str, day: date = DAY2) -> Breach:
    return Breach(MODEL, "o@example.com", CONTROL, "drift", "psi", "amount", "RED", 0.4, 0.1, 0.25, run_id,
                  day, "psi breached")  # fmt: skip


def test_a_writer_that_read_before_the_first_committed_is_refused_and_its_retry_counts_nothing(pg):
    """No lock taken first (the tracker's own ``file_in``): the second writer passes the "already
    counted?" read before the first commits, waits on it, then its event is refused by the index."""
    red_run(pg, "day1", DAY1, 0)
    tracker = BuiltinTracker(pg)
    assert tracker.file(breach("day1", DAY1)).action == "opened"
    outcome: list[BaseException | str] = []

    def second() -> None:
        try:
            with pg.engine.begin() as conn:
                outcome.append(tracker.file_in(conn, breach("day2-b")).action.action)
        except IntegrityError as exc:
            outcome.append(exc)

    with pg.engine.begin() as first:
        assert tracker.file_in(first, breach("day2-a")).action.action == "occurrence"
        racer = threading.Thread(target=second)
        racer.start()
        deadline = time.monotonic() + 60
        while not _waiting_for_a_lock(pg) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the second writer has read and waits on the first
        assert _waiting_for_a_lock(pg)
    racer.join(timeout=60)

    (refused,) = outcome
    assert isinstance(refused, IntegrityError) and "ux_ticket_events_once" in str(refused)
    assert tracker.file(breach("day2-b")).action == "already_recorded"  # the retry finds it counted
    ticket, trail = the_ticket(pg)
    assert trail == [("opened", DAY1), ("occurrence", DAY2)] and ticket["occurrences"] == 2
    red_run(pg, "day3", date(2026, 9, 3), 0)  # entries after the refused writer's rolled-back one
    with pg.engine.connect() as conn:
        seqs = [s for (s,) in conn.execute(sa.text("SELECT seq FROM mrm_chain ORDER BY seq"))]
    assert seqs != list(range(seqs[0], seqs[0] + len(seqs)))  # the refused writer's entry left a gap
    assert chain.verify(pg.engine)[0] == []
