"""The reference window's labelled cohort as per-distinct-score counts, computed once per reference and
kept beside the reference profiles, because every run judges its cohort against it and it is the costly
part of outcome analysis (the window is many days of scores joined to their labels).

- **Fingerprint**: the inventory entry's hash, :data:`VERSION`, and the URI, size and ETag of every
  scoring-log and label object the counts were read from (the window's days; the labels known by its end
  plus the label maturity). Sources without stable files (Athena, capture) have no such identity: their
  counts are computed per process, not kept.
- **Trust**, as for profiles (:mod:`mrm.checks.reference`): ``counts.sha256`` beside the counts holds
  their SHA-256, and each run records the fingerprint and SHA-256 it used in its lineage
  (``inputs.reference_counts``, chained with the run). Counts whose bytes no longer have the hash of
  their record, or (given the history's hashes for the fingerprint) none a run recorded, are not used:
  they are rebuilt from the window, with one warning. The bytes are deterministic (raw ``.npy``,
  zlib level 6), so a rebuild has the first run's hash again.
- **Size**: 24 bytes per distinct score before compression (scores of six decimals: at most 10⁶ values,
  whatever the rows).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zlib

import numpy as np

from mrm.checks.hash_record import unsound
from mrm.checks.performance_counts import ScoreCounts
from mrm.core.storage import ObjectInfo, join, store_for

log = logging.getLogger(__name__)
VERSION = 1
COUNTS_FILE, HASH_FILE = "counts.npy.z", "counts.sha256"


def fingerprint(entry_hash: str, scores: list[ObjectInfo], labels: list[ObjectInfo]) -> str:
    """sha256 of the entry's hash, the version, and the identity of every object read."""

    def ids(objects: list[ObjectInfo]) -> list[list]:
        return [[o.uri, o.size, o.etag] for o in objects]

    doc = {"entry": entry_hash, "version": VERSION, "scores": ids(scores), "labels": ids(labels)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def to_bytes(counts: ScoreCounts) -> bytes:
    """The counts as one structured ``.npy`` array (value, positives, negatives), zlib-compressed."""
    table = np.empty(counts.values.size, dtype=[("value", "<f8"), ("positives", "<i8"), ("negatives", "<i8")])
    table["value"], table["positives"], table["negatives"] = counts.values, counts.positives, counts.negatives
    buf = io.BytesIO()
    np.save(buf, table, allow_pickle=False)
    return zlib.compress(buf.getvalue(), 6)


def from_bytes(data: bytes) -> ScoreCounts:
    table = np.load(io.BytesIO(zlib.decompress(data)), allow_pickle=False)
    return ScoreCounts(
        np.ascontiguousarray(table["value"]),
        np.ascontiguousarray(table["positives"]),
        np.ascontiguousarray(table["negatives"]),
    )


class CountsCache:
    """Counts under ``<uri>/<model_id>/reference-counts/<fingerprint>/`` (a folder or an s3:// prefix)."""

    def __init__(self, uri: str):
        self.uri = uri
        self.store = store_for(uri)

    def _prefix(self, model_id: str, fp: str) -> str:
        return join(self.uri, model_id, "reference-counts", fp)

    def get(self, model_id: str, fp: str, recorded: set[str]) -> tuple[ScoreCounts, str] | None:
        """(the counts, their SHA-256) if kept and intact: their bytes have the hash of their record and,
        when ``recorded`` (the hashes runs recorded for ``fp``) is not empty, one of those."""
        prefix = self._prefix(model_id, fp)
        found = {o.uri.rsplit("/", 1)[1]: o.uri for o in self.store.list(prefix + "/")}
        if COUNTS_FILE not in found:
            return None
        data = self.store.get(found[COUNTS_FILE])
        actual = hashlib.sha256(data).hexdigest()
        why = unsound(self.store, found, HASH_FILE, actual, recorded)
        if not why:
            try:
                return from_bytes(data), actual
            except (ValueError, zlib.error) as exc:
                why = f"cannot be read ({exc})"
        log.warning("reference counts entry %s/ of %s %s; not used, rebuilt from the reference window",
                    prefix, model_id, why)  # fmt: skip
        return None

    def put(self, model_id: str, fp: str, counts: ScoreCounts) -> str:
        """Write the counts and their hash record (the counts last: they mark the entry complete);
        returns their SHA-256."""
        prefix, data = self._prefix(model_id, fp), to_bytes(counts)
        digest = hashlib.sha256(data).hexdigest()
        self.store.put(join(prefix, HASH_FILE), json.dumps({"sha256": digest}).encode(), overwrite=True)
        self.store.put(join(prefix, COUNTS_FILE), data, overwrite=True)
        return digest
