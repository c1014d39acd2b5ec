"""The aggregate-first engine: a day is streamed once in record batches and reduced to counts against the
reference profile; every quality and drift metric (:mod:`mrm.checks.quality`, :mod:`mrm.checks.drift`,
:mod:`mrm.checks.segments`) is then computed from those counts, in memory that does not grow with the
day's rows (but for 8 bytes per event_id).

- ``sketch``: the fine sketch of a numeric reference column (bins to count a day's values in).
- ``profile``: what the reference profile holds, and its files; ``profiling``: building one.
- ``accumulators``: the per-column counters; ``day_aggregate``: a day's counts (and its ``.npz``);
  ``sample_parquet``: the sample in it as compact, lossless Parquet.
- ``aggregate``: the entry points, :func:`~mrm.checks.engine.aggregate.aggregate_day` (Parquet files,
  read by :mod:`mrm.sources.parquet_stream`) and ``aggregate_frame``.
"""
