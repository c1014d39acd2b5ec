"""Run notes for mrm's DAG runs: when a run of an ``mrm_*`` DAG ends, its note (shown in the grid view)
summarises what the history recorded for it, e.g. "2 RED: psi(amount)=0.31 > 0.25; ... — tickets MRM-12".

A listener, because Airflow 3 gives tasks no call to set their own run's note (the Task SDK's
dag_run is read-only and direct ORM access is refused in task processes). Listeners run where the
run's state changes: in the scheduler (any executor) and in ``dag.test()``. In the scheduler the
note is set on the DagRun in the scheduler's own session, which the scheduler commits: opening and
committing another session there would break its locks.
"""

from __future__ import annotations

import logging
import sys

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger("mrm.airflow.run_notes")


def _note(dag_id: str, run_id: str) -> str | None:
    from mrm import settings
    from mrm.airflow.run_notes import note_for
    from mrm.store import HistoryStore

    return note_for(HistoryStore(settings.db_url()), dag_id, run_id)


def _set_note(dag_run) -> None:
    if not dag_run.dag_id.startswith("mrm_"):
        return
    try:
        note = _note(dag_run.dag_id, dag_run.run_id)
    except Exception as exc:
        log.warning("mrm: no run note for %s %s: %s", dag_run.dag_id, dag_run.run_id, exc)
        return
    if not note:
        return
    from sqlalchemy.orm import object_session

    if object_session(dag_run) is not None:  # the scheduler: its session commits the change
        dag_run.note = note
        return
    from airflow.models.dagrun import DagRun  # dag.test(): the run passed in is detached
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag_run.dag_id, DagRun.run_id == dag_run.run_id)
        )
        if run is not None:
            run.note = note


@hookimpl
def on_dag_run_success(dag_run, msg: str) -> None:
    _set_note(dag_run)


@hookimpl
def on_dag_run_failed(dag_run, msg: str) -> None:
    _set_note(dag_run)


class MrmRunNotesPlugin(AirflowPlugin):
    name = "mrm_run_notes"
    listeners = [sys.modules[__name__]]  # noqa: RUF012 - the attribute Airflow reads
