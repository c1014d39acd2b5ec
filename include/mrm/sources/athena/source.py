"""A model's scoring log from Amazon Athena: its query template run once per day with the model id and the
date bound as parameters, the result read as Arrow (UNLOAD to Parquet by default, or the CSV result) and
normalised to what a Parquet scoring log holds. A run's day is streamed from the result objects in S3,
never held whole. How it works, the connection and IAM: docs/sources.md."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from mrm.core.storage import ObjectInfo
from mrm.errors import ConfigError, NoDataError
from mrm.inventory.sources import AthenaSourceConfig
from mrm.sources.athena.client import AthenaHook, ConnectionSettings
from mrm.sources.athena.csv_result import CsvResult, stream_result
from mrm.sources.athena.pushdown import PushdownDay
from mrm.sources.athena.template import load_template, query_parameters, quoted_table
from mrm.sources.base import DayData, DayInput, concat_days, read_each_day

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from mrm.inventory import ModelEntry


class AthenaSource:
    """One model's scoring log, a day per query. ``entry``: the inventory entry it was built for
    (:meth:`from_entry`), whose contract :meth:`day_input` checks a CSV result against."""

    def __init__(
        self,
        config: AthenaSourceConfig | dict,
        *,
        model_id: str,
        what: str = "scoring log",
        entry: ModelEntry | None = None,
    ):
        self.config = config if isinstance(config, AthenaSourceConfig) else AthenaSourceConfig(**config)
        self.template = load_template(self.config.query)
        self.hook = AthenaHook(self.config)
        self.model_id = model_id
        self.what = what
        self.entry = entry

    @classmethod
    def from_entry(cls, entry: ModelEntry, what: str) -> AthenaSource:
        return cls(entry.monitoring.scoring_log.athena, model_id=entry.model_id, what=what, entry=entry)

    @property
    def cache_key(self) -> str:
        return '{"athena":' + self.config.model_dump_json() + "}"

    def describe(self, day: date) -> str:
        return f"{self.what} {self.hook.table()} for {day}"

    def identity(self, days: list[date]) -> dict[str, Any]:
        """The rendered SQL, the bound parameters of each day, database, table and workgroup (UNLOAD
        writes new files on every run, so the result files cannot identify the data)."""
        settings = self.hook.settings(f"reading the {self.what} of {self.model_id} from Athena")
        table = quoted_table(settings.database, settings.table) if settings.table else None
        parameters = [{k: str(v) for k, v in query_parameters(self.model_id, d).items()} for d in days]
        return {
            "athena": {
                "sql": self.template.render("athena", table),
                "parameters": parameters,
                "database": settings.database,
                "workgroup": settings.workgroup,
            }
        }

    def reference_files(self, days: list[date]) -> None:
        """None: every query writes new result files; a reference window is read whole, once."""
        return None

    def day_input(self, day: date) -> DayInput:
        """The day's query run, its rows left in S3 for the run to stream: with UNLOAD its Parquet result
        objects, else its CSV result object, parsed as it is read (:meth:`csv_batches`)."""
        where = self.describe(day)
        if self.config.aggregate == "pushdown":
            empty = f"{where}: the day holds no rows; check that its partition exists, then rerun this date"
            return DayInput(self.entry, day, where, [], empty=empty, pushdown=self.pushdown_day(day))
        return self.rows_input(day)

    def rows_input(self, day: date) -> DayInput:
        """The day's rows left in S3 to stream, whatever ``aggregate`` says: what a reference window is
        spooled from (:mod:`mrm.checks.reference_spool`), a pushdown model's too."""
        where = self.describe(day)
        if not self.config.unload:
            result = self.csv_day(day)
            return DayInput(self.entry, day, where, result.files, batches=lambda: self.csv_batches(result))
        empty = f"{where}: the UNLOAD result holds no rows; rerun this date"
        files = self.unload_day(day)  # INT96 timestamps: microseconds, as pyathena reads them in read_day
        return DayInput(self.entry, day, where, files, normalise=self.normalise, empty=empty, int96_unit="us")

    # reading -----------------------------------------------------------------------------------------
    def _query(self, day: date) -> tuple[str, dict[str, Any], ConnectionSettings, str]:
        """(SQL, parameters, settings, label) of the model's day."""
        params = query_parameters(self.model_id, day)
        label = f"{self.what} of {self.model_id} for {day}"
        settings = self.hook.settings(f"reading the {label} from Athena")
        table = None
        if self.template.uses_table:
            if settings.table is None:
                raise ConfigError(
                    f"query template {self.config.query} reads {{{{table}}}} but no table is configured: "
                    "set table in the model's Athena source or extra.table in connection "
                    f"'{self.config.connection}'"
                )
            table = quoted_table(settings.database, settings.table)
        return self.template.render("athena", table), self.template.values(params), settings, label

    def pushdown_day(self, day: date) -> PushdownDay:
        """The day for Athena to count (``aggregate: pushdown``): its queries wrap the model's own."""
        sql, values, settings, label = self._query(day)

        def execute(text: str, bound: dict[str, Any], which: str):
            arrow, _, _ = self.hook.run(text, bound, settings, f"{label} ({which} pushdown)")
            return arrow, dict(self.hook.statistics)

        values = {**values, **query_parameters(self.model_id, day)}
        return PushdownDay("athena", sql, values, execute, self.normalise)

    def _no_rows(self, label: str, qid: str, settings: ConnectionSettings) -> NoDataError:
        return NoDataError(_no_rows_message(label, qid, self.hook.table(settings)))

    def read_day(self, day: date) -> DayData:
        """All rows of the day; NoDataError if the query returns none, SourceError if it fails."""
        if not self.config.unload:
            import pyarrow as pa

            result = self.csv_day(day)
            frame = pa.Table.from_batches(list(self.csv_batches(result))).to_pandas()
            frame["_dt"] = day
            return DayData(frame, result.files)
        sql, values, settings, label = self._query(day)
        arrow, files, qid = self.hook.run(sql, values, settings, label)
        if arrow.num_rows == 0:
            raise self._no_rows(label, qid, settings)
        frame = _to_frame(arrow, self.config.partition_columns)
        frame["_dt"] = day
        return DayData(frame, files)

    def unload_day(self, day: date) -> list[ObjectInfo]:
        """Run the day's UNLOAD query and return its Parquet result objects without reading them, for the
        caller to stream (:meth:`normalise` each batch); NoDataError if the query returned no rows."""
        if not self.config.unload:
            raise ConfigError(f"{self.what}: unload_day needs unload: true in the model's Athena source")
        sql, values, settings, label = self._query(day)
        files, qid, _ = self.hook.run(sql, values, settings, label, fetch=False)
        if not files or all(f.size == 0 for f in files):
            raise self._no_rows(label, qid, settings)
        return files

    def csv_day(self, day: date) -> CsvResult:
        """Run the day's query without UNLOAD and return its CSV result object and column types without
        reading a row, for :meth:`csv_batches` to stream."""
        sql, values, settings, label = self._query(day)
        files, qid, description = self.hook.run(sql, values, settings, label, fetch=False)
        table, s3 = self.hook.table(settings), lambda: self.hook.s3_client(settings)
        return CsvResult(files, qid, description or [], label, table, s3)

    def csv_batches(self, result: CsvResult) -> Iterator[pa.RecordBatch]:
        """The CSV result's rows in record batches of bounded size (:mod:`mrm.sources.athena.csv_result`),
        normalised as an UNLOAD result's; NoDataError once the result turns out to hold no rows."""
        rows = 0
        for batch in stream_result(result):
            rows += batch.num_rows
            yield self.normalise(batch)
        if not rows:
            raise NoDataError(_no_rows_message(result.label, result.query_id, result.table))

    def normalise(self, table):
        """An Arrow table or record batch of a result -> what a Parquet scoring log holds (see _to_frame)."""
        return _normalised(table, self.config.partition_columns)

    def read_days(
        self, days: list[date], *, skip_unreadable: bool = False, columns: Sequence[str] | None = None
    ) -> DayData:
        """Rows of several days, one query each (days without rows are reported in ``missing_days``;
        ``skip_unreadable`` skips a failing day and reports its reason; ``columns``: only these)."""
        read, missing, unreadable = read_each_day(self.read_day, days, skip_unreadable=skip_unreadable)
        nothing = (
            f"no {self.what} rows at all for {self.model_id} on {days[0]}..{days[-1]} in Athena "
            f"({self.hook.table()}); the window must point at days that exist"
        )
        return concat_days(read, missing, unreadable, nothing).only(columns)


def _no_rows_message(label: str, qid: str, table: str) -> str:
    return (
        f"{label}: Athena query {qid} returned no rows ({table}); check that the day's partition exists "
        "and is registered (partition projection or MSCK REPAIR TABLE), then rerun this date"
    )


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
