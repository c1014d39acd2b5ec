"""`mrm audit anchor` and `mrm audit verify --anchor` as a user runs them: a run leaves its chain head
anchored; verify prints the anchored heads it checked and exits 1 naming the first rewritten record; a
failed anchor never fails the run."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

from mrm.cli import main
from mrm.store import RunRecord, chain


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def chain_head(home: Path) -> tuple[int, str]:
    with sqlite3.connect(home / "history.db") as db:
        return db.execute("SELECT seq, chain_hash FROM mrm_chain ORDER BY seq DESC LIMIT 1").fetchone()


def anchors_of(home: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "anchors").glob("*.json"))]


def test_a_run_leaves_its_chain_head_anchored_and_verify_prints_the_heads(capsys, mrm_home, file_inventory):
    code, _, err = run(capsys, "run", "--model", "card_fraud", "--date", "2026-09-25")  # RED: opens a ticket
    assert code == 0, err
    seq, chash = chain_head(mrm_home)
    newest = anchors_of(mrm_home)[-1]
    assert (newest["seq"], newest["chain_hash"]) == (seq, chash)

    uri = (mrm_home / "anchors").as_uri() + "/"
    code, out, _ = run(capsys, "audit", "anchor")
    assert (
        code == 0
        and out
        == f"sqlite:///{mrm_home}/history.db: chain head {seq} is already anchored ({uri}{seq:012d}.json)\n"
    )

    code, out, err = run(capsys, "audit", "verify", "--anchor", uri)
    assert code == 0, err
    lines = out.splitlines()
    anchors = anchors_of(mrm_home)
    assert lines[0] == f"{uri}: {len(anchors)} anchored head(s) checked"
    assert lines[1:-1] == [
        f"  seq {a['seq']}  {a['chain_hash'][:16]}  {a['at']}  {uri}{a['seq']:012d}.json" for a in anchors
    ]
    assert lines[-1] == f"sqlite:///{mrm_home}/history.db: chain of {seq} records intact; head {chash}"


def test_verify_uses_the_anchor_setting_and_names_a_rewritten_record(
    capsys, mrm_home, file_inventory, monkeypatch
):
    uri = (mrm_home / "elsewhere").as_uri() + "/"
    monkeypatch.setenv("MRM_AUDIT_ANCHOR", uri)
    assert main(["run", "--model", "aml_alert", "--date", "2026-09-02"]) == 0
    assert (mrm_home / "elsewhere").is_dir() and not (mrm_home / "anchors").exists()
    capsys.readouterr()
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and out.startswith(f"{uri}: ")

    metric_id, edited = rewrite_a_breach_as_green()
    monkeypatch.delenv("MRM_AUDIT_ANCHOR")
    assert main(["audit", "verify"]) == 0  # without the anchors the rewrite goes unseen
    capsys.readouterr()
    code, _, err = run(capsys, "audit", "verify", "--anchor", uri)
    assert code == 1
    first, last = err.splitlines()[0], err.splitlines()[-1]
    assert first.startswith(
        f"mrm: chain entry {edited} (mrm_metrics {metric_id}) differs from the hash anchored at "
    )
    assert last.startswith(f"sqlite:///{mrm_home}/history.db: 1 problem(s) in a chain of ")


def rewrite_a_breach_as_green() -> tuple[int, int]:
    """An insider with the worker's database access and the chain key: turn the first non-GREEN metric
    GREEN, then recompute every chain hash with the chain's own functions. Returns the metric's id and
    its chain entry."""
    from sqlalchemy import select, update

    from mrm import wiring
    from mrm.store import schema

    m, c = schema.metric_results, schema.chain
    store = wiring.get_store()
    ring = store.keyring()  # the attacker holds the worker's chain key
    with store.engine.begin() as conn:
        metric_id = conn.execute(select(m.c.id).where(m.c.status != "GREEN").order_by(m.c.id)).first()[0]
        conn.execute(update(m).where(m.c.id == metric_id).values(status="GREEN"))
        row = dict(conn.execute(select(m).where(m.c.id == metric_id)).mappings().one())
        prev, edited = chain.GENESIS, None
        for e in conn.execute(select(c).order_by(c.c.seq)).mappings().all():
            rhash = e["row_hash"]
            if (e["table_name"], e["row_key"]) == ("mrm_metrics", str(metric_id)):
                rhash, edited = chain.row_hash("mrm_metrics", row), e["seq"]
            chash = chain.keyed_link(ring, e["key_id"], prev, e["table_name"], e["row_key"], rhash)
            conn.execute(
                update(c).where(c.c.seq == e["seq"]).values(row_hash=rhash, prev_hash=prev, chain_hash=chash)
            )
            prev = chash
    return metric_id, edited


def record(store, day: date) -> None:
    now = datetime.now(UTC)
    store.record_run(RunRecord(
        run_id=f"r{day:%m%d}", model_id="m", model_version="1", logical_date=day, status="completed",
        started_at=now, finished_at=now, triggered_by="test", inventory_hash="f" * 64, overall_status="GREEN",
    ))  # fmt: skip


def test_more_than_twenty_heads_print_the_first_and_newest_ten(capsys, mrm_home):
    from mrm import wiring

    store = wiring.get_store()
    for day in range(1, 24):
        record(store, date(2026, 9, day))
        code, out, _ = run(capsys, "audit", "anchor")
        assert code == 0 and ": anchored chain head " in out and out.endswith(" (1 new entry)\n")
    code, out, _ = run(capsys, "audit", "verify", "--anchor", str(mrm_home / "anchors"))
    lines = out.splitlines()
    assert code == 0 and lines[0].endswith(": 23 anchored head(s) checked")
    assert [line.split()[1] for line in lines[1:11]] == [str(n) for n in range(1, 11)]
    assert lines[11] == "  ... 3 more ..."
    assert [line.split()[1] for line in lines[12:22]] == [str(n) for n in range(14, 24)]


def test_anchor_of_an_empty_history_and_verify_without_anchors(capsys, mrm_home):
    code, out, _ = run(capsys, "audit", "anchor")
    assert code == 0 and out.endswith(": nothing to anchor (the history holds no records yet)\n")
    from mrm import wiring

    record(wiring.get_store(), date(2026, 9, 1))
    code, _, err = run(capsys, "audit", "verify", "--anchor", (mrm_home / "none").as_uri())
    assert code == 1 and err.splitlines()[0] == (
        f"mrm: no anchors in {(mrm_home / 'none').as_uri()}/: nothing outside the database vouches for the "
        "chain; run `mrm audit anchor` (or check the anchor URI)"
    )


def test_a_run_whose_anchor_fails_still_succeeds_once_with_one_line(
    capsys, mrm_home, file_inventory, monkeypatch
):
    monkeypatch.setenv("MRM_AUDIT_ANCHOR", "file:///dev/null/anchors/")
    code, out, err = run(capsys, "run", "--model", "aml_alert", "--date", "2026-09-02")
    assert code == 0 and "aml_alert 2026-09-02:" in out
    assert err.splitlines() == [  # logged after recording and after ticketing: printed once
        "mrm: warning: aml_alert 2026-09-02: the run is recorded, but the chain head was not anchored to "
        "file:///dev/null/anchors/: cannot write the anchor file:///dev/null/anchors/"
        f"{chain_head(mrm_home)[0]:012d}.json: Not a directory; run `mrm audit anchor` (the next anchor "
        "covers these records)"
    ]
    with sqlite3.connect(mrm_home / "history.db") as db:
        assert db.execute("SELECT count(*) FROM mrm_runs").fetchone() == (1,)


def test_anchoring_to_a_bucket_without_object_lock_is_one_line(capsys, mrm_home, aws):
    import boto3

    from mrm import wiring

    boto3.client("s3").create_bucket(Bucket="mrm-unlocked")
    record(wiring.get_store(), date(2026, 9, 1))
    code, _, err = run(capsys, "audit", "anchor", "--to", "s3://mrm-unlocked/anchors/")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(
        "mrm: error: refusing to anchor to s3://mrm-unlocked: the bucket does not have Object Lock enabled; "
        "create the anchor bucket with Object Lock"
    )


def test_governance_and_a_run_that_cannot_complete_anchor_after_they_record(capsys, mrm_home, file_inventory):
    from mrm import wiring
    from mrm.governance import run_governance

    code, _, _ = run(capsys, "run", "--model", "credit_line", "--date", "2026-10-03")  # no data: a failed run
    assert code == 1
    assert anchors_of(mrm_home)[-1]["seq"] == chain_head(mrm_home)[0]  # the failed run and its ticket
    before = len(anchors_of(mrm_home))
    run_governance(date(2026, 9, 20), "test", wiring.get_inventory(), wiring.get_store())
    models = len(wiring.get_inventory().entries)
    assert len(anchors_of(mrm_home)) == before + models  # one per model: its run and its ticket events
    assert anchors_of(mrm_home)[-1]["seq"] == chain_head(mrm_home)[0]
    code, out, _ = run(capsys, "audit", "verify", "--anchor", str(mrm_home / "anchors"))
    assert code == 0 and out.splitlines()[0].endswith(f": {before + models} anchored head(s) checked")
