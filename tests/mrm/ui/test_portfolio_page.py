"""The portfolio page on a history filled by real runs (see conftest.py): every inventory model, its latest
run, RAG per control family, open tickets; worst first; filters and sorting; the CSV."""

from __future__ import annotations

from datetime import date

import pytest
from ui_pages import csv_rows, worst

from mrm.ticketing.tracker import BuiltinTracker

FAMILIES = ("quality", "drift", "performance", "governance")


def expected_families(store, model_id: str) -> dict[str, str | None]:
    """From the history's own API: the worst controlled status per family in the model's newest run of each
    kind (ERROR for the monitoring families when that run could not complete)."""
    out = dict.fromkeys(FAMILIES)
    for kind, families in (("monitoring", FAMILIES[:3]), ("governance", FAMILIES[3:])):
        runs = store.runs(model_id, kind=kind)
        if not runs:
            continue
        newest = runs[-1]
        rows = store.metrics(run_id=newest["run_id"])
        for f in families:
            out[f] = (
                "ERROR"
                if newest["status"] == "failed"
                else worst(r["status"] for r in rows if r["check"] == f and r["status"] != "INFO")
            )
    return out


def test_every_model_of_the_inventory_is_listed_worst_first_with_its_latest_run(client, ui_history):
    rows = csv_rows(client.get("/model-risk/?format=csv"))

    # three RED (by governance, quality, governance), then the model without runs; ties between the REDs:
    # more open tickets, then the higher tier (1), then the id
    assert [r["model_id"] for r in rows] == ["card_fraud", "credit_line", "aml_alert", "aml_alert_next"]
    by_id = {r["model_id"]: r for r in rows}
    assert {m: r["last_logical_date"] for m, r in by_id.items()} == {
        "card_fraud": "2026-09-08",
        "credit_line": "2026-09-14",
        "aml_alert": "2026-09-20",
        "aml_alert_next": "",
    }
    assert by_id["aml_alert"]["last_run"] == "failed"
    assert "not valid Parquet" in by_id["aml_alert"]["reason"]
    assert by_id["aml_alert_next"]["last_run"] == "no runs"
    assert (by_id["aml_alert_next"]["status"], by_id["aml_alert_next"]["tier"]) == ("in_validation", "2")
    assert by_id["card_fraud"]["owner"] == "fraud-models@example.com"


def test_the_rag_per_family_is_the_worst_control_of_the_newest_run(client, ui_history):
    rows = {r["model_id"]: r for r in csv_rows(client.get("/model-risk/?format=csv"))}

    for model_id in ("card_fraud", "credit_line", "aml_alert", "aml_alert_next"):
        expected = expected_families(ui_history.store, model_id)
        assert {f: rows[model_id][f] or None for f in FAMILIES} == expected, model_id
    # the demo's incidents, as they must show: credit_line's utilization nulls (RED by persistence on
    # day 14), aml_alert's corrupt file (no control evaluated), card_fraud not run for 6 days by day 14
    assert rows["credit_line"]["quality"] == "RED"
    assert [rows["aml_alert"][f] for f in FAMILIES[:3]] == ["ERROR"] * 3
    assert rows["card_fraud"]["governance"] == "RED"
    assert rows["card_fraud"]["quality"] == "GREEN"  # day 8: the Dutch nulls are over


def test_open_tickets_are_counted_per_model(client, ui_history):
    rows = {r["model_id"]: r for r in csv_rows(client.get("/model-risk/?format=csv"))}
    tracker = BuiltinTracker(ui_history.store)
    for model_id, row in rows.items():
        assert int(row["open_tickets"]) == len(tracker.tickets(model_id)), model_id
    assert rows["card_fraud"]["open_tickets"] == "2"  # the Dutch nulls (still open) + stale monitoring


def test_the_page_shows_each_model_with_its_badges_and_no_runs(client):
    html = client.get("/model-risk/").text

    assert '<a href="/model-risk/models/credit_line">credit_line</a>' in html
    assert (
        html.index("models/card_fraud") < html.index("models/credit_line") < html.index('models/aml_alert"')
    )
    row = html[html.index("models/aml_alert_next") :].split("</tr>")[0]
    assert "no runs" in row
    row = html[html.index('models/aml_alert"') :].split("</tr>")[0]
    assert row.count('class="badge b-ERROR">ERROR') == 3 and "could not run" in row
    assert '<a href="?format=csv">CSV</a>' in html


