"""Benchmark: one monitoring run (read, GX quality, Evidently drift, performance, record, tickets) of the
card_fraud example at N rows per day, against a 14-day reference of the same daily size.

    .venv/bin/python bench/bench_run.py [--rows 10000 100000 ...]

Each size runs in a fresh process (so peak RSS is that run's); prints a table and merges the figures into
bench/results.json under "run" (other keys are kept). The reference is 14 days of the daily size, so the
first run at a size also builds the reference profile; bench_scale.py measures the cached case at scale.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_file import write_section

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def one(rows: int) -> dict:
    """Run inside a fresh process: generate data, time every pipeline step, report peak RSS."""
    work = Path(tempfile.mkdtemp(prefix="mrm_bench_"))
    inv = work / "inventory"
    inv.mkdir()
    src = (REPO / "include" / "inventory" / "card_fraud.yaml").read_text()
    # label maturity 7 days, so that day 1's matured cohort lies in the generated reference days
    src = src.replace("label_maturity_days: 21", "label_maturity_days: 7")
    (inv / "card_fraud.yaml").write_text(src.replace("s3://mrm-demo", (work / "data").as_uri()))
    shutil.copy(REPO / "include" / "inventory" / "_policy.yaml", inv / "_policy.yaml")
    os.environ.update(MRM_HOME=str(work / "home"), MRM_INVENTORY=str(inv))

    from mrm.demo import data

    t0 = time.perf_counter()
    data.write_demo_data((work / "data").as_uri(), models=("card_fraud",), days=1, rows=rows)
    generate = time.perf_counter() - t0

    t0 = time.perf_counter()
    import evidently  # noqa: F401  (imports are timed apart from the run: a worker pays them once)
    import great_expectations  # noqa: F401

    imports = time.perf_counter() - t0
    from mrm import inputs, pipeline

    day = data.day(1)
    timings = {}
    t = time.perf_counter()
    ctx = pipeline.start("card_fraud", day, "bench")
    timings["read_scoring_log"] = time.perf_counter() - t
    t = time.perf_counter()
    q = pipeline.quality(ctx)
    timings["data_quality"] = time.perf_counter() - t
    t = time.perf_counter()
    d = pipeline.drift(ctx)
    timings["drift"] = time.perf_counter() - t
    t = time.perf_counter()
    perf = pipeline.performance(ctx)
    timings["performance"] = time.perf_counter() - t
    t = time.perf_counter()
    summary = pipeline.record(ctx, q, d, perf)
    timings["record_results"] = time.perf_counter() - t
    t = time.perf_counter()
    pipeline.tickets(ctx)
    timings["open_tickets"] = time.perf_counter() - t
    total = sum(timings.values())
    ref_rows = inputs.reference(pipeline.get_inventory().get("card_fraud"))[1]["rows"]
    return {
        "rows_per_day": ctx.row_count,
        "reference_rows": ref_rows,
        "columns": 10,
        "wall_seconds": round(total, 3),
        "steps_seconds": {k: round(v, 3) for k, v in timings.items()},
        "rows_per_second": round(ctx.row_count / total),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "data_generation_seconds": round(generate, 2),
        "import_seconds": round(imports, 2),
        "overall_status": summary["overall_status"],
    }


def dag_parse_seconds() -> float:
    """Time to parse dags/ (all monitoring DAGs) in a fresh process, Airflow already imported."""
    code = (
        "import time, sys; import airflow.sdk; from airflow.dag_processing.dagbag import DagBag;"
        "t=time.perf_counter(); b=DagBag(dag_folder=sys.argv[1]);"
        "assert not b.import_errors, b.import_errors;"
        "print(time.perf_counter()-t)"
    )
    env = {**os.environ, "AIRFLOW_HOME": tempfile.mkdtemp(prefix="mrm_bench_af_"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "dags")], env=env, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return 0
    results = []
    for rows in args.rows:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(rows)], capture_output=True, text=True, check=True
        )
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = results[-1]
        steps = "  ".join(f"{k}={v:.2f}s" for k, v in r["steps_seconds"].items())
        print(
            f"{r['rows_per_day']:>9,} rows/day (reference {r['reference_rows']:,}): "
            f"{r['wall_seconds']:.2f} s, "
            f"{r['rows_per_second']:,} rows/s, peak RSS {r['peak_rss_mb']} MB | {steps}"
        )
    parse = dag_parse_seconds()
    print(f"parsing dags/ (3 monitoring DAGs): {parse:.3f} s")
    figures = {
        "benchmark": "one monitoring run of card_fraud with its 14-day reference "
        "(pipeline.start/quality/drift/performance/record/tickets)",
        "results": results,
        "dag_parse_seconds": round(parse, 3),
    }
    legacy = ("benchmark", "measured_at", "machine", "results", "dag_parse_seconds")  # once at the top level
    write_section("run", figures, args.out, drop=legacy)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
