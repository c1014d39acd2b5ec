"""Every page on an empty history: the inventory's models with "no runs", "no runs yet" pages, CSVs with
their header only; and the DAG link's redirects."""

from __future__ import annotations

import pytest
from ui_pages import csv_rows


def test_the_portfolio_lists_the_inventory_with_no_runs(empty):
    html = empty.client.get("/model-risk/").text
    assert "No monitoring runs yet: the history is empty." in html
    rows = csv_rows(empty.client.get("/model-risk/?format=csv"))
    assert sorted(r["model_id"] for r in rows) == ["aml_alert", "aml_alert_next", "card_fraud", "credit_line"]
    assert {(r["overall"], r["last_run"], r["open_tickets"]) for r in rows} == {("NO_RUNS", "no runs", "0")}
    body = html[html.index("<tbody>") :]
    assert body.count('<span class="badge b-NO_RUNS">no runs</span>') == 2 * 4  # overall and last run


@pytest.mark.parametrize("table", ["latest", "psi", "runs", "tickets", "metrics"])
def test_a_model_page_says_no_runs_yet_and_its_csvs_are_empty(empty, table):
    html = empty.client.get("/model-risk/models/card_fraud").text
    assert "no runs yet" in html and "<dt>Owner</dt><dd>fraud-models@example.com</dd>" in html
    response = empty.client.get(f"/model-risk/models/card_fraud?format=csv&table={table}")
    assert csv_rows(response) == [] and response.text.count("\n") == 1  # the header line


def test_the_breaches_page_has_no_open_tickets(empty):
    assert "no open tickets" in empty.client.get("/model-risk/breaches").text
    assert csv_rows(empty.client.get("/model-risk/breaches?format=csv")) == []


@pytest.mark.parametrize(
    ("dag_id", "location"),
    [("mrm_monitor__card_fraud", "/model-risk/models/card_fraud"), ("mrm_governance", "/model-risk/")],
)
def test_the_dag_link_redirects_to_the_model_page(empty, dag_id, location):
    response = empty.client.get(f"/model-risk/dags/{dag_id}", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, location)


def test_the_dag_link_of_another_dag_says_it_monitors_no_model(empty):
    response = empty.client.get("/model-risk/dags/etl_orders")
    assert response.status_code == 404
    assert "DAG &#x27;etl_orders&#x27; does not monitor a model of mrm" in response.text
