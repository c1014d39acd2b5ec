"""Athena CSV results streamed (mrm.sources.athena.csv_result): the day's aggregate from the CSV object
parsed in blocks equals the aggregate of the frame pyathena's ArrowCursor reads of the same result (the
path a run took before), through moto (the CSV is the object moto writes to S3 for the queued rows, as
tests/mrm/sources/test_athena.py queues them); NULL text is null, as in a Parquet log; bad results fail with
the frame path's messages or one naming the day, the object and what to do; the query's rows are not read
when it is run. The parser itself on Athena's CSV quirks, from a file:// object."""

from __future__ import annotations

from datetime import date

import boto3
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from support import INVENTORY
from test_athena import BUCKET, CARD_DAY, HookedSource, executions, queue_rows
from test_athena import moto as moto  # the fixture: moto server, bucket, connection
from test_sagemaker_parts import assert_same_aggregate

from mrm import inputs
from mrm.checks.engine.aggregate import aggregate_batches, aggregate_frame
from mrm.checks.engine.profiling import profile_from_frame
from mrm.core.storage import ObjectInfo
from mrm.demo.data import day as demo_day
from mrm.demo.data import scoring_log
from mrm.errors import NoDataError, SchemaError, SourceError
from mrm.inventory import ModelEntry, load_entry
from mrm.sources.athena import csv_result
from mrm.sources.athena.client import AthenaHook
from mrm.sources.athena.csv_result import CsvResult, arrow_types, stream_result
from mrm.sources.athena.source import AthenaSource, _to_frame
from mrm.sources.base import DayData, DayInput
from mrm.sources.contract import conform

CSV = {"unload": False, "poll_seconds": 0.01}


@pytest.fixture(scope="module")
def entry() -> ModelEntry:
    """card_fraud with the source the tests use (AthenaSource takes its config directly)."""
    return load_entry(INVENTORY / "card_fraud.yaml")


@pytest.fixture(scope="module")
def profile(entry):
    ref = pd.concat([scoring_log("card_fraud", k).assign(_dt=demo_day(k)) for k in (-2, -1, 0)])
    return profile_from_frame(conform(ref.reset_index(drop=True), entry, "reference"), entry, {})


def day_rows(k: int = 5) -> pd.DataFrame:
    """The demo day as the Glue table holds it (with its dt partition column); day 5 has NL's
    device_score outage (nulls)."""
    return scoring_log("card_fraud", k).assign(dt=demo_day(k).isoformat())


def pyathena_frame(source: AthenaSource, entry: ModelEntry, day: date):
    """The day as a run read it before: pyathena's ArrowCursor reads the whole CSV result into one
    table, made a frame and checked against the contract (DayInput.of_frame)."""
    sql, values, settings, label = source._query(day)
    arrow, files, _ = source.hook.run(sql, values, settings, label)
    frame = _to_frame(arrow, source.config.partition_columns)
    frame["_dt"] = day
    return DayInput.of_frame(entry, day, source.describe(day), DayData(frame, files))


def without_dt(agg):
    """The frame path's aggregate without ``_dt`` among the day's columns: read_day adds it to the frame
    (a declared column, never counted as extra); streamed rows, like a Parquet day's, do not have it."""
    assert "_dt" in agg.columns
    agg.columns = type(agg.columns)(c for c in agg.columns if c != "_dt")
    return agg


def unsalted(agg):
    """Without the sample's event ids, which a run replaces by hashes with a random salt."""
    agg.sample = agg.sample.drop_columns(["event_id"])
    return agg


