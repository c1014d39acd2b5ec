"""Benchmark: outcome analysis at scale. card_fraud at N rows a day (label maturity 7 days, 7-day cohort,
14-day reference, labels for every scored event), each case in a fresh process:

- ``run``: one monitoring run through mrm.pipeline **including performance** (the 7-day cohort joined to
  its labels, the reference cohort's statistics) and CBPE (``performance.estimation`` enabled: the day's
  estimates and the reference calibrator), every step timed, peak RSS of the process. Twice, each in a
  fresh process: ``first`` (day 1: the reference profile and the reference window's labelled counts are
  built and kept, once per reference, and every day's compact part is kept on disk) and ``daily`` (day
  2: the profile, the counts and the parts day 1 kept are found, as by every later run of the model;
  nothing of day 1's process memory is reused; three days are read from the log: the cohort's newest
  day, the new label day and the run's own day, which in a model's steady state is two, the cohort's
  newest day having been kept by its own run seven days before);
- ``backtest``: ``mrm backtest``'s per-date work (:func:`mrm.outcomes.backtest_day`) over consecutive
  dates, each date's cohort read, joined and recorded as a run of kind backtest.

    .venv/bin/python bench/bench_outcomes.py [--rows 1000000] [--backtest-days 30] [--out bench/results.json]

Metric values are read back from the history after ``record``. Prints a table and writes the section
"outcomes" of the results file (other sections are kept).
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
from datetime import timedelta
from pathlib import Path

from results_file import write_section

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHOWN = ("auc", "gini", "ks", "label_coverage", "estimated_auc", "estimation_error_auc")


def _generate(rows: int, days: int) -> tuple[Path, float]:
    """Demo data of card_fraud (reference + ``days`` days at ``rows`` a day), written by a process of its
    own (so a measured process's peak RSS is the run's, not the generator's), and an inventory reading
    it with label maturity 7 and CBPE on. (work dir, seconds)."""
    work = Path(tempfile.mkdtemp(prefix="mrm_bench_outcomes_"))
    t0 = time.perf_counter()
    code = "import sys; from mrm.demo import data; data.write_demo_data(sys.argv[1], ('card_fraud',), "
    code += "days=int(sys.argv[2]), rows=int(sys.argv[3]))"
    subprocess.run([sys.executable, "-c", code, (work / "data").as_uri(), str(days), str(rows)], check=True)
    generate = time.perf_counter() - t0
    _inventory(work)
    return work, generate


def _use(work: Path) -> None:
    """Point mrm at the work dir's inventory and history (in the measured process)."""
    os.environ.update(MRM_HOME=str(work / "home"), MRM_INVENTORY=str(work / "inventory"))


def _inventory(work: Path) -> None:
    import yaml

    inv = work / "inventory"
    inv.mkdir()
    src = (REPO / "include" / "inventory" / "card_fraud.yaml").read_text()
    entry = yaml.safe_load(src.replace("s3://mrm-demo", (work / "data").as_uri()))
    entry["monitoring"]["performance"]["label_maturity_days"] = 7  # the cohort lies in the generated days
    entry["monitoring"]["performance"]["estimation"] = {"enabled": True}
    (inv / "card_fraud.yaml").write_text(yaml.safe_dump(entry, sort_keys=False))
    shutil.copy(REPO / "include" / "inventory" / "_policy.yaml", inv / "_policy.yaml")


def _values(run_id: str) -> dict:
    from mrm import pipeline

    rows = pipeline.get_store().metrics(run_id=run_id)
    return {r["metric"]: r["value"] for r in rows if r["check"] == "performance" and r["metric"] in SHOWN}


def _rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_case(work: Path, which: str) -> dict:
    """One monitoring run with performance and CBPE, every step timed: ``first`` (day 1) or ``daily``
    (day 2, after ``first`` kept the reference profile and counts)."""
    _use(work)
    t0 = time.perf_counter()
    import evidently  # noqa: F401  (imports are timed apart: a worker pays them once)
    import great_expectations  # noqa: F401

    imports = time.perf_counter() - t0
    from mrm import pipeline
    from mrm.demo import data

    steps: dict[str, float] = {}

    def timed(name, fn, *args):
        t = time.perf_counter()
        out = fn(*args)
        steps[name] = round(time.perf_counter() - t, 3)
        return out

    ctx = timed("start", pipeline.start, "card_fraud", data.day(1 if which == "first" else 2), "bench")
    q = timed("quality", pipeline.quality, ctx)
    d = timed("drift", pipeline.drift, ctx)
    p = timed("performance", pipeline.performance, ctx)
    summary = timed("record", pipeline.record, ctx, q, d, p)
    timed("tickets", pipeline.tickets, ctx)
    return {
        "case": "run",
        "which": which,
        "rows_per_day": ctx.row_count,
        "import_seconds": round(imports, 2),
        "steps_seconds": steps,
        "wall_seconds": round(sum(steps.values()), 3),
        "peak_rss_mb": _rss_mb(),
        "values": _values(summary["run_id"]),
    }


def backtest_case(work: Path, dates: int) -> dict:
    """``dates`` consecutive back-tested dates (day 1 ..), each timed, in one process (as ``mrm
    backtest``): the reference profile and counts are built by the first date."""
    _use(work)
    from mrm import outcomes
    from mrm.demo import data

    each = []
    t0 = time.perf_counter()
    for i in range(dates):
        t = time.perf_counter()
        result = outcomes.backtest_day("card_fraud", data.day(1) + timedelta(days=i), "bench")
        each.append(round(time.perf_counter() - t, 3))
        print(outcomes.line(result), file=sys.stderr, flush=True)
    total = time.perf_counter() - t0
    return {
        "case": "backtest",
        "dates": dates,
        "wall_seconds": round(total, 2),
        "first_date_seconds": each[0],
        "per_date_seconds": _spread(each[1:] or each),  # after the first, which builds the reference counts
        "peak_rss_mb": _rss_mb(),
    }


def _spread(each: list[float]) -> dict:
    return {"min": min(each), "median": sorted(each)[len(each) // 2], "max": max(each)}


def _child(*argv: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"bench_outcomes {' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--backtest-days", type=int, default=30, help="0: no back-test")
    parser.add_argument("--backtest-rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    if args.child:
        kind, work, *rest = args.child
        out = run_case(Path(work), rest[0]) if kind == "run" else backtest_case(Path(work), int(rest[0]))
        print(json.dumps(out))
        return 0
    results = []
    for rows in args.rows:
        work, generate = _generate(rows, days=2)
        for which in ("first", "daily"):
            r = {**_child("run", str(work), which), "cohort_rows": 7 * rows, "reference_rows": 14 * rows}
            r["generate_seconds"] = round(generate, 1)
            results.append(r)
            steps = "  ".join(f"{k}={v:.2f}s" for k, v in r["steps_seconds"].items())
            values = "  ".join(f"{k}={v:.4f}" for k, v in r["values"].items() if v is not None)
            print(
                f"run ({which}) {r['rows_per_day']:>10,} rows/day (cohort {r['cohort_rows']:,}, reference "
                f"{r['reference_rows']:,}): {r['wall_seconds']:.2f} s "
                f"(+{r['import_seconds']:.1f} s imports), peak RSS {r['peak_rss_mb']} MB | {steps} | "
                f"{values}",
                flush=True,
            )
        shutil.rmtree(work, ignore_errors=True)
    if args.backtest_days:
        work, generate = _generate(args.backtest_rows, days=args.backtest_days)
        r = {**_child("backtest", str(work), str(args.backtest_days)), "rows_per_day": args.backtest_rows}
        r["generate_seconds"] = round(generate, 1)
        shutil.rmtree(work, ignore_errors=True)
        results.append(r)
        e = r["per_date_seconds"]
        print(
            f"backtest {r['dates']} dates at {r['rows_per_day']:,} rows/day: {r['wall_seconds']:.1f} s "
            f"(first date {r['first_date_seconds']:.2f} s: it builds the reference counts; "
            f"then per date min {e['min']:.2f} / median {e['median']:.2f} / max {e['max']:.2f} s), "
            f"peak RSS {r['peak_rss_mb']} MB"
        )
    else:
        print("backtest: skipped (--backtest-days 0)")
    figures = {
        "benchmark": "card_fraud with label maturity 7, a 7-day cohort and a 14-day reference: a monitoring "
        "run including performance and CBPE, first (builds and keeps the reference profile, labelled "
        "counts and the days' parts) and daily (next day, fresh process, all three kept; three new days "
        "read from the log); mrm backtest's per-date work over consecutive dates in one process",
        "results": results,
    }
    write_section("outcomes", figures, args.out)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
