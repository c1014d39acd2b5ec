"""Anchors on S3 with Object Lock in COMPLIANCE mode (a real moto server): written once, read back with
every version, so neither an overwrite nor a delete by the worker makes an anchor disappear; a bucket
without that lock is refused with one line saying what to do."""

from __future__ import annotations

import json
from datetime import date

import boto3
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select, update
from test_anchor import record, rewrite  # the attacker's tools, shared

from mrm.errors import StoreError
from mrm.store import HistoryStore, anchor, schema
from mrm.store.anchor.check import check

LOCKED = "mrm-anchors"


@pytest.fixture
def s3(aws, monkeypatch):
    monkeypatch.setenv("MRM_CHAIN_KEY", "anchor-test-chain-key-0123456789")
    client = boto3.client("s3")
    client.create_bucket(Bucket=LOCKED, ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(
        Bucket=LOCKED,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}},
        },
    )
    return client


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    yield s
    s.engine.dispose()


URI = f"s3://{LOCKED}/anchors/"


def test_anchors_on_a_locked_bucket_are_read_back(s3, store):
    for day in (1, 2):
        record(store, date(2026, 9, day))
        done = anchor.publish(store, URI)
        assert done.written and done.where == f"{URI}{done.seq:012d}.json"
    assert not anchor.publish(store, URI).written  # the head is already there: If-None-Match refuses
    checked = check(store, URI)
    assert checked.problems == [] and len(checked.anchors) == 2
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=LOCKED, Prefix="anchors/")["Contents"]]
    assert keys == [f"anchors/{a.seq:012d}.json" for a in checked.anchors]


def test_an_overwritten_anchor_still_counts_and_a_locked_version_cannot_be_deleted(s3, store):
    record(store, date(2026, 9, 1))
    done = anchor.publish(store, URI)
    key = f"anchors/{done.seq:012d}.json"
    m = schema.metric_results
    rewrite(store, lambda conn: conn.execute(update(m).where(m.c.status == "RED").values(status="GREEN")))
    # the worker (holding the chain key) re-signs an anchor of the rewritten chain over the old one
    with store.engine.connect() as conn:
        c = schema.chain
        entries = [
            [r.seq, r.chain_hash] for r in conn.execute(select(c.c.seq, c.c.chain_hash).order_by(c.c.seq))
        ]
    doc = json.loads(s3.get_object(Bucket=LOCKED, Key=key)["Body"].read())
    doc.update(entries=entries, chain_hash=entries[-1][1])
    ring = anchor.keyring_of(store)
    doc["signature"] = ring.mac(ring.current_id, anchor.canonical(doc))
    s3.put_object(Bucket=LOCKED, Key=key, Body=json.dumps(doc).encode())  # a new version, not a rewrite
    versions = s3.list_object_versions(Bucket=LOCKED, Prefix=key)["Versions"]
    assert len(versions) == 2
    original = next(v for v in versions if not v["IsLatest"])
    with pytest.raises(ClientError, match="AccessDenied"):  # COMPLIANCE: nobody deletes it before retention
        s3.delete_object(Bucket=LOCKED, Key=key, VersionId=original["VersionId"])
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(
            Bucket=LOCKED, Key=key, VersionId=original["VersionId"], BypassGovernanceRetention=True
        )
    s3.delete_object(Bucket=LOCKED, Key=key)  # a delete marker hides the key from a plain listing only
    problems = check(store, URI).problems
    assert len(problems) == 1 and problems[0].startswith("chain entry ")
    assert f"(s3://{LOCKED}/{key}?versionId={original['VersionId']}): the chain was rewritten" in problems[0]


@pytest.mark.parametrize(
    "lock, state",
    [
        (None, "does not have Object Lock enabled"),
        ({"Mode": "GOVERNANCE", "Days": 30}, "has Object Lock in GOVERNANCE mode, not COMPLIANCE"),
    ],
)
def test_a_bucket_without_compliance_object_lock_is_refused_in_one_line(s3, store, lock, state):
    bucket = "mrm-plain-anchors"
    if lock is None:
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": lock}},
        )
    record(store, date(2026, 9, 1))
    with pytest.raises(StoreError) as err:
        anchor.publish(store, f"s3://{bucket}/anchors/")
    message = str(err.value)
    assert message.startswith(
        f"refusing to anchor to s3://{bucket}: the bucket {state}; create the anchor bucket"
    )
    assert (
        message.endswith("so every anchor is locked without the writer needing s3:PutObjectRetention")
        and "\n" not in message
    )
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
