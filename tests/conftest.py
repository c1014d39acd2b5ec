"""Shared test set-up. Airflow reads its configuration at import, so the environment is set here,
before any test module imports airflow: a throwaway AIRFLOW_HOME on SQLite with this repo's dags/."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from support import clear_caches, local_inventory

from mrm.airflow import local as local_airflow

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="mrm_test_airflow_"))
local_airflow.configure(_AIRFLOW_HOME)
os.environ["MRM_TASK_RETRIES"] = "0"
os.environ.setdefault("MRM_CHAIN_KEY", "mrm-test-chain-key-0123456789abcdef")  # PostgreSQL histories need one
os.environ.setdefault("MRM_HOME", tempfile.mkdtemp(prefix="mrm_test_home_"))


@pytest.fixture
def mrm_home(tmp_path, monkeypatch) -> Path:
    """A fresh MRM_HOME (history, evidence) for one test."""
    home = tmp_path / "mrm_home"
    monkeypatch.setenv("MRM_HOME", str(home))
    monkeypatch.delenv("MRM_DB_URL", raising=False)
    monkeypatch.delenv("MRM_EVIDENCE", raising=False)
    clear_caches()
    yield home
    clear_caches()


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory) -> str:
    """The demo's scoring logs and labels for the first 34 days, as files (file:// URI)."""
    from mrm.demo.data import write_demo_data

    root = tmp_path_factory.mktemp("demo_data")
    uri = root.as_uri()
    write_demo_data(uri, days=34)
    return uri


@pytest.fixture
def file_inventory(tmp_path, monkeypatch, demo_files) -> Path:
    """The example inventory reading the file:// demo data; set as MRM_INVENTORY."""
    folder = local_inventory(tmp_path / "inventory", demo_files)
    monkeypatch.setenv("MRM_INVENTORY", str(folder))
    return folder


@pytest.fixture(scope="session")
def airflow_db():
    """A fresh Airflow metadata DB (SQLite) for the session."""
    local_airflow.reset_db()
    yield
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    return local_airflow.dagbag()


PG_ADMIN = os.environ.get("MRM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for the session on the local server; skipped where none answers."""
    import uuid

    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at {PG_ADMIN} ({str(exc.orig).splitlines()[0]})")
    name = f"mrm_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_history(request, tmp_path):
    """A fresh, empty metrics history on SQLite and, in a second run of the test, on PostgreSQL."""
    from support import empty_history

    from mrm.store import HistoryStore

    if request.param == "sqlite":
        store = HistoryStore(f"sqlite:///{tmp_path / 'db' / 'history.db'}")
    else:
        store = HistoryStore(request.getfixturevalue("pg_url"))
        empty_history(store.engine)
    yield store
    store.engine.dispose()


@pytest.fixture(scope="session")
def moto_endpoint():
    """One moto server on 127.0.0.1 for the session: the S3, SNS and Athena APIs over HTTP."""
    import logging

    from moto.server import ThreadedMotoServer

    from mrm.demo.s3 import free_port

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    """boto3 pointed at the session's moto server with dummy credentials; moto's state is reset after
    the test."""
    import urllib.request

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mrm-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mrm-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield moto_endpoint
    reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
