"""A cohort's scores joined to their labels bucket by bucket, straight from the days' compact parts.

Every part (a scoring day's distinct events, a label day's labels: :mod:`mrm.sources.day_parts`) is
sorted by event hash, so the events whose hash has the same top :data:`BUCKET_BITS` bits are one
contiguous slice of each part. A bucket's slices of the cohort's days are merged to its distinct events
(the earliest day's score), its slices of the label days matched to them (the latest label known before
the cutoff; equal times: the one read last), and counted per distinct score. Buckets are disjoint in
events, so the cohort's counts are the sum of theirs: exactly what joining the whole cohort gives
(``tests/mrm/checks/test_cohort_join.py`` holds it to the row-based join and to scikit-learn).

- **Memory**: the parts themselves, and per bucket being joined (:data:`WORKERS` at once) about
  ``40 / BUCKETS`` bytes per cohort event and label: at 35M events and 70M labels, tens of MB.
- **Time**: each bucket's arrays fit in cache, and buckets run in threads (numpy's sorts and binary
  searches free the GIL), so both cores work.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from mrm.checks.performance_counts import ScoreCounts
from mrm.sources.day_parts import DayLabels, DayScores
from mrm.sources.labels import latest_of

BUCKET_BITS = 6
BUCKETS = 1 << BUCKET_BITS
WORKERS = max(1, min(4, os.cpu_count() or 1))
_EDGES = np.arange(1, BUCKETS, dtype="uint64") << np.uint64(64 - BUCKET_BITS)


def bounds(hashes: np.ndarray) -> np.ndarray:
    """The ``BUCKETS + 1`` positions that cut ascending ``hashes`` into the buckets."""
    return np.concatenate([[0], np.searchsorted(hashes, _EDGES), [hashes.size]]).astype("int64")


@dataclass(frozen=True)
class Joined:
    """A cohort joined to its labels: the labelled events' counts per distinct score, how many distinct
    events the cohort has and how many of them have a label."""

    counts: ScoreCounts
    events: int
    labelled: int

    @property
    def coverage(self) -> float | None:
        return self.labelled / self.events if self.events else None


@dataclass(frozen=True)
class _Partial:
    values: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray
    events: int
    bad: int  # labels that are not 0/1
    first_bad: float | None


def join(scores: Sequence[DayScores], labels: Sequence[DayLabels], cutoff_ns: int) -> Joined:
    """The distinct events of ``scores`` (days in day order) and their latest labels in ``labels``
    (label days in read order) known before ``cutoff_ns`` (nanoseconds since the epoch, UTC), counted.
    ValueError if a matched label is not 0 or 1 (as :meth:`ScoreCounts.of`)."""
    score_cuts = [bounds(p.hashes) for p in scores]
    label_cuts = [bounds(p.hashes) for p in labels]

    def bucket(b: int) -> _Partial:
        return _bucket(scores, score_cuts, labels, label_cuts, b, cutoff_ns)

    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mrm-buckets") as pool:
        partials = list(pool.map(bucket, range(BUCKETS)))
    bad = sum(p.bad for p in partials)
    if bad:
        found = next(p.first_bad for p in partials if p.bad)
        raise ValueError(f"y must hold only 0 and 1; found {found!r} in {bad} rows")
    return Joined(_summed(partials), sum(p.events for p in partials), sum(int(_rows(p)) for p in partials))


def _rows(p: _Partial) -> int:
    return int(p.positives.sum() + p.negatives.sum())


def _bucket(scores, score_cuts, labels, label_cuts, b: int, cutoff_ns: int) -> _Partial:
    hashes, first = _distinct(
        [p.hashes[c[b] : c[b + 1]] for p, c in zip(scores, score_cuts, strict=True)],
        [p.scores[c[b] : c[b + 1]] for p, c in zip(scores, score_cuts, strict=True)],
    )
    days = [_slice(p, c, b) for p, c in zip(labels, label_cuts, strict=True)]
    at, y = latest_of(hashes, days, cutoff_ns, ordered=False)
    bad = ~np.isin(y, (0, 1))
    if bad.any():  # the first in hash order, as the row-based counts report it
        first_bad = y[bad][np.argmin(at[bad])].item()
        return _Partial(*_empty(), int(hashes.size), int(bad.sum()), first_bad)
    if not at.size:
        return _Partial(*_empty(), int(hashes.size), 0, None)
    order = np.argsort(first[at])  # the labelled events by score: counted per distinct score
    s, positive = first[at][order], y[order] == 1
    starts = _starts(s)
    positives = np.add.reduceat(positive.astype("int64"), starts)
    negatives = np.diff(np.append(starts, s.size)) - positives
    return _Partial(s[starts], positives, negatives, int(hashes.size), 0, None)


def _empty():
    return np.zeros(0), np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")


def _slice(part: DayLabels, cuts: np.ndarray, b: int) -> tuple[np.ndarray, ...]:
    lo, hi = cuts[b], cuts[b + 1]
    return part.hashes[lo:hi], part.ns[lo:hi], part.known[lo:hi], part.labels[lo:hi]


def _distinct(hash_runs: list[np.ndarray], score_runs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(distinct hashes ascending, each one's score in the earliest run holding it) of ascending runs in
    day order: the stable sort of their concatenation only merges the runs, equal hashes in day order."""
    hashes = np.concatenate(hash_runs) if hash_runs else np.zeros(0, dtype="uint64")
    scores = np.concatenate(score_runs) if score_runs else np.zeros(0)
    if len(hash_runs) > 1:
        order = np.argsort(hashes, kind="stable")
        hashes, scores = hashes[order], scores[order]
    if not hashes.size:
        return hashes, scores
    first = np.empty(hashes.size, dtype=bool)
    first[0] = True
    np.not_equal(hashes[1:], hashes[:-1], out=first[1:])
    return hashes[first], scores[first]


def _summed(partials: list[_Partial]) -> ScoreCounts:
    """The buckets' counts added per distinct score. Each bucket's scores ascend (NaN last), so the
    stable sort of their concatenation merges runs; NaNs are one score, as in :func:`unique_inverse`."""
    parts = [p for p in partials if p.values.size]
    if not parts:
        return ScoreCounts.empty()
    values = np.concatenate([p.values for p in parts])
    order = np.argsort(values, kind="stable")
    values = values[order]
    starts = _starts(values)

    def added(column: str) -> np.ndarray:
        return np.add.reduceat(np.concatenate([getattr(p, column) for p in parts])[order], starts)

    return ScoreCounts(values[starts], added("positives"), added("negatives"))


def _starts(values: np.ndarray) -> np.ndarray:
    """Where each distinct value begins in ascending ``values`` (NaN last, all NaNs one value)."""
    nan = np.isnan(values)
    return np.flatnonzero(np.concatenate([[True], (values[1:] != values[:-1]) & ~(nan[1:] & nan[:-1])]))
