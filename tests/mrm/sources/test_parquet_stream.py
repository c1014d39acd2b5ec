"""Reading Parquet without holding it whole: batches of the wanted columns file after file (every column
name seen), read ahead by a thread that hands its errors to the reader and stops when the reader does,
and a window's files one whole column at a time, a column a file lacks reading as nulls."""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mrm.core.storage import ObjectInfo
from mrm.errors import SourceError
from mrm.sources.parquet_stream import batches, parquet_columns, prefetched


@pytest.fixture
def two_files(tmp_path):
    first, second = tmp_path / "part-0.parquet", tmp_path / "part-1.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", "x"], "extra": [0, 0, 0]}), first)
    pq.write_table(pa.table({"a": [4, 5], "b": ["y", None], "c": [True, False]}), second)
    return first, second


def test_batches_hold_the_wanted_columns_a_file_has_and_every_name_is_seen(two_files):
    seen: set[str] = set()
    read = list(
        batches([p.as_uri() for p in two_files], ["b", "c"], dictionary=["b"], batch_rows=2, seen=seen)
    )

    assert [b.num_rows for b in read] == [2, 1, 2]
    assert [b.schema.names for b in read] == [["b"], ["b"], ["b", "c"]]
    assert pa.types.is_dictionary(read[0].schema.field("b").type)
    assert seen == {"a", "b", "c", "extra"}


def test_a_damaged_file_is_named_in_the_error(tmp_path):
    bad = tmp_path / "part-9.parquet"
    bad.write_bytes(b"PAR1 not really")

    with pytest.raises(SourceError, match=r"cannot read scoring log file .*part-9\.parquet: not valid"):
        list(batches([bad.as_uri()], ["a"], batch_rows=10, seen=set()))


def test_prefetching_keeps_the_order_and_raises_the_producers_error_in_the_reader():
    def items():
        yield from range(5)
        raise ValueError("broken at 5")

    got = []
    with pytest.raises(ValueError, match="broken at 5"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_a_reader_that_stops_early_stops_the_prefetching_thread():
    produced = []

    def items():
        for i in range(1000):
            produced.append(i)
            yield i

    reader = prefetched(items(), depth=2)
    assert [next(reader), next(reader)] == [0, 1]
    reader.close()

    assert not any(t.name == "mrm-parquet-reader" for t in threading.enumerate())
    assert len(produced) < 10


def test_columns_of_several_files_read_whole_with_nulls_where_a_file_lacks_one(two_files):
    files = [ObjectInfo(p.as_uri(), p.stat().st_size, "") for p in two_files]
    with parquet_columns(files, "reference file", prefix="mrm_test_") as reader:
        assert reader.names == {"a", "b", "c", "extra"} and reader.file_rows == [3, 2]
        assert reader.column("a").to_pylist() == [1, 2, 3, 4, 5]
        assert reader.column("extra").to_pylist() == [0, 0, 0, None, None]
        assert reader.column("c").to_pylist() == [None, None, None, True, False]


def test_a_column_in_pieces_is_the_whole_column_in_order_in_pieces_of_at_most_the_rows_asked(tmp_path):
    paths = [tmp_path / f"part-{i}.parquet" for i in range(3)]
    pq.write_table(pa.table({"a": list(range(500)), "b": [f"v{i % 7}" for i in range(500)]}), paths[0],
                   row_group_size=90)  # fmt: skip
    pq.write_table(pa.table({"b": pa.array(["x", None] * 150).dictionary_encode()}), paths[1])
    pq.write_table(pa.table({"a": [7, None, 9], "b": ["y", "z", None]}), paths[2])
    files = [ObjectInfo(p.as_uri(), p.stat().st_size, "") for p in paths]
    with parquet_columns(files, "reference file", prefix="mrm_test_") as reader:
        for name in ("a", "b"):
            pieces = list(reader.pieces(name, rows=64))
            assert max(len(p) for p in pieces) <= 64 and sum(len(p) for p in pieces) == 803
            assert all(p.type == reader.type(name) for p in pieces)
            assert pa.chunked_array(pieces, reader.type(name)).equals(reader.column(name))


def test_a_damaged_window_file_is_a_source_error_naming_what_it_is(tmp_path):
    bad = tmp_path / "part-0.parquet"
    bad.write_bytes(b"PAR1 not really")

    with (
        pytest.raises(SourceError, match=r"cannot read reference file: not valid Parquet"),
        parquet_columns([ObjectInfo(bad.as_uri(), 15, "")], "reference file", prefix="mrm_test_"),
    ):
        pass
