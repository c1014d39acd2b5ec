"""The evidence sample as compact Parquet (:func:`sample_parquet`): zstd, and each column in the encoding
that stores it smallest, chosen by writing a slice of it each way (dictionary for categoricals and
few-valued numbers, byte-stream-split for continuous floats and timestamps, delta for ids, plain where
nothing beats it). Lossless: the columns keep their own Arrow types (the schema is stored), values, nulls
and order, so the table read back equals the table written."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

TRIAL_ROWS = 10_000  # the encodings are compared on the first rows of each column (the sample is shuffled)
_WRITE: dict[str, Any] = {"compression": "zstd", "write_statistics": False}  # the sample is read whole

DICTIONARY, PLAIN = "dictionary", "PLAIN"
_NUMERIC_ENCODINGS = ("BYTE_STREAM_SPLIT", "DELTA_BINARY_PACKED")
_TEXT_ENCODINGS = ("DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY")


def sample_parquet(table: pa.Table) -> bytes:
    """``table`` as Parquet bytes, zstd, one row group, each column in its smallest encoding."""
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=max(table.num_rows, 1), **_WRITE, **_options(table))
    return out.getvalue()


def _options(table: pa.Table) -> dict[str, Any]:
    """``pq.write_table`` keywords: the dictionary-encoded columns and the other columns' encodings.
    Tables with nested columns (whose Parquet columns are their leaves) get dictionary encoding
    throughout."""
    import pyarrow as pa

    if any(pa.types.is_nested(f.type) for f in table.schema):
        return {"use_dictionary": True}
    trial = table.slice(0, TRIAL_ROWS)
    dictionary, encodings = [], {}
    for i, field in enumerate(table.schema):
        best = _smallest(trial.select([i]), field)
        if best == DICTIONARY:
            dictionary.append(field.name)
        elif best != PLAIN:
            encodings[field.name] = best
    return {"use_dictionary": dictionary, **({"column_encoding": encodings} if encodings else {})}


def _smallest(column: pa.Table, field: pa.Field) -> str:
    """The candidate encoding that writes ``column`` (a one-column table) in the fewest bytes."""
    sizes = {}
    for encoding in (DICTIONARY, PLAIN, *_candidates(field.type)):
        size = _size(column, field.name, encoding)
        if size is not None:
            sizes[encoding] = size
    return min(sizes, key=sizes.__getitem__)


def _candidates(kind: pa.DataType) -> tuple[str, ...]:
    import pyarrow as pa

    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        return _TEXT_ENCODINGS
    if pa.types.is_floating(kind) and kind.bit_width in (32, 64):
        return _NUMERIC_ENCODINGS[:1]
    integral = pa.types.is_integer(kind) or pa.types.is_temporal(kind)
    return _NUMERIC_ENCODINGS if integral and not pa.types.is_interval(kind) else ()


def _size(column: pa.Table, name: str, encoding: str) -> int | None:
    """Bytes of ``column`` written in ``encoding``; None if Parquet has no such encoding for its type."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    options: dict[str, Any] = {"use_dictionary": encoding == DICTIONARY}
    if encoding not in (DICTIONARY, PLAIN):
        options["column_encoding"] = {name: encoding}
    out = io.BytesIO()
    try:
        pq.write_table(column, out, **_WRITE, **options)
    except (pa.ArrowException, OSError):  # e.g. a physical type the encoding does not support
        return None
    return out.tell()
