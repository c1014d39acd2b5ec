"""The chain's keys: a rotation is recorded in the chain and verifies with both keys; a missing key is
one line, never a traceback; a history written before keys verifies as legacy and is keyed by its next
append; a rolled-back append (a gap in PostgreSQL's sequence) is no deletion."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from mrm.controls import Evaluated
from mrm.core.results import MetricResult
from mrm.errors import StoreError
from mrm.store import HistoryStore, RunRecord, chain, keys, schema
from mrm.store.verify import examine
from mrm.ticketing import Breach, BuiltinTracker

A, B, C = "rotation-key-a-0123456789", "rotation-key-b-0123456789", "rotation-key-c-0123456789"
ID_A, ID_B, ID_C = (keys.key_id(k.encode()) for k in (A, B, C))


def ring(*given: str) -> keys.KeySource:
    return lambda: keys.from_text(",".join(given), "the test keyring")


def record(store, day: date) -> str:
    now = datetime.now(UTC)
    run = RunRecord(
        run_id=f"r{day:%y%m%d}{now:%H%M%S%f}", model_id="m", model_version="1", logical_date=day,
        status="completed", started_at=now, finished_at=now, triggered_by="test", inventory_hash="f" * 64,
        overall_status="RED",
    )  # fmt: skip
    store.record_run(run, [Evaluated(MetricResult("drift", "psi", "x", 0.3, {}), 0.1, 0.25, "RED")], {"m": 1})
    BuiltinTracker(store).file(
        Breach(
            "m",
            "o@example.com",
            "drift.psi[x]",
            "drift",
            "psi",
            "x",
            "RED",
            0.3,
            0.1,
            0.25,
            run.run_id,
            day,
            "psi above red",
        )
    )
    return run.run_id


def entries(store) -> list[dict]:
    with store.engine.connect() as conn:
        return [
            dict(e) for e in conn.execute(sa.select(schema.chain).order_by(schema.chain.c.seq)).mappings()
        ]


@pytest.fixture
def stores(any_history):
    """Stores on the same history with the keyring each test gives."""
    made = []

    def store(*given: str) -> HistoryStore:
        made.append(HistoryStore(any_history.url, key_source=ring(*given)))
        return made[-1]

    yield store
    for s in made:
        s.engine.dispose()


def test_a_rotation_is_chained_under_the_old_key_and_verifies_with_both(stores):
    record(stores(A), date(2026, 9, 1))
    rotated = stores(B, A)
    record(rotated, date(2026, 9, 2))

    with rotated.engine.connect() as conn:
        (rotation,) = conn.execute(sa.select(schema.key_rotations)).mappings().all()
    assert (rotation["key_id"], rotation["previous_key_id"], rotation["rotated_by"]) == (ID_B, ID_A, "mrm")
    kids = [(e["table_name"], e["key_id"]) for e in entries(rotated)]
    at = kids.index(("mrm_key_rotations", ID_A))
    assert {k for _, k in kids[:at]} == {ID_A} and {k for _, k in kids[at + 1 :]} == {ID_B}
    assert chain.verify(rotated.engine) == chain.verify(rotated.engine, key_source=ring(B, A))
    assert chain.verify(rotated.engine)[0] == []


def test_without_the_old_key_verify_says_so_in_one_line(stores):
    record(stores(A), date(2026, 9, 1))
    record(stores(B, A), date(2026, 9, 2))
    (problem,) = chain.verify(stores(B).engine)[0]
    assert problem.startswith("chain entry ") and (
        f"made with chain key {ID_A}, which the keyring from the test keyring does not hold" in problem
    )


def test_appending_with_a_keyring_missing_the_heads_key_is_refused(stores):
    record(stores(A), date(2026, 9, 1))
    before = len(entries(stores(A)))
    with pytest.raises(StoreError) as caught:
        record(stores(C), date(2026, 9, 2))
    assert str(caught.value) == (
        f"the chain was last extended with key {ID_A}, which the keyring from the test keyring does not "
        "hold: give the current key first and that key after it"
    )
    assert len(entries(stores(A))) == before and len(stores(A).runs()) == 1  # nothing was written


def test_a_key_change_without_a_chained_rotation_is_named(stores):
    record(stores(A), date(2026, 9, 1))
    rotated = stores(B, A)
    record(rotated, date(2026, 9, 2))
    with rotated.engine.begin() as conn:  # the attacker hides the rotation (as the tables' owner)
        if rotated.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql("DELETE FROM mrm_key_rotations")
    problems = chain.verify(rotated.engine)[0]
    assert any(f"made with key {ID_B} right after an entry made with key {ID_A}, with no key rotation" in p
               for p in problems)  # fmt: skip
    assert any(p.endswith("(mrm_key_rotations " + ID_B + "): the record was deleted") for p in problems)


def make_legacy(store) -> None:
    """Turn the history into what mrm wrote before 0006: unkeyed entries, tickets and purges unchained."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql("DELETE FROM mrm_chain WHERE table_name IN ('mrm_tickets', 'mrm_purges')")
        prev = chain.GENESIS
        for e in conn.execute(sa.select(schema.chain).order_by(schema.chain.c.seq)).mappings().all():
            chash = chain.link(prev, e["table_name"], e["row_key"], e["row_hash"])
            conn.execute(schema.chain.update().where(schema.chain.c.seq == e["seq"])
                         .values(prev_hash=prev, chain_hash=chash, key_id=None))  # fmt: skip
            prev = chash


