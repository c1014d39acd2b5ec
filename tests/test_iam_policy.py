"""deploy/iam/mrm-policy.json allows every AWS API call mrm makes, and not much else.

The calls are recorded, not guessed: this module runs mrm's AWS paths against a moto server (a
monitoring run reading S3 and writing its evidence to S3, an export, an Athena query, SageMaker capture
files, an SNS alert) with botocore's API calls recorded on the way, maps each to its IAM action and
resource, and evaluates the policy (Allow statements, wildcards, the s3:prefix condition) for each."""

from __future__ import annotations

import fnmatch
import json
import urllib.request
from datetime import date

import botocore.client
import pytest
from support import REPO, clear_caches, local_inventory

pytestmark = pytest.mark.integration

ACCOUNT, REGION, BUCKET = "123456789012", "us-east-1", "mrm-demo"
VALUES = {
    "ATHENA_RESULTS_BUCKET": BUCKET, "DATA_BUCKET": BUCKET, "EVIDENCE_BUCKET": BUCKET, "REGION": REGION,
    "ACCOUNT_ID": ACCOUNT, "ATHENA_WORKGROUP": "mrm", "GLUE_DATABASE": "mrm", "ANCHOR_BUCKET": "mrm-anchors",
}  # fmt: skip
ANCHOR = "arn:aws:s3:::mrm-anchors"
CHAIN_KEY = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:airflow/connections/mrm_chain_key-Ab12Cd"
DEMO_ONLY = {("s3", "CreateBucket"), ("s3", "ListBuckets"), ("athena", "CreateWorkGroup"),
             ("sns", "CreateTopic"), ("sqs", "CreateQueue")}  # fmt: skip


def policy() -> list[dict]:
    text = (REPO / "deploy" / "iam" / "mrm-policy.json").read_text()
    assert "ANCHOR_BUCKET" in text
    for name, value in VALUES.items():
        text = text.replace(name, value)
    return json.loads(text)["Statement"]


def iam_request(service: str, operation: str, params: dict) -> tuple[str, str, dict] | None:
    """(action, resource ARN, condition context) of one API call, as IAM evaluates it."""
    if service == "s3":
        bucket, key = params.get("Bucket"), params.get("Key")
        if operation == "ListObjectsV2":
            return "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": params.get("Prefix", "")}
        action = {"GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject",
                  "GetBucketLocation": "s3:GetBucketLocation"}[operation]  # fmt: skip
        return action, f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else ""), {}
    if service == "athena":
        workgroup = params.get("WorkGroup", "mrm")
        return f"athena:{operation}", f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{workgroup}", {}
    if service == "sns":
        return "sns:Publish", params["TopicArn"], {}
    raise AssertionError(f"an AWS call this test does not know how to authorise: {service} {operation}")


def _matches(st: dict, action: str, resource: str, context: dict) -> bool:
    if not any(fnmatch.fnmatchcase(action, a) for a in st["Action"]):
        return False
    if not any(fnmatch.fnmatchcase(resource, r) for r in st["Resource"]):
        return False
    like = st.get("Condition", {}).get("StringLike", {})
    return all(any(fnmatch.fnmatchcase(context.get(k, ""), p) for p in pats) for k, pats in like.items())


def allowed(action: str, resource: str, context: dict, extra: list[dict] = ()) -> bool:
    """IAM's evaluation: an explicit Deny wins over any Allow; otherwise some Allow must match.
    ``extra``: other statements attached to the same role (another policy)."""
    statements = [*policy(), *extra]
    if any(st["Effect"] == "Deny" and _matches(st, action, resource, context) for st in statements):
        return False
    return any(st["Effect"] == "Allow" and _matches(st, action, resource, context) for st in statements)


