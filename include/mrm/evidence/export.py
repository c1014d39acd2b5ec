"""``mrm export``: the metrics history for a period, for auditors, as CSV, JSON or Parquet.

Every metric row of every run in the period (superseded runs included, flagged), with its run's
status, trigger and inventory hash. A ``--to`` URI ending in ``/`` (``s3://bucket/prefix/`` or a local
folder) gets a Parquet dataset partitioned by ``dt`` plus the Athena ``CREATE EXTERNAL TABLE`` for it.
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

from mrm.core.csvsafe import write_rows
from mrm.core.storage import join, store_for
from mrm.errors import MrmError
from mrm.store import HistoryStore

COLUMNS = [
    "model_id", "logical_date", "run_id", "run_kind", "run_status", "current", "triggered_by",
    "inventory_hash", "check", "metric", "column", "segment", "cohort_start", "cohort_end", "value",
    "amber_threshold", "red_threshold", "status", "detail",
]  # fmt: skip
ATHENA_TYPES = {
    "value": "double",
    "amber_threshold": "double",
    "red_threshold": "double",
    "current": "boolean",
}


def rows(store: HistoryStore, since: date | None, until: date | None) -> list[dict[str, Any]]:
    runs = {r["run_id"]: r for r in store.runs(since=since, until=until, kind=None)}
    current = {m["run_id"] for m in store.metrics(since=since, until=until)}
    out = []
    for m in store.metrics(since=since, until=until, all_runs=True):
        run = runs[m["run_id"]]
        out.append({
            **{k: m[k] for k in COLUMNS if k in m and k != "detail"},
            "logical_date": m["logical_date"].isoformat(),
            "cohort_start": m["cohort_start"].isoformat() if m["cohort_start"] else None,
            "cohort_end": m["cohort_end"].isoformat() if m["cohort_end"] else None,
            "run_kind": run["kind"], "run_status": run["status"], "current": m["run_id"] in current,
            "triggered_by": run["triggered_by"], "inventory_hash": run["inventory_hash"],
            "detail": json.dumps(m["detail"], sort_keys=True, default=str),
        })  # fmt: skip
    return [{c: r.get(c) for c in COLUMNS} for r in out]


def _table(data: list[dict[str, Any]]):
    import pyarrow as pa

    types = {
        c: pa.float64() if c in ("value", "amber_threshold", "red_threshold") else pa.string()
        for c in COLUMNS
    }
    types["current"] = pa.bool_()
    return pa.table({c: pa.array([r[c] for r in data], type=types[c]) for c in COLUMNS})


def encode(data: list[dict[str, Any]], fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(data, indent=1).encode()
    if fmt == "csv":  # text that a spreadsheet would run as a formula is quoted (mrm.core.csvsafe)
        return write_rows(data, COLUMNS).encode()
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(_table(data), buf)
    return buf.getvalue()


def athena_ddl(location: str, table: str = "mrm_metrics_export") -> str:
    cols = (
        ",\n".join(f"  `{c}` {ATHENA_TYPES.get(c, 'string')}" for c in COLUMNS if c != "logical_date")
        + ",\n  `logical_date` string"
    )
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {table} (\n{cols}\n)\nPARTITIONED BY (`dt` string)\n"
        f"STORED AS PARQUET\nLOCATION '{location.rstrip('/')}/'\n"
        "TBLPROPERTIES ('parquet.compression'='SNAPPY');\n"
        f"MSCK REPAIR TABLE {table};\n"
    )


def export(store: HistoryStore, to: str, since: date | None, until: date | None, fmt: str | None) -> str:
    """Write the period's rows to ``to``; returns a one-line description of what was written."""
    data = rows(store, since, until)
    if to.endswith("/"):  # a dataset: Parquet partitioned by dt, and its Athena table
        by_day: dict[str, list[dict[str, Any]]] = {}
        for r in data:
            by_day.setdefault(r["logical_date"], []).append(r)
        target = store_for(to)
        for day, part in sorted(by_day.items()):
            target.put(join(to, f"dt={day}", "part-0000.parquet"), encode(part, "parquet"), overwrite=True)
        target.put(join(to, "athena_table.sql"), athena_ddl(to).encode(), overwrite=True)
        return f"{len(data)} rows in {len(by_day)} dt= partitions under {to} (+ athena_table.sql)"
    fmt = fmt or to.rsplit(".", 1)[-1].lower()
    if fmt not in ("csv", "json", "parquet"):
        raise MrmError(
            f"cannot tell the format of {to!r}: use --format csv|json|parquet or a .csv/.json/.parquet name"
        )
    store_for(to).put(to, encode(data, fmt), overwrite=True)
    return f"{len(data)} rows to {to} ({fmt})"
