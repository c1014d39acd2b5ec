"""Benchmark at scale: a monitoring run (aggregate-first) against the naive stack, on days of 1M and 5M rows
(20M with --big) of 36 columns (f00-f29 numeric, c0-c4 categorical with 4/12/50/200/1000 values, the
score; plus event_id, event_ts, decision) against a reference of the same size.

    .venv/bin/python bench/bench_scale.py [--rows 1000000 5000000] [--big] [--no-naive]

Every measurement runs in a fresh process (its peak RSS is that process's VmHWM):

- floor: read the day's Parquet to Arrow and one np.histogram pass over each numeric column;
- profile: the reference profile computed from the reference files and cached (once per reference);
- run: one monitoring run through ``mrm.pipeline`` (the functions the DAG's tasks call), with the profile
  cached: start streams the day into its aggregate (DQ and drift counts, reservoir sample), quality and
  drift compute every metric from it and write the GX result and the Evidently HTML report drawn from the
  sample, record writes the run to a SQLite history, tickets files the RED controls;
- naive: the whole day and reference as pandas frames through GX (the model's suite) and Evidently
  ``DataDriftPreset()`` with its HTML; skipped (and estimated) where the smallest size's peak RSS, scaled
  by rows, exceeds 40% of this machine's memory. The floor is skipped and estimated the same way.

Prints a table and merges the figures into bench/results.json under "scale" (other keys are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from results_file import write_section

HERE = Path(__file__).resolve().parent
DAY = date(2026, 9, 1)
REFERENCE_DAY = date(2026, 8, 31)
CATEGORIES = (4, 12, 50, 200, 1000)
CHUNK = 1_000_000  # rows generated and written per row group


# -- data -------------------------------------------------------------------------------------------------
def _chunk(rows: int, start: int, rng, shifted: bool, day: date):
    """One row group: numeric shapes cycle normal / lognormal / discrete / zero-inflated / uniform /
    Student-t(3); the current day shifts f00, f01, f06, c1 and the score."""
    import numpy as np
    import pyarrow as pa

    cols: dict[str, object] = {}
    ids = np.char.add("evt-", np.char.zfill((np.arange(rows) + start).astype(str), 12))
    cols["event_id"] = pa.array(ids)
    base = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 10**9
    cols["event_ts"] = pa.array(base + rng.integers(0, 86_400 * 10**9, rows), pa.timestamp("ns", tz="UTC"))
    for i in range(30):
        shift = 0.3 if shifted and i in (0, 1, 6) else 0.0
        kind = i % 6
        if kind == 0:
            x = rng.normal(shift, 1.0, rows)
        elif kind == 1:
            x = np.exp(rng.normal(shift, 1.0, rows)) * 50
        elif kind == 2:
            x = np.round(rng.normal(shift, 1.0, rows) * 3)
        elif kind == 3:
            x = np.where(rng.random(rows) < 0.6, 0.0, np.exp(rng.normal(3 + shift, 1.0, rows)))
        elif kind == 4:
            x = rng.uniform(0, 100, rows)
        else:
            x = rng.standard_t(3, rows) + shift
        if i % 5 == 4:
            x[rng.random(rows) < 0.01] = np.nan
        cols[f"f{i:02d}"] = pa.array(x, from_pandas=True)
    for j, k in enumerate(CATEGORIES):
        weights = 1.0 / np.arange(1, k + 1) ** (0.8 if shifted and j == 1 else 1.0)
        values = np.array([f"c{j}_{m:04d}" for m in range(k)])
        cols[f"c{j}"] = pa.array(values[rng.choice(k, rows, p=weights / weights.sum())]).dictionary_encode()
    score = rng.beta(2.0, 5.0 - (0.5 if shifted else 0.0), rows)
    cols["score"] = pa.array(score)
    decision = np.where(score >= 0.7, "decline", np.where(score >= 0.3, "review", "approve"))
    cols["decision"] = pa.array(decision).dictionary_encode()
    return pa.table(cols)


def generate(folder: Path, rows: int, seed: int, shifted: bool, day: date) -> Path:
    import numpy as np
    import pyarrow.parquet as pq

    path = folder / f"dt={day.isoformat()}" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, CHUNK):
        table = _chunk(min(CHUNK, rows - start), start, rng, shifted, day)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=256 * 1024)
    writer.close()
    return path


def inventory_entry(data_uri: str, methods: bool) -> dict:
    numeric_methods = {"drift_methods": ["ks", "wasserstein"]} if methods else {}
    numeric = [{"name": f"f{i:02d}", "type": "numeric", **numeric_methods} for i in range(30)]
    for f in numeric[4::6]:
        f.update(min=0, max=95)  # the uniform(0, 100) columns: 5% out of range
    categorical = [
        {"name": f"c{j}", "type": "categorical", "categories": [f"c{j}_{m:04d}" for m in range(k - 1)],
         **({"drift_methods": ["chisquare", "jensenshannon"]} if methods else {})}
        for j, k in enumerate(CATEGORIES)
    ]  # fmt: skip
    return {
        "model_id": "scale_bench",
        "name": "Scale benchmark model",
        "version": "1.0.0",
        "purpose": "A synthetic payments model for the scale benchmark.",
        "business_line": "Benchmark",
        "model_type": "gradient-boosted trees",
        "owner": "bench-owner@example.com",
        "developer": "bench-dev@example.com",
        "validator": "bench-validator@example.com",
        "risk_tier": 2,
        "tier_rationale": "Synthetic benchmark model; no customers affected.",
        "status": "approved",
        "approval": {"approver": "bench-approver@example.com", "date": "2026-07-01"},
        "monitoring": {
            "start_date": DAY.isoformat(),
            "scoring_log": data_uri,
            "reference": {"start": REFERENCE_DAY.isoformat(), "end": REFERENCE_DAY.isoformat()},
            "features": numeric + categorical,
        },
    }


# -- measurements (each in its own process) ---------------------------------------------------------------
def _entry(work: Path):
    from mrm.inventory import ModelEntry

    return ModelEntry.model_validate(json.loads((work / "entry.json").read_text()))


def _peak_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure_floor(work: Path) -> dict:
    import numpy as np
    import pyarrow.parquet as pq

    t = time.perf_counter()
    table = pq.read_table(_day_file(work, DAY))
    for name in table.schema.names:
        if name.startswith("f") or name == "score":
            values = table.column(name).to_numpy()
            np.histogram(values[~np.isnan(values)], bins=10)
    return {"wall_seconds": time.perf_counter() - t}


def _day_file(work: Path, day: date) -> Path:
    return work / "data" / f"dt={day.isoformat()}" / "part-0.parquet"


def measure_profile(work: Path, sample_rows: int) -> dict:
    """The reference profile built from the reference files and cached, as the pipeline's first run of
    the model does (same inventory entry, so the run below finds it in the cache)."""
    _pipeline_environment(work, sample_rows)
    from mrm import pipeline
    from mrm.checks.reference import reference_profile
    from mrm.settings import profile_cache_uri

    entry = pipeline.get_inventory().get("scale_bench")
    t = time.perf_counter()
    profile, cached = reference_profile(entry, profile_cache_uri())
    spaces = [p.sketch.space for p in profile.numeric.values() if p.sketch is not None]
    return {"wall_seconds": time.perf_counter() - t, "cached": cached,
            "sketch_spaces": {s: spaces.count(s) for s in sorted(set(spaces))}}  # fmt: skip


def _inventory(work: Path) -> Path:
    """An inventory folder with the benchmark model and the example policy (without its notification
    routing: no peers here; tickets stay in the built-in tracker)."""
    import yaml

    folder = work / "inventory"
    folder.mkdir(exist_ok=True)
    (folder / "scale_bench.yaml").write_text(yaml.safe_dump(json.loads((work / "entry.json").read_text())))
    policy = yaml.safe_load((HERE.parent / "include" / "inventory" / "_policy.yaml").read_text())
    policy.pop("notifications", None)
    (folder / "_policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    return folder


def _pipeline_environment(work: Path, sample_rows: int) -> None:
    os.environ.update(
        MRM_HOME=str(work / "home"),
        MRM_INVENTORY=str(_inventory(work)),
        MRM_PROFILE_CACHE=(work / "profiles").as_uri(),
        MRM_SAMPLE_ROWS=str(sample_rows),
    )


def measure_run(work: Path, sample_rows: int) -> dict:
    """One monitoring run through mrm.pipeline, the functions the DAG's tasks call: start (find the day,
    stream it into the aggregate against the cached profile), quality, drift, performance, record (SQLite
    history), tickets; evidence written as files. Evidently and GX are imported first and timed apart (a
    worker pays them once); end_to_end_seconds includes them."""
    _pipeline_environment(work, sample_rows)
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    import evidently  # noqa: F401
    import great_expectations  # noqa: F401

    from mrm import pipeline

    imports = time.perf_counter() - t0
    profiles_before = len(list((work / "profiles").rglob("profile.json")))
    t = time.perf_counter()
    ctx = pipeline.start("scale_bench", DAY, "bench")
    steps["start_read_and_aggregate"] = time.perf_counter() - t
    evidence = []
    for name, step in (("quality", pipeline.quality), ("drift", pipeline.drift),
                       ("performance", pipeline.performance)):  # fmt: skip
        t = time.perf_counter()
        evidence.append(step(ctx))
        steps[name] = time.perf_counter() - t
    t = time.perf_counter()
    summary = pipeline.record(ctx, *evidence)
    steps["record"] = time.perf_counter() - t
    t = time.perf_counter()
    pipeline.tickets(ctx)
    steps["tickets"] = time.perf_counter() - t
    store = pipeline.get_store()
    metrics = store.metrics(run_id=ctx.run_id)
    bounds = [m["detail"].get("statistic_bounds") for m in metrics if m["metric"] == "ks_pvalue"]
    wbounds = [m["detail"].get("error_bound") for m in metrics if m["metric"] == "wasserstein"]
    report = Path(evidence[1]["drift_report"]["uri"].removeprefix("file://"))
    return {
        "wall_seconds": sum(steps.values()),
        "import_seconds": imports,
        "end_to_end_seconds": time.perf_counter() - t0,
        "steps_seconds": steps,
        "overall_status": summary["overall_status"],
        "profile_from_cache": len(list((work / "profiles").rglob("profile.json"))) == profiles_before,
        "metrics_recorded": len(metrics),
        "report_kb": round(report.stat().st_size / 1024),
        "sample_rows": ctx.engine["sample"]["rows"],
        "aggregate_kb": round(ctx.aggregate["size"] / 1024),
        "max_ks_statistic_error": max((hi - lo for lo, hi in filter(None, bounds)), default=0.0),
        "max_wasserstein_error": max(filter(None, wbounds), default=0.0),
    }


def measure_naive(work: Path) -> dict:
    """The whole frames through GX (the model's suite) and Evidently DataDriftPreset() with its HTML."""
    steps: dict[str, float] = {}
    t = time.perf_counter()
    import evidently  # noqa: F401
    import great_expectations  # noqa: F401
    import pyarrow.parquet as pq
    from evidently import Report
    from evidently.presets import DataDriftPreset

    from mrm.checks.quality_gx import check_quality
    from mrm.sources.contract import conform

    imports = time.perf_counter() - t
    entry = _entry(work)
    t = time.perf_counter()
    current = conform(pq.read_table(_day_file(work, DAY)).to_pandas(), entry, "day")
    reference = conform(pq.read_table(_day_file(work, REFERENCE_DAY)).to_pandas(), entry, "reference")
    steps["read"] = time.perf_counter() - t
    t = time.perf_counter()
    check_quality(current, entry, float(len(reference)))
    steps["gx_full_frame"] = time.perf_counter() - t
    t = time.perf_counter()
    columns = [*(f.name for f in entry.monitoring.features), "score"]
    snapshot = Report([DataDriftPreset()]).run(current[columns], reference[columns])
    steps["evidently_data_drift_preset"] = time.perf_counter() - t
    t = time.perf_counter()
    snapshot.save_html(str(work / "naive_report.html"))
    steps["evidently_html"] = time.perf_counter() - t
    return {"wall_seconds": sum(steps.values()), "import_seconds": imports, "steps_seconds": steps}


MEASURES = {"floor": measure_floor, "profile": measure_profile, "run": measure_run,
            "naive": measure_naive}  # fmt: skip


def child(kind: str, work: Path, sample_rows: int) -> None:
    started = time.perf_counter()
    if kind == "generate":
        rows = int((work / "rows").read_text())
        generate(work / "data", rows, 1, False, REFERENCE_DAY)
        generate(work / "data", rows, 2, True, DAY)
        result = {"wall_seconds": time.perf_counter() - started}
    elif kind in ("run", "profile"):
        result = MEASURES[kind](work, sample_rows)
    else:
        result = MEASURES[kind](work)
    result["process_seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = _peak_mb()
    print(json.dumps(result, default=str))


# -- driver -----------------------------------------------------------------------------------------------
def run_child(kind: str, work: Path, sample_rows: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--work", str(work), "--sample-rows", str(sample_rows)],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    if proc.returncode != 0:
        return {"failed": True, "returncode": proc.returncode, "stderr": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory_limit_mb() -> int:
    """What one measurement may use: 40 % of this machine's memory (it is shared with other work)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(int(line.split()[1]) / 1024 * 0.4)
    return 8192


def one_size(rows: int, args, naive_1m: dict | None, floor_before: dict | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"mrm_scale_{rows}_"))
    try:
        (work / "rows").write_text(str(rows))
        (work / "entry.json").write_text(
            json.dumps(inventory_entry((work / "data").as_uri(), not args.no_methods))
        )
        out: dict = {"rows": rows, "columns": 36, "reference_rows": rows}
        out["generate"] = run_child("generate", work, args.sample_rows)
        out["parquet_mb"] = round(_day_file(work, DAY).stat().st_size / 2**20)
        out["floor"] = floor_for(rows, work, args, floor_before)
        for kind in ("profile", "run"):
            out[kind] = run_child(kind, work, args.sample_rows)
        out["naive"] = naive_for(rows, work, args, naive_1m)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def floor_for(rows: int, work: Path, args, before: dict | None) -> dict:
    """The floor reads the whole day into memory: above the limit, scaled from a smaller size."""
    if before and "peak_rss_mb" in before and rows > before["rows"]:
        scale = rows / before["rows"]
        if before["peak_rss_mb"] * scale > memory_limit_mb():
            return {
                "skipped": f"estimated peak RSS {before['peak_rss_mb'] * scale / 1024:.1f} GB > limit",
                "estimated_wall_seconds": before["wall_seconds"] * scale,
            }
    return run_child("floor", work, args.sample_rows)


def naive_for(rows: int, work: Path, args, naive_1m: dict | None) -> dict:
    if args.no_naive:
        return {"skipped": "--no-naive"}
    if naive_1m and "peak_rss_mb" in naive_1m and rows > naive_1m["rows"]:
        scale = rows / naive_1m["rows"]
        estimate = naive_1m["peak_rss_mb"] * scale
        if estimate > memory_limit_mb():
            return {
                "skipped": f"estimated peak RSS {estimate / 1024:.1f} GB (the {naive_1m['rows']:,}-row run's "
                f"{naive_1m['peak_rss_mb'] / 1024:.1f} GB x {scale:g}) exceeds the limit "
                f"{memory_limit_mb() / 1024:.1f} GB (40% of this machine's memory)",
                "estimated_peak_rss_mb": round(estimate),
                "estimated_wall_seconds": round(naive_1m["wall_seconds"] * scale, 1),
            }
    return run_child("naive", work, args.sample_rows)


def derive(r: dict) -> dict:
    agg, floor, naive = r["run"], r["floor"], r["naive"]
    if agg.get("failed"):
        return r
    agg["rows_per_second"] = round(r["rows"] / agg["wall_seconds"])
    agg["wall_with_imports_seconds"] = agg["wall_seconds"] + agg["import_seconds"]
    floor_wall = floor.get("wall_seconds", floor.get("estimated_wall_seconds"))
    agg["ratio_to_floor"] = agg["wall_seconds"] / floor_wall if floor_wall else None
    agg["ratio_to_floor_measured"] = "wall_seconds" in floor
    wall = naive.get("wall_seconds", naive.get("estimated_wall_seconds"))
    agg["speedup_vs_naive"] = wall / agg["wall_seconds"] if wall else None
    agg["speedup_vs_naive_measured"] = "wall_seconds" in naive
    return r


def report_line(r: dict) -> str:
    agg, naive, floor = r["run"], r["naive"], r["floor"]
    if agg.get("failed"):
        return f"{r['rows']:>11,} rows: monitoring run FAILED: {agg['stderr'][-300:]}"
    naive_text = (
        f"naive {naive['wall_seconds']:.1f} s, {naive['peak_rss_mb'] / 1024:.1f} GB"
        if "wall_seconds" in naive
        else f"naive skipped ({naive.get('skipped', naive.get('stderr', '?'))[:200]})"
    )
    floor_text = (
        f"{floor['wall_seconds']:.2f} s"
        if "wall_seconds" in floor
        else f"~{floor['estimated_wall_seconds']:.1f} s est."
    )
    speedup = agg["speedup_vs_naive"]
    speedup_text = (
        ""
        if not speedup
        else f"{speedup:.0f}x faster than naive{'' if agg['speedup_vs_naive_measured'] else ' (est.)'} | "
    )
    return (
        f"{r['rows']:>11,} rows x 36: monitoring run {agg['wall_seconds']:.2f} s "
        f"(+{agg['import_seconds']:.1f} s imports = {agg['end_to_end_seconds']:.1f} s end to end), "
        f"peak RSS {agg['peak_rss_mb'] / 1024:.2f} GB, {agg['rows_per_second']:,} rows/s, "
        f"{agg['ratio_to_floor']:.1f}x the floor ({floor_text}) | {speedup_text}{naive_text} | "
        f"profile built once in {r['profile'].get('wall_seconds', float('nan')):.1f} s "
        f"({r['profile'].get('peak_rss_mb', 0) / 1024:.2f} GB)"
    )


def write_results(args, results: list[dict]) -> None:
    """Merge the figures into ``args.out`` under "scale", keeping its other keys."""
    figures = {
        "benchmark": "one monitoring run through mrm.pipeline (aggregate-first) vs naive Evidently "
        "DataDriftPreset() + GX on full frames (bench/bench_scale.py)",
        "drift_methods": "psi only"
        if args.no_methods
        else "psi + ks/wasserstein (numeric), chisquare/jensenshannon",
        "sample_rows": args.sample_rows,
        "results": results,
    }
    write_section("scale", figures, args.out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--big", action="store_true", help="also 20M rows")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    parser.add_argument("--no-methods", action="store_true", help="PSI only: no KS/Wasserstein/chi2/JS")
    parser.add_argument("--sample-rows", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--append", action="store_true", help="keep the other sizes already in --out")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: remove the data
    if args.child:
        child(args.child, args.work, args.sample_rows)
        return 0
    sizes = sorted(set(args.rows + ([20_000_000] if args.big else [])))
    results, naive_1m, floor_before = [], None, None
    if args.append and args.out.exists():
        results = [r for r in json.loads(args.out.read_text()).get("scale", {}).get("results", [])
                   if r["rows"] not in sizes]  # fmt: skip
    for rows in sizes:
        for r in sorted(results, key=lambda r: r["rows"]):  # scale estimates from the largest measured size
            if "wall_seconds" in r["floor"]:
                floor_before = {**r["floor"], "rows": r["rows"]}
            if "wall_seconds" in r["naive"]:
                naive_1m = {**r["naive"], "rows": r["rows"]}
        r = derive(one_size(rows, args, naive_1m, floor_before))
        results = sorted([*results, r], key=lambda r: r["rows"])
        print(report_line(r), flush=True)
        write_results(args, results)  # after every size, so a long run keeps what it measured
    print(f"written to {args.out} (key 'scale')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
