"""The Athena source: against a moto server on 127.0.0.1 (queued results, real Athena API responses), and
the SQL templates themselves on DuckDB over the demo's Parquet files.

What moto does not do, and how these tests stand in for it:
- moto does not execute queries. CSV mode reads rows queued through moto's API
  (POST /moto-api/static/athena/query-results). For UNLOAD mode the test plays Athena's part: when moto
  reports the query SUCCEEDED, a botocore ``after-call`` hook on the source's Athena client runs the query
  text Athena received (UNLOAD's SELECT, values already rendered by pyathena) on DuckDB over the demo
  Parquet files, writes the rows as Parquet (INT96 timestamps without zone, as Athena writes them) and a data
  manifest to the moto bucket, and adds Statistics.DataManifestLocation to the response.
- moto never fails a query: a hook rewrites moto's real GetQueryExecution response to the FAILED shape
  Athena returns (Status.StateChangeReason, AthenaError). CANCELLED and timeouts are real moto behaviour
  (StopQueryExecution; the state manager's manual progression keeps a query QUEUED).
- pyarrow's S3 filesystem, through which pyathena reads result files, ignores AWS_ENDPOINT_URL(_S3)
  (apache/arrow#49643): the ``moto`` fixture points the filesystem pyathena creates at the moto server.
"""

from __future__ import annotations

import io
import json
import re
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from mrm.core.storage import ObjectInfo, local_copies
from mrm.demo.data import day as demo_day
from mrm.demo.data import scoring_log
from mrm.errors import ConfigError, NoDataError, SourceError
from mrm.inventory import load_inventory
from mrm.inventory.sources import AthenaSourceConfig
from mrm.settings import REPO_ROOT
from mrm.sources.athena.client import AthenaHook, QueryWait
from mrm.sources.athena.pushdown import duckdb_dialect, to_duckdb
from mrm.sources.athena.source import AthenaSource
from mrm.sources.athena.template import Template, load_template, query_parameters
from mrm.sources.contract import conform
from mrm.sources.parquet import PartitionedParquet

duckdb = pytest.importorskip("duckdb")

BUCKET = "mrm-athena"
STAGING = f"s3://{BUCKET}/results/"
TABLE = '"mrm"."card_fraud_scoring_log"'  # one Glue table per model: each has its own features
DAYS = {"card_fraud": (5, 6), "aml_alert": (10,)}  # card_fraud 5: NL nulls; aml_alert 10: late events
CARD_DAY = demo_day(5)
EVIL = "card_fraud' OR '1'='1"
EXPECTED_SQL = f"SELECT *\nFROM {TABLE}\nWHERE dt = '2026-09-05'\n  AND model_id = 'card_fraud'"


# -- demo data and DuckDB -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    """A few demo days per model: <root>/scoring/<model>/dt=YYYY-MM-DD/part-0000.parquet."""
    root = tmp_path_factory.mktemp("athena_demo")
    for model_id, days in DAYS.items():
        for k in days:
            folder = root / "scoring" / model_id / f"dt={demo_day(k).isoformat()}"
            folder.mkdir(parents=True)
            frame = scoring_log(model_id, k)
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0000.parquet")
    return root


@pytest.fixture(scope="module")
def duck(demo_root):
    """DuckDB with views named like the Athena tables, mrm.<model>_scoring_log, over each model's
    partitions (dt is the hive partition key, kept as varchar as in the Glue table)."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA mrm")
    for model_id in DAYS:
        pattern = (demo_root / "scoring" / model_id / "dt=*" / "*.parquet").as_posix()
        con.execute(
            f"CREATE VIEW mrm.{model_id}_scoring_log AS SELECT * FROM read_parquet("
            f"'{pattern}', hive_partitioning = true, hive_types_autocast = false)"
        )
    yield con
    con.close()


def parquet_day(demo_root: Path, model_id: str, day: date) -> pd.DataFrame:
    return PartitionedParquet((demo_root / "scoring" / model_id).as_uri()).read_day(day).frame


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Row order is not part of the contract; timestamps compared in ns, UTC."""
    out = frame.drop(columns=["_dt"], errors="ignore").copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return out.sort_values("event_id", ignore_index=True)


