"""``make airflow``: ``airflow standalone`` on this repo's dags/ and plugins/ and the demo's history,
with the demo data served again by a local S3 stand-in so runs triggered from the UI work too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mrm import settings
from mrm.demo import data


def run_standalone(port: int = 8080) -> int:
    from mrm.airflow import local as local_airflow
    from mrm.demo.s3 import start_local_s3

    home = settings.home()
    local_airflow.configure(home / "airflow")
    s3 = start_local_s3()
    data.write_demo_data("s3://mrm-demo")
    from mrm.demo.peers import start_peers
    from mrm.demo.runner import OWNERS

    peers = start_peers(home / "notifications", OWNERS)  # before env: it sets AIRFLOW_CONN_MRM_*
    bindir = str(Path(sys.executable).parent)  # standalone starts its components as `airflow ...` from PATH
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MRM_HOME": str(home),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "MRM_AIRFLOW_URL": f"http://127.0.0.1:{port}",
    }
    print(f"S3 stand-in with the demo data at {s3.endpoint}; metrics history {settings.db_url()}")
    print(f"tickets and alerts go to local stand-ins; what they receive is under {peers.folder}")
    print(f"Airflow UI: http://127.0.0.1:{port}/ (local login, no password). Ctrl-C stops everything.")
    airflow = Path(sys.executable).with_name("airflow")
    try:
        return subprocess.call([str(airflow), "standalone"], env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        peers.stop()
        s3.stop()
