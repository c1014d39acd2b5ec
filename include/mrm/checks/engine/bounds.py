"""The stated limits on what a day's scoring data can put into a run: its counts, its segments, its
sample and so its evidence. Hostile or odd values (a 1M-character category, a newline in a segment
value, a million distinct segment values) are made small where they enter, counted, and reported.

- A string value longer than :data:`MAX_VALUE_CHARS` (a category, the decision, any text column of the
  sample) is kept as its first characters plus a marker with its length and a short SHA-256, so distinct
  long values stay distinct (:func:`label`); the rows of each categorical column holding one are counted
  (``oversized_value_rate``, AMBER by default, :mod:`mrm.metrics`).
- A segment value is cut at :data:`MAX_SEGMENT_VALUE_CHARS`, so that a control such as
  ``drift.psi[amount]@country=<value>`` fits the history's 256-character columns.
- CR and LF never survive into a label: they are shown as the two characters ``\\r`` and ``\\n``, so no
  value can put a line break into a control name, a ticket title or an e-mail header.
- At most :data:`MAX_SEGMENT_VALUES` values of a segment column are segments of their own (the
  reference's largest by rows, then today's new ones while room is left); the rest are counted together
  as :data:`OTHER_SEGMENT`.
- At most :data:`MAX_NEW_CATEGORIES` values of a categorical column that are neither in the reference
  nor in the inventory are counted one by one; the rest are counted together under
  :data:`OTHER_CATEGORIES`. Every metric only sees such values as "not in the reference" or "not
  allowed", so folding them changes no metric.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

MAX_VALUE_CHARS = 200
MAX_SEGMENT_VALUE_CHARS = 100
MAX_SEGMENT_VALUES = 50
MAX_NEW_CATEGORIES = 1_000
MAX_SAMPLE_CATEGORIES = 1_000  # distinct values of a categorical column in a sample kept as evidence
MAX_TIMESTAMP_CHARS = 64  # an event_ts given as text, in a sample
HASH_DIGITS = 12
MAX_DAY_EVIDENCE_BYTES = 64 * 1024 * 1024  # a run's evidence of one day (up to 20 features, default sample)
OTHER_SEGMENT = "(other)"
OTHER_CATEGORIES = "\n(other values)"  # a key no label can equal: labels never hold a line feed


def escaped(text: str) -> str:
    """``text`` with CR and LF shown as ``\\r`` and ``\\n``."""
    if "\r" in text or "\n" in text:
        return text.replace("\r", "\\r").replace("\n", "\\n")
    return text


def label(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """``str(value)`` as mrm keeps it: CR/LF escaped, and if longer than ``limit`` its first characters
    and ``…[<length> chars, sha256 <12 hex digits>]``, ``limit`` characters in all."""
    text = value if isinstance(value, str) else str(value)
    shown = escaped(text)
    if len(shown) <= limit:
        return shown
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_DIGITS]
    marker = f"…[{len(text)} chars, sha256 {digest}]"
    return shown[: max(limit - len(marker), 0)] + marker


def oversized(value: object) -> bool:
    """True if the value is longer than :data:`MAX_VALUE_CHARS` (as text)."""
    return len(value if isinstance(value, str) else str(value)) > MAX_VALUE_CHARS


def bounded_column(
    column: pa.Array | pa.ChunkedArray, limit: int = MAX_VALUE_CHARS
) -> pa.Array | pa.ChunkedArray:
    """A text column with every value :func:`label`-ed (at most ``limit`` characters) where needed
    (other columns as they are)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if isinstance(column, pa.ChunkedArray):
        if not (pa.types.is_dictionary(kind) or _is_text(kind)):
            return column
        chunks = [bounded_column(c, limit) for c in column.chunks]
        if all(a is b for a, b in zip(chunks, column.chunks, strict=True)):
            return column
        return pa.chunked_array(chunks, kind.value_type if pa.types.is_dictionary(kind) else kind)
    if pa.types.is_dictionary(kind):
        values = bounded_column(column.dictionary, limit)  # the distinct values only: a long one is cut once
        return pa.DictionaryArray.from_arrays(column.indices, values).dictionary_decode()
    if not _is_text(kind) or len(column) == 0:
        return column
    long = pc.greater(pc.utf8_length(column), limit)
    breaks = pc.match_substring_regex(column, "[\r\n]")
    if not pc.any(pc.or_kleene(long, breaks)).as_py():
        return column
    flagged = pc.or_kleene(long, breaks).fill_null(False).to_numpy(zero_copy_only=False)
    out = [label(column[i].as_py(), limit) if flagged[i] else column[i].as_py() for i in range(len(column))]
    return pa.array(out, kind)


def _is_text(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def bounded_table(table: pa.Table) -> pa.Table:
    """``table`` with its text columns :func:`bounded_column`-ed (e.g. a sample kept as evidence); an
    ``event_ts`` given as text is cut at :data:`MAX_TIMESTAMP_CHARS`."""
    for i, name in enumerate(table.column_names):
        column = table.column(i)
        bounded = bounded_column(column, MAX_TIMESTAMP_CHARS if name == "event_ts" else MAX_VALUE_CHARS)
        if bounded is not column:
            table = table.set_column(i, name, bounded)
    return table


def folded_sample(table: pa.Table, categorical: list[str]) -> pa.Table:
    """A sample with at most :data:`MAX_SAMPLE_CATEGORIES` distinct values in each ``categorical``
    column (those with most rows, ties by value); the others read :data:`OTHER_CATEGORIES`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for c in categorical:
        if c not in table.column_names:
            continue
        column = table.column(c)
        counts = pc.value_counts(column.drop_null()).to_pylist()
        if len(counts) <= MAX_SAMPLE_CATEGORIES or not _is_text(column.type):
            continue
        ranked = sorted(counts, key=lambda item: (-item["counts"], item["values"]))
        keep = pa.array([item["values"] for item in ranked[:MAX_SAMPLE_CATEGORIES]], column.type)
        other = pa.scalar(OTHER_CATEGORIES, column.type)
        kept = pc.if_else(pc.or_kleene(pc.is_in(column, keep), pc.is_null(column)), column, other)
        table = table.set_column(table.column_names.index(c), c, kept)
    return table
