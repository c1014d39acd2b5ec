"""The desk's routes in the real Airflow api-server app (in process, this repo's plugin, the simple auth
manager's users and tokens): each act is recorded with the person Airflow authenticated; a POST without
the form's token, with another person's token or with a stale one is refused and records nothing; a
viewer (read-only in Airflow) sees no forms and a crafted POST gets 403; the role map refuses an owner's
RED closure (segregation of duties) and a reviewer's is recorded; an attested day shows on the review."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from fastapi.testclient import TestClient
from support import clear_caches, local_inventory

from mrm.demo.data import day
from mrm.store import HistoryStore
from mrm.store import acts as store_acts
from mrm.ui import csrf

USERS = {"owner": "user", "reviewer": "user", "viewer": "viewer", "stranger": "user"}
PASSWORDS = {u: f"{u}-pw-123" for u in USERS}
SECRET = "mrm-desk-test-secret-" + "y" * 64
ROLES = {"model_risk_team": ["reviewer"], "models": {"card_fraud": {"owners": ["owner"]}}}


@pytest.fixture(scope="module")
def desk(airflow_db, demo_files, tmp_path_factory):
    from airflow.api_fastapi import app as airflow_app

    from mrm import pipeline

    root = tmp_path_factory.mktemp("desk")
    folder = local_inventory(root / "inventory", demo_files, ("_policy", "card_fraud", "credit_line"))
    policy = yaml.safe_load((folder / "_policy.yaml").read_text())
    (folder / "_policy.yaml").write_text(yaml.safe_dump({**policy, "roles": ROLES}))
    (root / "passwords.json").write_text(json.dumps(PASSWORDS))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", ",".join(f"{u}:{r}" for u, r in USERS.items()))
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(root / "passwords.json"))
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", SECRET)
        mp.setenv("MRM_HOME", str(root / "home"))
        mp.setenv("MRM_INVENTORY", str(folder))
        mp.delenv("MRM_DB_URL", raising=False)
        mp.delenv("MRM_EVIDENCE", raising=False)
        clear_caches()
        pipeline.run_model("card_fraud", day(5))  # device_score null for Dutch events: RED, ticket MRM-1
        airflow_app.purge_cached_app()
        try:
            yield TestClient(airflow_app.create_app(), follow_redirects=False)
        finally:
            airflow_app.purge_cached_app()
            airflow_app._AuthManagerState.instance = None
            clear_caches()


def login(api: TestClient, user: str) -> dict[str, str]:
    response = api.post("/auth/token", json={"username": user, "password": PASSWORDS[user]})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def history() -> HistoryStore:
    from mrm import wiring

    return wiring.get_store()


def acts() -> list[dict]:
    with history().engine.connect() as conn:
        return store_acts.acts(conn)


def token_on(page: str) -> str:
    found = re.findall(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form"
    return found[0]


def forms(page: str) -> list[str]:
    return re.findall(r'<details class="act" data-act="([a-z_]+)"', page)


def post(api, path: str, headers: dict, **fields) -> object:
    return api.post(f"/model-risk{path}", data=fields, headers=headers)


def test_the_owner_sees_the_owners_acts_and_acknowledges_as_the_airflow_user(desk):
    owner = login(desk, "owner")
    page = desk.get("/model-risk/tickets/1", headers=owner)
    assert page.status_code == 200
    assert forms(page.text) == ["acknowledge", "comment", "propose_close"]  # no close of a RED, no accept
    before = len(acts())
    planned = datetime.now(UTC).date() + timedelta(days=2)

    done = post(
        desk, "/tickets/1/acknowledge", owner, csrf_token=token_on(page.text),
        comment="checking the NL device feed", action_date=planned.isoformat(),
    )  # fmt: skip

    assert done.status_code == 303 and done.headers["location"].startswith("/model-risk/tickets/1?done=")
    (act,) = acts()[before:]
    assert (act["kind"], act["person"], act["authenticated"]) == ("acknowledge", "owner", "airflow")
    assert (act["comment"], act["action_date"]) == ("checking the NL device feed", planned)
    shown = desk.get(done.headers["location"], headers=owner).text
    assert "Recorded: acknowledged by owner (airflow)" in shown
    assert "checking the NL device feed" in shown


def test_a_post_without_the_token_or_with_anothers_or_a_stale_one_records_nothing(desk):
    owner, reviewer = login(desk, "owner"), login(desk, "reviewer")
    theirs = token_on(desk.get("/model-risk/tickets/1", headers=reviewer).text)
    stale = csrf.issue(SECRET, "owner", time.time() - csrf.LIFETIME - 60)
    before = len(acts())
    for token in ({}, {"csrf_token": theirs}, {"csrf_token": stale}, {"csrf_token": "1.abc"}):
        refused = post(desk, "/tickets/1/comment", owner, comment="forged", **token)
        assert refused.status_code == 403
        assert "reload the page and submit the form again" in refused.text
    assert len(acts()) == before


def test_without_a_login_a_post_is_401(desk):
    assert post(desk, "/tickets/1/comment", {}, comment="x", csrf_token="1.x").status_code == 401


def test_a_viewer_sees_no_forms_and_a_crafted_post_is_403(desk):
    viewer = login(desk, "viewer")
    page = desk.get("/model-risk/tickets/1", headers=viewer)
    assert page.status_code == 200 and forms(page.text) == [] and "csrf_token" not in page.text
    assert "Airflow lets viewer read model card_fraud, not change it" in page.text
    review = desk.get("/model-risk/review", headers=viewer).text
    assert "csrf_token" not in review
    crafted = csrf.issue(SECRET, "viewer")  # as if the viewer knew the server's secret
    before = len(acts())

    refused = post(desk, "/tickets/1/comment", viewer, comment="sneaky", csrf_token=crafted)

    assert refused.status_code == 403 and "may read but not change model card_fraud" in refused.text
    refused = post(desk, "/attest", viewer, day=day(5).isoformat(), comment="ok", csrf_token=crafted)
    assert refused.status_code == 403
    assert len(acts()) == before


def test_a_user_outside_the_role_map_sees_no_forms_and_is_refused(desk):
    stranger = login(desk, "stranger")
    page = desk.get("/model-risk/tickets/1", headers=stranger).text
    assert forms(page) == [] and "gives stranger no act on this ticket" in page
    refused = post(
        desk, "/tickets/1/comment", stranger, comment="x", csrf_token=csrf.issue(SECRET, "stranger")
    )
    assert refused.status_code == 403 and "stranger may not comment on MRM-1" in refused.text


def test_the_owner_may_not_close_a_red_ticket_and_a_reviewer_does(desk):
    owner, reviewer = login(desk, "owner"), login(desk, "reviewer")
    token = csrf.issue(SECRET, "owner")
    refused = post(desk, "/tickets/1/close", owner, comment="fixed", cause="data_issue", csrf_token=token)
    assert refused.status_code == 403
    assert "a RED ticket is closed only by a member of the model risk team" in refused.text
    assert history().engine and desk.get("/model-risk/tickets/1", headers=owner).text.count("Status") >= 1
    proposed = post(
        desk, "/tickets/1/propose-close", owner, comment="feed fixed upstream", cause="data_issue",
        csrf_token=token,
    )  # fmt: skip
    assert proposed.status_code == 303
    page = desk.get("/model-risk/tickets/1", headers=reviewer).text
    assert "Confirm closure" in page and "feed fixed upstream" in page
    assert forms(page) == ["comment", "close", "accept_risk"]

    closed = post(
        desk, "/tickets/1/close", reviewer, comment="confirmed with the data team", cause="data_issue",
        csrf_token=token_on(page),
    )  # fmt: skip

    assert closed.status_code == 303
    kinds = [(a["kind"], a["person"]) for a in acts()]
    assert kinds[-2:] == [("propose_close", "owner"), ("close", "reviewer")]
    assert acts()[-1]["confirms"] == acts()[-2]["act_id"]
    from mrm.ticketing.tracker import BuiltinTracker

    (ticket,) = BuiltinTracker(history()).tickets("card_fraud", "closed")
    assert ticket["closed_by"] == "reviewer (airflow)"
    assert ticket["closed_reason"] == "confirmed with the data team (cause data_issue)"


def test_bad_terms_are_400_with_the_reason(desk):
    owner = login(desk, "owner")
    token = csrf.issue(SECRET, "owner")
    bad = post(desk, "/tickets/1/comment", owner, comment="  ", csrf_token=token)
    assert bad.status_code == 400 and "owner must give a comment" in bad.text
    bad = post(desk, "/tickets/1/acknowledge", owner, comment="x", action_date="soon", csrf_token=token)
    assert bad.status_code == 400 and "action_date must be a date" in bad.text


def test_a_reviewer_attests_the_day_and_the_review_shows_it(desk):
    reviewer = login(desk, "reviewer")
    page = desk.get("/model-risk/review", headers=reviewer).text
    assert "No review attested yet" in page
    assert f"Attest the review of {day(5)} for the portfolio" in page

    done = post(
        desk, "/attest", reviewer, day=day(5).isoformat(), comment="NL feed reviewed",
        csrf_token=token_on(page),
    )  # fmt: skip

    assert done.status_code == 303 and done.headers["location"].startswith("/model-risk/review?done=")
    act = acts()[-1]
    assert (act["kind"], act["person"], act["logical_date"], act["model_id"]) == (
        "attest", "reviewer", day(5), None,
    )  # fmt: skip
    shown = desk.get(done.headers["location"], headers=reviewer).text
    assert f"Last attested review: {day(5)} by reviewer" in shown
    assert "NL feed reviewed" in shown
    timeliness = shown[shown.index('id="timeliness"') :]
    assert ">card_fraud</td>" in timeliness and ">owner</td>" not in timeliness  # owners are the entry's
    owner = login(desk, "owner")
    refused = post(
        desk, "/attest", owner, day=day(5).isoformat(), comment="mine", csrf_token=csrf.issue(SECRET, "owner")
    )
    assert refused.status_code == 403


def test_a_hostile_comment_is_shown_as_text(desk):
    owner = login(desk, "owner")
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    done = post(desk, "/tickets/1/comment", owner, comment=hostile, csrf_token=csrf.issue(SECRET, "owner"))
    assert done.status_code == 303
    page = desk.get(done.headers["location"], headers=owner).text
    assert hostile not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_a_reviewer_attests_one_model_and_the_owner_is_offered_no_attestation(desk):
    reviewer, owner = login(desk, "reviewer"), login(desk, "owner")
    page = desk.get("/model-risk/review", headers=reviewer).text
    assert f"Attest the review of {day(5)} for model card_fraud" in page
    assert "Attest the review of" not in desk.get("/model-risk/review", headers=owner).text

    done = post(
        desk, "/attest", reviewer, day=day(5).isoformat(), model_id="card_fraud", comment="card fraud only",
        csrf_token=token_on(page),
    )  # fmt: skip

    assert done.status_code == 303
    act = acts()[-1]
    assert (act["kind"], act["model_id"], act["logical_date"]) == ("attest", "card_fraud", day(5))
