"""SageMaker Model Monitor data capture files (AWS's documented JSON Lines format, hourly prefixes) read
as a scoring log, on file:// and on s3:// through a moto server: exact decoded values for CSV, JSON,
BASE64 and batch records; the day's 24 hour folders and nothing else; bad lines named by file and line;
empty days; and the decode speed at 100k records."""

from __future__ import annotations

import base64
import json
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from oracles.frame_checks import check_quality_extras
from support import INVENTORY

from mrm.core.storage import join, store_for
from mrm.errors import NoDataError, SchemaError
from mrm.inventory import load_entry
from mrm.inventory.sources import CaptureSourceConfig, parse_path
from mrm.sources.contract import conform
from mrm.sources.sagemaker.source import CaptureSource

DAY = date(2026, 9, 1)
DATA = Path(__file__).parent / "data" / "sagemaker_capture"
DOCUMENTED = DATA / "24-40-123-5f6a8c2e-7b1d-4f0e-9a3c-2d8e1f4b6a70.jsonl"
FEATURES = ["amount", "merchant_category", "country", "card_age_days", "device_score", "hour_of_day"]
THRESHOLDS = [[0.0, "approve"], [0.30, "review"], [0.70, "decline"]]


@pytest.fixture(scope="module")
def entry():
    return load_entry(INVENTORY / "card_fraud.yaml")


# -- writing capture files as SageMaker does ---------------------------------------------------------
def side(mode: str, data: str, encoding: str = "CSV", content_type: str | None = None) -> dict:
    ctype = content_type or {"CSV": "text/csv", "JSON": "application/json"}.get(encoding, "application/x-foo")
    return {"observedContentType": ctype, "mode": mode, "data": data, "encoding": encoding}


def record(
    data_in: str,
    data_out: str,
    *,
    event_id: str,
    at: str,
    inference_id: str | None = None,
    enc_in: str = "CSV",
    enc_out: str = "CSV",
) -> str:
    meta = {"eventId": event_id, "inferenceTime": at}
    if inference_id:
        meta["inferenceId"] = inference_id
    return json.dumps(
        {
            "captureData": {
                "endpointInput": side("INPUT", data_in, enc_in),
                "endpointOutput": side("OUTPUT", data_out, enc_out),
            },
            "eventMetadata": meta,
            "eventVersion": "0",
        }
    )


def csv_record(i: int, at: str, row: str = "10.0,grocery,DE,100,0.5,8", score: str = "0.2") -> str:
    return record(row, score, event_id=f"ev-{i:04d}", at=at)


def put(uri: str, day: date, hour: int, name: str, lines: list[str] | bytes) -> str:
    """A capture file at <uri>/yyyy/mm/dd/hh/<name> (file:// or s3://)."""
    target = join(uri, f"{day:%Y/%m/%d}/{hour:02d}/{name}")
    body = lines if isinstance(lines, bytes) else "".join(line + "\n" for line in lines).encode()
    store_for(target).put(target, body, overwrite=True)
    return target


def csv_config(root_uri: str, **kw) -> CaptureSourceConfig:
    base = dict(
        uri=root_uri,
        input_format="csv",
        feature_order=FEATURES,
        output_format="csv",
        decision_thresholds=THRESHOLDS,
        model_version="4.2.0",
    )
    return CaptureSourceConfig(**{**base, **kw})


@pytest.fixture
def root(tmp_path) -> str:
    return (tmp_path / "datacapture" / "card-fraud-prod" / "AllTraffic").as_uri() + "/"


def rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    out = []
    for rec in frame[columns].itertuples(index=False):
        out.append(tuple(None if isinstance(v, float) and np.isnan(v) else v for v in rec))
    return out


