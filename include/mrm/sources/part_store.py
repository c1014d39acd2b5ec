"""Days' compact parts kept on the worker's disk between runs, so that a daily run reads each scoring day
and label day from its objects once, not once per cohort it falls in (a day is in 7 cohorts of a 7-day
window and its labels in 14).

- **Where**: ``MRM_PART_CACHE`` (a local folder; default ``$MRM_HOME/day-parts``; ``none`` keeps
  nothing), one folder per part named by its fingerprint (:func:`fingerprint`: what the day was read as,
  the inventory entry's hash, each object's URI, size and ETag, :data:`VERSION` and the bucket layout):
  a rewritten object is another part, never a stale one.
- **Form**: each column as raw little-endian bytes and ``meta.json`` with the rows, the bucket cuts
  (:data:`mrm.sources.day_parts.BUCKETS` hash ranges) and the SHA-256 of each column's bytes in each
  bucket. A part is read a bucket at a time into memory (never mapped), so a run holds only the buckets
  it is joining, whatever the days' size.
- **Trust**: the part's digest is the SHA-256 of its ``meta.json``; every run records the digests of the
  kept parts it read in its lineage (``inputs.day_parts``, chained with the run). A kept part is used
  only if a run of the model recorded its digest (or this process wrote it), and each bucket's bytes
  are checked against the meta's SHA-256 as they are read (:class:`TamperedPart` otherwise: the caller
  drops the part and reads the days from their objects again, trusting no kept part). A part no run
  recorded (its run failed) is read again by the next process, not trusted.
- **Size**: 16 bytes per distinct event of a scoring day, 21 per label; parts not read for
  :data:`KEPT_FOR_DAYS` days are removed when a part is written.
- **Concurrency**: a part is written to a temporary folder and renamed into place; two workers writing
  the same part write the same bytes, and the last rename wins.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mrm.errors import SourceError
from mrm.sources import day_parts
from mrm.sources.day_parts import BUCKET_BITS, DayLabels, DayScores, bounds

log = logging.getLogger(__name__)
VERSION = 1
KEPT_FOR_DAYS = 30
META = "meta.json"
COLUMNS = {
    "scores": (("hashes", "<u8"), ("scores", "<f8")),
    "labels": (("hashes", "<u8"), ("ns", "<i8"), ("known", "|b1"), ("labels", "<f4")),
}
_MADE = {"scores": DayScores, "labels": DayLabels}
_pruned_at = 0.0
_WRITTEN: dict[str, str] = {}  # fingerprint -> digest of the parts this process wrote (made from the objects)


class TamperedPart(SourceError):
    """A kept part's bytes no longer have the SHA-256 of its record."""

    def __init__(self, path: Path, column: str, bucket: int):
        self.path = path
        super().__init__(
            f"the kept day part {path.name} changed since it was written (column {column}, bucket "
            f"{bucket}): it is dropped and the day read again from its objects"
        )


def fingerprint(key: tuple) -> str:
    """The part's name: sha256 of its day key (:func:`mrm.sources.day_parts.key`) and the layout."""
    kind, entry_hash, objects = key
    doc = {"kind": kind, "entry": entry_hash, "objects": [list(o) for o in objects], "version": VERSION}
    doc["bucket_bits"] = BUCKET_BITS
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class KeptPart:
    """A part on disk, read a bucket at a time (``bucket``) or whole (its columns as attributes)."""

    path: Path
    kind: str
    digest: str
    rows: int
    cuts: np.ndarray
    sha256: dict[str, list[str]]

    @property
    def nbytes(self) -> int:
        return 0  # nothing held in memory

    def bucket(self, b: int) -> tuple[np.ndarray, ...]:
        lo, hi = int(self.cuts[b]), int(self.cuts[b + 1])
        return tuple(self._read(name, dtype, lo, hi, b) for name, dtype in COLUMNS[self.kind])

    def _read(self, name: str, dtype: str, lo: int, hi: int, b: int) -> np.ndarray:
        width = np.dtype(dtype).itemsize
        with open(self.path / f"{name}.bin", "rb") as f:
            f.seek(lo * width)
            data = f.read((hi - lo) * width)
        if hashlib.sha256(data).hexdigest() != self.sha256[name][b]:
            raise TamperedPart(self.path, name, b)
        return np.frombuffer(data, dtype=dtype)

    def whole(self) -> DayScores | DayLabels:
        """The part in memory (every bucket checked)."""
        buckets = [self.bucket(b) for b in range(self.cuts.size - 1)]
        columns = [np.concatenate(c) for c in zip(*buckets, strict=True)] if buckets else []
        return _MADE[self.kind](*columns)


