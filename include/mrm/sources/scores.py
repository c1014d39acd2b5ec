"""A cohort's scores in compact form: for each distinct event, a 64-bit hash of its ``event_id`` and the
score it was first logged with; nothing else is read, and no row is held as Python objects.

- **Reading**: of a day-partitioned Parquet source, only the ``event_id`` and ``score`` columns, record
  batch by record batch (objects not on local disk are first streamed to a temporary folder); of a
  source without stable files (Athena, SageMaker capture), its frame of those two columns, hashed and
  dropped.
- **Hash**: FNV-1a 64 of the id's UTF-8 text with MurmurHash3's finaliser (:func:`event_hashes`,
  vectorised over the Arrow buffers; an integer id hashes as its decimal text): stable across
  processes, machines and versions. Two distinct ids (scored or labelled) share a hash with probability
  about k²/2⁶⁵ among k ids: 1.3·10⁻⁶ at 7M (a 7-day cohort of 1M a day), 1.3·10⁻⁴ at 70M. A collision
  makes two events count as one (the later dropped as a duplicate) or gives an event another's label:
  one row of the cohort changes.
- **Duplicates**: an event logged more than once counts once, with the score of its first occurrence
  in day, file and row order (as ``drop_duplicates("event_id")`` on the days' rows).
- **Days**: each day is reduced to its distinct events (sorted by hash) once per process
  (:mod:`mrm.sources.day_parts`), two days at a time in threads; the days are then merged in day order.
- **Memory**: 16 bytes per distinct event of each day, about 40 more per row while the days are merged
  (the joined hashes and scores, the merge order, the sorted hashes), then 16 per distinct event. Never
  a Python object per row: ids are hashed from the Arrow buffers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from mrm.errors import NoDataError, SchemaError, SourceError
from mrm.sources import day_parts
from mrm.sources.contract import check_batch_types, check_columns, conform
from mrm.sources.day_parts import DayScores
from mrm.sources.part_store import Keep, KeptPart, obtain

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from mrm.inventory import ModelEntry

SCORE_COLUMNS = ("event_id", "score")  # all that outcome analysis needs of the scoring log
BATCH_ROWS = 262_144


_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)


def event_hashes(ids) -> np.ndarray:
    """uint64 hashes of event ids (an Arrow array, a pandas Series or a sequence), of their UTF-8 text
    (an integer id hashes as its decimal text, a null id as the empty text): FNV-1a over the bytes, then
    MurmurHash3's 64-bit finaliser over (hash ^ length), computed a byte position at a time across all
    the ids with numpy, so no id becomes a Python object."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(ids, pa.ChunkedArray | pa.Array):
        ids = pa.array(["" if v is None or v != v else str(v) for v in ids], type=pa.string())
    text = pc.fill_null(pc.cast(ids, pa.large_string()), "")
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    _, offsets_buffer, data_buffer = text.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype="int64")[text.offset : text.offset + len(text) + 1]
    data = np.frombuffer(data_buffer, dtype="uint8") if data_buffer is not None else np.zeros(0, "uint8")
    starts, lengths = offsets[:-1], np.diff(offsets)
    hashes = np.full(len(text), _FNV_OFFSET, dtype="uint64")
    width = int(lengths[0]) if len(text) and (lengths == lengths[0]).all() else -1
    with np.errstate(over="ignore"):
        if width >= 0:  # ids of one length (the usual case): the bytes as a matrix, no gathering
            matrix = data[offsets[0] : offsets[-1]].reshape(len(text), width)
            for j in range(width):
                hashes = (hashes ^ matrix[:, j]) * _FNV_PRIME
            return _fmix64(hashes ^ lengths.astype("uint64"))
        for j in range(int(lengths.max(initial=0))):
            live = lengths > j
            if live.all():
                hashes = (hashes ^ data[starts + j]) * _FNV_PRIME
            else:
                rows = np.flatnonzero(live)
                hashes[rows] = (hashes[rows] ^ data[starts[rows] + j]) * _FNV_PRIME
        return _fmix64(hashes ^ lengths.astype("uint64"))


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: every input bit affects every output bit."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


@dataclass
class CompactScores:
    """Distinct events of some days as the days' parts (:class:`DayScores`, in day order: an event seen
    on several days keeps the earliest day's score), the days without data and the reasons of the
    unreadable ones. ``hashes`` and ``scores``: the days merged (ascending, NaN for a null score), made
    on first use (a single day's are its own); outcome analysis joins the parts bucket by bucket
    instead (:mod:`mrm.checks.cohort_join`)."""

    parts: list[DayScores]
    missing_days: list[date] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @cached_property
    def _merged(self) -> tuple[np.ndarray, np.ndarray]:
        return merged(list(self.parts)) if self.parts else (np.zeros(0, dtype="uint64"), np.zeros(0))

    @property
    def hashes(self) -> np.ndarray:
        return self._merged[0]

    @property
    def scores(self) -> np.ndarray:
        return self._merged[1]

    def __len__(self) -> int:
        return int(self.hashes.size)