# -- config -----------------------------------------------------------------------------------------
def test_parse_path_reads_keys_indexes_and_one_batch_star():
    assert parse_path("predictions[0].score") == ("predictions", 0, "score")
    assert parse_path("[3]") == (3,)
    assert parse_path("instances[*].features[2]") == ("instances", "*", "features", 2)
    assert parse_path("model-version") == ("model-version",)
    for bad in ("a..b", "a[x]", "[*][*]", "a b", ".a", ""):
        with pytest.raises(ValueError):
            parse_path(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_order": None}, "csv input needs feature_order"),
        ({"json_fields": {"amount": "amount"}}, "json_fields applies to json input"),
        ({"decision_thresholds": None}, "no way to get the decision"),
        ({"decision_thresholds": [[0.5, "review"], [0.3, "decline"]]}, "must ascend strictly"),
        ({"feature_order": ["amount", "score"]}, "'score' is a scoring-log column"),
        ({"feature_order": ["amount", "amount"]}, "features named twice: amount"),
        ({"score_path": "predictions[0].score"}, "apply to json output"),
        ({"model_version_path": "v"}, "apply to json output"),
        ({"output_format": "json"}, "json output needs score_path"),
        ({"output_format": "json", "score_path": "p[0]", "score_column": 1}, "apply to csv output"),
        ({"uri": "https://bucket/x/"}, "String should match pattern"),
        ({"sampling": 10}, "Extra inputs are not permitted"),
    ],
)
def test_config_rejects_what_cannot_work(change, message):
    with pytest.raises(ValueError, match=message):
        csv_config("s3://b/datacapture/ep/AllTraffic/", **change)


def test_config_for_json_needs_key_paths_and_checks_them():
    base = dict(uri="s3://b/x/", input_format="json", output_format="json", score_path="score")
    with pytest.raises(ValueError, match="json input needs json_fields"):
        CaptureSourceConfig(**base, decision_thresholds=THRESHOLDS)
    with pytest.raises(ValueError, match=r"json_fields.amount: key path 'a\[\*\]\[\*\]'"):
        CaptureSourceConfig(**base, json_fields={"amount": "a[*][*]"}, decision_path="label")
    ok = CaptureSourceConfig(**base, json_fields={"amount": "instances[*].amount"}, decision_path="label")
    assert ok.features == ["amount"]


# -- decoding ---------------------------------------------------------------------------------------
def test_documented_capture_file_decodes_to_exact_scoring_log_rows(root, entry):
    """CSV, inferenceId, BASE64 (a content type the capture config did not declare) and a batch of three
    CSV lines answered with three output lines, as SageMaker writes them."""
    target = join(root, f"{DAY:%Y/%m/%d}/08/{DOCUMENTED.name}")
    store_for(target).put(target, DOCUMENTED.read_bytes())

    data = CaptureSource(
        csv_config(root), features=entry.monitoring.features, model_id="card_fraud"
    ).read_day(DAY)

    frame = data.frame
    assert list(frame.columns) == [
        "event_id", "event_ts", "model_id", "model_version", *FEATURES, "score", "decision", "_dt",
    ]  # fmt: skip
    assert rows(frame, ["event_id", "amount", "merchant_category", "country", "card_age_days"]) == [
        ("aaadb61b-e4c6-4f5c-a8e0-7e07edc8b6f5", 132.5, "electronics", "DE", 412.0),
        ("txn-20260901-000042", 18.99, "grocery", "FR", 2210.0),
        ("7d2e4a90-1c3b-4e5f-9a6b-8c7d6e5f4a3b", 560.0, "travel", "GB", 35.0),
        ("batch-17:0", 42.0, "fuel", "NL", 1200.0),
        ("batch-17:1", 77.5, "fuel", "NL", 1201.0),
        ("batch-17:2", 9.99, "digital_goods", "NL", 3.0),
    ]
    assert rows(frame, ["device_score", "hour_of_day", "score", "decision"]) == [
        (0.31, 8.0, 0.8201, "decline"),
        (None, 8.0, 0.0254, "approve"),
        (0.92, 8.0, 0.4411, "review"),
        (0.05, 8.0, 0.01, "approve"),
        (0.12, 8.0, 0.35, "review"),
        (0.77, 8.0, 0.97, "decline"),
    ]
    assert [t.isoformat() for t in frame["event_ts"]] == [
        "2026-09-01T08:24:40+00:00",
        "2026-09-01T08:24:41.507000+00:00",
        "2026-09-01T08:25:02+00:00",
        *["2026-09-01T08:26:13+00:00"] * 3,
    ]
    assert str(frame["event_ts"].dtype) == "datetime64[ns, UTC]"
    assert set(frame["model_id"]) == {"card_fraud"} and set(frame["model_version"]) == {"4.2.0"}
    assert set(frame["_dt"]) == {DAY}
    assert [f.uri for f in data.files] == [target]
    assert data.files[0].size == DOCUMENTED.stat().st_size
    assert (data.records, data.out_of_day, data.unreadable) == (4, 0, [])
    conformed = conform(frame, entry, "capture")  # the contract the pipeline checks
    assert conformed["score"].dtype == "float64"


