"""Attacks on the history, written as an attacker with the application's database credentials and mrm's
code in hand (``row_hash``, ``link``): each is named by ``verify``, and an untouched history verifies.

On PostgreSQL the append-only triggers stop UPDATE and DELETE for the application role; the test user
is the superuser ``postgres``, so each attack runs with ``session_replication_role = replica``, which is
what the tables' owner gets by disabling the triggers (finding 3)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from mrm.controls import Evaluated
from mrm.core.results import MetricResult
from mrm.store import RunRecord, chain, keys, schema
from mrm.store.retention import purge
from mrm.store.verify import examine
from mrm.ticketing import Breach, BuiltinTracker

OWN_KEY = b"the-attackers-own-key-0123456789"


def record(store, day: date, statuses=("RED", "RED", "GREEN"), finished=None, by="test", run_id=None) -> str:
    """A run through mrm's own code, with one metric per status, and a ticket for its first RED."""
    now = datetime.now(UTC)
    run = RunRecord(
        run_id=run_id or f"r{day:%y%m%d}{now:%H%M%S%f}", model_id="m", model_version="1", logical_date=day,
        status="completed", started_at=now, finished_at=finished or now, triggered_by=by,
        inventory_hash="f" * 64, overall_status="RED" if "RED" in statuses else "GREEN",
    )  # fmt: skip
    metrics = [
        Evaluated(MetricResult("drift", "psi", f"x{i}", 0.3 if s == "RED" else 0.01, {}), 0.1, 0.25, s)
        for i, s in enumerate(statuses)
    ]
    store.record_run(run, metrics, {"model_id": "m"})
    if "RED" in statuses:
        BuiltinTracker(store).file(breach(run.run_id, day))
    return run.run_id


def breach(run_id: str, day: date) -> Breach:
    return Breach("m", "o@example.com", "drift.psi[x0]", "drift", "psi", "x0", "RED", 0.3, 0.1, 0.25,
                  run_id, day, "psi above red")  # fmt: skip


def attack(store, *statements: str) -> None:
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # as the tables' owner
        for sql in statements:
            conn.exec_driver_sql(sql)


def entries(store) -> list[dict]:
    with store.engine.connect() as conn:
        return [
            dict(e) for e in conn.execute(sa.select(schema.chain).order_by(schema.chain.c.seq)).mappings()
        ]


def unkeyed(prev, table, key, rhash, kid):
    return kid, chain.link(prev, table, key, rhash)  # the old code's hash; key_id left as it was


def unkeyed_legacy(prev, table, key, rhash, kid):
    return None, chain.link(prev, table, key, rhash)  # and marked as written before keys


def own_key(prev, table, key, rhash, kid):
    return kid, hmac.new(OWN_KEY, chain.message(prev, table, key, rhash).encode(), hashlib.sha256).hexdigest()


def own_key_named(prev, table, key, rhash, kid):
    return keys.key_id(OWN_KEY), own_key(prev, table, key, rhash, kid)[1]