# -- the SQL itself, on DuckDB ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model_id", "k"), [(m, k) for m, days in DAYS.items() for k in days], ids=lambda v: str(v)
)
def test_the_template_on_duckdb_returns_exactly_the_rows_of_the_parquet_partition(
    duck, demo_root, model_id, k
):
    template = load_template("scoring_log.sql")
    day = demo_day(k)

    sql = template.render("duckdb", f'"mrm"."{model_id}_scoring_log"')
    got = duck.sql(sql, params=template.values(query_parameters(model_id, day))).to_arrow_table()

    from mrm.sources.athena.source import _to_frame

    expected = parquet_day(demo_root, model_id, day)
    frame = _to_frame(got, ["dt"])
    assert len(frame) == len(expected) > 1000
    assert list(frame.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(comparable(frame), comparable(expected))


def test_one_template_definition_renders_placeholders_for_each_engine():
    template = Template.parse(
        "t.sql",
        "-- header: %(ignored)s and a lone % are documentation\n"
        "SELECT * FROM {{ table }} WHERE dt = %(dt)s AND name LIKE 'a%%' AND model_id = %(model_id)s\n"
        "  AND dt = %(dt)s;\n",
    )

    assert template.parameters == ("dt", "model_id")
    assert template.render("athena", '"mrm"."t"') == (
        'SELECT * FROM "mrm"."t" WHERE dt = %(dt)s AND name LIKE \'a%%\' AND model_id = %(model_id)s\n'
        "  AND dt = %(dt)s"
    )
    assert template.render("duckdb", '"mrm"."t"') == (
        'SELECT * FROM "mrm"."t" WHERE dt = $dt AND name LIKE \'a%\' AND model_id = $model_id\n  AND dt = $dt'
    )
    assert template.values(query_parameters("m", CARD_DAY)) == {"dt": "2026-09-05", "model_id": "m"}


def test_a_model_id_with_quotes_is_a_value_and_cannot_change_the_query(duck, demo_root):
    from pyathena.formatter import DefaultParameterFormatter

    template = load_template("scoring_log.sql")
    benign, evil = query_parameters("card_fraud", CARD_DAY), query_parameters(EVIL, CARD_DAY)
    rows = len(parquet_day(demo_root, "card_fraud", CARD_DAY))

    # DuckDB binds the values: the text has placeholders only
    sql = template.render("duckdb", TABLE)
    assert duck.sql(sql, params=template.values(benign)).to_arrow_table().num_rows == rows
    assert duck.sql(sql, params=template.values(evil)).to_arrow_table().num_rows == 0
    # pyathena renders each value as one literal (Trino doubles a quote); the statement stays the same
    athena = template.render("athena", TABLE)
    as_sent = DefaultParameterFormatter().format(athena, template.values(evil))
    assert as_sent == DefaultParameterFormatter().format(athena, template.values(benign)).replace(
        "'card_fraud'", "'card_fraud'' OR ''1''=''1'"
    )
    assert duck.sql(as_sent).to_arrow_table().num_rows == 0
    # what this prevents: the value formatted into the text escapes the day's filter
    formatted = athena % {"dt": "'2026-09-05'", "model_id": f"'{EVIL}'"}
    assert formatted.endswith("AND model_id = 'card_fraud' OR '1'='1'")
    days = {r[0] for r in duck.execute(f"SELECT DISTINCT dt FROM ({formatted})").fetchall()}
    assert days == {"2026-09-05", "2026-09-06"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("DELETE FROM {{table}}", "must be one SELECT or WITH query"),
        ("SELECT * FROM t WHERE x = %(user)s", r"unknown parameter %\(user\)s; known: %\(model_id\)s"),
        ("SELECT * FROM t WHERE x LIKE 'a%'", "a lone % at offset 31; write a literal percent sign as %%"),
        ("SELECT * FROM {{schema}}.t", r"unknown placeholder \{\{schema\}\}"),
    ],
)
def test_a_broken_template_is_a_config_error(text, message):
    with pytest.raises(ConfigError, match=message):
        Template.parse("bad.sql", text)


def test_templates_come_from_the_sql_folder_only(tmp_path, monkeypatch):
    monkeypatch.setenv("MRM_SQL_DIR", str(tmp_path))
    (tmp_path / "mine.sql").write_text("SELECT 1 AS x WHERE %(dt)s = %(dt)s")

    assert load_template("mine.sql").parameters == ("dt",)
    with pytest.raises(ConfigError, match=r"query template other.sql cannot be read from .*other.sql"):
        load_template("other.sql")
    with pytest.raises(ConfigError, match="must be a file name"):
        load_template("../scoring_log.sql")
    with pytest.raises(ValidationError, match="query"):
        AthenaSourceConfig(query="../../etc/passwd.sql")


def test_the_repository_template_is_found_by_default():
    assert (REPO_ROOT / "include" / "sql" / "scoring_log.sql").is_file()
    assert load_template("scoring_log.sql").parameters == ("dt", "model_id")


@pytest.mark.parametrize(
    "override",
    [{"table": 'scoring_log"; DROP TABLE x; --'}, {"database": "Mrm"}, {"table": "a.b"}, {"table": "t\n"}],
)
def test_identifiers_in_the_config_must_be_plain_names(override):
    with pytest.raises(ValidationError, match="should match pattern"):
        AthenaSourceConfig(**override)


# -- moto server --------------------------------------------------------------------------------------
def _post(endpoint: str, path: str, body: dict) -> int:
    req = urllib.request.Request(
        endpoint + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req) as resp:
        return resp.status


def connection_json(endpoint: str, **extra) -> str:
    base = {
        "region_name": "us-east-1",
        "s3_staging_dir": STAGING,
        "work_group": "mrm",
        "table": "card_fraud_scoring_log",
    }
    base.update(endpoint_url=endpoint, **extra)
    return json.dumps({"conn_type": "aws", "schema": "mrm", "extra": {k: v for k, v in base.items() if v}})


