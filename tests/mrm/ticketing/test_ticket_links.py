"""Links people can open: with MRM_AIRFLOW_URL set, the Jira issue, the e-mail and the Slack alert of a
real RED run link the Model Risk page's evidence route for that run (which serves the file, checked
against its SHA-256) and the model's page; the storage URI stays as a line of its own for auditors.
Without MRM_AIRFLOW_URL the texts are what they were (tests/mrm/ticketing/test_lifecycle.py pins them).

The incident used: card_fraud's device_score is null for 20% of Dutch events on demo day 5 (RED)."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from support import local_inventory, route_to_standins

from mrm import pipeline, settings
from mrm.demo.data import day
from mrm.demo.standins.jira import DEFAULT_LOGIN, DEFAULT_TOKEN, JiraStandIn
from mrm.demo.standins.receiver import Receiver
from mrm.demo.standins.smtp import SmtpStandIn
from mrm.errors import MrmError
from mrm.notify import links as page_links
from mrm.notify import outbox
from mrm.notify.channels.jira import plain_text
from mrm.ticketing.base import could_not_run_breach, ticket_text
from mrm.ui import URL_PREFIX
from mrm.ui.app import create_app

AIRFLOW = "https://airflow.bank.example"
OWNER = "fraud-models@example.com"


@pytest.fixture
def peers(monkeypatch):
    jira = JiraStandIn("cloud", users={OWNER: "Fraud models"}, projects=("RISK",))
    smtp = SmtpStandIn().start()
    slack = Receiver().start()
    conn = {"conn_type": "http", "host": jira.start(), "login": DEFAULT_LOGIN, "password": DEFAULT_TOKEN}
    monkeypatch.setenv("AIRFLOW_CONN_MRM_JIRA", json.dumps(conn))
    monkeypatch.setenv(
        "AIRFLOW_CONN_MRM_SMTP",
        json.dumps({"conn_type": "smtp", "host": smtp.host, "port": smtp.port, "extra": {"insecure": True}}),
    )  # the plaintext stand-in on loopback
    monkeypatch.setenv("AIRFLOW_CONN_MRM_SLACK", json.dumps({"conn_type": "http", "host": slack.url}))
    yield SimpleNamespace(jira=jira, smtp=smtp, slack=slack)
    for peer in (jira, smtp, slack):
        peer.stop()


@pytest.fixture
def inventory(tmp_path, monkeypatch, mrm_home, demo_files, peers):
    folder = local_inventory(tmp_path / "inventory", demo_files, notifications=True)
    retry = {"attempts": 3, "backoff_seconds": 0.01, "max_wait_seconds": 60}
    route_to_standins(folder, "RISK", jira_timeout=2, retry=retry)
    monkeypatch.setenv("MRM_INVENTORY", str(folder))
    return folder


@pytest.fixture
def red_run(inventory, monkeypatch) -> dict:
    """card_fraud's day 5 with MRM_AIRFLOW_URL set: ``run_id``, the evidence's ``uri`` and the page's
    evidence ``url`` for it."""
    monkeypatch.setenv("MRM_AIRFLOW_URL", AIRFLOW + "/")  # a trailing slash as people paste it
    result = pipeline.run_model("card_fraud", day(5))
    assert result["overall_status"] == "RED"
    evidence = pipeline.get_store().run(result["run_id"])["evidence"]["quality_gx"]
    url = f"{AIRFLOW}/model-risk/evidence/card_fraud/2026-09-05/{result['run_id']}/quality_gx.json"
    return {"run_id": result["run_id"], "uri": evidence["uri"], "sha256": evidence["sha256"], "url": url}


def test_the_jira_issue_links_the_pages_evidence_and_model_page_and_keeps_the_storage_uri(peers, red_run):
    (issue,) = peers.jira.issues.values()
    lines = plain_text(issue["description"]).splitlines()

    assert f"Evidence: {red_run['url']}" in lines
    assert f"Evidence (storage URI): {red_run['uri']}" in lines
    assert red_run["uri"].startswith("file:///")
    assert f"Model page: {AIRFLOW}/model-risk/models/card_fraud" in lines
    assert lines.index(f"Evidence: {red_run['url']}") + 1 == lines.index(
        f"Evidence (storage URI): {red_run['uri']}"
    )
    nodes = [n for p in issue["description"]["content"] for n in p["content"]]
    linked = {n["text"]: n["marks"][0]["attrs"]["href"] for n in nodes if n.get("marks")}
    assert linked[red_run["url"]] == red_run["url"]  # a link in Jira, not just text
    assert red_run["uri"] not in linked  # no browser opens file:// or s3://: it stays text


def test_the_red_alert_by_mail_and_slack_links_the_same_evidence(peers, red_run):
    (mail,) = peers.smtp.messages
    text = mail.get_body(("plain",)).get_content().splitlines()
    assert f"Evidence: {red_run['url']}" in text
    assert f"Evidence (storage URI): {red_run['uri']}" in text
    assert f"Model page: {AIRFLOW}/model-risk/models/card_fraud" in text
    assert f'<a href="{red_run["url"]}">Evidence</a>' in mail.get_body(("html",)).get_content()

    (alert,) = [doc for doc in peers.slack.received if "[RED]" in doc["text"]]
    context = next(b for b in alert["blocks"] if b["type"] == "context")["elements"][0]["text"]
    assert f"<{red_run['url']}|Evidence>" in context
    assert f"<{red_run['uri']}|Evidence (storage URI)>" in context


def test_the_linked_evidence_opens_on_the_page_checked_against_its_sha256(red_run, mrm_home):
    store = pipeline.get_store()
    app = create_app(
        store=lambda: store, inventory=pipeline.get_inventory, evidence_uri=lambda: settings.evidence_uri()
    )
    client = TestClient(app, root_path=URL_PREFIX)

    response = client.get(red_run["url"].removeprefix(AIRFLOW))

    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == red_run["sha256"]
    assert client.get(f"{AIRFLOW}/model-risk/models/card_fraud".removeprefix(AIRFLOW)).status_code == 200


def test_a_could_not_run_ticket_links_the_model_page(inventory, monkeypatch):
    monkeypatch.setenv("MRM_AIRFLOW_URL", AIRFLOW)
    entry = pipeline.get_inventory().get("aml_alert")
    breach = could_not_run_breach(entry, "run1", day(20), "read scoring log", "not valid Parquet")

    lines = ticket_text(entry, breach, detail=breach.message).splitlines()

    assert f"Model page: {AIRFLOW}/model-risk/models/aml_alert" in lines
    assert not [line for line in lines if line.startswith("Evidence")]  # nothing was written
    with pytest.raises(MrmError):
        pipeline.run_model("aml_alert", day(20))  # the real failure files the same kind of text
    (item,) = [i for i in outbox.items(pipeline.get_store(), "all") if i["channel"] == "jira"]
    assert item["payload"]["control"] == "run.could_not_run"
    assert f"Model page: {AIRFLOW}/model-risk/models/aml_alert" in item["payload"]["text"].splitlines()


def test_without_airflow_url_the_evidence_is_its_storage_uri_and_no_page_is_linked(monkeypatch):
    monkeypatch.delenv("MRM_AIRFLOW_URL", raising=False)
    uri = "s3://bank-evidence/card_fraud/2026-09-05/run1/quality_gx.json"

    assert page_links.evidence("Evidence", "card_fraud", day(5), "run1", uri) == {"Evidence": uri}
    assert page_links.model_page("card_fraud") is None
    assert page_links.with_model_page({"Evidence": uri}, "card_fraud") == {"Evidence": uri}


def test_the_links_prefix_is_where_the_plugin_mounts_the_page():
    assert page_links.PAGE_PREFIX == URL_PREFIX
