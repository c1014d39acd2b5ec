"""An Athena CSV query result read as Arrow record batches of bounded size: each column's type from the
query's result metadata (GetQueryResults' ColumnInfo, as pyathena describes it), the result object streamed
from S3 to a temporary local file (with the Athena connection's credentials, as pyathena reads results;
checked to be the version the run listed), then parsed a block of
:data:`BLOCK_BYTES` at a time (``pyarrow.csv.open_csv``) with those types: no type is guessed from the
first block, and memory holds the blocks pyarrow parses ahead of the consumer (about 37 of them on a
2-core machine, whatever the file's size: 1 MiB blocks keep that near 40 MB), not the day.

Athena's CSV: a header row, every value in double quotes (a quote doubled inside it), NULL an empty
unquoted field, newlines allowed inside quotes. Read as pyathena's ArrowCursor reads it (its type for each
Athena type; timestamps as text cut to microseconds, since Athena writes up to 12 fractional digits),
except that a NULL text value is null (pyathena gives the empty string, which a Parquet log does not have)
and a ``decimal(p, s)`` is a decimal, not its text."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mrm.core.storage import ObjectInfo, store_for
from mrm.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

BLOCK_BYTES = 2**20  # of CSV text parsed at a time (about 6,000 rows of a dozen columns)
_TIMESTAMP_CHARS = 26  # "YYYY-MM-DD HH:MM:SS.ffffff": a finer fraction is cut, as pyathena does
_DETAIL_CHARS = 200  # of pyarrow's message quoted (it can quote a whole row)


@dataclass(frozen=True)
class CsvResult:
    """A query's CSV result left in S3: the object, the query, the columns as Athena described them
    (pyathena's description: name, type, None, None, precision, scale, nullable), for messages the day's
    query ("scoring log of <model> for <date>") and the table it read; ``s3`` makes the S3 client to read
    it with (None: :func:`mrm.core.storage.store_for`'s, boto3's default credential chain)."""

    files: list[ObjectInfo]
    query_id: str
    description: Sequence[tuple]
    label: str
    table: str
    s3: Callable[[], Any] | None = None


def arrow_types(description: Sequence[tuple]) -> list[tuple[str, pa.DataType]]:
    """(name, Arrow type) of each result column: pyathena's ArrowCursor type for its Athena type, a
    ``decimal(p, s)`` as decimal128, an Athena type pyathena does not map as text."""
    import pyarrow as pa
    from pyathena.arrow.converter import DefaultArrowTypeConverter

    converter = DefaultArrowTypeConverter()
    out = []
    for name, athena_type, _, _, precision, scale, *_ in description:
        kind = (athena_type or "").lower()
        if kind == "decimal" and 0 < (precision or 0) <= 38:
            arrow = pa.decimal128(precision, scale or 0)
        else:
            arrow = converter.get_dtype(kind, precision or 0, scale or 0) or pa.string()
        out.append((name, arrow))
    return out


def stream_result(result: CsvResult, *, block_bytes: int | None = None) -> Iterator[pa.RecordBatch]:
    """The rows of the result object in record batches (a block of ``block_bytes``, default
    :data:`BLOCK_BYTES`, each), typed by :func:`arrow_types`; an object that changed since it was listed,
    or cannot be parsed, raises SourceError naming the day, the object and what to do. A result without
    rows yields nothing."""
    [info] = result.files
    block_bytes = block_bytes or BLOCK_BYTES
    columns = arrow_types(result.description)
    with tempfile.TemporaryDirectory(prefix="mrm_athena_csv_") as folder:
        path = Path(folder) / "result.csv"
        _download(info, path, result)
        if path.stat().st_size:
            yield from _parsed(path, columns, result, block_bytes)


def _download(info: ObjectInfo, path: Path, result: CsvResult) -> None:
    """The object to ``path`` (S3 refuses another version than the one listed); a failure while it
    streams (a broken connection, a checksum, the disk) is a SourceError naming the day and object."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if result.s3 is not None and info.uri.startswith("s3://"):
            _s3_download(result.s3(), info, path)
        else:
            store_for(info.uri).download(info, path)
    except SourceError as exc:
        raise SourceError(f"{result.label}: {exc}; rerun this date") from None
    except (BotoCoreError, ClientError, OSError) as exc:
        raise SourceError(
            f"{result.label}: cannot read the CSV result {info.uri} of Athena query {result.query_id}: "
            f"{_detail(exc)}; rerun this date"
        ) from None


def _s3_download(s3: Any, info: ObjectInfo, path: Path) -> None:
    """As :meth:`mrm.core.storage.S3Store.download`, with the given client: 8 MiB at a time, and only the
    version listed (``IfMatch`` its ETag; S3 answers 412 PreconditionFailed otherwise)."""
    bucket, key = info.uri.removeprefix("s3://").split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key, IfMatch=f'"{info.etag}"')["Body"]
    with path.open("wb") as out:
        for chunk in body.iter_chunks(8 * 2**20):
            out.write(chunk)


def _parsed(path: Path, columns, result: CsvResult, block_bytes: int) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa
    from pyarrow import csv

    names = [name for name, _ in columns]
    keys = [f"c{i}" for i in range(len(columns))]  # read by position: a name may repeat
    texts = {i for i, (_, t) in enumerate(columns) if pa.types.is_timestamp(t)}
    types = {
        k: pa.string() if i in texts else t for i, (k, (_, t)) in enumerate(zip(keys, columns, strict=True))
    }
    read = csv.ReadOptions(column_names=keys, skip_rows_after_names=1, block_size=block_bytes)
    parse = csv.ParseOptions(
        delimiter=",", quote_char='"', double_quote=True, escape_char=False,
        newlines_in_values=True, ignore_empty_lines=False,  # a one-column NULL row is an empty line
    )  # fmt: skip
    convert = csv.ConvertOptions(
        column_types=types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    try:
        reader = csv.open_csv(str(path), read_options=read, parse_options=parse, convert_options=convert)
        with reader:
            for batch in reader:
                arrays = [
                    _timestamp(a, columns[i][1]) if i in texts else a for i, a in enumerate(batch.columns)
                ]
                yield pa.RecordBatch.from_arrays(arrays, names=names)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _unreadable(result, exc) from None


def _timestamp(text: pa.Array, type_: pa.DataType) -> pa.Array:
    import pyarrow.compute as pc

    if (pc.max(pc.utf8_length(text)).as_py() or 0) > _TIMESTAMP_CHARS:
        text = pc.utf8_slice_codeunits(text, 0, _TIMESTAMP_CHARS)
    return text.cast(type_)


def _detail(exc: Exception) -> str:
    """The exception's message on one line, cut to :data:`_DETAIL_CHARS`."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return detail if len(detail) <= _DETAIL_CHARS else detail[: _DETAIL_CHARS - 1] + "…"


def _unreadable(result: CsvResult, exc: Exception) -> SourceError:
    return SourceError(
        f"{result.label}: the CSV result {result.files[0].uri} of Athena query {result.query_id} cannot be "
        f"read as the column types Athena gave ({_detail(exc)}); rerun this date, and if it fails again "
        "report it with the query id"
    )
