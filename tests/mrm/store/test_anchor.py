"""Anchors outside the database catch what a chain its attacker can recompute cannot: on SQLite and
PostgreSQL, an attacker with the worker's database credentials AND the chain key edits, cuts, reorders
or forges records and rewrites every chain hash with mrm's own functions; `chain.verify` then finds
nothing, and only the anchors name the first rewritten entry.

On PostgreSQL the attacker's transaction sets ``session_replication_role = replica`` to get past the
append-only triggers: the test connects as the server's superuser, standing in for a table owner (who
can ``DISABLE TRIGGER`` just as well)."""

from __future__ import annotations

import json
import logging
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from mrm.controls import Evaluated
from mrm.core.results import MetricResult
from mrm.errors import StoreError
from mrm.store import HistoryStore, RunRecord, anchor, chain, schema
from mrm.store.anchor.check import check

DAYS = (date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3))


@pytest.fixture(autouse=True)
def chain_key(monkeypatch):
    """The chain key the workers hold (and so, in these tests, the attacker)."""
    monkeypatch.setenv("MRM_CHAIN_KEY", "anchor-test-chain-key-0123456789")


def record(store: HistoryStore, day: date, statuses=("RED", "GREEN", "RED"), **changes) -> RunRecord:
    now = datetime.now(UTC)
    run = RunRecord(
        run_id=f"m{day:%m%d}{now.microsecond:06d}", model_id="m", model_version="1", logical_date=day,
        status="completed", started_at=now, finished_at=now, triggered_by="test", inventory_hash="f" * 64,
        overall_status="RED" if "RED" in statuses else "GREEN",
    )  # fmt: skip
    for k, v in changes.items():
        setattr(run, k, v)
    metrics = [
        Evaluated(MetricResult("drift", "psi", f"x{i}", 0.3 if s == "RED" else 0.01, {}), 0.1, 0.25, s)
        for i, s in enumerate(statuses)
    ]
    store.record_run(run, metrics, {"model_id": "m"})
    return run


@pytest.fixture
def anchored(any_history, tmp_path):
    """Three days recorded, each anchored after it was recorded (as the pipeline does)."""
    uri = (tmp_path / "anchors").as_uri() + "/"
    for day in DAYS:
        record(any_history, day)
        assert anchor.publish(any_history, uri).written
    return any_history, uri


# -- the attacker's tools: the chain's own functions, the worker's credentials, the stolen key ---------
def entry_hash(ring, kid, prev: str, table: str, key: str, rhash: str) -> str:
    """The chain hash of one entry as mrm computes it. The attacker holds the chain key (``ring``), so the
    keyed chain is recomputed with the chain's own function."""
    return chain.keyed_link(ring, kid, prev, table, key, rhash)


