"""The links of tickets and alerts (mrm.notify.links): the Model Risk page's routes under MRM_AIRFLOW_URL,
the storage URI beside the page's evidence link, and Jira's ADF body making the web links clickable."""

from __future__ import annotations

from datetime import date

import pytest
from support import INVENTORY

from mrm.inventory import load_inventory
from mrm.notify import links, messages
from mrm.notify.channels.jira import adf, plain_text

DAY = date(2026, 9, 5)
URI = "s3://bank-evidence/evidence/credit_line/2026-09-05/4f1c/drift_report.html"


@pytest.fixture
def airflow_url(monkeypatch) -> str:
    monkeypatch.setenv("MRM_AIRFLOW_URL", "https://airflow.bank.example/")
    return "https://airflow.bank.example"


def test_the_evidence_link_is_the_pages_route_for_that_run_then_the_storage_uri(airflow_url):
    assert links.evidence("Evidence", "credit_line", DAY, "4f1c", URI) == {
        "Evidence": f"{airflow_url}/model-risk/evidence/credit_line/2026-09-05/4f1c/drift_report.html",
        "Evidence (storage URI)": URI,
    }
    assert links.model_page("credit_line") == f"{airflow_url}/model-risk/models/credit_line"


def test_the_model_page_goes_before_the_airflow_run_once(airflow_url):
    given = {"Evidence": "e", "Airflow run": "a"}
    assert list(links.with_model_page(given, "credit_line")) == ["Evidence", "Model page", "Airflow run"]
    twice = links.with_model_page(links.with_model_page(given, "credit_line"), "credit_line")
    assert list(twice) == ["Evidence", "Model page", "Airflow run"]


def test_the_red_alert_links_the_model_page(airflow_url):
    inventory = load_inventory(INVENTORY)[0]
    opened = [{"ticket_id": 7, "key": "MRM-7", "control": "drift.psi[amount]", "value": 0.31, "red": 0.25}]
    given = links.evidence("Evidence", "credit_line", DAY, "4f1c", URI)

    (item, *_) = messages.red_alert(inventory, inventory.get("credit_line"), DAY, opened, given)

    assert item.payload["links"] == {**given, "Model page": f"{airflow_url}/model-risk/models/credit_line"}


def test_jiras_body_links_web_urls_and_leaves_storage_uris_as_text():
    page = "https://airflow.bank.example/model-risk/evidence/credit_line/2026-09-05/4f1c/drift_report.html"
    text = f"Value: 0.31\nEvidence: {page}\nEvidence (storage URI): {URI}\nmrm-event: jira:ticket:1:event:1"

    doc = adf(text)

    assert plain_text(doc) == text  # the marker search still reads the lines back
    evidence = doc["content"][1]["content"]
    assert evidence == [
        {"type": "text", "text": "Evidence: "},
        {"type": "text", "text": page, "marks": [{"type": "link", "attrs": {"href": page}}]},
    ]
    assert doc["content"][2]["content"] == [{"type": "text", "text": f"Evidence (storage URI): {URI}"}]
