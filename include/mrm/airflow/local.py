"""Run this repo's DAGs through Airflow's own code on one machine (the demo, tests, ``make airflow``).

``configure`` must run before anything imports airflow: Airflow reads its configuration at import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from mrm.settings import REPO_ROOT


def airflow_env(airflow_home: Path, log_level: str = "WARNING") -> dict[str, str]:
    """The environment of a local Airflow on SQLite with this repo's dags/ and plugins/, which every local
    Airflow starts from (the demo, ``make airflow``, the browser tour, the tests' standalone and cluster);
    ``log_level``: Airflow's logging level (its own default is INFO)."""
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": log_level,
    }


def configure(airflow_home: Path) -> None:
    airflow_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_env(airflow_home))


def reset_db() -> None:
    from airflow.utils import db

    db.resetdb()


def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


def run_dag(dag: Any, day: date, log_file: Path | None = None) -> dict[str, str]:
    """Run one DAG for one logical date with ``dag.test()``; return the state of each task.

    ``log_file``: append Airflow's console output (task logs, tracebacks of failed tasks) there
    instead of the terminal.
    """
    for name in ("airflow", "airflow.task", "airflow.models", "airflow.sdk"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # dag.test() runs Airflow's execution API in-process through starlette's TestClient, which warns
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
    when = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if log_file is None:
        run = dag.test(logical_date=when)
    else:
        with log_file.open("a") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
            print(f"===== {dag.dag_id} {day} =====", flush=True)
            run = dag.test(logical_date=when)
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run.run_id).all()
        states = {ti.task_id: str(ti.state) for ti in tis}
    states["_dag_run"] = str(run.state)
    return states