def test_json_payloads_read_by_key_paths_with_decision_and_version_from_the_response(root, entry):
    out = {"predictions": [{"score": 0.91, "label": "decline"}], "model_version": "4.2.1"}
    no_label = {"predictions": [{"score": 0.42, "label": None}], "model_version": "4.2.1"}
    payload = {
        "amount": 250,
        "merchant": {"category": "electronics", "country": "IT"},
        "card": [17, 0.66],
        "hour": 23,
    }
    omitted = {"amount": 5.5, "merchant": {"category": "fuel", "country": "ES"}, "card": [900], "hour": 0}
    lines = [
        record(json.dumps(payload), json.dumps(out), event_id="e1", at="2026-09-01T23:59:59Z", enc_in="JSON",
               enc_out="JSON"),
        record(json.dumps(omitted), base64.b64encode(json.dumps(no_label).encode()).decode(), event_id="e2",
               at="2026-09-01T00:00:00Z", enc_in="JSON", enc_out="BASE64"),
    ]  # fmt: skip
    put(root, DAY, 23, "59-59-000-a.jsonl", lines)
    config = CaptureSourceConfig(
        uri=root,
        input_format="json",
        json_fields={
            "amount": "amount",
            "merchant_category": "merchant.category",
            "country": "merchant.country",
            "card_age_days": "card[0]",
            "device_score": "card[1]",
            "hour_of_day": "hour",
        },
        output_format="json",
        score_path="predictions[0].score",
        decision_path="predictions[0].label",
        decision_thresholds=THRESHOLDS,
        model_version_path="model_version",
    )

    frame = (
        CaptureSource(config, features=entry.monitoring.features, model_id="card_fraud").read_day(DAY).frame
    )

    assert rows(frame, ["event_id", *FEATURES, "score", "decision", "model_version"]) == [
        ("e1", 250.0, "electronics", "IT", 17.0, 0.66, 23.0, 0.91, "decline", "4.2.1"),
        ("e2", 5.5, "fuel", "ES", 900.0, None, 0.0, 0.42, "review", "4.2.1"),  # omitted key: null
    ]
    conform(frame, entry, "capture")


def test_json_batch_gives_a_row_per_element_and_request_fields_apply_to_each(root):
    request = {"country": "DE", "instances": [{"amount": 10}, {"amount": 20.5}, {"amount": None}]}
    response = {"predictions": [{"score": 0.1}, {"score": 0.5}, {"score": 0.8}]}
    put(root, DAY, 9, "00-00-000-b.jsonl", [
        record(json.dumps(request), json.dumps(response), event_id="e9", inference_id="req-9",
               at="2026-09-01T09:00:00Z", enc_in="JSON", enc_out="JSON"),
    ])  # fmt: skip
    config = CaptureSourceConfig(
        uri=root,
        input_format="json",
        json_fields={"amount": "instances[*].amount", "country": "country"},
        output_format="json",
        score_path="predictions[*].score",
        decision_thresholds=THRESHOLDS,
    )

    frame = CaptureSource(config, model_id="card_fraud").read_day(DAY).frame

    assert rows(frame, ["event_id", "amount", "country", "score", "decision"]) == [
        ("req-9:0", 10.0, "DE", 0.1, "approve"),
        ("req-9:1", 20.5, "DE", 0.5, "review"),
        ("req-9:2", None, "DE", 0.8, "decline"),
    ]
    assert frame["model_version"].isna().all()  # neither model_version nor model_version_path given


def test_csv_batch_answered_on_one_line_and_a_decision_column(root):
    put(root, DAY, 10, "a.jsonl", [
        record("1,grocery,DE,1,0.1,10\n2,grocery,DE,2,0.2,10", "0.15,0.75", event_id="b1",
               at="2026-09-01T10:00:00Z"),
    ])  # fmt: skip
    put(root, DAY, 11, "a.jsonl", [
        record("3,fuel,FR,3,0.3,11", "0.55,manual_review", event_id="c1", at="2026-09-01T11:00:00Z"),
    ])  # fmt: skip
    one_line = CaptureSource(csv_config(root), model_id="card_fraud").read_day(DAY).frame.iloc[:2]
    assert rows(one_line, ["event_id", "amount", "score", "decision"]) == [
        ("b1:0", 1.0, 0.15, "approve"),
        ("b1:1", 2.0, 0.75, "decline"),
    ]
    shutil.rmtree(Path(root.removeprefix("file://")) / "2026/09/01/10")
    labelled = CaptureSource(csv_config(root, decision_column=1), model_id="card_fraud").read_day(DAY).frame
    assert rows(labelled, ["event_id", "score", "decision"]) == [("c1", 0.55, "manual_review")]