@pytest.fixture(scope="module")
def calls(tmp_path_factory, demo_files):
    """Run mrm's AWS paths against moto, recording every botocore API call."""
    import os

    from mrm.demo import data
    from mrm.demo.s3 import start_local_s3

    saved = {
        k: os.environ.get(k) for k in ("MRM_HOME", "MRM_INVENTORY", "MRM_EVIDENCE", "AIRFLOW_CONN_MRM_ATHENA")
    }
    s3 = start_local_s3()
    data.write_demo_data(f"s3://{BUCKET}", ("card_fraud",), days=6)
    _write_capture_file()  # test set-up, before recording: SageMaker writes these files, not mrm
    recorded: list[tuple[str, str, dict]] = []
    real = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        recorded.append((self.meta.service_model.service_name, operation, dict(params)))
        return real(self, operation, params)

    botocore.client.BaseClient._make_api_call = recording
    home = tmp_path_factory.mktemp("iam")
    try:
        inventory = local_inventory(home / "inventory", f"s3://{BUCKET}")
        os.environ.update(
            MRM_HOME=str(home), MRM_EVIDENCE=f"s3://{BUCKET}/evidence", MRM_INVENTORY=str(inventory)
        )
        clear_caches()
        _monitoring_run_and_export(home)
        _sns_alert()
        _athena_query(s3.endpoint)
        _capture_files()
    finally:
        botocore.client.BaseClient._make_api_call = real
        clear_caches()
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        s3.stop()
    return [c for c in recorded if (c[0], c[1]) not in DEMO_ONLY and c[0] != "sqs"]


def _monitoring_run_and_export(home):
    from mrm import pipeline
    from mrm.evidence.export import export

    pipeline.run_model("card_fraud", date(2026, 9, 5))
    export(pipeline.get_store(), f"s3://{BUCKET}/exports/", None, None, None)


def _sns_alert():
    import boto3

    from mrm.notify.base import Delivery
    from mrm.notify.channels.sns import SnsAlerts

    arn = boto3.client("sns", region_name=REGION).create_topic(Name="mrm-red")["TopicArn"]
    payload = {"subject": "[RED] card_fraud", "text": "t", "severity": "RED", "model_id": "card_fraud",
               "recipients": [], "lines": [], "links": {}}  # fmt: skip
    SnsAlerts(severities={"RED": arn}, region=REGION).deliver(Delivery("k1", "sns", "alert.red", payload))


def _athena_query(endpoint: str):
    import os

    import boto3

    from mrm.sources.athena.source import AthenaSource

    boto3.client("athena", region_name=REGION).create_work_group(Name="mrm", Configuration={})
    extra = {"region_name": REGION, "s3_staging_dir": f"s3://{BUCKET}/mrm/athena/", "work_group": "mrm",
             "table": "card_fraud_scoring_log", "endpoint_url": endpoint}  # fmt: skip
    os.environ["AIRFLOW_CONN_MRM_ATHENA"] = json.dumps({"conn_type": "aws", "schema": "mrm", "extra": extra})
    rows = [
        {"Data": [{"VarCharValue": "event_id"}, {"VarCharValue": "score"}, {"VarCharValue": "dt"}]},
        {"Data": [{"VarCharValue": "e1"}, {"VarCharValue": "0.5"}, {"VarCharValue": "2026-09-05"}]},
    ]
    info = [{"Name": n, "Type": t, "Label": n, "CatalogName": "hive", "SchemaName": "", "TableName": "",
             "Nullable": "UNKNOWN", "Precision": 0, "Scale": 0, "CaseSensitive": False}
            for n, t in (("event_id", "varchar"), ("score", "double"), ("dt", "varchar"))]  # fmt: skip
    body = json.dumps({"results": [{"rows": rows, "column_info": info}]}).encode()
    req = urllib.request.Request(f"{endpoint}/moto-api/static/athena/query-results", data=body,
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    urllib.request.urlopen(req).close()
    # pyathena reads result files through pyarrow's own S3 client, which ignores AWS_ENDPOINT_URL: point
    # it at moto (its reads are the s3:GetObject / s3:ListBucket the policy grants on the result location)
    from pyarrow import fs
    from pyathena.arrow.result_set import AthenaArrowResultSetMetadataReader

    original = AthenaArrowResultSetMetadataReader._create_s3_file_system
    AthenaArrowResultSetMetadataReader._create_s3_file_system = lambda self: fs.S3FileSystem(
        region=REGION, access_key="mrm-demo", secret_key="mrm-demo", endpoint_override=endpoint
    )
    try:
        AthenaSource({"unload": False, "poll_seconds": 0.01}, model_id="card_fraud").read_day(
            date(2026, 9, 5)
        )
    finally:
        AthenaArrowResultSetMetadataReader._create_s3_file_system = original


CAPTURE = f"s3://{BUCKET}/datacapture/card-fraud-prod/AllTraffic/"


def _write_capture_file():
    from mrm.core.storage import store_for

    record = {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                                "data": "1.0,grocery,DE,10,0.5,8", "encoding": "CSV"},
                              "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                                 "data": "0.2", "encoding": "CSV"}},
              "eventMetadata": {"eventId": "e1", "inferenceTime": "2026-09-05T08:00:00Z"},
              "eventVersion": "0"}  # fmt: skip
    store_for(CAPTURE).put(f"{CAPTURE}2026/09/05/08/c.jsonl", (json.dumps(record) + "\n").encode())


