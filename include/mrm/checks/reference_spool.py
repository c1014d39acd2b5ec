"""A reference window of a source without stable Parquet files (Athena, SageMaker capture) spooled to
local Parquet files, a day at a time, so its profile is built column by column
(:func:`~mrm.checks.engine.profiling.profile_from_files`) instead of from the window held as one frame.

Each day is taken from the source's own day stream (:meth:`~mrm.sources.base.ScoringLogSource.day_input`:
decoded record batches, or Parquet result objects read batch by batch), each batch conformed to the
scoring-log contract as a frame read whole is (:func:`~mrm.sources.contract.conform`, through pandas)
and appended to the day's file as one row group; only the required columns are written. Memory while
spooling: one batch (at most 256k rows of a Parquet result, or a capture part) and its conformed copy,
whatever the window's size; the profile then holds about two float64 copies of one column of the
window. Disk: the window's required columns, compressed, in a temporary folder removed on leaving.
Measured (bench/bench_reference_spool.py, capture CSV, 500k rows a day): peak RSS 0.67 GB for 2M rows
and 0.63 GB for 4M, against 1.68 GB and 2.63 GB with the window read whole; the same profile bytes.

What :func:`mrm.checks.reference.read_reference` records about the window (rows per day, nulls of the
required columns, the days without data, the source's objects read) is counted as the batches pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mrm.core.storage import ObjectInfo, local_copies
from mrm.errors import NoDataError
from mrm.sources.contract import conform, required_columns

if TYPE_CHECKING:
    import pyarrow as pa

    from mrm.inventory import ModelEntry
    from mrm.sources.base import DayInput

BATCH_ROWS = 262_144  # rows per record batch read from a Parquet result object


class NotSpoolable(Exception):
    """The source counts its days itself and offers no stream of their rows (``rows_input``)."""


@dataclass
class Spooled:
    """The spooled window: its local files by day, and what was counted while spooling."""

    files_by_day: dict[date, list[ObjectInfo]] = field(default_factory=dict)
    source_files: list[ObjectInfo] = field(default_factory=list)
    daily: dict[date, int] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)
    missing: list[date] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.daily.values())

    def info(self, entry: ModelEntry) -> dict[str, Any]:
        """What :func:`~mrm.checks.reference.read_reference` returns about the same window."""
        from mrm.checks.engine.profiling import reference_info

        return reference_info(entry, self.source_files, self.rows, self.daily, self.nulls, self.missing)


@contextmanager
def spooled_window(entry: ModelEntry, source, days: list[date]) -> Iterator[Spooled]:
    """The window's days spooled to a temporary folder (removed on leaving). NoDataError if no day has
    rows; NotSpoolable for a source without a day stream (the caller reads the window whole)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mrm_reference_") as folder:
        spooled = Spooled(nulls=dict.fromkeys(required_columns(entry), 0))
        for day in days:
            try:
                day_input = source.day_input(day)
            except NoDataError:
                spooled.missing.append(day)
                continue
            if day_input.pushdown is not None:  # the source counts its days: spool its rows instead
                if not hasattr(source, "rows_input"):
                    raise NotSpoolable(day_input.where)
                day_input = source.rows_input(day)
            try:
                paths, rows = _spool_day(day_input, entry, Path(folder) / day.isoformat(), spooled.nulls)
            except NoDataError:
                paths, rows = [], 0
            if not rows:
                spooled.missing.append(day)
                continue
            spooled.daily[day] = rows
            spooled.source_files.extend(day_input.files)
            spooled.files_by_day[day] = [_local(p) for p in paths]
        if not spooled.daily:
            ref = entry.monitoring.reference
            raise NoDataError(
                f"{entry.model_id}: no reference scoring log rows at all for {ref.start}..{ref.end} "
                f"({source.cache_key}); point the inventory's reference window at days with data, then rerun"
            )
        yield spooled


def _spool_day(day_input: DayInput, entry: ModelEntry, stem: Path, nulls: dict[str, int]) -> tuple[list, int]:
    """Write the day's conformed rows to ``<stem>-<k>.parquet``, a row group per batch: (the files, the
    rows written). A new file is begun only when a column all null so far (Arrow type null) gets values.
    ``nulls`` gets each required column's nulls added."""
    import pyarrow.parquet as pq

    wanted = required_columns(entry)
    writer, rows, paths = None, 0, []
    try:
        for table in _conformed(day_input, entry):
            if not table.num_rows:
                continue
            for c in wanted:
                nulls[c] += table.column(c).null_count
            if writer is not None and not _fits(table.schema, writer.schema):
                writer.close()
                writer = None
            if writer is None:
                paths.append(stem.with_name(f"{stem.name}-{len(paths):04d}.parquet"))
                writer = pq.ParquetWriter(paths[-1], table.schema)
            writer.write_table(_like(table, writer.schema), row_group_size=table.num_rows)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return paths, rows


def _local(path: Path) -> ObjectInfo:
    stat = path.stat()
    return ObjectInfo(path.as_uri(), stat.st_size, f"{stat.st_mtime_ns:x}")


def _fits(schema: pa.Schema, file_schema: pa.Schema) -> bool:
    """A batch of ``schema`` can be written to a file of ``file_schema``: the same types, but for the
    batch's all-null columns."""
    import pyarrow as pa

    return all(f.type == file_schema.field(f.name).type or pa.types.is_null(f.type) for f in schema)


def _conformed(day_input: DayInput, entry: ModelEntry) -> Iterator[pa.Table]:
    """The day's rows, a batch at a time, as the tables a frame read whole becomes after
    :func:`~mrm.sources.contract.conform` (the required columns only)."""
    import pandas as pd
    import pyarrow as pa

    wanted = required_columns(entry)
    for batch in _day_batches(day_input, entry):
        frame = batch if isinstance(batch, pd.DataFrame) else batch.to_pandas()
        frame = conform(frame, entry, day_input.where)[wanted]
        table = pa.Table.from_pandas(frame, preserve_index=False)
        yield table.replace_schema_metadata(None)


def _day_batches(day_input: DayInput, entry: ModelEntry) -> Iterator:
    """The day's record batches however its source gives them (as :func:`mrm.inputs.aggregate` reads a
    day): decoded batches, a frame read whole, or Parquet objects (normalised, batch by batch)."""
    from mrm.sources.parquet_stream import batches, context_of

    if day_input.batches is not None:
        yield from day_input.batches()
        return
    if day_input.frame is not None:
        yield day_input.frame
        return
    with local_copies(day_input.files, prefix="mrm_reference_day_") as copies:
        context = context_of(entry, day_input.where)
        yield from batches(
            copies,
            [*required_columns(entry)],
            batch_rows=BATCH_ROWS,
            seen=set(),
            normalise=day_input.normalise,
            context=context,
            int96_unit=day_input.int96_unit,
        )


def _like(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in the day file's schema (:func:`_fits`): its all-null columns take the file's type."""
    import pyarrow as pa

    if table.schema.equals(schema):
        return table
    columns = []
    for f in schema:
        column = table.column(f.name)
        columns.append(pa.nulls(len(column), f.type) if column.type != f.type else column)
    return pa.table(columns, schema=schema)