def test_feature_types_come_from_the_inventory_or_are_inferred(root, entry):
    """A categorical code that looks numeric stays text when the inventory says categorical."""
    put(root, DAY, 1, "a.jsonl", [csv_record(1, "2026-09-01T01:00:00Z", "5,5411,NA,1,0.5,1")])
    typed = (
        CaptureSource(csv_config(root), features=entry.monitoring.features, model_id="m").read_day(DAY).frame
    )
    assert rows(typed, ["merchant_category", "country"]) == [("5411", "NA")]  # "NA" is Namibia, not null
    inferred = CaptureSource(csv_config(root), model_id="m").read_day(DAY).frame
    assert inferred["merchant_category"].tolist() == [5411.0]
    assert inferred["country"].tolist() == ["NA"]


def test_a_null_in_feature_order_skips_an_input_column(root):
    put(root, DAY, 2, "a.jsonl", [csv_record(1, "2026-09-01T02:00:00Z", "7.5,ignored,DE", "0.9")])
    frame = (
        CaptureSource(csv_config(root, feature_order=["amount", None, "country"]), model_id="m")
        .read_day(DAY)
        .frame
    )
    assert rows(frame, ["amount", "country", "score"]) == [(7.5, "DE", 0.9)]
    assert "None" not in frame.columns and "_skip1" not in frame.columns


# -- the day's hour folders -------------------------------------------------------------------------
def test_reads_hour_folders_00_to_23_of_the_utc_day_and_nothing_of_the_next(root, entry):
    put(root, DAY - timedelta(days=1), 23, "59-00-000-x.jsonl", [csv_record(1, "2026-08-31T23:59:00Z")])
    put(root, DAY, 0, "00-01-000-x.jsonl", [
        csv_record(2, "2026-08-31T23:59:58Z"),  # written after midnight: filed under today's 00
        csv_record(3, "2026-09-01T00:00:03Z"),
    ])  # fmt: skip
    put(root, DAY, 12, "30-00-000-x.jsonl", [csv_record(4, "2026-09-01T12:30:00Z")])
    put(root, DAY, 23, "59-59-000-x.jsonl", [csv_record(5, "2026-09-01T23:59:59.999Z")])
    put(root, DAY, 23, "README.txt", b"not a capture file")
    put(root, DAY + timedelta(days=1), 0, "00-00-000-x.jsonl", [csv_record(6, "2026-09-02T00:00:00Z")])

    source = CaptureSource(csv_config(root), features=entry.monitoring.features, model_id="card_fraud")
    data = source.read_day(DAY)

    assert data.frame["event_id"].tolist() == ["ev-0002", "ev-0003", "ev-0004", "ev-0005"]
    assert [f.uri.split("AllTraffic/")[1] for f in data.files] == [
        "2026/09/01/00/00-01-000-x.jsonl",
        "2026/09/01/12/30-00-000-x.jsonl",
        "2026/09/01/23/59-59-000-x.jsonl",
    ]
    assert data.out_of_day == 1  # kept with its true time, as the out_of_day_rate control sees it
    reference = {"daily_rows": [4, 4], "null_rates": {}}
    rate = {m.metric: m.value for m in check_quality_extras(data.frame, entry, reference, DAY)}
    assert rate["out_of_day_rate"] == pytest.approx(1 / 4)
    assert rate["extra_column_count"] == 0  # _dt, model_id and model_version are expected columns


def test_a_day_without_capture_files_names_the_prefix_and_what_to_check(root):
    put(root, DAY + timedelta(days=1), 0, "a.jsonl", [csv_record(1, "2026-09-02T00:00:00Z")])
    with pytest.raises(NoDataError) as err:
        CaptureSource(csv_config(root), model_id="card_fraud").read_day(DAY)
    message = str(err.value)
    assert f"{root}2026/09/01/" in message
    assert "data capture is enabled" in message and "sampling percentage is above 0" in message


def test_capture_files_without_records_are_no_data(root):
    put(root, DAY, 5, "a.jsonl", b"")
    put(root, DAY, 6, "b.jsonl", b"\n")
    with pytest.raises(NoDataError, match=r"2 SageMaker capture file.* hold no records"):
        CaptureSource(csv_config(root), model_id="card_fraud").read_day(DAY)


