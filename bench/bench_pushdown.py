"""Benchmark: what the Athena pushdown (``scoring_log.athena.aggregate: pushdown``) returns per model-day, on
days of 100k, 1M and 5M rows of the bench_scale.py shape (36 columns: f00-f29 numeric, c0-c4 categorical,
the score; plus event_id, event_ts, decision), against a reference profile of a day of the same size.

    .venv/bin/python bench/bench_pushdown.py [--rows 100000 1000000 5000000] [--out bench/results.json]

The queries are rendered for Athena (the edges as base64 literals, split as Athena's 262,144-byte limit
requires) and run on DuckDB over the day's Parquet file (the tests' stand-in for Athena, through
``mrm.sources.athena.pushdown.to_duckdb``). Each result is written as the files Athena would return:
Parquet as UNLOAD writes it (snappy: pyathena's UNLOAD today; zstd: ``WITH (compression = 'ZSTD')``) and
the CSV result (every value quoted), with pyarrow's writers, so the figures are close to, not exactly,
Athena's (Trino's Parquet writer encodes differently). Bytes scanned are not known on DuckDB (the run
records Athena's in its ``query`` section). "sample at N rows" is the sample as it was before the
pushdown chose its own size: the configured MRM_SAMPLE_ROWS rows.

Each size runs in a fresh process; prints a table and writes the section "pushdown" of ``--out``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from results_file import write_section

HERE = Path(__file__).resolve().parent
FORMATS = ("snappy", "zstd", "csv")


def result_bytes(table) -> dict[str, int]:
    """The result as the files Athena returns: UNLOAD Parquet (snappy, zstd) and the CSV result."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    out = {}
    for codec in ("snappy", "zstd"):
        buf = io.BytesIO()
        pq.write_table(table, buf, compression=codec)
        out[codec] = len(buf.getvalue())
    buf = io.BytesIO()
    pcsv.write_csv(table, buf, pcsv.WriteOptions(quoting_style="all_valid"))
    out["csv"] = len(buf.getvalue())
    return out


def measure(rows: int, work: Path, sample_rows: int) -> dict:
    import bench_scale as bs
    import duckdb

    from mrm.checks.engine.counted import aggregate_counted, plan_for
    from mrm.checks.engine.day_aggregate import DayAggregator
    from mrm.checks.engine.profiling import profile_from_files
    from mrm.core.storage import ObjectInfo
    from mrm.inventory import ModelEntry
    from mrm.sources.athena.pushdown import PushdownDay, duckdb_dialect, load_pushdown_template, to_duckdb
    from mrm.sources.athena.source import _normalised
    from mrm.sources.athena.template import load_template, query_parameters

    t = time.perf_counter()
    bs.generate(work / "data", rows, 1, False, bs.REFERENCE_DAY)
    bs.generate(work / "data", rows, 2, True, bs.DAY)
    generate = time.perf_counter() - t
    entry = ModelEntry.model_validate(bs.inventory_entry((work / "data").as_uri(), True))
    ref = work / "data" / f"dt={bs.REFERENCE_DAY}" / "part-0.parquet"
    profile = profile_from_files(
        entry, {bs.REFERENCE_DAY: [ObjectInfo(ref.as_uri(), ref.stat().st_size, "")]}
    )

    con = duckdb.connect()
    duckdb_dialect(con)
    con.execute("CREATE SCHEMA mrm")
    pattern = (work / "data" / "dt=*" / "*.parquet").as_posix()
    con.execute(
        f"CREATE VIEW mrm.scoring_log AS SELECT *, 'scale_bench' AS model_id FROM read_parquet('{pattern}', "
        "hive_partitioning = true, hive_types_autocast = false)"
    )
    queries: dict[str, dict] = {}

    def execute(sql: str, values: dict, which: str):
        duck = to_duckdb(re.sub(r"%\((\w+)\)s", r"$\1", sql).replace("%%", "%"))
        started = time.perf_counter()
        bound = {k: values[k] for k in dict.fromkeys(re.findall(r"%\((\w+)\)s", sql))}
        table = con.sql(duck, params=bound).to_arrow_table()
        seconds = time.perf_counter() - started
        sizes = result_bytes(table)
        queries[which] = {"seconds": round(seconds, 3), "query_bytes": len(sql.encode()), **sizes}
        return table, {"bytes_scanned": None, "bytes_returned": sizes["snappy"]}

    day_sql = load_template("scoring_log.sql").render("athena", '"mrm"."scoring_log"')
    pushdown = PushdownDay(
        "athena", day_sql, query_parameters("scale_bench", bs.DAY), execute, lambda t: _normalised(t, ["dt"])
    )
    t = time.perf_counter()
    agg = aggregate_counted(pushdown, entry, profile, bs.DAY, sample_rows=sample_rows, seed=0, where="bench",
                            empty="no rows")  # fmt: skip
    seconds = time.perf_counter() - t

    # the sample as it was before the pushdown chose its size: the configured rows, the same query
    plan = replace(plan_for(DayAggregator(entry, profile, bs.DAY, sample_rows, 0), sample_rows, 0),
                   sample_rows=sample_rows)  # fmt: skip
    _, old_sql = load_pushdown_template().render(plan, day_sql, "athena")
    execute(old_sql, {**pushdown.values, "seed": "0"}, "configured_sample")
    counts = {f: sum(q[f] for k, q in queries.items() if k.startswith("counts")) for f in FORMATS}
    configured = queries.pop("configured_sample")
    sample = {f: queries["sample"][f] for f in FORMATS}
    return {
        "rows": rows,
        "columns": 36,
        "generate_seconds": round(generate, 1),
        "counts_queries": sum(1 for k in queries if k.startswith("counts")),
        "counts_rows": sum(v["rows_returned"] for k, v in pushdown.queries.items() if k.startswith("counts")),
        "counts_bytes": counts,
        "sample_rows": agg.info["sample"]["rows"],
        "sample_budget": agg.info["sample"].get("budget"),
        "sample_bytes": sample,
        "total_bytes": {f: counts[f] + sample[f] for f in FORMATS},
        "configured_sample_rows": sample_rows,
        "configured_sample_bytes": {f: configured[f] for f in FORMATS},
        "duckdb_seconds": {k: q["seconds"] for k, q in queries.items()},
        "duckdb_query_seconds": round(sum(q["seconds"] for q in queries.values()), 2),
        "aggregate_seconds": round(seconds, 2),
        "bytes_scanned": pushdown.info()["bytes_scanned"],
        "recorded_bytes_returned": pushdown.info()["bytes_returned"],
    }


