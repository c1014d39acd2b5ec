"""A model's labels (ground truth): day partitions of ``event_id``, ``label`` and ``label_ts`` under the
inventory's ``labels`` URI, read by the day the labels became known."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from mrm.errors import NoDataError, SourceError
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


def latest_known(entry: ModelEntry, first: date, last: date, known_by: date, among: np.ndarray):
    """The latest label known by the end of ``known_by`` (UTC) of each event among the ``among`` hashes
    (ascending, :func:`mrm.sources.scores.event_hashes`), from the label partitions of ``first``..``last``
    streamed batch by batch: (hashes ascending, labels as float32; 20 bytes held per label kept). Labels
    of other events are dropped as they are read, so memory grows with the cohort's labels only. Equal
    label times: the one read last wins. A day whose files cannot be read is skipped (as
    :func:`known_between`)."""
    import numpy as np

    source = PartitionedParquet(entry.monitoring.labels, what="labels")
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    cutoff = _ns(known_by + timedelta(days=1))
    for day in (first + timedelta(days=i) for i in range((last - first).days + 1)):
        try:
            parts.extend(list(_day_labels(source.files(day), among, cutoff)))  # a day whole, or not
        except SourceError:
            continue
    if not parts:
        return np.zeros(0, dtype="uint64"), np.zeros(0)
    columns = [list(column) for column in zip(*parts, strict=True)]
    parts.clear()
    hashes, when, labels = (_joined(column) for column in columns)  # each column's parts freed as joined
    order = np.lexsort((when, hashes))  # by hash, then time; stable, so equal times stay in read order
    del when
    hashes, labels = hashes[order], labels[order]
    del order
    last_of_each = np.append(hashes[1:] != hashes[:-1], True)
    return hashes[last_of_each], labels[last_of_each]


def _joined(pieces: list) -> np.ndarray:
    """The pieces as one array; the list is emptied (so each piece is freed once copied)."""
    import numpy as np

    out = np.concatenate(pieces)
    pieces.clear()
    return out


def _ns(day: date) -> int:
    """Nanoseconds since the epoch of midnight UTC starting ``day``."""
    return (day - date(1970, 1, 1)).days * 86_400 * 1_000_000_000


def _day_labels(files: list, among: np.ndarray, cutoff: int):
    """(hashes, label times in ns, labels) of one day's label files, only events among ``among`` and
    labels known before ``cutoff``."""
    import numpy as np

    from mrm.core.storage import local_copies
    from mrm.sources.contract import numeric_values
    from mrm.sources.parquet_stream import batches
    from mrm.sources.scores import event_hashes, found_in

    columns = ("event_id", "label", "label_ts")
    with local_copies(files, prefix="mrm_labels_") as copies:
        for batch in batches(copies, columns, batch_rows=262_144, seen=set()):
            if not set(columns) <= set(batch.schema.names):
                continue
            hashes = event_hashes(batch.column("event_id"))
            ours = found_in(among, hashes)
            ns, known = _instants(batch.column("label_ts"))
            keep = ours & known & (ns < cutoff)
            if keep.any():
                labels = numeric_values(batch.column("label"))
                yield hashes[keep], ns[keep], np.asarray(labels, dtype="float32")[keep]  # 0/1 exact


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
