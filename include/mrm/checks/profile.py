"""The reference profile: what the daily checks need from the reference window, computed once and cached.

Per numeric column (the numeric features and the score): the PSI edges of :mod:`mrm.checks.stats`
(reference deciles with mass points, exactly), a :class:`FineSketch` (about ``fine_levels`` reference
order statistics, the PSI edges and the reference's range among its edges) with the reference's count in
each fine bin, the null count, min, max, mean and standard deviation, the distinct values when there are
at most 20 (Evidently's Jensen-Shannon keys), and, up to ``exact_limit`` values, the sorted reference
itself (exact KS and Wasserstein on days small enough to be held whole). Per categorical column (the
categorical features and the decision): the count of every value and of nulls. Plus the reference's
daily row counts and null rates (what the pipeline records as the run's reference), a seeded random
sample of its rows for the evidence reports, and for a model with segments, per segment value its rows
and the PSI bins and counts within it (:mod:`mrm.checks.segments` bins each segment on its own).

A profile carries a fingerprint of its inputs and is cached by it (:mod:`mrm.checks.reference`), so a
daily run reads it instead of the reference window.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from mrm.checks import stats
from mrm.core.storage import ObjectInfo, local_copies
from mrm.errors import NoDataError, SchemaError, SourceError
from mrm.inventory import ModelEntry
from mrm.sources.contract import required_columns

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

PROFILE_VERSION = 1
DISTINCT_KEYS = 20  # Evidently bins a numeric column by value when its reference has <= 20 distinct values
_SIGN = np.int64(0x7FFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class ProfileSettings:
    psi_bins: int = stats.DEFAULT_BINS
    fine_levels: int = 2048  # reference order statistics in the fine sketch: KS error about 1/fine_levels
    grid_cells: int = 65536  # lookup-table cells that replace a binary search over the fine edges
    exact_limit: int = 200_000  # keep the sorted reference for exact KS/Wasserstein up to this many values
    sample_rows: int = 50_000  # reference rows kept for the evidence reports
    seed: int = 0

    @classmethod
    def for_entry(cls, entry: ModelEntry, **overrides: Any) -> ProfileSettings:
        return cls(**{"psi_bins": entry.monitoring.psi_bins, **overrides})


def numeric_columns(entry: ModelEntry) -> list[str]:
    return [*(f.name for f in entry.monitoring.features if f.type == "numeric"), "score"]


def categorical_columns(entry: ModelEntry) -> list[str]:
    return [*(f.name for f in entry.monitoring.features if f.type == "categorical"), "decision"]


# -- the fine sketch --------------------------------------------------------------------------------------
def _key(x: np.ndarray) -> np.ndarray:
    """An order-preserving map of doubles onto doubles through their bit patterns: equal steps of the
    result are equal steps of log|x| (a grid over it suits heavy tails). -0.0 is folded onto +0.0."""
    bits = (np.asarray(x, dtype="float64") + 0.0).view(np.int64)
    return (bits ^ ((bits >> 63) & _SIGN)).astype("float64")


class FineSketch:
    """Bins ``(-inf, e_0), [e_0, e_1), ..., [e_last, inf)``; :meth:`index` equals
    ``np.searchsorted(edges, x, side="right")``, computed through a lookup table over ``cells`` equal
    steps of x (space "linear") or of log|x| (space "key") when each cell holds at most two edges, so the
    cost per value is a few vector operations instead of a binary search ("search": no table)."""

    def __init__(self, edges: np.ndarray, space: str = "search", lo: float = 0.0, scale: float = 0.0,
                 cells: int = 0, gap: float = 0.0):  # fmt: skip
        self.edges = np.asarray(edges, dtype="float64")
        self.space, self.lo, self.scale, self.cells = space, float(lo), float(scale), int(cells)
        self.gap = float(gap)  # "key" space: keys within ±gap (magnitudes below the smallest edge's) are 0
        if space != "search":
            self._build_table()

    @property
    def bins(self) -> int:
        return self.edges.size + 1

    def singletons(self) -> np.ndarray:
        """Per bin: True if it holds a single value v (its edges are v and the next double)."""
        e = self.edges
        inner = e[1:] == np.nextafter(e[:-1], np.inf)
        return np.concatenate([[False], inner, [False]])

    def _transform(self, x: np.ndarray) -> np.ndarray:
        if self.space == "linear":
            return x
        k = _key(x)
        return k - np.clip(k, -self.gap, self.gap)  # no cells for the octaves between -gap and gap

    def _cells(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            u = self._transform(x) - self.lo
            u *= self.scale
        np.fmax(u, 0.0, out=u)
        np.fmin(u, self.cells - 1, out=u)
        return u.astype(np.intp)

    def _build_table(self) -> None:
        cell = self._cells(self.edges)
        if cell.size and np.bincount(cell).max() > 2:
            raise ValueError("a fine-sketch cell holds more than two edges")
        self._first = np.searchsorted(cell, np.arange(self.cells), side="left").astype(np.intp)
        pos = np.arange(cell.size) - self._first[cell]
        self._e1, self._e2 = np.full(self.cells, np.nan), np.full(self.cells, np.nan)
        self._e1[cell[pos == 0]] = self.edges[pos == 0]
        self._e2[cell[pos == 1]] = self.edges[pos == 1]

    def index(self, x: np.ndarray) -> np.ndarray:
        """The bin of each value (x without NaN)."""
        if self.space == "search":
            return np.searchsorted(self.edges, x, side="right")
        cell = self._cells(x)
        out = self._first.take(cell)
        out += x >= self._e1.take(cell)  # NaN in the table compares False: no edge there
        out += x >= self._e2.take(cell)
        return out

    def counts(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.index(x), minlength=self.bins)

    @classmethod
    def build(cls, ordered: np.ndarray, required: np.ndarray, levels: int, cells: int) -> FineSketch:
        """From the sorted non-null reference: order statistics at ``levels`` evenly spaced ranks (and at
        ranks n/2^k from either end beyond them), a bin of its own for each value they repeat (mass point),
        every distinct value when there are at most ``levels``, and the ``required`` edges."""
        edges = _candidate_edges(ordered, levels, required)
        search = cls(edges)
        limit = max(_max_open_mass(search, ordered), 4 / levels)
        fits = [_fit(edges, np.isin(edges, required), space, cells) for space in ("linear", "key")]
        tables = [(_max_open_mass(s, ordered), i, s) for i, s in enumerate(fits) if s is not None]
        mass, _, best = min(tables, default=(np.inf, 0, search))
        return best if mass <= limit else search


def _candidate_edges(ordered: np.ndarray, levels: int, required: np.ndarray) -> np.ndarray:
    n = ordered.size
    tails = [n >> k for k in range(max(levels.bit_length(), 1), 64) if n >> k]  # n/2^k beyond 1/levels
    ranks = np.r_[np.arange(1, levels) * n // levels, tails, [n - 1 - t for t in tails]].astype(np.int64)
    ranks = np.unique(np.clip(ranks, 0, n - 1))
    values, repeats = np.unique(ordered[ranks], return_counts=True)
    distinct = _distinct(ordered, levels)
    if distinct is not None:
        values, repeats = distinct[0], np.full(distinct[0].size, 2)
    singles = np.nextafter(values[repeats > 1], np.inf)
    return np.unique(np.concatenate([values, singles, required]))


def _fit(edges: np.ndarray, required: np.ndarray, space: str, cells: int) -> FineSketch | None:
    """A table sketch over ``cells`` steps between the first and last edge, keeping at most two edges per
    cell (the required ones, then evenly spaced others); None if required edges crowd one cell."""
    magnitudes = np.abs(edges[edges != 0])
    probe = FineSketch(np.array([]), "search", 0.0, 0.0, cells)
    probe.space, probe.gap = (
        space,
        float(_key(magnitudes.min())) if space == "key" and magnitudes.size else 0.0,
    )
    ends = probe._transform(edges[[0, -1]])
    with np.errstate(all="ignore"):
        scale = cells / (ends[1] - ends[0])
    if not (np.all(np.isfinite(ends)) and np.isfinite(scale) and scale > 0):
        return None
    probe.lo, probe.scale = ends[0], scale
    cell = probe._cells(edges)
    keep = np.ones(edges.size, dtype=bool)
    for c in np.nonzero(np.bincount(cell, minlength=cells) > 2)[0]:
        idx = np.arange(np.searchsorted(cell, c, "left"), np.searchsorted(cell, c, "right"))
        must, other = idx[required[idx]], idx[~required[idx]]
        if must.size > 2:
            return None
        keep[other] = False
        if must.size < 2:
            keep[other[np.linspace(0, other.size - 1, 2 - must.size).round().astype(int)]] = True
    return FineSketch(edges[keep], space, probe.lo, scale, cells, probe.gap)


def _sorted_counts(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin of sorted values: equal to ``np.bincount(np.searchsorted(edges, ordered, "right"))``
    at the cost of one binary search per edge instead of one per value."""
    return np.diff(np.r_[0, np.searchsorted(ordered, edges, side="left"), ordered.size])


