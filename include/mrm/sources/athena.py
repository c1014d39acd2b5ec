"""Scoring logs from Amazon Athena: one query template per model, parameters bound, results read as Arrow.

How a day is read
    ``AthenaSource(config).read_day(model_id, day)`` loads the template ``config.query`` from the SQL folder
    (``include/sql/``, or ``MRM_SQL_DIR``), starts it with pyathena's ``ArrowCursor`` and the values
    ``model_id``, ``dt`` ('YYYY-MM-DD') and ``day`` (DATE) as parameters, waits for the query with bounded
    exponential backoff, and returns a :class:`~mrm.sources.parquet.DayData`: the rows as a pandas frame
    (plus ``_dt``, the logical date) and the result objects it read (S3 URI, size, ETag), which a run
    records as its exact inputs. With ``unload: true`` (the default) the query runs as
    ``UNLOAD (...) TO '<s3_staging_dir>unload/...' WITH (format = 'PARQUET')`` and the Parquet files listed in
    Athena's data manifest are read; otherwise the CSV result file is read (typed by Athena's result
    metadata; a NULL varchar comes back as an empty string there, one more reason to UNLOAD). Never row
    by row through GetQueryResults.

    Frames are normalised to what a Parquet scoring log gives: partition columns (``partition_columns``,
    default ``dt``) are dropped, Athena ``timestamp`` columns (no zone) are read as UTC, ``decimal``
    columns become float64. Athena keeps timestamps to the millisecond, so ``event_ts`` may differ from the
    Parquet files below the millisecond. Rows come in no particular order.

Query templates (``include/sql/<name>.sql``)
    One SELECT or WITH query, no trailing semicolon. Leading ``--`` comment lines are documentation and are
    not sent. Placeholders:

    - ``%(model_id)s``, ``%(dt)s``, ``%(day)s``: values, in pyathena's pyformat style. pyathena renders each
      as one SQL literal (a quote in a string is doubled, Trino's only escape), so a value cannot change
      the statement; DuckDB (tests, local runs) binds them as ``$model_id`` etc. Any other name is an
      error, and a literal percent sign is written ``%%``.
    - ``{{table}}``: the identifier ``"database"."table"`` from the source config or the connection, each
      part checked against ``^[a-z_][a-z0-9_]*$``. Identifiers never come from data.

    The query must return one row per scored event with the scoring-log columns: ``event_id``,
    ``event_ts``, ``score``, ``decision`` and the model's features (``model_id`` and ``model_version`` may
    come too; anything else is reported as an extra column by the data-quality checks). It should filter
    on the table's partition key so that Athena scans one day. No ORDER BY: order is not kept by UNLOAD.

The Airflow connection (``connection``, default ``mrm_athena``; or ``AIRFLOW_CONN_MRM_ATHENA``)
    - ``schema``: the Glue database (or extra ``database``); the config's ``database`` overrides it
    - extra ``region_name``: the AWS region (else boto3's default region)
    - extra ``s3_staging_dir``: where Athena writes results and UNLOAD output, ``s3://bucket/prefix/``
      (required with ``unload: true``)
    - extra ``work_group`` (or ``workgroup``): the Athena workgroup; the config's ``workgroup`` overrides it
    - extra ``table``: a default table; the config's ``table`` overrides it
    - extra ``catalog_name``: a data catalog other than ``AwsDataCatalog`` (optional)
    - ``login`` / ``password``: an access key id and secret (optional; extra ``aws_session_token``); without
      them boto3's default chain (instance profile, IRSA, environment) is used. Extra ``role_arn``: a role
      to assume first (optional)
    - extra ``endpoint_url``: another Athena endpoint (optional, e.g. a moto server in tests)

    Reading the result files goes through pyarrow's S3 filesystem, which (pyarrow 26) ignores
    ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3`` (apache/arrow#49643), so the results must live on AWS S3
    proper; listing and the manifest go through boto3, which honours them.

IAM permissions of the identity that runs the tasks
    - ``athena:StartQueryExecution``, ``athena:GetQueryExecution``, ``athena:StopQueryExecution`` (a query
      that times out is cancelled) and ``athena:GetQueryResults`` (result metadata, CSV mode) on the
      workgroup
    - ``glue:GetDatabase``, ``glue:GetTable``, ``glue:GetPartition``, ``glue:GetPartitions``,
      ``glue:BatchGetPartition`` on the catalog, database and table
    - ``s3:GetObject`` and ``s3:ListBucket`` on the table's data location (Athena reads it as the caller)
    - ``s3:PutObject``, ``s3:GetObject``, ``s3:ListBucket``, ``s3:GetBucketLocation``,
      ``s3:AbortMultipartUpload``, ``s3:ListMultipartUploadParts`` on ``s3_staging_dir`` (results, UNLOAD
      output and manifests are written and then read back)
    - ``kms:Decrypt`` / ``kms:GenerateDataKey`` on the keys of SSE-KMS-encrypted data or results

    A run records the result objects as its inputs and may read them again later: an S3 lifecycle rule
    that expires ``s3_staging_dir`` must leave them long enough for reruns of a run's checks.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

from mrm.core.storage import ObjectInfo
from mrm.errors import ConfigError, NoDataError, SourceError
from mrm.inventory.sources import IDENTIFIER, AthenaSourceConfig
from mrm.sources.parquet import DayData, read_each_day

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

log = logging.getLogger(__name__)

PARAMETERS = ("model_id", "dt", "day")  # the values a template may use
MAX_POLL_SECONDS = 10.0  # the longest wait between two status requests


# -- templates --------------------------------------------------------------------------------------------
def sql_dir() -> Path:
    """MRM_SQL_DIR, or ``include/sql`` of this repository."""
    from mrm.settings import REPO_ROOT

    env = os.environ.get("MRM_SQL_DIR")
    return Path(env).resolve() if env else REPO_ROOT / "include" / "sql"


_TOKEN = re.compile(r"%\((?P<name>[^)]*)\)s|(?P<percent>%%)|(?P<lone>%)|\{\{\s*(?P<ident>[^}]*?)\s*\}\}")
_HEADER = re.compile(r"\A(?:[ \t]*(?:--[^\n]*)?(?:\n|\Z))+")


@dataclass(frozen=True)
class Template:
    """A query template: one definition, rendered for Athena (pyathena pyformat) or DuckDB (``$name``)."""

    name: str
    body: str  # the query without its leading comment lines
    parameters: tuple[str, ...]  # the value names it uses, in order of first use

    @classmethod
    def parse(cls, name: str, text: str) -> Template:
        body = _HEADER.sub("", text).strip().removesuffix(";").rstrip()
        where = f"query template {name}"
        if not re.match(r"(?is)^(select|with)\b", body):
            raise ConfigError(f"{where} must be one SELECT or WITH query (after its leading -- comments)")
        used: list[str] = []
        for m in _TOKEN.finditer(body):
            if m.group("lone"):
                raise ConfigError(
                    f"{where}: a lone % at offset {m.start()}; write a literal percent sign as %%"
                )
            if m.group("name") is not None and m.group("name") not in PARAMETERS:
                raise ConfigError(
                    f"{where} uses unknown parameter %({m.group('name')})s; known: "
                    + ", ".join(f"%({p})s" for p in PARAMETERS)
                )
            if m.group("ident") is not None and m.group("ident") != "table":
                raise ConfigError(
                    f"{where} uses unknown placeholder {{{{{m.group('ident')}}}}}; known: {{{{table}}}}"
                )
            if m.group("name") and m.group("name") not in used:
                used.append(m.group("name"))
        return cls(name, body, tuple(used))

    def values(self, params: dict[str, Any]) -> dict[str, Any]:
        """The values this template uses, by name (DuckDB rejects values a query does not use)."""
        return {name: params[name] for name in self.parameters}

    @property
    def uses_table(self) -> bool:
        return any(m.group("ident") for m in _TOKEN.finditer(self.body))

    def render(self, engine: Literal["athena", "duckdb"], table: str | None = None) -> str:
        """The query text for an engine: values stay placeholders (``%(name)s`` for pyathena, ``$name`` for
        DuckDB); ``{{table}}`` becomes ``table``, an identifier already checked (see :func:`quoted_table`)."""

        def one(m: re.Match) -> str:
            if m.group("name") is not None:
                return f"%({m.group('name')})s" if engine == "athena" else f"${m.group('name')}"
            if m.group("percent"):
                return "%%" if engine == "athena" else "%"
            if table is None:
                raise ConfigError(
                    f"query template {self.name} reads {{{{table}}}} but no table is configured: set table "
                    "in the model's Athena source or extra.table in its connection"
                )
            return table

        return _TOKEN.sub(one, self.body)


def load_template(name: str) -> Template:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.sql", name):
        raise ConfigError(f"query template name {name!r} must be a file name like scoring_log.sql")
    path = sql_dir() / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"query template {name} cannot be read from {path} ({exc.strerror or exc}); "
            "add it under include/sql/ or set MRM_SQL_DIR"
        ) from None
    return Template.parse(name, text)


def quoted_table(database: str | None, table: str) -> str:
    """``"database"."table"`` after checking both parts are plain identifiers (ConfigError otherwise)."""
    parts = [p for p in (database, table) if p is not None]
    for part in parts:
        if not re.fullmatch(IDENTIFIER, part):
            raise ConfigError(
                f"{part!r} is not a valid Athena database/table name: lower-case letters, digits and _ only"
            )
    return ".".join(f'"{p}"' for p in parts)


def query_parameters(model_id: str, day: date) -> dict[str, Any]:
    """The values a template may use, for every engine: one definition."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"day must be a datetime.date, not {type(day).__name__}")
    if not isinstance(model_id, str):
        raise TypeError(f"model_id must be a str, not {type(model_id).__name__}")
    return {"model_id": model_id, "dt": day.isoformat(), "day": day}


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
        qid = execution.query_id
        if state == "SUCCEEDED":
            return
        if state in ("FAILED", "CANCELLED"):
            raise SourceError(_ended_message(self.label, execution))
        elapsed = now - self.started
        if elapsed >= self.timeout_seconds:
            cancelled = "cancelled it"
            if self.cancel is not None:
                try:
                    self.cancel(qid)
                except Exception as exc:
                    cancelled = f"could not cancel it ({_one_line(str(exc)) or type(exc).__name__})"
            raise SourceError(
                f"{self.label}: Athena query {qid} still {state} after {self.timeout_seconds:g} s; "
                f"{cancelled}; raise timeout_seconds in the model's Athena source or check the workgroup's "
                "queue and capacity, then rerun this date"
            )
        delay = min(self.next_delay(), self.timeout_seconds - elapsed)
        self.delays.append(delay)
        self.sleep(delay)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _ended_message(label: str, execution: Any) -> str:
    state, qid = execution.state, execution.query_id
    reason = _one_line(execution.state_change_reason) or _one_line(getattr(execution, "error_message", None))
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


