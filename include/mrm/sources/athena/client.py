"""The Athena hook: the Airflow connection's settings, a pyathena connection, the query states and the wait
between status requests, running one query and listing the S3 objects of its result. Knows nothing of
scoring logs (that is :mod:`mrm.sources.athena.source`); the connection's fields are in docs/sources.md."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlparse

from mrm.core.storage import ObjectInfo
from mrm.errors import ConfigError, SourceError
from mrm.inventory.sources import IDENTIFIER, AthenaSourceConfig

log = logging.getLogger("mrm.sources.athena")

SUCCEEDED = "SUCCEEDED"
FAILURE_STATES = ("FAILED", "CANCELLED")
MAX_POLL_SECONDS = 10.0  # the longest wait between two status requests


# -- waiting for a query ----------------------------------------------------------------------------------
class QueryWait:
    """pyathena's ``on_poll`` callback: called with each ``AthenaQueryExecution`` (pyathena.model) the
    cursor gets from GetQueryExecution. Waits between status requests with exponential backoff
    (``poll_seconds``, doubling, at most MAX_POLL_SECONDS and never past the deadline); raises SourceError
    for FAILED or CANCELLED (with Athena's StateChangeReason) and, after cancelling the query, when it is
    still queued or running after ``timeout_seconds``."""

    def __init__(
        self,
        label: str,
        *,
        poll_seconds: float,
        timeout_seconds: float,
        cancel: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label = label
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.cancel = cancel
        self.sleep = sleep
        self.clock = clock
        self.started: float | None = None
        self.delays: list[float] = []  # the waits so far (for the log and tests)
        self.states: list[str] = []

    def next_delay(self) -> float:
        cap = max(self.poll_seconds, MAX_POLL_SECONDS)
        return min(self.poll_seconds * 2 ** len(self.delays), cap)

    def __call__(self, execution: Any) -> None:
        now = self.clock()
        if self.started is None:
            self.started = now
        state = execution.state or "UNKNOWN"
        self.states.append(state)
        if state == SUCCEEDED:
            return
        if state in FAILURE_STATES:
            raise SourceError(_ended_message(self.label, execution))
        elapsed = now - self.started
        if elapsed >= self.timeout_seconds:
            raise self._timed_out(execution.query_id, state)
        delay = min(self.next_delay(), self.timeout_seconds - elapsed)
        self.delays.append(delay)
        self.sleep(delay)

    def _timed_out(self, qid: str, state: str) -> SourceError:
        """Cancel the query still queued or running at the deadline; the error says so."""
        cancelled = "cancelled it"
        if self.cancel is not None:
            try:
                self.cancel(qid)
            except Exception as exc:
                cancelled = f"could not cancel it ({one_line(str(exc)) or type(exc).__name__})"
        return SourceError(
            f"{self.label}: Athena query {qid} still {state} after {self.timeout_seconds:g} s; "
            f"{cancelled}; raise timeout_seconds in the model's Athena source or check the workgroup's "
            "queue and capacity, then rerun this date"
        )


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _ended_message(label: str, execution: Any) -> str:
    state, qid = execution.state, execution.query_id
    reason = one_line(execution.state_change_reason) or one_line(getattr(execution, "error_message", None))
    if state == "CANCELLED":
        return (
            f"{label}: Athena query {qid} was CANCELLED ({reason or 'no reason given'}); "
            "it was stopped by a person or a workgroup limit (e.g. data scanned per query): "
            "check the workgroup, then rerun this date"
        )
    category = getattr(execution, "error_category", None)
    if category == 1 or getattr(execution, "retryable", None):
        todo = "an error inside Athena: rerun this date; if it persists, give AWS support the query id"
    else:
        todo = (
            "fix the query template, the table or the permissions it names (the query text is in the "
            "Athena console under this id), then rerun this date"
        )
    return f"{label}: Athena query {qid} FAILED: {reason or 'no reason given'}; {todo}"


# -- the connection -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionSettings:
    connect: dict[str, Any]  # keyword arguments of pyathena.connect
    database: str | None
    table: str | None
    workgroup: str | None
    s3_staging_dir: str | None


def _staging_dir(value: str | None, conn_id: str) -> str | None:
    if not value:
        return None
    value = value if value.endswith("/") else value + "/"
    parsed = urlparse(value)
    if parsed.scheme != "s3" or not parsed.netloc or re.search(r"['\s\\%]", value):
        raise ConfigError(
            f"connection '{conn_id}': s3_staging_dir {value!r} must be s3://bucket/prefix/ "
            "(no quotes, spaces, backslashes or %)"
        )
    return value


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


class AthenaHook:
    """Athena for one source config: connection settings, connections, query runs, result objects."""

    def __init__(self, config: AthenaSourceConfig):
        self.config = config
        self.statistics: dict[str, Any] = {}

    def settings(self, purpose: str) -> ConnectionSettings:
        """The connection's settings with the config's overrides; ConfigError names what is missing."""
        from mrm.airflow.connections import get_connection

        cfg = self.config
        conn = get_connection(cfg.connection, purpose)
        extra = conn.extra or {}
        database = cfg.database or conn.schema or extra.get("database") or extra.get("schema_name")
        table = cfg.table or extra.get("table")
        workgroup = cfg.workgroup or extra.get("work_group") or extra.get("workgroup")
        staging = _staging_dir(extra.get("s3_staging_dir"), cfg.connection)
        if database is not None and not re.fullmatch(IDENTIFIER, database):
            raise ConfigError(
                f"connection '{cfg.connection}': database {database!r} is not a valid Athena name "
                "(lower-case letters, digits and _)"
            )
        if workgroup is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", workgroup):
            raise ConfigError(
                f"connection '{cfg.connection}': work_group {workgroup!r} is not a workgroup name"
            )
        if cfg.unload and not staging:
            raise ConfigError(
                f"connection '{cfg.connection}' has no extra.s3_staging_dir: UNLOAD needs a result location "
                "(s3://bucket/prefix/); add it to the connection"
            )
        kwargs = {
            "region_name": extra.get("region_name") or extra.get("region"),
            "s3_staging_dir": staging,
            "work_group": workgroup,
            "schema_name": database or "default",
            **_credentials(conn, extra),
        }
        return ConnectionSettings(
            {k: v for k, v in kwargs.items() if v is not None}, database, table, workgroup, staging
        )

    def table(self, settings: ConnectionSettings | None = None) -> str:
        """``database.table via query.sql``, for messages."""
        table = settings.table if settings else self.config.table
        database = settings.database if settings else self.config.database
        where = ".".join(p for p in (database, table) if p) or "Athena"
        return f"{where} via {self.config.query}"

    def connect(self, settings: ConnectionSettings):
        """A pyathena connection (tests override this to observe or steer the Athena client)."""
        from pyathena import connect

        return connect(**settings.connect)

    def run(
        self,
        sql: str,
        values: dict[str, Any],
        settings: ConnectionSettings,
        label: str,
        *,
        fetch: bool = True,
    ):
        """Run one query; return (Arrow table, result objects, query id), or without ``fetch`` (result
        objects, query id, the columns of a CSV result as pyathena describes them, None for UNLOAD): no row
        is read then, they stay in S3 for the caller to stream."""
        from pyathena.arrow.cursor import ArrowCursor
        from pyathena.error import Error as AthenaError

        cfg = self.config
        conn = self.connect(settings)
        wait = QueryWait(
            label,
            poll_seconds=cfg.poll_seconds,
            timeout_seconds=cfg.timeout_seconds,
            cancel=lambda qid: conn.client.stop_query_execution(QueryExecutionId=qid),
        )
        cursor = None
        try:
            kind = ArrowCursor if fetch else _rowless_cursor()
            cursor = conn.cursor(kind, unload=cfg.unload, poll_interval=0, on_poll=wait)
            cursor.execute(sql, values)
            arrow = cursor.as_arrow() if fetch else None
            described = None if fetch or cfg.unload else cursor.description
            files = self.result_objects(conn, cursor, label)
            self.statistics = {  # of the last query run (the pushdown records them)
                "query_id": cursor.query_id,
                "bytes_scanned": cursor.data_scanned_in_bytes,
                "bytes_returned": sum(f.size for f in files),
                "engine_ms": cursor.engine_execution_time_in_millis,
            }
            log.info(
                "%s: Athena query %s: %s rows, %s bytes scanned, %s ms in the engine, %d result object(s)",
                label,
                cursor.query_id,
                arrow.num_rows if fetch else "(not fetched)",
                cursor.data_scanned_in_bytes,
                cursor.engine_execution_time_in_millis,
                len(files),
            )
            return (arrow, files, cursor.query_id) if fetch else (files, cursor.query_id, described)
        except AthenaError as exc:
            qid = getattr(cursor, "query_id", None) if cursor is not None else None
            started = f"query {qid}" if qid else "query (not started)"
            raise SourceError(
                f"{label}: Athena {started} could not run: {one_line(str(exc)) or type(exc).__name__}; "
                f"check the connection '{cfg.connection}' (region, workgroup, s3_staging_dir), the table "
                f"{self.table(settings)} and the IAM permissions, then rerun this date"
            ) from None
        finally:
            conn.close()

    def s3_client(self, settings: ConnectionSettings):
        """An S3 client with the connection's credentials, region and role: what pyathena reads result
        files with, and the result objects are listed with."""
        conn = self.connect(settings)
        try:
            return conn.session.client("s3", region_name=conn.region_name)
        finally:
            conn.close()

    def result_objects(self, conn, cursor, label: str) -> list[ObjectInfo]:
        """The S3 objects the rows were read from, with size and ETag: the UNLOAD data files listed in the
        query's data manifest, or the CSV result file."""
        from botocore.exceptions import BotoCoreError, ClientError

        s3 = conn.session.client("s3", region_name=conn.region_name)
        qid = cursor.query_id
        try:
            if not self.config.unload:
                bucket, key = _split(cursor.output_location)
                head = s3.head_object(Bucket=bucket, Key=key)
                return [ObjectInfo(cursor.output_location, head["ContentLength"], head["ETag"].strip('"'))]
            listed, found = _unload_objects(s3, cursor.data_manifest_location, label, qid)
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(
                f"{label}: cannot list the result objects of Athena query {qid}: {one_line(str(exc))}; "
                "check s3:GetObject/s3:ListBucket on the connection's s3_staging_dir"
            ) from None
        gone = [u for u in listed if u not in found]
        if gone:
            raise SourceError(
                f"{label}: UNLOAD output {gone[0]} of Athena query {qid} is missing; rerun this date"
            )
        return [found[u] for u in sorted(listed)]


@cache
def _rowless_cursor():
    """A pyathena cursor class that runs the query (wrapped in UNLOAD with ``unload=True``, as ArrowCursor
    wraps it) and reads none of its rows: of a CSV result only the column descriptions, from a
    GetQueryResults page of one row. (pyathena's ArrowCursor reads the whole result, CSV or UNLOAD
    Parquet, into one Arrow table as it executes.) Uses pyathena 4.2's cursor extension points."""
    from pyathena.cursor import Cursor
    from pyathena.result_set import AthenaResultSet

    class Described(AthenaResultSet):
        def __init__(self, *args, describe: bool = False, **kwargs):
            super().__init__(*args, _pre_fetch=False, **kwargs)
            if describe:
                self._load_metadata()

    class Rowless(Cursor):
        def __init__(self, *, unload: bool = False, **kwargs):
            super().__init__(**kwargs)
            self._unload = unload
            self._result_set_class = Described
            self._result_set_kwargs = {"describe": not unload}

        def execute(self, operation, parameters=None, **kwargs):
            operation, _ = self._prepare_unload(operation, self._s3_staging_dir)
            return super().execute(operation, parameters, **kwargs)

    return Rowless


def _credentials(conn, extra: dict[str, Any]) -> dict[str, Any]:
    """pyathena.connect's catalog, endpoint, key and role arguments from the connection."""
    kwargs: dict[str, Any] = {}
    if extra.get("catalog_name"):
        kwargs["catalog_name"] = extra["catalog_name"]
    if extra.get("endpoint_url"):
        kwargs["endpoint_url"] = extra["endpoint_url"]
    if conn.login and conn.password:
        kwargs.update(aws_access_key_id=conn.login, aws_secret_access_key=conn.password)
        if extra.get("aws_session_token"):
            kwargs["aws_session_token"] = extra["aws_session_token"]
    if extra.get("role_arn"):
        kwargs["role_arn"] = extra["role_arn"]
    return kwargs


def _unload_objects(s3, manifest: str | None, label: str, qid: str):
    """(the data files the UNLOAD manifest lists, every object found under their folders by URI)."""
    if not manifest:
        raise SourceError(f"{label}: Athena query {qid} succeeded but reported no UNLOAD data manifest")
    bucket, key = _split(manifest)
    listed = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8").split()
    found: dict[str, ObjectInfo] = {}
    for parent in sorted({u.rsplit("/", 1)[0] + "/" for u in listed}):
        bucket, prefix = _split(parent)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                uri = f"s3://{bucket}/{o['Key']}"
                found[uri] = ObjectInfo(uri, o["Size"], o["ETag"].strip('"'))
    return listed, found