def _sorted_sums(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sums per bin of sorted values (each bin is a contiguous run of them)."""
    starts = np.r_[0, np.searchsorted(ordered, edges, side="left")]
    filled = np.diff(np.r_[starts, ordered.size]) > 0
    sums = np.zeros(starts.size)
    sums[filled] = np.add.reduceat(ordered, starts[filled])
    return sums


def _distinct(ordered: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(values, counts) of sorted values if there are at most ``limit`` distinct ones, else None."""
    changes = ordered[1:] != ordered[:-1]
    if np.count_nonzero(changes) + 1 > limit:
        return None
    starts = np.flatnonzero(np.r_[True, changes])
    return ordered[starts], np.diff(np.r_[starts, ordered.size])


def _max_open_mass(sketch: FineSketch, ordered: np.ndarray) -> float:
    """The largest reference share in a bin that spans more than one value: the KS error bound."""
    counts = _sorted_counts(ordered, sketch.edges)
    return float(counts[~sketch.singletons()].max() / max(ordered.size, 1))


# -- column profiles --------------------------------------------------------------------------------------
@dataclass
class NumericProfile:
    n: int  # non-null reference values
    nulls: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None  # population standard deviation (ddof 0), as Evidently norms Wasserstein
    psi_edges: np.ndarray | None = None
    sketch: FineSketch | None = None
    counts: np.ndarray | None = None  # reference count per fine bin
    sums: np.ndarray | None = None  # sum of the reference values in each fine bin
    distinct: dict[float, int] | None = None  # value -> count, if at most DISTINCT_KEYS values
    ordered: np.ndarray | None = None  # the sorted reference, if at most exact_limit values

    def psi_counts(self, fine_counts: np.ndarray) -> np.ndarray:
        """Counts per PSI bin from counts per fine bin (the PSI edges are fine edges)."""
        lefts = np.r_[-np.inf, self.sketch.edges]
        which = np.searchsorted(self.psi_edges, lefts, side="right")
        return np.bincount(which, weights=fine_counts, minlength=self.psi_edges.size + 1).astype(np.int64)


@dataclass
class CategoricalProfile:
    counts: dict[str, int]  # str(value) -> rows, nulls excluded
    nulls: int

    @property
    def rows(self) -> int:
        return sum(self.counts.values()) + self.nulls


def numeric_profile(values: np.ndarray, settings: ProfileSettings) -> NumericProfile:
    with np.errstate(over="ignore", invalid="ignore"):
        return _numeric_profile(np.asarray(values, dtype="float64"), settings)


def _numeric_profile(values: np.ndarray, settings: ProfileSettings) -> NumericProfile:
    import pandas as pd

    present = values[~np.isnan(values)]
    nulls = int(values.size - present.size)
    if present.size == 0:
        return NumericProfile(0, nulls)
    ordered = np.sort(present)
    psi_edges = stats.decile_edges(ordered, settings.psi_bins)  # quantiles do not depend on the order
    required = np.r_[psi_edges, ordered[0], np.nextafter(ordered[-1], np.inf)]
    sketch = FineSketch.build(ordered, required, settings.fine_levels, settings.grid_cells)
    distinct = _distinct(ordered, DISTINCT_KEYS)
    exact = present.size <= settings.exact_limit
    return NumericProfile(
        n=int(present.size),
        nulls=nulls,
        min=float(ordered[0]),
        max=float(ordered[-1]),
        mean=float(pd.Series(values).mean()),  # with the nulls, as pandas averages the column
        std=float(np.std(pd.Series(present) if exact else present)),  # Evidently: np.std of the Series
        psi_edges=psi_edges,
        sketch=sketch,
        counts=_sorted_counts(ordered, sketch.edges),
        sums=_sorted_sums(ordered, sketch.edges),
        distinct=None if distinct is None else dict(zip(*(a.tolist() for a in distinct), strict=True)),
        ordered=ordered if exact else None,
    )


def categorical_profile(values) -> CategoricalProfile:
    """Counts by ``str(value)``; None and NaN are nulls (an Arrow array, pandas Series or list)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = (
        values
        if isinstance(values, pa.Array | pa.ChunkedArray)
        else pa.array(_as_list(values), from_pandas=True)
    )
    counts: dict[str, int] = {}
    nulls = 0
    for item in pc.value_counts(arr).to_pylist():
        if item["values"] is None or (isinstance(item["values"], float) and np.isnan(item["values"])):
            nulls += item["counts"]
        else:
            key = str(item["values"])
            counts[key] = counts.get(key, 0) + item["counts"]
    return CategoricalProfile(counts, nulls)


def _as_list(values) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)


# -- segments ---------------------------------------------------------------------------------------------
@dataclass
class NumericSegment:
    edges: np.ndarray  # the segment's own reference deciles (as mrm.checks.segments computes its PSI)
    counts: np.ndarray
    n: int


@dataclass
class SegmentProfile:
    rows: int
    numeric: dict[str, NumericSegment] = field(default_factory=dict)
    categorical: dict[str, CategoricalProfile] = field(default_factory=dict)


def segment_codes(column) -> tuple[np.ndarray, list[str]]:
    """Per row the index of ``str(value)`` in the sorted list of values (-1 for null), and that list."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = (
        column
        if isinstance(column, pa.Array | pa.ChunkedArray)
        else pa.array(_as_list(column), from_pandas=True)
    )
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], arr.type)
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    labels = [str(v) for v in arr.dictionary.to_pylist()]
    values = sorted(set(labels))
    position = {v: i for i, v in enumerate(values)}
    remap = np.array([position[label] for label in labels] + [-1], dtype=np.int64)
    return remap[arr.indices.fill_null(len(labels)).to_numpy(zero_copy_only=False)], values


