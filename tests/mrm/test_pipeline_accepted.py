"""An accepted risk through the real pipeline on the demo data (SQLite history): card_fraud's
device_score null rate in country=NL is RED on demo days 5-7. Day 5 opens a ticket; a reviewer accepts
the risk until day 6 (the ticket closes, cause accepted); day 6 records the control ACCEPTED, with its
RED verdict and the act in its detail: no ticket, no RED alert, the run ACCEPTED, shown so in the run
note, ``mrm run`` and ``mrm history``; day 7, after the acceptance, is RED again: a new ticket and a RED
alert."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from support import local_inventory

from mrm import pipeline
from mrm.airflow.run_notes import note_for
from mrm.cli import main
from mrm.controls import ACCEPTED, RED
from mrm.demo.data import day
from mrm.notify import outbox
from mrm.ticketing.desk import Actor, Desk

CONTROL = "quality.null_rate[device_score]{country=NL}"
DAG = "mrm_monitor__card_fraud"
REVIEWER = Actor("rev@example.com")  # no roles in the example policy: any act goes (today's behaviour)


@pytest.fixture
def routed(tmp_path, monkeypatch, mrm_home, demo_files):
    """The example inventory with its notification routing kept (Jira tickets, RED alerts by e-mail,
    Slack and SNS): nothing answers, so the items stay in the outbox, where the test reads them."""
    folder = local_inventory(tmp_path / "inventory", demo_files, notifications=True)
    monkeypatch.setenv("MRM_INVENTORY", str(folder))
    return folder


def airflow(n: int) -> str:
    return f"airflow:{DAG}/scheduled__{day(n)}T00:00:00+00:00/try1"


def control_row(run_id: str) -> dict:
    (row,) = [r for r in pipeline.get_store().metrics(run_id=run_id) if _key(r) == CONTROL]
    return row


def _key(row: dict) -> str:
    return f"{row['check']}.{row['metric']}[{row['column']}]" + (
        f"{{{row['segment']}}}" if row["segment"] else ""
    )


def red_alerts(n: int) -> list[dict]:
    return [
        o
        for o in outbox.items(pipeline.get_store(), "all", "card_fraud")
        if o["kind"] == "alert.red" and o["logical_date"] == day(n)
    ]


def test_an_accepted_risk_holds_through_its_date_and_tickets_again_after(routed, capsys):
    pipeline.run_model("card_fraud", day(5), airflow(5))
    store = pipeline.get_store()
    tracker = pipeline.notifier().tracker
    ticket = next(t for t in tracker.tickets("card_fraud") if t["control"] == CONTROL)
    assert red_alerts(5)  # the day's new RED tickets were alerted

    desk = Desk(store, pipeline.get_inventory(), pipeline.notifier())
    accepted = desk.accept(
        REVIEWER, ticket["ticket_id"], "vendor fix due", day(6), ["watch NL"], today=day(5)
    )
    assert accepted.ticket["status"] == "closed"

    code = main(["run", "--model", "card_fraud", "--date", str(day(6))])
    out = capsys.readouterr().out
    assert code == 0
    held = pipeline.get_store().runs("card_fraud")[-1]
    assert held["logical_date"] == day(6)
    row = control_row(held["run_id"])
    assert row["status"] == ACCEPTED
    assert row["detail"]["accepted"] == {
        "act_id": accepted.act["act_id"],
        "until": str(day(6)),
        "by": "rev@example.com",
        "authenticated": "airflow",
        "verdict": RED,
    }
    assert (
        f"  ACCEPTED {CONTROL} = {row['value']:.4g} (amber 0.05, red 0.1; RED, accepted until {day(6)})"
        in (out.splitlines())
    )
    open_now = [t for t in tracker.tickets("card_fraud") if t["control"] == CONTROL]
    assert open_now == []  # no new ticket while the acceptance holds
    assert red_alerts(6) == []  # and no RED alert (no other control of the day is RED)
    assert held["overall_status"] == ACCEPTED  # its only breach is accepted

    code = main(["history", "--model", "card_fraud", "--since", str(day(6)), "--until", str(day(6)),
                 "--format", "csv"])  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    (shown,) = [
        r
        for r in rows
        if (r["metric"], r["column"], r["segment"]) == ("null_rate", "device_score", "country=NL")
    ]
    assert (code, shown["status"], shown["reason"]) == (0, ACCEPTED, f"RED, accepted until {day(6)}")

    pack = routed.parent / "pack.zip"
    assert main(["evidence-pack", "--model", "card_fraud", "--out", str(pack)]) == 0
    capsys.readouterr()
    with zipfile.ZipFile(pack) as zf:
        breaches = list(csv.DictReader(io.StringIO(zf.read("breaches.csv").decode())))
        acts = json.loads(zf.read("acts.json"))
    assert [(b["logical_date"], b["status"]) for b in breaches if b["segment"] == "country=NL"] == [
        (str(day(5)), RED),
        (str(day(6)), ACCEPTED),  # the accepted day is in the pack's breaches, as accepted
    ]
    assert [a["kind"] for a in acts] == ["accept_risk"]

    after = pipeline.run_model("card_fraud", day(7), airflow(7))
    assert control_row(after["run_id"])["status"] == RED
    (new,) = [t for t in tracker.tickets("card_fraud") if t["control"] == CONTROL]
    assert new["ticket_id"] != ticket["ticket_id"] and new["first_logical_date"] == day(7)
    alerted = red_alerts(7)
    assert alerted and all(new["key"] in str(a["payload"]) for a in alerted)


def test_the_run_note_says_accepted_until_not_green(routed):
    pipeline.run_model("card_fraud", day(5), airflow(5))
    tracker = pipeline.notifier().tracker
    ticket = next(t for t in tracker.tickets("card_fraud") if t["control"] == CONTROL)
    desk = Desk(pipeline.get_store(), pipeline.get_inventory(), pipeline.notifier())
    desk.accept(REVIEWER, ticket["ticket_id"], "vendor fix due", day(6), today=day(5))

    summary = pipeline.run_model("card_fraud", day(6), airflow(6))

    note = note_for(pipeline.get_store(), DAG, f"scheduled__{day(6)}T00:00:00+00:00")
    value = control_row(summary["run_id"])["value"]
    assert note.startswith(
        f"1 ACCEPTED: null_rate(device_score){{country=NL}}={value:.3g} > 0.1 (RED, accepted until {day(6)})"
    )
    assert "GREEN" not in note and "tickets" not in note
