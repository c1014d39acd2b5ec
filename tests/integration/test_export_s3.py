"""`mrm export --to s3://bucket/prefix/` against a moto S3 server: a dt-partitioned Parquet dataset and
its Athena DDL; reading it back gives the exported rows."""

from __future__ import annotations

import io
import os

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.integration


def test_export_to_s3_round_trips(mrm_home, file_inventory, capsys):
    from mrm import pipeline
    from mrm.cli import main
    from mrm.core.storage import store_for
    from mrm.demo.s3 import start_local_s3
    from mrm.evidence.export import rows

    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    s3 = start_local_s3(bucket="mrm-audit")
    try:
        for day in ("2026-09-02", "2026-09-03"):
            assert main(["run", "--model", "aml_alert", "--date", day]) == 0
        assert main(["export", "--to", "s3://mrm-audit/history/"]) == 0
        assert "in 2 dt= partitions under s3://mrm-audit/history/" in capsys.readouterr().out

        store = store_for("s3://mrm-audit/history/")
        objects = sorted(o.uri for o in store.list("s3://mrm-audit/history/"))
        assert objects == [
            "s3://mrm-audit/history/athena_table.sql",
            "s3://mrm-audit/history/dt=2026-09-02/part-0000.parquet",
            "s3://mrm-audit/history/dt=2026-09-03/part-0000.parquet",
        ]
        back = [r for uri in objects[1:] for r in pq.read_table(io.BytesIO(store.get(uri))).to_pylist()]
        assert back == rows(pipeline.get_store(), None, None)
        assert b"LOCATION 's3://mrm-audit/history/'" in store.get(objects[0])
    finally:
        s3.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
