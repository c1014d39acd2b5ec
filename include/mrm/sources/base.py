"""What every scoring-log source gives the pipeline: the :class:`ScoringLogSource` protocol, the rows it
reads (:class:`DayData`) and the day it locates for a run (:class:`DayInput`).

A source is built for one inventory entry by :func:`mrm.sources.registry.source_for`, so its methods take
days only. Each source decides how its day is found, streamed and identified; the pipeline never asks
which kind it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from mrm.errors import NoDataError, SourceError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from mrm.core.storage import ObjectInfo
    from mrm.inventory import ModelEntry


@dataclass
class DayData:
    """Rows of one or more days, and the objects they were read from."""

    frame: pd.DataFrame
    files: list[ObjectInfo]
    missing_days: list[date] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # read_days(skip_unreadable=True): the reasons

    def only(self, columns: Sequence[str] | None) -> DayData:
        """Keep only ``columns`` (and ``_dt``) of the frame; all of them when ``columns`` is None."""
        if columns is not None:
            self.frame = self.frame[[c for c in self.frame.columns if c in {*columns, "_dt"}]]
        return self


@dataclass
class DayInput:
    """The day's scoring log as a source located it for a run: Parquet objects to stream in record
    batches (a partition, or an Athena UNLOAD result with its ``normalise``); ``batches``, a source that
    decodes the day itself streamed as Arrow record batches of bounded size (SageMaker capture, Athena
    CSV results); or ``frame``, the rows already read and conformed."""

    entry: ModelEntry
    day: date
    where: str  # names the day's data in messages
    files: list[ObjectInfo]
    frame: Any = None
    normalise: Callable | None = None  # applied to each record batch first (an Athena result's)
    empty: str = ""  # the message when the files hold no rows
    pushdown: Any = None  # the source counts the day itself (Athena pushdown: sources.athena.pushdown)
    batches: Callable[[], Iterator[pa.RecordBatch]] | None = None  # the day decoded as it is read
    int96_unit: str = "ns"  # the unit the Parquet objects' INT96 timestamps are read at (read_days' unit)

    @classmethod
    def of_frame(cls, entry: ModelEntry, day: date, where: str, data: DayData) -> DayInput:
        """A day a source read whole, checked against the scoring-log contract."""
        from mrm.sources.contract import conform

        return cls(entry, day, where, data.files, conform(data.frame, entry, where))


class ScoringLogSource(Protocol):
    """One model's scoring log, whatever holds it. Built by a factory ``(entry, what) -> source``
    registered in :data:`mrm.sources.registry.SOURCES`; ``what`` names the data in messages
    ("scoring log", "reference scoring log")."""

    @property
    def cache_key(self) -> str:
        """Identifies the source in per-process caches (and names it in messages)."""
        ...

    def describe(self, day: date) -> str:
        """Where the day's data is, for messages: ``scoring log s3://.../dt=2026-09-01/``."""
        ...

    def identity(self, days: list[date]) -> dict[str, Any]:
        """What reading these days depends on, found without reading them (the reference profile's cache
        key): the objects' URIs, sizes and ETags, or for Athena the SQL and its parameters."""
        ...

    def reference_files(self, days: list[date]) -> dict[date, list[ObjectInfo]] | None:
        """The Parquet objects of these days by day, to profile a reference window column by column;
        None when the source has no stable Parquet files (the window is then read whole, once)."""
        ...

    def day_input(self, day: date) -> DayInput:
        """Locate the day a run aggregates; NoDataError (naming the place) if it has no data."""
        ...

    def read_days(
        self, days: list[date], *, skip_unreadable: bool = False, columns: Sequence[str] | None = None
    ) -> DayData:
        """Rows of several days with their ``_dt``; days without data are reported in ``missing_days``
        (NoDataError if none has any). ``skip_unreadable``: skip a day that cannot be read and report
        its reason. ``columns``: only these (and ``_dt``)."""
        ...


SourceFactory = Callable[["ModelEntry", str], ScoringLogSource]


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


def concat_days(
    read: list[tuple[date, DayData]], missing: list[date], unreadable: list[str], nothing: str
) -> DayData:
    """The days :func:`read_each_day` read as one frame; NoDataError(``nothing``) if it read none."""
    import pandas as pd

    if not read:
        raise NoDataError(nothing)
    frame = pd.concat([data.frame for _, data in read], ignore_index=True)
    return DayData(frame, [f for _, data in read for f in data.files], missing, unreadable)


def files_identity(files: list[ObjectInfo]) -> dict[str, Any]:
    """A source's identity when its data are files: their URIs, sizes and ETags."""
    from mrm.evidence.writer import fingerprint

    return {"files": fingerprint(files)}
