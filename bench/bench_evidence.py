"""What a run's evidence costs to keep: the bytes of each file a monitoring run writes (day_aggregate.npz,
the GX result, the Evidently report, the results JSON), per run and per model-year (365 runs), for

- ``scale_36``: bench_scale's 36 columns (f00-f29 numeric, full-precision doubles; c0-c4 categorical;
  the score, event_id, event_ts, decision), the worst case for compression;
- ``card_fraud``: the demo's card_fraud log (amount in cents, integer ages and hours, six countries),

at 100k and 1M rows a day (5M with --big). The aggregate is also written in its two earlier layouts
(snappy Parquet in a stored .npz, before fac6924; zstd dictionary Parquet in a deflated .npz, until
h-evidence-2) from the same arrays and sample, so "before" and "after" are the same run's evidence.
The sample is capped (MRM_SAMPLE_ROWS, 50,000), so the aggregate does not grow with the day's rows;
--sample-rows measures other caps (the lever left if the sample itself must be smaller).

    .venv/bin/python bench/bench_evidence.py [--rows 100000 1000000] [--big] [--out bench/results.json]

Each run is a fresh process (start, quality, drift, performance, record through mrm.pipeline, evidence
as local files); merges its figures into ``--out`` under "evidence" (other keys are kept).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_scale import DAY, REFERENCE_DAY, generate, inventory_entry
from results_file import RESULTS, write_section

HERE = Path(__file__).resolve().parent
YEAR = 365


# -- data ---------------------------------------------------------------------------------------------------
def card_fraud(work: Path, rows: int) -> dict:
    """The demo's card_fraud log for DAY and the day before (its reference), and its inventory entry."""
    import yaml

    from mrm.demo import data

    for n_day, day in ((1, DAY), (0, REFERENCE_DAY)):
        path = work / "data" / f"dt={day.isoformat()}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data._parquet(data.scoring_log("card_fraud", n_day, rows)))
    entry = yaml.safe_load((HERE.parent / "include" / "inventory" / "card_fraud.yaml").read_text())
    monitoring = entry["monitoring"]
    (work / "labels").mkdir()  # none yet: the performance step finds no matured cohort
    window = {"start": REFERENCE_DAY.isoformat(), "end": REFERENCE_DAY.isoformat()}
    monitoring.update(scoring_log=(work / "data").as_uri(), labels=(work / "labels").as_uri(),
                      start_date=DAY.isoformat(), reference=window)  # fmt: skip
    return json.loads(json.dumps(entry, default=str))


def scale_36(work: Path, rows: int) -> dict:
    generate(work / "data", rows, 1, False, REFERENCE_DAY)
    generate(work / "data", rows, 2, True, DAY)
    return inventory_entry((work / "data").as_uri(), True)


DATASETS = {"scale_36": scale_36, "card_fraud": card_fraud}


# -- the earlier layouts of day_aggregate.npz (what the writer of ebacc2e gave with compact=False/True) -----
def earlier_layouts(data: bytes) -> dict[str, int]:
    """Bytes of the same aggregate in the layouts earlier code wrote: ``v1`` (snappy Parquet sample,
    np.savez) and ``v2`` (zstd dictionary Parquet sample, np.savez_compressed)."""
    import numpy as np
    import pyarrow.parquet as pq

    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    sample = pq.read_table(io.BytesIO(arrays.pop("sample").tobytes())) if "sample" in arrays else None
    sizes = {}
    for name, parquet, savez in (("v1_snappy_stored", {}, np.savez),
                                 ("v2_zstd_deflated", {"compression": "zstd", "use_dictionary": True},
                                  np.savez_compressed)):  # fmt: skip
        kept = dict(arrays)
        if sample is not None:
            out = io.BytesIO()
            pq.write_table(sample, out, **parquet)
            kept["sample"] = np.frombuffer(out.getvalue(), dtype=np.uint8)
        buf = io.BytesIO()
        savez(buf, **kept)
        sizes[name] = len(buf.getvalue())
    return sizes


def anatomy(data: bytes) -> dict:
    """The sample's share of the aggregate, and its rows and columns."""
    import zipfile

    import numpy as np
    import pyarrow.parquet as pq

    members = {i.filename: i.compress_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist()}
    sample = members.pop("sample.npy", 0)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        meta = pq.ParquetFile(io.BytesIO(npz["sample"].tobytes())).metadata if sample else None
    return {"sample_bytes": sample, "other_bytes": sum(members.values()),
            "sample_rows": meta.num_rows if meta else 0,
            "sample_columns": meta.num_columns if meta else 0}  # fmt: skip