@pytest.fixture
def moto(moto_endpoint, monkeypatch):
    """A clean moto (bucket, workgroup), boto3 pointed at it, the mrm_athena connection set."""
    import boto3
    from pyarrow import fs
    from pyathena.arrow.result_set import AthenaArrowResultSetMetadataReader

    ep = moto_endpoint
    _post(ep, "/moto-api/reset", {})
    monkeypatch.setenv("AWS_ENDPOINT_URL", ep)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", ep)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mrm-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mrm-test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AIRFLOW_CONN_MRM_ATHENA", connection_json(ep))
    monkeypatch.setattr(
        AthenaArrowResultSetMetadataReader,
        "_create_s3_file_system",
        lambda self: fs.S3FileSystem(
            region="us-east-1", access_key="mrm-test", secret_key="mrm-test", endpoint_override=ep
        ),
    )
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("athena").create_work_group(Name="mrm", Configuration={})
    return ep


class HookedSource(AthenaSource):
    """The source, with botocore event hooks registered on the Athena client its hook creates."""

    def __init__(self, *args, hooks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.hooks = list(hooks)
        connect = self.hook.connect

        def hooked(settings):
            conn = connect(settings)
            for event, handler in self.hooks:
                conn.client.meta.events.register(event, handler)
            return conn

        self.hook.connect = hooked


def athena_client():
    import boto3

    return boto3.client("athena")


def executions() -> list[dict]:
    client = athena_client()
    ids = client.list_query_executions()["QueryExecutionIds"]
    return [client.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]


def column_info(name: str, type_: str) -> dict:
    """ColumnInfo as Athena returns it (pyathena reads every key)."""
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": type_,
        "Precision": 17 if type_ == "double" else 2147483647,
        "Scale": 0,
        "Nullable": "UNKNOWN",
        "CaseSensitive": type_ == "varchar",
    }


ATHENA_TYPES = {"object": "varchar", "float64": "double", "datetime64[ns, UTC]": "timestamp"}


def queue_rows(endpoint: str, frame: pd.DataFrame) -> None:
    """Queue one query's result in moto: a header row, then the rows as Athena's CSV would have them."""

    def text(value, type_: str) -> dict:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return {}
        if type_ == "timestamp":
            return {"VarCharValue": value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]}
        return {"VarCharValue": repr(value) if isinstance(value, float) else str(value)}

    types = [ATHENA_TYPES[str(frame[c].dtype)] for c in frame.columns]
    rows = [{"Data": [{"VarCharValue": c} for c in frame.columns]}]
    rows += [
        {"Data": [text(v, t) for v, t in zip(row, types, strict=True)]}
        for row in frame.itertuples(index=False, name=None)
    ]
    info = [column_info(c, t) for c, t in zip(frame.columns, types, strict=True)]
    assert (
        _post(
            endpoint,
            "/moto-api/static/athena/query-results",
            {"results": [{"rows": rows, "column_info": info}]},
        )
        == 201
    )


def unload_on_duckdb(duck):
    """Play Athena's part for UNLOAD (see the module docstring); returns the hook and the queries it ran."""
    import boto3

    done: dict[str, str] = {}

    def hook(parsed, **_):
        execution = parsed.get("QueryExecution", {})
        query, qid = execution.get("Query", ""), execution.get("QueryExecutionId")
        if execution.get("Status", {}).get("State") != "SUCCEEDED" or not query.lstrip().startswith("UNLOAD"):
            return
        if qid not in done:
            m = re.search(r"UNLOAD\s*\(\s*(?P<select>.*)\)\s*TO\s*'(?P<to>s3://[^']+)'\s*WITH", query, re.S)
            table = duck.sql(to_duckdb(m["select"])).to_arrow_table()  # the pushdown's Trino spelling
            for i, field in enumerate(table.schema):  # Athena's timestamp: milliseconds, no zone
                if pa.types.is_timestamp(field.type):
                    naive = pc.cast(table.column(i), pa.timestamp("ms"), safe=False)
                    table = table.set_column(i, field.name, naive)
            s3 = boto3.client("s3")
            bucket, prefix = m["to"][5:].split("/", 1)
            files = []
            if table.num_rows:  # Athena writes no file for an empty result
                buf = io.BytesIO()
                pq.write_table(table, buf, use_deprecated_int96_timestamps=True)
                key = f"{prefix}20260905_000000_00001_abcde_{qid}"
                s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
                files.append(f"s3://{bucket}/{key}")
            s3.put_object(Bucket=BUCKET, Key=f"results/{qid}-manifest.csv", Body="\n".join(files).encode())
            done[qid] = m["select"]
        execution.setdefault("Statistics", {})["DataManifestLocation"] = f"{STAGING}{qid}-manifest.csv"

    return hook, done


def record_starts(started: list[str]):
    def hook(parsed, **_):
        started.append(parsed["QueryExecutionId"])

    return hook


