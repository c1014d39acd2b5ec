"""The demo's morning review on the desk, played through the Model Risk page's own routes inside
Airflow's api-server app (in process): demo people log in with Airflow's simple auth manager (tokens
from ``/auth/token``), read a ticket's page for its form token, and post the forms a person would. The
acts are recorded as those Airflow users, authenticated by Airflow, with the checks every act gets
(form token, edit access to the model's DAG, the role map).

The role map is the demo's own: the inventory is copied to ``$MRM_HOME/review-inventory`` with
``roles:`` added, and used for the review only (the example inventory has no role map, so a fresh
deployment keeps today's rules until its own ``roles:`` are written)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from mrm import settings

PEOPLE = {  # Airflow user -> (simple auth manager role, password)
    "fraud.owner": ("user", "demo-owner-pw"),
    "risk.reviewer": ("user", "demo-reviewer-pw"),
}
ROLES = {
    "model_risk_team": ["risk.reviewer"],
    "models": {"card_fraud": {"owners": ["fraud.owner"]}, "credit_line": {"owners": ["fraud.owner"]}},
}


def review_inventory(home: Path) -> Path:
    """The inventory with the demo's role map, in ``home/review-inventory``."""
    folder = home / "review-inventory"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(settings.inventory_dir(), folder)
    policy = yaml.safe_load((folder / "_policy.yaml").read_text())
    (folder / "_policy.yaml").write_text(yaml.safe_dump({**policy, "roles": ROLES}, sort_keys=False))
    return folder


class Session:
    """One person logged in to the in-process api-server app."""

    def __init__(self, client, person: str):
        self.client, self.person = client, person
        answer = client.post("/auth/token", json={"username": person, "password": PEOPLE[person][1]})
        answer.raise_for_status()
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def token(self, path: str) -> str:
        page = self.client.get(f"/model-risk{path}", headers=self.headers)
        page.raise_for_status()
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if found is None:
            raise RuntimeError(f"{self.person} is offered no act on {path}")
        return found.group(1)

    def post(self, page: str, action: str, **fields: str) -> str:
        """Post a form of ``page`` as the browser would; the text of the act recorded."""
        answer = self.client.post(
            f"/model-risk{action}", data={"csrf_token": self.token(page), **fields}, headers=self.headers,
            follow_redirects=True,
        )  # fmt: skip
        answer.raise_for_status()
        found = re.search(r'<p class="notice done">Recorded: (.*?)</p>', answer.text)
        if found is None:
            raise RuntimeError(f"{self.person}'s {action} recorded nothing: {answer.text[:300]}")
        return found.group(1).replace("&#x27;", "'").replace("&quot;", '"')


def _env(home: Path) -> dict[str, str]:
    passwords = home / "airflow" / "review-passwords.json"
    passwords.write_text(json.dumps({u: pw for u, (_, pw) in PEOPLE.items()}))
    return {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, (r, _) in PEOPLE.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(32).hex(),
        "MRM_INVENTORY": str(review_inventory(home)),
    }


def play(days: int) -> list[str]:
    """An acknowledgement, a closure, an accepted risk and an attested day on the demo's history."""
    from mrm import wiring

    env = _env(settings.home())
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    wiring.clear_caches()
    quiet = logging.getLogger("airflow.api_fastapi.auth.managers.simple.simple_auth_manager")
    level, quiet.level = quiet.level, logging.ERROR  # its "looks like production" warning: a local demo
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx`")  # starlette's note on httpx, not ours
        from airflow.api_fastapi import app as airflow_app
        from fastapi.testclient import TestClient

    try:
        airflow_app.purge_cached_app()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Using `httpx`")
            with TestClient(airflow_app.create_app()) as client:
                return _acts(client, days)
    finally:
        quiet.setLevel(level)
        airflow_app.purge_cached_app()
        airflow_app._AuthManagerState.instance = None
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        wiring.clear_caches()


def _acts(client, days: int) -> list[str]:
    from mrm import wiring
    from mrm.demo import data
    from mrm.ticketing.tracker import BuiltinTracker

    owner, reviewer = Session(client, "fraud.owner"), Session(client, "risk.reviewer")
    opened = BuiltinTracker(wiring.get_store()).tickets(status="open")
    mine = [t for t in opened if t["model_id"] in ROLES["models"]]
    if len(mine) < 3:
        return [f"  (fewer than 3 open tickets of {', '.join(ROLES['models'])}: no review played)"]
    first, second, third = mine[:3]
    today = datetime.now(UTC).date()
    one, two, three = (f"/tickets/{t['ticket_id']}" for t in (first, second, third))
    lines = [
        owner.post(one, f"{one}/acknowledge", comment="looking into it with the data team",
                   action_date=(today + timedelta(days=2)).isoformat()),
        owner.post(two, f"{two}/propose-close", comment="incident over: the feed is complete again",
                   cause="data_issue"),
        reviewer.post(two, f"{two}/close", comment="checked the last 7 days: GREEN", cause="data_issue"),
        reviewer.post(three, f"{three}/accept", comment="known seasonal shift; re-fit planned",
                      conditions="re-check weekly", until=(today + timedelta(days=30)).isoformat()),
        reviewer.post("/review", "/attest", day=data.day(days).isoformat(),
                      comment="morning review of the portfolio"),
    ]  # fmt: skip
    keys = [t["key"] for t in (first, second, second, third)] + [""]
    return [f"  {key + ' ' if key else ''}{line}" for key, line in zip(keys, lines, strict=True)]
