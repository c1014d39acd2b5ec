"""The pipeline on the aggregate-first engine: start streams the day once into its aggregate, quality and
drift compute from it what the frame-based GX/Evidently checks compute on the whole frames, the run
records the aggregate and the sample it drew its evidence from, the reference profile is built once per
fingerprint, and a reference or an aggregate that changes during the run fails the run with a message."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mrm import inputs, pipeline
from mrm.checks.sample_evidence import EVENT_ID_NOTE
from mrm.core.results import MetricResult
from mrm.errors import ConfigError, MrmError, NoDataError

DAY = date(2026, 9, 5)  # card_fraud: the NL device-score outage (a segment incident)


def path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def stored_results(evidence: dict, name: str) -> list[MetricResult]:
    return [MetricResult.from_dict(d) for d in json.loads(path_of(evidence[name]["uri"]).read_text())]


INCIDENT_DAYS = [("card_fraud", 5), ("credit_line", 12), ("credit_line", 22), ("aml_alert", 10),
                 ("aml_alert", 12), ("aml_alert", 30)]  # fmt: skip


@pytest.mark.parametrize(("model_id", "day"), INCIDENT_DAYS, ids=str)
def test_the_stored_metrics_equal_the_frame_based_checks_on_the_whole_day(
    mrm_home, file_inventory, model_id, day
):
    """Oracle: the GX suite, the extra quality checks, the Evidently drift check and the segment check
    run on the day's and the reference's whole frames (the pre-engine pipeline)."""
    from oracles.frame_checks import check_drift, check_quality_extras, check_segments

    from mrm.checks.quality_gx import check_quality
    from mrm.demo.data import day as demo_day
    from mrm.sources.contract import conform
    from mrm.sources.registry import source_for

    day = demo_day(day)  # a day of one of the demo's incidents
    summary = pipeline.run_model(model_id, day)

    entry = pipeline.get_inventory().get(model_id)
    reference, info = inputs.reference(entry)
    current = conform(source_for(entry).read_days([day]).frame.drop(columns="_dt"), entry, "day")
    oracle = check_quality(current, entry, info["median_daily_rows"]).results
    oracle += check_quality_extras(current, entry, info, day)
    oracle += check_drift(reference, current, entry).results + check_segments(reference, current, entry)
    stored = stored_results(summary["evidence"], "quality_results")
    stored += stored_results(summary["evidence"], "drift_results")

    assert sorted(r.key for r in stored) == sorted(r.key for r in oracle)
    expected = {r.key: r for r in oracle}
    for r in stored:
        want = expected[r.key].value
        assert (r.value is None) == (want is None), r.key
        if want is not None:
            # freshness in hours: pandas' Timedelta.total_seconds() keeps microseconds, the engine
            # nanoseconds; 1e-9 h is 3.6 microseconds
            tolerance = 1e-9 if r.metric == "freshness_hours" else 1e-12
            assert r.value == pytest.approx(want, rel=1e-9, abs=tolerance), r.key
    assert summary["overall_status"] in ("AMBER", "RED")  # the incident is caught


def test_the_run_records_its_aggregate_and_the_sample_behind_its_evidence(
    mrm_home, file_inventory, monkeypatch
):
    monkeypatch.setenv("MRM_SAMPLE_ROWS", "500")
    summary = pipeline.run_model("card_fraud", DAY)
    run = pipeline.get_store().run(summary["run_id"])
    engine = run["lineage"]["engine"]

    assert engine["engine"] == "aggregate" and engine["rows"] == run["row_count"] > 500
    assert engine["sample"] == {
        "rows": 500, "size": 500, "seed": 0, "population": run["row_count"], "event_id": EVENT_ID_NOTE
    }  # fmt: skip
    assert engine["profile"]["fingerprint"] and engine["exact_numeric_methods"] is False
    aggregate = run["evidence"]["day_aggregate"]
    data = path_of(aggregate["uri"]).read_bytes()
    from mrm.evidence.writer import sha256

    assert aggregate["sha256"] == sha256(data) and aggregate["size"] == len(data)
    gx = json.loads(path_of(run["evidence"]["quality_gx"]["uri"]).read_text())
    assert gx["meta"]["mrm_sample"]["rows"] == 500
    row_count = next(r for r in stored_results(run["evidence"], "quality_results") if r.metric == "row_count")
    assert row_count.value == run["row_count"]  # the metric sees the whole day, not the sample
    html = path_of(run["evidence"]["drift_report"]["uri"]).read_text()
    assert f"computed on all {run['row_count']:,} rows of 2026-09-05" in html and "500 current rows" in html


def test_the_reference_profile_is_built_once_then_read_from_the_cache(mrm_home, file_inventory, monkeypatch):
    from mrm.checks import reference as ref_module
    from mrm.settings import profile_cache_uri

    pipeline.run_model("aml_alert", date(2026, 9, 2))
    built = list(path_of(profile_cache_uri()).glob("aml_alert/*/profile.json"))
    monkeypatch.setattr(ref_module, "profile_from_files", lambda *a, **k: pytest.fail("profile rebuilt"))

    pipeline.run_model("aml_alert", date(2026, 9, 3))

    assert len(built) == 1
    runs = pipeline.get_store().runs("aml_alert")
    assert {r["lineage"]["engine"]["profile"]["fingerprint"] for r in runs} == {built[0].parent.name}


def test_a_reference_changed_during_the_run_fails_it_with_a_message(mrm_home, file_inventory, demo_files):
    ctx = pipeline.start("aml_alert", date(2026, 9, 2), "test")
    folder = path_of(demo_files) / "scoring" / "aml_alert" / "dt=2026-08-20"
    extra = folder / "late-arrival.parquet"
    pq.write_table(pq.read_table(next(folder.glob("*.parquet"))), extra)
    try:
        with pytest.raises(MrmError, match="reference window's data or the inventory entry changed"):
            pipeline.quality(ctx)
    finally:
        extra.unlink()
    failed = [r for r in pipeline.get_store().runs("aml_alert") if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["reason"].startswith("quality: aml_alert: the reference window")


def test_an_inventory_entry_changed_before_record_fails_the_run_with_a_message(mrm_home, file_inventory):
    """record evaluates the thresholds of the entry the run started with, or fails: never a mix."""
    import re

    ctx = pipeline.start("aml_alert", date(2026, 9, 2), "test")
    evidence = [pipeline.quality(ctx), pipeline.drift(ctx), pipeline.performance(ctx)]
    path = file_inventory / "aml_alert.yaml"
    path.write_text(re.sub(r"(?m)^name: (.*)$", r"name: \1 (renamed)", path.read_text(), count=1))

    with pytest.raises(MrmError, match=r"aml_alert: the inventory entry changed while the run was in"):
        pipeline.record(ctx, *evidence)

    runs = pipeline.get_store().runs("aml_alert")
    assert [(r["status"], r["reason"][:46]) for r in runs] == [
        ("failed", "record: aml_alert: the inventory entry changed")
    ]


def test_an_aggregate_altered_after_start_fails_the_step(mrm_home, file_inventory):
    ctx = pipeline.start("aml_alert", date(2026, 9, 2), "test")
    path_of(ctx.aggregate["uri"]).write_bytes(b"not the aggregate")

    with pytest.raises(MrmError, match=r"day_aggregate\.npz changed since the run started; rerun 2026-09-02"):
        pipeline.drift(ctx)


def test_an_empty_partition_is_no_data_naming_the_partition(mrm_home, file_inventory, tmp_path, demo_files):
    import shutil

    import yaml

    root = tmp_path / "empty_day"
    demo = path_of(demo_files) / "scoring" / "aml_alert"
    for reference_day in demo.glob("dt=2026-08-*"):
        shutil.copytree(reference_day, root / "scoring" / "aml_alert" / reference_day.name)
    folder = root / "scoring" / "aml_alert" / "dt=2026-09-02"
    folder.mkdir(parents=True)
    schema = pq.read_schema(next((demo / "dt=2026-09-02").glob("*")))
    pq.write_table(pa.Table.from_pylist([], schema=schema), folder / "part-0.parquet")
    path = file_inventory / "aml_alert.yaml"
    raw = yaml.safe_load(path.read_text())
    reference_uri = raw["monitoring"]["scoring_log"]
    raw["monitoring"]["scoring_log"] = (root / "scoring" / "aml_alert").as_uri() + "/"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert reference_uri != raw["monitoring"]["scoring_log"]

    with pytest.raises(
        NoDataError,
        match=r"scoring log partition for 2026-09-02 of model aml_alert at .*dt=2026-09-02/ has 0 rows",
    ):
        pipeline.start("aml_alert", date(2026, 9, 2), "test")
    (failed,) = pipeline.get_store().runs("aml_alert")
    why = "read scoring log: scoring log partition for 2026-09-02 of model aml_alert"
    assert failed["reason"].startswith(why)


@pytest.mark.parametrize("value", ["lots", "10"])
def test_a_bad_sample_size_is_one_line_naming_the_setting(monkeypatch, value):
    from mrm import settings

    monkeypatch.setenv("MRM_SAMPLE_ROWS", value)
    with pytest.raises(
        ConfigError, match=f"MRM_SAMPLE_ROWS='{value}' must be a whole number of at least 100"
    ):
        settings.sample_rows()