def rechain(store, sign, from_seq: int) -> None:
    """Recompute every row hash and chain hash from entry ``from_seq`` on, with ``sign``."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        prev = chain.GENESIS
        for e in conn.execute(sa.select(schema.chain).order_by(schema.chain.c.seq)).mappings().all():
            if e["seq"] < from_seq:
                prev = e["chain_hash"]
                continue
            tbl, col = chain.CHAINED[e["table_name"]]
            key = int(e["row_key"]) if isinstance(tbl.c[col].type, sa.Integer) else e["row_key"]
            row = conn.execute(sa.select(tbl).where(tbl.c[col] == key)).mappings().first()
            rhash = chain.row_hash(e["table_name"], dict(row)) if row else e["row_hash"]
            kid, chash = sign(prev, e["table_name"], e["row_key"], rhash, e["key_id"])
            conn.execute(
                schema.chain.update().where(schema.chain.c.seq == e["seq"])
                .values(row_hash=rhash, prev_hash=prev, chain_hash=chash, key_id=kid)
            )  # fmt: skip
            prev = chash


@pytest.fixture
def history(any_history):
    for d in (1, 2, 3):
        record(any_history, date(2025, 3, d))
    return any_history


def first_red_entry(store) -> dict:
    with store.engine.connect() as conn:
        first = conn.execute(sa.text("SELECT min(id) FROM mrm_metrics WHERE status = 'RED'")).scalar()
    return next(e for e in entries(store) if e["table_name"] == "mrm_metrics" and e["row_key"] == str(first))


def test_an_untouched_history_with_tickets_and_a_purge_verifies(history):
    tracker = BuiltinTracker(history)
    with history.engine.begin() as conn:
        (ticket,) = tracker.tickets_in(conn)
        tracker.escalate_in(conn, ticket["ticket_id"], date(2025, 3, 4), "unresolved")
        tracker.close_in(
            conn, ticket["ticket_id"], "risk-officer", "threshold recalibrated", date(2025, 3, 5)
        )
    record(history, date(2025, 3, 6))  # opens a new ticket
    counts = purge(history, date(2025, 3, 2), "auditor", retention_days=200, break_glass=True)
    assert counts["mrm_runs"] == 1
    found = examine(history.engine)
    assert found.problems == [] and found.legacy == 0
    assert {e["table_name"] for e in entries(history)} >= {"mrm_tickets", "mrm_purges"}
    assert all(e["key_id"] == keys.from_settings(history.url).current_id for e in entries(history))


@pytest.mark.parametrize("sign", [unkeyed, own_key])
def test_red_metrics_made_green_and_rechained_without_the_key_are_named(history, sign):
    target = first_red_entry(history)
    attack(history, "UPDATE mrm_metrics SET status = 'GREEN', value = 0.01 WHERE status = 'RED'")
    rechain(history, sign, from_seq=target["seq"])
    problems = chain.verify(history.engine)[0]
    assert problems[0].startswith(
        f"chain entry {target['seq']} (mrm_metrics {target['row_key']}): chain hash"
    )
    last = entries(history)[-1]["seq"]  # every entry after it is rewritten without the key too: one line
    after = f"chain entries {target['seq'] + 1}..{last} ({last - target['seq']} after it)"
    assert problems[1:] == [f"{after} do not follow either: rewritten without the key"]


def test_entries_rechained_as_legacy_or_with_an_own_key_are_named(history):
    target = first_red_entry(history)
    attack(history, "UPDATE mrm_metrics SET status = 'GREEN' WHERE status = 'RED'")
    rechain(history, unkeyed_legacy, from_seq=target["seq"])
    (problem,) = chain.verify(history.engine)[0]
    assert (
        problem.startswith(f"chain entry {target['seq']} (mrm_metrics ")
        and "made with key none (unkeyed)" in problem
    )

    rechain(history, own_key_named, from_seq=target["seq"])
    problems = chain.verify(history.engine)[0]
    own = keys.key_id(OWN_KEY)
    assert all(p.startswith(f"chain entry {target['seq']} ") for p in problems) and len(problems) == 2
    assert f"made with key {own} right after" in problems[0]
    assert f"made with chain key {own}, which the keyring from MRM_CHAIN_KEY does not hold" in problems[1]


def test_a_forged_green_run_with_a_self_made_chain_entry_is_named(history):
    good = entries(history)[-1]
    attack(
        history,
        "INSERT INTO mrm_runs (run_id, model_id, model_version, logical_date, kind, status, overall_status, "
        "started_at, finished_at, triggered_by, inventory_hash) SELECT 'forged', model_id, model_version, "
        "logical_date, kind, status, 'GREEN', started_at, finished_at, triggered_by, inventory_hash "
        "FROM mrm_runs WHERE logical_date = '2025-03-03'",
    )
    with history.engine.connect() as conn:
        row = dict(
            conn.execute(sa.select(schema.runs).where(schema.runs.c.run_id == "forged")).mappings().one()
        )
    rhash = chain.row_hash("mrm_runs", row)
    for kid, chash in (
        (good["key_id"], chain.link(good["chain_hash"], "mrm_runs", "forged", rhash)),  # the key's id, no key
        (None, chain.link(good["chain_hash"], "mrm_runs", "forged", rhash)),
    ):
        attack(history, "DELETE FROM mrm_chain WHERE row_key = 'forged'")
        with history.engine.begin() as conn:
            conn.execute(schema.chain.insert().values(
                table_name="mrm_runs", row_key="forged", row_hash=rhash, prev_hash=good["chain_hash"],
                chain_hash=chash, created_at=datetime.now(UTC), key_id=kid))  # fmt: skip
        (problem,) = chain.verify(history.engine)[0]
        assert "(mrm_runs forged)" in problem


def test_a_ticket_closed_behind_mrms_back_is_named(history):
    (ticket,) = BuiltinTracker(history).tickets()
    key = ticket["key"]
    attack(
        history,
        "UPDATE mrm_tickets SET status = 'closed', closed_by = 'head-of-risk', closed_reason = 'fine', "
        f"closed_at = opened_at WHERE ticket_id = {ticket['ticket_id']}",
    )
    problems = chain.verify(history.engine)[0]
    assert len(problems) == 2
    assert problems[0].endswith(f"(mrm_tickets {key}): ticket {key} differs from its last chained version "
                                "(changed outside mrm)")  # fmt: skip
    assert problems[1] == f"ticket {key} is closed but its trail has no closed event: changed outside mrm"
    # rechaining the ticket without the key still leaves its state against its trail
    last = entries(history)[-1]
    rechain(history, unkeyed, from_seq=last["seq"] - 1)
    assert (
        f"ticket {key} is closed but its trail has no closed event: changed outside mrm"
        in chain.verify(history.engine)[0]
    )


def test_a_ticket_row_inserted_outside_mrm_is_named(history):
    attack(
        history,
        'INSERT INTO mrm_tickets (model_id, control, "check", metric, status, severity, title, owner, '
        "opened_at, opened_run_id, first_logical_date, last_logical_date, occurrences) SELECT model_id, "
        "'drift.psi[x9]', \"check\", metric, 'closed', severity, title, owner, opened_at, opened_run_id, "
        "first_logical_date, last_logical_date, 1 FROM mrm_tickets",
    )
    (problem,) = chain.verify(history.engine)[0]
    assert problem.startswith("ticket MRM-") and problem.endswith(
        "is not in the chain (inserted outside mrm)"
    )


def test_a_forged_purge_row_whitelisting_deleted_records_is_named(history):
    listed = json.dumps(
        {"mrm_metrics": [e["row_key"] for e in entries(history) if e["table_name"] == "mrm_metrics"]}
    )
    attack(
        history,
        "DELETE FROM mrm_metrics WHERE status = 'RED' AND logical_date = '2025-03-03'",
        "INSERT INTO mrm_purges (before_date, retention_days, purged_at, purged_by, counts, keys, "
        f"chain_head) VALUES ('2025-03-04', 2557, '2032-06-01', 'auditor', '{{}}', '{listed}', 'x')",
    )
    problems = chain.verify(history.engine)[0]
    assert sum(p.endswith("the record was deleted") and "(mrm_metrics " in p for p in problems) == 2
    assert problems[-1].startswith("purge ") and problems[-1].endswith(
        "(records before 2025-03-04, by auditor) is not in the chain (inserted outside mrm): the records it "
        "lists are not accepted as purged"
    )


def chained_purge(store, before: date, days: int, purged_at: datetime, listed=None) -> None:
    """A purge row chained by mrm's own code (as mrm.store.retention does), by whoever holds the key."""
    with store.engine.begin() as conn:
        run_ids = [r for (r,) in conn.execute(sa.select(schema.runs.c.run_id).where(
            schema.runs.c.logical_date < before))]  # fmt: skip
        metric_ids = [i for (i,) in conn.execute(sa.select(schema.metric_results.c.id).where(
            schema.metric_results.c.run_id.in_(run_ids)))]  # fmt: skip
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # as mrm purge does
        conn.execute(schema.metric_results.delete().where(schema.metric_results.c.id.in_(metric_ids)))
        listed = listed if listed is not None else [str(i) for i in metric_ids]
        purge_id = conn.execute(schema.purges.insert().values(
            before_date=before, retention_days=days, purged_at=purged_at, purged_by="auditor",
            counts={"mrm_metrics": len(listed)}, keys={"mrm_metrics": listed},
            chain_head=chain.head(conn))).inserted_primary_key[0]  # fmt: skip
        chain.append(conn, "mrm_purges", [purge_id])