def _capture_files():
    from mrm.inventory.sources import CaptureSourceConfig
    from mrm.sources.sagemaker.source import CaptureSource

    config = CaptureSourceConfig(uri=CAPTURE, input_format="csv", output_format="csv", model_version="4.2.0",
                                 feature_order=["amount", "merchant_category", "country", "card_age_days",
                                                "device_score", "hour_of_day"],
                                 decision_thresholds=[[0.0, "approve"], [0.3, "review"]])  # fmt: skip
    CaptureSource(config, model_id="card_fraud").read_day(date(2026, 9, 5))


def test_mrm_calls_the_aws_apis_the_policy_is_written_for(calls):
    seen = {(service, operation) for service, operation, _ in calls}
    assert {("s3", "ListObjectsV2"), ("s3", "GetObject"), ("s3", "PutObject"), ("sns", "Publish"),
            ("athena", "StartQueryExecution"), ("athena", "GetQueryExecution")} <= seen  # fmt: skip


def test_every_recorded_aws_call_is_allowed_by_the_policy(calls):
    requests = [iam_request(*c) for c in calls]
    denied = sorted({f"{a} {r} {ctx}" for a, r, ctx in requests if not allowed(a, r, ctx)})
    assert denied == []
    assert len(requests) > 20


def test_the_policy_denies_what_mrm_must_not_do():
    assert not allowed("s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/evidence/x", {})
    assert not allowed(
        "s3:PutObject", f"arn:aws:s3:::{BUCKET}/scoring/card_fraud/dt=2026-09-05/x.parquet", {}
    )
    assert not allowed("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "hr/salaries/"})
    assert not allowed(
        "athena:StartQueryExecution", f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/primary", {}
    )
    assert not allowed("sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT}:payments-ops", {})


ANCHOR_LOCK_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention",
                       "s3:PutObjectLegalHold", "s3:BypassGovernanceRetention")  # fmt: skip


def test_workers_may_write_and_read_anchors_but_never_remove_or_unlock_one():
    assert allowed("s3:PutObject", f"{ANCHOR}/anchors/2026-09-05T01-00-00Z.json", {})
    assert allowed("s3:GetObject", f"{ANCHOR}/anchors/2026-09-05T01-00-00Z.json", {})
    assert allowed("s3:ListBucket", ANCHOR, {"s3:prefix": "anchors/"})
    assert not allowed("s3:PutObject", f"{ANCHOR}/elsewhere/x.json", {})
    admin_too = [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}]  # even beside a broad policy
    for action in ANCHOR_LOCK_ACTIONS:
        for extra in ((), admin_too):
            assert not allowed(action, f"{ANCHOR}/anchors/2026-09-05T01-00-00Z.json", {}, extra), action
    for extra in ((), admin_too):
        assert not allowed("s3:PutBucketObjectLockConfiguration", ANCHOR, {}, extra)
        assert not allowed("s3:PutLifecycleConfiguration", ANCHOR, {}, extra)


def test_workers_may_read_the_chain_key_secret_and_no_other():
    assert allowed("secretsmanager:GetSecretValue", CHAIN_KEY, {})
    other = (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:airflow/connections/mrm_chain_key_backup-Ab12Cd"
    )
    assert not allowed("secretsmanager:GetSecretValue", other, {})
    assert not allowed("secretsmanager:GetSecretValue", CHAIN_KEY.replace(ACCOUNT, "999999999999"), {})
    assert not allowed("secretsmanager:PutSecretValue", CHAIN_KEY, {})
    assert not allowed("secretsmanager:ListSecrets", "*", {})
