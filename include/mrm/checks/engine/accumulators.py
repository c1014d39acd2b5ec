"""The accumulators a day's record batches are counted into, one per kind of column, in memory that does
not grow with the day's rows (but for 8 bytes per event_id until its duplicates are counted).

- :class:`NumericAgg`: row and null counts, min, max, the sum (extended precision), out-of-range counts
  against the inventory's [min, max], and counts (and sums) per fine bin of the reference sketch.
- :class:`CategoricalAgg`: the rows of each value (as ``str(value)``) and the nulls.
- :class:`IdAgg`: event_id nulls and duplicates, through a 64-bit hash per row (exact but for hash
  collisions, probability about rows² / 2^65, e.g. 7e-7 at 5M rows).
- :class:`TimeAgg`: event_ts outside the logical day, and the newest event in it.
- :class:`Reservoir`: a seeded uniform sample of the rows, which the evidence reports are drawn from.
- :class:`SegmentAgg`: per value of a segment column, its rows, null counts, the score's sum and counts
  against the segment's own reference deciles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mrm.checks.engine.bounds import (
    MAX_NEW_CATEGORIES,
    MAX_SEGMENT_VALUES,
    OTHER_CATEGORIES,
    OTHER_SEGMENT,
    bounded_table,
    folded_sample,
    label,
    oversized,
)
from mrm.checks.engine.profile import NumericProfile, SegmentProfile
from mrm.checks.engine.profiling import segment_codes

if TYPE_CHECKING:
    import pyarrow as pa

NAT = np.iinfo(np.int64).min
_M1, _M2, _M3 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_NUMERIC_STATE = ("nulls", "n", "min", "max", "out_of_range", "below_sum", "above_sum")


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

    def state(self) -> dict[str, Any]:
        """The scalars as JSON values (the sum as text, keeping its extended precision)."""
        return {k: getattr(self, k) for k in _NUMERIC_STATE} | {"total": str(self._total)}

    def restore(self, state: dict[str, Any], counts: np.ndarray | None, sums: np.ndarray | None) -> None:
        """Back to what :meth:`state` and the per-bin arrays recorded."""
        for k in _NUMERIC_STATE:
            setattr(self, k, state[k])
        self._total = np.longdouble(state["total"])
        self.counts, self.sums = counts, sums

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
    """Rows per value (as its :func:`~mrm.checks.engine.bounds.label`) and the nulls. ``keep``: the values
    always counted one by one (the reference's, the inventory's); at most ``new`` others
    are, the rest are counted under ``OTHER_CATEGORIES`` (no metric tells them apart). ``oversized``: the
    rows whose value was longer than ``MAX_VALUE_CHARS``."""

    counts: dict[str, int] = field(default_factory=dict)  # label -> rows
    nulls: int = 0
    oversized: int = 0
    keep: frozenset[str] = frozenset()
    new: int = MAX_NEW_CATEGORIES  # how many values not in keep are counted one by one

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
                key = label(value)
                if oversized(value):
                    self.oversized += n
                self.counts[key] = self.counts.get(key, 0) + n
        if len(self.counts) > 2 * self.new + len(self.keep):
            self.fold()

    def fold(self) -> None:
        """Count the values beyond the ``new`` largest that are not in ``keep`` together."""
        new = sorted((k for k in self.counts if k not in self.keep and k != OTHER_CATEGORIES),
                     key=lambda k: (-self.counts[k], k))  # fmt: skip
        folded = sum(self.counts.pop(k) for k in new[self.new :])
        if folded:
            self.counts[OTHER_CATEGORIES] = self.counts.get(OTHER_CATEGORIES, 0) + folded

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

    def __init__(self, size: int, seed: int, categorical: list[str] | None = None):
        self.size, self.seed = size, seed
        self.categorical = categorical or []  # folded to their most frequent values (bounds.folded_sample)
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
        self._parts.append(bounded_table(pa.Table.from_batches([batch.take(pa.array(chosen))])))
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
        return folded_sample(table.take(pa.array(order)), self.categorical)


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
        codes, values = self._capped(*segment_codes(batch.column(self.column)))
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

    def _capped(self, codes: np.ndarray, values: list[str]) -> tuple[np.ndarray, list[str]]:
        """The batch's codes and values with every value beyond ``MAX_SEGMENT_VALUES`` (the reference's
        values, then today's new ones in the order they came) as ``OTHER_SEGMENT``."""
        room = MAX_SEGMENT_VALUES - len((set(self.profiles) | set(self.rows)) - {OTHER_SEGMENT})
        named = []
        for v in values:
            if v not in self.profiles and v not in self.rows:
                if room <= 0:
                    v = OTHER_SEGMENT
                room -= v != OTHER_SEGMENT
            named.append(v)
        if named == values:
            return codes, values
        kept = sorted(set(named))
        position = {v: i for i, v in enumerate(kept)}
        remap = np.array([position[v] for v in named] + [-1], dtype=np.int64)
        return remap[codes], kept

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
                keep = frozenset(ref.categorical[c].counts) if c in ref.categorical else frozenset()
                # within a segment only the reference's values count (segment PSI): the others together
                self.categories.setdefault((v, c), CategoricalAgg(keep=keep, new=0)).add(
                    column.slice(starts[k], starts[k + 1] - starts[k])
                )


def _null_mask(batch: pa.RecordBatch, column: str) -> np.ndarray:
    if column not in batch.schema.names:
        return np.ones(batch.num_rows, dtype=bool)
    return batch.column(column).is_null().to_numpy(zero_copy_only=False)
