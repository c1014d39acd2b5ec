"""The Jira sink against the local Jira stand-in on loopback (Cloud and Data Center), no mocks: issues,
comments, closing, errors and the retries after a failure where Jira had already acted."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import requests

from mrm.demo.standins.jira import DEFAULT_LOGIN, DEFAULT_TOKEN, NOT_FOUND, JiraStandIn
from mrm.errors import ConfigError, DeliveryError
from mrm.inventory.notifications import JiraChannel
from mrm.notify.base import (
    TICKET_CLOSED,
    TICKET_ESCALATED,
    TICKET_GREEN,
    TICKET_OCCURRENCE,
    TICKET_OPENED,
    Delivery,
)
from mrm.notify.channels.jira import JiraSink, key_label, labels_for, plain_text

OWNER = "fraud-models@example.com"
CONTROL = "drift.psi[amount]{country=NL}"
TITLE = f"[RED] card_fraud: {CONTROL} breached on 2026-09-10"
TEXT = "PSI of amount is 0.31 (RED above 0.25).\n\nEvidence: file:///tmp/evidence/card_fraud/2026-09-10"


@pytest.fixture(params=["cloud", "datacenter"])
def jira(request) -> JiraStandIn:
    with JiraStandIn(request.param, users={OWNER: "Fraud Models", "ann@example.com": "Ann"}) as standin:
        yield standin


def sink_for(
    jira: JiraStandIn, *, project: str = "MRM", token: str = DEFAULT_TOKEN, **kwargs: Any
) -> JiraSink:
    timeout = kwargs.pop("timeout", 5.0)
    issue_type = kwargs.pop("issue_type", "Task")
    return JiraSink(
        jira.base_url, jira.flavor, project, issue_type, DEFAULT_LOGIN, token, timeout, connection="mrm_jira"
    )


def event(kind: str = TICKET_OPENED, key: str = "evt-1", attempts: int = 0, **payload: Any) -> Delivery:
    base = {
        "ticket_id": 12,
        "ticket_key": "MRM-12",
        "model_id": "card_fraud",
        "model_name": "Card fraud",
        "control": CONTROL,
        "check": "drift",
        "metric": "psi",
        "column": "amount",
        "segment": "country=NL",
        "severity": "RED",
        "priority": "High",
        "tier": 1,
        "owner": OWNER,
        "title": TITLE,
        "text": TEXT,
        "value": 0.31,
        "logical_date": "2026-09-10",
        "run_id": "run-1",
        "links": {},
    }
    return Delivery(key=key, channel="jira", kind=kind, payload=base | payload, attempts=attempts)


def marked(body: Any, key: str) -> bool:
    return f"mrm-event: {key}" in plain_text(body).splitlines()


def rest(jira: JiraStandIn) -> str:
    return f"{jira.base_url}/rest/api/{'3' if jira.flavor == 'cloud' else '2'}"


# --- issues and comments ----------------------------------------------------------------------------


def test_opened_creates_an_issue_with_labels_priority_assignee_and_the_flavors_body(jira):
    receipt = sink_for(jira).deliver(event())

    assert receipt == {"external_key": "MRM-1", "url": f"{jira.base_url}/browse/MRM-1", "action": "created"}
    issue = jira.issues["MRM-1"]
    digest = hashlib.sha1(CONTROL.encode()).hexdigest()[:12]
    assert issue["labels"] == ["mrm", "mrm-model-card_fraud", f"mrm-control-{digest}", key_label("evt-1")]
    assert key_label("evt-1") == f"mrm-key-{hashlib.sha1(b'evt-1').hexdigest()[:16]}"
    assert (issue["summary"], issue["priority"], issue["assignee"]) == (TITLE, "High", OWNER)
    assert (issue["status"], issue["statusCategory"], issue["issuetype"]) == ("To Do", "new", "Task")
    if jira.flavor == "cloud":
        assert issue["description"]["type"] == "doc" and issue["description"]["version"] == 1
        assert all(p["type"] == "paragraph" for p in issue["description"]["content"])
    else:
        assert isinstance(issue["description"], str)
    lines = plain_text(issue["description"]).splitlines()
    assert "PSI of amount is 0.31 (RED above 0.25)." in lines and lines[-1] == "mrm-event: evt-1"


def test_labels_hold_no_spaces_and_the_summary_is_cut_to_jiras_limit(jira):
    assert all(" " not in label for label in labels_for("card fraud", "psi[a b]{c=d e}"))
    sink_for(jira).deliver(event(title="x" * 300))
    assert jira.issues["MRM-1"]["summary"] == "x" * 255


def test_a_second_opened_event_comments_on_the_open_issue_instead_of_creating_one(jira):
    sink = sink_for(jira)
    sink.deliver(event(key="evt-1"))
    receipt = sink.deliver(event(key="evt-2", ticket_key="MRM-13"))

    assert receipt["action"] == "commented" and list(jira.issues) == ["MRM-1"]
    [comment] = jira.issues["MRM-1"]["comments"]
    assert isinstance(comment["body"], dict if jira.flavor == "cloud" else str)
    assert "mrm opened ticket MRM-13 again" in plain_text(comment["body"]) and marked(
        comment["body"], "evt-2"
    )
    # a first recorded attempt still looks for its marker first: another deliverer may have posted it
    assert [m for m, path in jira.requests_log if path.endswith("/MRM-1/comment")] == ["GET", "POST"]


def test_occurrence_green_and_escalation_comment_on_the_open_issue(jira):
    sink = sink_for(jira)
    sink.deliver(event(key="evt-1"))
    sink.deliver(
        event(TICKET_OCCURRENCE, "evt-2", logical_date="2026-09-11", text="Breached again on 2026-09-11")
    )
    sink.deliver(
        event(TICKET_GREEN, "evt-3", logical_date="2026-09-12", text="Returned to green on 2026-09-12")
    )
    receipt = sink.deliver(event(TICKET_ESCALATED, "evt-4", priority="Highest"))

    assert receipt["action"] == "commented" and list(jira.issues) == ["MRM-1"]
    issue = jira.issues["MRM-1"]
    assert issue["priority"] == "Highest" and "mrm-escalated" in issue["labels"]
    bodies = [plain_text(c["body"]) for c in issue["comments"]]
    assert [b.splitlines()[-1] for b in bodies] == [
        "mrm-event: evt-2",
        "mrm-event: evt-3",
        "mrm-event: evt-4",
    ]
    assert bodies[0].splitlines()[0] == "Breached again on 2026-09-11"  # the event's text, no extra heading
    assert bodies[1].splitlines()[0] == "Returned to green on 2026-09-12"
    assert bodies[2].splitlines()[0] == "Escalated to priority Highest: RED and unresolved for too long."


def test_an_occurrence_without_an_open_issue_creates_one_so_nothing_is_lost(jira):
    receipt = sink_for(jira).deliver(event(TICKET_OCCURRENCE, "evt-9"))
    assert receipt["action"] == "created" and marked(jira.issues["MRM-1"]["description"], "evt-9")


def test_closed_comments_who_and_why_then_moves_the_issue_to_done(jira):
    sink = sink_for(jira)
    sink.deliver(event())
    receipt = sink.deliver(event(TICKET_CLOSED, "evt-2", closed_by="ann@example.com", reason="retrained"))

    assert receipt == {"external_key": "MRM-1", "url": f"{jira.base_url}/browse/MRM-1", "action": "closed"}
    issue = jira.issues["MRM-1"]
    assert issue["statusCategory"] == "done"
    assert "Closed in mrm by ann@example.com: retrained" in plain_text(issue["comments"][-1]["body"])
    assert sink.deliver(event(TICKET_CLOSED, "evt-3"))["action"] == "no_open_issue"


def test_an_issue_closed_in_jira_reads_as_done_and_the_next_breach_opens_a_new_one(jira):
    sink = sink_for(jira)
    sink.deliver(event())
    assert sink.status("MRM-1") == {"key": "MRM-1", "status": "To Do", "category": "new", "done": False}

    jira.close("MRM-1", "Won't Do")

    assert sink.status("MRM-1") == {"key": "MRM-1", "status": "Won't Do", "category": "done", "done": True}
    assert sink.deliver(event(TICKET_OCCURRENCE, "evt-2"))["external_key"] == "MRM-2"


def test_an_owner_jira_does_not_know_leaves_the_issue_unassigned(jira):
    assert sink_for(jira).deliver(event(owner="nobody@example.com"))["action"] == "created"
    assert jira.issues["MRM-1"]["assignee"] is None


# --- failures -------------------------------------------------------------------------------------


def test_bad_credentials_are_a_permanent_failure_naming_the_connection(jira):
    with pytest.raises(DeliveryError) as err:
        sink_for(jira, token="wrong-secret").deliver(event())
    assert not err.value.transient
    message = str(err.value)
    assert "HTTP 401" in message and "connection mrm_jira" in message and "login and token" in message
    assert "wrong-secret" not in message


def test_an_unknown_project_is_permanent_with_jiras_error_text(jira):
    with pytest.raises(DeliveryError) as err:
        sink_for(jira, project="NOPE").deliver(event())
    assert not err.value.transient
    assert "HTTP 400: The value 'NOPE' does not exist for the field 'project'." in str(err.value)


def test_an_unknown_issue_type_is_permanent_with_jiras_field_error(jira):
    with pytest.raises(DeliveryError) as err:
        sink_for(jira, issue_type="Incident").deliver(event())
    assert not err.value.transient and "create issue in project MRM: HTTP 400: issuetype: " in str(err.value)
    assert jira.issues == {}


def test_503_is_transient(jira):
    jira.inject(503)
    with pytest.raises(DeliveryError) as err:
        sink_for(jira).deliver(event())
    assert err.value.transient and "HTTP 503" in str(err.value)


def test_429_is_transient_with_the_retry_after_jira_asked_for(jira):
    jira.inject(429, retry_after=7)
    with pytest.raises(DeliveryError) as err:
        sink_for(jira).deliver(event())
    assert err.value.transient and err.value.retry_after == 7.0


def test_a_hang_is_a_transient_timeout(jira):
    jira.inject("hang", hang_seconds=5)
    with pytest.raises(DeliveryError) as err:
        sink_for(jira, timeout=0.5).deliver(event())
    assert err.value.transient and "no answer" in str(err.value) and "0.5 s" in str(err.value)


# --- retries after Jira acted but the sink saw a failure ----------------------------------------------


def test_a_create_applied_before_a_503_is_not_repeated_by_the_retry(jira):
    sink = sink_for(jira)
    jira.inject(503, match=f"POST {rest(jira).removeprefix(jira.base_url)}/issue", apply_first=True)
    with pytest.raises(DeliveryError) as err:
        sink.deliver(event())
    assert err.value.transient and list(jira.issues) == ["MRM-1"]

    receipt = sink.deliver(event(attempts=1))

    assert receipt["action"] == "already_done" and list(jira.issues) == ["MRM-1"]
    assert jira.issues["MRM-1"]["comments"] == []


def test_a_comment_applied_before_a_hang_is_not_repeated_by_the_retry(jira):
    sink = sink_for(jira, timeout=0.5)
    sink.deliver(event(key="evt-1"))
    post = f"POST {rest(jira).removeprefix(jira.base_url)}/issue/MRM-1/comment"
    jira.inject("hang", match=post, apply_first=True, hang_seconds=5)
    with pytest.raises(DeliveryError) as err:
        sink.deliver(event(TICKET_OCCURRENCE, "evt-2"))
    assert err.value.transient

    receipt = sink.deliver(event(TICKET_OCCURRENCE, "evt-2", attempts=1))

    assert receipt["action"] == "already_done"
    comments = jira.issues["MRM-1"]["comments"]
    assert len(comments) == 1 and marked(comments[0]["body"], "evt-2")


def test_a_close_whose_transition_failed_is_finished_by_the_retry_without_a_second_comment(jira):
    sink = sink_for(jira)
    sink.deliver(event())
    jira.inject(503, match="/transitions")
    closed = event(TICKET_CLOSED, "evt-2", closed_by="ann@example.com", reason="retrained")
    with pytest.raises(DeliveryError):
        sink.deliver(closed)

    assert sink.deliver(event(TICKET_CLOSED, "evt-2", attempts=1))["action"] == "closed"
    assert jira.issues["MRM-1"]["statusCategory"] == "done" and len(jira.issues["MRM-1"]["comments"]) == 1


# --- configuration --------------------------------------------------------------------------------


def test_from_config_reads_the_airflow_connection(jira, monkeypatch):
    conn = {"conn_type": "http", "host": jira.base_url, "login": DEFAULT_LOGIN, "password": DEFAULT_TOKEN}
    monkeypatch.setenv("AIRFLOW_CONN_MRM_JIRA", json.dumps(conn))
    sink = JiraSink.from_config(JiraChannel(flavor=jira.flavor, timeout_seconds=2))
    assert sink.deliver(event())["action"] == "created"


def test_from_config_without_a_token_says_what_to_put_where(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MRM_JIRA", json.dumps({"host": "https://example.atlassian.net"}))
    with pytest.raises(ConfigError, match=r"Airflow connection 'mrm_jira' needs .* API token as password"):
        JiraSink.from_config(JiraChannel())


def test_a_flavor_in_the_connection_extra_gets_one_line_naming_the_policy_setting(monkeypatch):
    conn = {"host": "https://example.atlassian.net", "login": "a@b.example", "password": "tok",
            "extra": {"flavor": "datacenter"}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_MRM_JIRA", json.dumps(conn))
    with pytest.raises(ConfigError) as err:
        JiraSink.from_config(JiraChannel())
    assert str(err.value) == (
        "Airflow connection 'mrm_jira' has flavor 'datacenter' in its extra, which mrm does not read: the "
        "Jira flavor is notifications.channels.jira.flavor in _policy.yaml (now 'cloud'); set it there and "
        "remove it from the connection"
    )


def test_a_flavor_in_the_extra_that_agrees_is_a_warning(monkeypatch, caplog):
    conn = {"host": "https://example.atlassian.net", "login": "a@b.example", "password": "tok",
            "extra": {"flavor": "cloud"}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_MRM_JIRA", json.dumps(conn))
    with caplog.at_level("WARNING", logger="mrm.notify"):
        assert JiraSink.from_config(JiraChannel()).flavor == "cloud"
    assert [r.getMessage() for r in caplog.records] == [
        "Airflow connection 'mrm_jira' has flavor 'cloud' in its extra, which mrm does not read: the Jira "
        "flavor is notifications.channels.jira.flavor in _policy.yaml (now 'cloud'); remove it from the "
        "connection"
    ]


# --- the stand-in's shapes (Atlassian's documented bodies) ----------------------------------------------


def api_session(jira: JiraStandIn) -> requests.Session:
    session = requests.Session()
    session.auth = (DEFAULT_LOGIN, DEFAULT_TOKEN)
    return session


def test_standin_error_bodies_are_jiras(jira):
    s, base = api_session(jira), rest(jira)

    missing = s.get(f"{base}/issue/MRM-99")
    assert missing.status_code == 404
    assert missing.json() == {"errorMessages": [NOT_FOUND], "errors": {}}

    fields = {"project": {"key": "NOPE"}, "issuetype": {"name": "Task"}, "summary": "s"}
    bad = s.post(f"{base}/issue", json={"fields": fields})
    assert bad.status_code == 400
    assert bad.json()["errorMessages"] == [] and set(bad.json()["errors"]) == {"project"}

    jql = s.get(
        f"{base}/{'search/jql' if jira.flavor == 'cloud' else 'search'}", params={"jql": "assignee = x"}
    )
    assert jql.status_code == 400 and jql.json()["errorMessages"][0].startswith("Error in the JQL Query: ")

    assert requests.get(f"{base}/issue/MRM-1").status_code == 401


def test_standin_takes_only_the_flavors_body_format(jira):
    s, base = api_session(jira), rest(jira)
    wrong = "plain text" if jira.flavor == "cloud" else {"type": "doc", "version": 1, "content": []}
    fields = {"project": {"key": "MRM"}, "issuetype": {"name": "Task"}, "summary": "s", "description": wrong}
    resp = s.post(f"{base}/issue", json={"fields": fields})
    expected = "Atlassian Document" if jira.flavor == "cloud" else "must be a string"
    assert resp.status_code == 400 and expected in resp.json()["errors"]["description"]


def test_standin_search_transitions_and_users_have_the_documented_shapes(jira):
    s, base = api_session(jira), rest(jira)
    sink_for(jira).deliver(event())

    if jira.flavor == "cloud":
        found = s.post(f"{base}/search/jql", json={"jql": "project = MRM", "fields": ["status"]}).json()
        assert set(found) == {"issues", "isLast"} and found["isLast"] is True
        users = s.get(f"{base}/user/search", params={"query": OWNER}).json()
        assert {"accountId", "emailAddress", "displayName"} <= set(users[0])
    else:
        found = s.get(f"{base}/search", params={"jql": "project = MRM", "fields": "status"}).json()
        assert {"startAt", "maxResults", "total", "issues"} <= set(found) and found["total"] == 1
        users = s.get(f"{base}/user/search", params={"username": "fraud-models"}).json()
        assert {"name", "emailAddress"} <= set(users[0])
    [issue] = found["issues"]
    assert {"id", "key", "self"} <= set(issue) and set(issue["fields"]) == {"status"}
    assert issue["fields"]["status"]["statusCategory"]["key"] == "new"

    transitions = s.get(f"{base}/issue/MRM-1/transitions").json()["transitions"]
    assert {t["to"]["statusCategory"]["key"] for t in transitions} == {"indeterminate", "done"}
    assert all({"id", "name", "to"} <= set(t) for t in transitions)
    comments = s.get(f"{base}/issue/MRM-1/comment").json()
    assert comments["comments"] == [] and comments["total"] == 0


def test_standin_dump_writes_the_issues_as_json(jira, tmp_path):
    sink_for(jira).deliver(event())
    dumped = json.loads(jira.dump(tmp_path / "jira.json").read_text())
    assert dumped["flavor"] == jira.flavor and dumped["issues"]["MRM-1"]["summary"] == TITLE
