"""A SQLite history and file:// evidence live on one machine: refused, in one line, when Airflow's
executor runs tasks on other machines (each Celery or Kubernetes worker would keep its own), unless
MRM_ALLOW_LOCAL_STATE=1 says every worker shares this disk."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support import REPO

from mrm import settings
from mrm.errors import ConfigError


@pytest.fixture
def unset(monkeypatch, tmp_path):
    monkeypatch.setenv("MRM_HOME", str(tmp_path / "home"))
    for name in ("MRM_DB_URL", "MRM_EVIDENCE", "MRM_ALLOW_LOCAL_STATE", "AIRFLOW__CORE__EXECUTOR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    "executor", ["CeleryExecutor", "KubernetesExecutor", "LocalExecutor,CeleryExecutor",
                 "airflow.providers.celery.executors.celery_executor.CeleryExecutor", "edge:EdgeExecutor"],
)  # fmt: skip
def test_a_remote_executor_refuses_the_default_sqlite_history_and_file_evidence(unset, tmp_path, executor):
    unset.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    with pytest.raises(ConfigError) as db:
        settings.db_url()
    with pytest.raises(ConfigError) as evidence:
        settings.evidence_uri()
    remote = executor.split(",")[-1].rsplit(".", 1)[-1].split(":")[-1]
    assert str(db.value) == (
        f"MRM_DB_URL is unset, so it defaults to sqlite:///{tmp_path / 'home' / 'history.db'}, local to this "
        f"machine, but Airflow's executor is {remote}: each worker would keep its own history; set "
        "MRM_DB_URL to a PostgreSQL URL every worker reaches (or MRM_ALLOW_LOCAL_STATE=1 if every worker "
        "shares this machine's disk)"
    )
    assert str(evidence.value).startswith(f"MRM_EVIDENCE is unset, so it defaults to file://{tmp_path}/home/")
    assert "set MRM_EVIDENCE to an s3:// URI every worker reaches" in str(evidence.value)


def test_an_explicit_sqlite_url_or_file_evidence_is_refused_too(unset, tmp_path):
    unset.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    unset.setenv("MRM_DB_URL", f"sqlite:///{tmp_path}/shared.db")
    unset.setenv("MRM_EVIDENCE", (tmp_path / "ev").as_uri())
    with pytest.raises(ConfigError, match=r"^MRM_DB_URL is sqlite:///.*shared\.db, local to this machine"):
        settings.db_url()
    with pytest.raises(ConfigError, match=r"^MRM_EVIDENCE is file://.*/ev, local to this machine"):
        settings.evidence_uri()


def test_shared_state_passes_under_any_executor(unset):
    unset.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    unset.setenv("MRM_DB_URL", "postgresql+psycopg://mrm_app@db/mrm")
    unset.setenv("MRM_EVIDENCE", "s3://bucket/evidence")
    assert settings.db_url() == "postgresql+psycopg://mrm_app@db/mrm"
    assert settings.evidence_uri() == "s3://bucket/evidence"


@pytest.mark.parametrize("executor", [None, "LocalExecutor", "SequentialExecutor"])
def test_a_local_executor_keeps_the_local_defaults(unset, tmp_path, executor):
    if executor:
        unset.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    assert settings.db_url() == f"sqlite:///{tmp_path / 'home' / 'history.db'}"
    assert settings.evidence_uri() == (tmp_path / "home" / "evidence").as_uri()


@pytest.mark.parametrize("value", ["1", "true"])
def test_the_explicit_override_accepts_local_state(unset, tmp_path, value):
    unset.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    unset.setenv("MRM_ALLOW_LOCAL_STATE", value)
    assert settings.db_url().startswith("sqlite:///")
    assert settings.evidence_uri().startswith("file://")


def test_the_executor_in_airflow_cfg_counts_when_airflow_is_loaded(tmp_path):
    """A worker configured by airflow.cfg (no AIRFLOW__CORE__EXECUTOR): the guard asks Airflow's own
    configuration, in a fresh process where Airflow reads that file."""
    home = tmp_path / "airflow"
    home.mkdir()
    (home / "airflow.cfg").write_text("[core]\nexecutor = CeleryExecutor\n")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "MRM_DB_URL", "MRM_EVIDENCE"))
    }
    env.update(AIRFLOW_HOME=str(home), MRM_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO / "include"))
    code = (
        "import airflow.configuration\nfrom mrm import settings\nprint(settings.airflow_executors())\n"
        "try:\n    settings.db_url()\nexcept Exception as exc:\n    print(type(exc).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.stdout.splitlines()[-2:] == ["['CeleryExecutor']", "ConfigError"], done.stderr[-2000:]


def test_the_mrm_command_says_it_in_one_line(unset, tmp_path):
    env = {**os.environ, "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor", "PYTHONPATH": str(REPO / "include")}
    done = subprocess.run(
        [sys.executable, "-m", "mrm.cli", "tickets"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("mrm: error: MRM_DB_URL is unset, so it defaults to sqlite:///")
