"""A real multi-process Airflow on this machine, as production runs it, without Docker: CeleryExecutor
with the local Redis as broker and the local PostgreSQL as metadata database and result backend;
api-server, scheduler, dag-processor and a Celery worker as separate processes on 127.0.0.1. Two models
are triggered through the REST API; their metrics land in the PostgreSQL history and their runs get
notes. Every process started is stopped."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from airflow_processes import CeleryCluster
from support import local_inventory

pytestmark = pytest.mark.integration

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/7"
RUNS = {"card_fraud": "2026-09-05", "aml_alert": "2026-09-10"}  # each an incident day: RED controls


def _database(admin: sa.Engine) -> str:
    name = f"mrm_cluster_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return name


@pytest.fixture(scope="module")
def services():
    import redis

    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
        redis.Redis.from_url(REDIS).ping()
    except Exception as exc:
        pytest.skip(f"needs PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379: {exc}")
    names = [_database(admin), _database(admin)]
    yield f"{PG}/{names[0]}", f"{PG}/{names[1]}"
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def cluster(services, tmp_path_factory, demo_files):
    metadata_url, history_url = services
    home = tmp_path_factory.mktemp("cluster")
    env = {
        "MRM_HOME": str(home / "mrm"),
        "MRM_DB_URL": history_url,
        "MRM_INVENTORY": str(local_inventory(home / "inventory", demo_files)),
        "MRM_TASK_RETRIES": "0",
        "MRM_CATCHUP": "false",
        "MRM_ALLOW_LOCAL_STATE": "1",  # one machine: the worker shares the test's evidence folder
    }
    running = CeleryCluster(home, env, metadata_url, REDIS).start()
    yield running, history_url
    running.stop()
    assert running.alive() == []


def test_two_models_run_on_the_celery_worker_into_the_postgres_history_with_notes(cluster):
    airflow, history_url = cluster
    dags = {f"mrm_monitor__{m}" for m in RUNS}
    airflow.wait(lambda: dags <= {d["dag_id"] for d in airflow.api("GET", "/dags")["dags"]}, 180, "the DAGs")
    for model_id, day in RUNS.items():
        dag_id = f"mrm_monitor__{model_id}"
        airflow.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        airflow.api(
            "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": f"{day}T00:00:00Z", "dag_run_id": "t1"}
        )
    for model_id in RUNS:
        run = airflow.finished(f"mrm_monitor__{model_id}", "t1", timeout=600)
        assert run["state"] == "success", model_id

    engine = sa.create_engine(history_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT r.model_id, r.logical_date, r.triggered_by, count(m.id) AS metrics, "
            "sum(CASE WHEN m.status = 'RED' THEN 1 ELSE 0 END) AS red "
            "FROM mrm_runs r JOIN mrm_metrics m ON m.run_id = r.run_id "
            "WHERE r.triggered_by LIKE 'airflow:%/t1/%' GROUP BY 1, 2, 3"
        )).mappings().all()  # fmt: skip
    engine.dispose()
    assert {(r["model_id"], str(r["logical_date"])) for r in rows} == set(RUNS.items())
    for r in rows:
        assert r["metrics"] > 20 and r["red"] >= 1, r
    for model_id in RUNS:
        note = airflow.wait(
            lambda m=model_id: airflow.dag_run(f"mrm_monitor__{m}", "t1")["note"], 60, "a note"
        )
        assert note.split(":")[0].endswith("RED"), note
    ti = airflow.api("GET", "/dags/mrm_monitor__card_fraud/dagRuns/t1/taskInstances")["task_instances"]
    assert {t["task_id"] for t in ti if t["state"] == "success"} >= {"read_scoring_log", "record_results"}
    assert all(t["executor"] in (None, "CeleryExecutor") for t in ti)
