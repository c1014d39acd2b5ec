"""Day-partitioned Parquet: ``<prefix>/dt=YYYY-MM-DD/*.parquet`` on S3 or a local folder."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from mrm.core.storage import LocalStore, ObjectInfo, join, store_for
from mrm.errors import NoDataError, SourceError
from mrm.sources.base import DayData, DayInput, concat_days, files_identity, read_each_day

if TYPE_CHECKING:
    from mrm.inventory import ModelEntry


_TABLES: dict[tuple[str, int, str], object] = {}  # insertion-ordered: the oldest entry is evicted first
_CACHE_ENTRIES = 256
_CACHE_MAX_OBJECT = 4 * 1024 * 1024  # bytes; large daily files are never cached


class PartitionedParquet:
    """The day partitions under ``uri`` (a scoring log, or labels). ``entry``: the model whose scoring
    log this is (:meth:`from_entry`), which :meth:`day_input` hands to the run."""

    def __init__(self, uri: str, *, what: str = "scoring log", entry: ModelEntry | None = None):
        self.uri = uri
        self.what = what
        self.entry = entry
        self.store = store_for(uri)

    @classmethod
    def from_entry(cls, entry: ModelEntry, what: str) -> PartitionedParquet:
        return cls(entry.monitoring.scoring_log, what=what, entry=entry)

    @property
    def cache_key(self) -> str:
        return self.uri

    def partition_uri(self, day: date) -> str:
        return join(self.uri, f"dt={day.isoformat()}") + "/"

    def describe(self, day: date) -> str:
        return f"{self.what} {self.partition_uri(day)}"

    def files(self, day: date) -> list[ObjectInfo]:
        return [o for o in self.store.list(self.partition_uri(day)) if o.uri.endswith(".parquet")]

    def files_by_day(self, days: list[date]) -> dict[date, list[ObjectInfo]]:
        """:meth:`files` of each of ``days`` (a day without objects maps to ``[]``), listed afresh. On S3 a
        month's partitions are listed together (one LIST per month of ``days`` instead of one per day:
        a reference window or a label cohort spans 14 to 60 days); objects in the same order."""
        if len(days) < 2 or isinstance(self.store, LocalStore):  # a folder listing costs no request
            return {day: self.files(day) for day in days}
        wanted = {self.partition_uri(day): day for day in days}
        out: dict[date, list[ObjectInfo]] = {day: [] for day in days}
        head = len(join(self.uri, "dt="))
        for month in sorted({day.strftime("%Y-%m") for day in days}):
            for o in self.store.list(join(self.uri, f"dt={month}-")):
                end = o.uri.find("/", head)
                if end > 0 and o.uri.endswith(".parquet") and (day := wanted.get(o.uri[: end + 1])):
                    out[day].append(o)
        return out

    def identity(self, days: list[date]) -> dict[str, Any]:
        by_day = self.files_by_day(days)
        return files_identity([f for d in days for f in by_day[d]])

    def reference_files(self, days: list[date]) -> dict[date, list[ObjectInfo]]:
        """The days' objects by day (days without any are left out); NoDataError if no day has any."""
        found = {day: files for day, files in self.files_by_day(days).items() if files}
        if not found:
            raise NoDataError(self._nothing(days))
        return found

    def day_input(self, day: date) -> DayInput:
        """The partition's objects, to stream; NoDataError if it has none. Every message about the day
        names the model, the day and the partition (or file)."""
        files = self.files(day)
        if not files:
            raise self._no_partition(day)
        where = f"{self.what} of {day} at {self.partition_uri(day)}"
        return DayInput(self.entry, day, where, files, empty=self._empty(day))

    @property
    def _of(self) -> str:
        """Names the model in messages (`` of model <id>``), if the source is a model's."""
        return f" of model {self.entry.model_id}" if self.entry is not None else ""

    def _no_partition(self, day: date) -> NoDataError:
        return NoDataError(
            f"no {self.what} partition for {day}{self._of}: nothing under {self.partition_uri(day)}; "
            "check the upstream export, then rerun this date"
        )

    def _empty(self, day: date) -> str:
        return (
            f"{self.what} partition for {day}{self._of} at {self.partition_uri(day)} has 0 rows; check "
            "that the upstream export wrote the day's rows, then rerun this date"
        )

    def _nothing(self, days: list[date]) -> str:
        return (
            f"no {self.what} data at all for {days[0]}..{days[-1]}{self._of} under {self.uri}; "
            "the reference window in the inventory must point at days that exist"
        )

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
            reason = " ".join(str(exc).split())[:300] if str(exc) else type(exc).__name__
            raise SourceError(
                f"cannot read {self.what} file {info.uri}{self._of} ({info.size} bytes): not valid Parquet "
                f"({reason}); re-export the partition, then rerun this date"
            ) from None

    def read_day(self, day: date, columns: Sequence[str] | None = None) -> DayData:
        """All rows of one day (``columns``: only these); NoDataError if the partition is missing or empty."""
        import pyarrow as pa

        files = self.files(day)
        if not files:
            raise self._no_partition(day)
        tables = [self._read_file(f, columns) for f in files]
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
        except pa.ArrowException as exc:
            reason = " ".join(str(exc).split())[:300]
            raise SourceError(
                f"{self.what} files for {day}{self._of} under {self.uri} disagree on schema: {reason}; "
                "re-export the partition with one schema, then rerun this date"
            ) from None
        if table.num_rows == 0:
            raise NoDataError(self._empty(day))
        return DayData(table.to_pandas(), files)

    def read_days(
        self, days: list[date], *, skip_unreadable: bool = False, columns: Sequence[str] | None = None
    ) -> DayData:
        """Rows of several days (e.g. a reference window); missing days are reported, not fatal.
        ``skip_unreadable``: a day whose files cannot be read is skipped and its reason reported
        (for a performance cohort; a reference window must read cleanly). ``columns``: no other column
        is read."""

        def dated(day: date) -> DayData:
            data = self.read_day(day, columns)
            data.frame["_dt"] = day
            return data

        read, missing, unreadable = read_each_day(dated, days, skip_unreadable=skip_unreadable)
        return concat_days(read, missing, unreadable, self._nothing(days))
