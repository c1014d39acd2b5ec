"""The risk manager's morning in a real browser: `airflow api-server` with this repo's plugins on a
history filled by the demo (20 days), headless Chromium driven by Playwright: log in, open "Model Risk"
from the nav, open a model, see its charts, follow an evidence link to the Evidently report; open the
model whose last day could not run and see that first. And the demo's DAG runs read back through the
api-server's REST API with a real token: the runs a scheduler would have made."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from mrm.demo import data
from mrm.demo.ui_tour import PASSWORD, USER, ApiServer, chromium, latest_controls, tour
from mrm.ticketing.tracker import BuiltinTracker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(chromium() is None, reason="Chromium not installed (apt-get install -y chromium)"),
]
# card_fraud's Dutch device-score incident is days 5-7; aml_alert's day 20 is a corrupt upload: the
# shortest demo whose last day of a model could not run
DAYS = 20


@pytest.fixture(scope="module")
def demo_started() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory, demo_started) -> Path:
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


def test_a_model_whose_last_day_could_not_run_leads_with_that(server, demo_home):
    store = _store(demo_home)
    failed = store.runs("aml_alert")[-1]
    tickets = BuiltinTracker(store).tickets("aml_alert")
    (ticket,) = [t for t in tickets if t["control"] == "run.could_not_run"]
    assert (failed["status"], str(failed["logical_date"])) == ("failed", "2026-09-20")

    seen = latest_controls(server.base, "aml_alert")

    assert seen.first_line.startswith("the newest day could not run")
    notice = "could not run 2026-09-20: no control was evaluated for this day."
    assert notice in seen.section_text
    assert failed["reason"] in seen.outcome_text and "not valid Parquet" in failed["reason"]
    assert "2026-09-20 (1 day)" in seen.outcome_text
    assert f"{ticket['key']} (open since 2026-09-20)" in seen.outcome_text
    assert seen.last_completed == "Last completed run: 2026-09-19 · governance run: 2026-09-20"
    assert "every control GREEN" not in seen.section_text


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_demos_dag_runs_are_what_the_scheduler_would_have_made(server, demo_started):
    token = requests.post(
        f"{server.base}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=30
    ).json()["access_token"]
    runs = requests.get(
        f"{server.base}/api/v2/dags/mrm_monitor__aml_alert/dagRuns",
        params={"order_by": "logical_date", "limit": 100},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()["dag_runs"]

    assert len(runs) == DAYS
    previous_end = demo_started
    for n, run in enumerate(runs, start=1):
        logical = datetime(2026, 9, n, tzinfo=UTC)
        assert data.day(n) == logical.date()
        assert (run["run_type"], run["triggered_by"]) == ("scheduled", "timetable")
        assert run["dag_run_id"] == f"scheduled__{logical.isoformat()}"
        # "@daily" in Airflow 3 is a CronTriggerTimetable without an interval: the run of a day is due at
        # its 00:00 UTC, and its data interval is that instant
        assert _iso(run["logical_date"]) == _iso(run["run_after"]) == logical
        assert _iso(run["data_interval_start"]) == _iso(run["data_interval_end"]) == logical
        start, end = _iso(run["start_date"]), _iso(run["end_date"])
        assert previous_end <= start < end <= datetime.now(UTC)  # started when the demo ran it, in order
        assert (end - start) < timedelta(minutes=5)  # seconds, not the months since the logical date
        previous_end = end
        assert run["state"] == ("failed" if n == 20 else "success")
        assert run["note"]  # the listener's run note, from the history
    assert runs[-1]["note"].startswith("could not run: read scoring log: ")


def test_the_demo_played_a_review_on_the_desk_as_airflow_users(demo_home):
    from mrm.store import acts as store_acts

    store = _store(demo_home)
    with store.engine.connect() as conn:
        acts = store_acts.acts(conn)
    assert [(a["kind"], a["person"], a["authenticated"]) for a in acts] == [
        ("acknowledge", "fraud.owner", "airflow"),
        ("propose_close", "fraud.owner", "airflow"),
        ("close", "risk.reviewer", "airflow"),
        ("accept_risk", "risk.reviewer", "airflow"),
        ("attest", "risk.reviewer", "airflow"),
    ]
    assert acts[2]["confirms"] == acts[1]["act_id"] and acts[4]["logical_date"] == data.day(DAYS)
    closed = {t["ticket_id"]: t for t in BuiltinTracker(store).tickets(status="closed")}
    assert closed[acts[2]["ticket_id"]]["closed_by"] == "risk.reviewer (airflow)"
    assert closed[acts[3]["ticket_id"]]["closed_reason"].startswith("risk accepted until ")
    env = {**os.environ, "MRM_HOME": str(demo_home)}
    for name in ("MRM_DB_URL", "MRM_EVIDENCE", "MRM_INVENTORY"):
        env.pop(name, None)
    mrm, anchors = str(Path(sys.executable).with_name("mrm")), (demo_home / "anchors").as_uri()
    checked = subprocess.run(
        [mrm, "audit", "verify", "--anchor", anchors],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "newer than the newest anchor" not in checked.stdout  # the acts were anchored too


def test_the_demo_took_in_one_use_case_and_recorded_two_findings_one_overdue(demo_home):
    import yaml

    from mrm.store import findings as store_findings

    entry = yaml.safe_load((demo_home / "review-inventory" / "card_limit.yaml").read_text())
    assert (entry["status"], entry["risk_tier"]) == ("proposed", 1)
    assert entry["intake"]["answers"]["automation"] == "fully_automated"
    with _store(demo_home).engine.connect() as conn:
        found = {f["finding_id"]: f for f in store_findings.findings(conn)}
    assert sorted(found) == ["VAL-2026-001", "VAL-2026-002"]
    overdue = [f for f in found.values() if f["due_date"] < data.day(DAYS)]
    assert [(f["finding_id"], f["severity"]) for f in overdue] == [("VAL-2026-001", "high")]