def test_a_legacy_history_verifies_and_its_next_append_keys_it(stores):
    old = stores(A)
    record(old, date(2026, 9, 1))
    make_legacy(old)
    found = examine(old.engine, key_source=ring())  # an empty keyring: a legacy chain needs no key
    assert found.problems == [] and found.legacy == found.count > 0

    keyed = stores(A)
    record(keyed, date(2026, 9, 2))
    with keyed.engine.connect() as conn:
        (rotation,) = conn.execute(sa.select(schema.key_rotations)).mappings().all()
    assert (rotation["key_id"], rotation["previous_key_id"]) == (ID_A, None)
    after = examine(keyed.engine)
    assert after.problems == [] and after.legacy == found.count + 1  # the rotation is the last unkeyed entry
    adopted = [e for e in entries(keyed) if e["table_name"] == "mrm_tickets"]
    assert adopted and all(e["key_id"] == ID_A for e in adopted)


def test_a_history_rewritten_as_legacy_from_a_keyed_entry_on_is_named(stores):
    store = stores(A)
    record(store, date(2026, 9, 1))
    record(store, date(2026, 9, 2))
    before = entries(store)
    cut, prev = before[3]["seq"], before[2]["chain_hash"]
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for e in before[3:]:
            chash = chain.link(prev, e["table_name"], e["row_key"], e["row_hash"])
            conn.execute(schema.chain.update().where(schema.chain.c.seq == e["seq"])
                         .values(prev_hash=prev, chain_hash=chash, key_id=None))  # fmt: skip
            prev = chash
    (problem,) = chain.verify(store.engine)[0]
    assert problem.startswith(f"chain entry {cut} ") and "made with key none (unkeyed) right after" in problem


def test_a_rolled_back_append_leaves_a_gap_that_is_no_deletion(stores):
    store = stores(A)
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite reuses the rolled-back rowids; PostgreSQL's sequence leaves a gap")
    record(store, date(2026, 9, 1))
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        conn.execute(schema.inventory_versions.insert().values(
            inventory_hash="e" * 64, model_id="m", model_version="2", content={},
            first_used_at=datetime.now(UTC), first_used_by_run="x"))  # fmt: skip
        chain.append(conn, "mrm_inventory_versions", ["e" * 64])
        raise RuntimeError("the transaction fails after its chain append")
    record(store, date(2026, 9, 2))
    seqs = [e["seq"] for e in entries(store)]
    assert seqs != list(range(seqs[0], seqs[0] + len(seqs)))  # the gap the rollback left
    assert chain.verify(store.engine)[0] == []


def test_audit_verify_counts_the_legacy_entries(stores, any_history, monkeypatch, capsys):
    from support import clear_caches

    from mrm.cli import main

    record(stores(A), date(2026, 9, 1))
    make_legacy(any_history)
    monkeypatch.setenv("MRM_DB_URL", any_history.url)
    clear_caches()
    assert main(["audit", "verify"]) == 0
    count = len(entries(any_history))
    assert (
        f"chain of {count} records ({count} written before the chain was keyed, unkeyed) intact; head "
        in (capsys.readouterr().out)
    )
    clear_caches()