def test_a_streamed_csv_day_aggregates_as_the_frame_pyathena_reads(moto, entry, profile, monkeypatch):
    rows = day_rows()
    assert rows["device_score"].isna().sum() > 10
    queue_rows(moto, rows)  # the frame path's query
    queue_rows(moto, rows)  # the streamed one's
    source = AthenaSource(CSV, model_id="card_fraud", entry=entry)
    before = pyathena_frame(source, entry, CARD_DAY)
    monkeypatch.setattr(csv_result, "BLOCK_BYTES", 16 * 1024)  # ~40 blocks: batches cut mid-day
    clients = []
    s3_client = AthenaHook.s3_client  # the connection's credentials read the object, as pyathena's did
    monkeypatch.setattr(AthenaHook, "s3_client", lambda self, s: clients.append(s) or s3_client(self, s))

    streamed = source.day_input(CARD_DAY)

    assert streamed.frame is None and streamed.batches is not None
    [info] = streamed.files
    qid = executions()[-1]["QueryExecutionId"]
    head = boto3.client("s3").head_object(Bucket=BUCKET, Key=f"results/{qid}.csv")
    assert info == ObjectInfo(
        f"s3://{BUCKET}/results/{qid}.csv", head["ContentLength"], head["ETag"].strip('"')
    )
    assert len(list(streamed.batches())) > 20
    got = aggregate_batches(streamed.batches(), entry, profile, CARD_DAY, batch_rows=700)
    expected = without_dt(aggregate_frame(before.frame, entry, profile, CARD_DAY, batch_rows=700))
    assert got.rows == expected.rows == len(rows)
    assert_same_aggregate(got, expected)
    # and through the run's dispatch (inputs.aggregate: record batches vs the frame)
    ran, was = inputs.aggregate(streamed, profile), without_dt(inputs.aggregate(before, profile))
    assert_same_aggregate(unsalted(ran), unsalted(was))
    assert len(executions()) == 2  # streaming three times did not query again
    assert len(clients) == 3 and clients[0].connect["region_name"] == "us-east-1"


def test_null_text_is_null_as_in_a_parquet_log_not_the_empty_string(moto, entry, profile):
    rows = day_rows()
    rows.loc[:9, "merchant_category"] = None  # NULL: an empty unquoted field in Athena's CSV
    rows.loc[10:14, "merchant_category"] = ""  # the empty string: "" quoted
    queue_rows(moto, rows)
    queue_rows(moto, rows)
    source = AthenaSource(CSV, model_id="card_fraud", entry=entry)
    before = pyathena_frame(source, entry, CARD_DAY)

    streamed = source.day_input(CARD_DAY)

    got = aggregate_batches(streamed.batches(), entry, profile, CARD_DAY)
    truth = rows.drop(columns="dt").assign(event_ts=rows["event_ts"].dt.floor("ms"))  # Athena keeps ms
    truth = aggregate_frame(conform(truth, entry, "day"), entry, profile, CARD_DAY)
    assert_same_aggregate(got, truth)
    counts = got.categorical["merchant_category"]
    assert (counts.nulls, counts.counts[""]) == (10, 5)
    # what the frame pyathena reads made of them: NULL and "" alike the empty string
    assert (before.frame["merchant_category"] == "").sum() == 15


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.assign(score="high"), "has wrong column types: score is object, expected numeric"),
        (lambda r: r.drop(columns="decision"), "lacks required column(s) decision"),
    ],
    ids=["text score", "no decision"],
)
def test_a_result_breaking_the_contract_fails_as_the_frame_did(moto, entry, profile, change, message):
    rows = change(day_rows())
    queue_rows(moto, rows)
    queue_rows(moto, rows)
    source = AthenaSource(CSV, model_id="card_fraud", entry=entry)
    with pytest.raises(SchemaError) as whole:
        pyathena_frame(source, entry, CARD_DAY)

    streamed = source.day_input(CARD_DAY)
    with pytest.raises(SchemaError) as exc:
        inputs.aggregate(streamed, profile)

    assert str(exc.value) == str(whole.value)
    assert message in str(exc.value) and str(exc.value).startswith("card_fraud: scoring log ")


def test_an_empty_result_is_no_data_once_streamed(moto, entry, profile):
    queue_rows(moto, day_rows().head(0))
    streamed = AthenaSource(CSV, model_id="card_fraud", entry=entry).day_input(CARD_DAY)

    with pytest.raises(NoDataError) as exc:
        inputs.aggregate(streamed, profile)

    qid = executions()[-1]["QueryExecutionId"]
    assert str(exc.value) == (
        f"scoring log of card_fraud for 2026-09-05: Athena query {qid} returned no rows "
        "(mrm.card_fraud_scoring_log via scoring_log.sql); check that the day's partition exists and is "
        "registered (partition projection or MSCK REPAIR TABLE), then rerun this date"
    )


