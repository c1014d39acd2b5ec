"""Building a reference profile (:mod:`mrm.checks.engine.profile`): from a conformed frame (a window a
source returned as rows), or from the window's Parquet files, one column at a time, each read in pieces
of a row group or less: a numeric column's values go into one float64 buffer that its profile takes over
(:mod:`mrm.checks.engine.profile_columns`), the sample's rows are taken and the nulls and categories
counted as the pieces pass (memory: about two float64 copies of one column of the window at the peak).
Also :func:`reference_info`, what a run records about its reference window, built here for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from mrm.checks import stats
from mrm.checks.engine.bounds import (
    MAX_SEGMENT_VALUE_CHARS,
    MAX_SEGMENT_VALUES,
    OTHER_SEGMENT,
    bounded_table,
    folded_sample,
    label,
)
from mrm.checks.engine.profile import NumericSegment, ProfileSettings, ReferenceProfile, SegmentProfile
from mrm.checks.engine.profile_columns import (
    arrow,
    categorical_profile,
    categorical_profile_of,
    numeric_profile_owned,
)
from mrm.checks.engine.profile_columns import numeric_profile as numeric_profile  # where callers find it
from mrm.errors import NoDataError
from mrm.inventory import ModelEntry
from mrm.sources.contract import (
    categorical_columns,
    check_columns,
    check_readable,
    dtype_name,
    not_numeric,
    numeric_columns,
    numeric_values,
    required_columns,
    wrong_types,
)
from mrm.sources.parquet_stream import ParquetColumns, parquet_columns

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from mrm.core.storage import ObjectInfo


# -- segments ---------------------------------------------------------------------------------------------
def segment_codes(column) -> tuple[np.ndarray, list[str]]:
    """Per row the index of its value's label (``str(value)``, at most ``MAX_SEGMENT_VALUE_CHARS``
    characters, :func:`mrm.checks.engine.bounds.label`) in the sorted list of labels (-1 for null), and
    that list."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arrow(column)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], arr.type)
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    labels = [label(v, MAX_SEGMENT_VALUE_CHARS) for v in arr.dictionary.to_pylist()]
    values = sorted(set(labels))
    position = {v: i for i, v in enumerate(values)}
    remap = np.array([position[label] for label in labels] + [-1], dtype=np.int64)
    return remap[arr.indices.fill_null(len(labels)).to_numpy(zero_copy_only=False)], values


def segment_codes_of(pieces: Iterable, rows: int) -> tuple[np.ndarray, list[str]]:
    """:func:`segment_codes` of a column of ``rows`` rows given in consecutive pieces (the same codes,
    as int32, and labels), holding 4 bytes a row and one piece."""
    found = np.empty(rows, dtype=np.int32)  # per row: its label's index in order of first appearance
    first_seen: dict[str, int] = {}
    at = 0
    for piece in pieces:
        codes, labels = segment_codes(piece)
        local = np.array([first_seen.setdefault(v, len(first_seen)) for v in labels] + [-1], np.int32)
        found[at : at + codes.size] = local[codes]
        at += codes.size
    values = sorted(first_seen)
    position = {v: i for i, v in enumerate(values)}
    remap = np.array([position[v] for v in first_seen] + [-1], dtype=np.int32)
    return remap[found[:at]], values


def top_segments(codes: np.ndarray, values: list[str]) -> tuple[np.ndarray, list[str]]:
    """The reference's segment values capped at the ``MAX_SEGMENT_VALUES`` with most rows; the rows of
    the others are coded as ``OTHER_SEGMENT``."""
    if len(values) <= MAX_SEGMENT_VALUES:
        return codes, values
    rows = np.bincount(codes[codes >= 0], minlength=len(values))
    top = set(sorted(range(len(values)), key=lambda k: (-rows[k], values[k]))[:MAX_SEGMENT_VALUES])
    kept = sorted({values[k] for k in top} | {OTHER_SEGMENT})
    position = {v: i for i, v in enumerate(kept)}
    named = [values[k] if k in top else OTHER_SEGMENT for k in range(len(values))]
    remap = np.array([position[v] for v in named] + [-1], dtype=np.int64)
    return remap[codes], kept


