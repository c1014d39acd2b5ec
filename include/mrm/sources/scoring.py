"""A model's scoring log, whatever holds it: day-partitioned Parquet (``scoring_log: s3://...``), an
Athena query (``scoring_log: {athena: {...}}``) or SageMaker Model Monitor data capture
(``scoring_log: {sagemaker_capture: {...}}``). The pipeline and governance only talk to this."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from mrm.sources.parquet import DayData, PartitionedParquet

if TYPE_CHECKING:
    from mrm.inventory import ModelEntry


class ScoringLog:
    def __init__(self, entry: ModelEntry, what: str = "scoring log"):
        self.model_id = entry.model_id
        self.spec = entry.monitoring.scoring_log
        self.what = what
        if isinstance(self.spec, str):
            self.kind, self.source = "parquet", PartitionedParquet(self.spec, what=what)
        elif getattr(self.spec, "athena", None) is not None:
            from mrm.sources.athena import AthenaSource

            self.kind, self.source = "athena", AthenaSource(self.spec.athena, what=what)
        else:
            from mrm.sources.sagemaker_capture import CaptureSource

            features = entry.monitoring.features
            self.kind, self.source = "sagemaker_capture", CaptureSource(self.spec.sagemaker_capture, features)

    @property
    def cache_key(self) -> str:
        """Identifies the source in caches (a URI, or the source's settings)."""
        return self.spec if isinstance(self.spec, str) else self.spec.model_dump_json()

    def describe(self, day: date) -> str:
        if self.kind == "parquet":
            return f"{self.what} {self.source.partition_uri(day)}"
        if self.kind == "athena":
            return f"{self.what} {self.source.describe()} for {day}"
        return f"{self.what} {self.source.day_prefix(day)}"

    def identity(self, days: list[date]) -> dict:
        """What reading these days depends on, found without reading them (for the reference profile's
        cache key): the objects' URIs, sizes and ETags, or for Athena the SQL and its parameters."""
        from mrm.evidence import fingerprint

        if self.kind == "athena":
            return {"athena": self.source.identity(self.model_id, days)}
        return {"files": fingerprint([f for d in days for f in self.source.files(d)])}

    def read_day(self, day: date) -> DayData:
        if self.kind == "parquet":
            return self.source.read_day(day)
        return self.source.read_day(self.model_id, day)

    def read_days(
        self, days: list[date], *, skip_unreadable: bool = False, columns: Sequence[str] | None = None
    ) -> DayData:
        """Rows of several days; ``columns``: only these (and ``_dt``); Parquet reads no other column."""
        if self.kind == "parquet":
            return self.source.read_days(days, skip_unreadable=skip_unreadable, columns=columns)
        data = self.source.read_days(self.model_id, days, skip_unreadable=skip_unreadable)
        if columns is not None:
            data.frame = data.frame[[c for c in data.frame.columns if c in {*columns, "_dt"}]]
        return data
