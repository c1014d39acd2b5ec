"""Day-partitioned Parquet: ``<prefix>/dt=YYYY-MM-DD/*.parquet`` on S3 or a local folder."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from mrm.core.storage import ObjectInfo, join, store_for
from mrm.errors import NoDataError, SourceError

if TYPE_CHECKING:
    import pandas as pd


_TABLES: dict[tuple[str, int, str], object] = {}  # insertion-ordered: the oldest entry is evicted first
_CACHE_ENTRIES = 256
_CACHE_MAX_OBJECT = 4 * 1024 * 1024  # bytes; large daily files are never cached


@dataclass
class DayData:
    frame: pd.DataFrame
    files: list[ObjectInfo]
    missing_days: list[date] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # read_days(skip_unreadable=True): the reasons


def read_each_day(
    read_day: Callable[[date], DayData], days: list[date], *, skip_unreadable: bool = False
) -> tuple[list[tuple[date, DayData]], list[date], list[str]]:
    """``read_day`` for each day: (the days read, the days without data, the reasons of the days that
    could not be read and were skipped: only with ``skip_unreadable``, else the error is raised)."""
    read, missing, unreadable = [], [], []
    for day in days:
        try:
            read.append((day, read_day(day)))
        except NoDataError:
            missing.append(day)
        except SourceError as exc:
            if not skip_unreadable:
                raise
            unreadable.append(str(exc))
    return read, missing, unreadable


class PartitionedParquet:
    def __init__(self, uri: str, *, what: str = "scoring log"):
        self.uri = uri
        self.what = what
        self.store = store_for(uri)

    def partition_uri(self, day: date) -> str:
        return join(self.uri, f"dt={day.isoformat()}") + "/"

    def files(self, day: date) -> list[ObjectInfo]:
        return [o for o in self.store.list(self.partition_uri(day)) if o.uri.endswith(".parquet")]

    def _read_file(self, info: ObjectInfo, columns: Sequence[str] | None = None):
        """One Parquet object as an Arrow table (``columns``: only those of them it has). Small objects are
        cached per process by URI, size, ETag (a changed object has another ETag) and columns, since runs
        re-read overlapping cohorts and labels."""
        key = (info.uri, info.size, info.etag, None if columns is None else tuple(columns))
        if key in _TABLES:
            return _TABLES[key]
        table = self._parse(info, columns)
        if info.size <= _CACHE_MAX_OBJECT:
            if len(_TABLES) >= _CACHE_ENTRIES:
                _TABLES.pop(next(iter(_TABLES)))
            _TABLES[key] = table
        return table

    def _parse(self, info: ObjectInfo, columns: Sequence[str] | None = None):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            if columns is None:
                return pq.read_table(io.BytesIO(self.store.get(info.uri)))
            parquet = pq.ParquetFile(io.BytesIO(self.store.get(info.uri)))
            return parquet.read(columns=[c for c in columns if c in parquet.schema_arrow.names])
        except (pa.ArrowException, OSError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SourceError(
                f"cannot read {self.what} file {info.uri} ({info.size} bytes): not valid Parquet ({reason}); "
                "re-export the partition, then rerun this date"
            ) from None

    def read_day(self, day: date, columns: Sequence[str] | None = None) -> DayData:
        """All rows of one day (``columns``: only these); NoDataError if the partition is missing or empty."""
        import pyarrow as pa

        files = self.files(day)
        if not files:
            raise NoDataError(
                f"no {self.what} partition for {day}: nothing under {self.partition_uri(day)}; "
                "check the upstream export, then rerun this date"
            )
        tables = [self._read_file(f, columns) for f in files]
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
        except pa.ArrowException as exc:
            raise SourceError(
                f"{self.what} files for {day} under {self.uri} disagree on schema: {exc}"
            ) from None
        if table.num_rows == 0:
            raise NoDataError(f"{self.what} partition for {day} at {self.partition_uri(day)} has 0 rows")
        return DayData(table.to_pandas(), files)

    def read_days(
        self, days: list[date], *, skip_unreadable: bool = False, columns: Sequence[str] | None = None
    ) -> DayData:
        """Rows of several days (e.g. a reference window); missing days are reported, not fatal.
        ``skip_unreadable``: a day whose files cannot be read is skipped and its reason reported
        (for a performance cohort; a reference window must read cleanly)."""
        import pandas as pd

        read, missing, unreadable = read_each_day(
            lambda day: self.read_day(day, columns), days, skip_unreadable=skip_unreadable
        )
        frames, files = [], []
        for day, data in read:
            frame = data.frame
            frame["_dt"] = day
            frames.append(frame)
            files.extend(data.files)
        if not frames:
            raise NoDataError(
                f"no {self.what} data at all for {days[0]}..{days[-1]} under {self.uri}; "
                "the reference window in the inventory must point at days that exist"
            )
        return DayData(pd.concat(frames, ignore_index=True), files, missing, unreadable)


def read_files(files: list[dict], what: str = "scoring log") -> pd.DataFrame:
    """Read exactly the objects a run was started with; fail if one changed since (size/ETag)."""
    import pyarrow as pa

    if not files:
        raise NoDataError(f"no {what} files to read")
    source = PartitionedParquet(files[0]["uri"], what=what)
    current = {}
    for f in files:
        parent = f["uri"].rsplit("/", 1)[0] + "/"
        if parent not in current:
            current[parent] = {o.uri: o for o in source.store.list(parent)}
    tables = []
    for f in files:
        now = current[f["uri"].rsplit("/", 1)[0] + "/"].get(f["uri"])
        if now is None or now.size != f["size"] or now.etag != f["etag"]:
            raise SourceError(
                f"{what} file {f['uri']} changed or disappeared while the run was in progress; rerun the date"
            )
        tables.append(source._read_file(now))
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()