def segment_columns(entry: ModelEntry, segment: str) -> list[str]:
    """The columns whose PSI is evaluated within each value of ``segment``."""
    wanted = set(entry.monitoring.segments.metrics)
    features = [f.name for f in entry.monitoring.features if f.name != segment] if "psi" in wanted else []
    return features + (["score"] if "score_psi" in wanted else [])


def segment_profiles(entry: ModelEntry, column: Callable, settings: ProfileSettings,
                     floats: Callable | None = None, codes_of: Callable | None = None,
                     ) -> dict[str, dict[str, SegmentProfile]]:  # fmt: skip
    """Per segment column and value: reference rows, and per column its PSI bins and counts within the
    segment (``column(name)``: that column of the reference, Arrow or pandas; ``floats(name)``: a
    numeric column's float64 values, NaN for nulls, by default ``numeric_values`` of ``column(name)``;
    ``codes_of(name)``: its :func:`segment_codes`, by default of ``column(name)``). One column is held
    at a time, besides the segment codes."""
    if entry.monitoring.segments is None:
        return {}
    floats = floats or (lambda c: numeric_values(arrow(column(c))))
    codes_of = codes_of or (lambda c: segment_codes(column(c)))
    out: dict[str, dict[str, SegmentProfile]] = {}
    for seg in entry.monitoring.segments.columns:
        codes, values = top_segments(*codes_of(seg))
        codes = codes.astype(np.int8)  # -1 and the indices of at most MAX_SEGMENT_VALUES + 1 values
        found = {v: SegmentProfile(int(np.count_nonzero(codes == k))) for k, v in enumerate(values)}
        for c in segment_columns(entry, seg):
            _release_arrow_memory()
            if c in numeric_columns(entry):
                _numeric_within(found, codes, c, floats(c), settings)
            else:
                _categorical_within(found, codes, c, arrow(column(c)))
        out[seg] = found
        _release_arrow_memory()
    return out


def _release_arrow_memory() -> None:
    """Hand the memory of the Arrow buffers freed so far back to the system (the pool keeps it for
    reuse otherwise: a column read whole would stay in the process's RSS)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _numeric_within(found: dict[str, SegmentProfile], codes: np.ndarray, c: str, x: np.ndarray,
                    settings: ProfileSettings) -> None:  # fmt: skip
    """Numeric column ``c``'s PSI bins and counts within each segment value (its non-null values taken
    in one copy and sorted there, as ``binning_edges`` would sort a copy)."""
    valid = ~np.isnan(x)
    for k, v in enumerate(found):
        present = x[(codes == k) & valid]
        present.sort()
        edges = stats.binning_edges(present, settings.psi_bins, settings.binning_of(c))[0]
        counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=edges.size + 1)
        found[v].numeric[c] = NumericSegment(edges, counts, int(present.size))


def _categorical_within(found: dict[str, SegmentProfile], codes: np.ndarray, c: str, data) -> None:
    """Categorical column ``c``'s counts within each segment value."""
    import pyarrow as pa

    for k, v in enumerate(found):
        found[v].categorical[c] = categorical_profile(data.filter(pa.array(codes == k)))


