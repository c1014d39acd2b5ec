"""The engine's entry points: stream a day's Parquet files once, in record batches, into its
:class:`~mrm.checks.engine.day_aggregate.DayAggregate` (:func:`aggregate_day`), the record batches a source
decodes itself (:func:`aggregate_batches`: SageMaker capture, Athena CSV results), or aggregate an
in-memory frame the same way (:func:`aggregate_frame`).

Memory: one record batch, the counts, the sample (default 50,000 rows, seeded) and 8 bytes per event_id.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import TYPE_CHECKING

from mrm.checks.engine.day_aggregate import DayAggregate, DayAggregator
from mrm.checks.engine.profile import ReferenceProfile
from mrm.inventory import ModelEntry
from mrm.sources.contract import categorical_columns, check_batch_types, check_columns, required_columns
from mrm.sources.parquet_stream import batches, context_of, prefetched

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 131_072
SAMPLE_ROWS = 50_000
SEED = 0


def aggregate_day(
    sources: Iterable,
    entry: ModelEntry,
    profile: ReferenceProfile,
    day: date,
    *,
    batch_rows: int = BATCH_ROWS,
    sample_rows: int = SAMPLE_ROWS,
    seed: int = SEED,
    where: str | None = None,
    normalise: Callable | None = None,
) -> DayAggregate:
    """Stream a day's Parquet files (``file://``/``s3://`` URIs, run-context file dicts, local paths or
    bytes) in record batches of ``batch_rows`` and reduce them to a :class:`DayAggregate`.

    ``normalise``: applied to the schema and each batch first (e.g. an Athena result's, which drops its
    partition columns and gives timestamps their zone). Memory: one record batch, the counts, the sample,
    and 8 bytes per event_id. Raises SchemaError
    (message of :func:`mrm.sources.contract.conform`) for missing or non-numeric required columns."""
    import time as clock

    started = clock.perf_counter()
    where = where or f"scoring log of {day.isoformat()}"
    sources = list(sources)
    agg = DayAggregator(entry, profile, day, sample_rows, seed)
    read = batches(
        sources,
        required_columns(entry),
        dictionary=categorical_columns(entry),
        batch_rows=batch_rows,
        seen=agg.columns,
        normalise=normalise,
        context=context_of(entry, where),
    )
    _count(prefetched(read), agg, entry, where)
    info = {
        "files": len(sources),
        "batch_rows": batch_rows,
        "seconds": round(clock.perf_counter() - started, 3),
    }
    return agg.finish(day, info)


def aggregate_batches(
    stream: Iterable[pa.RecordBatch],
    entry: ModelEntry,
    profile: ReferenceProfile,
    day: date,
    *,
    batch_rows: int = BATCH_ROWS,
    sample_rows: int = SAMPLE_ROWS,
    seed: int = SEED,
    where: str | None = None,
    files: int = 0,
) -> DayAggregate:
    """The day from record batches a source decodes as it reads (any sizes and chunk boundaries), reduced
    as :func:`aggregate_day` reduces its Parquet files: the contract's columns cut into batches of
    ``batch_rows``, categorical columns dictionary-encoded as a Parquet read gives them, so the aggregate
    equals :func:`aggregate_frame` of the whole day's rows. Every column name of the batches counts as a
    column of the day. Memory: the batches in flight (up to two of ``batch_rows``), as aggregate_day's."""
    import time as clock

    started = clock.perf_counter()
    where = where or f"scoring log of {day.isoformat()}"
    agg = DayAggregator(entry, profile, day, sample_rows, seed)
    wanted, dictionary = required_columns(entry), set(categorical_columns(entry))
    chosen = (_chosen(b, wanted, agg.columns) for b in stream)
    _count((_encoded(b, dictionary) for b in _rebatched(chosen, batch_rows)), agg, entry, where)
    info = {"files": files, "batch_rows": batch_rows, "seconds": round(clock.perf_counter() - started, 3)}
    return agg.finish(day, info)


def _count(read: Iterable[pa.RecordBatch], agg: DayAggregator, entry: ModelEntry, where: str) -> None:
    """Count the batches into ``agg``, checking the contract on the first."""
    checked = False
    for batch in read:
        if not checked:
            check_columns(agg.columns, entry, where)
            check_batch_types(batch, entry, where)
            checked = True
        agg.add(batch, where)
    check_columns(agg.columns, entry, where)


def _chosen(batch: pa.RecordBatch, wanted: list[str], seen: set[str]) -> pa.RecordBatch:
    """The batch's ``wanted`` columns; its column names are added to ``seen``."""
    seen.update(batch.schema.names)
    return batch.select([c for c in wanted if c in batch.schema.names])


def _encoded(batch: pa.RecordBatch, dictionary: set[str]) -> pa.RecordBatch:
    """The batch with its ``dictionary`` columns dictionary-encoded (as a Parquet read gives them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name in dictionary and not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(
                column.cast(pa.string()) if pa.types.is_null(column.type) else column
            )
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _rebatched(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches`` in batches of exactly ``rows`` (the last one shorter), whatever sizes they
    came in; batches whose types differ (a column all null in one) are unified first."""

    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        held.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = _joined(held)
            yield table.slice(0, rows).combine_chunks().to_batches()[0]
            rest = table.slice(rows)
            held, count = ([_one(rest)] if rest.num_rows else []), rest.num_rows
    if count:
        yield _one(_joined(held))


def _joined(batches: list[pa.RecordBatch]) -> pa.Table:
    import pyarrow as pa

    tables = [pa.Table.from_batches([b]) for b in batches]
    return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]


def _one(table: pa.Table) -> pa.RecordBatch:
    import pyarrow as pa

    combined = table.combine_chunks().to_batches()
    return combined[0] if combined else pa.RecordBatch.from_pylist([], schema=table.schema)


def aggregate_frame(frame, entry: ModelEntry, profile: ReferenceProfile, day: date, **kwargs) -> DayAggregate:
    """The same aggregation over an in-memory frame (pandas or Arrow), e.g. for tests and small days."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    out = io.BytesIO()
    pq.write_table(table, out)
    return aggregate_day([out.getvalue()], entry, profile, day, **kwargs)
