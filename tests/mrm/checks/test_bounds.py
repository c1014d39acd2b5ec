"""The stated limits of mrm.checks.engine.bounds: labels (truncation with a hash, CR/LF escaped), bounded
Arrow columns, the sample's fold, the categorical fold (which changes no metric), and the segment cap
(top values by reference rows plus "(other)")."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from mrm.checks import stats
from mrm.checks.engine.accumulators import CategoricalAgg
from mrm.checks.engine.aggregate import aggregate_frame
from mrm.checks.engine.bounds import (
    MAX_NEW_CATEGORIES,
    MAX_SAMPLE_CATEGORIES,
    MAX_SEGMENT_VALUE_CHARS,
    MAX_SEGMENT_VALUES,
    MAX_VALUE_CHARS,
    OTHER_CATEGORIES,
    OTHER_SEGMENT,
    bounded_column,
    folded_sample,
    label,
)
from mrm.checks.engine.profiling import profile_from_frame, segment_codes, top_segments
from mrm.checks.segments import segment_results
from mrm.sources.contract import conform

DAY = date(2026, 9, 1)


def test_a_short_value_is_itself_and_a_long_one_is_cut_with_its_length_and_hash():
    assert label("north") == "north" and label(7) == "7"
    long = "y" * 1_000 + "z"
    cut = label(long)
    digest = hashlib.sha256(long.encode()).hexdigest()[:12]
    assert (
        len(cut) == MAX_VALUE_CHARS
        and cut.startswith("yyyy")
        and cut.endswith(f"…[1001 chars, sha256 {digest}]")
    )
    assert label("y" * MAX_VALUE_CHARS) == "y" * MAX_VALUE_CHARS  # the limit itself is kept whole


def test_distinct_long_values_stay_distinct_and_equal_ones_equal():
    a, b = "x" * 500 + "a", "x" * 500 + "b"
    assert label(a) != label(b) and label(a) == label("x" * 500 + "a")
    assert len(label(a, MAX_SEGMENT_VALUE_CHARS)) == MAX_SEGMENT_VALUE_CHARS


def test_cr_and_lf_are_shown_escaped_never_kept():
    assert label("north\r\nBcc: x@x.org") == "north\\r\\nBcc: x@x.org"
    assert "\n" not in label("a\n" * 300) and "\r" not in label("\r" * 300)


def test_bounded_column_cuts_only_what_it_must_and_keeps_nulls():
    column = pa.array(["a", None, "b\nc", "q" * 300])
    assert bounded_column(column).to_pylist() == ["a", None, "b\\nc", label("q" * 300)]
    plain = pa.array(["a", "b"])
    assert bounded_column(plain) is plain
    numbers = pa.array([1.0, 2.0])
    assert bounded_column(numbers) is numbers


def test_a_dictionary_column_is_bounded_on_its_distinct_values_and_decoded():
    column = pa.array(["x" * 10_000, "n", "x" * 10_000, None]).dictionary_encode()
    out = bounded_column(column)
    assert out.type == pa.string() and out.to_pylist() == [
        label("x" * 10_000),
        "n",
        label("x" * 10_000),
        None,
    ]
    chunked = pa.chunked_array([column, column])
    assert bounded_column(chunked).to_pylist() == out.to_pylist() * 2


def test_a_sample_keeps_the_most_frequent_categories_and_folds_the_rest():
    values = [f"v{i}" for i in range(MAX_SAMPLE_CATEGORIES + 500)] + ["top"] * 10 + [None]
    table = pa.table({"region": values, "event_id": [str(i) for i in range(len(values))]})
    out = folded_sample(table, ["region"])
    kept = out.column("region").to_pylist()
    assert len(set(kept) - {None}) == MAX_SAMPLE_CATEGORIES + 1 and OTHER_CATEGORIES in kept
    assert kept.count("top") == 10 and kept[-1] is None
    assert out.column("event_id") == table.column("event_id")  # only the named columns are folded


def test_the_categorical_fold_keeps_the_reference_and_changes_no_psi():
    reference = {"north": 50, "south": 30}
    seen = [*["north"] * 40, *["south"] * 20, *(f"new{i}" for i in range(3 * MAX_NEW_CATEGORIES))]
    folded = CategoricalAgg(keep=frozenset(reference))
    for chunk in np.array_split(np.array(seen, dtype=object), 7):
        folded.add(pa.array(chunk.tolist()))
    folded.fold()
    whole = dict(Counter(seen))
    assert len(folded.counts) <= MAX_NEW_CATEGORIES + len(reference) + 1
    assert folded.counts["north"] == 40 and folded.counts["south"] == 20 and folded.rows == len(seen)
    assert stats.psi_of_counts(reference, 0, folded.counts, 0) == pytest.approx(
        stats.psi_of_counts(reference, 0, whole, 0), rel=1e-12
    )


def test_the_oversized_rows_are_counted():
    agg = CategoricalAgg()
    agg.add(pa.array(["a", "b" * 201, "b" * 201, "c" * 200, None]))
    assert agg.oversized == 2 and agg.nulls == 1


def test_the_reference_keeps_its_top_segment_values_and_counts_the_rest_as_other():
    values = [f"s{i:03d}" for i in range(MAX_SEGMENT_VALUES + 20) for _ in range(MAX_SEGMENT_VALUES + 20 - i)]
    codes, labels = top_segments(*segment_codes(pa.array([*values, None])))
    assert len(labels) == MAX_SEGMENT_VALUES + 1 and OTHER_SEGMENT in labels
    assert (
        "s000" in labels
        and f"s{MAX_SEGMENT_VALUES - 1:03d}" in labels
        and f"s{MAX_SEGMENT_VALUES:03d}" not in labels
    )
    other = labels.index(OTHER_SEGMENT)
    assert int(np.count_nonzero(codes == other)) == sum(range(1, 21)) and codes[-1] == -1


def test_a_day_with_many_new_segment_values_gets_at_most_the_cap(make_entry, make_scoring_frame):
    segments = {"columns": ["region"], "metrics": ["null_rate"], "min_rows": 1}
    entry = make_entry(segments=segments)
    reference = conform(make_scoring_frame(entry, 600, seed=1), entry, "reference")
    info = {"median_daily_rows": 600.0, "daily_rows": [600], "null_rates": {}}
    profile = profile_from_frame(reference, entry, info)
    day = make_scoring_frame(entry, 3_000, seed=2)
    day["region"] = [f"r{i}" for i in range(3_000)]
    day.loc[:9, "region"] = "north"

    agg = aggregate_frame(day, entry, profile, DAY, batch_rows=500)

    rows = agg.segments["region"].rows  # the reference's three values, then 47 new ones as they came
    assert sum(rows.values()) == 3_000 and rows["north"] == 10
    assert len(set(rows) - {"north", "south", "east", OTHER_SEGMENT}) == MAX_SEGMENT_VALUES - 3
    assert rows[OTHER_SEGMENT] == 3_000 - 10 - (MAX_SEGMENT_VALUES - 3)
    found = {r.segment for r in segment_results(agg, profile, entry)}
    assert len(found) == MAX_SEGMENT_VALUES + 1 and f"region={OTHER_SEGMENT}" in found
