"""Days' compact scores and labels, read once per process for the objects' identity: a hit is the same
part, a rewritten object is read again, the byte bound holds, and consecutive cohorts read through the
cache give exactly what fresh reads give (the frame-based join is checked in test_scores.py)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from test_scores import DAYS, RUN_DAY, logs, write_day  # noqa: F401  (the fixture of test_scores)

from mrm import inputs
from mrm.errors import ConfigError
from mrm.sources import day_parts
from mrm.sources.parquet import PartitionedParquet
from mrm.sources.scores import day_scores, event_hashes, read_scores


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch):
    monkeypatch.delenv("MRM_OUTCOME_CACHE_MB", raising=False)
    day_parts.clear()
    yield
    day_parts.clear()


def files_of(entry, day):
    return PartitionedParquet.from_entry(entry, "scoring log").files(day)


def test_a_day_read_twice_is_one_part_and_read_only(logs):  # noqa: F811
    entry, *_ = logs
    first = day_scores(files_of(entry, DAYS[0]), entry, "cohort")
    again = day_scores(files_of(entry, DAYS[0]), entry, "cohort")

    assert again is first and len(day_parts.CACHE) == 1
    assert not first.hashes.flags.writeable and not first.scores.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        first.scores[0] = 1.0


def test_a_rewritten_object_is_read_again_never_a_stale_hit(logs):  # noqa: F811
    entry, scoring, _ = logs
    before = day_scores(files_of(entry, DAYS[0]), entry, "cohort")
    frame = pd.DataFrame({"event_id": ["new-1", "new-2"], "score": [0.25, 0.75], "decision": "approve"})
    for old in (scoring / f"dt={DAYS[0].isoformat()}").iterdir():
        old.unlink()
    write_day(scoring, DAYS[0], [frame.assign(amount=1.0)])

    after = day_scores(files_of(entry, DAYS[0]), entry, "cohort")
    assert after is not before
    assert dict(zip(after.hashes.tolist(), after.scores.tolist(), strict=True)) == dict(
        zip(event_hashes(["new-1", "new-2"]).tolist(), [0.25, 0.75], strict=True)
    )


def test_the_bound_keeps_the_most_recent_parts_and_zero_keeps_none(logs, monkeypatch):  # noqa: F811
    entry, *_ = logs
    one = day_scores(files_of(entry, DAYS[0]), entry, "cohort")
    monkeypatch.setenv("MRM_OUTCOME_CACHE_MB", "0")
    day_parts.clear()
    day_scores(files_of(entry, DAYS[0]), entry, "cohort")
    assert len(day_parts.CACHE) == 0

    day_parts.clear()  # room for 8.5 parts of this size: 8 are kept, the 9th evicts the first
    cache = day_parts.PartCache()
    monkeypatch.setattr(day_parts, "_bound", lambda: int(one.nbytes * (day_parts.KEPT_DAYS + 0.5)))
    parts = [day_parts.DayScores(one.hashes.copy(), one.scores.copy()) for _ in range(9)]
    for n, part in enumerate(parts):
        assert cache.get_or_make((n,), lambda p=part: p) is part
    assert len(cache) == day_parts.KEPT_DAYS
    again = day_parts.DayScores(one.hashes.copy(), one.scores.copy())
    assert cache.get_or_make((0,), lambda: again) is again  # the first was evicted: made again
    assert cache.get_or_make((8,), lambda: None) is parts[8] and len(cache) == day_parts.KEPT_DAYS

    monkeypatch.setattr(day_parts, "_bound", lambda: int(one.nbytes * (day_parts.KEPT_DAYS - 0.5)))
    cache.clear()
    assert cache.get_or_make(("big",), lambda: one) is one and len(cache) == 0  # too large a day: not kept


def test_a_bound_that_is_not_a_number_is_refused_with_what_to_set(logs, monkeypatch):  # noqa: F811
    entry, *_ = logs
    monkeypatch.setenv("MRM_OUTCOME_CACHE_MB", "half")
    with pytest.raises(ConfigError, match=r"MRM_OUTCOME_CACHE_MB='half' must be a whole number of megabytes"):
        day_scores(files_of(entry, DAYS[0]), entry, "cohort")


def test_consecutive_cohorts_through_the_cache_equal_fresh_reads(logs):  # noqa: F811
    entry, *_ = logs
    windows = [(DAYS[0] + timedelta(days=k), DAYS[-1] + timedelta(days=k), RUN_DAY + timedelta(days=k))
               for k in range(3)]  # fmt: skip
    cached = [inputs.labelled_cohort(entry, run, start, end) for start, end, run in windows]
    assert len(day_parts.CACHE) > 0
    for (start, end, run), (counts, coverage, note) in zip(windows, cached, strict=True):
        day_parts.clear()
        fresh, fresh_coverage, fresh_note = inputs.labelled_cohort(entry, run, start, end)
        assert coverage == fresh_coverage and note == fresh_note
        assert np.array_equal(counts.values, fresh.values)
        assert np.array_equal(counts.positives, fresh.positives)
        assert np.array_equal(counts.negatives, fresh.negatives)


def test_days_read_in_threads_come_back_in_order_with_each_failure_in_its_place():
    def read(n: int) -> int:
        if n % 3 == 0:
            raise ValueError(f"day {n} unreadable")
        return n * n

    out = day_parts.each(read, range(10))
    assert [r for r, _ in out] == [None if n % 3 == 0 else n * n for n in range(10)]
    assert [str(e) if e else None for _, e in out] == [
        f"day {n} unreadable" if n % 3 == 0 else None for n in range(10)
    ]


def test_an_unreadable_day_among_days_read_at_once_is_skipped_as_when_read_one_by_one(logs):  # noqa: F811
    entry, scoring, _ = logs
    (scoring / f"dt={DAYS[1].isoformat()}" / "part-0001.parquet").write_bytes(b"not parquet")
    source = PartitionedParquet.from_entry(entry, "scoring log")
    with_threads = read_scores(source, entry, DAYS, "cohort", skip_unreadable=True)
    day_parts.clear()
    one_by_one = [read_scores(source, entry, [d], "cohort", skip_unreadable=True) for d in (DAYS[0], DAYS[3])]

    assert len(with_threads.unreadable) == 1 and "part-0001.parquet" in with_threads.unreadable[0]
    assert with_threads.missing_days == [DAYS[2]]
    assert len(with_threads) == sum(len(c) for c in one_by_one)  # the two readable days share no event


@pytest.mark.parametrize("stable", [False, True])
def test_the_hash_order_is_numpy_s_argsort_with_repeated_hashes(stable):
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**63, 200_000).astype("uint64") * np.uint64(2)
    hashes[rng.integers(0, hashes.size, 5_000)] = hashes[:5_000]  # repeats, some far apart
    order = day_parts.hash_order(hashes, stable=stable)
    np.testing.assert_array_equal(hashes[order], np.sort(hashes))
    if stable:
        np.testing.assert_array_equal(order, np.argsort(hashes, kind="stable"))
