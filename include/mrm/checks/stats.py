"""Statistics in the credit-risk convention, in plain numpy.

PSI = Σ (a_i − e_i) · ln(a_i / e_i), with e_i the reference share and a_i the current share of bin i.
Numeric bins follow the model's (or feature's) ``psi_binning`` (:data:`BINNINGS`): the reference
quantiles at 1/bins ... (bins-1)/bins by numpy's default ("linear") rule, as half-open intervals
[q_k, q_{k+1}) with open ends (``deciles``), plus a bin of its own for a value that several quantiles
share (a mass point, ``deciles_mass_points``, the default), or one bin per distinct reference value
(``distinct_values``, up to :data:`MAX_DISTINCT_BINS` values, else the default); nulls are excluded
(the null-rate controls watch them). Categorical bins: the reference categories, plus one
"other" bin for values never seen in the reference, plus one "missing" bin (null, or the MISSING
marker); shares are over all rows. Empty bins get the share EPSILON instead of 0, so PSI is always
finite.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EPSILON = 1e-4
DEFAULT_BINS = 10
BINNINGS = ("deciles", "deciles_mass_points", "distinct_values")  # as monitoring.psi_binning names them
DEFAULT_BINNING = "deciles_mass_points"
MAX_DISTINCT_BINS = 50  # distinct_values: one bin per reference value up to this many, else the default


def decile_edges(reference: np.ndarray, bins: int = DEFAULT_BINS, *, mass_points: bool = True) -> np.ndarray:
    """Inner bin edges: the reference's 1/bins … (bins-1)/bins quantiles, de-duplicated.

    A value that several quantiles share is a mass point (e.g. a zero-inflated feature): it gets a bin
    of its own, [v, next float above v), so that values above it are not lumped together with it
    (``mass_points=False``: plain de-duplicated quantiles, e.g. for calibration groups)."""
    ref = np.asarray(reference, dtype="float64")
    ref = ref[~np.isnan(ref)]
    if ref.size == 0:
        return np.array([])
    quantiles = np.quantile(ref, np.arange(1, bins) / bins)
    values, counts = np.unique(quantiles, return_counts=True)
    if not mass_points:
        return values
    return np.unique(np.concatenate([values, np.nextafter(values[counts > 1], np.inf)]))


def binning_edges(reference: np.ndarray, bins: int = DEFAULT_BINS, binning: str = DEFAULT_BINNING
                  ) -> tuple[np.ndarray, str]:  # fmt: skip
    """(inner bin edges, the convention they follow) of a numeric reference under ``binning``.

    ``deciles``: the de-duplicated quantiles; ``deciles_mass_points``: plus [v, next float above v) for
    each value v that several quantiles share; ``distinct_values``: every distinct reference value v_k
    starts a bin [v_k, v_{k+1}) (below the smallest, its own open bin), when there are at most
    MAX_DISTINCT_BINS of them; otherwise the edges of ``deciles_mass_points``, which is returned as the
    convention followed."""
    if binning not in BINNINGS:
        raise ValueError(f"unknown PSI binning '{binning}'; valid: {', '.join(BINNINGS)}")
    return all_binning_edges(reference, bins)[binning]


def all_binning_edges(reference: np.ndarray, bins: int = DEFAULT_BINS) -> dict[str, tuple[np.ndarray, str]]:
    """:func:`binning_edges` under every convention, the quantiles computed once."""
    ref = _sorted(reference)
    if ref.size == 0:
        return {b: (np.array([]), b) for b in BINNINGS}
    quantiles = np.quantile(ref, np.arange(1, bins) / bins)
    values, counts = np.unique(quantiles, return_counts=True)
    mass = np.unique(np.concatenate([values, np.nextafter(values[counts > 1], np.inf)]))
    changes = ref[1:] != ref[:-1]
    distinct = ref[np.r_[True, changes]] if np.count_nonzero(changes) < MAX_DISTINCT_BINS else None
    return {
        "deciles": (values, "deciles"),
        "deciles_mass_points": (mass, "deciles_mass_points"),
        "distinct_values": (mass, DEFAULT_BINNING) if distinct is None else (distinct, "distinct_values"),
    }


def _sorted(reference: np.ndarray) -> np.ndarray:
    """The non-null values in order (sorted only if they are not already)."""
    ref = np.asarray(reference, dtype="float64")
    missing = np.isnan(ref)
    ref = ref[~missing] if missing.any() else ref  # no copy of a profile's sorted column
    return ref if ref.size < 2 or np.all(ref[1:] >= ref[:-1]) else np.sort(ref)


def too_many_distinct(reference: np.ndarray) -> str:
    """Why ``distinct_values`` does not apply to a reference (its PSI detail says so)."""
    ref = _sorted(reference)
    found = np.count_nonzero(ref[1:] != ref[:-1]) + 1 if ref.size else 0
    return f"{found} distinct reference values, more than {MAX_DISTINCT_BINS}: not binned by value"


def numeric_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    vals = np.asarray(values, dtype="float64")
    vals = vals[~np.isnan(vals)]
    counts = np.bincount(np.searchsorted(edges, vals, side="right"), minlength=edges.size + 1)
    return counts / max(vals.size, 1)


MISSING = "__missing__"  # marks a null categorical value where nulls cannot travel (e.g. Evidently)


def is_missing(v) -> bool:
    return v is None or v == MISSING or (isinstance(v, float) and np.isnan(v))


def categorical_shares(values: Sequence, categories: Sequence[str]) -> np.ndarray:
    """Shares of each reference category, then "other" (unseen), then "missing"; over all rows."""
    index = {c: i for i, c in enumerate(categories)}
    other, missing = len(categories), len(categories) + 1
    counts = np.zeros(len(categories) + 2)
    for v in values:
        counts[missing if is_missing(v) else index.get(str(v), other)] += 1
    return counts / max(len(values), 1)


def _count_shares(counts: dict[str, int], nulls: int, categories: Sequence[str]) -> np.ndarray:
    """:func:`categorical_shares` from a count table: rows per ``str(value)`` (the MISSING marker
    counts as missing) and the null count."""
    known = set(categories)
    other = sum(n for k, n in counts.items() if k not in known and k != MISSING)
    missing = nulls + counts.get(MISSING, 0)
    table = np.array([*(counts.get(c, 0) for c in categories), other, missing], dtype="float64")
    return table / max(sum(counts.values()) + nulls, 1)


def psi_from_shares(expected: np.ndarray, actual: np.ndarray, eps: float = EPSILON) -> float:
    e = np.maximum(np.asarray(expected, dtype="float64"), eps)
    a = np.maximum(np.asarray(actual, dtype="float64"), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_numeric(
    reference: np.ndarray, current: np.ndarray, bins: int = DEFAULT_BINS, binning: str = DEFAULT_BINNING
) -> float:
    edges = binning_edges(reference, bins, binning)[0]
    return psi_from_shares(numeric_shares(reference, edges), numeric_shares(current, edges))


def psi_categorical(reference: Sequence, current: Sequence) -> float:
    categories = sorted({str(v) for v in reference if not is_missing(v)})
    return psi_from_shares(categorical_shares(reference, categories), categorical_shares(current, categories))


def psi_of_counts(
    reference: dict[str, int], reference_nulls: int, current: dict[str, int], current_nulls: int
) -> float:
    """:func:`psi_categorical` from count tables (rows per ``str(value)``, and the nulls)."""
    categories = sorted(k for k in reference if k != MISSING)
    return psi_from_shares(
        _count_shares(reference, reference_nulls, categories),
        _count_shares(current, current_nulls, categories),
    )
