"""A model's labels (ground truth): day partitions of ``event_id``, ``label`` and ``label_ts`` under the
inventory's ``labels`` URI, read by the day the labels became known."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from mrm.errors import NoDataError, SourceError
from mrm.sources import day_parts
from mrm.sources.day_parts import DayLabels
from mrm.sources.parquet import PartitionedParquet

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


def label_files(entry: ModelEntry, first: date, last: date) -> list:
    """The label objects of the days ``first``..``last`` (what :func:`latest_known` reads), in day order;
    a day whose objects cannot be listed has none."""
    by_day = _label_files_by_day(entry, first, last)
    return [f for files in by_day.values() if files is not None for f in files]


def _label_files_by_day(entry: ModelEntry, first: date, last: date) -> dict:
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


def latest_known_at(entry: ModelEntry, first: date, last: date, known_by: date, among: np.ndarray):
    """:func:`latest_known` as (positions in ``among`` ascending, labels). Each label day is read once per
    process (:mod:`mrm.sources.day_parts`, sorted by hash, so matching it to ``among`` is a binary search
    of ascending keys, two days at a time in threads); held meanwhile: 20 bytes per label of an event
    among ``among``, one byte per event of ``among`` and the days being read."""
    import numpy as np

    by_day = _label_files_by_day(entry, first, last)
    cutoff = _ns(known_by + timedelta(days=1))
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    seen = np.zeros(among.size, dtype=bool)
    repeated = False  # an event with labels in several reads: resolved by time below

    def matched(files: list | None):  # the day's labels of events among ``among``, known before the cutoff
        if files is None:  # the day could not be listed: skipped
            return None
        part = _day_labels(files, entry)  # a day whole, or not
        if not part.hashes.size or not among.size:
            return None
        at = np.minimum(np.searchsorted(among, part.hashes), among.size - 1)
        keep = (among[at] == part.hashes) & part.known & (part.ns < cutoff)
        return (at[keep], part.ns[keep], part.labels[keep]) if keep.any() else None

    for found, exc in day_parts.each(matched, by_day.values()):  # in day order: the read order of equal times
        if isinstance(exc, SourceError):
            continue
        if exc is not None:
            raise exc
        if found is None:
            continue
        at = found[0]
        repeated = repeated or bool(seen[at].any()) or bool((at[1:] == at[:-1]).any())
        seen[at] = True
        kept.append(found)
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
    order = np.argsort(at, kind="stable")  # each day's positions ascend already: runs merged
    return at[order], labels[order]


def _ns(day: date) -> int:
    """Nanoseconds since the epoch of midnight UTC starting ``day``."""
    return (day - date(1970, 1, 1)).days * 86_400 * 1_000_000_000


def _day_labels(files: list, entry: ModelEntry) -> DayLabels:
    """One label day's labels sorted by hash, read once per process for the objects' identity."""

    def make() -> DayLabels:
        return _read_day_labels(files)

    return day_parts.CACHE.get_or_make(day_parts.key("labels", entry.fingerprint(), files), make)


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
    order = np.argsort(hashes, kind="stable")
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