def first_occurrences(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(distinct hashes ascending, the score of each one's first occurrence) of (hashes, scores) parts in
    order. The parts list is emptied as they are joined."""
    if not parts:
        return np.zeros(0, dtype="uint64"), np.zeros(0)
    hash_parts, score_parts = [h for h, _ in parts], [s for _, s in parts]
    parts.clear()
    hashes = np.concatenate(hash_parts)
    hash_parts.clear()  # each column's parts freed as soon as it is joined
    scores = np.concatenate(score_parts)
    score_parts.clear()
    order = day_parts.hash_order(hashes)  # not stable: the first occurrence is each hash's least position
    ordered = hashes[order]
    del hashes
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    return ordered[starts], scores[np.minimum.reduceat(order, starts)]


def found_in(sorted_hashes: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Which of ``hashes`` are among ``sorted_hashes`` (ascending); looked up in ascending order, which
    keeps numpy's binary searches in cache."""
    if sorted_hashes.size == 0 or hashes.size == 0:
        return np.zeros(hashes.size, dtype=bool)
    order = np.argsort(hashes)
    at = np.minimum(np.searchsorted(sorted_hashes, hashes[order]), sorted_hashes.size - 1)
    found = np.empty(hashes.size, dtype=bool)
    found[order] = sorted_hashes[at] == hashes[order]
    return found


def _batch_part(batch: pa.RecordBatch, entry: ModelEntry, where: str) -> tuple[np.ndarray, np.ndarray]:
    from mrm.sources.contract import numeric_values

    check_batch_types(batch, entry, where)
    scores = numeric_values(batch.column("score"))
    return event_hashes(batch.column("event_id")), np.asarray(scores, dtype="float64")


def _day_parts(files: list, entry: ModelEntry, where: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(hashes, scores) of each record batch of one day's Parquet files."""
    from mrm.core.storage import local_copies
    from mrm.sources.parquet_stream import batches, context_of

    seen: set[str] = set()
    with local_copies(files, prefix="mrm_scores_") as copies:
        context = context_of(entry, where)
        for batch in batches(copies, SCORE_COLUMNS, batch_rows=BATCH_ROWS, seen=seen, context=context):
            check_columns(batch.schema.names, entry, where, SCORE_COLUMNS)
            yield _batch_part(batch, entry, where)
        check_columns(seen, entry, where, SCORE_COLUMNS)


def _frame_part(frame: pd.DataFrame, entry: ModelEntry, where: str) -> tuple[np.ndarray, np.ndarray]:
    frame = conform(frame, entry, where, columns=SCORE_COLUMNS)
    return event_hashes(frame["event_id"]), frame["score"].to_numpy(dtype="float64")


def read_scores(
    source,
    entry: ModelEntry,
    days: list[date],
    what: str,
    *,
    skip_unreadable: bool = False,
    files_by_day: dict | None = None,
    keep: Keep | None = None,
) -> CompactScores:
    """The distinct events of ``days`` and their first scores. ``skip_unreadable``: a day whose files
        cannot be read is skipped and its reason kept (a performance cohort); otherwise it raises.
        NoDataError if no day has any row. ``files_by_day``: the source's ``reference_files(days)``, if
        already listed. Each day's part is computed once per process (:mod:`mrm.sources.day_parts`) and, with
    ``keep``, once per worker (:mod:`mrm.sources.part_store`)."""
    files_by_day = files_by_day if files_by_day is not None else source.reference_files(days)
    if files_by_day is None:  # no stable files: the source reads the days as one frame
        data = source.read_days(days, skip_unreadable=skip_unreadable, columns=SCORE_COLUMNS)
        part = DayScores(*first_occurrences([_frame_part(data.frame, entry, what)]))
        kept = [part] if part.hashes.size else []
        return CompactScores(kept, list(data.missing_days), list(data.unreadable))
    parts: list = []
    missing, unreadable = [], []
    listed = [(day, files_by_day.get(day)) for day in days]
    read = day_parts.each(lambda d: day_scores(d[1], entry, f"{what} {d[0]}", keep) if d[1] else None, listed)
    for (day, _), (part, exc) in zip(listed, read, strict=True):  # in day order, as if read one by one
        if isinstance(exc, SourceError):
            if not skip_unreadable or isinstance(exc, NoDataError | SchemaError):  # the contract fails
                raise exc
            unreadable.append(str(exc))
            continue
        if exc is not None:
            raise exc
        if part is None or not part.rows:
            missing.append(day)  # no partition, or an empty one: no event
            continue
        parts.append(part)
    if not parts:
        raise NoDataError(f"no scoring log rows at all for {days[0]}..{days[-1]} of model {entry.model_id}")
    return CompactScores(parts, missing, unreadable)


def day_scores(files: list, entry: ModelEntry, where: str, keep: Keep | None = None) -> DayScores | KeptPart:
    """One day's distinct events and first scores, read once per process for the objects' identity
    (and kept on disk with ``keep``)."""

    def make() -> DayScores:
        return DayScores(*first_occurrences([p for p in _day_parts(files, entry, where) if p[0].size]))

    return obtain(day_parts.key("scores", entry.fingerprint(), files), make, keep)


def merged(parts: list[DayScores]) -> tuple[np.ndarray, np.ndarray]:
    """(distinct hashes ascending, each one's score in the earliest part holding it) of days' parts in
    day order; the list is emptied once they are joined. Each part is sorted already, so the stable sort
    of their concatenation only merges runs (timsort), and equal hashes stay in day order."""
    parts[:] = [p.whole() if isinstance(p, KeptPart) else p for p in parts]
    if len(parts) == 1:
        return parts[0].hashes, parts[0].scores
    hashes = np.concatenate([p.hashes for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    parts.clear()  # the days' own arrays freed (unless the part cache keeps them): 16 bytes a row less
    order = np.argsort(hashes, kind="stable")
    hashes = hashes[order]
    first = np.empty(hashes.size, dtype=bool)
    first[0] = True
    np.not_equal(hashes[1:], hashes[:-1], out=first[1:])
    keep = order[first]
    del order
    return hashes[first], scores[keep]


def compact_frame(frame: pd.DataFrame, entry: ModelEntry, what: str) -> CompactScores:
    """The distinct events of a frame already read (e.g. a reference window read whole, once)."""
    part = DayScores(*first_occurrences([_frame_part(frame, entry, what)]))
    return CompactScores([part] if part.hashes.size else [])
