"""Run notes under a real scheduler and executor (``airflow standalone``: LocalExecutor, task
subprocesses), not only dag.test(): the listener plugin sets the note of each run when it ends, for a
scheduled run and for a run triggered through the REST API."""

from __future__ import annotations

import re

import pytest
from airflow_processes import Standalone
from support import local_inventory

pytestmark = pytest.mark.integration

DAG = "mrm_monitor__card_fraud"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, demo_files):
    home = tmp_path_factory.mktemp("standalone")
    inventory = local_inventory(home / "inventory", demo_files)  # the other DAGs stay paused
    env = {
        "MRM_HOME": str(home / "mrm"),
        "MRM_INVENTORY": str(inventory),
        "MRM_TASK_RETRIES": "0",
        "MRM_CATCHUP": "false",  # unpausing schedules only the latest day, not every day since September
    }
    running = Standalone(home, env).start()
    yield running
    running.stop()


def test_scheduled_and_triggered_runs_get_notes_from_the_history(airflow):
    airflow.wait(lambda: any(d["dag_id"] == DAG for d in airflow.api("GET", "/dags")["dags"]), 120, "the DAG")
    airflow.api("PATCH", f"/dags/{DAG}", json={"is_paused": False})
    triggered = airflow.api(
        "POST",
        f"/dags/{DAG}/dagRuns",
        json={"logical_date": "2026-09-05T00:00:00Z", "dag_run_id": "nl_incident"},
    )
    run = airflow.finished(DAG, triggered["dag_run_id"])
    assert run["state"] == "success"
    note = airflow.wait(lambda: airflow.dag_run(DAG, "nl_incident")["note"], 30, "the note")
    assert note.startswith("1 RED: null_rate(device_score){country=NL}=0.")
    assert re.search(r" > 0\.1 — tickets MRM-\d+$", note)

    # the scheduled run of the latest day: the demo data has no partition for it, so it cannot run
    def scheduled():
        runs = airflow.api("GET", f"/dags/{DAG}/dagRuns", params={"run_type": "scheduled"})["dag_runs"]
        return runs[0] if runs and runs[0]["state"] in ("success", "failed") else None

    failed = airflow.wait(scheduled, 300, "the scheduled run")
    assert failed["state"] == "failed"
    note = airflow.wait(lambda: airflow.dag_run(DAG, failed["dag_run_id"])["note"], 30, "the note")
    assert note.startswith("could not run: read scoring log: no scoring log partition for ")
    assert re.search(r" — ticket MRM-\d+$", note)