def test_an_unparsable_result_names_the_day_the_object_and_what_to_do(moto, entry, profile):
    rows = day_rows().head(50)
    queue_rows(moto, rows)

    def corrupt(parsed, **_):  # the object moto wrote for the rows, replaced before it is listed
        qid = executions()[-1]["QueryExecutionId"]
        s3 = boto3.client("s3")
        lines = s3.get_object(Bucket=BUCKET, Key=f"results/{qid}.csv")["Body"].read().decode().splitlines()
        lines[31] = lines[31].replace(
            f'"{float(rows["score"].iloc[30])!r}"', '"0.4x"'
        )  # no double Athena writes
        s3.put_object(Bucket=BUCKET, Key=f"results/{qid}.csv", Body="\n".join([*lines, ""]).encode())

    source = HookedSource(CSV, model_id="card_fraud", entry=entry,
                          hooks=[("after-call.athena.GetQueryResults", corrupt)])  # fmt: skip
    streamed = source.day_input(CARD_DAY)

    with pytest.raises(SourceError) as exc:
        inputs.aggregate(streamed, profile)

    [info] = streamed.files
    qid = executions()[-1]["QueryExecutionId"]
    message = str(exc.value)
    assert message.startswith(
        f"scoring log of card_fraud for 2026-09-05: the CSV result {info.uri} of Athena query {qid} cannot "
        "be read as the column types Athena gave (In CSV column #10: CSV conversion error to double: "
        "invalid value '0.4x')"
    )
    assert message.endswith("; rerun this date, and if it fails again report it with the query id")
    assert "\n" not in message


def test_a_result_object_changed_since_it_was_listed_is_not_read(moto, entry):
    queue_rows(moto, day_rows().head(50))
    streamed = AthenaSource(CSV, model_id="card_fraud", entry=entry).day_input(CARD_DAY)
    [info] = streamed.files
    bucket, key = info.uri[5:].split("/", 1)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=b'"event_id"\n"x"\n')

    with pytest.raises(SourceError) as exc:
        list(streamed.batches())

    qid = executions()[-1]["QueryExecutionId"]
    assert str(exc.value).startswith(
        f"scoring log of card_fraud for 2026-09-05: cannot read the CSV result {info.uri} of Athena query "
        f"{qid}: An error occurred (PreconditionFailed) when calling the GetObject operation"
    )
    assert str(exc.value).endswith("; rerun this date")


def test_a_result_object_failing_as_it_streams_is_a_source_error_naming_it(moto, entry):
    """moto's copy of a multipart object keeps the parts' checksum, which botocore finds wrong once it
    has read the body: a failure in the middle of the download, as a broken connection is."""
    from boto3.s3.transfer import TransferConfig

    queue_rows(moto, day_rows().head(50))
    s3 = boto3.client("s3")

    def multipart(parsed, **_):
        import io

        qid = executions()[-1]["QueryExecutionId"]
        body = io.BytesIO(b'"event_id"\n' + b'"x"\n' * (3 * 2**20))  # 12 MiB: 3 parts of 5 MiB at most
        config = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)
        s3.upload_fileobj(body, BUCKET, "staged.csv", Config=config)
        s3.copy_object(
            Bucket=BUCKET, Key=f"results/{qid}.csv", CopySource={"Bucket": BUCKET, "Key": "staged.csv"}
        )

    source = HookedSource(CSV, model_id="card_fraud", entry=entry,
                          hooks=[("after-call.athena.GetQueryResults", multipart)])  # fmt: skip
    streamed = source.day_input(CARD_DAY)

    with pytest.raises(SourceError) as exc:
        list(streamed.batches())

    [info] = streamed.files
    qid = executions()[-1]["QueryExecutionId"]
    assert str(exc.value).startswith(
        f"scoring log of card_fraud for 2026-09-05: cannot read the CSV result {info.uri} of Athena query "
        f"{qid}: Expected checksum "
    )
    assert str(exc.value).endswith("; rerun this date")


