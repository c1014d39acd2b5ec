"""A cohort's scores joined to their labels bucket by bucket, straight from the days' compact parts, and
counted per distinct score range by range.

1. **By event hash.** Every part (a scoring day's distinct events, a label day's labels:
   :mod:`mrm.sources.day_parts`) is sorted by event hash, so the events of one hash bucket (the top
   :data:`mrm.sources.day_parts.BUCKET_BITS` bits) are one contiguous slice of each part. A bucket's
   slices of the cohort's days are merged to its distinct events (the earliest day's score), its slices
   of the label days matched to them (the latest label known before the cutoff; equal times: the one
   read last), and its labelled events' (score, label) split by score range.
2. **By score range.** Each of :data:`RANGES` score ranges (of equal width over the range of a sample
   of the cohort's scores, the first below and the last above it, NaN in the last: any ranges give the
   same counts; these are found by arithmetic, which is monotonic in IEEE floating point) gathers its
   pieces from every bucket and counts each distinct score's positives and negatives. Ranges are
   disjoint and ascending, so their counts joined are the cohort's.

Buckets are disjoint in events and ranges in scores, so the result is exactly what joining and
counting the whole cohort gives (``tests/mrm/checks/test_cohort_join.py`` holds it to the row-based join
and to scikit-learn). Both stages run in :data:`WORKERS` threads (numpy's sorts and binary searches free
the GIL). **Memory**: the parts in memory (kept ones are read a bucket at a time), about
``40 / BUCKETS`` bytes per cohort event and label per bucket being joined, and 12 bytes per labelled
event between the stages.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from mrm.checks.performance_counts import ScoreCounts, unique_inverse
from mrm.sources.day_parts import BUCKETS
from mrm.sources.labels import latest_of

WORKERS = max(1, min(4, os.cpu_count() or 1))
RANGES = 256


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
class _Bucket:
    events: int
    pieces: list[tuple[np.ndarray, np.ndarray]]  # per score range: (scores, whether positive)
    bad: int  # labels that are not 0/1
    first_bad: float | None


def join(scores: Sequence, labels: Sequence, cutoff_ns: int) -> Joined:
    """The distinct events of ``scores`` (days' parts in day order) and their latest labels in
    ``labels`` (label days' parts in read order) known before ``cutoff_ns`` (nanoseconds since the
    epoch, UTC), counted. A part is a day in memory or kept on disk (:mod:`mrm.sources.part_store`): read
    a bucket at a time either way. ValueError if a matched label is not 0 or 1 (as
    :meth:`ScoreCounts.of`); :class:`mrm.sources.part_store.TamperedPart` if a kept part changed."""
    ranges_of = _ranges(scores)

    def bucket(b: int) -> _Bucket:
        return _bucket(scores, labels, b, cutoff_ns, ranges_of)

    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mrm-join") as pool:
        buckets = list(pool.map(bucket, range(BUCKETS)))
        bad = sum(b.bad for b in buckets)
        if bad:
            found = next(b.first_bad for b in buckets if b.bad)
            raise ValueError(f"y must hold only 0 and 1; found {found!r} in {bad} rows")
        events = sum(b.events for b in buckets)

        def counted(r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return _counted([b.pieces[r] for b in buckets])

        ranges = list(pool.map(counted, range(RANGES)))
    values, positives, negatives = (np.concatenate(c) for c in zip(*ranges, strict=True))
    counts = ScoreCounts(values, positives, negatives)
    return Joined(counts, events, counts.rows)


def _ranges(scores: Sequence):
    """The function from scores to their range (int16, 0..RANGES-1): equal widths over the finite scores
    of the first bucket of each day (a sample in hash order, so unbiased)."""
    sample = np.concatenate([p.bucket(0)[1] for p in scores]) if scores else np.zeros(0)
    sample = sample[np.isfinite(sample)]
    lo, hi = (float(sample.min()), float(sample.max())) if sample.size else (0.0, 1.0)
    scale = RANGES / (hi - lo) if hi > lo else 1.0

    def ranges_of(s: np.ndarray) -> np.ndarray:
        at = np.floor((s - lo) * scale)
        return np.clip(np.nan_to_num(at, nan=RANGES - 1), 0, RANGES - 1).astype("int16")

    return ranges_of


def _bucket(scores, labels, b: int, cutoff_ns: int, ranges_of) -> _Bucket:
    runs = [p.bucket(b) for p in scores]
    hashes, first = _distinct([h for h, _ in runs], [s for _, s in runs])
    del runs
    at, y = latest_of(hashes, [p.bucket(b) for p in labels], cutoff_ns, ordered=False)
    bad = ~np.isin(y, (0, 1))
    if bad.any():  # the first in hash order, as the row-based counts report it
        first_bad = y[bad][np.argmin(at[bad])].item()
        return _Bucket(int(hashes.size), [], int(bad.sum()), first_bad)
    s, positive = first[at], y == 1
    where = ranges_of(s)  # equal scores: one range
    order = np.argsort(where, kind="stable")  # radix sort of small integers
    ends = np.cumsum(np.bincount(where, minlength=RANGES))
    s, positive = s[order], positive[order]
    pieces = [(s[lo:hi], positive[lo:hi]) for lo, hi in zip(np.append(0, ends[:-1]), ends, strict=True)]
    return _Bucket(int(hashes.size), pieces, 0, None)


def _counted(pieces: list[tuple[np.ndarray, np.ndarray]]):
    """(distinct scores ascending, positives, negatives) of one score range's pieces: by hashing when
    scores repeat (rounded scores: a small table, then only the distinct ones sorted), else by sorting."""
    s = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0)
    if not s.size:
        return np.zeros(0), np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")
    positive = np.concatenate([p[1] for p in pieces])
    sample = s[:: max(1, s.size // 1024)]
    if 2 * np.unique(sample).size <= sample.size:  # in a sample of the range, scores repeat
        values, inverse = unique_inverse(s)
        totals = np.bincount(inverse, minlength=values.size)
        positives = np.bincount(inverse[positive], minlength=values.size)
        return values, positives, totals - positives
    order = np.argsort(s)
    s, positive = s[order], positive[order]
    starts = _starts(s)
    positives = np.add.reduceat(positive.astype("int64"), starts)
    return s[starts], positives, np.diff(np.append(starts, s.size)) - positives


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


def _starts(values: np.ndarray) -> np.ndarray:
    """Where each distinct value begins in ascending ``values`` (NaN last, all NaNs one value)."""
    nan = np.isnan(values)
    return np.flatnonzero(np.concatenate([[True], (values[1:] != values[:-1]) & ~(nan[1:] & nan[:-1])]))
