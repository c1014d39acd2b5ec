"""The ticket lifecycle and alerts through real monitoring runs on the demo data, delivered to the Jira,
SMTP and Slack stand-ins on loopback: open, occurrence, returned to green, reruns, Jira faults and
outages, tickets closed in Jira or by a person, escalation, the daily digest and summary.

The incident used: card_fraud's device_score is null for 20% of Dutch events on demo days 5-7, so
``quality.null_rate[device_score]{country=NL}`` is RED on days 5, 6, 7 and GREEN again on day 8.
"""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace

import pytest
from support import local_inventory, route_to_standins

from mrm import pipeline
from mrm.demo.data import INCIDENTS, day, expected_findings
from mrm.demo.standins.jira import DEFAULT_LOGIN, DEFAULT_TOKEN, JiraStandIn
from mrm.demo.standins.receiver import Receiver
from mrm.demo.standins.smtp import SmtpStandIn
from mrm.errors import DeliveryError, MrmError
from mrm.notify import outbox
from mrm.notify.channels.jira import ESCALATED_LABEL, key_label, labels_for, plain_text
from mrm.ticketing.tracker import BuiltinTracker, TicketNotFoundError


def first_jira_key() -> str:
    return next(r["key"] for r in outbox.items(pipeline.get_store(), "all") if r["channel"] == "jira")


PROJECT = "RISK"  # the Jira project: its keys (RISK-1) differ from the built-in tracker's (MRM-1)
MODEL = "card_fraud"
OWNER = "fraud-models@example.com"
TEAM = "model-risk@example.com"
CONTROL = "quality.null_rate[device_score]{country=NL}"
(INCIDENT,) = [i for i in INCIDENTS if i.model_id == MODEL and i.kind == "segment_nulls"]
RED_DAYS = list(INCIDENT.days())  # 5, 6, 7
GREEN_DAY = INCIDENT.last + 1  # 8


def test_the_incident_days_are_what_these_tests_assume():
    assert RED_DAYS == [5, 6, 7]
    nl = ("null_rate", "device_score", "country=NL", "RED")
    assert all(expected_findings(MODEL, n) == {nl} for n in RED_DAYS)
    assert expected_findings(MODEL, GREEN_DAY) == set()


# -- set-up -------------------------------------------------------------------------------------------
@pytest.fixture
def peers(monkeypatch):
    """Jira (cloud, project RISK), SMTP and Slack stand-ins, and the AIRFLOW_CONN_* variables for them."""
    jira = JiraStandIn("cloud", users={OWNER: "Fraud models"}, projects=(PROJECT,))
    smtp = SmtpStandIn().start()
    slack = Receiver().start()
    running = SimpleNamespace(jira=jira, smtp=smtp, slack=slack, monkeypatch=monkeypatch)
    start_jira(running)
    monkeypatch.setenv(
        "AIRFLOW_CONN_MRM_SMTP",
        json.dumps({"conn_type": "smtp", "host": smtp.host, "port": smtp.port, "extra": {"insecure": True}}),
    )  # the plaintext stand-in on loopback
    monkeypatch.setenv("AIRFLOW_CONN_MRM_SLACK", json.dumps({"conn_type": "http", "host": slack.url}))
    yield running
    for peer in (jira, smtp, slack):
        peer.stop()


def start_jira(peers) -> None:
    """(Re)start the Jira stand-in (a new port after a stop) and point the connection at it."""
    url = peers.jira.start()
    conn = {"conn_type": "http", "host": url, "login": DEFAULT_LOGIN, "password": DEFAULT_TOKEN}
    peers.monkeypatch.setenv("AIRFLOW_CONN_MRM_JIRA", json.dumps(conn))


def configure(folder, **notifications) -> None:
    """The example policy's routing (tickets to Jira; RED alerts by e-mail and Slack, without SNS; AMBER
    digest by e-mail; summary to Slack), a small Jira timeout and retry backoff, and ``notifications``
    keys replaced."""
    retry = {"attempts": 6, "backoff_seconds": 0.01, "max_wait_seconds": 60}
    escalation = {"red_open_days": 5, "alerts": ["email"]}
    route_to_standins(
        folder, PROJECT, jira_timeout=0.5, retry=retry, **{"escalation": escalation, **notifications}
    )