def segment_columns(entry: ModelEntry, segment: str) -> list[str]:
    """The columns whose PSI is evaluated within each value of ``segment``."""
    wanted = set(entry.monitoring.segments.metrics)
    features = [f.name for f in entry.monitoring.features if f.name != segment] if "psi" in wanted else []
    return features + (["score"] if "score_psi" in wanted else [])


def segment_profiles(
    entry: ModelEntry, column, settings: ProfileSettings
) -> dict[str, dict[str, SegmentProfile]]:
    """Per segment column and value: reference rows, and per column its PSI bins and counts within the
    segment (``column(name)``: that column of the reference, Arrow or pandas)."""
    import pyarrow as pa

    if entry.monitoring.segments is None:
        return {}
    out: dict[str, dict[str, SegmentProfile]] = {}
    for seg in entry.monitoring.segments.columns:
        codes, values = segment_codes(column(seg))
        found = {v: SegmentProfile(int(np.count_nonzero(codes == k))) for k, v in enumerate(values)}
        for c in segment_columns(entry, seg):
            data = column(c)
            data = (
                data
                if isinstance(data, pa.Array | pa.ChunkedArray)
                else pa.array(_as_list(data), from_pandas=True)
            )
            x = numeric_values(data) if c in numeric_columns(entry) else None
            for k, v in enumerate(values):
                if x is None:
                    found[v].categorical[c] = categorical_profile(data.filter(pa.array(codes == k)))
                    continue
                present = x[codes == k]
                present = present[~np.isnan(present)]
                edges = stats.decile_edges(present, settings.psi_bins)
                counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=edges.size + 1)
                found[v].numeric[c] = NumericSegment(edges, counts, int(present.size))
        out[seg] = found
    return out


