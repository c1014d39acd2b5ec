"""The risk manager's desk in a real browser: `airflow api-server` with this repo's plugins, users of
different Airflow roles logged in through the login page, headless Chromium driven by Playwright, on a
history made by real monitoring runs of card_fraud (the demo's Dutch device-score incident copied to
dates around today, so that a risk accepted until tomorrow expires within the test):

- the owner acknowledges and comments; the owner is offered no Close of a RED ticket and a crafted
  close is refused (403); they propose closure and a reviewer confirms it;
- a reviewer accepts the next ticket's risk until tomorrow: tomorrow's run shows ACCEPTED and opens no
  ticket; the day after, the control is RED again and a new ticket opens;
- a reviewer attests a day and the review page shows by whom;
- a viewer sees no forms and a crafted POST gets 403; a POST without the form's token is refused.
Screenshots of the ticket and review pages go to ``MRM_SCREENSHOTS`` (default: a temporary folder)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from support import clear_caches, local_inventory

from mrm.demo.data import day, write_demo_data
from mrm.demo.ui_tour import ApiServer, chromium
from mrm.ui import csrf

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(chromium() is None, reason="Chromium not installed (apt-get install -y chromium)"),
]
TODAY = datetime.now(UTC).date()
D0, D1, D2, D3 = (TODAY + timedelta(days=n) for n in (-1, 0, 1, 2))
COPIES = {D0: day(5), D1: day(6), D2: day(6), D3: day(7)}  # RED in segment country=NL on each
USERS = {
    "fraud.owner": ("user", "owner-pw-123"),
    "risk.reviewer": ("user", "reviewer-pw-123"),
    "auditor.viewer": ("viewer", "viewer-pw-123"),
}
ROLES = {"model_risk_team": ["risk.reviewer"], "models": {"card_fraud": {"owners": ["fraud.owner"]}}}
SECRET = "mrm-desk-browser-secret-" + "z" * 64


@pytest.fixture(scope="module")
def world(airflow_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("desk_browser")
    data = root / "data"
    write_demo_data(data.as_uri(), days=8)
    for target, source in COPIES.items():
        copy_day(data / "scoring" / "card_fraud", source, target)
    folder = local_inventory(root / "inventory", data.as_uri(), ("_policy", "card_fraud"))
    policy = yaml.safe_load((folder / "_policy.yaml").read_text())
    (folder / "_policy.yaml").write_text(yaml.safe_dump({**policy, "roles": ROLES}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MRM_HOME", str(root / "home"))
        mp.setenv("MRM_INVENTORY", str(folder))
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", SECRET)
        mp.delenv("MRM_DB_URL", raising=False)
        mp.delenv("MRM_EVIDENCE", raising=False)
        clear_caches()
        run(D0)
        server = ApiServer(Path(os.environ["AIRFLOW_HOME"]), root / "home", USERS).start()
        try:
            yield server
        finally:
            server.stop()
            clear_caches()


def copy_day(folder: Path, source, target) -> None:
    """The scoring log of ``source`` as that of ``target``, its event times moved by as many days."""
    import pandas as pd

    (part,) = (folder / f"dt={source}").glob("*.parquet")
    frame = pd.read_parquet(part)
    frame["event_ts"] = frame["event_ts"] + pd.Timedelta(days=(target - source).days)
    (folder / f"dt={target}").mkdir()
    frame.to_parquet(folder / f"dt={target}" / part.name, index=False)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return Path(os.environ.get("MRM_SCREENSHOTS") or tmp_path_factory.mktemp("desk_shots"))


def run(d) -> None:
    from mrm import pipeline

    pipeline.run_model("card_fraud", d)


def tickets(status: str = "all") -> list[dict]:
    from mrm import wiring
    from mrm.ticketing.tracker import BuiltinTracker

    clear_caches()
    return BuiltinTracker(wiring.get_store()).tickets("card_fraud", status)


def statuses(d) -> set[str]:
    from mrm import wiring

    store = wiring.get_store()
    (latest,) = [r for r in store.runs("card_fraud") if r["logical_date"] == d and r["kind"] == "monitoring"][
        -1:
    ]
    return {m["status"] for m in store.metrics(run_id=latest["run_id"])}


def as_user(world, name: str):
    from mrm.demo.desk_tour import logged_in

    return logged_in(world.base, name, USERS[name][1])


def test_the_owner_acknowledges_and_comments_and_the_trail_shows_both(world, shots):
    from mrm.demo.desk_tour import acts_offered, open_page, shot, submit

    (ticket,) = tickets("open")
    with as_user(world, "fraud.owner") as page:
        open_page(page, world.base, f"/tickets/{ticket['ticket_id']}")
        assert acts_offered(page) == ["acknowledge", "comment", "propose_close"]
        shown = submit(
            page, "acknowledge", {"comment": "checking the NL device feed", "action_date": f"{D2}"}
        )
        assert "Recorded: acknowledged by fraud.owner (airflow)" in shown
        shown = submit(page, "comment", {"comment": "root cause: vendor SDK dropped device ids"})
        assert "Recorded: comment by fraud.owner (airflow)" in shown
        assert "checking the NL device feed" in shown and "vendor SDK dropped device ids" in shown
        shot(page, shots / "desk-ticket.png")


def test_the_owners_red_close_is_refused_and_a_reviewer_confirms_the_proposal(world):
    from mrm.demo.desk_tour import acts_offered, open_page, submit

    (ticket,) = tickets("open")
    path = f"/tickets/{ticket['ticket_id']}"
    with as_user(world, "fraud.owner") as page:
        open_page(page, world.base, path)
        assert "close" not in acts_offered(page)
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        crafted = page.request.post(
            f"{world.base}/model-risk{path}/close",
            form={"csrf_token": token, "comment": "fixed", "cause": "data_issue"},
            max_redirects=0,
        )
        assert crafted.status == 403 and "closed only by a member of the model risk team" in crafted.text()
        shown = submit(page, "propose_close", {"comment": "feed fixed upstream", "cause": "data_issue"})
        assert "closure proposed by fraud.owner (airflow), awaiting a reviewer" in shown
    assert [t["ticket_id"] for t in tickets("open")] == [ticket["ticket_id"]]  # a proposal closes nothing
    with as_user(world, "risk.reviewer") as page:
        open_page(page, world.base, path)
        assert acts_offered(page) == ["comment", "close", "accept_risk"]
        assert page.locator('details[data-act="close"] summary').inner_text() == "Confirm closure"
        shown = submit(page, "close", {"comment": "confirmed with the data team", "cause": "data_issue"})
        assert "closed by risk.reviewer (airflow), confirming proposal" in shown
    assert tickets("open") == []
    (closed,) = tickets("closed")
    assert closed["closed_by"] == "risk.reviewer (airflow)"


def test_an_accepted_risk_shows_accepted_opens_no_ticket_and_expires(world, dagbag):
    from mrm.airflow import local as local_airflow
    from mrm.demo.desk_tour import open_page, submit

    # today's run through the real DAG (its run note is in Airflow's DB): RED again, a new ticket
    states = local_airflow.run_dag(dagbag.get_dag("mrm_monitor__card_fraud"), D1)
    assert states["_dag_run"] == "success", states
    (second,) = tickets("open")
    with as_user(world, "risk.reviewer") as page:
        open_page(page, world.base, f"/tickets/{second['ticket_id']}")
        shown = submit(
            page, "accept_risk",
            {"comment": "vendor fix due; NL volume small", "until": f"{D2}", "conditions": "watch daily"},
        )  # fmt: skip
        assert f"risk accepted by risk.reviewer (airflow) until {D2}" in shown
    before = {t["ticket_id"] for t in tickets()}

    run(D2)  # the acceptance holds: ACCEPTED, no ticket

    assert "ACCEPTED" in statuses(D2) and "RED" not in statuses(D2)
    assert {t["ticket_id"] for t in tickets()} == before and tickets("open") == []

    run(D3)  # expired: RED again, a new ticket

    assert "RED" in statuses(D3)
    (third,) = tickets("open")
    assert third["ticket_id"] not in before


def test_a_reviewer_attests_a_day_and_the_review_page_shows_by_whom(world, shots):
    from mrm.demo.desk_tour import open_page, shot, submit

    with as_user(world, "risk.reviewer") as page:
        text = open_page(page, world.base, "/review")
        assert "No review attested yet" in text
        assert "new RED" in text
        page.locator('details[data-act="attest"] summary').first.click()
        shot(page, shots / "desk-review.png")
        shown = submit(page, "attest", {"comment": "morning review: NL feed under watch"})
        assert f"Last attested review: {TODAY} by risk.reviewer" in shown  # the newest day not ahead
        assert "morning review: NL feed under watch" in shown
    token = requests.post(
        f"{world.base}/auth/token",
        json={"username": "auditor.viewer", "password": USERS["auditor.viewer"][1]},
        timeout=30,
    ).json()["access_token"]  # fmt: skip
    run_id = f"scheduled__{D1}T00:00:00+00:00"
    dag_run = requests.get(
        f"{world.base}/api/v2/dags/mrm_monitor__card_fraud/dagRuns/{run_id}",
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    ).json()  # fmt: skip
    ending = r"; reviewed by risk\.reviewer at \d{4}-\d\d-\d\d \d\d:\d\d UTC$"
    assert re.search(ending, dag_run["note"]), world.log.read_text()[-3000:]


def test_a_viewer_sees_no_buttons_and_a_crafted_post_is_403(world):
    from mrm.demo.desk_tour import acts_offered, open_page

    with as_user(world, "auditor.viewer") as page:
        text = open_page(page, world.base, "/tickets/1")
        assert acts_offered(page) == [] and "not change it: no acts" in text
        open_page(page, world.base, "/review")
        assert acts_offered(page) == []
        crafted = page.request.post(
            f"{world.base}/model-risk/tickets/1/comment",
            form={"csrf_token": csrf.issue(SECRET, "auditor.viewer"), "comment": "sneaky"},
            max_redirects=0,
        )
        assert crafted.status == 403 and "may read but not change model card_fraud" in crafted.text()


def test_a_post_without_the_forms_token_is_refused(world):
    with as_user(world, "fraud.owner") as page:
        refused = page.request.post(
            f"{world.base}/model-risk/tickets/1/comment", form={"comment": "no token"}, max_redirects=0
        )
        assert refused.status == 403 and "reload the page and submit the form again" in refused.text()


def test_an_act_inside_airflows_frame_is_recorded(world):
    """As a person works: Airflow's nav, the Model Risk page in Airflow's iframe (sandboxed with
    allow-forms), the Review tab, a ticket, a comment posted from inside the frame."""
    with as_user(world, "risk.reviewer") as page:
        page.locator("a", has_text="Model Risk").first.click()
        frame = page.frame_locator("iframe")
        frame.locator("header nav a", has_text="Review").click()
        frame.locator("h1", has_text="Review").wait_for(timeout=30000)
        frame.locator("div.change a[href*='/tickets/']").first.click()
        frame.locator("h2#trail").wait_for(timeout=30000)
        box = frame.locator('details.act[data-act="comment"]')
        box.locator("summary").click()
        box.locator("textarea[name=comment]").fill("asked the vendor for the fix date (from the frame)")
        box.locator("button[type=submit]").click()
        frame.locator("p.notice.done").wait_for(timeout=30000)
        assert "Recorded: comment by risk.reviewer (airflow)" in frame.locator("p.notice.done").inner_text()
    from mrm import wiring
    from mrm.store import acts as store_acts

    clear_caches()
    with wiring.get_store().engine.connect() as conn:
        last = store_acts.acts(conn)[-1]
    assert (last["kind"], last["person"], last["comment"]) == (
        "comment", "risk.reviewer", "asked the vendor for the fix date (from the frame)",
    )  # fmt: skip
