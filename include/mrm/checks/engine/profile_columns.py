"""One reference column's profile (:class:`~mrm.checks.engine.profile.NumericProfile` or
:class:`~mrm.checks.engine.profile.CategoricalProfile`), in memory of about two copies of the column's
values at its peak.

A numeric column's values are taken over (:func:`numeric_profile_owned`): their mean is summed over them
as pandas sums it (nulls as 0), the non-null values are moved to the front of the same buffer, their
standard deviation is taken before they are sorted there in place. The results are those of sorting a
copy of the non-null values and of ``pd.Series(values).mean()`` bit for bit; the peak is the buffer and
one temporary of its size (``np.std``'s deviations, ``np.quantile``'s copy). A categorical column is
counted piece by piece (:func:`categorical_profile_of`): the counts, and their order (first appearance),
are those of counting it whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from mrm.checks import stats
from mrm.checks.engine.bounds import label
from mrm.checks.engine.profile import DISTINCT_KEYS, CategoricalProfile, NumericProfile, ProfileSettings
from mrm.checks.engine.sketch import FineSketch, distinct_values, sorted_counts, sorted_sums

if TYPE_CHECKING:
    import pyarrow as pa

_BLOCK = 1 << 20  # values moved per step when the non-null values are packed to the front


def numeric_profile(
    values: np.ndarray, settings: ProfileSettings, binning: str = stats.DEFAULT_BINNING
) -> NumericProfile:
    """A numeric column's profile; its PSI edges follow ``binning`` (see stats.binning_edges).
    ``values`` is left as it is (a copy is profiled)."""
    return numeric_profile_owned(np.array(values, dtype="float64"), settings, binning)


def numeric_profile_owned(
    values: np.ndarray, settings: ProfileSettings, binning: str = stats.DEFAULT_BINNING
) -> NumericProfile:
    """:func:`numeric_profile` of a float64 array the caller hands over: it is overwritten (its nulls
    set to 0, its non-null values packed to its front and sorted there)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _numeric_profile(values, settings, binning)


def _numeric_profile(values: np.ndarray, settings: ProfileSettings, binning: str) -> NumericProfile:
    import pandas as pd

    missing = np.isnan(values)
    nulls = int(np.count_nonzero(missing))
    n = values.size - nulls
    if n == 0:
        empty = values[:0]
        return NumericProfile(0, nulls, binning=stats.binning_edges(empty, settings.psi_bins, binning)[1])
    mean = _pandas_mean(values, missing, n)
    present = _packed(values, missing, n)
    del missing, values
    exact = n <= settings.exact_limit
    std = float(np.std(pd.Series(present) if exact else present))  # Evidently: np.std of the Series
    present.sort()  # as np.sort(present) sorts its copy
    ordered = present.copy() if exact and present.base is not None else present
    every = stats.all_binning_edges(ordered, settings.psi_bins)  # quantiles do not depend on the order
    psi_edges, used = every[binning]
    required = np.r_[psi_edges, ordered[0], np.nextafter(ordered[-1], np.inf)]
    if used != stats.DEFAULT_BINNING:  # the default's sketch stays as it was: its numbers do not change
        required = np.r_[required, *(edges for edges, _ in every.values())]
    sketch = FineSketch.build(ordered, required, settings.fine_levels, settings.grid_cells)
    distinct = distinct_values(ordered, DISTINCT_KEYS)
    other, not_given = other_binnings(ordered, every, used, sketch)
    return NumericProfile(
        n=n,
        nulls=nulls,
        min=float(ordered[0]),
        max=float(ordered[-1]),
        mean=mean,
        std=std,
        psi_edges=psi_edges,
        sketch=sketch,
        counts=sorted_counts(ordered, sketch.edges),
        sums=sorted_sums(ordered, sketch.edges),
        distinct=None if distinct is None else dict(zip(*(a.tolist() for a in distinct), strict=True)),
        ordered=ordered if exact else None,
        binning=used,
        other_edges=other,
        not_computable=not_given,
    )


def _pandas_mean(values: np.ndarray, missing: np.ndarray, n: int) -> float:
    """``pd.Series(values).mean()`` without its copy: pandas sets the nulls of a copy to 0, sums it and
    divides by the float64 count of values; here the nulls of ``values`` itself are set to 0."""
    if n < values.size:
        np.copyto(values, 0.0, where=missing)
    return float(values.sum() / np.float64(n))


def _packed(values: np.ndarray, missing: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` non-null values, in order, moved to the front of ``values`` (a view of it), as
    ``values[~missing]`` would copy them."""
    if n == values.size:
        return values
    to = 0
    for start in range(0, values.size, _BLOCK):
        kept = values[start : start + _BLOCK][~missing[start : start + _BLOCK]]  # a copy: then written
        values[to : to + kept.size] = kept
        to += kept.size
    return values[:n]


def other_binnings(ordered: np.ndarray, every: dict[str, tuple[np.ndarray, str]], used: str,
                   sketch: FineSketch) -> tuple[dict[str, np.ndarray], dict[str, str]]:  # fmt: skip
    """Of ``every`` convention's (edges, convention followed), the edges of those other than ``used``
    that are all fine edges (so a day's PSI under each comes from its fine counts), and why each other
    one is not given."""
    edges, missing = {}, {}
    for binning, (found, follows) in every.items():
        if binning == used:
            continue
        if follows != binning:
            missing[binning] = stats.too_many_distinct(ordered)
        elif np.isin(found, sketch.edges).all():
            edges[binning] = found
        else:
            missing[binning] = "its edges are not edges of the fine sketch: not computable from the counts"
    return edges, missing


def categorical_profile(values) -> CategoricalProfile:
    """Counts by the value's label (``str(value)``, :func:`mrm.checks.engine.bounds.label`); None and NaN
    are nulls (an Arrow array, pandas Series or list)."""
    return categorical_profile_of([arrow(values)])


def categorical_profile_of(pieces: Iterable[pa.Array | pa.ChunkedArray]) -> CategoricalProfile:
    """:func:`categorical_profile` of a column given as consecutive Arrow pieces (the same counts, in
    the same order: of first appearance)."""
    import pyarrow.compute as pc

    counts: dict[str, int] = {}
    nulls = 0
    for piece in pieces:
        for item in pc.value_counts(piece).to_pylist():
            if item["values"] is None or (isinstance(item["values"], float) and np.isnan(item["values"])):
                nulls += item["counts"]
            else:
                key = label(item["values"])
                counts[key] = counts.get(key, 0) + item["counts"]
    return CategoricalProfile(counts, nulls)


def arrow(values) -> pa.Array | pa.ChunkedArray:
    """An Arrow array as it is, anything else (pandas Series, numpy array, list) as one."""
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    return pa.array(values.tolist() if hasattr(values, "tolist") else list(values), from_pandas=True)