# -- the profile ------------------------------------------------------------------------------------------
def profile_from_frame(
    frame: pd.DataFrame,
    entry: ModelEntry,
    info: dict[str, Any],
    settings: ProfileSettings | None = None,
    fingerprint: str = "",
) -> ReferenceProfile:
    """The profile of a conformed reference frame (:func:`mrm.sources.contract.conform`), with the
    reference ``info`` the pipeline computed for it (:func:`reference_info`)."""
    import pyarrow as pa

    settings = settings or ProfileSettings.for_entry(entry)
    numeric = {  # each column's own copy, taken over by its profile
        c: numeric_profile_owned(
            frame[c].to_numpy(dtype="float64", copy=True), settings, settings.binning_of(c)
        )
        for c in numeric_columns(entry)
    }
    categorical = {c: categorical_profile(frame[c]) for c in categorical_columns(entry)}
    rows = len(frame)
    pick = _sample_positions(rows, settings)
    sample = pa.Table.from_pandas(frame[required_columns(entry)].iloc[pick], preserve_index=False)
    sample = sample.replace_schema_metadata(None)  # no pandas metadata: the bytes of profile_from_files'
    sample = folded_sample(bounded_table(sample), categorical_columns(entry))
    segments = segment_profiles(entry, lambda c: frame[c], settings, lambda c: _frame_floats(frame, c))
    return ReferenceProfile(
        entry.model_id, fingerprint, settings, rows, numeric, categorical, dict(info), sample, segments
    )


def _frame_floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column of a frame as float64 (NaN for nulls): a conformed frame's own values (float64,
    :func:`~mrm.sources.contract.conform`), else as ``numeric_values`` converts the column's values."""
    values = frame[column]
    if values.dtype == np.float64:
        return values.to_numpy()
    return numeric_values(arrow(values))


def _sample_positions(rows: int, settings: ProfileSettings) -> np.ndarray:
    """The rows of the reference sample: all of them, or ``sample_rows`` drawn with the settings' seed."""
    if rows <= settings.sample_rows:
        return np.arange(rows)
    return np.sort(np.random.default_rng(settings.seed).choice(rows, settings.sample_rows, replace=False))


def profile_from_files(
    entry: ModelEntry,
    files_by_day: dict[date, list[ObjectInfo]],
    settings: ProfileSettings | None = None,
    fingerprint: str = "",
    info: dict[str, Any] | None = None,
) -> ReferenceProfile:
    """The profile of the reference window's Parquet files, read one column at a time in pieces
    (memory: about two float64 copies of one column of the window); the sample's rows are taken from
    each column's pieces as they pass. ``info``: the reference information to record instead of the
    files' own (a window spooled from another source, :mod:`mrm.checks.reference_spool`)."""
    import pyarrow as pa

    settings = settings or ProfileSettings.for_entry(entry)
    ref = entry.monitoring.reference
    where = f"reference window {ref.start}..{ref.end} of {entry.monitoring.scoring_log}"
    files = [f for day in sorted(files_by_day) for f in files_by_day[day]]
    with parquet_columns(files, "reference file", prefix="mrm_profile_") as reader:
        check_columns(reader.names, entry, where)
        check_readable(((c, reader.type(c)) for c in reader.names), entry, where)
        rows = sum(reader.file_rows)
        positions = _sample_positions(rows, settings)
        numeric, categorical, nulls, sample = _column_profiles(reader, entry, settings, positions, where)
        segments = segment_profiles(
            entry,
            reader.column,
            settings,
            lambda c: _float_values(reader.pieces(c), rows),
            lambda c: segment_codes_of(reader.pieces(c), rows),
        )
    per_file = iter(reader.file_rows)
    daily = {d: sum(next(per_file) for _ in files_by_day[d]) for d in sorted(files_by_day)}
    missing = [d for d in ref.days() if not daily.get(d)]
    info = info if info is not None else reference_info(entry, files, rows, daily, nulls, missing)
    return ReferenceProfile(
        entry.model_id,
        fingerprint,
        settings,
        rows,
        numeric,
        categorical,
        info,
        folded_sample(bounded_table(pa.table(sample)), categorical_columns(entry)),
        segments,
    )


