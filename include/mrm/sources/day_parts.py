"""Each day's compact outcome data, computed once per process for an object's identity and kept in a
byte-bounded LRU: a scoring day's distinct (event-id hash, first score), sorted by hash, and a label
day's (hash, label time, label), sorted by hash. Consecutive cohorts share all their days but one (a
back-test's dates, the monitoring runs of a long-lived worker), so each day is read and hashed once.

- **Key**: what the day was read as (``scores`` or ``labels``), the inventory entry's fingerprint (its
  contract checked the rows) and each object's URI, size and ETag (S3 reads are conditional on that
  ETag, so a rewritten object is another key and never a stale hit).
- **Bound**: ``MRM_OUTCOME_CACHE_MB`` (:func:`mrm.settings.outcome_cache_bytes`; default 512, 0 keeps
  none). A part is kept only if :data:`KEPT_DAYS` of its size fit the bound (by default days up to about
  4M scored events or 3M labels), so a high-volume day adds nothing to a run's memory unless the bound
  is raised for it (e.g. for a back-test); the least recently used parts are dropped first. A part is
  read-only once cached.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from mrm.core.storage import ObjectInfo

T = TypeVar("T")
BUCKET_BITS = (
    6  # parts are cut into 2**6 ranges of event hash (mrm.checks.cohort_join joins bucket by bucket)
)
BUCKETS = 1 << BUCKET_BITS
_EDGES = np.arange(1, BUCKETS, dtype="uint64") << np.uint64(64 - BUCKET_BITS)
KEPT_DAYS = 8  # a part is kept only if this many of its size fit the bound (a 7-day cohort's days)
READERS = max(1, min(4, os.cpu_count() or 1))  # days read at once: Parquet reads and numpy sorts free the GIL
MAKING = threading.BoundedSemaphore(READERS)  # days made at once in a process, whoever asks: memory bounded


class _Sorted:
    """A day's columns sorted by event hash (``hashes`` first), cut into the hash buckets."""

    hashes: np.ndarray

    @property
    def columns(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.columns))

    @property
    def rows(self) -> int:
        return int(self.hashes.size)

    @cached_property
    def cuts(self) -> np.ndarray:
        return bounds(self.hashes)

    def bucket(self, b: int) -> tuple[np.ndarray, ...]:
        """Every column's rows in hash bucket ``b``, in field order."""
        lo, hi = self.cuts[b], self.cuts[b + 1]
        return tuple(a[lo:hi] for a in self.columns)


@dataclass(frozen=True)
class DayScores(_Sorted):
    """A scoring day's distinct events: ``hashes`` ascending and the score each was first logged with
    in the day (file and row order)."""

    hashes: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class DayLabels(_Sorted):
    """A label day's labels sorted by event hash (stably: an event's labels stay in file and row order):
    ``ns`` the label time (nanoseconds since the epoch, UTC; 0 where unknown), ``known`` whether it has
    a time, ``labels`` as float32 (0/1 exact)."""

    hashes: np.ndarray
    ns: np.ndarray
    known: np.ndarray
    labels: np.ndarray


def hash_order(hashes: np.ndarray, *, stable: bool = False) -> np.ndarray:
    """``np.argsort(hashes)`` (``stable``: equal hashes in their order), twice as fast on millions: a
    radix pass on the top 10 bits (uniform hashes: parts of a few thousand), then each part sorted in
    cache."""
    kind = "stable" if stable else None
    if hashes.size < 65_536:
        return np.argsort(hashes, kind=kind)
    top = (hashes >> np.uint64(54)).astype("uint16")
    order = np.argsort(top, kind="stable")  # a radix sort of 16-bit keys
    ordered = hashes[order]
    cuts = np.concatenate([[0], np.cumsum(np.bincount(top, minlength=1024))])
    for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
        if hi - lo > 1:
            order[lo:hi] = order[lo:hi][np.argsort(ordered[lo:hi], kind=kind)]
    return order


def bounds(hashes: np.ndarray) -> np.ndarray:
    """The ``BUCKETS + 1`` positions that cut ascending ``hashes`` into the hash buckets."""
    return np.concatenate([[0], np.searchsorted(hashes, _EDGES), [hashes.size]]).astype("int64")


class PartCache:
    """An LRU of day parts bounded by their bytes, each with the digest of its kept copy on disk (or
    None: :mod:`mrm.sources.part_store`)."""

    def __init__(self) -> None:
        self._parts: OrderedDict[tuple, tuple[DayScores | DayLabels, str | None]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # days are read in threads (:func:`each`)

    def get(self, key: tuple) -> tuple[DayScores | DayLabels, str | None] | None:
        with self._lock:
            if key in self._parts:
                self._parts.move_to_end(key)
                return self._parts[key]
        return None

    def keeps(self, part: DayScores | DayLabels) -> bool:
        """Whether a part of this size is kept (a larger day is not: a run's memory stays bounded)."""
        return part.nbytes <= _bound() // KEPT_DAYS

    def add(self, key: tuple, part: DayScores | DayLabels, digest: str | None = None) -> None:
        if not self.keeps(part):
            return
        bound = _bound()
        for column in part.columns:
            column.flags.writeable = False  # shared by every later reader
        with self._lock:
            if key not in self._parts or digest:
                if key in self._parts:
                    self._bytes -= self._parts[key][0].nbytes
                self._parts[key] = (part, digest)
                self._bytes += part.nbytes
            while self._bytes > bound:
                _, (dropped, _) = self._parts.popitem(last=False)
                self._bytes -= dropped.nbytes

    def get_or_make(self, key: tuple, make: Callable[[], DayScores | DayLabels]) -> DayScores | DayLabels:
        found = self.get(key)
        if found is not None:
            return found[0]
        with MAKING:  # outside the lock: two threads may make the same part once each, never wrongly
            part = make()
        self.add(key, part)
        return part

    def clear(self) -> None:
        with self._lock:
            self._parts.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._parts)


CACHE = PartCache()


def key(kind: str, fingerprint: str, files: list[ObjectInfo]) -> tuple:
    return (kind, fingerprint, tuple((f.uri, f.size, f.etag) for f in files))


def each(fn: Callable[[Any], T], items: Iterable[Any]) -> list[tuple[T | None, Exception | None]]:
    """``fn`` of every item, :data:`READERS` at a time in threads, in the items' order: (result, None),
    or (None, the exception) of an item that raised, for the caller to decide on in that order."""
    from concurrent.futures import ThreadPoolExecutor

    def guarded(item: Any) -> tuple[T | None, Exception | None]:
        try:
            return fn(item), None
        except Exception as exc:  # handed back in order: the caller raises or skips as before
            return None, exc

    items = list(items)
    if len(items) <= 1 or READERS == 1:
        return [guarded(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(READERS, len(items)), thread_name_prefix="mrm-days") as pool:
        return list(pool.map(guarded, items))


def clear() -> None:
    """Forget every cached part (settings or data may have changed)."""
    CACHE.clear()


def _bound() -> int:
    from mrm import settings

    return settings.outcome_cache_bytes()
