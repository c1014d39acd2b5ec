"""A capture day decoded in parts of bounded size: its files fetched a few ahead, cut at line boundaries into
pieces of at most about :data:`PART_BYTES` (a large file gives several, numbered by their first line), the
pieces grouped into parts of about that size, and each part decoded on its own (:func:`decode_part`). What
the day's bad records are is the same as when the day is decoded whole: a record is good or bad by itself,
the bad ones are named by file and line in file and line order, and the day-wide checks (the JSON key
paths no payload has, more bad records than allowed) are made on the :class:`Tally` of all the parts.

Memory: the files fetched ahead (at most :data:`READERS`), one part's bytes and its decoded rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from mrm.sources.sagemaker.envelope import envelopes
from mrm.sources.sagemaker.values import Bad

if TYPE_CHECKING:
    import pandas as pd

    from mrm.core.storage import ObjectInfo
    from mrm.sources.sagemaker.decode import Found

PART_BYTES = 8 * 1024 * 1024  # of capture lines decoded at a time (about 25,000 records of 6 features)
READERS = 16  # files fetched in parallel, ahead of the part being decoded


@dataclass
class Part:
    """One part of a day, decoded: its rows (None if it has none) and what was wrong in it."""

    frame: pd.DataFrame | None
    where: list[tuple[str, int, str]]  # bad records and lines: (file URI, line, why), in file and line order
    records: int  # capture records parsed
    bad_lines: int  # lines that are no capture record
    dropped: int  # records found bad while decoding
    out_of_day: int  # rows whose time is outside the UTC day (or unknown)


@dataclass
class Tally:
    """The parts of a day so far: records, bad lines, bad records (the first ``keep`` of them kept, to be
    quoted; all of them without ``keep``) and rows."""

    keep: int | None = None
    records: int = 0
    bad_lines: int = 0
    bad: int = 0
    rows: int = 0
    where: list[tuple[str, int, str]] = field(default_factory=list)

    def add(self, part: Part) -> None:
        self.records += part.records
        self.bad_lines += part.bad_lines
        self.bad += len(part.where)
        self.rows += 0 if part.frame is None else len(part.frame)
        room = len(part.where) if self.keep is None else max(0, self.keep - len(self.where))
        self.where.extend(part.where[:room])


def decode_part(
    source: Any,
    day: date,
    files: list[ObjectInfo],
    blobs: list[bytes],
    first_lines: list[int],
    found: Found | None = None,
) -> Part:
    """Decode ``blobs`` (pieces of ``files``, one file per blob, whose line 1 is line ``first_lines + 1``
    of the file) with ``source.decode`` (a :class:`~mrm.sources.sagemaker.source.CaptureSource`).
    ``found``: the JSON key paths found in the day's earlier parts (None: these blobs are the whole day)."""
    import numpy as np

    cols, file_idx, lines, bad_lines = envelopes(blobs)
    offsets = np.asarray(first_lines, dtype=np.int64)
    n = len(file_idx)
    bad = Bad()
    frame, dropped = source.decode(day, cols, bad, found) if n else (None, 0)
    lines = lines + offsets[file_idx] if n else lines
    where = [(files[f].uri, int(ln + offsets[f]), why) for f, ln, why in bad_lines]
    where += [(files[file_idx[r]].uri, int(lines[r]), why) for r, why in bad.reasons.items()]
    where.sort(key=lambda w: (w[0], w[1]))
    if frame is not None and frame.empty:
        frame = None
    out_of_day = 0 if frame is None else _out_of_day(frame, day)
    return Part(frame, where, n, len(bad_lines), dropped, out_of_day)


def decoded_parts(source: Any, day: date, files: list[ObjectInfo], found: Found | None) -> Iterator[Part]:
    """The day's files decoded a part at a time, in file and line order."""
    for part_files, blobs, first_lines in _grouped(_fetched(source.store, files)):
        yield decode_part(source, day, part_files, blobs, first_lines, found)


def _fetched(store: Any, files: list[ObjectInfo]) -> Iterator[tuple[ObjectInfo, bytes]]:
    """Each file and its bytes, in order, fetched by :data:`READERS` threads at most that many ahead."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(READERS, len(files)))) as pool:
        waiting = iter(files)
        ahead: deque = deque()
        for info in waiting:
            ahead.append((info, pool.submit(store.get, info.uri)))
            if len(ahead) >= READERS:
                break
        while ahead:
            info, future = ahead.popleft()
            data = future.result()
            following = next(waiting, None)
            if following is not None:
                ahead.append((following, pool.submit(store.get, following.uri)))
            yield info, data


def _grouped(fetched: Iterator[tuple[ObjectInfo, bytes]]) -> Iterator[tuple[list, list[bytes], list[int]]]:
    """Pieces of the files grouped into parts of about :data:`PART_BYTES`: (the file of each piece, the
    pieces, the line each piece starts after)."""
    files: list = []
    blobs: list[bytes] = []
    first_lines: list[int] = []
    size = 0
    for info, data in fetched:
        for first_line, piece in pieces(data, PART_BYTES):
            files.append(info)
            blobs.append(piece)
            first_lines.append(first_line)
            size += len(piece)
            if size >= PART_BYTES:
                yield files, blobs, first_lines
                files, blobs, first_lines, size = [], [], [], 0
    if blobs:
        yield files, blobs, first_lines


def pieces(data: bytes, limit: int) -> Iterator[tuple[int, bytes]]:
    """``data`` cut after the line that crosses each ``limit`` bytes: (lines before the piece, the piece)."""
    if len(data) <= limit:
        yield 0, data
        return
    start, line = 0, 0
    while start < len(data):
        end = data.find(b"\n", start + limit - 1)
        end = len(data) if end < 0 else end + 1
        piece = data[start:end]
        yield line, piece
        line += piece.count(b"\n")
        start = end


def _out_of_day(frame: pd.DataFrame, day: date) -> int:
    """Rows whose time is outside the UTC day (or unknown)."""
    import pandas as pd

    start = pd.Timestamp(day, tz="UTC")
    ts = frame["event_ts"]
    return int(((ts < start) | (ts >= start + pd.Timedelta(days=1)) | ts.isna()).sum())
