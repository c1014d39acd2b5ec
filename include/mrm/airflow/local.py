"""Run this repo's DAGs through Airflow's own code on one machine (the demo, tests, ``make airflow``).

``configure`` must run before anything imports airflow: Airflow reads its configuration at import.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import logging
import os
import sqlite3
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from mrm.errors import ConfigError
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


class _LocalConnection(sqlite3.Connection):
    """A connection to the local metadata DB that syncs to disk at WAL checkpoints, not at each commit
    (``synchronous=NORMAL``; Airflow opens SQLite in WAL mode). A crash of this machine may lose the
    last commits of a local run, never the DB's integrity."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA synchronous=NORMAL")


# Airflow's SQLite connections wait this long for another process's write (sqlite3's default is 5 s): the
# demo's worker processes share one metadata DB
SQLITE_CONNECT_ARGS = {"timeout": 60, "factory": _LocalConnection}


def configure(airflow_home: Path) -> None:
    airflow_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_env(airflow_home))
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"] = f"{__name__}.SQLITE_CONNECT_ARGS"


def reset_db() -> None:
    from airflow.utils import db

    db.resetdb()
    _SYNCED.clear()


def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


def sync_dags() -> None:
    """Write this repo's DAGs to the metadata DB as ``dag.test()``'s bundle sync does, once, before
    several processes run DAGs side by side (so none of them inserts the same rows at the same time)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)


def quiet() -> None:
    """What a local run of DAGs does not print: Airflow's INFO lines, and the warning of starlette's
    TestClient, through which dag.test() runs Airflow's execution API in-process."""
    for name in ("airflow", "airflow.task", "airflow.models", "airflow.sdk"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*")


def run_dag(dag: Any, day: date, log_file: Path | None = None) -> dict[str, str]:
    """Run one DAG for one logical date as its scheduler would have; return the state of each task.

    The run is what the scheduler makes for that date (see :func:`scheduled_runs`): run type
    ``scheduled``, run id ``scheduled__<date>``, the data interval and run_after of the DAG's timetable,
    started now and ended when its tasks end. Its tasks run through ``dag.test()``'s loop.

    ``log_file``: append Airflow's console output (task logs, tracebacks of failed tasks) there
    instead of the terminal.
    """
    quiet()
    when = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with scheduled_runs():
        if log_file is None:
            run = dag.test(logical_date=when)
        else:
            captured = io.StringIO()
            try:
                with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                    print(f"===== {dag.dag_id} {day} =====", flush=True)
                    run = dag.test(logical_date=when)
            finally:
                _append(log_file, captured.getvalue())
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run.run_id).all()
        states = {ti.task_id: str(ti.state) for ti in tis}
    states["_dag_run"] = str(run.state)
    return states


def _append(log_file: Path, text: str) -> None:
    """One run's output in one piece, though other processes append to the same file."""
    with log_file.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(text)