# -- the source -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Settings:
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


class AthenaSource:
    """Reads a model's scoring log for one day from Athena (see the module docstring)."""

    def __init__(self, config: AthenaSourceConfig | dict, *, what: str = "scoring log"):
        self.config = config if isinstance(config, AthenaSourceConfig) else AthenaSourceConfig(**config)
        self.template = load_template(self.config.query)
        self.what = what

    # settings ----------------------------------------------------------------------------------------
    def settings(self, purpose: str) -> _Settings:
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
        kwargs: dict[str, Any] = {
            "region_name": extra.get("region_name") or extra.get("region"),
            "s3_staging_dir": staging,
            "work_group": workgroup,
            "schema_name": database or "default",
        }
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
        return _Settings(
            {k: v for k, v in kwargs.items() if v is not None}, database, table, workgroup, staging
        )

    def describe(self, settings: _Settings | None = None) -> str:
        table = settings.table if settings else self.config.table
        database = settings.database if settings else self.config.database
        where = ".".join(p for p in (database, table) if p) or "Athena"
        return f"{where} via {self.config.query}"

    def _connect(self, settings: _Settings):
        """A pyathena connection (tests override this to observe or steer the Athena client)."""
        from pyathena import connect

        return connect(**settings.connect)

    def identity(self, model_id: str, days: list[date]) -> dict[str, Any]:
        """What a reference read of these days depends on, without running it: the rendered SQL, the
        bound parameters of each day, database, table and workgroup (a cache key: UNLOAD writes new
        files on every run, so the result files cannot identify the reference)."""
        settings = self.settings(f"reading the {self.what} of {model_id} from Athena")
        table = quoted_table(settings.database, settings.table) if settings.table else None
        return {
            "sql": self.template.render("athena", table),
            "parameters": [{k: str(v) for k, v in query_parameters(model_id, d).items()} for d in days],
            "database": settings.database,
            "workgroup": settings.workgroup,
        }

    # reading -----------------------------------------------------------------------------------------
    def _query(self, model_id: str, day: date) -> tuple[str, dict[str, Any], _Settings, str]:
        """(SQL, parameters, settings, label) of one model-day."""
        params = query_parameters(model_id, day)
        label = f"{self.what} of {model_id} for {day}"
        settings = self.settings(f"reading the {label} from Athena")
        table = None
        if self.template.uses_table:
            if settings.table is None:
                raise ConfigError(
                    f"query template {self.config.query} reads {{{{table}}}} but no table is configured: "
                    "set table in the model's Athena source or extra.table in connection "
                    f"'{self.config.connection}'"
                )
            table = quoted_table(settings.database, settings.table)
        return self.template.render("athena", table), params, settings, label

    def _no_rows(self, label: str, qid: str, settings: _Settings) -> NoDataError:
        return NoDataError(
            f"{label}: Athena query {qid} returned no rows ({self.describe(settings)}); check that the "
            "day's partition exists and is registered (partition projection or MSCK REPAIR TABLE), "
            "then rerun this date"
        )

    def read_day(self, model_id: str, day: date) -> DayData:
        """All rows of one model and day; NoDataError if the query returns none, SourceError if it fails."""
        sql, params, settings, label = self._query(model_id, day)
        arrow, files, qid = self._run(sql, params, settings, label)
        if arrow.num_rows == 0:
            raise self._no_rows(label, qid, settings)
        frame = _to_frame(arrow, self.config.partition_columns)
        frame["_dt"] = day
        return DayData(frame, files)

    def unload_day(self, model_id: str, day: date) -> list[ObjectInfo]:
        """Run the day's UNLOAD query and return its Parquet result objects without reading them, for the
        caller to stream (:meth:`normalise` each batch); NoDataError if the query returned no rows."""
        if not self.config.unload:
            raise ConfigError(f"{self.what}: unload_day needs unload: true in the model's Athena source")
        sql, params, settings, label = self._query(model_id, day)
        files, qid = self._run(sql, params, settings, label, fetch=False)
        if not files or all(f.size == 0 for f in files):
            raise self._no_rows(label, qid, settings)
        return files

    def normalise(self, table):
        """An Arrow table or record batch of a result -> what a Parquet scoring log holds (see _to_frame)."""
        return _normalised(table, self.config.partition_columns)

    def read_days(self, model_id: str, days: list[date], *, skip_unreadable: bool = False) -> DayData:
        """Rows of several days, one query each (as PartitionedParquet.read_days: days without rows are
        reported in ``missing_days``; ``skip_unreadable`` skips a failing day and reports its reason)."""
        import pandas as pd

        read, missing, unreadable = read_each_day(
            lambda day: self.read_day(model_id, day), days, skip_unreadable=skip_unreadable
        )
        frames = [data.frame for _, data in read]
        files = [f for _, data in read for f in data.files]
        if not frames:
            raise NoDataError(
                f"no {self.what} rows at all for {model_id} on {days[0]}..{days[-1]} in Athena "
                f"({self.describe()}); the window must point at days that exist"
            )
        return DayData(pd.concat(frames, ignore_index=True), files, missing, unreadable)

    def read_files(self, files: list[dict]) -> pd.DataFrame:
        """Read again exactly the UNLOAD output a run recorded (fails if an object changed since), normalised
        as :meth:`read_day` (without ``_dt``)."""
        import pyarrow as pa

        from mrm.sources.parquet import PartitionedParquet

        if not files:
            raise NoDataError(f"no {self.what} files to read")
        if any(f["uri"].endswith(".csv") for f in files):
            raise SourceError(
                f"{self.what}: {files[0]['uri']} is an Athena CSV result, which cannot be "
                "read again with its types; use unload: true in the model's Athena source"
            )
        reader = PartitionedParquet(files[0]["uri"], what=self.what)
        current: dict[str, dict[str, ObjectInfo]] = {}
        tables = []
        for f in files:
            parent = f["uri"].rsplit("/", 1)[0] + "/"
            if parent not in current:
                current[parent] = {o.uri: o for o in reader.store.list(parent)}
            now = current[parent].get(f["uri"])
            if now is None or now.size != f["size"] or now.etag != f["etag"]:
                raise SourceError(
                    f"{self.what} file {f['uri']} changed or disappeared while the run was in progress; "
                    "rerun the date"
                )
            tables.append(reader._read_file(now))
        return _to_frame(
            pa.concat_tables(tables, promote_options="permissive"), self.config.partition_columns
        )

    def _run(self, sql: str, params: dict[str, Any], settings: _Settings, label: str, *, fetch: bool = True):
        """Run one query; return (Arrow table, result objects, query id), or without ``fetch`` (result
        objects, query id): the rows stay in S3."""
        from pyathena.arrow.cursor import ArrowCursor
        from pyathena.error import Error as AthenaError

        cfg = self.config
        conn = self._connect(settings)
        wait = QueryWait(
            label,
            poll_seconds=cfg.poll_seconds,
            timeout_seconds=cfg.timeout_seconds,
            cancel=lambda qid: conn.client.stop_query_execution(QueryExecutionId=qid),
        )
        cursor = None
        try:
            cursor = conn.cursor(ArrowCursor, unload=cfg.unload, poll_interval=0, on_poll=wait)
            cursor.execute(sql, self.template.values(params))
            arrow = cursor.as_arrow() if fetch else None
            files = self._result_objects(conn, cursor, label)
            log.info(
                "%s: Athena query %s: %s rows, %s bytes scanned, %s ms in the engine, %d result object(s)",
                label,
                cursor.query_id,
                arrow.num_rows if fetch else "(not fetched)",
                cursor.data_scanned_in_bytes,
                cursor.engine_execution_time_in_millis,
                len(files),
            )
            return (arrow, files, cursor.query_id) if fetch else (files, cursor.query_id)
        except AthenaError as exc:
            qid = getattr(cursor, "query_id", None) if cursor is not None else None
            started = f"query {qid}" if qid else "query (not started)"
            raise SourceError(
                f"{label}: Athena {started} could not run: {_one_line(str(exc)) or type(exc).__name__}; "
                f"check the connection '{cfg.connection}' (region, workgroup, s3_staging_dir), the table "
                f"{self.describe(settings)} and the IAM permissions, then rerun this date"
            ) from None
        finally:
            conn.close()

    def _result_objects(self, conn, cursor, label: str) -> list[ObjectInfo]:
        """The S3 objects the rows were read from, with size and ETag: the UNLOAD data files listed in the
        query's data manifest, or the CSV result file."""
        from botocore.exceptions import BotoCoreError, ClientError

        s3 = conn.session.client("s3", region_name=conn.region_name)
        qid = cursor.query_id

        def split(uri: str) -> tuple[str, str]:
            parsed = urlparse(uri)
            return parsed.netloc, parsed.path.lstrip("/")

        try:
            if not self.config.unload:
                bucket, key = split(cursor.output_location)
                head = s3.head_object(Bucket=bucket, Key=key)
                return [ObjectInfo(cursor.output_location, head["ContentLength"], head["ETag"].strip('"'))]
            manifest = cursor.data_manifest_location
            if not manifest:
                raise SourceError(
                    f"{label}: Athena query {qid} succeeded but reported no UNLOAD data manifest"
                )
            bucket, key = split(manifest)
            listed = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8").split()
            found: dict[str, ObjectInfo] = {}
            for parent in sorted({u.rsplit("/", 1)[0] + "/" for u in listed}):
                bucket, prefix = split(parent)
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                    for o in page.get("Contents", []):
                        uri = f"s3://{bucket}/{o['Key']}"
                        found[uri] = ObjectInfo(uri, o["Size"], o["ETag"].strip('"'))
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(
                f"{label}: cannot list the result objects of Athena query {qid}: {_one_line(str(exc))}; "
                "check s3:GetObject/s3:ListBucket on the connection's s3_staging_dir"
            ) from None
        gone = [u for u in listed if u not in found]
        if gone:
            raise SourceError(
                f"{label}: UNLOAD output {gone[0]} of Athena query {qid} is missing; rerun this date"
            )
        return [found[u] for u in sorted(listed)]


def _to_frame(table: pa.Table, partition_columns: list[str]) -> pd.DataFrame:
    """Arrow result -> the frame a Parquet scoring log gives (:func:`_normalised`)."""
    return _normalised(table, partition_columns).to_pandas()


def _normalised(table, partition_columns: list[str]):
    """An Arrow table or record batch of a result with partition columns dropped, timestamps in UTC
    (Athena's ``timestamp`` has no zone) and decimals as float64."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = [i for i, name in enumerate(table.schema.names) if name not in partition_columns]
    columns, fields = [], []
    for i in keep:
        field, column = table.schema.field(i), table.column(i)
        if pa.types.is_timestamp(field.type):
            if field.type.tz is None:
                column = pc.assume_timezone(column, "UTC")
            column = column.cast(pa.timestamp(field.type.unit, "UTC"))
        elif pa.types.is_decimal(field.type):
            column = column.cast(pa.float64())
        columns.append(column)
        fields.append(pa.field(field.name, column.type))
    make = pa.RecordBatch if isinstance(table, pa.RecordBatch) else pa.Table
    return make.from_arrays(columns, schema=pa.schema(fields))