def test_filters_by_tier_status_owner_and_overall(client):
    def ids(query: str) -> list[str]:
        return [r["model_id"] for r in csv_rows(client.get(f"/model-risk/?format=csv&{query}"))]

    assert ids("tier=2") == ["aml_alert", "aml_alert_next"]
    assert ids("status=in_validation") == ["aml_alert_next"]
    assert ids("owner=fincrime-next@example.com") == ["aml_alert_next"]
    assert ids("rag=NO_RUNS") == ["aml_alert_next"]
    assert ids("tier=1&rag=RED") == ["card_fraud", "credit_line"]
    assert ids("tier=3") == []
    html = client.get("/model-risk/?tier=3").text
    assert "no model matches these filters" in html and "0 of 4 models" in html


def test_sorts_by_any_column_and_reverses_with_a_minus(client):
    def ids(sort: str) -> list[str]:
        return [r["model_id"] for r in csv_rows(client.get(f"/model-risk/?format=csv&sort={sort}"))]

    assert ids("model") == ["aml_alert", "aml_alert_next", "card_fraud", "credit_line"]
    assert ids("-model") == ["credit_line", "card_fraud", "aml_alert_next", "aml_alert"]
    assert ids("-last_run") == ["aml_alert", "credit_line", "card_fraud", "aml_alert_next"]
    assert ids("tickets")[0] == "aml_alert_next"
    html = client.get("/model-risk/?sort=model&tier=1").text
    assert '<a href="?tier=1&amp;sort=-model">Model ▲</a>' in html  # clicking again reverses, keeps filters


def test_an_unknown_sort_is_a_400_that_lists_the_valid_ones(client):
    response = client.get("/model-risk/?sort=colour")
    assert response.status_code == 400
    assert "unknown sort &#x27;colour&#x27;; valid: worst, model, tier, status, owner, last_run, tickets" in (
        response.text
    )


def test_the_latest_date_is_the_one_the_history_holds(client, ui_history):
    rows = {r["model_id"]: r for r in csv_rows(client.get("/model-risk/?format=csv"))}
    for model_id in ("card_fraud", "credit_line", "aml_alert"):
        newest = ui_history.store.runs(model_id)[-1]
        assert date.fromisoformat(rows[model_id]["last_logical_date"]) == newest["logical_date"]
        assert rows[model_id]["last_finished_at"] == newest["finished_at"].isoformat()


def test_a_date_without_its_log_shows_the_cohort_evaluated_on_its_own(mrm_home, file_inventory):
    """card_fraud's newest date has no scoring partition: quality and drift are ERROR (the monitoring run
    could not run), performance is the performance run's worst control for that date, not ERROR; a
    back-test of a later date changes nothing (analysis)."""
    from fastapi.testclient import TestClient

    from mrm import outcomes, pipeline
    from mrm.demo.data import day
    from mrm.errors import MrmError
    from mrm.ui import URL_PREFIX
    from mrm.ui.app import create_app
    from mrm.wiring import cli_trigger

    pipeline.run_model("card_fraud", day(30))
    missing = day(35)  # after the tests' last partition (day 34); its cohort (days 8-14) has data
    with pytest.raises(MrmError, match="no scoring log partition"):  # the performance run is recorded first
        outcomes.run_day("card_fraud", missing)
    outcomes.backtest_day("card_fraud", day(36), cli_trigger())
    store = pipeline.get_store()
    (alone,) = store.runs("card_fraud", kind="performance")
    want = worst(
        m["status"] for m in store.metrics(run_id=alone["run_id"]) if m["check"] == "performance"
        and m["status"] != "INFO"
    )  # fmt: skip
    app = create_app(store=pipeline.get_store, inventory=pipeline.get_inventory, evidence_uri=lambda: "")
    rows = csv_rows(TestClient(app, root_path=URL_PREFIX).get("/model-risk/?format=csv"))

    (row,) = [r for r in rows if r["model_id"] == "card_fraud"]
    assert (row["quality"], row["drift"]) == ("ERROR", "ERROR")
    assert want in ("GREEN", "AMBER", "RED") and row["performance"] == want
    assert row["last_logical_date"] == missing.isoformat()


def test_accepted_ranks_after_amber_and_before_insufficient_data_and_has_its_colours():
    from mrm.ui.html import CSS, badge
    from mrm.ui.portfolio import family_status

    assert family_status({"GREEN": 40, "INSUFFICIENT_DATA": 2, "ACCEPTED": 1}) == "ACCEPTED"
    assert family_status({"ACCEPTED": 1, "AMBER": 1}) == "AMBER"
    assert badge("ACCEPTED") == '<span class="badge b-ACCEPTED">ACCEPTED</span>'
    assert ".b-ACCEPTED{" in CSS and ".h-ACCEPTED{" in CSS and ".breach-ACCEPTED{" in CSS