# -- bad input ---------------------------------------------------------------------------------------
OK = csv_record(1, "2026-09-01T07:00:00Z")


@pytest.mark.parametrize(
    ("lines", "line", "reason"),
    [
        ([OK, OK, '{"captureData": {"endpointInput": {"data": "1,2'], 3, "not JSON"),
        ([OK, "", OK, "[1, 2]"], 4, "a JSON list, not a capture record object"),
        ([OK, record("1,a,DE,1,0.1,7", "0.5", event_id="x", at=None)], 2, "no eventMetadata.inferenceTime"),
        ([record("1,a,DE,1,0.1,7", "0.5", event_id="x", at="yesterday")], 1,
         "'yesterday' is not an ISO 8601"),
        ([OK, record("1,a,DE,1,7", "0.5", event_id="x", at="2026-09-01T07:00:00Z")], 2,
         "endpointInput CSV row 1 has 5 CSV fields, expected 6"),
        ([record("1,a,DE,1,0.1,7\n2,a,DE,2,7", "0.5\n0.6", event_id="x", at="2026-09-01T07:00:00Z")], 1,
         "endpointInput CSV row 2 has 5 CSV fields"),
        ([OK, record("abc,a,DE,1,0.1,7", "0.5", event_id="x", at="2026-09-01T07:00:00Z")], 2,
         "feature amount = \"abc\" is not a number"),
        ([record("1,a,DE,1,0.1,7", "high", event_id="x", at="2026-09-01T07:00:00Z")], 1,
         "score \"high\" is not a number"),
        ([record("1,a,DE,1,0.1,7\n2,a,DE,1,0.1,7", "0.5\n0.6\n0.7", event_id="x", at="2026-09-01T07:00:00Z")],
         1, "endpointOutput has 3 CSV line(s) for 2 input row(s)"),
        ([record("%%%", "0.5", event_id="x", at="2026-09-01T07:00:00Z", enc_in="BASE64")], 1,
         "endpointInput.data (BASE64, observedContentType 'application/x-foo') does not decode"),
        ([record("1,a,DE,1,0.1,7", "0.5", event_id="x", at="2026-09-01T07:00:00Z", enc_out="GZIP")], 1,
         "captureData.endpointOutput.encoding is 'GZIP'"),
        ([OK, OK, json.dumps({"captureData": {"endpointInput": {"data": 5}}, "eventMetadata": {}})], 3,
         "captureData.endpointInput.data is a int, expected a string"),
        ([OK, json.dumps({"captureData": {}})], 2, "eventMetadata has neither inferenceId nor eventId"),
        ([json.dumps({"captureData": {"endpointInput": side("INPUT", "1,a,DE,1,0.1,7")},
                      "eventMetadata": {"eventId": "x", "inferenceTime": "2026-09-01T07:00:00Z"}})], 1,
         "no captureData.endpointOutput.data (capture the response"),
    ],
)  # fmt: skip
def test_a_bad_record_is_reported_with_its_file_line_and_reason(root, entry, lines, line, reason):
    put(root, DAY, 6, "00-00-000-good.jsonl", [OK, OK])
    bad = put(root, DAY, 7, "00-00-000-bad.jsonl", lines)
    with pytest.raises(SchemaError) as err:
        CaptureSource(csv_config(root), features=entry.monitoring.features, model_id="card_fraud").read_day(
            DAY
        )
    message = str(err.value)
    assert f"{bad} line {line}: " in message, message
    assert reason in message, message
    assert message.startswith("card_fraud: SageMaker capture for 2026-09-01 has 1 unreadable record(s)")
    assert "fix the capture config in the inventory or the endpoint, then rerun the date" in message
    assert message.endswith("allow them with max_bad_records)")


def test_a_line_that_is_not_utf8_is_reported(root):
    good = csv_record(1, "2026-09-01T07:00:00Z").encode()
    bad = put(root, DAY, 7, "x.jsonl", good + b"\n" + b'{"captureData": "\xff\xfe"}\n')
    with pytest.raises(SchemaError, match=rf"{bad} line 2: not UTF-8"):
        CaptureSource(csv_config(root), model_id="m").read_day(DAY)