# -- one run (its own process) ----------------------------------------------------------------------------
def measure(work: Path, model_id: str, sample_rows: int) -> dict:
    import yaml

    inventory = work / "inventory"
    inventory.mkdir(exist_ok=True)
    (inventory / f"{model_id}.yaml").write_text(yaml.safe_dump(json.loads((work / "entry.json").read_text())))
    policy = yaml.safe_load((HERE.parent / "include" / "inventory" / "_policy.yaml").read_text())
    policy.pop("notifications", None)
    (inventory / "_policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    os.environ.update(
        MRM_HOME=str(work / "home"),
        MRM_INVENTORY=str(inventory),
        MRM_SAMPLE_ROWS=str(sample_rows),
        MRM_PROFILE_CACHE=(work / "profiles").as_uri(),
    )
    from mrm import pipeline

    ctx = pipeline.start(model_id, DAY, "bench")
    evidence = [pipeline.quality(ctx), pipeline.drift(ctx), pipeline.performance(ctx)]
    pipeline.record(ctx, *evidence)
    folder = Path(ctx.aggregate["uri"].removeprefix("file://")).parent
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir())}
    data = (folder / "day_aggregate.npz").read_bytes()
    return {"files": files, "aggregate": {"now": len(data), **earlier_layouts(data), **anatomy(data)}}


def run_one(dataset: str, rows: int, sample_rows: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"mrm_evidence_{dataset}_{rows}_"))
    try:
        entry = DATASETS[dataset](work, rows)
        (work / "entry.json").write_text(json.dumps(entry))
        proc = subprocess.run(
            [sys.executable, __file__, "--child", entry["model_id"], "--work", str(work),
             "--sample-rows", str(sample_rows)],
            capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )  # fmt: skip
        if proc.returncode != 0:
            return {"failed": True, "stderr": proc.stderr[-2000:]}
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        columns = len(entry["monitoring"]["features"]) + 1  # and the score (as bench_scale counts them)
        return {"dataset": dataset, "rows": rows, "columns": columns, "sample_rows_cap": sample_rows,
                **result}  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


def per_year(r: dict) -> dict:
    """The model-year (365 runs) of each file and of the whole run, in MB."""
    files = r["files"]
    total = sum(files.values())
    others = total - files["day_aggregate.npz"]
    with_layout = {f"year_total_mb_with_aggregate_{v}": round((others + r["aggregate"][v]) * YEAR / 1e6, 1)
                   for v in ("v1_snappy_stored", "v2_zstd_deflated")}  # fmt: skip
    return {
        "run_bytes": total,
        "year_mb": {name: round(size * YEAR / 1e6, 1) for name, size in files.items()},
        "year_total_mb": round(total * YEAR / 1e6, 1),
        **with_layout,
    }


def line(r: dict) -> str:
    if r.get("failed"):
        return f"FAILED: {r['stderr'][-300:]}"
    a = r["aggregate"]
    others = ", ".join(f"{k} {v / 1e3:,.0f} kB" for k, v in r["files"].items() if k != "day_aggregate.npz")
    return (
        f"{r['dataset']:>10} {r['rows']:>9,} rows x {r['columns']} (sample cap {r['sample_rows_cap']:,}): "
        f"day_aggregate.npz {a['v1_snappy_stored'] / 1e6:.2f} MB (v1) -> "
        f"{a['v2_zstd_deflated'] / 1e6:.2f} MB (v2) "
        f"-> {a['now'] / 1e6:.2f} MB now (sample {a['sample_bytes'] / 1e6:.2f} MB); {others}; "
        f"run {r['year']['run_bytes'] / 1e6:.2f} MB, model-year {r['year']['year_total_mb'] / 1e3:.2f} GB "
        f"(was {r['year']['year_total_mb_with_aggregate_v1_snappy_stored'] / 1e3:.2f} GB)"
    )


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--big", action="store_true", help="also 5,000,000 rows")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    caps = "sample caps: the first for every run, the others at the largest --rows (scale_36 only)"
    parser.add_argument("--sample-rows", type=int, nargs="+", default=[50_000], help=caps)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.work, args.child, args.sample_rows[0])))
        return
    sizes = [*args.rows, *([5_000_000] if args.big else [])]
    cap, *other_caps = args.sample_rows
    plan = [(d, n, cap) for d in args.datasets for n in sizes]
    plan += [("scale_36", max(sizes), c) for c in other_caps if "scale_36" in args.datasets]
    results = []
    for dataset, rows, sample_rows in plan:
        r = run_one(dataset, rows, sample_rows)
        if not r.get("failed"):
            r["year"] = per_year(r)
        results.append(r)
        print(line(r), flush=True)
    write_section("evidence", {"runs_per_year": YEAR, "results": results}, out=args.out)


if __name__ == "__main__":
    main()