def test_a_purge_below_the_retention_floor_is_named(history):
    chained_purge(history, date(2025, 3, 2), 30, datetime.now(UTC))
    problems = chain.verify(history.engine)[0]
    assert problems[-1].startswith("purge ") and problems[-1].endswith(
        "kept records only 30 days, below the retention floor of 183 days: the records it removed are "
        "reported as deleted"
    )
    assert sum("the record was deleted" in p for p in problems) == 3
    assert chain.verify(history.engine, retention_floor=30)[0] == []


def test_a_purge_of_records_younger_than_its_retention_period_is_named(history):
    chained_purge(history, date(2025, 3, 2), 400, datetime(2025, 6, 1, tzinfo=UTC))
    problems = chain.verify(history.engine)[0]
    assert problems[-1].endswith(
        "removed records younger than its retention period of 400 days (it ran on 2025-06-01): the records "
        "it removed are reported as deleted"
    )


def test_a_purge_listing_records_written_after_it_does_not_cover_them(history):
    with history.engine.connect() as conn:
        next_id = conn.execute(sa.text("SELECT max(id) FROM mrm_metrics")).scalar() + 1
    chained_purge(history, date(2025, 1, 1), 200, datetime.now(UTC), listed=[str(next_id), str(next_id + 1)])
    record(history, date(2025, 3, 4))  # its metrics get the ids the purge listed in advance
    attack(history, f"DELETE FROM mrm_metrics WHERE id IN ({next_id}, {next_id + 1})")
    problems = chain.verify(history.engine)[0]
    assert len(problems) == 2 and all(p.endswith("the record was deleted") for p in problems)


