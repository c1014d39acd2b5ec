"""Object stores: an S3 object is streamed to disk only if it is still the listed version (a real S3 API
on 127.0.0.1: moto's server), local files are used in place, and the temporary copies are removed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mrm.core.storage import local_copies, store_for
from mrm.errors import SourceError

BUCKET = "mrm-objects"


@pytest.fixture
def s3(aws):
    import boto3

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return store_for(f"s3://{BUCKET}/")


def test_s3_objects_are_streamed_to_a_temporary_folder_removed_afterwards(s3):
    payload = {f"s3://{BUCKET}/day/part-{i}.parquet": os.urandom(3 * 2**20 + i) for i in range(2)}
    for uri, data in payload.items():
        s3.put(uri, data, overwrite=True)
    listed = s3.list(f"s3://{BUCKET}/day/")

    with local_copies(listed) as copies:
        assert [name for name, _ in copies] == sorted(payload)
        for name, path in copies:
            assert Path(path).read_bytes() == payload[name]
        folder = Path(copies[0][1]).parent
    assert not folder.exists()


def test_an_object_replaced_after_it_was_listed_is_not_read(s3):
    uri = f"s3://{BUCKET}/changing/part-0.parquet"
    s3.put(uri, b"first version", overwrite=True)
    (listed,) = s3.list(uri)
    s3.put(uri, b"second version", overwrite=True)

    with pytest.raises(SourceError, match=rf"cannot read {uri}: PreconditionFailed"), local_copies([listed]):
        pass


def test_local_files_are_used_in_place_and_named_without_escapes(tmp_path):
    folder = tmp_path / "dt=2026-09-05"
    folder.mkdir()
    (folder / "part-0.parquet").write_bytes(b"x")
    (listed,) = store_for(folder.as_uri()).list(folder.as_uri())
    assert "%3D" in listed.uri  # as Path.as_uri() writes it

    with local_copies([listed]) as [(name, path)]:
        assert path == str(folder / "part-0.parquet")
        assert name == f"file://{folder}/part-0.parquet"


def test_one_s3_client_per_process_and_aws_environment(aws, monkeypatch):
    """Stores share the process's client while the AWS environment is the same; another endpoint or
    other credentials get their own client, which reaches that endpoint."""
    from mrm.core.storage import S3Store, s3_client

    first, second = S3Store(), store_for(f"s3://{BUCKET}/")
    assert first._s3 is second._s3 is s3_client()
    assert first._s3.meta.endpoint_url == aws
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "another-key")
    assert s3_client() is not first._s3
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert s3_client().meta.endpoint_url == "http://127.0.0.1:9"
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mrm-test")  # the environment of the first client again
    assert s3_client() is first._s3