def _segments_meta(segments: dict[str, dict[str, SegmentProfile]], arrays: dict[str, np.ndarray]) -> dict:
    meta = {}
    for i, (seg, found) in enumerate(segments.items()):
        meta[seg] = {}
        for j, (value, p) in enumerate(found.items()):
            numeric = {}
            for c, part in p.numeric.items():
                arrays[f"segments/{i}/{j}/{c}/edges"], arrays[f"segments/{i}/{j}/{c}/counts"] = (
                    part.edges,
                    part.counts,
                )
                numeric[c] = part.n
            categorical = {c: {"counts": q.counts, "nulls": q.nulls} for c, q in p.categorical.items()}
            meta[seg][value] = {"rows": p.rows, "numeric": numeric, "categorical": categorical,
                                "arrays": f"segments/{i}/{j}"}  # fmt: skip
    return meta


def _segments_from(meta: dict, arrays: dict[str, np.ndarray]) -> dict[str, dict[str, SegmentProfile]]:
    out = {}
    for seg, found in meta.items():
        out[seg] = {}
        for value, m in sorted(found.items()):
            key = m["arrays"]
            numeric = {c: NumericSegment(arrays[f"{key}/{c}/edges"], arrays[f"{key}/{c}/counts"], n)
                       for c, n in m["numeric"].items()}  # fmt: skip
            categorical = {
                c: CategoricalProfile(q["counts"], q["nulls"]) for c, q in m["categorical"].items()
            }
            out[seg][value] = SegmentProfile(m["rows"], numeric, categorical)
    return out


