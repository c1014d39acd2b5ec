"""The one CSV writer of mrm: every CSV it hands out (``mrm history``/``mrm export``, the evidence
pack, the Model Risk page's downloads) goes through :func:`cell`, so no cell runs as a formula when a
spreadsheet opens the file (CWE-1236).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a TAB or a CR is written with a leading
apostrophe (``'=1+1``): spreadsheets show it as text, a person still reads the value. Numbers are
never touched: a metric value of -0.5 is a Python float and stays ``-0.5``, so a CSV reader (pandas,
DuckDB, a spreadsheet) reads metric values as numbers; a number cannot carry a formula. The type of the
value decides, not its text: the string ``"-0.5"`` is quoted like any text starting with ``-``.
"""

from __future__ import annotations

import csv
import io
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text``, with a leading apostrophe if a spreadsheet would run it as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def cell(value: Any) -> Any:
    """What the CSV writer gets for ``value``: None and numbers unchanged (csv writes None as an empty
    cell, floats with every digit), anything else as text neutralised."""
    if value is None or (isinstance(value, numbers.Number) and not isinstance(value, bool)):
        return value
    return neutralise(value if isinstance(value, str) else str(value))


def write_rows(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    """``rows`` as CSV with a header of ``columns`` (a missing key: an empty cell), every cell through
    :func:`cell`; lines end with ``\\n``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([cell(c) for c in columns])
    writer.writerows([cell(row.get(c)) for c in columns] for row in rows)
    return buf.getvalue()