@pytest.fixture
def inventory(tmp_path, monkeypatch, mrm_home, demo_files, peers):
    folder = local_inventory(tmp_path / "inventory", demo_files, notifications=True)
    configure(folder)
    monkeypatch.setenv("MRM_INVENTORY", str(folder))
    return folder


def run(n: int, model_id: str = MODEL) -> dict:
    return pipeline.run_model(model_id, day(n))


def tracker() -> BuiltinTracker:
    return BuiltinTracker(pipeline.get_store())


def kinds(ticket_id: int) -> list[str]:
    return [e["kind"] for e in tracker().events(ticket_id)]


def lines(body) -> list[str]:
    return plain_text(body).splitlines()


def comment_heads(issue: dict) -> list[str]:
    return [lines(c["body"])[0] for c in issue["comments"]]


def mails(smtp: SmtpStandIn) -> list[tuple[str, str]]:
    """(To, Subject) of every message, headers unfolded."""
    return [(" ".join(str(m["To"]).split()), " ".join(str(m["Subject"]).split())) for m in smtp.messages]


def slack_texts(slack: Receiver) -> list[str]:
    return [doc["text"] for doc in slack.received]


def writes(jira: JiraStandIn) -> list[tuple[str, str]]:
    """The requests that change Jira (create, comment, edit, transition), in order."""
    return [(m, p) for m, p in jira.requests_log if m in ("POST", "PUT") and "/search" not in p]


def nl_metric(n: int) -> dict:
    (row,) = [
        m
        for m in pipeline.get_store().metrics(MODEL, day(n), day(n))
        if (m["metric"], m["column"], m["segment"]) == ("null_rate", "device_score", "country=NL")
    ]
    return row


def delivered(kind: str | None = None) -> list[dict]:
    rows = outbox.items(pipeline.get_store(), "delivered")
    return [r for r in rows if kind is None or r["kind"] == kind]


