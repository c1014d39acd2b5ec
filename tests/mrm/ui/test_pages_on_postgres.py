"""The page's queries on SQLite and on PostgreSQL give the same tables (window functions, correlated
subqueries, dates): two runs of card_fraud with the Dutch device_score nulls (demo days 5 and 6)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support import clear_caches, empty_history
from ui_pages import csv_rows

from mrm import pipeline
from mrm.demo.data import day
from mrm.ui import URL_PREFIX
from mrm.ui.app import create_app


@pytest.fixture(params=["sqlite", "postgres"])
def client(request, mrm_home, file_inventory, monkeypatch) -> TestClient:
    if request.param == "postgres":
        monkeypatch.setenv("MRM_DB_URL", request.getfixturevalue("pg_url"))
        clear_caches()
        empty_history(pipeline.get_store().engine)
    for n in (5, 6):
        pipeline.run_model("card_fraud", day(n))
    return TestClient(create_app(), root_path=URL_PREFIX)  # mrm's settings: the store and inventory above


def test_the_tables_read_the_same_on_either_database(client):
    portfolio = {r["model_id"]: r for r in csv_rows(client.get("/model-risk/?format=csv"))}
    assert (portfolio["card_fraud"]["overall"], portfolio["card_fraud"]["quality"]) == ("RED", "RED")
    assert (portfolio["card_fraud"]["last_logical_date"], portfolio["card_fraud"]["open_tickets"]) == (
        "2026-09-06",
        "1",
    )
    assert portfolio["credit_line"]["last_run"] == "no runs"

    (ticket,) = csv_rows(client.get("/model-risk/breaches?format=csv"))
    assert (ticket["control"], ticket["age_days"], ticket["occurrences"], ticket["as_of"]) == (
        "quality.null_rate[device_score]{country=NL}", "1", "2", "2026-09-06"
    )  # fmt: skip
    assert float(ticket["last_value"]) > 0.1

    runs = csv_rows(client.get("/model-risk/models/card_fraud?format=csv&table=runs"))
    assert [(r["logical_date"], r["current"]) for r in runs] == [
        ("2026-09-06", "True"),
        ("2026-09-05", "True"),
    ]
    psi = csv_rows(client.get("/model-risk/models/card_fraud?format=csv&table=psi"))
    assert len(psi) == 6 and all(set(r) == {"feature", "2026-09-05", "2026-09-06"} for r in psi)
    html = client.get("/model-risk/models/card_fraud").text
    assert 'data-series="null_rate(device_score)"' in html
