"""The risk manager's morning in a real browser: `airflow api-server` with this repo's plugins on a
history filled by the demo (8 days), headless Chromium driven by Playwright: log in, open "Model Risk"
from the nav, open a model, see its charts, follow an evidence link to the Evidently report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mrm.demo.ui_tour import ApiServer, chromium, tour

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(chromium() is None, reason="Chromium not installed (apt-get install -y chromium)"),
]
DAYS = 8  # card_fraud's Dutch device-score incident is days 5-7


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("ui_demo")
    env = {**os.environ, "MRM_HOME": str(home)}
    for name in ("MRM_DB_URL", "MRM_EVIDENCE", "MRM_INVENTORY", "AIRFLOW_HOME"):
        env.pop(name, None)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("mrm")), "demo", "--days", str(DAYS)],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return home


@pytest.fixture(scope="module")
def server(demo_home):
    running = ApiServer(demo_home / "airflow", demo_home).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def seen(server, tmp_path_factory):
    return tour(server.base, "card_fraud", out_dir=tmp_path_factory.mktemp("screens"))


def _store(demo_home):
    from mrm.store import HistoryStore

    return HistoryStore(f"sqlite:///{demo_home / 'history.db'}")


def test_the_page_needs_a_login(server):
    assert requests.get(f"{server.base}/model-risk/", timeout=10).status_code == 401
    assert requests.get(f"{server.base}/model-risk/models/card_fraud", timeout=10).status_code == 401


def test_the_nav_opens_the_portfolio_with_every_model_worst_first(seen, demo_home):
    assert seen.nav_href == "/plugin/model-risk"
    assert sorted(seen.models) == ["aml_alert", "card_fraud", "credit_line"]
    rank = ["RED", "ERROR", "AMBER", "INSUFFICIENT_DATA", "GREEN"].index
    latest = {m: _store(demo_home).runs(m)[-1]["overall_status"] for m in seen.models}
    assert [rank(latest[m]) for m in seen.models] == sorted(rank(s) for s in latest.values())


def test_the_model_page_charts_mark_exactly_the_recorded_breaches(seen, demo_home):
    assert {"score_psi", "psi(amount)", "null_rate(device_score)", "volume_ratio"} <= set(seen.charts)
    charted = set(seen.charts)
    breaches = [
        m for m in _store(demo_home).metrics("card_fraud")
        if m["segment"] is None and m["status"] in ("AMBER", "RED")
        and (f"{m['metric']}({m['column']})" if m["column"] else m["metric"]) in charted
    ]  # fmt: skip
    assert seen.breach_points == len(breaches)


def test_the_evidence_link_opens_the_evidently_report_with_the_stored_psi(seen, demo_home):
    store = _store(demo_home)
    latest = store.runs("card_fraud")[-1]
    (psi,) = [
        m for m in store.metrics(run_id=latest["run_id"]) if m["metric"] == "psi" and m["column"] == "amount"
    ]
    assert "Drift in column 'amount'" in seen.report_text
    assert f"Drift score: {round(psi['value'], 3):g}" in seen.report_text


def test_screenshots_are_written(seen):
    assert [p.name for p in seen.screenshots] == ["portfolio.png", "model-card_fraud.png"]
    for path in seen.screenshots:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