def test_a_run_forged_to_finish_later_than_a_later_rerun_is_named(history):
    future = datetime.now(UTC) + timedelta(days=30)
    forged = record(history, date(2025, 3, 10), ("GREEN",), finished=future)  # with the app's code and key
    rerun = record(history, date(2025, 3, 10), ("RED",))
    (problem,) = chain.verify(history.engine)[0]
    assert problem == (
        f"run {forged} claims to have finished after run {rerun}, written after it: its finished_at was "
        "forged"
    )


def test_airflow_tries_chained_out_of_order_are_named(history):
    dag = "airflow:mrm_monitor__m/scheduled__2025-03-11T00:00:00+00:00"
    record(history, date(2025, 3, 11), ("GREEN",), by=f"{dag}/try1")
    late = datetime.now(UTC)
    t3 = record(history, date(2025, 3, 11), ("GREEN",), by=f"{dag}/try3")
    t2 = record(
        history, date(2025, 3, 11), ("GREEN",), by=f"{dag}/try2", finished=late + timedelta(seconds=1)
    )
    (problem,) = chain.verify(history.engine)[0]
    assert problem.startswith(
        f"run {t2} (try 2 of Airflow run mrm_monitor__m/scheduled__"
    ) and problem.endswith(f"was written after run {t3} (try 3): its triggered_by was forged")