# -- reading through moto -----------------------------------------------------------------------------
def test_csv_mode_reads_the_queued_rows_with_numeric_types_and_the_day(moto, demo_root):
    rows = parquet_day(demo_root, "card_fraud", CARD_DAY).head(300).assign(dt=CARD_DAY.isoformat())
    assert rows["device_score"].isna().any()  # the day of the NL device-score outage
    queue_rows(moto, rows)
    source = AthenaSource({"unload": False, "poll_seconds": 0.01}, model_id="card_fraud")

    data = source.read_day(CARD_DAY)

    frame = data.frame
    assert len(frame) == 300
    assert "dt" not in frame.columns
    assert (frame["_dt"] == CARD_DAY).all()
    for col in ("amount", "card_age_days", "device_score", "hour_of_day", "score"):
        assert frame[col].dtype == "float64", col
    assert str(frame["event_ts"].dtype).endswith("UTC]")
    assert frame["device_score"].isna().sum() == rows["device_score"].isna().sum()
    expected = rows.drop(columns="dt").assign(event_ts=rows["event_ts"].dt.floor("ms"))
    pd.testing.assert_frame_equal(comparable(frame), comparable(expected))
    entry = load_inventory(REPO_ROOT / "include" / "inventory")[0].get("card_fraud")
    conform(frame, entry, "Athena result")  # the scoring-log contract holds
    [execution] = executions()
    qid = execution["QueryExecutionId"]
    assert execution["Query"] == EXPECTED_SQL
    assert execution["WorkGroup"] == "mrm"
    assert execution["QueryExecutionContext"]["Database"] == "mrm"
    import boto3

    head = boto3.client("s3").head_object(Bucket=BUCKET, Key=f"results/{qid}.csv")
    assert data.files == [ObjectInfo(f"{STAGING}{qid}.csv", head["ContentLength"], head["ETag"].strip('"'))]


def test_unload_mode_returns_what_the_parquet_source_returns_and_records_the_result_files(
    moto, duck, demo_root
):
    import boto3

    hook, ran = unload_on_duckdb(duck)
    source = HookedSource(
        {"poll_seconds": 0.01}, model_id="card_fraud", hooks=[("after-call.athena.GetQueryExecution", hook)]
    )

    data = source.read_day(CARD_DAY)

    expected = parquet_day(demo_root, "card_fraud", CARD_DAY)
    expected["event_ts"] = expected["event_ts"].dt.floor("ms")  # Athena keeps milliseconds
    assert len(data.frame) == len(expected)
    assert list(data.frame.columns) == [*expected.columns, "_dt"]
    pd.testing.assert_frame_equal(comparable(data.frame), comparable(expected))
    [execution] = executions()
    qid = execution["QueryExecutionId"]
    assert execution["Query"].lstrip().startswith("UNLOAD")
    assert re.search(r"TO 's3://mrm-athena/results/unload/\d{8}/[0-9a-f-]{36}/'", execution["Query"])
    assert ran[qid].strip() == EXPECTED_SQL
    [info] = data.files
    bucket, key = info.uri[5:].split("/", 1)
    head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
    assert info == ObjectInfo(info.uri, head["ContentLength"], head["ETag"].strip('"'))
    assert info.uri.endswith(qid)

    # a run streams the recorded objects (local_copies), each only if it is still the listed version
    with local_copies(data.files) as [(_, path)]:
        again = source.normalise(pq.read_table(path)).to_pandas()
    pd.testing.assert_frame_equal(comparable(again), comparable(expected))
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=b"changed")
    changed = pytest.raises(SourceError, match=f"cannot read {info.uri}: PreconditionFailed")
    with changed, local_copies(data.files):
        pass


def test_a_quote_in_the_model_id_reaches_athena_as_one_string_literal(moto, duck):
    hook, ran = unload_on_duckdb(duck)
    source = HookedSource(
        {"poll_seconds": 0.01}, model_id=EVIL, hooks=[("after-call.athena.GetQueryExecution", hook)]
    )

    with pytest.raises(NoDataError) as exc:
        source.read_day(CARD_DAY)

    [select] = ran.values()
    assert select.strip() == (
        'SELECT *\nFROM "mrm"."card_fraud_scoring_log"\nWHERE dt = \'2026-09-05\'\n'
        "  AND model_id = 'card_fraud'' OR ''1''=''1'"
    )
    assert str(exc.value).startswith(f"scoring log of {EVIL} for 2026-09-05: Athena query ")


def test_read_days_reports_days_without_rows_as_missing(moto, duck):
    hook, _ = unload_on_duckdb(duck)
    source = HookedSource(
        {"poll_seconds": 0.01}, model_id="card_fraud", hooks=[("after-call.athena.GetQueryExecution", hook)]
    )

    data = source.read_days([demo_day(4), demo_day(5), demo_day(6)])

    assert data.missing_days == [demo_day(4)]
    assert sorted(set(data.frame["_dt"])) == [demo_day(5), demo_day(6)]
    assert len(data.files) == 2


