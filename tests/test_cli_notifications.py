"""`mrm tickets show|close`, `mrm outbox [deliver|cancel]` and `mrm notify daily` as a user runs them, with
the example inventory routing to the Jira, SMTP and Slack stand-ins on loopback."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from support import local_inventory, route_to_standins

from mrm import pipeline, wiring
from mrm.cli import OUTBOX_COLUMNS, main
from mrm.demo.standins.jira import DEFAULT_LOGIN, DEFAULT_TOKEN, JiraStandIn
from mrm.demo.standins.receiver import Receiver
from mrm.demo.standins.smtp import SmtpStandIn
from mrm.notify import outbox

PROJECT = "RISK"
OWNER = "fraud-models@example.com"
CONTROL = "quality.null_rate[device_score]{country=NL}"  # RED on 2026-09-05 (demo day 5)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def set_conn(monkeypatch, name: str, conn: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(conn))


def start_jira(peers) -> None:
    url = peers.jira.start()
    conn = {"conn_type": "http", "host": url, "login": DEFAULT_LOGIN, "password": DEFAULT_TOKEN}
    set_conn(peers.monkeypatch, "MRM_JIRA", conn)


def start_slack(peers) -> None:
    peers.slack.start()
    set_conn(peers.monkeypatch, "MRM_SLACK", {"conn_type": "http", "host": peers.slack.url})


@pytest.fixture
def peers(tmp_path, monkeypatch, mrm_home, demo_files):
    """Jira, SMTP and Slack stand-ins, and the example inventory routing to them (RED alerts without SNS)
    as MRM_INVENTORY, with a fresh history."""
    folder = local_inventory(tmp_path / "inventory", demo_files, notifications=True)
    retry = {"attempts": 2, "backoff_seconds": 0.01, "max_wait_seconds": 60}
    route_to_standins(folder, PROJECT, jira_timeout=2, retry=retry)
    monkeypatch.setenv("MRM_INVENTORY", str(folder))

    running = SimpleNamespace(
        jira=JiraStandIn("cloud", users={OWNER: "Fraud models"}, projects=(PROJECT,)),
        smtp=SmtpStandIn().start(),
        slack=Receiver(),
        monkeypatch=monkeypatch,
    )
    start_jira(running)
    start_slack(running)
    smtp = {"conn_type": "smtp", "host": running.smtp.host, "port": running.smtp.port}
    set_conn(monkeypatch, "MRM_SMTP", smtp | {"extra": {"insecure": True}})  # the plaintext stand-in
    yield running
    for peer in (running.jira, running.smtp, running.slack):
        peer.stop()


def outbox_rows(capsys, *args: str) -> list[dict]:
    code, out, err = run(capsys, "outbox", *args, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert all(list(r) == OUTBOX_COLUMNS for r in rows)
    return rows


# -- mrm tickets close / show -------------------------------------------------------------------------
def test_tickets_close_records_who_and_why_and_show_lists_events_and_deliveries(capsys, peers):
    assert main(["run", "--model", "card_fraud", "--date", "2026-09-05"]) == 0
    capsys.readouterr()

    code, out, err = run(
        capsys, "tickets", "close", "MRM-1", "--reason", "vendor fixed the NL feed", "--by", "alice"
    )

    closer = wiring.cli_trigger("alice")  # the OS user; --by only as "on behalf of alice"
    assert closer.startswith("cli:") and closer.endswith(
        " (os user, not authenticated by Airflow) on behalf of alice"
    )
    assert (code, out, err) == (0, f"MRM-1 closed by {closer}: vendor fixed the NL feed (cause other)\n", "")
    issue = peers.jira.issues["RISK-1"]
    assert issue["status"] == "Done" and len(issue["comments"]) == 1
    code, out, _ = run(capsys, "tickets", "--status", "closed", "--format", "json")
    (ticket,) = json.loads(out)
    assert (ticket["key"], ticket["status"]) == ("MRM-1", "closed")
    assert run(capsys, "tickets") == (0, "(no rows)\n", "")  # open ones only

    code, out, err = run(capsys, "tickets", "show", "MRM-1")

    assert code == 0, err
    today = datetime.now(UTC).date()
    (metric,) = [
        m
        for m in pipeline.get_store().metrics("card_fraud")
        if (m["metric"], m["column"], m["segment"]) == ("null_rate", "device_score", "country=NL")
    ]
    lines = out.splitlines()
    assert lines[0] == f"MRM-1 CLOSED RED priority High: [RED] card_fraud: {CONTROL} breached on 2026-09-05"
    assert lines[1] == f"  owner {OWNER}; 1 occurrence(s) 2026-09-05..2026-09-05"
    assert lines[2].startswith(f"  closed {today:%Y-%m-%d} ") and lines[2].endswith(
        f" by {closer}: vendor fixed the NL feed (cause other)"
    )
    opened = f"{CONTROL} = {metric['value']:.4g} on 2026-09-05 (amber 0.05, red 0.1); run {metric['run_id']}"
    assert lines[3] == f"  2026-09-05 {'opened':<18} {opened[:120]}"  # the first 120 characters
    assert (
        lines[4]
        == f"  {today} closed             "
        + f"closed by {closer}: vendor fixed the NL feed (cause other)"[:120]
    )
    assert lines[5].startswith(f"  act #1 {today:%Y-%m-%d} ") and lines[5].endswith(
        f" closed by {closer}: vendor fixed the NL feed (cause other)"
    )
    assert lines[6:] == [
        "  outbox #1 jira ticket.opened: delivered RISK-1",
        "  outbox #4 jira ticket.closed: delivered RISK-1",
    ]

    code, out, err = run(capsys, "tickets", "close", "MRM-1", "--reason", "again")
    assert (code, out) == (1, "") and err == (
        f"mrm: error: {wiring.os_user()} cannot close MRM-1 (model card_fraud): it is closed; only an open "
        "ticket takes this act\n"
    )


def test_tickets_close_without_a_reason_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tickets", "close", "MRM-1", "--by", "alice"])
    assert exc.value.code == 2
    assert "the following arguments are required: --reason" in capsys.readouterr().err


def test_tickets_close_of_an_unknown_ticket_is_one_line(capsys, peers):
    code, out, err = run(capsys, "tickets", "close", "MRM-99", "--reason", "done", "--by", "alice")
    assert (code, out, err) == (1, "", "mrm: error: ticket MRM-99 does not exist (see `mrm tickets`)\n")
    code, out, err = run(capsys, "tickets", "close", "twelve", "--reason", "done")
    assert (code, out) == (1, "")
    assert err == "mrm: error: 'twelve' is not a ticket id; use the number or key, e.g. 12 or MRM-12\n"


# -- mrm outbox ---------------------------------------------------------------------------------------
def test_outbox_lists_what_jira_did_not_take_and_deliver_sends_it_once_jira_is_back(capsys, peers):
    peers.jira.stop()
    code, out, err = run(capsys, "run", "--model", "card_fraud", "--date", "2026-09-05")

    assert code == 0  # the run completed; a notification is still to be delivered: one warning line
    assert "  ticket MRM-1: opened" in out.splitlines() and "  notifications delivered: 2" in out.splitlines()
    assert err.count("\n") == 1
    assert err.startswith(
        "mrm: warning: 1 notification(s) undelivered, e.g. jira ticket.opened (outbox #1): Jira (connection "
        f"mrm_jira) search the open issue of card_fraud {CONTROL}: cannot connect to http://127.0.0.1:"
    )
    assert err.endswith("see `mrm outbox`, fix the channel, then `mrm outbox deliver`\n")

    (row,) = outbox_rows(capsys)
    assert {
        k: row[k] for k in ("id", "status", "channel", "kind", "model_id", "ticket_id", "logical_date")
    } == {
        "id": 1,
        "status": "pending",
        "channel": "jira",
        "kind": "ticket.opened",
        "model_id": "card_fraud",
        "ticket_id": 1,
        "logical_date": "2026-09-05",
    }
    assert row["attempts"] == 2 and row["last_error"].startswith("[transient] Jira (connection mrm_jira) ")
    assert [(r["channel"], r["kind"]) for r in outbox_rows(capsys, "--status", "delivered")] == [
        ("email", "alert.red"),
        ("slack", "alert.red"),
    ]
    code, table, _ = run(capsys, "outbox")
    header, *body = table.splitlines()
    assert header.split() == OUTBOX_COLUMNS and len(body) == 1
    assert body[0].split()[:7] == ["1", "pending", "jira", "ticket.opened", "card_fraud", "1", "2026-09-05"]

    code, out, err = run(capsys, "outbox", "deliver")  # still down
    assert (code, out) == (1, "delivered 0, undelivered 1\n")
    assert err.count("\n") == 1
    assert err.startswith("mrm: error: 1 notification(s) undelivered, e.g. jira ticket.opened (outbox #1): ")

    start_jira(peers)
    code, out, err = run(capsys, "outbox", "deliver")

    assert (code, out, err) == (0, "delivered 1, undelivered 0\n", "")
    (issue,) = peers.jira.issues.values()
    assert issue["key"] == "RISK-1" and issue["summary"].endswith(f"{CONTROL} breached on 2026-09-05")
    assert run(capsys, "outbox") == (0, "(no rows)\n", "")
    assert run(capsys, "outbox", "deliver") == (0, "delivered 0, undelivered 0\n", "")
    assert len(peers.jira.issues) == 1 and len(peers.smtp.messages) == 1 and len(peers.slack.received) == 1


def test_outbox_cancel_drops_a_pending_item_with_who_and_why(capsys, peers):
    peers.jira.stop()
    assert main(["run", "--model", "card_fraud", "--date", "2026-09-05"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["outbox", "cancel", "1"])
    assert exc.value.code == 2 and "the following arguments are required: --reason" in capsys.readouterr().err

    code, out, err = run(
        capsys, "outbox", "cancel", "1", "--reason", "the Jira project was retired", "--by", "alice"
    )

    assert (code, out, err) == (0, "outbox #1 cancelled\n", "")
    (cancelled,) = outbox.items(pipeline.get_store(), "cancelled")
    assert (cancelled["id"], cancelled["cancelled_by"], cancelled["cancelled_reason"]) == (
        1,
        wiring.cli_trigger("alice"),
        "the Jira project was retired",
    )
    assert [r["id"] for r in outbox_rows(capsys, "--status", "cancelled")] == [1]
    assert run(capsys, "outbox") == (0, "(no rows)\n", "")
    code, out, err = run(capsys, "outbox", "cancel", "1", "--reason", "twice")
    assert (code, out) == (1, "")
    assert (
        err == "mrm: error: outbox #1 is cancelled; only pending items can be cancelled (see `mrm outbox`)\n"
    )
    code, _, err = run(capsys, "outbox", "cancel", "2", "--reason", "sent already")
    assert code == 1 and err.startswith("mrm: error: outbox #2 is delivered; ")

    start_jira(peers)
    assert run(capsys, "outbox", "deliver") == (0, "delivered 0, undelivered 0\n", "")
    assert peers.jira.issues == {}  # the cancelled item was not sent


# -- mrm notify daily ---------------------------------------------------------------------------------
def test_notify_daily_prints_counts_and_delivers_once(capsys, peers):
    assert main(["run", "--model", "aml_alert", "--date", "2026-09-12"]) == 0  # AMBER: an extra column
    capsys.readouterr()
    peers.slack.stop()

    code, out, err = run(capsys, "notify", "daily", "--date", "2026-09-12")

    assert (code, out) == (1, "")  # the summary could not reach Slack
    assert err.count("\n") == 1
    assert err.startswith("mrm: error: 1 notification(s) undelivered, e.g. slack alert.summary (outbox #")
    assert [(m["To"], m["Subject"]) for m in peers.smtp.messages] == [
        ("fincrime-analytics@example.com", "[AMBER] 1 finding on 2026-09-12 (aml_alert)")
    ]

    start_slack(peers)
    code, out, err = run(capsys, "notify", "daily", "--date", "2026-09-12")

    assert (code, out, err) == (0, "closed_in_jira: 0, queued: 0, escalated: 0, delivered: 1\n", "")
    assert [doc["text"] for doc in peers.slack.received] == [
        ":large_orange_circle: Model risk summary 2026-09-12: 1 AMBER, 2 NO RUN"
    ]
    assert len(peers.smtp.messages) == 1

    code, out, err = run(capsys, "notify", "daily", "--date", "2026-09-13")
    assert (code, out, err) == (0, "closed_in_jira: 0, queued: 1, escalated: 0, delivered: 1\n", "")
    assert len(peers.slack.received) == 2 and len(peers.smtp.messages) == 1


# -- keys, remote ids and one item's trail ------------------------------------------------------------
def test_outbox_prints_each_items_key_and_remote_id(capsys, peers):
    assert main(["run", "--model", "card_fraud", "--date", "2026-09-05"]) == 0
    capsys.readouterr()

    rows = outbox_rows(capsys, "--status", "delivered")

    assert [(r["channel"], r["key"], r["remote_id"]) for r in rows] == [
        ("jira", "jira:ticket:1:event:1", "RISK-1"),
        ("email", rows[1]["key"], peers.smtp.messages[0]["Message-ID"]),
        ("slack", rows[2]["key"], None),  # an incoming webhook names nothing it received
    ]
    marker = f"mrm-event: {rows[0]['key']}"
    assert marker in json.dumps(peers.jira.issues["RISK-1"]["description"])  # what the key matches in Jira
    _, table, _ = run(capsys, "outbox", "--status", "delivered")
    header, jira_line, *_ = table.splitlines()
    assert header.split() == OUTBOX_COLUMNS
    assert jira_line.split()[7:9] == ["jira:ticket:1:event:1", "RISK-1"]


def test_outbox_show_prints_an_items_whole_trail(capsys, peers):
    peers.jira.inject(503, times=2)  # both attempts of the run's pass
    assert main(["run", "--model", "card_fraud", "--date", "2026-09-05"]) == 0
    assert run(capsys, "outbox", "deliver")[0] == 0  # Jira answers again

    code, out, err = run(capsys, "outbox", "show", "1")

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:5] == [
        "outbox #1 jira ticket.opened: delivered",
        "  key jira:ticket:1:event:1",
        "  remote id RISK-1",
        "  model card_fraud, ticket 1, logical date 2026-09-05",
        lines[4],
    ]
    assert lines[4].startswith("  created ") and lines[4].endswith(", 3 attempt(s)")
    assert [line.split()[:2] + line.split()[4:5] for line in lines[5:]] == [
        ["attempt", "1", "transient"],
        ["attempt", "2", "transient"],
        ["attempt", "3", "delivered"],
    ]
    assert lines[5].endswith(
        f"Jira (connection mrm_jira) search the open issue of card_fraud {CONTROL}: "
        "HTTP 503: Service Unavailable"
    )
    assert '"external_key": "RISK-1"' in lines[7] and '"action": "created"' in lines[7]

    code, out, err = run(capsys, "outbox", "show", "99")
    assert (code, out, err) == (
        1,
        "",
        "mrm: error: outbox #99 does not exist (see `mrm outbox --status all`)\n",
    )


def test_a_run_against_a_jira_answering_503_makes_at_most_the_budgets_attempts(capsys, peers):
    route_to_standins(
        Path(os.environ["MRM_INVENTORY"]), PROJECT, jira_timeout=2,
        retry={"attempts": 6, "backoff_seconds": 0.01, "max_wait_seconds": 60},
        delivery={"max_attempts": 3, "max_seconds": 30, "breaker_seconds": 300},
    )  # fmt: skip
    peers.jira.inject(503, times=100)

    code, _, err = run(capsys, "run", "--model", "card_fraud", "--date", "2026-09-05")

    assert code == 0 and len(peers.jira.requests_log) == 3  # the budget, not the 6 retries
    assert err.count("\n") == 1 and "HTTP 503" in err
    assert err.startswith(
        "mrm: warning: 3 notification(s) undelivered, e.g. jira ticket.opened (outbox #1): "
    )
    assert [(r["channel"], r["attempts"]) for r in outbox_rows(capsys)] == [("jira", 3), ("email", 0),
                                                                          ("slack", 0)]  # fmt: skip
    assert peers.smtp.messages == [] and peers.slack.received == []  # left pending, as the budget says

    code, out, _ = run(capsys, "outbox", "deliver")  # a later pass: Jira failed a moment ago

    assert (code, out) == (1, "delivered 2, undelivered 1\n")
    assert len(peers.jira.requests_log) == 4  # one attempt for the failing channel
    assert len(peers.smtp.messages) == 1 and len(peers.slack.received) == 1


def test_outbox_show_names_the_deliverer_holding_an_item(capsys, peers):
    """An item another deliverer has claimed says who holds it and until when (a killed deliverer's lease
    lapses and the next pass takes the item over); `mrm outbox deliver` leaves it to its holder."""
    from datetime import timedelta

    from mrm.store import outbox as store_outbox

    peers.jira.inject(503, times=2)  # the run's pass leaves the Jira item pending
    assert main(["run", "--model", "card_fraud", "--date", "2026-09-05"]) == 0
    capsys.readouterr()
    store = wiring.get_store()
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        held = store_outbox.claim(
            conn, 1, "worker-7:4242", now + timedelta(hours=1), now + timedelta(hours=2)
        )
    assert held is not None

    code, out, _ = run(capsys, "outbox", "show", "1")
    assert code == 0
    assert out.splitlines()[-1].startswith("  claimed by deliverer worker-7:4242 until ")
    code, out, _ = run(capsys, "outbox", "deliver")
    assert out.splitlines()[0].endswith(", left to another deliverer 1")
    with store.engine.connect() as conn:
        assert store_outbox.item(conn, 1)["status"] == "pending"