# -- the profile ------------------------------------------------------------------------------------------
@dataclass
class ReferenceProfile:
    model_id: str
    fingerprint: str
    settings: ProfileSettings
    rows: int
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    info: dict[str, Any]  # window, rows, files, fingerprint, daily_rows, median_daily_rows, null_rates
    sample: pa.Table | None = None  # seeded random rows of the reference (required columns)
    segments: dict[str, dict[str, SegmentProfile]] = field(default_factory=dict)
    version: int = PROFILE_VERSION

    def to_files(self) -> dict[str, bytes]:
        """``profile.json`` (written last: its presence marks a complete profile), ``arrays.npz``, and
        ``sample.parquet``."""
        import pyarrow.parquet as pq

        arrays: dict[str, np.ndarray] = {}
        numeric = {}
        for name, p in self.numeric.items():
            numeric[name] = _numeric_meta(p)
            for part in ("psi_edges", "counts", "sums", "ordered"):
                if getattr(p, part) is not None:
                    arrays[f"{name}/{part}"] = getattr(p, part)
            if p.sketch is not None:
                arrays[f"{name}/edges"] = p.sketch.edges
        meta = {
            "version": self.version,
            "model_id": self.model_id,
            "fingerprint": self.fingerprint,
            "settings": asdict(self.settings),
            "rows": self.rows,
            "numeric": numeric,
            "categorical": {k: {"counts": v.counts, "nulls": v.nulls} for k, v in self.categorical.items()},
            "info": self.info,
            "segments": _segments_meta(self.segments, arrays),
        }
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        files = {"arrays.npz": buf.getvalue()}
        if self.sample is not None:
            out = io.BytesIO()
            pq.write_table(self.sample, out)
            files["sample.parquet"] = out.getvalue()
        files["profile.json"] = json.dumps(meta, sort_keys=True).encode()
        return files

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> ReferenceProfile:
        import pyarrow.parquet as pq

        meta = json.loads(files["profile.json"])
        with np.load(io.BytesIO(files["arrays.npz"]), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        numeric = {name: _numeric_from(m, name, arrays) for name, m in meta["numeric"].items()}
        categorical = {k: CategoricalProfile(v["counts"], v["nulls"]) for k, v in meta["categorical"].items()}
        sample = pq.read_table(io.BytesIO(files["sample.parquet"])) if "sample.parquet" in files else None
        segments = _segments_from(meta["segments"], arrays)
        return cls(
            meta["model_id"], meta["fingerprint"], ProfileSettings(**meta["settings"]), meta["rows"],
            numeric, categorical, meta["info"], sample, segments, meta["version"],
        )  # fmt: skip


def _numeric_meta(p: NumericProfile) -> dict[str, Any]:
    meta: dict[str, Any] = {k: getattr(p, k) for k in ("n", "nulls", "min", "max", "mean", "std")}
    meta["distinct"] = None if p.distinct is None else [[k, v] for k, v in p.distinct.items()]
    sketch = p.sketch
    meta["sketch"] = (
        None if sketch is None else {k: getattr(sketch, k) for k in ("space", "lo", "scale", "cells", "gap")}
    )
    return meta


def _numeric_from(meta: dict[str, Any], name: str, arrays: dict[str, np.ndarray]) -> NumericProfile:
    s = meta["sketch"]
    sketch = (
        None
        if s is None
        else FineSketch(arrays[f"{name}/edges"], s["space"], s["lo"], s["scale"], s["cells"], s["gap"])
    )
    scalars = {k: meta[k] for k in ("n", "nulls", "min", "max", "mean", "std")}
    return NumericProfile(
        **scalars,
        psi_edges=arrays.get(f"{name}/psi_edges"),
        sketch=sketch,
        counts=arrays.get(f"{name}/counts"),
        sums=arrays.get(f"{name}/sums"),
        distinct=None if meta["distinct"] is None else dict(meta["distinct"]),
        ordered=arrays.get(f"{name}/ordered"),
    )


# -- building ---------------------------------------------------------------------------------------------
def dtype_name(t: pa.DataType) -> str:
    try:
        return np.dtype(t.to_pandas_dtype()).name
    except (TypeError, NotImplementedError):
        return str(t)


def is_numeric_type(t: pa.DataType) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_boolean(t)
        or pa.types.is_null(t)
    )