def test_an_empty_result_is_no_data_naming_the_model_the_day_and_the_query(moto):
    queue_rows(moto, pd.DataFrame({"event_id": pd.Series([], dtype="object")}))
    source = AthenaSource({"unload": False, "poll_seconds": 0.01}, model_id="card_fraud")

    with pytest.raises(NoDataError) as exc:
        source.read_day(CARD_DAY)

    [execution] = executions()
    assert str(exc.value) == (
        f"scoring log of card_fraud for 2026-09-05: Athena query {execution['QueryExecutionId']} returned no "
        "rows (mrm.card_fraud_scoring_log via scoring_log.sql); check that the day's partition exists and "
        "is registered (partition projection or MSCK REPAIR TABLE), then rerun this date"
    )


def test_unload_day_leaves_the_rows_in_s3_and_an_empty_result_is_no_data(moto, duck):
    hook, ran = unload_on_duckdb(duck)
    source = HookedSource(
        {"poll_seconds": 0.01}, model_id="card_fraud", hooks=[("after-call.athena.GetQueryExecution", hook)]
    )

    files = source.unload_day(CARD_DAY)
    assert len(files) == 1 and files[0].uri.startswith("s3://mrm-athena/results/unload/")
    with pytest.raises(NoDataError, match=r"card_fraud for 2026-08-01: Athena query .* returned no rows"):
        source.unload_day(date(2026, 8, 1))  # no partition: Athena writes no file
    assert len(ran) == 2


def test_a_result_batch_is_normalised_as_the_frame_is():
    from decimal import Decimal

    source = AthenaSource({"unload": True}, model_id="card_fraud")
    batch = pa.RecordBatch.from_pydict(
        {
            "event_ts": pa.array([1_757_030_400_000], pa.timestamp("ms")),  # Athena's: no zone
            "score": pa.array([Decimal("0.125")], pa.decimal128(5, 3)),
            "dt": ["2026-09-05"],
        }
    )

    out = source.normalise(batch)

    assert isinstance(out, pa.RecordBatch) and out.schema.names == ["event_ts", "score"]
    assert out.schema.field("event_ts").type == pa.timestamp("ms", "UTC")
    assert out.column(1).to_pylist() == [0.125]
    frame = source.normalise(pa.Table.from_batches([batch])).to_pandas()
    assert str(frame["event_ts"].iloc[0]) == "2025-09-05 00:00:00+00:00"


def test_a_failed_query_reports_athenas_reason_on_one_line(moto):
    reason = "TABLE_NOT_FOUND: line 2:6: Table 'awsdatacatalog.mrm.scoring_log' does not exist.\nIf a ..."

    def fail(parsed, **_):  # moto's real response, in the shape Athena gives a failed query
        status = parsed["QueryExecution"]["Status"]
        status.update(State="FAILED", StateChangeReason=reason)
        status["AthenaError"] = {"ErrorCategory": 2, "ErrorType": 1301, "Retryable": False}

    source = HookedSource(
        {"poll_seconds": 0.01}, model_id="card_fraud", hooks=[("after-call.athena.GetQueryExecution", fail)]
    )

    with pytest.raises(SourceError) as exc:
        source.read_day(CARD_DAY)

    [execution] = executions()
    assert str(exc.value) == (
        f"scoring log of card_fraud for 2026-09-05: Athena query {execution['QueryExecutionId']} FAILED: "
        "TABLE_NOT_FOUND: line 2:6: Table 'awsdatacatalog.mrm.scoring_log' does not exist. If a ...; fix the "
        "query template, the table or the permissions it names (the query text is in the Athena console "
        "under this id), then rerun this date"
    )


def test_a_cancelled_query_is_an_error(moto):
    def cancel(parsed, **_):  # someone stops the query right after it starts (real moto behaviour)
        athena_client().stop_query_execution(QueryExecutionId=parsed["QueryExecutionId"])

    source = HookedSource(
        {"poll_seconds": 0.01},
        model_id="card_fraud",
        hooks=[("after-call.athena.StartQueryExecution", cancel)],
    )

    with pytest.raises(SourceError, match=r"Athena query [0-9a-f-]{36} was CANCELLED \(no reason given\)"):
        source.read_day(CARD_DAY)


@pytest.fixture
def slow_athena(moto):
    """moto's executions stay QUEUED for ``times`` status requests per state (manual progression)."""

    def set_times(times: int) -> None:
        transition = {"progression": "manual", "times": times}
        _post(
            moto,
            "/moto-api/state-manager/set-transition",
            {"model_name": "athena::execution", "transition": transition},
        )

    yield set_times
    _post(moto, "/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"})


def test_a_query_still_running_at_the_timeout_is_cancelled_and_reported(slow_athena):
    slow_athena(10**6)
    started: list[str] = []
    source = HookedSource(
        {"poll_seconds": 0.02, "timeout_seconds": 0.3},
        model_id="card_fraud",
        hooks=[("after-call.athena.StartQueryExecution", record_starts(started))],
    )

    with pytest.raises(SourceError) as exc:
        source.read_day(CARD_DAY)

    [qid] = started
    assert str(exc.value) == (
        f"scoring log of card_fraud for 2026-09-05: Athena query {qid} still QUEUED after 0.3 s; "
        "cancelled it; raise timeout_seconds in the model's Athena source or check the workgroup's queue "
        "and capacity, then rerun this date"
    )
    state = athena_client().get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"]
    assert state == "CANCELLED"


