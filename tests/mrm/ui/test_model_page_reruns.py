"""The model page shows a rerun that turned a RED day GREEN on that day's run, with its reason and who
wrote it (escaped); Airflow reruns record their run and try; an untouched history shows no flag."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from html import escape

from ui_pages import csv_rows

from mrm.controls import GREEN, RED, Evaluated
from mrm.core.results import MetricResult
from mrm.store import HistoryStore, RunRecord

DAY = date(2026, 9, 25)
T0 = datetime(2026, 9, 26, 6, 0, tzinfo=UTC)


def record(store: HistoryStore, run_id: str, status: str, minutes: int, by: str, reason: str | None = None):
    finished = T0 + timedelta(minutes=minutes)
    store.record_run(
        RunRecord(
            run_id=run_id,
            model_id="card_fraud",
            model_version="3.2.0",
            logical_date=DAY,
            status="completed",
            overall_status=status,
            started_at=finished - timedelta(minutes=5),
            finished_at=finished,
            triggered_by=by,
            inventory_hash="f" * 64,
            rerun_reason=reason,
        ),
        [
            Evaluated(
                MetricResult("quality", "null_rate", "device_score", 0.3 if status == RED else 0.01),
                0.05,
                0.1,
                status,
            )
        ],
    )


def test_a_forged_green_rerun_of_a_red_day_is_a_visible_line_on_that_days_run(empty):
    record(empty.store, "real", RED, 0, "airflow:mrm_monitor__card_fraud/scheduled__2026-09-25/try1")
    attacker = HistoryStore(empty.store.url)  # an insider with the app's credentials
    forger = "cli:<b>eve</b> (os user, not authenticated by Airflow)"
    record(attacker, "forged", GREEN, 10, forger, reason="<script>alert(1)</script> re-scored")
    attacker.engine.dispose()

    html = empty.client.get("/model-risk/models/card_fraud").text

    line = f"rerun turned RED into GREEN — reason: <script>alert(1)</script> re-scored by {forger}"
    assert f'<div class="notice small rerun-flag">{escape(line, quote=True)}</div>' in html
    assert "<script>alert(1)" not in html and "<b>eve" not in html
    assert html.count("rerun-flag") == 1  # on the forged run only, not on the one it superseded
    rows = {
        r["run_id"]: r
        for r in csv_rows(empty.client.get("/model-risk/models/card_fraud?format=csv&table=runs"))
    }
    assert (rows["forged"]["rerun_flag"], rows["forged"]["supersedes"]) == (line, "real")
    assert (rows["real"]["rerun_flag"], rows["real"]["current"]) == ("", "False")


def test_a_history_written_by_real_runs_has_no_flag_and_airflow_reruns_say_their_try(client, ui_history):
    html = client.get("/model-risk/models/card_fraud").text
    assert "rerun-flag" not in html  # day 7 was rerun by Airflow, RED both times: nothing to flag

    table = csv_rows(client.get("/model-risk/models/card_fraud?format=csv&table=runs"))
    try2, try1 = [t for t in table if t["logical_date"] == "2026-09-07"]
    assert (try2["supersedes"], try2["rerun_flag"]) == (try1["run_id"], "")
    assert (
        try2["rerun_reason"] == "Airflow mrm_monitor__card_fraud/scheduled__2026-09-07T00:00:00+00:00 try 2"
    )
    assert {t["rerun_reason"] for t in table if t["run_id"] != try2["run_id"]} == {""}  # first runs: none
