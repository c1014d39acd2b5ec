"""Peak RSS of building the reference profile of a SageMaker-capture reference window: the window read
whole and profiled as a frame (``--path frame``, as before) or spooled a day at a time to local Parquet
files and profiled column by column (``--path spool``). ``--write`` first writes the capture files
(``--rows`` a day over ``--days`` days, CSV in and out). Run each path in its own process under
``/usr/bin/time -v``:

    python bench/bench_reference_spool.py --root /tmp/cap --write --rows 500000 --days 4
    /usr/bin/time -v python bench/bench_reference_spool.py --root /tmp/cap --path frame
    /usr/bin/time -v python bench/bench_reference_spool.py --root /tmp/cap --path spool
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import yaml

START = date(2026, 8, 18)
FEATURES = ["amount", "merchant_category", "country", "card_age_days", "device_score", "hour_of_day"]


def write(root: Path, rows: int, days: int) -> None:
    rng = np.random.default_rng(7)
    for d in range(days):
        day = START + timedelta(days=d)
        per_hour = rows // 24
        for h in range(24):
            folder = root / f"{day:%Y/%m/%d}/{h:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            amount = rng.gamma(2.0, 40.0, per_hour).round(2)
            cats = rng.choice(["grocery", "travel", "fuel", "online", "retail"], per_hour)
            country = rng.choice(["DE", "NL", "FR", "ES", "IT"], per_hour)
            age = rng.integers(0, 4000, per_hour)
            dev = rng.random(per_hour).round(4)
            score = rng.beta(1.2, 8.0, per_hour).round(5)
            with (folder / "capture-0.jsonl").open("w") as fh:
                for i in range(per_hour):
                    at = f"{day.isoformat()}T{h:02d}:{(i * 60 // per_hour) % 60:02d}:00.{i % 1000:03d}Z"
                    data = f"{amount[i]},{cats[i]},{country[i]},{age[i]},{dev[i]},{h}"
                    fh.write(json.dumps({
                        "captureData": {
                            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                              "encoding": "CSV", "data": data},
                            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                               "encoding": "CSV", "data": str(score[i])},
                        },
                        "eventMetadata": {"eventId": f"e-{d}-{h}-{i}", "inferenceId": f"ev-{d}-{h}-{i}",
                                          "inferenceTime": at},
                        "eventVersion": "0",
                    }) + "\n")  # fmt: skip


def entry_for(root: Path, days: int, repo: Path):
    from mrm.inventory import load_entry

    raw = yaml.safe_load((repo / "include" / "inventory" / "card_fraud.yaml").read_text())
    end = START + timedelta(days=days - 1)
    raw["monitoring"]["reference"] = {"start": START.isoformat(), "end": end.isoformat()}
    raw["monitoring"]["scoring_log"] = {
        "sagemaker_capture": {
            "uri": root.as_uri() + "/", "input_format": "csv", "feature_order": FEATURES,
            "output_format": "csv", "model_version": "4.2.0",
            "decision_thresholds": [[0.0, "approve"], [0.30, "review"], [0.70, "decline"]],
        }
    }  # fmt: skip
    path = root.parent / "card_fraud.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_entry(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--path", choices=["frame", "spool"])
    args = parser.parse_args()
    if args.write:
        write(args.root, args.rows, args.days)
        return
    from mrm.checks.engine.profile import ProfileSettings
    from mrm.checks.engine.profiling import profile_from_files, profile_from_frame
    from mrm.checks.reference import profile_sha256, read_reference
    from mrm.checks.reference_spool import spooled_window
    from mrm.sources.registry import source_for

    entry = entry_for(args.root, args.days, Path(__file__).resolve().parents[1])
    settings = ProfileSettings.for_entry(entry)
    started = time.perf_counter()
    if args.path == "frame":
        frame, info = read_reference(entry)
        profile = profile_from_frame(frame, entry, info, settings, "fp")
    else:
        source = source_for(entry, what="reference scoring log")
        with spooled_window(entry, source, entry.monitoring.reference.days()) as spooled:
            profile = profile_from_files(entry, spooled.files_by_day, settings, "fp", spooled.info(entry))
    seconds = time.perf_counter() - started
    print(json.dumps({"path": args.path, "rows": profile.rows, "seconds": round(seconds, 1),
                      "profile_sha256": profile_sha256(profile.to_files())}))  # fmt: skip


if __name__ == "__main__":
    main()
