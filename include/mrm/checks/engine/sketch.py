"""The fine sketch of a numeric reference column: about 2,048 of its order statistics as bin edges (plus
a bin of its own for each repeated value, and the PSI edges), so that a day's values can be counted per
fine bin in one pass and the KS and Wasserstein distances computed from the counts within a stated bound.

:class:`FineSketch` bins a value as ``np.searchsorted(edges, x, side="right")`` does, through a lookup
table over equal steps of x or of log|x| where the edges allow one (a few vector operations per value
instead of a binary search).
"""

from __future__ import annotations

import numpy as np

_SIGN = np.int64(0x7FFFFFFFFFFFFFFF)


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
    distinct = distinct_values(ordered, levels)
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


def sorted_counts(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin of sorted values: equal to ``np.bincount(np.searchsorted(edges, ordered, "right"))``
    at the cost of one binary search per edge instead of one per value."""
    return np.diff(np.r_[0, np.searchsorted(ordered, edges, side="left"), ordered.size])


def sorted_sums(ordered: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sums per bin of sorted values (each bin is a contiguous run of them)."""
    starts = np.r_[0, np.searchsorted(ordered, edges, side="left")]
    filled = np.diff(np.r_[starts, ordered.size]) > 0
    sums = np.zeros(starts.size)
    sums[filled] = np.add.reduceat(ordered, starts[filled])
    return sums


def distinct_values(ordered: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(values, counts) of sorted values if there are at most ``limit`` distinct ones, else None."""
    changes = ordered[1:] != ordered[:-1]
    if np.count_nonzero(changes) + 1 > limit:
        return None
    starts = np.flatnonzero(np.r_[True, changes])
    return ordered[starts], np.diff(np.r_[starts, ordered.size])


def _max_open_mass(sketch: FineSketch, ordered: np.ndarray) -> float:
    """The largest reference share in a bin that spans more than one value: the KS error bound."""
    counts = sorted_counts(ordered, sketch.edges)
    return float(counts[~sketch.singletons()].max() / max(ordered.size, 1))
