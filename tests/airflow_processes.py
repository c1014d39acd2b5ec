"""Start a real, multi-process Airflow on 127.0.0.1 for tests (``airflow standalone``: scheduler,
dag-processor, triggerer, api-server and LocalExecutor task subprocesses), talk to it through the REST
API, and stop every process it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from mrm.airflow.local import airflow_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Standalone:
    def __init__(self, home: Path, env: dict[str, str]):
        self.home = home
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        bindir = str(Path(sys.executable).parent)
        inherited = {  # not this process's SQLite-only connect args (mrm.airflow.local.configure): the
            # processes here may run on PostgreSQL, whose driver refuses sqlite3's "timeout"
            k: v
            for k, v in os.environ.items()
            if k != "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"
        }
        self.env = {
            **inherited,
            "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
            **airflow_env(home / "airflow", log_level="INFO"),
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": self.base,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            **env,
        }
        self.log = home / "standalone.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> Standalone:
        (self.home / "airflow").mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "standalone"],
            env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.wait(self._up, timeout, "the api-server to answer")
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # standalone and every component it started
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def _up(self) -> bool:
        try:
            return requests.get(f"{self.base}/api/v2/monitor/health", timeout=10).ok
        except requests.ConnectionError:
            return False

    def api(self, method: str, path: str, **kw) -> dict:
        resp = requests.request(method, f"{self.base}/api/v2{path}", timeout=30, **kw)
        resp.raise_for_status()
        return resp.json() if resp.content else {}

    def wait(self, ready, timeout: float, what: str, every: float = 2.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"airflow standalone exited ({self.proc.returncode}); see {self.log}")
            try:
                value = ready()
            except requests.RequestException:
                value = None
            if value:
                return value
            time.sleep(every)
        raise TimeoutError(f"waited {timeout:g} s for {what}; see {self.log}")

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def finished(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        def done():
            run = self.dag_run(dag_id, run_id)
            return run if run["state"] in ("success", "failed") else None

        return self.wait(done, timeout, f"{dag_id} {run_id} to finish")


class CeleryCluster(Standalone):
    """Airflow as separate processes on 127.0.0.1, as a production deployment runs it: api-server,
    scheduler, dag-processor and one Celery worker, with CeleryExecutor on Redis (broker) and PostgreSQL
    (metadata database and Celery result backend)."""

    COMPONENTS = (["api-server", "--host", "127.0.0.1"], ["scheduler"], ["dag-processor"],
                  ["celery", "worker", "--concurrency", "2"])  # fmt: skip

    def __init__(self, home: Path, env: dict[str, str], metadata_url: str, redis_url: str):
        super().__init__(home, env)
        self.env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
                # psycopg 3 serves async too; else Airflow derives an asyncpg URL (not installed)
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url,
                "AIRFLOW__CELERY__BROKER_URL": redis_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": "mrm-test-cluster-secret",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            }
        )
        self.procs: list[subprocess.Popen] = []

    def start(self, timeout: float = 240) -> CeleryCluster:
        (self.home / "airflow").mkdir(parents=True, exist_ok=True)
        airflow = str(Path(sys.executable).with_name("airflow"))
        migrate = subprocess.run([airflow, "db", "migrate"], env=self.env, capture_output=True, text=True)
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed: {migrate.stderr[-2000:]}")
        for args in self.COMPONENTS:
            if args[0] == "api-server":
                args = [*args, "--port", str(self.port)]
            log = (self.home / f"{args[0]}-{args[1] if len(args) > 1 else ''}.log").open("w")
            self.procs.append(
                subprocess.Popen([airflow, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            )  # fmt: skip
        self.proc = self.procs[0]
        self.wait(self._up, timeout, "the api-server to answer")
        return self

    def alive(self) -> list[str]:
        return [" ".join(p.args[1:3]) for p in self.procs if p.poll() is None]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        self.procs, self.proc = [], None
