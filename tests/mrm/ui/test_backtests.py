"""The model page's Back-tests table (mrm.ui.backtests): one row per back-tested date, its cohort, AUC,
Gini, KS and label coverage as recorded; back-tests stay out of the charts and the runs table; a retired
model's back-tests are shown too."""

from __future__ import annotations

import yaml
from fastapi.testclient import TestClient
from support import clear_caches
from ui_pages import csv_rows

from mrm import outcomes, pipeline
from mrm.demo.data import day
from mrm.ui import URL_PREFIX
from mrm.ui.app import create_app
from mrm.wiring import cli_trigger


def client() -> TestClient:
    app = create_app(store=pipeline.get_store, inventory=pipeline.get_inventory, evidence_uri=lambda: "")
    return TestClient(app, root_path=URL_PREFIX)


def test_the_page_shows_the_back_tests_and_keeps_them_out_of_the_charts(mrm_home, file_inventory):
    monitored = pipeline.run_model("card_fraud", day(31))
    for n in (30, 31):
        outcomes.backtest_day("card_fraud", day(n), cli_trigger())
    page = client()

    html = page.get("/model-risk/models/card_fraud").text
    assert '<h2 id="backtests">Back-tests' in html
    rows = csv_rows(page.get("/model-risk/models/card_fraud?format=csv&table=backtests"))
    assert [r["logical_date"] for r in rows] == [day(31).isoformat(), day(30).isoformat()]  # newest first
    store = pipeline.get_store()
    for row in rows:
        recorded = {m["metric"]: m for m in store.metrics(run_id=row["run_id"])}
        for metric in ("auc", "gini", "ks", "label_coverage"):
            assert float(row[metric]) == recorded[metric]["value"], metric
        assert row["cohort_end"] == recorded["auc"]["cohort_end"].isoformat()
        assert f"<td>{row['cohort_start']} .. {row['cohort_end']}</td>" in html
    # the charts and the runs table hold the monitoring run only
    charted = csv_rows(page.get("/model-risk/models/card_fraud?format=csv&table=metrics"))
    assert {r["run_id"] for r in charted} == {monitored["run_id"]}
    runs = csv_rows(page.get("/model-risk/models/card_fraud?format=csv&table=runs"))
    assert [r["kind"] for r in runs] == ["monitoring"]


def test_a_retired_model_shows_its_back_tests(mrm_home, file_inventory):
    path = file_inventory / "aml_alert.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["status"], raw["monitoring"]["enabled"] = "retired", False
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    clear_caches()
    outcomes.backtest_day("aml_alert", day(36), cli_trigger())

    response = client().get("/model-risk/models/aml_alert")
    assert response.status_code == 200
    rows = csv_rows(client().get("/model-risk/models/aml_alert?format=csv&table=backtests"))
    assert [r["logical_date"] for r in rows] == [day(36).isoformat()]


def test_no_back_tests_says_how_to_make_one(mrm_home, file_inventory):
    pipeline.run_model("credit_line", day(12))
    assert "no back-tests: mrm backtest --model ID" in client().get("/model-risk/models/credit_line").text
