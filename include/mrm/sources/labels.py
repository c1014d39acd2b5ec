"""A model's labels (ground truth): day partitions of ``event_id``, ``label`` and ``label_ts`` under the
inventory's ``labels`` URI, read by the day the labels became known."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from mrm.errors import NoDataError
from mrm.sources.parquet import PartitionedParquet

if TYPE_CHECKING:
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