def test_the_wait_backs_off_exponentially_on_real_athena_responses_until_succeeded(slow_athena):
    from pyathena.model import AthenaQueryExecution

    slow_athena(4)  # moto then answers QUEUED 3 times, RUNNING 4 times, then SUCCEEDED
    client = athena_client()
    qid = client.start_query_execution(
        QueryString="SELECT 1", ResultConfiguration={"OutputLocation": STAGING}
    )["QueryExecutionId"]
    now = [0.0]
    wait = QueryWait(
        "test",
        poll_seconds=0.5,
        timeout_seconds=60,
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        clock=lambda: now[0],
    )

    while True:
        execution = AthenaQueryExecution(client.get_query_execution(QueryExecutionId=qid))
        wait(execution)
        if execution.state == "SUCCEEDED":
            break

    assert wait.states == ["QUEUED"] * 3 + ["RUNNING"] * 4 + ["SUCCEEDED"]
    assert wait.delays == [0.5, 1, 2, 4, 8, 10, 10]


def test_the_wait_never_sleeps_past_the_deadline():
    class Running:
        state, query_id, state_change_reason = "RUNNING", "q-1", None

    now = [0.0]
    cancelled = []
    wait = QueryWait(
        "test",
        poll_seconds=1,
        timeout_seconds=5,
        cancel=cancelled.append,
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        clock=lambda: now[0],
    )

    with pytest.raises(SourceError, match="still RUNNING after 5 s; cancelled it"):
        while True:
            wait(Running())

    assert wait.delays == [1, 2, 2]
    assert cancelled == ["q-1"]


@pytest.mark.parametrize(
    ("category", "retryable", "advice"),
    [
        (2, False, "fix the query template, the table or the permissions it names"),
        (1, True, "an error inside Athena: rerun this date; if it persists, give AWS support the query id"),
    ],
)
def test_the_advice_follows_athenas_error_category(category, retryable, advice):
    from pyathena.model import AthenaQueryExecution

    execution = AthenaQueryExecution(
        {
            "QueryExecution": {
                "QueryExecutionId": "q-1",
                "Query": "SELECT 1",
                "Status": {
                    "State": "FAILED",
                    "StateChangeReason": "GENERIC_INTERNAL_ERROR: boom",
                    "AthenaError": {"ErrorCategory": category, "ErrorType": 1, "Retryable": retryable},
                },
            }
        }
    )
    wait = QueryWait("scoring log of m for 2026-09-05", poll_seconds=1, timeout_seconds=5)

    with pytest.raises(SourceError) as exc:
        wait(execution)

    assert str(exc.value) == (
        "scoring log of m for 2026-09-05: Athena query q-1 FAILED: GENERIC_INTERNAL_ERROR: boom; "
        + advice
        + (
            ""
            if retryable
            else " (the query text is in the Athena console under this id), then rerun this date"
        )
    )