class PartStore:
    """Kept parts under a local folder."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, fp: str) -> Path:
        return self.root / fp[:2] / fp

    def get(self, fp: str, recorded: set[str]) -> KeptPart | None:
        """The kept part ``fp`` if one is there and its digest is one a run recorded, or the one this
        process wrote (else None)."""
        path = self._path(fp)
        try:
            meta_bytes = (path / META).read_bytes()
        except OSError:
            return None
        digest = hashlib.sha256(meta_bytes).hexdigest()
        if digest not in recorded and _WRITTEN.get(fp) != digest:
            return None
        meta = json.loads(meta_bytes)
        os.utime(path / META)  # read now: kept another KEPT_FOR_DAYS
        cuts = np.asarray(meta["cuts"], dtype="int64")
        return KeptPart(path, meta["kind"], digest, int(meta["rows"]), cuts, meta["sha256"])

    def put(self, fp: str, kind: str, part: DayScores | DayLabels) -> KeptPart:
        """Write ``part`` as ``fp`` (replacing what is there) and return it kept."""
        cuts = bounds(part.hashes)
        sha: dict[str, list[str]] = {}
        final = self._path(fp)
        tmp = final.parent / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        for name, dtype in COLUMNS[kind]:
            data = np.ascontiguousarray(getattr(part, name), dtype=dtype)
            data.tofile(tmp / f"{name}.bin")
            sha[name] = [hashlib.sha256(data[lo:hi].data).hexdigest() for lo, hi in itertools.pairwise(cuts)]
        meta = {
            "version": VERSION,
            "kind": kind,
            "rows": int(part.hashes.size),
            "cuts": cuts.tolist(),
            "sha256": sha,
        }
        meta_bytes = json.dumps(meta, sort_keys=True).encode()
        (tmp / META).write_bytes(meta_bytes)
        _replace(tmp, final)
        self._prune()
        digest = hashlib.sha256(meta_bytes).hexdigest()
        _WRITTEN[fp] = digest
        return KeptPart(final, kind, digest, meta["rows"], cuts, sha)

    def drop(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def _prune(self) -> None:
        """Remove parts not read for KEPT_FOR_DAYS days (and temporary folders a killed writer left), at
        most once an hour per process."""
        global _pruned_at
        if time.time() - _pruned_at < 3_600:
            return
        _pruned_at = time.time()
        old = time.time() - KEPT_FOR_DAYS * 86_400
        for meta in self.root.glob(f"*/*/{META}"):
            try:
                if meta.stat().st_mtime < old:
                    shutil.rmtree(meta.parent, ignore_errors=True)
            except OSError:
                continue
        for tmp in self.root.glob("*/.tmp-*"):
            try:
                if tmp.stat().st_mtime < time.time() - 86_400:
                    shutil.rmtree(tmp, ignore_errors=True)
            except OSError:
                continue


def _replace(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``, moving a part already there aside first."""
    try:
        os.rename(tmp, final)
        return
    except OSError:
        pass
    aside = final.parent / f".tmp-{uuid.uuid4().hex}"
    with contextlib.suppress(OSError):
        os.rename(final, aside)
    try:
        os.rename(tmp, final)
    except OSError:  # another writer put the same part in place meanwhile: its bytes are these
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(aside, ignore_errors=True)


def forget_written() -> None:
    """Trust no part this process wrote (a kept part was found changed; or a fresh process's state)."""
    _WRITTEN.clear()


@dataclass
class Keep:
    """How a read keeps its days' parts: the store (None: only this process's memory), the digests the
    model's runs recorded per part fingerprint (what a kept part may be), and, filled in by the read, the
    digest of every kept part it used (for the run's lineage)."""

    store: PartStore | None
    recorded: dict[str, set[str]] = field(default_factory=dict)
    used: dict[str, str] = field(default_factory=dict)


def obtain(key: tuple, make: Callable[[], DayScores | DayLabels], keep: Keep | None):
    """The part of ``key``: from this process's memory, else kept on disk and recorded by a run, else
    made (read from the day's objects) and kept. A part too large for the memory bound is returned as
    its kept copy, so a run holds only the buckets it is joining."""
    if keep is None or keep.store is None:
        return day_parts.CACHE.get_or_make(key, make)
    fp = fingerprint(key)
    found = day_parts.CACHE.get(key)
    if found is not None and found[1] is not None:
        keep.used[fp] = found[1]
        return found[0]
    kept = keep.store.get(fp, keep.recorded.get(fp, set()))
    if kept is not None:
        keep.used[fp] = kept.digest
        return kept
    if found is not None:
        part = found[0]
    else:
        with day_parts.MAKING:
            part = make()
    try:
        kept = keep.store.put(fp, key[0], part)
    except OSError as exc:  # a full or read-only disk: the run goes on with the part in memory
        log.warning(
            "day parts are not kept under %s (%s): set MRM_PART_CACHE to a writable folder",
            keep.store.root,
            exc,
        )
        day_parts.CACHE.add(key, part)
        return part
    keep.used[fp] = kept.digest
    if day_parts.CACHE.keeps(part):
        day_parts.CACHE.add(key, part, kept.digest)
        return part
    return kept
