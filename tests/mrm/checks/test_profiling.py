"""The reference profile built from the window's files in pieces (each column read a row group at a time,
the sample's rows taken and the nulls counted as the pieces pass) has the bytes of the profile built from
whole columns, as it was built before: the same files, so the same SHA-256."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mrm.checks import stats
from mrm.checks.engine.bounds import bounded_table, folded_sample
from mrm.checks.engine.profile import ProfileSettings, ReferenceProfile
from mrm.checks.engine.profile_columns import categorical_profile, numeric_profile
from mrm.checks.engine.profiling import (
    profile_from_files,
    profile_from_frame,
    reference_info,
    segment_codes,
    segment_codes_of,
    segment_profiles,
)
from mrm.checks.reference import profile_sha256
from mrm.core.storage import ObjectInfo
from mrm.sources.contract import categorical_columns, numeric_columns, numeric_values, required_columns
from mrm.sources.parquet_stream import parquet_columns


def whole_column_profile(entry, by_day, settings: ProfileSettings) -> ReferenceProfile:
    """The profile as the whole-column build made it: every column read whole, its sample rows taken
    from the whole column."""
    files = [f for day in sorted(by_day) for f in by_day[day]]
    numeric, categorical, nulls, sample = {}, {}, {}, {}
    with parquet_columns(files, "reference file", prefix="test_profile_") as reader:
        rows = sum(reader.file_rows)
        rng = np.random.default_rng(settings.seed)
        pick = np.sort(rng.choice(rows, settings.sample_rows, replace=False))
        for c in required_columns(entry):
            column = reader.column(c)
            sample[c], nulls[c] = column.take(pa.array(pick)), column.null_count
            if c in categorical_columns(entry):
                categorical[c] = categorical_profile(column)
            elif c in numeric_columns(entry):
                numeric[c] = numeric_profile(numeric_values(column), settings, settings.binning_of(c))
                nulls[c] = numeric[c].nulls
        per_file = iter(reader.file_rows)
        segments = segment_profiles(entry, reader.column, settings)  # numeric values from whole columns
    daily = {d: sum(next(per_file) for _ in by_day[d]) for d in sorted(by_day)}
    missing = [d for d in entry.monitoring.reference.days() if not daily.get(d)]
    info = reference_info(entry, files, rows, daily, nulls, missing)
    table = folded_sample(bounded_table(pa.table(sample)), categorical_columns(entry))
    return ReferenceProfile(entry.model_id, "fp", settings, rows, numeric, categorical, info, table, segments)


@pytest.fixture
def window(tmp_path, make_entry, make_scoring_frame):
    """Three days of files in row groups of 97 rows: nulls in the numeric columns, a day whose region
    is dictionary-encoded with its own dictionary, a day without the tenure column (all null there)."""
    segments = {"columns": ["region"], "metrics": ["psi", "score_psi", "null_rate"], "min_rows": 10}
    entry = make_entry(scoring_log=(tmp_path / "log").as_uri() + "/", psi_bins=7, segments=segments)
    start = entry.monitoring.reference.start
    by_day: dict[date, list[ObjectInfo]] = {}
    for i, rows in enumerate([1_500, 2_203, 977]):
        day = start + timedelta(days=i)
        frame = make_scoring_frame(entry, rows, seed=40 + i)
        frame.loc[frame.index % (7 + i) == 0, "amount"] = np.nan
        frame.loc[frame.index % 13 == 1, "region"] = None
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if i == 1:
            at = table.schema.get_field_index("region")
            table = table.set_column(at, "region", table.column("region").dictionary_encode())
        if i == 2:
            table = table.drop_columns(["tenure"])
        path = tmp_path / "log" / f"dt={day.isoformat()}" / "part-0.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(table, path, row_group_size=97)
        by_day[day] = [ObjectInfo(path.as_uri(), path.stat().st_size, f"etag-{i}")]
    return entry, by_day


def test_the_profile_built_in_pieces_has_the_bytes_of_the_whole_column_build(window):
    entry, by_day = window
    settings = ProfileSettings.for_entry(entry, sample_rows=600, exact_limit=1_000)

    pieces = profile_from_files(entry, by_day, settings, "fp")
    whole = whole_column_profile(entry, by_day, settings)

    assert pieces.to_files() == whole.to_files()
    assert profile_sha256(pieces.to_files()) == profile_sha256(whole.to_files())
    for c, p in whole.categorical.items():  # and the counts in the same order (first appearance)
        assert list(pieces.categorical[c].counts.items()) == list(p.counts.items())
    assert pieces.numeric["tenure"].nulls == 977 and pieces.info["rows"] == 1_500 + 2_203 + 977
    assert set(pieces.segments["region"]) == {"north", "south", "east"}


def test_a_frames_segments_are_those_of_its_columns_converted_as_before(window, make_scoring_frame):
    from mrm.sources.contract import conform

    entry, _ = window
    frame = make_scoring_frame(entry, 4_000, seed=5)
    frame.loc[frame.index % 9 == 0, "tenure"] = np.nan
    frame = conform(frame, entry, "reference")
    settings = ProfileSettings.for_entry(entry)
    info = {"daily_rows": [4_000], "median_daily_rows": 4_000.0, "null_rates": {}}

    profile = profile_from_frame(frame, entry, info, settings)
    before = segment_profiles(entry, lambda c: frame[c], settings)  # values through Arrow, as before

    assert replace(profile, segments=before).to_files() == profile.to_files()
    for value, part in profile.segments["region"].items():  # against the values picked out directly
        present = frame.loc[frame["region"] == value, "tenure"].dropna().to_numpy()
        edges = stats.binning_edges(present, settings.psi_bins, settings.binning_of("tenure"))[0]
        counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=edges.size + 1)
        got = part.numeric["tenure"]
        assert got.edges.tobytes() == edges.tobytes() and np.array_equal(got.counts, counts)
        assert got.n == present.size > 0


@pytest.mark.parametrize("dictionary", [False, True])
def test_segment_codes_of_pieces_are_those_of_the_whole_column(dictionary):
    rng = np.random.default_rng(3)
    long = "x" * 150  # labels are cut at MAX_SEGMENT_VALUE_CHARS (and told apart by a hash)
    labels = np.array(["se", "fr", "de", None, long + "a", long + "b", "at"], dtype=object)
    whole = pa.array(labels[rng.integers(0, labels.size, 5_000)].tolist(), pa.string())
    pieces = [whole.slice(i, 700) for i in range(0, 5_000, 700)]
    if dictionary:  # each piece with its own dictionary, in its own order
        pieces = [piece.dictionary_encode() for piece in pieces]

    codes, values = segment_codes_of(pieces, 5_000)
    expected_codes, expected_values = segment_codes(whole)

    assert values == expected_values and len(values) == 6
    assert np.array_equal(codes, expected_codes) and np.count_nonzero(codes == -1) > 500