def check_columns(names: list[str], entry: ModelEntry, where: str) -> None:
    """The required columns exist (the message of :func:`mrm.sources.contract.conform`)."""
    missing = [c for c in required_columns(entry) if c not in names]
    if missing:
        raise SchemaError(
            f"{entry.model_id}: {where} lacks required column(s) {', '.join(missing)}; "
            "fix the export or the inventory's feature list, then rerun"
        )


def wrong_types(entry: ModelEntry, where: str, wrong: list[str]) -> SchemaError:
    return SchemaError(f"{entry.model_id}: {where} has wrong column types: {'; '.join(wrong)}")


def numeric_values(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """float64 values with NaN for nulls; None if the column is neither numeric nor all null."""
    import pyarrow as pa

    if not is_numeric_type(column.type):
        return np.full(len(column), np.nan) if column.null_count == len(column) else None
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")


def profile_from_frame(
    frame: pd.DataFrame,
    entry: ModelEntry,
    info: dict[str, Any],
    settings: ProfileSettings | None = None,
    fingerprint: str = "",
) -> ReferenceProfile:
    """The profile of a conformed reference frame (:func:`mrm.sources.contract.conform`), with the
    reference ``info`` the pipeline computed for it (daily rows, null rates, ...)."""
    import pyarrow as pa

    settings = settings or ProfileSettings.for_entry(entry)
    numeric = {
        c: numeric_profile(frame[c].to_numpy(dtype="float64"), settings) for c in numeric_columns(entry)
    }
    categorical = {c: categorical_profile(frame[c]) for c in categorical_columns(entry)}
    rows = len(frame)
    pick = _sample_positions(rows, settings)
    sample = pa.Table.from_pandas(frame[required_columns(entry)].iloc[pick], preserve_index=False)
    segments = segment_profiles(entry, lambda c: frame[c], settings)
    return ReferenceProfile(
        entry.model_id, fingerprint, settings, rows, numeric, categorical, dict(info), sample, segments
    )


def _sample_positions(rows: int, settings: ProfileSettings) -> np.ndarray:
    if rows <= settings.sample_rows:
        return np.arange(rows)
    return np.sort(np.random.default_rng(settings.seed).choice(rows, settings.sample_rows, replace=False))


def profile_from_files(
    entry: ModelEntry,
    files_by_day: dict[date, list[ObjectInfo]],
    settings: ProfileSettings | None = None,
    fingerprint: str = "",
) -> ReferenceProfile:
    """The profile of the reference window's Parquet files, read one column at a time (memory: one
    column of the window, not the window); the sample's rows are taken from each column as it passes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    settings = settings or ProfileSettings.for_entry(entry)
    ref = entry.monitoring.reference
    where = f"reference window {ref.start}..{ref.end} of {entry.monitoring.scoring_log}"
    files = [f for day in sorted(files_by_day) for f in files_by_day[day]]
    with local_copies(files, prefix="mrm_profile_") as copies:
        paths = [path for _, path in copies]
        try:
            metas = [pq.ParquetFile(p).metadata for p in paths]
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise SourceError(f"cannot read reference file: not valid Parquet ({exc})") from None
        check_columns(sorted({n for m in metas for n in m.schema.to_arrow_schema().names}), entry, where)
        reader = _ColumnReader(paths, metas)
        rows = sum(m.num_rows for m in metas)
        positions = pa.array(_sample_positions(rows, settings))
        numeric, categorical, nulls, sample, wrong = {}, {}, {}, {}, []
        for c in required_columns(entry):
            column = reader.column(c)
            sample[c] = column.take(positions)
            nulls[c] = column.null_count
            if c in categorical_columns(entry):
                categorical[c] = categorical_profile(column)
            elif c in numeric_columns(entry):
                values = numeric_values(column)
                if values is None:
                    wrong.append(f"{c} is {dtype_name(reader.type(c))}, expected numeric")
                    continue
                numeric[c] = numeric_profile(values, settings)
                nulls[c] = numeric[c].nulls
        if wrong:
            raise wrong_types(entry, where, wrong)
        segments = segment_profiles(entry, reader.column, settings)
    info = _reference_info(entry, files_by_day, [m.num_rows for m in metas], nulls)
    return ReferenceProfile(
        entry.model_id, fingerprint, settings, rows, numeric, categorical, info, pa.table(sample), segments
    )


def _reference_info(entry: ModelEntry, files_by_day: dict[date, list[ObjectInfo]], file_rows: list[int],
                    nulls: dict[str, int]) -> dict[str, Any]:  # fmt: skip
    """What pipeline._reference records about a reference window, from the files' row counts."""
    from mrm.evidence import fingerprint as files_fingerprint

    ref = entry.monitoring.reference
    per_file = iter(file_rows)
    daily = {d: sum(next(per_file) for _ in files_by_day[d]) for d in sorted(files_by_day)}
    daily = {d: n for d, n in daily.items() if n}
    rows = sum(file_rows)
    if not daily:
        raise NoDataError(
            f"no reference scoring log data at all for {ref.start}..{ref.end}: "
            f"{entry.monitoring.scoring_log} has 0 rows there"
        )
    files = [f for d in sorted(files_by_day) for f in files_by_day[d]]
    return {
        "window": [ref.start.isoformat(), ref.end.isoformat()],
        "rows": rows,
        "files": len(files),
        "fingerprint": files_fingerprint(files),
        "missing_days": [d.isoformat() for d in ref.days() if d not in daily],
        "median_daily_rows": float(np.median(list(daily.values()))),
        "daily_rows": list(daily.values()),
        "null_rates": {c: nulls[c] / rows for c in required_columns(entry)},
    }


class _ColumnReader:
    """One column of several Parquet files at a time; a column a file lacks reads as nulls."""

    def __init__(self, paths: list[str], metas: list):
        self.paths, self.metas = paths, metas
        self.schemas = [m.schema.to_arrow_schema() for m in metas]

    def type(self, name: str) -> pa.DataType:
        return next(s.field(name).type for s in self.schemas if name in s.names)

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
