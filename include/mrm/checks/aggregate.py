"""Aggregate-first checks: a day is streamed once in record batches and reduced to counts against the
reference profile (:mod:`mrm.checks.profile`); every quality and drift metric is computed from those
counts, in memory that does not grow with the day's rows (but for 8 bytes per event_id, see below).

Per column the aggregation keeps: row and null counts, min, max, sum, out-of-range counts against the
inventory's [min, max], counts per fine bin of the reference sketch (numeric) or per value (categorical);
for event_id a 64-bit hash per row (duplicates: exact but for hash collisions, probability about
rows² / 2^65, e.g. 7e-7 at 5M rows; memory 8 bytes per row, freed once counted); for event_ts the rows
outside the logical day and the newest event in it; and a seeded reservoir sample of the rows (default
50,000) that the evidence reports (Evidently HTML, GX result) are drawn from.

The metrics are computed from the counts by :mod:`mrm.checks.from_aggregate`; the evidence reports on
the sample by :mod:`mrm.checks.sample_evidence`.

Segments (:mod:`mrm.checks.segments`) are aggregated too: per segment value, rows, null counts, the
score's sum and counts against the segment's own reference deciles.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

import numpy as np

from mrm.checks.profile import (
    NumericProfile,
    ReferenceProfile,
    SegmentProfile,
    categorical_columns,
    check_columns,
    dtype_name,
    is_numeric_type,
    numeric_columns,
    numeric_values,
    segment_codes,
    segment_columns,
    wrong_types,
)
from mrm.errors import SourceError
from mrm.inventory import ModelEntry
from mrm.sources.contract import required_columns

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 131_072
SAMPLE_ROWS = 50_000
SEED = 0
NAT = np.iinfo(np.int64).min
_M1, _M2, _M3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


# -- accumulators -----------------------------------------------------------------------------------------
@dataclass
class NumericAgg:
    profile: NumericProfile
    low: float | None = None  # the inventory's bounds (out_of_range_rate)
    high: float | None = None
    with_sums: bool = False  # sums per fine bin (exact Wasserstein wherever the CDF gap keeps its sign)
    with_total: bool = False  # the sum of the values, in extended precision (mean_score)
    nulls: int = 0
    n: int = 0
    _total: np.longdouble = field(default_factory=np.longdouble)
    min: float = np.inf
    max: float = -np.inf
    out_of_range: int = 0
    counts: np.ndarray | None = None  # per fine bin of the reference sketch
    sums: np.ndarray | None = None  # per fine bin, if with_sums
    below_sum: float = 0.0  # sum of the values below the reference's min (first fine bin)
    above_sum: float = 0.0  # sum of the values above the reference's max (last fine bin)

    def add(self, x: np.ndarray) -> None:
        missing = np.isnan(x)
        k = int(np.count_nonzero(missing))
        if k:
            x = x[~missing]
        self.nulls += k
        if not x.size:
            return
        self.n += x.size
        if self.with_total:  # in extended precision, so that batch boundaries hardly ever move the last bit
            self._total += x.astype(np.longdouble).sum()
        self.min, self.max = min(self.min, float(x.min())), max(self.max, float(x.max()))
        if self.low is not None:
            self.out_of_range += int(np.count_nonzero(x < self.low))
        if self.high is not None:
            self.out_of_range += int(np.count_nonzero(x > self.high))
        if self.profile.sketch is not None:
            self._bin(x)

    @property
    def total(self) -> float:
        return float(self._total)

    def _bin(self, x: np.ndarray) -> None:
        sketch = self.profile.sketch
        index = sketch.index(x)
        counts = np.bincount(index, minlength=sketch.bins)
        self.counts = counts if self.counts is None else self.counts + counts
        if self.with_sums:
            sums = np.bincount(index, weights=x, minlength=sketch.bins)
            self.sums = sums if self.sums is None else self.sums + sums
        if counts[0]:
            self.below_sum += float(x[index == 0].sum())
        if counts[-1]:
            self.above_sum += float(x[index == sketch.bins - 1].sum())


@dataclass
class CategoricalAgg:
    counts: dict[str, int] = field(default_factory=dict)  # str(value) -> rows
    nulls: int = 0

    def add(self, column: pa.Array) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        self.nulls += column.null_count
        size = len(column.dictionary)
        codes = column.indices.fill_null(size).to_numpy(zero_copy_only=False)
        found = np.bincount(codes, minlength=size + 1)[:size]
        for value, n in zip(column.dictionary.to_pylist(), found.tolist(), strict=True):
            if n:
                key = str(value)
                self.counts[key] = self.counts.get(key, 0) + n

    @property
    def rows(self) -> int:
        return sum(self.counts.values()) + self.nulls


@dataclass
class IdAgg:
    """event_id: nulls, and a 64-bit hash per non-null value until :meth:`finish` counts duplicates."""

    nulls: int = 0
    n: int = 0
    duplicated: int = 0  # rows whose id occurs more than once (GX's unexpected count)
    _hashes: list[np.ndarray] = field(default_factory=list)

    def add(self, column: pa.Array) -> None:
        self.nulls += column.null_count
        hashes = id_hashes(column)
        self.n += hashes.size
        self._hashes.append(hashes)

    def finish(self) -> None:
        if not self._hashes:
            return
        h = np.concatenate(self._hashes)
        self._hashes = []
        h.sort()
        same = h[1:] == h[:-1]
        self.duplicated = int(np.count_nonzero(np.r_[same, False] | np.r_[False, same]))


def id_hashes(column: pa.Array) -> np.ndarray:
    """uint64 per non-null value: integers as themselves (exact), other values through a 64-bit hash of
    their UTF-8 bytes (splitmix64 rounds over 8-byte words, seeded by the length)."""
    import pyarrow as pa

    if column.null_count:
        column = column.filter(column.is_valid())
    if pa.types.is_integer(column.type):
        return column.cast(pa.int64()).to_numpy(zero_copy_only=False).view(np.uint64)
    if not (pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type)):
        column = column.cast(pa.large_string())
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int64)[
        column.offset : column.offset + len(column) + 1
    ]
    data = np.frombuffer(column.buffers()[2] or b"", dtype=np.uint8)
    lengths = np.diff(offsets)
    out = np.empty(lengths.size, dtype=np.uint64)
    if lengths.size and lengths.min() == lengths.max():  # fixed width: one contiguous block
        size = int(lengths[0])
        out[:] = _hash_rows(data[offsets[0] : offsets[0] + size * lengths.size].reshape(-1, size))
        return out
    for size in np.unique(lengths).tolist():
        rows = np.flatnonzero(lengths == size)
        out[rows] = _hash_rows(data[offsets[rows][:, None] + np.arange(size)])
    return out


def _hash_rows(block: np.ndarray) -> np.ndarray:
    rows, size = block.shape
    words = np.zeros((rows, (size + 7) // 8 * 8), dtype=np.uint8)
    words[:, :size] = block
    words = words.view(np.uint64)
    h = np.full(rows, (size * int(_M1)) & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for w in range(words.shape[1]):
            h ^= words[:, w]
            h = _mix(h)
    return _mix(h)


def _mix(h: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (a bijection of 64-bit words); modifies and returns ``h``."""
    h ^= h >> np.uint64(30)
    h *= _M2
    h ^= h >> np.uint64(27)
    h *= _M3
    h ^= h >> np.uint64(31)
    return h