# -- the lifecycle ------------------------------------------------------------------------------------
def test_red_opens_one_issue_and_alerts_once_red_again_comments_green_comments_reruns_add_nothing(
    inventory, peers
):
    jira, smtp, slack = peers.jira, peers.smtp, peers.slack

    first = run(5)

    assert first["tickets"] == [{"ticket_id": 1, "key": "MRM-1", "action": "opened"}]
    assert first["notifications"] == {"delivered": 3, "undelivered": []}  # Jira issue, e-mail, Slack
    (issue,) = jira.issues.values()
    m = nl_metric(5)
    evidence = pipeline.get_store().run(first["run_id"])["evidence"]["quality_gx"]["uri"]
    assert issue["key"] == "RISK-1" and issue["status"] == "To Do"
    assert issue["summary"] == f"[RED] card_fraud: {CONTROL} breached on 2026-09-05"
    assert issue["labels"][:3] == labels_for(MODEL, CONTROL)  # then the creating item's key label
    assert issue["labels"][3:] == [key_label(first_jira_key())]
    assert (issue["priority"], issue["assignee"]) == ("High", OWNER)  # tier 1 RED; the owner's Jira user
    assert lines(issue["description"]) == [
        f"What breached: {CONTROL} of Card-not-present fraud score (card_fraud v4.2.0, risk tier 1), "
        "column device_score, segment country=NL",
        f"Value: {m['value']:.4g} (amber 0.05, red 0.1): RED",
        f"Trend (last 1 runs): 09-05 {m['value']:.4g} (RED)",
        f"Run: {first['run_id']}, logical date 2026-09-05",
        f"Evidence: {evidence}",
        f"Model owner: {OWNER}",
        "Next step: Check the scoring-log feed for the affected column and date with the data owner; fix or "
        "re-export the data, then clear the Airflow run for this date to re-check it.",
        "mrm-event: jira:ticket:1:event:1",
    ]
    assert issue["comments"] == []
    assert mails(smtp) == [(f"{OWNER}, {TEAM}", "[RED] card_fraud: 1 new breach on 2026-09-05")]
    body = smtp.messages[0].get_body(("plain",)).get_content()
    assert f"- MRM-1: {CONTROL} = {m['value']:.4g} (red 0.1)" in body.splitlines()
    assert slack_texts(slack) == [":red_circle: [RED] card_fraud: 1 new breach on 2026-09-05"]

    second = run(6)

    assert second["tickets"] == [{"ticket_id": 1, "key": "MRM-1", "action": "occurrence"}]
    assert second["notifications"] == {"delivered": 1, "undelivered": []}
    (issue,) = jira.issues.values()
    (comment,) = issue["comments"]
    m6 = nl_metric(6)
    head = lines(comment["body"])[0]
    assert head == f"Breached again on 2026-09-06: {CONTROL} = {m6['value']:.4g} (run {second['run_id']})."
    assert f"Trend (last 2 runs): 09-05 {m['value']:.4g} (RED) · 09-06 {m6['value']:.4g} (RED)" in lines(
        comment["body"]
    )
    assert lines(comment["body"])[-1] == "mrm-event: jira:ticket:1:event:2"
    assert len(smtp.messages) == 1 and len(slack.received) == 1  # no new RED alert for an open ticket

    green = run(GREEN_DAY)

    assert green["overall_status"] == "GREEN" and green["tickets"] == []
    assert green["notifications"] == {"delivered": 1, "undelivered": []}
    (issue,) = jira.issues.values()
    assert len(issue["comments"]) == 2
    m8 = nl_metric(8)
    assert lines(issue["comments"][1]["body"]) == [
        f"Returned to green on 2026-09-08: {CONTROL} = {m8['value']:.4g} (run {green['run_id']}). The ticket "
        "stays open: close it with `mrm tickets close ID --reason ...` once the cause is understood.",
        "mrm-event: jira:ticket:1:event:3",
    ]
    assert issue["status"] == "To Do"  # open in Jira
    (ticket,) = tracker().tickets(status="all")
    assert (ticket["status"], ticket["occurrences"]) == ("open", 2)  # and here
    assert kinds(1) == ["opened", "occurrence", "returned_to_green"]

    # reruns of a RED date and of the GREEN date add nothing anywhere
    outbox_before, writes_before = outbox.items(pipeline.get_store(), "all"), writes(jira)
    rerun_red, rerun_green = run(6), run(GREEN_DAY)

    assert rerun_red["tickets"] == [{"ticket_id": 1, "key": "MRM-1", "action": "already_recorded"}]
    assert rerun_green["tickets"] == []
    for result in (rerun_red, rerun_green):
        assert result["notifications"] == {"delivered": 0, "undelivered": []}
    assert outbox.items(pipeline.get_store(), "all") == outbox_before
    assert writes(jira) == writes_before
    assert len(jira.issues) == 1 and len(jira.issues["RISK-1"]["comments"]) == 2
    assert len(smtp.messages) == 1 and len(slack.received) == 1
    assert kinds(1) == ["opened", "occurrence", "returned_to_green"]
    assert [t["occurrences"] for t in tracker().tickets(status="all")] == [2]


# -- Jira faults --------------------------------------------------------------------------------------
def test_transient_jira_faults_and_a_hang_still_give_one_issue_and_each_comment_once(inventory, peers):
    jira, smtp = peers.jira, peers.smtp
    jira.inject(503, times=2)  # the first two requests
    jira.inject(503, times=1, match="POST /rest/api/3/issue", apply_first=True)  # created, answer lost
    smtp.reject(451, times=1)

    first = run(5)

    assert first["notifications"] == {"delivered": 3, "undelivered": []}
    (issue,) = jira.issues.values()
    assert issue["comments"] == []  # the retry found the issue the lost answer created
    assert lines(issue["description"]).count("mrm-event: jira:ticket:1:event:1") == 1
    assert writes(jira) == [("POST", "/rest/api/3/issue")]
    (opened,) = delivered("ticket.opened")
    assert (opened["attempts"], opened["receipt"]["action"], opened["receipt"]["external_key"]) == (
        4,
        "already_done",
        "RISK-1",
    )
    assert mails(smtp) == [(f"{OWNER}, {TEAM}", "[RED] card_fraud: 1 new breach on 2026-09-05")]

    comment = "POST /rest/api/3/issue/RISK-1/comment"
    jira.inject(429, times=1, retry_after=1, match=comment)
    jira.inject("hang", times=1, match=comment, apply_first=True, hang_seconds=1.5)  # past the 0.5 s timeout

    second = run(6)

    assert second["notifications"] == {"delivered": 1, "undelivered": []}
    (issue,) = jira.issues.values()
    assert [h.split(":")[0] for h in comment_heads(issue)] == ["Breached again on 2026-09-06"]
    assert writes(jira)[1:] == [("POST", "/rest/api/3/issue/RISK-1/comment")] * 2  # 429, then the hang
    (occurrence,) = delivered("ticket.occurrence")
    assert (occurrence["attempts"], occurrence["receipt"]["action"]) == (3, "already_done")

    third = run(7)

    assert third["notifications"] == {"delivered": 1, "undelivered": []}
    assert len(jira.issues) == 1 and len(jira.issues["RISK-1"]["comments"]) == 2
    assert outbox.items(pipeline.get_store(), "pending") == []
    assert len(smtp.messages) == 1 and len(peers.slack.received) == 1


