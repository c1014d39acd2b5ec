"""A model monitored from SageMaker Model Monitor data capture instead of Parquet: the same day of the
demo's scoring log, written as capture files in AWS's format, gives a run with the same metrics."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import date

import pytest
import yaml

from mrm import pipeline
from mrm.core.storage import join, store_for
from mrm.sources.parquet import PartitionedParquet

FEATURES = ["amount", "merchant_category", "country", "card_age_days", "device_score", "hour_of_day"]
DAY = date(2026, 9, 5)  # card_fraud's Dutch device-score incident: RED in segment country=NL


def _csv(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def write_capture(frame, root: str) -> int:
    """Each scoring-log row as one capture record (CSV in, CSV out), filed by its hour like SageMaker."""
    files = defaultdict(list)
    for row in frame.itertuples(index=False):
        at = row.event_ts.tz_convert("UTC")
        record = {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "encoding": "CSV",
                                  "data": ",".join(_csv(getattr(row, f)) for f in FEATURES)},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "encoding": "CSV",
                                   "data": repr(float(row.score))},
            },
            "eventMetadata": {"eventId": f"sm-{row.event_id}", "inferenceId": row.event_id,
                              "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
            "eventVersion": "0",
        }  # fmt: skip
        files[at.strftime("%Y/%m/%d/%H")].append(json.dumps(record))
    for folder, lines in files.items():
        target = join(root, f"{folder}/capture-0.jsonl")
        store_for(target).put(target, ("\n".join(lines) + "\n").encode(), overwrite=True)
    return sum(len(v) for v in files.values())


@pytest.fixture
def capture_inventory(file_inventory, demo_files, tmp_path):
    source = PartitionedParquet(f"{demo_files}/scoring/card_fraud/")
    root = (tmp_path / "datacapture" / "card-fraud-prod" / "AllTraffic").as_uri() + "/"
    ref_days = [date(2026, 8, 18 + i) for i in range(14)]
    written = write_capture(source.read_days([*ref_days, DAY]).frame, root)
    assert written > 1000
    path = file_inventory / "card_fraud.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["monitoring"]["scoring_log"] = {
        "sagemaker_capture": {
            "uri": root, "input_format": "csv", "feature_order": FEATURES, "output_format": "csv",
            "decision_thresholds": [[0.0, "approve"], [0.30, "review"], [0.70, "decline"]],
            "model_version": "4.2.0",
        }
    }  # fmt: skip
    return path, yaml.safe_dump(raw, sort_keys=False)


def test_a_capture_sourced_run_equals_the_parquet_sourced_run(mrm_home, capture_inventory):
    from support import assert_same_quality_and_drift, clear_caches

    parquet_run = pipeline.run_model("card_fraud", DAY)
    path, capture_yaml = capture_inventory
    path.write_text(capture_yaml)
    clear_caches()
    capture_run = pipeline.run_model("card_fraud", DAY)

    store = pipeline.get_store()
    run = store.run(capture_run["run_id"])
    assert all("/datacapture/card-fraud-prod/AllTraffic/2026/09/05/" in f["uri"] for f in run["input_files"])
    assert capture_run["overall_status"] == parquet_run["overall_status"] == "RED"

    b = assert_same_quality_and_drift(store, parquet_run["run_id"], capture_run["run_id"])
    assert b[("quality", "null_rate", "device_score", "country=NL")][1] == "RED"
