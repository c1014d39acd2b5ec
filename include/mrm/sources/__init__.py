"""Where scoring logs and labels come from. A source is chosen by the URI in the inventory."""

from __future__ import annotations

from mrm.sources.parquet import DayData, PartitionedParquet

__all__ = ["DayData", "PartitionedParquet"]
