"""Day-partitioned Parquet on file:// URIs: rows come back, and every failure names the place to look."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mrm.core.storage import store_for
from mrm.errors import NoDataError, SourceError
from mrm.sources.parquet import PartitionedParquet

DAY = date(2026, 9, 1)


def write_part(root: Path, day: date, name: str, rows: dict[str, list]) -> Path:
    folder = root / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pq.write_table(pa.table(rows), path)
    return path


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "scoring"


@pytest.fixture
def source(root) -> PartitionedParquet:
    return PartitionedParquet(root.as_uri() + "/")


def test_read_day_returns_the_rows_of_every_parquet_file_of_the_day(root, source):
    write_part(root, DAY, "part-0.parquet", {"event_id": ["a", "b"], "score": [0.1, 0.2]})
    write_part(root, DAY, "part-1.parquet", {"event_id": ["c"], "score": [0.3]})
    (root / f"dt={DAY}" / "_SUCCESS").write_text("")
    write_part(root, date(2026, 9, 2), "part-0.parquet", {"event_id": ["z"], "score": [0.9]})

    data = source.read_day(DAY)

    assert sorted(data.frame["event_id"]) == ["a", "b", "c"]
    assert sorted(data.frame["score"]) == [0.1, 0.2, 0.3]
    assert [Path(f.uri).name for f in data.files] == ["part-0.parquet", "part-1.parquet"]
    assert data.missing_days == []


def test_a_missing_day_names_the_partition_and_the_date(root, source):
    write_part(root, DAY, "part-0.parquet", {"event_id": ["a"]})
    missing = date(2026, 9, 2)

    with pytest.raises(NoDataError) as exc:
        source.read_day(missing)

    assert str(exc.value) == (
        f"no scoring log partition for 2026-09-02: nothing under {root.as_uri()}/dt=2026-09-02/; "
        "check the upstream export, then rerun this date"
    )


def test_a_partition_with_zero_rows_is_no_data(root, source):
    write_part(root, DAY, "part-0.parquet", {"event_id": pa.array([], pa.string())})

    with pytest.raises(NoDataError, match=r"partition for 2026-09-01 at .*dt=2026-09-01/ has 0 rows"):
        source.read_day(DAY)


@pytest.mark.parametrize("keep", [0.5, 0.0], ids=["truncated", "empty"])
def test_a_corrupt_file_names_the_file_and_says_it_is_not_parquet(root, source, keep):
    path = write_part(root, DAY, "part-0.parquet", {"event_id": ["a", "b", "c"]})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])

    with pytest.raises(SourceError) as exc:
        source.read_day(DAY)

    message = str(exc.value)
    assert not isinstance(exc.value, NoDataError)
    assert message.startswith("cannot read scoring log file file://")
    assert message.endswith("re-export the partition, then rerun this date")
    assert re.search(rf"part-0\.parquet \({int(len(data) * keep)} bytes\): not valid Parquet \(", message)


def test_files_that_disagree_on_schema_are_a_source_error(root, source):
    write_part(root, DAY, "part-0.parquet", {"score": [0.1]})
    write_part(root, DAY, "part-1.parquet", {"score": ["high"]})

    with pytest.raises(SourceError, match=r"scoring log files for 2026-09-01 under .* disagree on schema"):
        source.read_day(DAY)


def test_read_days_concatenates_and_reports_missing_days(root, source):
    days = [date(2026, 8, 30), date(2026, 8, 31), date(2026, 9, 1)]
    write_part(root, days[0], "p.parquet", {"event_id": ["a", "b"]})
    write_part(root, days[2], "p.parquet", {"event_id": ["c"]})

    data = source.read_days(days)

    assert data.missing_days == [days[1]]
    assert data.frame[["event_id", "_dt"]].values.tolist() == [["a", days[0]], ["b", days[0]], ["c", days[2]]]
    assert len(data.files) == 2


def test_read_days_can_read_only_some_columns_and_caches_them_apart(root, source):
    days = [date(2026, 8, 31), date(2026, 9, 1)]
    for i, day in enumerate(days):
        write_part(root, day, "p.parquet", {"event_id": [f"e{i}"], "score": [0.5], "amount": [10.0 * i]})

    narrow = source.read_days(days, columns=["event_id", "score", "not_in_the_file"])
    wide = source.read_days(days)

    assert list(narrow.frame.columns) == ["event_id", "score", "_dt"]
    assert list(wide.frame.columns) == ["event_id", "score", "amount", "_dt"]  # not the narrow cached copy
    assert narrow.frame["event_id"].tolist() == ["e0", "e1"]


def test_read_days_with_no_data_at_all_names_the_window(source):
    with pytest.raises(NoDataError, match=r"no scoring log data at all for 2026-08-18\.\.2026-08-31 under "):
        source.read_days([date(2026, 8, 18), date(2026, 8, 31)])


def test_day_input_locates_the_objects_a_run_streams_without_reading_them(root, source):
    write_part(root, DAY, "part-0.parquet", {"event_id": ["a", "b"]})
    (root / f"dt={DAY}" / "_SUCCESS").write_text("")

    found = source.day_input(DAY)

    assert [Path(f.uri).name for f in found.files] == ["part-0.parquet"] and found.frame is None
    assert found.where == f"scoring log of 2026-09-01 at {root.as_uri()}/dt=2026-09-01/"
    assert found.empty == (
        f"scoring log partition for 2026-09-01 at {root.as_uri()}/dt=2026-09-01/ has 0 rows; check that "
        "the upstream export wrote the day's rows, then rerun this date"
    )
    with pytest.raises(NoDataError, match=r"no scoring log partition for 2026-09-02: nothing under "):
        source.day_input(date(2026, 9, 2))


def rewrite_same_size(path: Path) -> None:
    """A re-export with other values of the same size, a second later: only the ETag tells."""
    size, mtime = path.stat().st_size, path.stat().st_mtime_ns
    pq.write_table(pa.table({"event_id": ["y", "x"]}), path)
    os.utime(path, ns=(mtime + 1_000_000_000, mtime + 1_000_000_000))
    assert path.stat().st_size == size


@pytest.mark.parametrize(
    "change",
    [
        lambda p: pq.write_table(pa.table({"event_id": ["x", "y", "z", "w"]}), p),
        rewrite_same_size,
        lambda p: p.unlink(),
    ],
    ids=["rewritten", "rewritten to the same size", "deleted"],
)
def test_a_file_that_changed_since_it_was_listed_changes_the_identity(root, source, change):
    path = write_part(root, DAY, "part-0.parquet", {"event_id": ["a", "b"]})
    listed = source.identity([DAY])
    assert source.identity([DAY]) == listed and source.reference_files([DAY]) == {DAY: source.files(DAY)}
    change(path)

    assert source.identity([DAY]) != listed


def test_reference_files_of_days_without_any_is_no_data_naming_the_window(tmp_path):
    labels = PartitionedParquet((tmp_path / "labels").as_uri() + "/", what="labels")

    with pytest.raises(NoDataError, match=r"no labels data at all for 2026-08-18\.\.2026-08-31 under "):
        labels.reference_files([date(2026, 8, 18), date(2026, 8, 31)])


def test_an_unsupported_uri_scheme_lists_the_supported_ones():
    with pytest.raises(SourceError, match=r"unsupported URI scheme in 'gs://b/p/': use s3://.* or file://"):
        store_for("gs://b/p/")


def test_a_models_source_names_the_model_in_every_message(root, make_entry):
    """The prefix need not contain the model id: the messages name it themselves."""
    entry = make_entry(scoring_log=root.as_uri() + "/")
    source = PartitionedParquet.from_entry(entry, "scoring log")
    assert "toy_model" not in root.as_uri()
    with pytest.raises(NoDataError, match=r"^no scoring log partition for 2026-09-01 of model toy_model: "):
        source.day_input(DAY)
    path = write_part(root, DAY, "part-0.parquet", {"event_id": ["a"]})
    found = source.day_input(DAY)
    assert found.where == f"scoring log of 2026-09-01 at {root.as_uri()}/dt=2026-09-01/"
    assert found.empty.startswith("scoring log partition for 2026-09-01 of model toy_model at ")
    path.write_bytes(b"not parquet")
    with pytest.raises(SourceError, match=r"^cannot read scoring log file file://.* of model toy_model \("):
        source.read_day(DAY)


def test_files_by_day_on_s3_lists_each_month_once_and_finds_what_each_days_listing_finds(aws):
    """A window across a month end: the same objects per day, in the same order, as listing each day
    (a look-alike prefix, a nested object and a non-Parquet file included), with one LIST per month."""
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="mrm-list")
    keys = [
        "log/dt=2026-08-30/part-0000.parquet",
        "log/dt=2026-08-30/part-0001.parquet",
        "log/dt=2026-08-30/_SUCCESS",
        "log/dt=2026-08-31/sub/part-0000.parquet",
        "log/dt=2026-09-01/part-0000.parquet",
        "log/dt=2026-09-02/part-0000.parquet",  # outside the window
        "log/dt=2026-08-3x/part-0000.parquet",  # not a day partition
        "logs/dt=2026-08-30/part-0000.parquet",  # another prefix
    ]
    for key in keys:
        s3.put_object(Bucket="mrm-list", Key=key, Body=b"x")
    source = PartitionedParquet("s3://mrm-list/log")
    days = [date(2026, 8, 29), date(2026, 8, 30), date(2026, 8, 31), date(2026, 9, 1)]
    listed: list[str] = []
    real = source.store.list
    source.store.list = lambda uri: listed.append(uri) or real(uri)  # counts the LIST calls, lists for real
    by_day = source.files_by_day(days)
    assert listed == ["s3://mrm-list/log/dt=2026-08-", "s3://mrm-list/log/dt=2026-09-"]
    source.store.list = real
    assert by_day == {day: source.files(day) for day in days}
    assert [o.uri.rsplit("/log/", 1)[1] for d in days for o in by_day[d]] == [
        "dt=2026-08-30/part-0000.parquet",
        "dt=2026-08-30/part-0001.parquet",
        "dt=2026-08-31/sub/part-0000.parquet",
        "dt=2026-09-01/part-0000.parquet",
    ]
    assert source.reference_files(days) == {d: by_day[d] for d in days[1:]}
