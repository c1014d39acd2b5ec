"""The reference window's labelled counts, kept beside the profiles: exact and deterministic bytes, used
by later processes, recorded in each run's lineage, and refused (rebuilt, with a warning) when someone
with write access to the cache rewrites them, with or without their hash record."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from support import record_daily_runs

from mrm import inputs, outcomes, pipeline
from mrm.checks import reference_counts as rc
from mrm.checks.performance_counts import ScoreCounts
from mrm.demo.data import day
from mrm.store import chain, reads
from mrm.wiring import clear_caches, get_inventory

DATE = day(30)  # a back-tested date of the test data whose cohort has matured labels


def kept_folder(home: Path) -> Path:
    (folder,) = (home / "evidence" / "_profiles" / "card_fraud" / "reference-counts").iterdir()
    return folder


def rewrite(folder: Path, counts: ScoreCounts, *, sidecar: bool) -> None:
    data = rc.to_bytes(counts)
    (folder / rc.COUNTS_FILE).write_bytes(data)
    if sidecar:  # the insider rewrites the hash record too
        (folder / rc.HASH_FILE).write_text(json.dumps({"sha256": hashlib.sha256(data).hexdigest()}))


def fresh_stats() -> dict:
    clear_caches()
    entry = get_inventory().get("card_fraud")
    return inputs.reference_performance(entry.model_id, entry.fingerprint())


def test_counts_round_trip_exactly_in_the_same_bytes():
    rng = np.random.default_rng(3)
    values = np.append(np.sort(np.round(rng.random(5_000), 4)), np.nan)
    counts = ScoreCounts(values, rng.integers(0, 9, values.size), rng.integers(0, 9, values.size))
    data = rc.to_bytes(counts)
    back = rc.from_bytes(data)

    assert data == rc.to_bytes(rc.from_bytes(data))  # deterministic: a rebuild has the first hash again
    assert np.array_equal(back.values, counts.values, equal_nan=True)
    assert np.array_equal(back.positives, counts.positives) and np.array_equal(
        back.negatives, counts.negatives
    )
    assert back.positives.dtype == np.int64 and back.values.dtype == np.float64


def test_a_run_records_the_counts_it_was_judged_against_and_a_later_process_uses_them(
    mrm_home, file_inventory
):
    outcomes.backtest_day("card_fraud", DATE, "test")
    folder = kept_folder(mrm_home)
    digest = hashlib.sha256((folder / rc.COUNTS_FILE).read_bytes()).hexdigest()
    (run,) = pipeline.get_store().runs("card_fraud", kind="backtest")
    lineage = run["lineage"] if isinstance(run["lineage"], dict) else json.loads(run["lineage"])
    record = lineage["inputs"]["reference_counts"]
    assert record == {"fingerprint": folder.name, "sha256": digest}
    assert reads.reference_counts_hashes(pipeline.get_store().engine, "card_fraud", folder.name) == {digest}
    assert "reference_counts_input" not in (run["evidence"] or {})  # a record, not a file of the run

    clear_caches()  # another process records the same kept counts
    outcomes.backtest_day("card_fraud", day(31), "test")
    runs = pipeline.get_store().runs("card_fraud", kind="backtest")
    lineages = [json.loads(r["lineage"]) if isinstance(r["lineage"], str) else r["lineage"] for r in runs]
    assert [x["inputs"]["reference_counts"] for x in lineages] == [record, record]
    assert len(runs) == 2 and chain.verify(pipeline.get_store().engine)[0] == []


def test_rewritten_counts_with_a_matching_hash_record_are_refused_once_a_run_recorded_the_real_ones(
    mrm_home, file_inventory, caplog
):
    outcomes.backtest_day("card_fraud", DATE, "test")  # recorded: the real counts' SHA-256
    truth = fresh_stats()
    folder = kept_folder(mrm_home)
    real = rc.from_bytes((folder / rc.COUNTS_FILE).read_bytes())
    better = ScoreCounts(real.values, real.positives[::-1].copy(), real.negatives[::-1].copy())
    rewrite(folder, better, sidecar=True)

    with caplog.at_level(logging.WARNING, logger="mrm.checks.reference_counts"):
        assert fresh_stats() == truth  # rebuilt from the window, not the rewritten counts
    assert (
        "not the one its runs recorded" in caplog.text and "rebuilt from the reference window" in caplog.text
    )
    assert rc.from_bytes((folder / rc.COUNTS_FILE).read_bytes()).positives.tolist() == real.positives.tolist()


def test_counts_that_no_longer_match_their_hash_record_are_refused(mrm_home, file_inventory, caplog):
    truth = fresh_stats()  # kept, no run recorded yet: only the hash record vouches for them
    folder = kept_folder(mrm_home)
    real = rc.from_bytes((folder / rc.COUNTS_FILE).read_bytes())
    rewrite(folder, ScoreCounts(real.values, real.negatives.copy(), real.positives.copy()), sidecar=False)

    with caplog.at_level(logging.WARNING, logger="mrm.checks.reference_counts"):
        assert fresh_stats() == truth
    assert "no longer has the SHA-256 of its hash record" in caplog.text


def test_without_any_run_recorded_the_hash_record_is_what_vouches(mrm_home, file_inventory):
    """The limit, stated: before any run recorded them, counts rewritten together with their hash record
    are used (as for reference profiles); the first run's record closes that window."""
    truth = fresh_stats()
    folder = kept_folder(mrm_home)
    real = rc.from_bytes((folder / rc.COUNTS_FILE).read_bytes())
    rewrite(folder, ScoreCounts(real.values, real.negatives.copy(), real.positives.copy()), sidecar=True)
    assert fresh_stats()["auc"] == pytest.approx(1 - truth["auc"], abs=1e-12)


def counts_lineage(fp: str | None, digest: str | None) -> dict:
    """A run's lineage recording the reference counts ``fp`` with (or without) their SHA-256."""
    record = {"fingerprint": fp, **({"sha256": digest} if digest else {})}
    return {"mrm": "test", **({"inputs": {"reference_counts": record}} if fp else {})}


def test_the_history_gives_the_hashes_its_runs_recorded_for_counts(any_history):
    kept = [("fp-a", "1" * 64), ("fp-a", "2" * 64), ("fp-b", "3" * 64), ("fp-a", None), (None, None)]
    record_daily_runs(any_history, [{"lineage": counts_lineage(fp, digest)} for fp, digest in kept])

    assert reads.reference_counts_hashes(any_history.engine, "toy_model", "fp-a") == {"1" * 64, "2" * 64}
    assert reads.reference_counts_hashes(any_history.engine, "toy_model", "fp-b") == {"3" * 64}
    assert reads.reference_counts_hashes(any_history.engine, "other_model", "fp-a") == set()