@dataclass
class TimeAgg:
    """event_ts against the logical day [start, end) in UTC (naive timestamps are taken as UTC)."""

    start: int  # ns since the epoch
    end: int
    nulls: int = 0
    outside: int = 0  # outside the day, or not a timestamp
    newest: int = NAT  # newest event inside the day

    def add(self, column: pa.Array) -> None:
        ns = epoch_ns(column)
        self.nulls += column.null_count
        inside = (ns >= self.start) & (ns < self.end)
        self.outside += int(inside.size - np.count_nonzero(inside))
        if inside.any():
            self.newest = max(self.newest, int(ns[inside].max()))


def epoch_ns(column: pa.Array) -> np.ndarray:
    """int64 nanoseconds since the epoch, UTC; NAT for nulls and unparseable values."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        values = column.cast(pa.timestamp("ns"), safe=False).to_numpy(zero_copy_only=False)
        return values.astype("datetime64[ns]").view(np.int64)
    parsed = pd.to_datetime(column.to_pandas(), utc=True, errors="coerce", format="ISO8601")
    return parsed.to_numpy(dtype="datetime64[ns]").view(np.int64)


class Reservoir:
    """A uniform sample of ``size`` rows without replacement: each row draws a key from a seeded
    generator (one draw per row, so batch boundaries do not change the sample) and the rows with the
    ``size`` smallest keys are the sample. Candidates are appended and compacted once they reach twice
    the size, so each kept row is copied a few times, not once per batch."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed = size, seed
        self._rng = np.random.default_rng(seed)
        self._keys = np.empty(0)
        self._parts: list[pa.Table] = []
        self._bar = np.inf  # the size-th smallest key so far: larger keys can never be in the sample
        self.seen = 0

    def add(self, batch: pa.RecordBatch) -> None:
        import pyarrow as pa

        keys = self._rng.random(batch.num_rows)
        self.seen += batch.num_rows
        chosen = np.flatnonzero(keys < self._bar)
        if not chosen.size or not self.size:
            return
        if chosen.size > self.size:  # e.g. the first batch: only its smallest keys can stay
            chosen = chosen[keys[chosen] <= np.partition(keys[chosen], self.size - 1)[self.size - 1]]
        self._parts.append(pa.Table.from_batches([_decoded(batch.take(pa.array(chosen)))]))
        self._keys = np.r_[self._keys, keys[chosen]]
        if self._keys.size >= self.size:
            self._bar = np.partition(self._keys, self.size - 1)[self.size - 1]
        if self._keys.size >= 2 * self.size:
            self._compact()

    def _compact(self) -> None:
        import pyarrow as pa

        table = pa.concat_tables(self._parts, promote_options="permissive")
        keep = np.flatnonzero(self._keys <= self._bar)[: self.size]
        self._parts, self._keys = [table.take(pa.array(keep))], self._keys[keep]

    def table(self) -> pa.Table | None:
        """The sample, ordered by key (the same rows and order whatever the batch size)."""
        import pyarrow as pa

        if not self._parts:
            return None
        table = pa.concat_tables(self._parts, promote_options="permissive")
        order = np.argsort(self._keys, kind="stable")[: self.size]
        return table.take(pa.array(order))