@contextlib.contextmanager
def scheduled_runs() -> Iterator[None]:
    """While open, ``dag.test()`` creates the run the scheduler would have created for its logical date.

    ``dag.test()`` makes a *manual* run (``manual__<now>``, run_after now, started "at" the logical date,
    so a run of September lasts months in Airflow's pages) through
    ``airflow.models.dagrun.get_or_create_dagrun``, a helper that exists for ``dag.test()`` alone and
    that it imports when called. That one helper is swapped for :func:`_scheduled_dagrun`, which creates
    the run the way the scheduler's ``_create_dag_runs`` does: the DAG's timetable gives the run info
    for the date, ``timetable.generate_run_id`` its id, and ``create_dagrun(run_type=SCHEDULED,
    triggered_by=TIMETABLE)`` the row, started now as the scheduler does when it starts a queued run.
    Everything else stays Airflow's: the bundle sync, the loop that schedules and runs the tasks, the
    listeners (the run notes), the end date set when the run ends. Re-implementing that loop here
    would copy some 150 lines of Airflow that change between releases; passing ``run_after`` alone
    would still make a manual run.

    ``dag.test()`` also parses the whole DAG folder again and writes every DAG of it to the metadata DB
    on each call (so that sibling DAGs exist). The folder does not change while a process runs DAGs, so
    its first parse in the process is kept (:func:`_parsed_once`) and written once (:func:`_synced_once`):
    an unchanged DAG's write is a no-op that still costs a parse and a serialisation per run."""
    from airflow.dag_processing import dagbag
    from airflow.models import dagrun

    originals = (dagrun.get_or_create_dagrun, dagbag.BundleDagBag, dagbag.sync_bag_to_db)
    dagrun.get_or_create_dagrun = _scheduled_dagrun
    dagbag.BundleDagBag = functools.partial(_parsed_once, originals[1])
    dagbag.sync_bag_to_db = functools.partial(_synced_once, originals[2])
    try:
        yield
    finally:
        dagrun.get_or_create_dagrun, dagbag.BundleDagBag, dagbag.sync_bag_to_db = originals


_BAGS: dict[tuple, Any] = {}  # (folder, bundle, ...) -> the bag parsed first in this process
_SYNCED: set[int] = set()  # ids of the bags of _BAGS written to this metadata DB (reset_db empties it)


def _parsed_once(parse: Any, *args: Any, **kwargs: Any) -> Any:
    key = (*map(str, args), *sorted((name, str(value)) for name, value in kwargs.items()))
    if key not in _BAGS:
        _BAGS[key] = parse(*args, **kwargs)
    return _BAGS[key]


def _synced_once(sync: Any, bag: Any, *args: Any, **kwargs: Any) -> None:
    if id(bag) not in _SYNCED:
        sync(bag, *args, **kwargs)
        _SYNCED.add(id(bag))


def _scheduled_dagrun(*, dag: Any, logical_date: datetime, session: Any, conf: dict | None, **_: Any) -> Any:
    """The scheduled run of ``dag`` (a serialized DAG) for ``logical_date``, replacing an earlier run of
    that date as ``get_or_create_dagrun`` does (``dag.test`` cleared its task instances already)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    info = next(iter(dag.iter_dagrun_infos_between(logical_date, logical_date)), None)
    if info is None or info.logical_date != logical_date:
        raise ConfigError(
            f"{logical_date.isoformat()} is not a logical date of DAG {dag.dag_id}'s schedule "
            f"({dag.timetable.summary}); run it for a date the schedule has, e.g. a day at 00:00 UTC"
        )
    earlier = session.scalar(
        select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.logical_date == logical_date)
    )
    if earlier is not None:
        session.delete(earlier)
        session.commit()
    return dag.create_dagrun(
        run_id=dag.timetable.generate_run_id(
            run_type=DagRunType.SCHEDULED, run_after=info.run_after, data_interval=info.data_interval,
            partition_key=info.partition_key,
        ),
        logical_date=info.logical_date, data_interval=info.data_interval, run_after=info.run_after,
        conf=conf, run_type=DagRunType.SCHEDULED, triggered_by=DagRunTriggeredByType.TIMETABLE,
        state=DagRunState.RUNNING, start_date=datetime.now(UTC), session=session,
    )  # fmt: skip


def warm_execution_api() -> None:
    """Build the routes of the execution API that ``dag.test()``'s tasks call in-process, without its
    thread and event loop. Cadwyn builds a route per API version on the app's first request (seconds of
    CPU), so one request that matches no route is sent here: a process forked afterwards (the demo's
    workers, from its fork server) starts with them built."""
    import asyncio

    from airflow.sdk.execution_time.supervisor import in_process_api_server

    app = in_process_api_server().app  # the one app the process's tasks use (cached)
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    path = "/mrm-warm-up"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": [],
        "client": ("127.0.0.1", 0), "server": ("in-process.invalid", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
