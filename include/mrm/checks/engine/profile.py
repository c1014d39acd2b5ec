"""The reference profile: what the daily checks need from the reference window, computed once
(:mod:`mrm.checks.engine.profiling`) and cached (:mod:`mrm.checks.reference`) as three files.

Per numeric column (the numeric features and the score): the PSI edges of :mod:`mrm.checks.stats`
under the column's ``psi_binning`` (exactly; the convention followed is recorded, and the edges of the
other conventions too wherever they are edges of the fine sketch, so a day's PSI under each comes from
the same counts), a :class:`~mrm.checks.engine.sketch.FineSketch` with the
reference's count and sum in each fine bin, the null count, min, max, mean and standard deviation, the
distinct values when there are at most 20 (Evidently's Jensen-Shannon keys), and, up to ``exact_limit``
values, the sorted reference itself (exact KS and Wasserstein on days small enough to be held whole). Per
categorical column (the categorical features and the decision): the count of every value and of nulls.
Plus the reference's daily row counts and null rates (what the pipeline records as the run's reference),
a seeded random sample of its rows for the evidence reports, and for a model with segments, per segment
value its rows and the PSI bins and counts within it (each segment is binned on its own).

A profile carries a fingerprint of its inputs, so a daily run reads it instead of the reference window.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mrm.checks import stats
from mrm.checks.engine.sketch import FineSketch
from mrm.inventory import ModelEntry

if TYPE_CHECKING:
    import pyarrow as pa

PROFILE_VERSION = 3  # 2: bounded labels (mrm.checks.engine.bounds); 3: PSI binning conventions
DISTINCT_KEYS = 20  # Evidently bins a numeric column by value when its reference has <= 20 distinct values


@dataclass(frozen=True)
class ProfileSettings:
    psi_bins: int = stats.DEFAULT_BINS
    fine_levels: int = 2048  # reference order statistics in the fine sketch: KS error about 1/fine_levels
    grid_cells: int = 65536  # lookup-table cells that replace a binary search over the fine edges
    exact_limit: int = 200_000  # keep the sorted reference for exact KS/Wasserstein up to this many values
    sample_rows: int = 50_000  # reference rows kept for the evidence reports
    seed: int = 0
    psi_binning: str = stats.DEFAULT_BINNING  # the model's (and the score's) PSI binning
    psi_binning_columns: dict[str, str] = field(default_factory=dict)  # features that set their own

    @classmethod
    def for_entry(cls, entry: ModelEntry, **overrides: Any) -> ProfileSettings:
        plan = entry.monitoring
        own = {f.name: f.psi_binning for f in plan.features if f.psi_binning is not None}
        found = {"psi_bins": plan.psi_bins, "psi_binning": plan.psi_binning, "psi_binning_columns": own}
        return cls(**{**found, **overrides})

    def binning_of(self, column: str) -> str:
        return self.psi_binning_columns.get(column, self.psi_binning)


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
    binning: str = stats.DEFAULT_BINNING  # the convention psi_edges follow (stats.binning_edges)
    other_edges: dict[str, np.ndarray] = field(default_factory=dict)  # other conventions' edges (fine edges)
    not_computable: dict[str, str] = field(default_factory=dict)  # convention -> why its PSI is not given

    def psi_counts(self, fine_counts: np.ndarray, edges: np.ndarray | None = None) -> np.ndarray:
        """Counts per PSI bin (of ``edges``, by default the PSI edges) from counts per fine bin (the
        edges are fine edges)."""
        edges = self.psi_edges if edges is None else edges
        which = np.searchsorted(edges, np.r_[-np.inf, self.sketch.edges], side="right")
        return np.bincount(which, weights=fine_counts, minlength=edges.size + 1).astype(np.int64)

    def edges_by_binning(self) -> dict[str, np.ndarray]:
        """The PSI edges of each convention whose PSI the day's counts give (the chosen one first)."""
        return {self.binning: self.psi_edges, **self.other_edges}


@dataclass
class CategoricalProfile:
    counts: dict[str, int]  # str(value) -> rows, nulls excluded
    nulls: int

    @property
    def rows(self) -> int:
        return sum(self.counts.values()) + self.nulls


@dataclass
class NumericSegment:
    edges: np.ndarray  # the segment's own reference deciles (as the segment checks compute its PSI)
    counts: np.ndarray
    n: int


@dataclass
class SegmentProfile:
    rows: int
    numeric: dict[str, NumericSegment] = field(default_factory=dict)
    categorical: dict[str, CategoricalProfile] = field(default_factory=dict)


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
    sha256: str | None = field(default=None, compare=False)  # of its cached files (checks.reference)

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
            for binning, edges in p.other_edges.items():
                arrays[f"{name}/psi_edges_{binning}"] = edges
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
        files = {"arrays.npz": _npz(arrays)}
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
    meta["binning"], meta["not_computable"] = p.binning, p.not_computable
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
        binning=meta.get("binning", stats.DEFAULT_BINNING),
        other_edges={
            b: arrays[f"{name}/psi_edges_{b}"] for b in stats.BINNINGS if f"{name}/psi_edges_{b}" in arrays
        },
        not_computable=meta.get("not_computable", {}),
    )


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


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    """``np.savez``'s file (what ``np.load`` reads) with its members in name order and a fixed member
    time, so its bytes depend on the arrays alone (``np.savez`` stamps each member with the clock, and
    keeps the order the profile's columns were built in)."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
        for name, array in sorted(arrays.items()):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with out.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)
    return buf.getvalue()