@contextmanager
def attack(store: HistoryStore) -> Iterator:
    """A transaction past the append-only triggers (PostgreSQL: the superuser as a table owner)."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn


def rewrite(store: HistoryStore, change) -> None:
    """Apply ``change(conn)`` and then recompute every row hash and chain hash from genesis, so that
    `chain.verify` finds the history intact."""
    ring = anchor.keyring_of(store)
    with attack(store) as conn:
        change(conn)
        rows = {
            name: {str(r[key]): dict(r) for r in conn.execute(select(tbl)).mappings()}
            for name, (tbl, key) in chain.CHAINED.items()
        }
        c, prev = schema.chain, chain.GENESIS
        for e in conn.execute(select(c).order_by(c.c.seq)).mappings().all():
            row = rows[e["table_name"]].get(e["row_key"])
            versioned = e["table_name"] in chain.VERSIONED  # earlier versions keep their own hash
            rehash = row is not None and not versioned
            rhash = chain.row_hash(e["table_name"], row) if rehash else e["row_hash"]
            kid = e["key_id"] or ring.current_id  # a forged entry gets the stolen key's id too
            chash = entry_hash(ring, kid, prev, e["table_name"], e["row_key"], rhash)
            conn.execute(
                update(c)
                .where(c.c.seq == e["seq"])
                .values(row_hash=rhash, prev_hash=prev, chain_hash=chash, key_id=kid)
            )
            prev = chash
    assert chain.verify(store.engine)[0] == [], "the attacker's rewrite should fool the chain alone"


def entry_seq(conn, table: str, key) -> int:
    c = schema.chain
    return conn.execute(select(c.c.seq).where(c.c.table_name == table, c.c.row_key == str(key))).scalar_one()


def seq_of(store, table, key) -> int:
    with store.engine.connect() as conn:
        return entry_seq(conn, table, key)


# -- the attacks ---------------------------------------------------------------------------------------
def test_reds_edited_to_green_with_a_recomputed_chain_are_caught_only_by_the_anchor(anchored):
    store, uri = anchored
    m = schema.metric_results
    with store.engine.connect() as conn:
        reds = (
            conn.execute(select(m.c.id).where(m.c.status == "RED").order_by(m.c.id).limit(2)).scalars().all()
        )
    first = min(seq_of(store, "mrm_metrics", i) for i in reds)
    rewrite(store, lambda conn: conn.execute(update(m).where(m.c.id.in_(reds)).values(status="GREEN")))
    problems = check(store, uri).problems
    assert len(problems) == 1
    assert problems[0].startswith(
        f"chain entry {first} (mrm_metrics {reds[0]}) differs from the hash anchored at "
    )
    assert problems[0].endswith(
        "the chain was rewritten from this entry on "
        "(an edit with recomputed hashes, a reorder or a forged insert)"
    )
    assert "000000000" in problems[0] and ".json" in problems[0]  # names the anchor file


def test_cutting_off_the_newest_run_is_caught(anchored):
    store, uri = anchored
    with store.engine.connect() as conn:
        newest = conn.execute(
            select(schema.runs.c.run_id).order_by(schema.runs.c.finished_at.desc())
        ).first()[0]
        last = conn.execute(select(schema.chain.c.seq).order_by(schema.chain.c.seq.desc())).first()[0]
        cut_from = entry_seq(conn, "mrm_runs", newest)
    m, r, c = schema.metric_results, schema.runs, schema.chain

    def cut(conn):
        ids = conn.execute(select(m.c.id).where(m.c.run_id == newest)).scalars().all()
        conn.execute(
            c.delete().where(c.c.table_name == "mrm_metrics", c.c.row_key.in_([str(i) for i in ids]))
        )
        conn.execute(c.delete().where(c.c.table_name == "mrm_runs", c.c.row_key == newest))
        conn.execute(m.delete().where(m.c.run_id == newest))
        conn.execute(r.delete().where(r.c.run_id == newest))

    rewrite(store, cut)
    (problem,) = check(store, uri).problems
    assert problem.startswith(
        f"the history ends at chain entry {cut_from - 1}, but entry {cut_from} was anchored"
    )
    assert problem.endswith(f"the anchors reach entry {last}: the newest records were cut off (truncated)")


def test_two_entries_swapped_with_a_recomputed_chain_are_caught(anchored):
    store, uri = anchored
    c = schema.chain
    with store.engine.connect() as conn:
        first = conn.execute(select(c.c.seq).order_by(c.c.seq)).first()[0]
        moved = conn.execute(select(c.c.table_name, c.c.row_key).where(c.c.seq == first + 2)).one()

    def swap(conn):  # the second and third entries change places
        a, b = (
            conn.execute(select(c).where(c.c.seq.in_([first + 1, first + 2])).order_by(c.c.seq))
            .mappings()
            .all()
        )
        for one, other in ((a, b), (b, a)):
            values = {k: other[k] for k in ("table_name", "row_key", "row_hash")}
            conn.execute(update(c).where(c.c.seq == one["seq"]).values(**values))

    rewrite(store, swap)
    (problem,) = check(store, uri).problems
    assert problem.startswith(
        f"chain entry {first + 1} ({moved.table_name} {moved.row_key}) differs from the hash anchored"
    )


def test_a_forged_green_rerun_inserted_in_the_middle_is_caught(anchored):
    store, uri = anchored
    r, m, c = schema.runs, schema.metric_results, schema.chain
    with store.engine.connect() as conn:
        day2 = dict(conn.execute(select(r).where(r.c.logical_date == DAYS[1])).mappings().one())
        metrics = [dict(x) for x in conn.execute(select(m).where(m.c.run_id == day2["run_id"])).mappings()]
        after = max(entry_seq(conn, "mrm_metrics", x["id"]) for x in metrics)  # the end of day 2's entries
    forged = {**day2, "run_id": "forged" + day2["run_id"][6:], "overall_status": "GREEN",
              "finished_at": day2["finished_at"] + timedelta(hours=1)}  # fmt: skip

    def insert(conn):
        conn.execute(r.insert().values(**forged))
        ids = [
            conn.execute(
                m.insert()
                .values(
                    **{
                        **{k: v for k, v in x.items() if k != "id"},
                        "run_id": forged["run_id"],
                        "status": "GREEN",
                    }
                )
                .returning(m.c.id)
            ).scalar_one()
            for x in metrics
        ]
        keys = [("mrm_runs", forged["run_id"])] + [("mrm_metrics", str(i)) for i in ids]
        conn.execute(update(c).where(c.c.seq > after).values(seq=-(c.c.seq + len(keys))))  # make room
        conn.execute(update(c).where(c.c.seq < 0).values(seq=-c.c.seq))
        for n, (table, key) in enumerate(keys, start=after + 1):
            conn.execute(c.insert().values(seq=n, table_name=table, row_key=key, row_hash="", prev_hash="",
                                           chain_hash="", created_at=datetime.now(UTC)))  # fmt: skip

    rewrite(store, insert)
    with store.engine.connect() as conn:  # the forgery is now the day's current run: it hides the RED
        from mrm.store.history import current_run_ids

        assert forged["run_id"] in conn.execute(current_run_ids("m")).scalars().all()
    (problem,) = check(store, uri).problems
    assert problem.startswith(f"chain entry {after + 1} (mrm_runs {forged['run_id']}) differs from the hash")


def test_an_edited_anchor_file_and_a_garbled_one_are_named(anchored):
    store, uri = anchored
    folder = Path(uri.removeprefix("file://"))
    first = sorted(folder.glob("*.json"))[0]
    doc = json.loads(first.read_text())
    doc["chain_hash"] = "0" * 64
    first.chmod(0o644)  # the attacker owns the folder: the mode is no protection, the signature is
    first.write_text(json.dumps(doc))
    (folder / "999999999999.json").write_text("{not json")  # after every real anchor, whatever the sequence
    problems = check(store, uri).problems
    assert problems[0] == (
        f"anchor {first.as_uri()}: the signature does not match its content: the anchor was altered or forged"
    )
    assert problems[1].startswith(
        f"anchor {(folder / '999999999999.json').as_uri()}: not a readable mrm anchor"
    )
    assert len(problems) == 2


def test_an_untouched_history_with_several_anchors_verifies(anchored):
    store, uri = anchored
    record(store, date(2026, 9, 4))  # recorded, not anchored yet
    checked = check(store, uri)
    assert checked.problems == []
    assert [a.seq for a in checked.anchors] == sorted(a.seq for a in checked.anchors) and len(
        checked.anchors
    ) == 3
    with store.engine.connect() as conn:
        last = conn.execute(select(schema.chain.c.seq).order_by(schema.chain.c.seq.desc())).first()[0]
    assert checked.unanchored == (checked.anchors[-1].seq + 1, last)


# -- writing -------------------------------------------------------------------------------------------
def test_an_anchor_is_signed_json_written_once_read_only_and_covers_the_entries_since_the_last(
    any_history, tmp_path
):
    uri = (tmp_path / "anchors").as_uri() + "/"
    record(any_history, DAYS[0])
    one = anchor.publish(any_history, uri)
    record(any_history, DAYS[1])
    two = anchor.publish(any_history, uri)
    again = anchor.publish(any_history, uri)
    assert (one.written, two.written, again.written) == (True, True, False) and again.seq == two.seq
    path = Path(two.where.removeprefix("file://"))
    assert path.name == f"{two.seq:012d}.json" and stat.S_IMODE(path.stat().st_mode) == 0o444
    doc = json.loads(path.read_text())
    assert set(doc) == {"format", "history", "seq", "chain_hash", "key_id", "at", "entries", "signature"}
    assert doc["format"] == "mrm-anchor/1" and doc["history"] == any_history.safe_url
    assert [s for s, _ in doc["entries"]] == list(range(one.seq + 1, two.seq + 1))
    assert doc["entries"][-1] == [two.seq, two.chain_hash] and datetime.fromisoformat(doc["at"]).tzinfo
    ring = anchor.keyring_of(any_history)
    assert doc["key_id"] == ring.current_id and doc["signature"] == ring.mac(
        ring.current_id, anchor.canonical(doc)
    )
    first = json.loads(Path(one.where.removeprefix("file://")).read_text())
    with any_history.engine.connect() as conn:  # the first anchor holds every entry
        every = conn.execute(select(schema.chain.c.seq).order_by(schema.chain.c.seq)).scalars().all()
    assert [s for s, _ in first["entries"]] == [s for s in every if s <= one.seq]


def test_concurrent_anchors_of_the_same_head_both_succeed(any_history, tmp_path):
    uri = (tmp_path / "anchors").as_uri() + "/"
    record(any_history, DAYS[0])
    results, errors, go = [], [], threading.Barrier(4)

    def publish():
        go.wait()
        try:
            results.append(anchor.publish(any_history, uri))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=publish) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and sum(r.written for r in results) == 1 and len({r.seq for r in results}) == 1
    assert len(list((tmp_path / "anchors").glob("*.json"))) == 1 and check(any_history, uri).problems == []


def test_no_anchor_is_laid_over_a_rewritten_chain(anchored):
    store, uri = anchored
    m = schema.metric_results
    rewrite(store, lambda conn: conn.execute(update(m).where(m.c.status == "RED").values(status="GREEN")))
    record(store, date(2026, 9, 4))
    with pytest.raises(StoreError, match=r"^chain entry \d+ of .* differs from its anchor .*: the chain"):
        anchor.publish(store, uri)


def test_a_failed_anchor_after_recording_is_one_logged_line_and_the_run_stays_recorded_once(
    any_history, monkeypatch, caplog
):
    monkeypatch.setenv("MRM_AUDIT_ANCHOR", "file:///dev/null/anchors/")  # cannot be created
    run = record(any_history, DAYS[0])
    with caplog.at_level(logging.ERROR, logger="mrm.anchor"):
        assert anchor.after_record(any_history, "m", DAYS[0]) is None
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("m 2026-09-01: the run is recorded, but the chain head was not anchored to "
                           "file:///dev/null/anchors/: cannot write the anchor ")  # fmt: skip
    assert line.endswith("run `mrm audit anchor` (the next anchor covers these records)")
    with any_history.engine.connect() as conn:
        assert conn.execute(select(schema.runs.c.run_id)).scalars().all() == [run.run_id]
