"""Days' parts kept on the worker's disk between runs, attacked as a worker's credentials allow: a run
records the digest of every kept part it read; the next run (a fresh process) reads only the days not
kept; a part whose bytes were edited, or one planted with a self-consistent record no run wrote, is
never used (the day is read from its objects again, the result unchanged); two writers of one part and a
writer killed mid-write leave a part that reads back whole."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading

import numpy as np
import pytest

from mrm import outcomes, pipeline, settings
from mrm.demo.data import day
from mrm.sources import day_parts, part_store, scores
from mrm.sources.day_parts import DayScores
from mrm.sources.part_store import PartStore, TamperedPart
from mrm.wiring import clear_caches

DATES = [day(30), day(31)]


def values(run_id: str) -> dict:
    rows = pipeline.get_store().metrics(run_id=run_id)
    return {r["metric"]: r["value"] for r in rows if r["check"] == "performance" and r["segment"] is None}


def lineage_parts(run_id: str) -> dict:
    run = next(r for r in pipeline.get_store().runs("card_fraud", kind="backtest") if r["run_id"] == run_id)
    return (run["lineage"] or {}).get("inputs", {}).get("day_parts") or {}


@pytest.fixture
def reads_from_objects(monkeypatch):
    """How many scoring days are read from their objects (the real reader, counted)."""
    read: list[str] = []
    real = scores._day_parts

    def counted(files, entry, where):
        read.append(where)
        yield from real(files, entry, where)

    monkeypatch.setattr(scores, "_day_parts", counted)
    return read


def fresh_process() -> None:
    """What a new worker process starts with: no part in memory."""
    clear_caches()
    day_parts.clear()


def backtest(d) -> str:
    return outcomes.backtest_day("card_fraud", d, "test")["run_id"]


def test_a_run_records_its_kept_parts_and_the_next_reads_only_the_new_days(
    mrm_home, file_inventory, reads_from_objects
):
    first = backtest(DATES[0])
    recorded = lineage_parts(first)
    assert len(recorded) >= 8  # the cohort's 7 scoring days and its label days at least
    kept = {
        p.parent.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in settings.part_cache_dir().glob("*/*/meta.json")
    }
    assert all(kept[fp] == digest for fp, digest in recorded.items())

    fresh_process()
    reads_from_objects.clear()
    second = backtest(DATES[1])
    cohort_days = [w for w in reads_from_objects if "cohort" in w]
    assert len(cohort_days) == 1  # 6 of its 7 days were kept by the first run

    fresh_process()
    with pytest.MonkeyPatch.context() as mp:  # the same date with nothing kept: the same numbers
        mp.setenv("MRM_PART_CACHE", "none")
        again = backtest(DATES[1])
    assert values(again) == values(second) and values(second)["auc"] is not None


def test_an_edited_kept_part_is_dropped_and_the_day_read_again_with_the_same_result(
    mrm_home, file_inventory, reads_from_objects, caplog
):
    first = backtest(DATES[0])
    want = values(first)
    root = settings.part_cache_dir()
    edited = 0
    for meta in root.glob("*/*/meta.json"):
        if json.loads(meta.read_text())["kind"] == "scores":
            column = meta.parent / "scores.bin"
            data = bytearray(column.read_bytes())
            data[8:16] = np.float64(0.999999).tobytes()  # one event's score changed, its record not
            column.write_bytes(bytes(data))
            edited += 1
    assert edited

    fresh_process()
    reads_from_objects.clear()
    with caplog.at_level(logging.WARNING, logger="mrm.pipeline"):
        again = backtest(DATES[0])
    assert values(again) == want
    assert any("changed since it was written" in r.getMessage() for r in caplog.records)
    assert reads_from_objects  # the edited days read from their objects again


def test_a_planted_part_with_a_consistent_record_no_run_wrote_is_not_used(
    mrm_home, file_inventory, reads_from_objects
):
    first = backtest(DATES[0])
    want = values(first)
    root = settings.part_cache_dir()
    planted = 0
    for meta_path in root.glob("*/*/meta.json"):
        meta = json.loads(meta_path.read_text())
        if meta["kind"] != "scores":
            continue
        column = meta_path.parent / "scores.bin"
        s = np.fromfile(column, dtype="<f8")
        s[:] = 1.0 - s  # every score turned around: AUC would fall below 0.5
        s.tofile(column)
        cuts = meta["cuts"]
        meta["sha256"]["scores"] = [
            hashlib.sha256(s[lo:hi].tobytes()).hexdigest() for lo, hi in itertools.pairwise(cuts)
        ]
        meta_path.write_text(json.dumps(meta, sort_keys=True))  # self-consistent: only its digest is new
        planted += 1
    assert planted

    fresh_process()
    reads_from_objects.clear()
    again = backtest(DATES[0])
    assert values(again) == want and want["auc"] > 0.5
    assert len([w for w in reads_from_objects if "cohort" in w]) == 7  # none of the planted days used


def test_a_bucket_read_checks_its_bytes_against_the_record(tmp_path):
    store = PartStore(tmp_path)
    hashes = np.sort(np.random.default_rng(1).integers(0, 2**63, 5000).astype("uint64") * np.uint64(2))
    part = DayScores(hashes, np.linspace(0, 1, hashes.size))
    kept = store.put("ab" * 32, "scores", part)
    again = store.get("ab" * 32, {kept.digest})
    assert again is not None and store.get("ab" * 32, set()) is not None  # this process wrote it
    part_store.forget_written()  # another process: a digest no run recorded is not used
    assert store.get("ab" * 32, set()) is None
    whole = again.whole()
    np.testing.assert_array_equal(whole.hashes, hashes)
    np.testing.assert_array_equal(whole.scores, part.scores)

    column = again.path / "hashes.bin"
    data = bytearray(column.read_bytes())
    data[-1] ^= 1  # the last bucket's last byte
    column.write_bytes(bytes(data))
    assert again.bucket(0)[0].size  # an untouched bucket still reads
    with pytest.raises(TamperedPart, match="changed since it was written"):
        again.bucket(day_parts.BUCKETS - 1)


def test_two_writers_of_one_part_and_a_killed_writer_leave_a_part_that_reads_whole(tmp_path):
    store = PartStore(tmp_path)
    hashes = np.arange(0, 2**64 - 2**54, 2**54, dtype="uint64")
    part = DayScores(hashes, np.linspace(0, 1, hashes.size))
    (tmp_path / "cd").mkdir()
    (tmp_path / "cd" / ".tmp-killed").mkdir()  # what a writer killed mid-write leaves
    (tmp_path / "cd" / ".tmp-killed" / "hashes.bin").write_bytes(b"\0" * 7)
    digests = []
    writers = [
        threading.Thread(target=lambda: digests.append(store.put("cd" * 32, "scores", part).digest))
        for _ in range(4)
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert len(set(digests)) == 1
    kept = store.get("cd" * 32, set(digests))
    np.testing.assert_array_equal(kept.whole().hashes, hashes)


def test_no_part_cache_keeps_nothing_on_disk(mrm_home, file_inventory, monkeypatch):
    monkeypatch.setenv("MRM_PART_CACHE", "none")
    run = backtest(DATES[0])
    assert settings.part_cache_dir() is None and lineage_parts(run) == {}
    assert not (mrm_home / "day-parts").exists()


def test_a_folder_that_cannot_be_written_keeps_nothing_and_the_run_goes_on(
    mrm_home, file_inventory, monkeypatch, caplog
):
    blocked = mrm_home / "not-a-folder"
    mrm_home.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the folder should be")
    monkeypatch.setenv("MRM_PART_CACHE", str(blocked))
    with caplog.at_level(logging.WARNING, logger="mrm.sources.part_store"):
        run = backtest(DATES[0])
    assert values(run)["auc"] is not None and lineage_parts(run) == {}
    assert any("set MRM_PART_CACHE to a writable folder" in r.getMessage() for r in caplog.records)
