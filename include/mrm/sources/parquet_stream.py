"""Reading Parquet files without holding them whole: a day's files as record batches (read ahead by a
background thread), their row count and contract from the footers alone, and a reference window's files
one whole column at a time.

A file is named by a ``file://`` or ``s3://`` URI, a run-context file dict, a local path, a
``(name, local path)`` pair (:func:`mrm.core.storage.local_copies`) or its bytes. What is computed from
the batches and columns is up to the caller (:mod:`mrm.checks.engine`); this module only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mrm.core.storage import ObjectInfo, local_copies
from mrm.errors import SourceError
from mrm.inventory import ModelEntry
from mrm.sources.contract import (
    check_columns,
    check_readable,
    check_unified,
    dtype_name,
    is_numeric_type,
    not_numeric,
    numeric_columns,
    wrong_types,
)

if TYPE_CHECKING:
    import pyarrow as pa


def batches(
    sources: Iterable,
    columns: Sequence[str],
    *,
    dictionary: Sequence[str] = (),
    batch_rows: int,
    seen: set[str],
    normalise: Callable | None = None,
    context: str = "",
    int96_unit: str = "ns",
) -> Iterator[pa.RecordBatch]:
    """The record batches of ``columns`` (those a file has) in each file in turn; ``dictionary``
    columns arrive dictionary-encoded. Every column name of each file opened is added to ``seen``.
    ``normalise``: applied to the schema and each batch first (e.g. an Athena result's). ``context``:
    what an unreadable file's message says after its name (the model and the day, :func:`context_of`).
    ``int96_unit``: the unit INT96 timestamps are read at."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for source in sources:
        where, handle = _open(source)
        try:
            reader = pq.ParquetFile(
                handle,
                read_dictionary=list(dictionary),
                pre_buffer=False,
                coerce_int96_timestamp_unit=int96_unit,
            )
            schema = reader.schema_arrow
            names = normalise(schema.empty_table()).schema.names if normalise else schema.names
            seen.update(names)
            wanted = [c for c in columns if c in names]
            for batch in reader.iter_batches(batch_size=batch_rows, columns=wanted):
                yield normalise(batch) if normalise else batch
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise _unreadable(where, exc, context) from None


def prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """The items of ``items``, produced by a background thread at most ``depth`` ahead: Parquet decoding
    releases the GIL, so reading the next batch overlaps counting the current one."""
    import queue
    import threading

    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop, end = threading.Event(), object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ahead.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put(end)
        except BaseException as exc:  # handed to the consumer, raised there
            ahead.put(exc)

    worker = threading.Thread(target=produce, name="mrm-parquet-reader", daemon=True)
    worker.start()
    try:
        while (item := ahead.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _open(source) -> tuple[str, Any]:
    """(name, what ParquetFile reads): a local path, a (name, local path) pair, or the bytes of an
    object-store object (read whole into memory: for large objects pass local copies)."""
    import pyarrow as pa

    if isinstance(source, bytes | bytearray | memoryview):
        return "<bytes>", pa.BufferReader(source)
    if isinstance(source, tuple):  # (name, local path), e.g. from storage.local_copies
        return source
    uri = source["uri"] if isinstance(source, dict) else getattr(source, "uri", source)
    uri = str(uri)
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return uri, unquote(urlparse(uri).path)
    if "://" not in uri:
        return uri, uri
    from mrm.core.storage import store_for

    return uri, pa.BufferReader(store_for(uri).get(uri))


def context_of(entry: ModelEntry, where: str) -> str:
    """What a message about one of the day's files says after the file's name: the model and the day's
    data (``where``, e.g. ``scoring log of 2026-09-01 at s3://.../dt=2026-09-01/``)."""
    return f" (model {entry.model_id}, {where})"


def _unreadable(name: str, exc: Exception, context: str = "") -> SourceError:
    reason = " ".join(str(exc).split())[:300] if str(exc) else type(exc).__name__
    return SourceError(
        f"cannot read scoring log file {name}{context}: not valid Parquet ({reason}); "
        "re-export the partition, then rerun this date"
    )


def scan_day(sources: Iterable, entry: ModelEntry, where: str) -> int:
    """The day's row count from the Parquet footers alone, after checking the required columns exist,
    are of types mrm reads (not nested), agree across the files, and the numeric ones are numeric or
    entirely null (:func:`mrm.sources.contract.conform`'s checks, same messages): what the run's first
    step needs without reading the data."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, names, wrong, schemas = 0, set(), {}, []
    for source in sources:
        name, handle = _open(source)
        try:
            meta = pq.ParquetFile(handle).metadata
            schema = meta.schema.to_arrow_schema()
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise _unreadable(name, exc, context_of(entry, where)) from None
        check_readable(zip(schema.names, schema.types, strict=True), entry, where)
        schemas.append((name, schema))
        names.update(schema.names)
        rows += meta.num_rows
        for c in numeric_columns(entry):
            if c in schema.names and not is_numeric_type(schema.field(c).type) and _has_values(meta, c):
                wrong.setdefault(c, not_numeric(c, dtype_name(schema.field(c).type)))
    check_columns(names, entry, where)
    if wrong:
        raise wrong_types(entry, where, list(wrong.values()))
    check_unified(schemas, entry, where)
    return rows


def _has_values(meta, column: str) -> bool:
    """False only if the footer's statistics say every value of the column is null."""
    index = meta.schema.to_arrow_schema().get_field_index(column)
    for g in range(meta.num_row_groups):
        chunk = meta.row_group(g).column(index)
        stats = chunk.statistics
        if stats is None or not stats.has_null_count or stats.null_count < meta.row_group(g).num_rows:
            return True
    return False


PIECE_ROWS = 1 << 18  # rows per piece of :meth:`ParquetColumns.pieces`


class ParquetColumns:
    """Columns of several local Parquet files, one at a time: whole (memory: one column of all the
    files) or in pieces; a column a file lacks reads as nulls."""

    def __init__(self, paths: list[str], metas: list):
        self.paths, self.metas = paths, metas
        self.schemas = [m.schema.to_arrow_schema() for m in metas]

    @property
    def names(self) -> set[str]:
        """Every column name of the files."""
        return {n for s in self.schemas for n in s.names}

    @property
    def file_rows(self) -> list[int]:
        """The row count of each file, in order."""
        return [m.num_rows for m in self.metas]

    def type(self, name: str) -> pa.DataType:
        """The column's type in the first file that has it, skipping files where it is all null (Arrow
        type null, which casts to any type); null if it is null in every file."""
        import pyarrow as pa

        kinds = [s.field(name).type for s in self.schemas if name in s.names]
        return next((t for t in kinds if not pa.types.is_null(t)), kinds[0])

    def column(self, name: str) -> pa.ChunkedArray:
        import pyarrow as pa
        import pyarrow.parquet as pq

        chunks = []
        kind = self.type(name)
        for path, schema, meta in zip(self.paths, self.schemas, self.metas, strict=True):
            if name in schema.names:
                chunks.extend(pq.read_table(path, columns=[name]).column(name).cast(kind).chunks)
            else:
                chunks.append(pa.nulls(meta.num_rows, kind))
        return pa.chunked_array(chunks, kind)

    def pieces(self, name: str, rows: int = PIECE_ROWS) -> Iterator[pa.Array]:
        """The column in consecutive pieces of at most ``rows`` rows (of :meth:`column`'s type and
        values, in its order): memory of one piece, not the column."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        kind = self.type(name)
        for path, schema, meta in zip(self.paths, self.schemas, self.metas, strict=True):
            if name not in schema.names:
                for start in range(0, meta.num_rows, rows):
                    yield pa.nulls(min(rows, meta.num_rows - start), kind)
                continue
            reader = pq.ParquetFile(path, pre_buffer=False)
            for batch in reader.iter_batches(batch_size=rows, columns=[name], use_threads=False):
                yield batch.column(0).cast(kind)


@contextmanager
def parquet_columns(files: list[ObjectInfo], what: str, prefix: str) -> Iterator[ParquetColumns]:
    """The files, copied to local disk first where they are not there already (``prefix``: of the
    temporary folder), as :class:`ParquetColumns`; a damaged file is a SourceError naming ``what``."""
    import pyarrow.parquet as pq

    with local_copies(files, prefix=prefix) as copies:
        paths = [path for _, path in copies]
        try:
            metas = [pq.ParquetFile(p).metadata for p in paths]
        except Exception as exc:  # pyarrow raises several types for a damaged file
            reason = " ".join(str(exc).split())[:300]
            raise SourceError(f"cannot read {what}: not valid Parquet ({reason})") from None
        yield ParquetColumns(paths, metas)