def test_jira_down_for_whole_runs_then_the_next_run_delivers_everything_once_in_order(inventory, peers):
    configure(inventory, delivery={"breaker_seconds": 0})  # each pass its full retry schedule (no breaker)
    jira = peers.jira
    jira.stop()  # connection refused on every attempt

    down = run(5)

    assert down["notifications"]["delivered"] == 2  # e-mail and Slack do not wait for Jira
    (undelivered,) = down["notifications"]["undelivered"]
    assert (undelivered["key"], undelivered["channel"], undelivered["kind"]) == (
        "jira:ticket:1:event:1",
        "jira",
        "ticket.opened",
    )
    assert undelivered["error"].startswith(
        f"Jira (connection mrm_jira) search the open issue of card_fraud {CONTROL}: cannot connect to "
        "http://127.0.0.1:"
    )
    ctx = pipeline.RunContext(down["run_id"], MODEL, day(5).isoformat(), "", "cli:test", "")
    with pytest.raises(DeliveryError) as raised:
        pipeline.notify(ctx)
    assert raised.value.transient
    assert str(raised.value).startswith(
        f"1 notification(s) undelivered, e.g. jira ticket.opened (outbox #{undelivered['id']}): "
    )
    assert str(raised.value).endswith("fix the channel, then `mrm outbox deliver`")

    still_down = run(6)

    assert [(u["kind"], u["error"]) for u in still_down["notifications"]["undelivered"][1:]] == [
        ("ticket.occurrence", "waiting for an earlier item of the same ticket")
    ]
    pending = outbox.items(pipeline.get_store(), "pending")
    assert [(p["kind"], p["attempts"]) for p in pending] == [
        ("ticket.opened", 6 * 3),
        ("ticket.occurrence", 0),
    ]

    start_jira(peers)  # back, on a new port
    back = run(7)

    assert back["notifications"] == {"delivered": 3, "undelivered": []}
    (issue,) = jira.issues.values()
    assert lines(issue["description"])[-1] == "mrm-event: jira:ticket:1:event:1"
    assert [h.split(":")[0] for h in comment_heads(issue)] == [
        "Breached again on 2026-09-06",
        "Breached again on 2026-09-07",
    ]
    assert writes(jira) == [
        ("POST", "/rest/api/3/issue"),
        ("POST", "/rest/api/3/issue/RISK-1/comment"),
        ("POST", "/rest/api/3/issue/RISK-1/comment"),
    ]
    assert [(r["kind"], r["receipt"]["action"]) for r in delivered() if r["channel"] == "jira"] == [
        ("ticket.opened", "created"),
        ("ticket.occurrence", "commented"),
        ("ticket.occurrence", "commented"),
    ]
    assert outbox.items(pipeline.get_store(), "pending") == []
    assert len(peers.smtp.messages) == 1 and len(peers.slack.received) == 1


def test_an_opened_event_deferred_by_a_long_retry_after_is_not_overtaken_by_the_next_occurrence(
    inventory, peers
):
    jira = peers.jira
    jira.inject(429, times=1, retry_after=120, match="/search")  # longer than max_wait_seconds (60)
    first = run(5)
    assert [u["kind"] for u in first["notifications"]["undelivered"]] == ["ticket.opened"]
    assert first["notifications"]["undelivered"][0]["error"].endswith("(retry after 120 s)")

    second = run(6)

    assert jira.issues == {}  # nothing for this ticket may reach Jira before its opened event
    assert [(u["kind"], u["error"]) for u in second["notifications"]["undelivered"]] == [
        ("ticket.occurrence", "waiting for an earlier item of the same ticket")
    ]