def test_max_bad_records_skips_and_lists_them_and_still_fails_beyond(root):
    put(root, DAY, 7, "x.jsonl", [OK, "{truncated", csv_record(2, "2026-09-01T07:01:00Z")])
    bad2 = put(root, DAY, 8, "y.jsonl", [csv_record(3, "2026-09-01T08:00:00Z", score="n/a")])

    data = CaptureSource(csv_config(root, max_bad_records=2), model_id="m").read_day(DAY)
    assert data.frame["event_id"].tolist() == ["ev-0001", "ev-0002"]
    assert len(data.unreadable) == 2
    assert data.unreadable[0].endswith("x.jsonl line 2: not JSON (Expecting property name enclosed in double "
                                       "quotes: line 1 column 2 (char 1)) (skipped)")  # fmt: skip
    assert data.unreadable[1] == f'{bad2} line 1: score "n/a" is not a number (skipped)'
    assert data.records == 2

    with pytest.raises(SchemaError, match=r"has 2 unreadable record\(s\) of 4, more than max_bad_records=1"):
        CaptureSource(csv_config(root, max_bad_records=1), model_id="m").read_day(DAY)


def test_many_bad_records_are_counted_not_all_quoted(root):
    put(root, DAY, 7, "x.jsonl", ["{"] * 10)
    with pytest.raises(SchemaError, match=r"has 10 unreadable .* \(and 7 more bad records\)"):
        CaptureSource(csv_config(root), model_id="m").read_day(DAY)


def test_a_json_path_no_payload_has_is_a_config_error(root):
    put(root, DAY, 7, "x.jsonl", [
        record('{"amount": 1}', '{"score": 0.2}', event_id="a", at="2026-09-01T07:00:00Z", enc_in="JSON",
               enc_out="JSON"),
    ])  # fmt: skip
    config = CaptureSourceConfig(
        uri=root,
        input_format="json",
        json_fields={"amount": "amount", "country": "features.country"},
        output_format="json",
        score_path="score",
        decision_thresholds=THRESHOLDS,
    )
    with pytest.raises(
        SchemaError, match=r"country: 'features.country' found in none of the 1 JSON payloads"
    ):
        CaptureSource(config, model_id="m").read_day(DAY)


def test_json_output_without_the_score_path_or_with_a_wrong_batch_size(root):
    put(root, DAY, 7, "x.jsonl", [
        record('{"amount": 1}', '{"result": 0.2}', event_id="a", at="2026-09-01T07:00:00Z", enc_in="JSON",
               enc_out="JSON"),
        record('{"instances": [{"amount": 1}, {"amount": 2}]}', '{"predictions": [{"score": 0.2}]}',
               event_id="b", at="2026-09-01T07:00:00Z", enc_in="JSON", enc_out="JSON"),
        record('{"amount": 3, "instances": [{"amount": 4}]}', '{"predictions": [{"score": 0.9}]}',
               event_id="c", at="2026-09-01T07:00:00Z", enc_in="JSON", enc_out="JSON"),
    ])  # fmt: skip
    base = dict(uri=root, input_format="json", output_format="json", decision_thresholds=THRESHOLDS)
    single = CaptureSourceConfig(
        **base, json_fields={"amount": "amount"}, score_path="predictions[0].score", max_bad_records=5
    )
    data = CaptureSource(single, model_id="m").read_day(DAY)
    assert len(data.unreadable) == 1  # the batch request has no "amount": a null, and one score
    assert "x.jsonl line 1: endpointOutput has no 'predictions[0].score'" in data.unreadable[0]
    batch = CaptureSourceConfig(
        **base,
        json_fields={"amount": "instances[*].amount"},
        score_path="predictions[*].score",
        max_bad_records=5,
    )
    data = CaptureSource(batch, model_id="m").read_day(DAY)
    assert "line 1: endpointInput has no batch at 'instances[*].amount'" in data.unreadable[0]
    assert (
        "line 2: endpointOutput has 1 score(s) at 'predictions[*].score' for 2 input rows"
        in data.unreadable[1]
    )
    assert data.frame["amount"].tolist() == [4.0]
    assert CaptureSource(single, model_id="m").read_day(DAY).frame["amount"].tolist()[-1] == 3.0
    put(root, DAY, 7, "x.jsonl", [json.dumps(json.loads(line)) for line in ["{}"]])
    with pytest.raises(NoDataError, match="no readable SageMaker capture records"):
        CaptureSource(batch, model_id="m").read_day(DAY)


