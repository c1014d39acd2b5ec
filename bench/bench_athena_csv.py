"""Benchmark: peak memory of a run's day aggregate from an Athena CSV result (``athena.unload: false``), on
days of the card_fraud columns (the scoring-log contract, its six features and the dt partition), 1M rows by
default, with the code of a given source tree: before (the day read whole by pyathena's ArrowCursor, made a
frame and aggregated) and after (the CSV object streamed in blocks into the aggregate). ``--unload``: the
same for an UNLOAD result (before, pyathena read the Parquet files whole as the query ran, then the run
streamed them; after, only the run streams them).

    .venv/bin/python bench/bench_athena_csv.py --before /path/to/old/include [--rows 1000000 ...] [--unload]

Athena is played by a moto server on 127.0.0.1: a query's GetQueryResults gives the column metadata (one
queued row), and the CSV object the query leaves in S3 is the day's (written as Athena writes it: every
value quoted, NULL empty, timestamps to the millisecond), copied into place inside the server. Each
measurement runs in a fresh process; its peak RSS is taken over ``source.day_input`` + ``inputs.aggregate``
only (VmHWM reset through /proc/self/clear_refs after imports and the reference profile). Prints JSON; writes
nothing under bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
INCLUDE = HERE.parent / "include"
DAY = date(2026, 9, 5)
BUCKET = "mrm-athena"
STAGED = "staged/day.csv"
ATHENA_TYPES = {"string": "varchar", "double": "double", "timestamp[ms]": "timestamp"}


def frame(rows: int, seed: int, day: date):
    """A card_fraud day as the Glue table holds it (event_ts as Athena's text, to the millisecond)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    start = np.datetime64(day.isoformat(), "ms").astype("int64")
    ts = pa.array(np.sort(start + rng.integers(0, 86_400_000, rows)), pa.timestamp("ms"))
    device = rng.uniform(0, 1, rows)
    merchants = np.array(["grocery", "electronics", "travel", "fashion", "digital_goods", "fuel"])
    countries = np.array(["DE", "FR", "GB", "IT", "ES", "NL"])
    score = rng.beta(0.6, 8, rows)
    return pa.table(
        {
            "event_id": pa.array([f"card_fraud-{day:%Y%m%d}-{i:07d}" for i in range(rows)]),
            "event_ts": ts,
            "model_id": pa.array(np.full(rows, "card_fraud")),
            "model_version": pa.array(np.full(rows, "4.2.0")),
            "amount": np.round(rng.lognormal(3.5, 1.2, rows), 2),
            "merchant_category": pa.array(merchants[rng.integers(0, 6, rows)]),
            "country": pa.array(countries[rng.integers(0, 6, rows)]),
            "card_age_days": rng.integers(0, 5000, rows).astype("float64"),
            "device_score": pa.array(device, mask=rng.uniform(size=rows) < 0.03),
            "hour_of_day": pc.hour(ts).cast(pa.float64()),
            "score": score,
            "decision": pa.array(
                np.where(score >= 0.7, "decline", np.where(score >= 0.3, "review", "approve"))
            ),
            "dt": pa.array(np.full(rows, day.isoformat())),
        }
    )


def athena_csv(table, path: Path) -> None:
    """The table as Athena writes a CSV result: header, every value quoted, NULL empty, ms timestamps."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    at = table.schema.get_field_index("event_ts")
    text = pc.strftime(table.column(at), "%Y-%m-%d %H:%M:%S")  # %S has the milliseconds
    table = table.set_column(at, pa.field("event_ts", pa.string()), text)
    csv.write_csv(table, str(path), csv.WriteOptions(quoting_style="all_valid"))


def athena_parquet(table, path: Path) -> None:
    """The table as UNLOAD writes it: Parquet, snappy, timestamps as INT96 without a zone."""
    import pyarrow.parquet as pq

    pq.write_table(table, str(path), compression="snappy", use_deprecated_int96_timestamps=True)


def column_info(table) -> list[dict]:
    info = []
    for field in table.schema:
        kind = ATHENA_TYPES[str(field.type)]
        info.append({"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": field.name,
                     "Label": field.name, "Type": kind, "Precision": 17 if kind == "double" else 2147483647,
                     "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": kind == "varchar"})  # fmt: skip
    return info


def peak_kb() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))


def child(endpoint: str, unload: bool) -> dict:
    """One measurement, with the mrm on PYTHONPATH: the day's aggregate through the source and inputs."""
    import boto3
    import pyarrow as pa
    from pyarrow import fs
    from pyathena.arrow.result_set import AthenaArrowResultSetMetadataReader

    from mrm import inputs
    from mrm.checks.engine.profiling import profile_from_frame
    from mrm.inventory import load_entry
    from mrm.sources.athena.client import AthenaHook
    from mrm.sources.athena.source import AthenaSource
    from mrm.sources.contract import conform

    AthenaArrowResultSetMetadataReader._create_s3_file_system = lambda self: fs.S3FileSystem(
        region="us-east-1",
        access_key="bench",
        secret_key="bench",
        endpoint_override=endpoint,
        request_timeout=300,
        connect_timeout=30,
    )  # pyarrow's S3 filesystem ignores AWS_ENDPOINT_URL (the before code reads through it)
    s3, asked, placed = boto3.client("s3"), [], set()

    def ask(params, **_):
        asked.append(params["QueryExecutionId"])

    def place(**_):  # after moto wrote its one-row object: the query's result object is the day's CSV
        if asked[-1] not in placed:
            key = f"results/{asked[-1]}.csv"
            s3.copy_object(Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": STAGED})
            placed.add(asked[-1])

    def unloaded(parsed, **_):  # UNLOAD played: the day's Parquet file where the query said, a manifest
        execution = parsed.get("QueryExecution", {})
        query, qid = execution.get("Query", ""), execution.get("QueryExecutionId")
        if execution.get("Status", {}).get("State") != "SUCCEEDED" or not query.lstrip().startswith("UNLOAD"):
            return
        manifest = f"results/{qid}-manifest.csv"
        if qid not in placed:
            to = re.search(r"TO\s*'s3://[^/]+/(?P<prefix>[^']+)'", query)["prefix"]
            s3.copy_object(Bucket=BUCKET, Key=f"{to}part-0", CopySource={"Bucket": BUCKET, "Key": STAGED})
            s3.put_object(Bucket=BUCKET, Key=manifest, Body=f"s3://{BUCKET}/{to}part-0".encode())
            placed.add(qid)
        execution.setdefault("Statistics", {})["DataManifestLocation"] = f"s3://{BUCKET}/{manifest}"

    connect = AthenaHook.connect

    def hooked(self, settings):
        conn = connect(self, settings)
        if unload:
            conn.client.meta.events.register("after-call.athena.GetQueryExecution", unloaded)
        else:
            conn.client.meta.events.register("before-parameter-build.athena.GetQueryResults", ask)
            conn.client.meta.events.register("after-call.athena.GetQueryResults", place)
        return conn

    AthenaHook.connect = hooked
    entry = load_entry(INCLUDE.parent / "include" / "inventory" / "card_fraud.yaml")
    ref = frame(20_000, 1, date(2026, 8, 31)).to_pandas()
    ref = ref.drop(columns="dt").assign(event_ts=ref["event_ts"].dt.tz_localize("UTC"), _dt=date(2026, 8, 31))
    profile = profile_from_frame(conform(ref, entry, "reference"), entry, {})
    del ref
    source = AthenaSource({"unload": unload, "poll_seconds": 0.01}, model_id="card_fraud", entry=entry)
    base = peak_kb()
    with open("/proc/self/clear_refs", "w") as fh:  # VmHWM from here on
        fh.write("5")
    started = time.perf_counter()
    agg = inputs.aggregate(source.day_input(DAY), profile)
    seconds = time.perf_counter() - started
    numeric = {c: [a.n, a.nulls, round(float(a.total), 6)] for c, a in sorted(agg.numeric.items())}
    categorical = {c: [sorted(a.counts.items()), a.nulls] for c, a in sorted(agg.categorical.items())}
    return {
        "rows": agg.rows,
        "peak_rss_mb": round(peak_kb() / 1024, 1),
        "before_aggregate_rss_mb": round(base / 1024, 1),
        "seconds": round(seconds, 2),
        "counts": {"numeric": numeric, "categorical": categorical, "ids": [agg.ids.n, agg.ids.duplicated]},
        "pyarrow": pa.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="the include/ folder of the code before")
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--unload", action="store_true", help="UNLOAD's Parquet result, not the CSV one")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    if args.child:
        os.environ.update(env, AWS_ENDPOINT_URL=args.child, AWS_ENDPOINT_URL_S3=args.child)
        print(json.dumps(child(args.child, args.unload)))
        return
    import urllib.request

    import boto3
    from moto.server import ThreadedMotoServer

    sys.path.insert(0, str(INCLUDE))
    import logging

    from mrm.demo.s3 import free_port

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(env, AWS_ENDPOINT_URL=endpoint)
    connection = {"conn_type": "aws", "schema": "mrm", "extra": {
        "region_name": "us-east-1", "s3_staging_dir": f"s3://{BUCKET}/results/", "work_group": "mrm",
        "table": "card_fraud_scoring_log", "endpoint_url": endpoint}}  # fmt: skip
    out = {}
    try:
        for rows in args.rows:
            table = frame(rows, 5, DAY)
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            boto3.client("athena").create_work_group(Name="mrm", Configuration={})
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "day.csv"
                athena_parquet(table, path) if args.unload else athena_csv(table, path)
                size = path.stat().st_size
                with path.open("rb") as body:  # one part: moto's copy of a multipart object fails checksums
                    boto3.client("s3").put_object(Bucket=BUCKET, Key=STAGED, Body=body)
            one = athena_text_row(table)
            del table
            figures = {"parquet_mb" if args.unload else "csv_mb": round(size / 2**20, 1)}
            for name, include in (("before", args.before), ("after", str(INCLUDE))):
                queue(endpoint, one)
                child_env = {
                    **os.environ,
                    "PYTHONPATH": include,
                    "AIRFLOW_CONN_MRM_ATHENA": json.dumps(connection),
                }
                done = subprocess.run(
                    [sys.executable, __file__, "--before", args.before, "--child", endpoint,
                     *(["--unload"] if args.unload else [])],
                    env=child_env, capture_output=True, text=True, check=False,
                )  # fmt: skip
                if done.returncode:
                    raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
                figures[name] = json.loads(done.stdout.strip().splitlines()[-1])
            same = figures["before"].pop("counts") == figures["after"].pop("counts")
            figures["same_counts"] = same
            out[str(rows)] = figures
            urllib.request.urlopen(
                urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
            ).close()
    finally:
        server.stop()
    print(json.dumps(out, indent=2))


def athena_text_row(table):
    """GetQueryResults' first page: the header and one row (the object in S3 is the whole day)."""
    info = column_info(table)
    return {"rows": [{"Data": [{"VarCharValue": c["Name"]} for c in info]}], "column_info": info}


def queue(endpoint: str, result: dict) -> None:
    import urllib.request

    body = json.dumps({"results": [result]}).encode()
    req = urllib.request.Request(f"{endpoint}/moto-api/static/athena/query-results", data=body,
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    urllib.request.urlopen(req).close()


if __name__ == "__main__":
    main()