def _decoded(batch: pa.RecordBatch) -> pa.RecordBatch:
    import pyarrow as pa

    columns = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


@dataclass
class SegmentAgg:
    """One segment column (mrm.checks.segments): per value, its rows, the null count of every feature,
    the score's sum, and counts against the segment's own reference PSI bins."""

    column: str
    profiles: dict[str, SegmentProfile]  # the reference's, by value
    features: list[str]  # null rates are counted for these
    psi: list[str]  # PSI columns (features other than the segment column; the score)
    rows: dict[str, int] = field(default_factory=dict)
    nulls: dict[tuple[str, str], int] = field(default_factory=dict)
    score: dict[str, list[float]] = field(default_factory=dict)  # value -> [sum, count]
    counts: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    categories: dict[tuple[str, str], CategoricalAgg] = field(default_factory=dict)

    def add(self, batch: pa.RecordBatch, numeric: dict[str, np.ndarray]) -> None:
        if self.column not in batch.schema.names:
            return
        codes, values = segment_codes(batch.column(self.column))
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(codes[order], np.arange(len(values) + 1))
        valid = codes >= 0
        for k, v in enumerate(values):
            self.rows[v] = self.rows.get(v, 0) + int(starts[k + 1] - starts[k])
        for c in dict.fromkeys([*self.features, *self.psi, "score"]):
            missing = np.isnan(numeric[c]) if c in numeric else _null_mask(batch, c)
            found = np.bincount(codes[valid], weights=missing[valid], minlength=len(values))
            for k, v in enumerate(values):
                self.nulls[(v, c)] = self.nulls.get((v, c), 0) + int(found[k])
        self._add_score(codes, values, numeric["score"])
        for c in self.psi:
            self._add_psi(batch, c, numeric.get(c), order, starts, values)

    def _add_score(self, codes: np.ndarray, values: list[str], score: np.ndarray) -> None:
        ok = (codes >= 0) & ~np.isnan(score)
        sums = np.bincount(codes[ok], weights=score[ok], minlength=len(values))
        n = np.bincount(codes[ok], minlength=len(values))
        for k, v in enumerate(values):
            total = self.score.setdefault(v, [0.0, 0])
            total[0] += float(sums[k])
            total[1] += int(n[k])

    def _add_psi(self, batch, c: str, x: np.ndarray | None, order, starts, values: list[str]) -> None:
        import pyarrow as pa

        column = None
        if x is None and c in batch.schema.names:
            column = batch.column(c).take(pa.array(order))
        ordered = None if x is None else x[order]
        for k, v in enumerate(values):
            ref = self.profiles.get(v)
            if ref is None or starts[k + 1] == starts[k]:
                continue
            if ordered is not None:
                part = ordered[starts[k] : starts[k + 1]]
                part = part[~np.isnan(part)]
                edges = ref.numeric[c].edges
                found = np.bincount(np.searchsorted(edges, part, side="right"), minlength=edges.size + 1)
                self.counts[(v, c)] = self.counts.get((v, c), 0) + found
            elif column is not None:
                self.categories.setdefault((v, c), CategoricalAgg()).add(
                    column.slice(starts[k], starts[k + 1] - starts[k])
                )


