"""Screenshots of the Model Risk page for the README, from the full demo's history.

    make demo && .venv/bin/python docs/screenshots/capture.py

Starts Airflow's api-server on the demo's Airflow home (``.mrm/airflow``) with this repo's plugins,
logs in through headless Chromium and saves portfolio.png and model-card_fraud.png next to this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mrm import settings
from mrm.demo.ui_tour import ApiServer, chromium, tour

HERE = Path(__file__).resolve().parent


def main() -> int:
    home = settings.home()
    if not (home / "airflow" / "airflow.db").exists() or chromium() is None:
        print("needs `make demo` first and Debian's chromium (apt-get install -y chromium)", file=sys.stderr)
        return 1
    server = ApiServer(home / "airflow", home).start()
    try:
        seen = tour(server.base, "card_fraud", out_dir=HERE)
    finally:
        server.stop()
    for path in seen.screenshots:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