# -- configuration ------------------------------------------------------------------------------------
def test_a_missing_connection_names_how_to_add_it(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_MRM_ATHENA_NONE", raising=False)
    monkeypatch.setattr("mrm.airflow.connections._from_airflow", lambda conn_id: None)  # nor in Airflow

    with pytest.raises(
        ConfigError, match=r"no Airflow connection 'mrm_athena_none' \(needed for reading the "
    ):
        AthenaSource({"connection": "mrm_athena_none"}, model_id="card_fraud").read_day(CARD_DAY)


@pytest.mark.parametrize(
    ("extra", "config", "message"),
    [
        ({"s3_staging_dir": ""}, {}, "connection 'mrm_athena' has no extra.s3_staging_dir: UNLOAD needs"),
        ({"s3_staging_dir": "s3://b/x' OR '1"}, {}, "must be s3://bucket/prefix/"),
        ({"table": ""}, {}, r"reads \{\{table\}\} but no table is configured"),
        ({"table": "scoring-log"}, {}, "'scoring-log' is not a valid Athena database/table name"),
        ({"database": "x"}, {}, None),
    ],
)
def test_connection_settings_are_checked_before_any_query(monkeypatch, extra, config, message):
    conn = json.loads(connection_json("http://127.0.0.1:9"))
    conn["extra"].update(extra)
    conn["extra"] = {k: v for k, v in conn["extra"].items() if v}
    monkeypatch.setenv("AIRFLOW_CONN_MRM_ATHENA", json.dumps(conn))
    source = AthenaSource(config, model_id="card_fraud")
    if message is None:  # the connection's schema wins over extra.database; the config over both
        assert source.hook.settings("test").database == "mrm"
        other = AthenaSource({"database": "other"}, model_id="card_fraud")
        assert other.hook.settings("test").connect["schema_name"] == "other"
        return

    with pytest.raises(ConfigError, match=message):
        source.read_day(CARD_DAY)


def test_a_database_from_the_connection_must_be_a_plain_name(monkeypatch):
    conn = json.loads(connection_json("http://127.0.0.1:9"))
    conn["schema"] = 'mrm"."x'
    monkeypatch.setenv("AIRFLOW_CONN_MRM_ATHENA", json.dumps(conn))

    with pytest.raises(ConfigError, match="database 'mrm\"\\.\"x' is not a valid Athena name"):
        AthenaSource({}, model_id="card_fraud").read_day(CARD_DAY)


# -- a monitoring run reading Athena ---------------------------------------------------------------------
@pytest.fixture
def athena_inventory(moto, mrm_home, file_inventory, demo_files, monkeypatch):
    """card_fraud reading its scoring log through Athena (UNLOAD played on DuckDB over the demo files,
    reference window included); returns the UNLOAD queries started, in order."""
    import yaml

    con = duckdb.connect()
    duckdb_dialect(con)
    con.execute("CREATE SCHEMA mrm")
    pattern = f"{unquote(urlparse(demo_files).path)}/scoring/card_fraud/dt=*/*.parquet"
    con.execute(
        f"CREATE VIEW mrm.card_fraud_scoring_log AS SELECT * FROM read_parquet('{pattern}', "
        "hive_partitioning = true, hive_types_autocast = false)"
    )
    hook, ran = unload_on_duckdb(con)
    connect = AthenaHook.connect

    def hooked(self, settings):
        conn = connect(self, settings)
        conn.client.meta.events.register("after-call.athena.GetQueryExecution", hook)
        return conn

    monkeypatch.setattr(AthenaHook, "connect", hooked)
    path = file_inventory / "card_fraud.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["monitoring"]["scoring_log"] = {"athena": {"poll_seconds": 0.01}}
    athena_yaml = yaml.safe_dump(raw, sort_keys=False)
    yield path, athena_yaml, ran
    con.close()


def test_an_athena_sourced_run_equals_the_parquet_run_and_queries_the_reference_once(athena_inventory):
    from support import assert_same_quality_and_drift, clear_caches

    from mrm import pipeline

    parquet_run = pipeline.run_model("card_fraud", CARD_DAY)
    path, athena_yaml, ran = athena_inventory
    path.write_text(athena_yaml)
    clear_caches()

    athena_run = pipeline.run_model("card_fraud", CARD_DAY)
    days = [re.search(r"dt = '([0-9-]+)'", sql)[1] for sql in ran.values()]
    reference_days = [
        d.isoformat() for d in pipeline.get_inventory().get("card_fraud").monitoring.reference.days()
    ]
    # each reference day once (the profile and the performance baseline share the read), the day, and
    # the performance cohort's days
    assert sorted(d for d in days if d in reference_days) == reference_days
    assert days.count(CARD_DAY.isoformat()) == 1

    clear_caches()  # the next day's tasks, as new worker processes: only the profile cache is shared
    before = len(ran)
    ctx = pipeline.start("card_fraud", demo_day(6), "test")
    pipeline.quality(ctx)
    pipeline.drift(ctx)
    assert len(ran) == before + 1  # the day only: the reference profile came from the cache (SQL-keyed)

    store = pipeline.get_store()
    run = store.run(athena_run["run_id"])
    assert run["input_files"][0]["uri"].startswith("s3://mrm-athena/results/unload/")

    assert_same_quality_and_drift(store, parquet_run["run_id"], athena_run["run_id"])  # Athena keeps ms
    assert athena_run["overall_status"] == parquet_run["overall_status"] == "RED"


def test_a_pushdown_run_equals_the_parquet_run_and_records_the_bytes_athena_returned(athena_inventory):
    """aggregate: pushdown through the real client (pyathena renders the values; UNLOAD played on DuckDB):
    the day's quality and drift metrics equal the Parquet run's; the run records both queries' bytes."""
    import yaml
    from support import assert_same_quality_and_drift, clear_caches

    from mrm import pipeline

    parquet_run = pipeline.run_model("card_fraud", CARD_DAY)
    path, athena_yaml, ran = athena_inventory
    raw = yaml.safe_load(athena_yaml)
    raw["monitoring"]["scoring_log"]["athena"]["aggregate"] = "pushdown"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    clear_caches()

    pushed = pipeline.run_model("card_fraud", CARD_DAY)

    day_queries = [sql for sql in ran.values() if "'2026-09-05'" in sql]
    assert len(day_queries) == 2  # the sample, then the counts; no query returns the day's rows
    assert any("from_ieee754_64(substr(from_base64(" in sql for sql in day_queries)
    store = pipeline.get_store()
    assert_same_quality_and_drift(store, parquet_run["run_id"], pushed["run_id"])
    assert pushed["overall_status"] == parquet_run["overall_status"] == "RED"
    engine = store.run(pushed["run_id"])["lineage"]["engine"]
    info = engine["pushdown"]
    assert info["engine"] == "athena" and set(info["queries"]) == {"sample", "counts"}
    counts = info["queries"]["counts"]
    assert counts["query_id"] and 0 < counts["bytes_returned"] < 1_000_000
    assert info["bytes_returned"] == counts["bytes_returned"] + info["queries"]["sample"]["bytes_returned"]
    assert "bytes_scanned" in counts  # Athena's DataScannedInBytes (moto reports none)
    assert engine["rows"] == store.run(parquet_run["run_id"])["row_count"]


# -- a reference window spooled from Athena (mrm.checks.reference_spool) ---------------------------------
def athena_reference_entry(tmp_path, days: list[date]):
    """card_fraud, its reference window ``days`` read from Athena."""
    import yaml

    from mrm.inventory import load_entry

    raw = yaml.safe_load((REPO_ROOT / "include" / "inventory" / "card_fraud.yaml").read_text())
    raw["monitoring"]["reference"] = {"start": days[0].isoformat(), "end": days[-1].isoformat()}
    raw["monitoring"]["start_date"] = (days[-1] + timedelta(days=1)).isoformat()
    raw["monitoring"]["scoring_log"] = {"athena": {"poll_seconds": 0.01}}
    path = tmp_path / "card_fraud.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_entry(path)


def spooled_and_whole(entry, source):
    """The profile of the window spooled a day at a time, and of the window read whole as a frame."""
    from mrm.checks.engine.profile import ProfileSettings
    from mrm.checks.engine.profiling import profile_from_files, profile_from_frame
    from mrm.checks.reference import read_reference
    from mrm.checks.reference_spool import spooled_window

    settings = ProfileSettings.for_entry(entry)
    days = entry.monitoring.reference.days()
    with spooled_window(entry, source, days) as spooled:
        spool = profile_from_files(entry, spooled.files_by_day, settings, "fp", spooled.info(entry))
    frame, info = read_reference(entry, source)
    whole = profile_from_frame(frame, entry, info, settings, "fp")
    # every query writes new result objects, so each build records its own: the only difference
    assert spool.info["fingerprint"] != whole.info["fingerprint"]
    whole.info["fingerprint"] = spool.info["fingerprint"]
    return spool, whole


def test_an_unload_reference_window_spooled_has_the_bytes_of_the_frames_profile(moto, duck, tmp_path):
    from mrm.checks.reference import profile_sha256

    entry = athena_reference_entry(tmp_path, [demo_day(4), demo_day(5), demo_day(6)])  # day 4: no rows
    hook, ran = unload_on_duckdb(duck)
    source = HookedSource(
        {"poll_seconds": 0.01}, model_id="card_fraud", entry=entry, what="reference scoring log",
        hooks=[("after-call.athena.GetQueryExecution", hook)],
    )  # fmt: skip

    spool, whole = spooled_and_whole(entry, source)

    assert spool.info == whole.info and spool.info["missing_days"] == [demo_day(4).isoformat()]
    assert spool.info["files"] == 2 and spool.rows == whole.rows > 1000
    assert spool.to_files() == whole.to_files()
    assert profile_sha256(spool.to_files()) == profile_sha256(whole.to_files())
    assert len(ran) == 6  # each day queried once by each path


def test_a_pushdown_models_reference_window_is_spooled_from_its_rows_not_read_whole(moto, duck, tmp_path):
    """``aggregate: pushdown`` counts a run's day in Athena; its reference window has no counts to take,
    so it is spooled from the day's UNLOAD rows like any Athena window's, with the same profile bytes."""
    entry = athena_reference_entry(tmp_path, [demo_day(5), demo_day(6)])
    hook, ran = unload_on_duckdb(duck)
    source = HookedSource(
        {"poll_seconds": 0.01, "aggregate": "pushdown"}, model_id="card_fraud", entry=entry,
        what="reference scoring log", hooks=[("after-call.athena.GetQueryExecution", hook)],
    )  # fmt: skip
    assert source.day_input(demo_day(5)).pushdown is not None  # a run's day: counted in Athena

    spool, whole = spooled_and_whole(entry, source)

    assert spool.info == whole.info and spool.rows == whole.rows > 1000
    assert spool.to_files() == whole.to_files()
    assert len(ran) == 4  # each day's rows queried once by each path


def test_a_csv_reference_window_spooled_has_the_bytes_of_the_frames_profile(moto, demo_root, tmp_path):
    entry = athena_reference_entry(tmp_path, [demo_day(5), demo_day(6)])
    for _ in range(2):  # the spooled path's queries, then the frame path's
        for k in (5, 6):
            rows = (
                parquet_day(demo_root, "card_fraud", demo_day(k)).head(700).assign(dt=demo_day(k).isoformat())
            )
            queue_rows(moto, rows)
    source = AthenaSource(
        {"unload": False, "poll_seconds": 0.01},
        model_id="card_fraud",
        entry=entry,
        what="reference scoring log",
    )

    spool, whole = spooled_and_whole(entry, source)

    assert spool.info == whole.info and spool.info["daily_rows"] == [700, 700]
    assert spool.to_files() == whole.to_files()
