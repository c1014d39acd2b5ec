"""The engine's entry points: stream a day's Parquet files once, in record batches, into its
:class:`~mrm.checks.engine.day_aggregate.DayAggregate` (:func:`aggregate_day`), or aggregate an
in-memory frame the same way (:func:`aggregate_frame`).

Memory: one record batch, the counts, the sample (default 50,000 rows, seeded) and 8 bytes per event_id.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from datetime import date

from mrm.checks.engine.day_aggregate import DayAggregate, DayAggregator
from mrm.checks.engine.profile import ReferenceProfile
from mrm.inventory import ModelEntry
from mrm.sources.contract import categorical_columns, check_batch_types, check_columns, required_columns
from mrm.sources.parquet_stream import batches, context_of, prefetched

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
    checked = False
    for batch in prefetched(read):
        if not checked:
            check_columns(agg.columns, entry, where)
            check_batch_types(batch, entry, where)
            checked = True
        agg.add(batch, where)
    check_columns(agg.columns, entry, where)
    info = {
        "files": len(sources),
        "batch_rows": batch_rows,
        "seconds": round(clock.perf_counter() - started, 3),
    }
    return agg.finish(day, info)


def aggregate_frame(frame, entry: ModelEntry, profile: ReferenceProfile, day: date, **kwargs) -> DayAggregate:
    """The same aggregation over an in-memory frame (pandas or Arrow), e.g. for tests and small days."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    out = io.BytesIO()
    pq.write_table(table, out)
    return aggregate_day([out.getvalue()], entry, profile, day, **kwargs)