def _null_mask(batch: pa.RecordBatch, column: str) -> np.ndarray:
    if column not in batch.schema.names:
        return np.ones(batch.num_rows, dtype=bool)
    return batch.column(column).is_null().to_numpy(zero_copy_only=False)


# -- the day ----------------------------------------------------------------------------------------------
@dataclass
class DayAggregate:
    day: date
    rows: int
    columns: list[str]  # every column of the day's files
    numeric: dict[str, NumericAgg]
    categorical: dict[str, CategoricalAgg]
    ids: IdAgg
    times: TimeAgg
    sample: pa.Table | None
    info: dict[str, Any]  # files, batch_rows, sample (rows, seed, population), seconds
    segments: dict[str, SegmentAgg] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True if the sample holds every row of the day (exact statistics on the values)."""
        return self.sample is not None and self.sample.num_rows == self.rows

    def to_bytes(self) -> bytes:
        """The aggregate as one .npz (counts, JSON scalars, the sample as Parquet), e.g. for the next task."""
        import json

        import pyarrow.parquet as pq

        arrays: dict[str, np.ndarray] = {}
        t = self.times
        meta = {"day": self.day.isoformat(), "rows": self.rows, "columns": self.columns, "info": self.info,
                "ids": [self.ids.nulls, self.ids.n, self.ids.duplicated],
                "times": [t.start, t.end, t.nulls, t.outside, t.newest],
                "categorical": {c: [a.counts, a.nulls] for c, a in self.categorical.items()},
                "numeric": {}, "segments": {}}  # fmt: skip
        for c, a in self.numeric.items():
            meta["numeric"][c] = {k: getattr(a, k) for k in _NUMERIC_STATE} | {"total": str(a._total)}
            for part in ("counts", "sums"):
                if getattr(a, part) is not None:
                    arrays[f"numeric/{c}/{part}"] = getattr(a, part)
        for i, (seg, g) in enumerate(self.segments.items()):
            keys = list(g.counts)
            arrays.update({f"segments/{i}/{j}": g.counts[k] for j, k in enumerate(keys)})
            meta["segments"][seg] = {
                "index": i, "rows": g.rows, "score": g.score, "counted": keys,
                "nulls": [[v, c, n] for (v, c), n in g.nulls.items()],
                "categories": [[v, c, a.counts, a.nulls] for (v, c), a in g.categories.items()],
            }  # fmt: skip
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        if self.sample is not None:
            out = io.BytesIO()
            pq.write_table(self.sample, out)
            arrays["sample"] = np.frombuffer(out.getvalue(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, profile: ReferenceProfile, entry: ModelEntry) -> DayAggregate:
        import json

        import pyarrow.parquet as pq

        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays["meta"].tobytes())
        template = _Aggregator(entry, profile, date.fromisoformat(meta["day"]), 0, 0)
        for c, state in meta["numeric"].items():
            a = template.numeric[c]
            for k in _NUMERIC_STATE:
                setattr(a, k, state[k])
            a._total = np.longdouble(state["total"])
            a.counts, a.sums = arrays.get(f"numeric/{c}/counts"), arrays.get(f"numeric/{c}/sums")
        for c, (counts, nulls) in meta["categorical"].items():
            template.categorical[c] = CategoricalAgg(counts, nulls)
        for seg, m in meta["segments"].items():
            g = template.segments[seg]
            g.rows, g.score = m["rows"], m["score"]
            g.nulls = {(v, c): n for v, c, n in m["nulls"]}
            g.counts = {(v, c): arrays[f"segments/{m['index']}/{j}"] for j, (v, c) in enumerate(m["counted"])}
            g.categories = {(v, c): CategoricalAgg(counts, nulls) for v, c, counts, nulls in m["categories"]}
        template.ids.nulls, template.ids.n, template.ids.duplicated = meta["ids"]
        t = template.times
        t.start, t.end, t.nulls, t.outside, t.newest = meta["times"]
        sample = pq.read_table(io.BytesIO(arrays["sample"].tobytes())) if "sample" in arrays else None
        return cls(
            date.fromisoformat(meta["day"]), meta["rows"], meta["columns"], template.numeric,
            template.categorical, template.ids, template.times, sample, meta["info"], template.segments,
        )  # fmt: skip


_NUMERIC_STATE = ("nulls", "n", "min", "max", "out_of_range", "below_sum", "above_sum")


class _Aggregator:
    def __init__(self, entry: ModelEntry, profile: ReferenceProfile, day: date, sample_rows: int, seed: int):
        self.entry, self.profile = entry, profile
        bounds = {f.name: (f.min, f.max) for f in entry.monitoring.features if f.type == "numeric"}
        bounds["score"] = (0.0, 1.0)
        sums = {f.name for f in entry.monitoring.features if "wasserstein" in f.drift_methods}
        self.numeric = {
            c: NumericAgg(profile.numeric[c], *bounds[c], with_sums=c in sums, with_total=c == "score")
            for c in numeric_columns(entry)
        }
        self.categorical = {c: CategoricalAgg() for c in categorical_columns(entry)}
        self.ids = IdAgg()
        start = datetime.combine(day, time(), tzinfo=UTC)
        ns = int(start.timestamp()) * 10**9
        self.times = TimeAgg(ns, ns + 86_400 * 10**9)
        self.reservoir = Reservoir(sample_rows, seed)
        self.rows = 0
        self.columns: set[str] = set()
        self.segments = {}
        for seg, found in profile.segments.items():
            features = [f.name for f in entry.monitoring.features if f.name != seg]
            self.segments[seg] = SegmentAgg(seg, found, features, segment_columns(entry, seg))

    def add(self, batch: pa.RecordBatch, where: str) -> None:
        rows, names = batch.num_rows, set(batch.schema.names)
        self.rows += rows
        numeric = {}
        for c, agg in self.numeric.items():
            values = numeric_values(batch.column(c)) if c in names else np.full(rows, np.nan)
            if values is None:
                kind = dtype_name(batch.column(c).type)
                raise wrong_types(self.entry, where, [f"{c} is {kind}, expected numeric"])
            agg.add(values)
            numeric[c] = values
        for c, agg in self.categorical.items():
            if c in names:
                agg.add(batch.column(c))
            else:
                agg.nulls += rows
        for segment in self.segments.values():
            segment.add(batch, numeric)
        self._add_keys(batch, names, rows)
        self.reservoir.add(batch)

    def _add_keys(self, batch: pa.RecordBatch, names: set[str], rows: int) -> None:
        import pyarrow as pa

        if "event_id" in names:
            self.ids.add(batch.column("event_id"))
        else:
            self.ids.nulls += rows
        self.times.add(
            batch.column("event_ts") if "event_ts" in names else pa.nulls(rows, pa.timestamp("ns"))
        )

    def finish(self, day: date, info: dict[str, Any]) -> DayAggregate:
        self.ids.finish()
        sample = self.reservoir.table()
        info = {**info, "sample": {"rows": 0 if sample is None else sample.num_rows,
                                   "size": self.reservoir.size, "seed": self.reservoir.seed,
                                   "population": self.rows}}  # fmt: skip
        return DayAggregate(
            day, self.rows, sorted(self.columns), self.numeric, self.categorical, self.ids, self.times,
            sample, info, self.segments,
        )  # fmt: skip


def _batches(
    sources: Iterable,
    columns: list[str],
    categorical: list[str],
    batch_rows: int,
    seen: set[str],
    normalise: Callable | None = None,
) -> Iterator[tuple[pa.RecordBatch, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for source in sources:
        where, handle = _open(source)
        try:
            reader = pq.ParquetFile(handle, read_dictionary=categorical, pre_buffer=False)
            schema = reader.schema_arrow
            names = normalise(schema.empty_table()).schema.names if normalise else schema.names
            seen.update(names)
            wanted = [c for c in columns if c in names]
            for batch in reader.iter_batches(batch_size=batch_rows, columns=wanted):
                yield (normalise(batch) if normalise else batch), where
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise _unreadable(where, exc) from None


def _prefetched(items: Iterator, depth: int = 2) -> Iterator:
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
    if isinstance(source, tuple):  # (name, local path), e.g. from objectstore.local_copies
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


def _unreadable(name: str, exc: Exception) -> SourceError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return SourceError(
        f"cannot read scoring log file {name}: not valid Parquet ({reason}); "
        "re-export the partition, then rerun this date"
    )


def scan_day(sources: Iterable, entry: ModelEntry, where: str) -> int:
    """The day's row count from the Parquet footers alone, after checking the required columns exist
    and the numeric ones are numeric or entirely null (:func:`mrm.sources.contract.conform`'s checks,
    same messages): what the run's first step needs without reading the data."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, names, wrong = 0, set(), {}
    for source in sources:
        name, handle = _open(source)
        try:
            meta = pq.ParquetFile(handle).metadata
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise _unreadable(name, exc) from None
        schema = meta.schema.to_arrow_schema()
        names.update(schema.names)
        rows += meta.num_rows
        for c in numeric_columns(entry):
            if c in schema.names and not is_numeric_type(schema.field(c).type) and _has_values(meta, c):
                wrong.setdefault(c, f"{c} is {dtype_name(schema.field(c).type)}, expected numeric")
    check_columns(sorted(names), entry, where)
    if wrong:
        raise wrong_types(entry, where, list(wrong.values()))
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
    agg = _Aggregator(entry, profile, day, sample_rows, seed)
    cats = categorical_columns(entry)
    checked = False
    batches = _batches(sources, required_columns(entry), cats, batch_rows, agg.columns, normalise)
    for batch, _ in _prefetched(batches):
        if not checked:
            check_columns(sorted(agg.columns), entry, where)
            _check_types(batch, entry, where)
            checked = True
        agg.add(batch, where)
    check_columns(sorted(agg.columns), entry, where)
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


def _check_types(batch: pa.RecordBatch, entry: ModelEntry, where: str) -> None:
    wrong = []
    for c in numeric_columns(entry):
        if c in batch.schema.names:
            column = batch.column(c)
            if not is_numeric_type(column.type) and column.null_count < len(column):
                wrong.append(f"{c} is {dtype_name(column.type)}, expected numeric")
    if wrong:
        raise wrong_types(entry, where, wrong)
