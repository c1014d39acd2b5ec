"""``mrm demo``: 60 days of three models through the real Airflow DAGs on the embedded default.

The models' days run side by side, one worker process per model (:mod:`mrm.demo.walk`), and the metadata
DB reset and the governance DAG in helper processes forked like them; ``workers=1`` runs everything one
after another in this process, as one scheduler slot would."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

from mrm import settings
from mrm.demo import data
from mrm.demo.report import day_line, governance_lines, notifications_report, report

MARKER = ".mrm-demo"


def prepare_home(home: Path) -> None:
    """The demo owns its folder: wipe what an earlier demo left, never anything else."""
    if home.exists() and any(home.iterdir()) and not (home / MARKER).exists():
        raise SystemExit(
            f"{home} exists and was not created by `mrm demo`; set MRM_HOME to another folder for the demo"
        )
    parts = ("history.db", "history.db-wal", "history.db-shm", "evidence", "airflow", "notifications")
    for part in (*parts, "anchors"):
        target = home / part
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text("created by `mrm demo`; deleted and rewritten on each demo run\n")


def _print(line: str) -> None:
    print(line, flush=True)  # progress shows as it goes, through a pipe too


def run_demo(
    days: int = data.DAYS, models: tuple[str, ...] = data.MODELS, out=_print, workers: int | None = None
) -> int:
    """``workers``: 1 runs every model-day in this process; otherwise one process per model."""
    home = settings.home()
    prepare_home(home)
    os.environ["MRM_TASK_RETRIES"] = "0"  # the demo shows failures once instead of retrying them
    os.environ.setdefault("MRM_AIRFLOW_URL", "http://127.0.0.1:8080")  # `make airflow`: links in tickets
    from mrm.airflow import local as local_airflow

    local_airflow.configure(home / "airflow")
    task_log = home / "airflow" / "demo-task-logs.txt"
    t0 = time.monotonic()
    walkers = None
    if (workers is None or workers > 1) and len(models) > 1:
        from mrm.demo.walk import Walkers

        walkers = Walkers(models, days, task_log).start()  # they import while this process sets up
    try:
        return _run(days, models, out, walkers, task_log, t0)
    finally:
        if walkers is not None:
            walkers.stop()


def _run(days: int, models: tuple[str, ...], out, walkers, task_log: Path, t0: float) -> int:
    from mrm.airflow import local as local_airflow
    from mrm.demo.s3 import start_local_s3

    home = settings.home()
    s3 = start_local_s3()
    out(f"S3 stand-in: moto server at {s3.endpoint} (bucket mrm-demo)")
    from mrm.demo.peers import start_peers

    peers = start_peers(home / "notifications", OWNERS)
    out(
        f"notification stand-ins: Jira {peers.jira.base_url}, SMTP {peers.smtp.host}:{peers.smtp.port}, "
        f"Slack {peers.slack.url}, SNS topic on the moto server"
    )
    if walkers is not None:  # the metadata DB is reset in another process while this one writes the data
        from mrm.demo.walk import reset_metadata_db

        db_reset = walkers.fork(reset_metadata_db)
    files = data.write_demo_data("s3://mrm-demo", models, days)
    out(
        f"wrote {sum(files.values())} Parquet files: {data.REFERENCE_DAYS} reference days + {days} days "
        f"of scoring logs and labels for {', '.join(models)}"
    )
    try:
        if walkers is None:
            local_airflow.reset_db()
        else:
            db_reset()
        bag = local_airflow.dagbag()
        if bag.import_errors:
            raise SystemExit(f"DAG import errors: {bag.import_errors}")
        if walkers is None:
            local_airflow.sync_dags()
        how = f"{len(models)} worker processes, one per model" if walkers else "one after another"
        out(
            f"Airflow metadata DB: {home / 'airflow' / 'airflow.db'}; task logs: {task_log}\n"
            f"running {days} days x {len(models)} DAGs as their scheduled runs (dag.test(); {how}) ...\n"
        )
        if walkers is not None:
            walkers.run(out)
        else:
            for n in range(1, days + 1):
                for model_id in models:
                    dag = bag.get_dag(f"mrm_monitor__{model_id}")
                    states = local_airflow.run_dag(dag, data.day(n), log_file=task_log)
                    out(day_line(model_id, n, states))
        out(f"\ngovernance (DAG mrm_governance) on {data.day(days)}:")
        if walkers is None:
            local_airflow.run_dag(bag.get_dag("mrm_governance"), data.day(days), log_file=task_log)
        else:  # forked warm (modules imported, execution API built), where this process would start cold
            from mrm.demo.walk import run_governance

            walkers.fork(run_governance, days, task_log, dict(os.environ))()
        for line in governance_lines(models, days):
            out(line)
        _review(days, out)
    finally:
        peers.stop()
        s3.stop()
    anchors = settings.audit_anchor_uri()  # $MRM_HOME/anchors/ unless MRM_AUDIT_ANCHOR says otherwise
    out(f"\nfinished in {time.monotonic() - t0:.0f} s; chain heads anchored in {anchors} "
        f"(check: mrm audit verify --anchor {anchors})\n")  # fmt: skip
    out(report(models, days))
    out(notifications_report(peers))
    return 0


@contextlib.contextmanager
def _review_inventory():
    """MRM_INVENTORY set to the demo's review copy (with its role map) while the block runs."""
    from mrm import settings, wiring

    saved = os.environ.get("MRM_INVENTORY")
    os.environ["MRM_INVENTORY"] = str(settings.home() / "review-inventory")
    wiring.clear_caches()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MRM_INVENTORY", None)
        else:
            os.environ["MRM_INVENTORY"] = saved
        wiring.clear_caches()


def _review(days: int, out) -> None:
    """The desk's acts on the demo's history, then the chain's head anchored again (they are records)."""
    from mrm import settings, wiring
    from mrm.demo import register, review
    from mrm.store.anchor import publish

    out("\nreview on the desk (the Model Risk page's routes in Airflow's app, as demo users):")
    for line in review.play(days):
        out(line)
    out("\nintake of a new AI use case, and validation findings (the register):")
    with _review_inventory():
        for line in register.play(days):
            out(line)
    publish(wiring.get_store(), settings.audit_anchor_uri())


OWNERS = {  # the Jira users model owners map to (user search by e-mail)
    "fraud-models@example.com": "Fraud models team",
    "credit-risk-models@example.com": "Credit risk models team",
    "fincrime-analytics@example.com": "Financial crime analytics",
}