# -- several days, and what identifies them ----------------------------------------------------------
def test_read_days_reports_missing_days_and_a_changed_file_changes_the_identity(root, entry):
    put(root, DAY, 3, "a.jsonl", [csv_record(1, "2026-09-01T03:00:00Z")])
    later = DAY + timedelta(days=2)
    put(root, later, 4, "a.jsonl", [csv_record(2, "2026-09-03T04:00:00Z")])
    source = CaptureSource(csv_config(root), features=entry.monitoring.features, model_id="card_fraud")

    window = source.read_days([DAY, DAY + timedelta(days=1), later])
    assert window.frame["_dt"].tolist() == [DAY, later]
    assert window.missing_days == [DAY + timedelta(days=1)]
    assert len(window.files) == 2

    before = source.identity([DAY, later])
    assert source.identity([DAY, later]) == before  # found without reading, the same until a file changes
    time.sleep(0.01)
    put(
        root,
        later,
        4,
        "a.jsonl",
        [csv_record(2, "2026-09-03T04:00:00Z"), csv_record(3, "2026-09-03T04:00:01Z")],
    )
    assert source.identity([DAY, later]) != before
    assert source.read_days([later]).frame["event_id"].tolist() == ["ev-0002", "ev-0003"]


# -- S3 --------------------------------------------------------------------------------------------
@pytest.fixture
def s3_root(aws) -> str:
    import boto3

    boto3.client("s3").create_bucket(Bucket="ml-capture")
    return "s3://ml-capture/datacapture/card-fraud-prod/AllTraffic/"


def test_reads_capture_files_from_s3(s3_root, entry):
    documented = put(s3_root, DAY, 8, DOCUMENTED.name, DOCUMENTED.read_bytes())
    last = put(s3_root, DAY, 23, "59-59-999-z.jsonl", [csv_record(7, "2026-09-01T23:59:59Z", score="0.71")])
    put(s3_root, DAY + timedelta(days=1), 0, "00-00-001-z.jsonl", [csv_record(8, "2026-09-02T00:00:00Z")])
    put(s3_root, DAY - timedelta(days=1), 23, "59-59-999-z.jsonl", [csv_record(9, "2026-08-31T23:59:59Z")])
    source = CaptureSource(csv_config(s3_root), features=entry.monitoring.features, model_id="card_fraud")

    data = source.read_day(DAY)

    assert [f.uri for f in data.files] == [documented, last]
    assert all(len(f.etag) == 32 for f in data.files)
    assert data.frame["event_id"].tolist()[-2:] == ["batch-17:2", "ev-0007"]
    assert rows(data.frame.tail(1), ["amount", "country", "score", "decision"]) == [
        (10.0, "DE", 0.71, "decline")
    ]
    assert len(data.frame) == 7
    assert source.read_days([DAY]).frame.equals(data.frame)

    with pytest.raises(
        NoDataError, match=r"under s3://ml-capture/datacapture/card-fraud-prod/AllTraffic/2026/09/05/"
    ):
        source.read_day(date(2026, 9, 5))


def test_a_bad_line_on_s3_is_named_by_its_s3_uri(s3_root):
    bad = put(s3_root, DAY, 13, "a.jsonl", [OK, OK, OK, "not json"])
    with pytest.raises(SchemaError, match=rf"{bad} line 4: not JSON"):
        CaptureSource(csv_config(s3_root), model_id="m").read_day(DAY)


# -- speed -----------------------------------------------------------------------------------------
def test_decode_speed_at_100k_records(root, entry, capsys):
    """100k captured CSV invocations in 250 files over the 24 hours: measured and printed, not asserted."""
    rng = np.random.default_rng(7)
    cats = ["grocery", "electronics", "travel", "fashion", "digital_goods", "fuel"]
    n, files = 100_000, 250
    amount, card, dev, score = (
        rng.gamma(2, 50, n),
        rng.integers(0, 5000, n),
        rng.uniform(size=n),
        rng.uniform(size=n),
    )
    per = n // files
    for f in range(files):
        hour = f * 24 // files
        lines = [
            record(
                f"{amount[i]:.2f},{cats[i % 6]},DE,{card[i]},{dev[i]:.4f},{hour}",
                f"{score[i]:.6f}",
                event_id=f"{i:08d}-5f6a-4c2e-9a3c-2d8e1f4b6a70",
                at=f"2026-09-01T{hour:02d}:{f % 60:02d}:{i % 60:02d}Z",
            )
            for i in range(f * per, (f + 1) * per)
        ]
        put(root, DAY, hour, f"{f % 60:02d}-00-000-{f:03d}.jsonl", lines)
    source = CaptureSource(csv_config(root), features=entry.monitoring.features, model_id="card_fraud")

    started = time.perf_counter()
    data = source.read_day(DAY)
    seconds = time.perf_counter() - started

    assert len(data.frame) == n and len(data.files) == files
    index = data.frame["event_id"].str[:8].astype(int).to_numpy()
    assert sorted(index) == list(range(n))
    assert data.frame["score"].to_numpy() == pytest.approx(np.round(score[index], 6))
    with capsys.disabled():
        print(f"\n  decoded {n:,} capture records in {seconds:.2f} s ({n / seconds:,.0f} records/s)")