def test_running_the_day_reads_no_rows_through_pyathena(moto, entry, monkeypatch):
    """pyathena's ArrowCursor reads a whole result (CSV, or UNLOAD's Parquet through pyarrow's S3
    filesystem) as it executes; the day's query is run without it."""
    from pyathena.arrow.result_set import AthenaArrowResultSet

    def read_whole(self, *args, **kwargs):
        raise AssertionError("pyathena read the result")

    monkeypatch.setattr(AthenaArrowResultSet, "__init__", read_whole)
    queue_rows(moto, day_rows().head(50))
    source = AthenaSource(CSV, model_id="card_fraud", entry=entry)

    streamed = source.day_input(CARD_DAY)

    assert sum(b.num_rows for b in streamed.batches()) == 50
    with pytest.raises(AssertionError, match="pyathena read the result"):
        source.hook.run(*source._query(CARD_DAY))


# -- the parser on Athena's CSV, from a file:// object -----------------------------------------------------
def column(name: str, type_: str, precision: int = 0, scale: int = 0) -> tuple:
    return (name, type_, None, None, precision, scale, "UNKNOWN")


def local_result(tmp_path, text: str, description: list[tuple]) -> CsvResult:
    path = tmp_path / "q-1.csv"
    path.write_bytes(text.encode())
    info = ObjectInfo(path.as_uri(), path.stat().st_size, "local")
    return CsvResult([info], "q-1", description, "scoring log of m for 2026-09-05", "t via q.sql")


def test_athenas_csv_quirks_are_read_with_the_declared_types(tmp_path):
    description = [column("id", "varchar"), column("ts", "timestamp"), column("n", "bigint"),
                   column("x", "double"), column("amount", "decimal", 10, 3), column("ok", "boolean"),
                   column("id", "varchar")]  # fmt: skip
    text = (
        '"id","ts","n","x","amount","ok","id"\n'
        '"a ""quoted"" id","2026-09-05 10:00:00.123","1","0.5","12.345","true","two\nlines"\n'
        ',"2026-09-05 10:00:00.123456789012",,,,,""\n'
        '"3","2026-09-05 23:59:59",,"1e-05","0.001","false","c"\n'
    )
    result = local_result(tmp_path, text, description)

    [batch] = list(stream_result(result))

    assert batch.schema.names == ["id", "ts", "n", "x", "amount", "ok", "id"]
    assert batch.schema.types == [pa.string(), pa.timestamp("us"), pa.int64(), pa.float64(),
                                  pa.decimal128(10, 3), pa.bool_(), pa.string()]  # fmt: skip
    rows = batch.to_pylist()
    assert [r["n"] for r in rows] == [1, None, None]
    assert batch.column(0).to_pylist() == ['a "quoted" id', None, "3"]  # NULL is null
    assert batch.column(6).to_pylist() == ["two\nlines", "", "c"]  # "" is the empty string
    assert [str(v) for v in batch.column(1).to_pylist()] == [
        "2026-09-05 10:00:00.123000", "2026-09-05 10:00:00.123456", "2026-09-05 23:59:59"]  # fmt: skip
    assert batch.column(3).to_pylist() == [0.5, None, 1e-05]
    assert [str(v) for v in batch.column(4).to_pylist()] == ["12.345", "None", "0.001"]
    assert batch.column(5).to_pylist() == [True, None, False]


def test_a_result_is_read_in_blocks_and_an_athena_type_not_mapped_is_text(tmp_path, monkeypatch):
    n = 20_000
    rng = np.random.default_rng(0)
    values = rng.normal(size=n)
    text = '"x","tags"\n' + "".join(f'"{float(v)!r}","[a, {i}]"\n' for i, v in enumerate(values))
    result = local_result(tmp_path, text, [column("x", "double"), column("tags", "array(varchar)")])
    assert arrow_types(result.description) == [("x", pa.float64()), ("tags", pa.string())]

    batches = list(stream_result(result, block_bytes=32 * 1024))

    assert len(batches) > 10
    table = pa.Table.from_batches(batches)
    np.testing.assert_array_equal(table.column("x").to_numpy(), values)  # shortest round-trip text
    assert table.column("tags")[n - 1].as_py() == f"[a, {n - 1}]"


def test_an_empty_object_yields_no_rows(tmp_path):
    assert list(stream_result(local_result(tmp_path, "", [column("x", "double")]))) == []
    assert list(stream_result(local_result(tmp_path, '"x"\n', [column("x", "double")]))) == []