def _column_profiles(reader: ParquetColumns, entry: ModelEntry, settings: ProfileSettings,
                     positions: np.ndarray, where: str) -> tuple[dict, dict, dict, dict]:  # fmt: skip
    """(numeric profiles, categorical profiles, null counts, sample columns) of the required columns, each
    read in pieces (:meth:`~mrm.sources.parquet_stream.ParquetColumns.pieces`): a numeric column's
    values into one float64 buffer that its profile then takes over, the others counted piece by piece."""

    numeric, categorical, nulls, sample, wrong = {}, {}, {}, {}, []
    rows = sum(reader.file_rows)
    for c in required_columns(entry):
        passing = _Passing(reader, c, positions)
        if c in categorical_columns(entry):
            categorical[c] = categorical_profile_of(passing)
        elif c in numeric_columns(entry):
            values = _float_values(passing, rows)
            if values is None:
                wrong.append(not_numeric(c, dtype_name(reader.type(c))))
                continue
            numeric[c] = numeric_profile_owned(values, settings, settings.binning_of(c))
            del values
        else:
            for _ in passing:
                pass
        sample[c], nulls[c] = passing.sample(), passing.nulls
        if c in numeric:
            nulls[c] = numeric[c].nulls
        _release_arrow_memory()
    if wrong:
        raise wrong_types(entry, where, wrong)
    return numeric, categorical, nulls, sample


class _Passing:
    """A column's pieces as they pass: the sample's rows (at ``positions``) taken from each and its
    nulls counted; :meth:`sample` is ``column.take(positions)`` of the whole column."""

    def __init__(self, reader: ParquetColumns, name: str, positions: np.ndarray):
        self.reader, self.name, self.positions = reader, name, positions
        self.taken: list = []
        self.nulls = 0

    def __iter__(self):
        import pyarrow as pa

        start = 0
        for piece in self.reader.pieces(self.name):
            lo, hi = np.searchsorted(self.positions, [start, start + len(piece)])
            self.taken.append(piece.take(pa.array(self.positions[lo:hi] - start)))
            self.nulls += piece.null_count
            start += len(piece)
            yield piece

    def sample(self) -> pa.ChunkedArray:
        import pyarrow as pa

        kind = self.reader.type(self.name)
        return pa.chunked_array([pa.concat_arrays(self.taken)] if self.taken else [], kind)


def _float_values(pieces: Iterable, rows: int) -> np.ndarray | None:
    """The column's float64 values (NaN for nulls, :func:`~mrm.sources.contract.numeric_values` piece
    by piece) in one buffer; None if it is neither numeric nor all null."""
    values = np.empty(rows, dtype="float64")
    at = 0
    for piece in pieces:
        part = numeric_values(piece)
        if part is None:
            return None
        values[at : at + part.size] = part
        at += part.size
    return values if at == rows else values[:at].copy()


def reference_info(
    entry: ModelEntry,
    files: list,
    rows: int,
    daily_rows: dict[Any, int],
    nulls: dict[str, int],
    missing_days: Iterable[date],
) -> dict[str, Any]:
    """What a run records about its reference window (``reference.json``, the run's ``reference``):
    the window, its rows, files and their fingerprint, the days without data, the rows of each day that
    has some (``daily_rows``, in day order) and their median, and each required column's null rate.
    NoDataError if no day has rows."""
    from mrm.evidence.writer import fingerprint

    ref = entry.monitoring.reference
    daily = [int(n) for n in daily_rows.values() if n]
    if not daily:
        raise NoDataError(
            f"{entry.model_id}: no reference scoring log data at all for {ref.start}..{ref.end}: "
            f"{entry.monitoring.scoring_log} has 0 rows there; point the inventory's reference window "
            "at days with data, then rerun"
        )
    return {
        "window": [ref.start.isoformat(), ref.end.isoformat()],
        "rows": rows,
        "files": len(files),
        "fingerprint": fingerprint(files),
        "missing_days": [d.isoformat() for d in missing_days],
        "median_daily_rows": float(np.median(daily)),
        "daily_rows": daily,
        "null_rates": {c: nulls[c] / rows for c in required_columns(entry)},
    }