# -- closing ------------------------------------------------------------------------------------------
def test_a_ticket_closed_in_jira_is_closed_here_and_the_next_red_opens_a_new_one(inventory, peers):
    jira = peers.jira
    run(5)
    jira.close("RISK-1")

    again = run(6)

    assert again["tickets"] == [{"ticket_id": 2, "key": "MRM-2", "action": "opened"}]
    assert again["notifications"] == {"delivered": 3, "undelivered": []}
    old, new = tracker().tickets(status="all")
    assert (old["key"], old["status"], old["closed_by"], old["closed_reason"]) == (
        "MRM-1",
        "closed",
        "jira:RISK-1",
        "closed in Jira RISK-1 (status Done)",
    )
    assert kinds(1) == ["opened", "closed"]
    assert (new["key"], new["status"], new["control"], str(new["first_logical_date"])) == (
        "MRM-2",
        "open",
        CONTROL,
        "2026-09-06",
    )
    assert {k: (i["status"], len(i["comments"])) for k, i in jira.issues.items()} == {
        "RISK-1": ("Done", 0),
        "RISK-2": ("To Do", 0),
    }
    assert lines(jira.issues["RISK-2"]["description"])[-1] == "mrm-event: jira:ticket:2:event:3"
    assert [subject for _, subject in mails(peers.smtp)] == [
        "[RED] card_fraud: 1 new breach on 2026-09-05",
        "[RED] card_fraud: 1 new breach on 2026-09-06",
    ]
    assert len(peers.slack.received) == 2
    assert pipeline.notifier().sync_external() == []  # RISK-2 is open; MRM-1 is not read back twice


def test_close_records_who_and_why_and_moves_the_jira_issue_to_done(inventory, peers):
    run(5)
    notifier = pipeline.notifier()
    with pytest.raises(MrmError, match=r"^closing MRM-1 needs a reason \(--reason '...'\)$"):
        notifier.close(1, "alice", "  ")
    assert tracker().tickets()[0]["status"] == "open"

    closed = notifier.close(1, "alice", "vendor fixed the NL feed", day(9))
    report = notifier.deliver(MODEL)

    assert (closed["key"], closed["status"], closed["closed_by"], closed["closed_reason"]) == (
        "MRM-1",
        "closed",
        "alice",
        "vendor fixed the NL feed",
    )
    assert report.delivered == ["jira:ticket:1:event:2"] and report.undelivered == []
    (event,) = [e for e in tracker().events(1) if e["kind"] == "closed"]
    assert (event["message"], str(event["logical_date"])) == (
        "closed by alice: vendor fixed the NL feed",
        "2026-09-09",
    )
    issue = peers.jira.issues["RISK-1"]
    assert issue["status"] == "Done"
    (comment,) = issue["comments"]
    assert lines(comment["body"]) == [
        "Closed in mrm by alice: vendor fixed the NL feed",
        "Closed by alice: vendor fixed the NL feed",
        "mrm-event: jira:ticket:1:event:2",
    ]
    assert delivered("ticket.closed")[0]["receipt"]["action"] == "closed"
    with pytest.raises(TicketNotFoundError, match=r"^ticket MRM-1 is already closed$"):
        notifier.close(1, "bob", "twice")
    assert len(issue["comments"]) == 1 and len(outbox.items(pipeline.get_store(), "all")) == 4


