"""A model monitored from SageMaker Model Monitor data capture instead of Parquet: the same day of the
demo's scoring log, written as capture files in AWS's format, gives a run with the same metrics."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from support import capture_scoring_log, write_capture

from mrm import pipeline
from mrm.sources.parquet import PartitionedParquet

DAY = date(2026, 9, 5)  # card_fraud's Dutch device-score incident: RED in segment country=NL


@pytest.fixture
def capture_inventory(file_inventory, demo_files, tmp_path):
    source = PartitionedParquet(f"{demo_files}/scoring/card_fraud/")
    root = (tmp_path / "datacapture" / "card-fraud-prod" / "AllTraffic").as_uri() + "/"
    ref_days = [date(2026, 8, 18 + i) for i in range(14)]
    written = write_capture(source.read_days([*ref_days, DAY]).frame, root)
    assert written > 1000
    path = file_inventory / "card_fraud.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["monitoring"]["scoring_log"] = capture_scoring_log(root)
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
