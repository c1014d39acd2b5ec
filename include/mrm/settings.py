"""The one place that reads mrm's configuration from the environment.

MRM_HOME       working folder (history, evidence, the demo's Airflow); default ``./.mrm``
MRM_DB_URL     SQLAlchemy URL of the metrics history; default ``sqlite:///$MRM_HOME/history.db``
MRM_INVENTORY  folder with one YAML file per model; default ``include/inventory`` of this repo
MRM_EVIDENCE   URI where evidence files go (``file://...`` or ``s3://...``); default ``$MRM_HOME/evidence``
MRM_TASK_RETRIES     Airflow retries per monitoring task; default 2
MRM_RETENTION_DAYS   how long history records are kept at least; default seven years, never below 183 days
MRM_CHAIN_KEY        the chain key (``new,old`` while rotating), read by mrm.store.keys when the Airflow
                     connection ``mrm_chain_key`` is not set; MRM_CHAIN_KEY_FILE: a file holding it
MRM_CATCHUP          "false": monitoring DAGs do not backfill from the model's start_date; default true
MRM_ATHENA_POOL      Airflow pool for the tasks of models whose scoring log is an Athena query (unset: none)
MRM_PROFILE_CACHE    where reference profiles are cached (folder or s3://); default $MRM_EVIDENCE/_profiles
MRM_SAMPLE_ROWS      rows of the day's seeded sample behind the Evidently report and GX result; default 50000
MRM_OUTCOME_CACHE_MB memory a process keeps for days' compact scores and labels (shared by consecutive
                     cohorts: back-tests); default 512, 0 keeps none
MRM_PART_CACHE       local folder where days' compact scores and labels are kept between runs (checked
                     against the digests runs recorded); default ``$MRM_HOME/day-parts``; ``none`` keeps none
MRM_AIRFLOW_URL      base URL of the Airflow UI, for links in tickets and alerts (e.g. https://airflow.bank.example)
MRM_ALLOW_LOCAL_STATE "1": accept a SQLite history and file:// evidence although Airflow's executor runs
                     tasks on other machines (Celery, Kubernetes, ...); refused by default
MRM_AUDIT_ANCHOR     where every run anchors the chain head (``s3://`` with COMPLIANCE Object Lock, or
                     ``file://``); default ``$MRM_HOME/anchors/``; when set, ``mrm audit verify`` checks it
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RETENTION_DAYS = 7 * 365 + 2  # seven years, leap days included
MIN_RETENTION_DAYS = 183  # six months: the floor no setting or policy may go below (EU AI Act Art. 19)
_given: dict[str, Path] = {}  # settings given on the command line (`--inventory DIR`): they win


def home() -> Path:
    return Path(os.environ.get("MRM_HOME", ".mrm")).resolve()


def db_url() -> str:
    url = os.environ.get("MRM_DB_URL") or f"sqlite:///{home() / 'history.db'}"
    if url.startswith("sqlite"):
        _refuse_local_state("MRM_DB_URL", "history", url, "a PostgreSQL URL every worker reaches")
    return url


def inventory_dir() -> Path:
    if "inventory" in _given:
        return _given["inventory"]
    env = os.environ.get("MRM_INVENTORY")
    return Path(env).resolve() if env else REPO_ROOT / "include" / "inventory"


@contextmanager
def inventory_given(folder: str | Path | None) -> Iterator[None]:
    """Within the block, the inventory is ``folder`` (the command line's ``--inventory DIR``) whatever
    MRM_INVENTORY says; None changes nothing."""
    if folder is None:
        yield
        return
    before = _given.get("inventory")
    _given["inventory"] = Path(folder).resolve()
    try:
        yield
    finally:
        if before is None:
            del _given["inventory"]
        else:
            _given["inventory"] = before


def evidence_uri() -> str:
    uri = os.environ.get("MRM_EVIDENCE") or (home() / "evidence").as_uri()
    if uri.startswith("file:"):
        _refuse_local_state("MRM_EVIDENCE", "evidence", uri, "an s3:// URI every worker reaches")
    return uri


LOCAL_EXECUTORS = {"LocalExecutor", "SequentialExecutor", "DebugExecutor"}  # tasks on this machine only


def airflow_executors() -> list[str]:
    """The executors Airflow is configured with (class names; Airflow 3 allows a comma-separated list,
    ``alias:module.Class`` items too): AIRFLOW__CORE__EXECUTOR, else Airflow's own configuration when
    Airflow is already loaded in this process (a task, the scheduler); Airflow's default LocalExecutor
    when neither says."""
    import sys

    value = os.environ.get("AIRFLOW__CORE__EXECUTOR", "").strip()
    config = sys.modules.get("airflow.configuration")
    if not value and config is not None:
        try:
            value = str(config.conf.get("core", "executor", fallback="")).strip()
        except Exception:  # an unreadable Airflow configuration: Airflow itself will say so
            value = ""
    names = [item.split(":")[-1].rsplit(".", 1)[-1].strip() for item in value.split(",") if item.strip()]
    return names or ["LocalExecutor"]


def _refuse_local_state(variable: str, what: str, uri: str, instead: str) -> None:
    """A SQLite history or file:// evidence is local to one machine: refused when Airflow's executor
    runs tasks elsewhere (each worker would keep its own), unless MRM_ALLOW_LOCAL_STATE=1."""
    remote = [e for e in airflow_executors() if e not in LOCAL_EXECUTORS]
    if not remote or os.environ.get("MRM_ALLOW_LOCAL_STATE", "").strip().lower() in ("1", "true", "yes"):
        return
    from mrm.errors import ConfigError

    given = "is" if os.environ.get(variable) else "is unset, so it defaults to"
    raise ConfigError(
        f"{variable} {given} {uri}, local to this machine, but Airflow's executor is {remote[0]}: each "
        f"worker would keep its own {what}; set {variable} to {instead} (or MRM_ALLOW_LOCAL_STATE=1 if "
        "every worker shares this machine's disk)"
    )


def audit_anchor() -> str | None:
    """MRM_AUDIT_ANCHOR as set (None: unset): ``mrm audit verify`` checks the anchors only when it is set."""
    return os.environ.get("MRM_AUDIT_ANCHOR", "").strip() or None


def audit_anchor_uri() -> str:
    """Where runs anchor the chain head: MRM_AUDIT_ANCHOR, else ``$MRM_HOME/anchors/`` as a file:// URI."""
    return audit_anchor() or (home() / "anchors").as_uri() + "/"


def task_retries() -> int:
    return int(os.environ.get("MRM_TASK_RETRIES", "2"))


def retention_days() -> int:
    """MRM_RETENTION_DAYS: how long history records are kept at least (default seven years); a value
    below the floor of MIN_RETENTION_DAYS is refused, not raised to it."""
    value = os.environ.get("MRM_RETENTION_DAYS", "").strip() or str(DEFAULT_RETENTION_DAYS)
    if not value.isdigit() or int(value) < MIN_RETENTION_DAYS:
        from mrm.errors import ConfigError

        raise ConfigError(
            f"MRM_RETENTION_DAYS={value!r} is below the retention floor of {MIN_RETENTION_DAYS} days "
            "(six months, EU AI Act Art. 19): set a whole number of days of at least that, or unset it"
        )
    return int(value)


def airflow_url() -> str | None:
    """MRM_AIRFLOW_URL: the Airflow UI's base URL, used to link tickets and alerts to runs."""
    url = os.environ.get("MRM_AIRFLOW_URL", "").strip().rstrip("/")
    return url or None


def catchup() -> bool:
    """MRM_CATCHUP: whether a monitoring DAG backfills every day since the model's start_date."""
    return os.environ.get("MRM_CATCHUP", "true").strip().lower() not in ("false", "0", "no")


def athena_pool() -> str | None:
    """MRM_ATHENA_POOL: the Airflow pool that bounds concurrent Athena queries (create it first)."""
    return os.environ.get("MRM_ATHENA_POOL", "").strip() or None


def profile_cache_uri() -> str:
    """Where reference profiles are cached; beside the evidence by default, so every worker shares it."""
    from mrm.core.storage import join

    return os.environ.get("MRM_PROFILE_CACHE") or join(evidence_uri(), "_profiles")


def sample_rows() -> int:
    """Size of the day's seeded reservoir sample behind the evidence reports (the metrics use every row).
    The sample is most of what a run keeps: at 36 full-precision columns about 190 kB per 1,000 rows in
    ``day_aggregate.npz`` (9.8 MB a run at 50,000; ``bench/bench_evidence.py``)."""
    value = os.environ.get("MRM_SAMPLE_ROWS", "50000").strip()
    if not value.isdigit() or int(value) < 100:
        from mrm.errors import ConfigError

        raise ConfigError(f"MRM_SAMPLE_ROWS={value!r} must be a whole number of at least 100 rows")
    return int(value)


def part_cache_dir() -> Path | None:
    """MRM_PART_CACHE: the local folder where days' compact outcome parts are kept between runs
    (:mod:`mrm.sources.part_store`); default ``$MRM_HOME/day-parts``; ``none`` keeps none."""
    value = os.environ.get("MRM_PART_CACHE", "").strip()
    if value.lower() in ("none", "off", "0"):
        return None
    return Path(value).resolve() if value else home() / "day-parts"


def outcome_cache_bytes() -> int:
    """MRM_OUTCOME_CACHE_MB: the bound on the days' compact scores and labels a process keeps."""
    value = os.environ.get("MRM_OUTCOME_CACHE_MB", "512").strip()
    if not value.isdigit():
        from mrm.errors import ConfigError

        raise ConfigError(f"MRM_OUTCOME_CACHE_MB={value!r} must be a whole number of megabytes (0: none)")
    return int(value) * 1024 * 1024


def sql_dir() -> Path:
    """MRM_SQL_DIR: the folder of Athena query templates; default ``include/sql`` of this repository."""
    env = os.environ.get("MRM_SQL_DIR")
    return Path(env).resolve() if env else REPO_ROOT / "include" / "sql"


def aws_region() -> str:
    """AWS_DEFAULT_REGION (boto3's own variable), for clients built without a region; default us-east-1."""
    return os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