# -- escalation ---------------------------------------------------------------------------------------
def test_a_red_ticket_open_too_long_escalates_once_in_jira_and_to_the_model_risk_team(inventory, peers):
    configure(inventory, escalation={"red_open_days": 2, "alerts": ["email"]})
    jira, smtp = peers.jira, peers.smtp
    run(5)
    notifier = pipeline.notifier()

    assert notifier.daily(day(6)) == {"closed_in_jira": [], "queued": 1, "escalated": 0}  # the summary
    done = notifier.daily(day(7))  # two logical days after the ticket opened

    assert done == {"closed_in_jira": [], "queued": 3, "escalated": 1}  # Jira, e-mail, summary
    assert notifier.deliver().undelivered == []
    (ticket,) = tracker().tickets()
    assert ticket["priority"] == "Highest" and ticket["escalated_at"] is not None
    (event,) = [e for e in tracker().events(1) if e["kind"] == "escalated"]
    assert (
        event["message"] == "Unresolved for 2 days (RED since 2026-09-05): escalated to the model risk team."
    )
    issue = jira.issues["RISK-1"]
    assert issue["priority"] == "Highest" and ESCALATED_LABEL in issue["labels"]
    assert lines(issue["comments"][0]["body"])[:2] == [
        "Escalated to priority Highest: RED and unresolved for too long.",
        "Unresolved for 2 days (RED since 2026-09-05): escalated to the model risk team. Priority raised to "
        "Highest.",
    ]
    escalations = [(to, s) for to, s in mails(smtp) if s.startswith("[ESCALATED]")]
    assert escalations == [(TEAM, f"[ESCALATED] MRM-1 card_fraud: {CONTROL}")]

    # once: neither the next run (RED again) nor the next daily pass escalates it again
    later = run(7)
    assert later["notifications"] == {"delivered": 1, "undelivered": []}  # the occurrence comment
    assert notifier.daily(day(8))["escalated"] == 0
    assert notifier.deliver().undelivered == []
    assert kinds(1) == ["opened", "escalated", "occurrence"]
    assert [s for _, s in mails(smtp) if s.startswith("[ESCALATED]")] == [
        f"[ESCALATED] MRM-1 card_fraud: {CONTROL}"
    ]
    assert Counter(h.split(" ")[0] for h in comment_heads(jira.issues["RISK-1"])) == {
        "Escalated": 1,
        "Breached": 1,
    }
    assert [(m, p) for m, p in writes(jira) if m == "PUT"] == [("PUT", "/rest/api/3/issue/RISK-1")]


# -- the daily digest and summary ---------------------------------------------------------------------
def test_daily_sends_one_amber_digest_per_owner_and_one_summary_once(inventory, peers):
    smtp, slack = peers.smtp, peers.slack
    statuses = {m: run(12, m)["overall_status"] for m in ("aml_alert", "credit_line", "card_fraud")}
    assert statuses == {"aml_alert": "AMBER", "credit_line": "AMBER", "card_fraud": "GREEN"}
    assert smtp.messages == [] and slack.received == []  # runs do not send the portfolio's messages
    notifier = pipeline.notifier()

    assert notifier.daily(day(12)) == {"closed_in_jira": [], "queued": 3, "escalated": 0}
    assert notifier.daily(day(12)) == {"closed_in_jira": [], "queued": 0, "escalated": 0}
    report = notifier.deliver()

    assert report.undelivered == []
    assert report.delivered == [
        "email:digest:credit-risk-models@example.com:2026-09-12",
        "email:digest:fincrime-analytics@example.com:2026-09-12",
        "slack:summary:2026-09-12",
    ]
    assert mails(smtp) == [  # nothing for card_fraud's owner: no AMBER finding that day
        ("credit-risk-models@example.com", "[AMBER] 2 findings on 2026-09-12 (credit_line)"),
        ("fincrime-analytics@example.com", "[AMBER] 1 finding on 2026-09-12 (aml_alert)"),
    ]
    credit = smtp.messages[0].get_body(("plain",)).get_content().splitlines()
    assert [line.split(" = ")[0] for line in credit if line.startswith("- ")] == [
        "- credit_line: quality.null_rate[utilization]",
        "- credit_line: quality.null_rate_increase[utilization]",
    ]
    aml = smtp.messages[1].get_body(("plain",)).get_content().splitlines()
    assert [line for line in aml if line.startswith("- ")] == [
        "- aml_alert: quality.extra_column_count = 1 (amber 1, red 5)"
    ]
    (summary,) = slack.received
    assert summary["text"] == ":large_orange_circle: Model risk summary 2026-09-12: 2 AMBER, 1 GREEN"
    section = summary["blocks"][1]["text"]["text"].splitlines()
    assert section[1:] == [
        "Portfolio monitoring on 2026-09-12: 3 models: 2 AMBER, 1 GREEN.",
        "Tickets: 0 opened on 2026-09-12, 0 open in all.",
        "- aml_alert: AMBER",
        "- card_fraud: GREEN",
        "- credit_line: AMBER",
    ]

    assert notifier.daily(day(12))["queued"] == 0
    again = notifier.deliver()
    assert (again.delivered, again.undelivered) == ([], [])
    assert len(smtp.messages) == 2 and len(slack.received) == 1
