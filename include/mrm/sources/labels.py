"""A model's labels (ground truth): day partitions of ``event_id``, ``label`` and ``label_ts`` under the
inventory's ``labels`` URI, read by the day the labels became known."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from mrm.errors import NoDataError, SourceError
from mrm.sources import day_parts
from mrm.sources.day_parts import DayLabels
from mrm.sources.parquet import PartitionedParquet
from mrm.sources.part_store import Keep, obtain

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mrm.inventory import ModelEntry


def known_between(entry: ModelEntry, first: date, last: date) -> pd.DataFrame:
    """Labels that became known between two dates (label partitions); empty if there are none. A day
    whose files cannot be read is skipped."""
    import pandas as pd

    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    try:
        source = PartitionedParquet(entry.monitoring.labels, what="labels")
        return source.read_days(days, skip_unreadable=True).frame
    except NoDataError:
        return pd.DataFrame({"event_id": [], "label": [], "label_ts": []})


def label_files_by_day(entry: ModelEntry, first: date, last: date) -> dict:
    """The label objects of each day ``first``..``last`` in day order (one listing per month on S3); a
    day whose objects cannot be listed maps to None."""
    source = PartitionedParquet(entry.monitoring.labels, what="labels")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    try:
        return source.files_by_day(days)
    except SourceError:  # listed day by day, so that only the days that cannot be listed are skipped
        out = {}
        for day in days:
            try:
                out[day] = source.files(day)
            except SourceError:
                out[day] = None
        return out


def latest_known(entry: ModelEntry, first: date, last: date, known_by: date, among: np.ndarray):
    """The latest label known by the end of ``known_by`` (UTC) of each event among the ``among`` hashes
    (ascending, :func:`mrm.sources.scores.event_hashes`), from the label partitions of ``first``..``last``:
    (hashes ascending, labels as float32). Equal label times: the one read last wins. A day whose files
    cannot be read is skipped (as :func:`known_between`)."""
    at, labels = latest_known_at(entry, first, last, known_by, among)
    return among[at], labels


def label_parts(
    entry: ModelEntry, first: date, last: date, by_day: dict | None = None, keep: Keep | None = None
) -> list:
    """The label days ``first``..``last`` as parts sorted by hash (:mod:`mrm.sources.day_parts`), in day
    order (the read order of equal label times), each read once per process, several at once in
    threads (and once per worker with ``keep``: :mod:`mrm.sources.part_store`); ``by_day``: their
    objects (:func:`label_files_by_day`), if already listed. A day that
    cannot be listed or read, or has no label, is skipped (as :func:`known_between`)."""

    def read(files: list | None) -> DayLabels | None:
        return _day_labels(files, entry, keep) if files is not None else None

    by_day = by_day if by_day is not None else label_files_by_day(entry, first, last)
    parts = []
    for part, exc in day_parts.each(read, by_day.values()):  # in day order
        if isinstance(exc, SourceError):
            continue
        if exc is not None:
            raise exc
        if part is not None and part.rows:
            parts.append(part)
    return parts


def latest_known_at(entry: ModelEntry, first: date, last: date, known_by: date, among: np.ndarray):
    """:func:`latest_known` as (positions in ``among`` ascending, labels)."""
    days = [(p.hashes, p.ns, p.known, p.labels) for p in label_parts(entry, first, last)]  # in memory
    return latest_of(among, days, cutoff_ns(known_by))


def cutoff_ns(known_by: date) -> int:
    """The first instant after ``known_by`` (midnight UTC of the next day), in nanoseconds."""
    return _ns(known_by + timedelta(days=1))


def latest_of(among: np.ndarray, days: list[tuple[np.ndarray, ...]], cutoff: int, *, ordered: bool = True):
    """(positions in ``among``, labels as float32): each event of ``among`` (hashes ascending) with its
    latest label known before ``cutoff`` among the label days' ``(hashes ascending, ns, known, labels)``
    in read order; equal times: the one read last wins. ``ordered``: the positions ascending (else in
    no stated order, each once). Held meanwhile: 20 bytes per matched label and one byte per event of
    ``among``."""
    import numpy as np

    kept = []
    repeated = False  # an event with labels in several reads: resolved by time below
    seen = np.zeros(among.size, dtype=bool)
    for hashes, ns, known, labels in days:
        if not hashes.size or not among.size:
            continue
        at = np.minimum(np.searchsorted(among, hashes), among.size - 1)  # ascending keys: cache-friendly
        keep = (among[at] == hashes) & known & (ns < cutoff)
        if not keep.any():
            continue
        at = at[keep]
        repeated = repeated or bool(seen[at].any()) or bool((at[1:] == at[:-1]).any())
        seen[at] = True
        kept.append((at, ns[keep], labels[keep]))
    del seen
    if not kept:
        return np.zeros(0, dtype="int64"), np.zeros(0, dtype="float32")
    at, when, labels = (np.concatenate(column) for column in zip(*kept, strict=True))
    kept.clear()
    if repeated:  # by position, then time; stable, so equal times stay in read order: the last one wins
        order = np.lexsort((when, at))
        at, labels = at[order], labels[order]
        last_of_each = np.append(at[1:] != at[:-1], True)
        return at[last_of_each], labels[last_of_each]
    if not ordered:
        return at, labels
    order = np.argsort(at, kind="stable")  # each day's positions ascend already: runs merged
    return at[order], labels[order]


def _ns(day: date) -> int:
    """Nanoseconds since the epoch of midnight UTC starting ``day``."""
    return (day - date(1970, 1, 1)).days * 86_400 * 1_000_000_000


def _day_labels(files: list, entry: ModelEntry, keep: Keep | None = None):
    """One label day's labels sorted by hash, read once per process for the objects' identity (and kept
    on disk with ``keep``)."""

    def make() -> DayLabels:
        return _read_day_labels(files)

    return obtain(day_parts.key("labels", entry.fingerprint(), files), make, keep)


def _read_day_labels(files: list) -> DayLabels:
    import numpy as np

    from mrm.core.storage import local_copies
    from mrm.sources.contract import numeric_values
    from mrm.sources.parquet_stream import batches
    from mrm.sources.scores import event_hashes

    columns = ("event_id", "label", "label_ts")
    parts = []
    with local_copies(files, prefix="mrm_labels_") as copies:
        for batch in batches(copies, columns, batch_rows=262_144, seen=set()):
            if not set(columns) <= set(batch.schema.names) or not batch.num_rows:
                continue
            ns, known = _instants(batch.column("label_ts"))
            values = numeric_values(batch.column("label"))  # None: not numeric, no class a label can hold
            labels = np.full(batch.num_rows, np.nan, "float32") if values is None else values.astype("f4")
            parts.append((event_hashes(batch.column("event_id")), ns, known, labels))
    if not parts:
        return DayLabels(np.zeros(0, "u8"), np.zeros(0, "i8"), np.zeros(0, bool), np.zeros(0, "f4"))
    hashes, ns, known, labels = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = day_parts.hash_order(hashes, stable=True)  # an event's labels stay in file and row order
    return DayLabels(hashes[order], ns[order], known[order], labels[order])


def _instants(column) -> tuple[np.ndarray, np.ndarray]:
    """(nanoseconds since the epoch, known) of label times: an Arrow timestamp as stored (UTC instants;
    without a zone, read as UTC), anything else parsed as ISO 8601 by pandas (an offset is honoured)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_timestamp(column.type):
        ns = column.cast(pa.timestamp("ns", tz=column.type.tz)).cast(pa.int64()).fill_null(0)
        return ns.to_numpy(), np.asarray(column.is_valid())
    when = pd.to_datetime(column.to_pandas(), utc=True, format="ISO8601")  # as known_between
    return pd.DatetimeIndex(when).as_unit("ns").asi8, np.asarray(when.notna())