def child(rows: int, sample_rows: int) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"mrm_pushdown_{rows}_"))
    try:
        print(json.dumps(measure(rows, work, sample_rows), default=str))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_child(rows: int, sample_rows: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(rows), "--sample-rows", str(sample_rows)],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    if proc.returncode != 0:
        return {"rows": rows, "failed": True, "stderr": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def kb(n: int) -> str:
    return f"{n / 1000:,.0f} kB"


def table(results: list[dict]) -> str:
    head = (
        f"{'rows/day':>10} | {'counts (snappy/zstd/csv)':>28} | {'sample rows':>11} | "
        f"{'sample (snappy/zstd/csv)':>28} | {'total snappy':>12} | {'total zstd':>10} | "
        f"{'sample at configured rows (snappy)':>34} | {'DuckDB s':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        if r.get("failed"):
            lines.append(f"{r['rows']:>10,} | FAILED: {r['stderr'][-300:]}")
            continue
        c, s, t = r["counts_bytes"], r["sample_bytes"], r["total_bytes"]
        old = f"{kb(r['configured_sample_bytes']['snappy'])} at {r['configured_sample_rows']:,}"
        lines.append(
            f"{r['rows']:>10,} | {'/'.join(kb(c[f]) for f in FORMATS):>28} | {r['sample_rows']:>11,} | "
            f"{'/'.join(kb(s[f]) for f in FORMATS):>28} | {kb(t['snappy']):>12} | {kb(t['zstd']):>10} | "
            f"{old:>34}"
            f" | {r['duckdb_query_seconds']:>8.1f}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--sample-rows", type=int, default=50_000, help="the configured MRM_SAMPLE_ROWS")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.sample_rows)
        return 0
    results = []
    for rows in sorted(args.rows):
        before = load()
        r = run_child(rows, args.sample_rows)
        r["load_average"] = f"{before} -> {load()}"
        results.append(r)
        print(table(results).splitlines()[-1] if len(results) > 1 else table(results), flush=True)
    print()
    print(table(results))
    figures = {
        "benchmark": "bytes the Athena pushdown returns per model-day (counts + sample), its queries run on "
        "DuckDB over the day's Parquet; result files written as UNLOAD (snappy, zstd) and CSV would "
        "(bench/bench_pushdown.py)",
        "target_bytes": 1_000_000,
        "results": results,
    }
    write_section("pushdown", figures, args.out)
    print(f"written to {args.out} (key 'pushdown')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