# -- bounds: hostile records are bad records, never a crash -------------------------------------------
def json_config(root_uri: str, **kw) -> CaptureSourceConfig:
    return CaptureSourceConfig(
        **{"uri": root_uri, "input_format": "json", "json_fields": {"amount": "amount"},
           "output_format": "json", "score_path": "score", "decision_thresholds": THRESHOLDS,
           "model_version": "1", **kw}
    )  # fmt: skip


def json_record(i: int, data_in: str, data_out: str = '{"score": 0.2}') -> str:
    return record(
        data_in, data_out, event_id=f"e{i}", at="2026-09-01T07:00:00Z", enc_in="JSON", enc_out="JSON"
    )


DEEP = "[" * 100_000 + "]" * 100_000  # json.loads: RecursionError


@pytest.mark.parametrize(
    ("payload", "response", "reason"),
    [
        (
            '{"amount": ' + DEEP + "}",
            '{"score": 0.2}',
            "endpointInput.data is not JSON (nested 100001 levels deep",
        ),
        (
            '{"amount": 1}',
            '{"score": ' + DEEP + "}",
            "endpointOutput.data is not JSON (nested 100001 levels deep",
        ),
        ('{"amount": 1, "pad": "' + "x" * 1_100_000 + '"}', '{"score": 0.2}', "characters, more than the"),
    ],
    ids=["deep request", "deep response", "huge request"],
)
def test_a_hostile_payload_is_one_bad_record_within_max_bad_records(root, payload, response, reason):
    """Security review finding 14: a deeply nested body raised RecursionError past max_bad_records."""
    bad = put(root, DAY, 7, "x.jsonl", [json_record(1, '{"amount": 5}'), json_record(2, payload, response)])

    data = CaptureSource(json_config(root, max_bad_records=1), model_id="m").read_day(DAY)
    assert data.frame["event_id"].tolist() == ["e1"]
    assert len(data.unreadable) == 1 and data.unreadable[0].startswith(f"{bad} line 2: ")
    assert reason in data.unreadable[0]

    with pytest.raises(SchemaError) as exc:
        CaptureSource(json_config(root), model_id="m").read_day(DAY)
    message = str(exc.value)
    assert message.startswith("m: SageMaker capture for 2026-09-01 has 1 unreadable record(s) of 2")
    assert "\n" not in message and "allow them with max_bad_records" in message


def test_a_deeply_nested_envelope_line_is_a_bad_record(root):
    line = (
        '{"captureData": '
        + DEEP
        + ', "eventMetadata": {"eventId": "x", "inferenceTime": "2026-09-01T07:00:00Z"}}'
    )
    put(root, DAY, 7, "x.jsonl", [json_record(1, '{"amount": 5}'), line])

    data = CaptureSource(json_config(root, max_bad_records=1), model_id="m").read_day(DAY)
    assert data.frame["event_id"].tolist() == ["e1"] and len(data.unreadable) == 1
    assert (
        "line 2: not JSON (nested" in data.unreadable[0]
        or "line 2: no captureData object" in data.unreadable[0]
    )


def test_the_depth_is_found_outside_strings():
    from mrm.sources.sagemaker import safejson

    assert safejson.depth('{"a": [1, {"b": "[[[[{{{{"}], "c": "\\"]]"}') == 3
    assert safejson.depth("[]") == 1 and safejson.depth('"x"') == 0
    nested = "[" * 64 + "]" * 64
    assert safejson.loads(nested) is not None  # the limit itself is allowed
    with pytest.raises(ValueError, match="nested 65 levels deep, more than the 64 allowed"):
        safejson.loads("[" + nested + "]")
