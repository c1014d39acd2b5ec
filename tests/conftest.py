"""Shared test set-up. Airflow reads its configuration at import, so the environment is set here,
before any test module imports airflow: a throwaway AIRFLOW_HOME on SQLite with this repo's dags/."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from mrm import local_airflow

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="mrm_test_airflow_"))
local_airflow.configure(_AIRFLOW_HOME)
os.environ["MRM_TASK_RETRIES"] = "0"
os.environ.setdefault("MRM_HOME", tempfile.mkdtemp(prefix="mrm_test_home_"))

REPO = Path(__file__).resolve().parents[1]
INVENTORY = REPO / "include" / "inventory"


def _clear_caches() -> None:
    from mrm import pipeline

    pipeline._store.cache_clear()
    pipeline._reference.cache_clear()


@pytest.fixture
def mrm_home(tmp_path, monkeypatch) -> Path:
    """A fresh MRM_HOME (history, evidence) for one test."""
    home = tmp_path / "mrm_home"
    monkeypatch.setenv("MRM_HOME", str(home))
    monkeypatch.delenv("MRM_DB_URL", raising=False)
    monkeypatch.delenv("MRM_EVIDENCE", raising=False)
    _clear_caches()
    yield home
    _clear_caches()


def local_inventory(folder: Path, data_uri: str, models: tuple[str, ...] | None = None) -> Path:
    """Copy the example inventory, pointing its sources at ``data_uri`` instead of s3://mrm-demo."""
    folder.mkdir(parents=True, exist_ok=True)
    for src in sorted(INVENTORY.glob("*.yaml")):
        if models is None or src.stem in models:
            (folder / src.name).write_text(src.read_text().replace("s3://mrm-demo", data_uri))
    return folder


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
