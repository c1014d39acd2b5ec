"""The Model Risk plugin inside Airflow's own api-server app (airflow.api_fastapi.app.create_app, in
process): mounted at /model-risk from this repo's plugins/ folder, behind Airflow's login (simple auth
manager with a password user: anonymous 401, a token from POST /auth/token works as Bearer and as the
UI's _token cookie), listed with its nav entry and DAG tab, and cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from support import REPO, clear_caches, local_inventory

USER, PASSWORD = "risk_viewer", "risk-viewer-pw"


@pytest.fixture(scope="module")
def api(airflow_db, tmp_path_factory):
    """Airflow's api-server app with simple-auth users (not the all-admins mode the other tests use), and
    mrm settings pointing at an empty history with the example inventory."""
    from airflow.api_fastapi import app as airflow_app

    root = tmp_path_factory.mktemp("plugin")
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", f"{USER}:viewer")
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "mrm-plugin-test-secret-" + "x" * 64)  # >= 64 bytes: HS512
        mp.setenv("MRM_HOME", str(root / "home"))
        mp.setenv("MRM_INVENTORY", str(local_inventory(root / "inventory", "file:///nowhere")))
        mp.delenv("MRM_DB_URL", raising=False)
        mp.delenv("MRM_EVIDENCE", raising=False)
        clear_caches()
        airflow_app.purge_cached_app()
        try:
            yield TestClient(airflow_app.create_app())
        finally:
            airflow_app.purge_cached_app()
            clear_caches()


@pytest.fixture(scope="module")
def token(api) -> str:
    response = api.post("/auth/token", json={"username": USER, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


@pytest.mark.parametrize(
    "path", ["/model-risk/", "/model-risk/breaches", "/model-risk/models/card_fraud", "/model-risk/icon.svg",
             "/model-risk/dags/mrm_monitor__card_fraud",
             "/model-risk/evidence/card_fraud/2026-09-05/run1/drift_report.html"],
)  # fmt: skip
def test_every_route_needs_an_airflow_login(api, path):
    response = api.get(path, follow_redirects=False)
    assert (response.status_code, response.json()) == (401, {"detail": "Not authenticated"})


def test_only_evidentlys_pinned_bundle_is_served_without_a_login(api):
    """A report served sandboxed has an opaque origin and sends no cookies, so the shared bundle and font
    (the installed Evidently's public files, byte for byte) are the one thing served without a login."""
    from mrm.checks.evidently_report import evidently_lib_files
    from mrm.evidence.writer import write_shared
    from mrm.settings import evidence_uri

    write_shared(evidence_uri(), evidently_lib_files())
    for name, data in evidently_lib_files().items():
        response = api.get(f"/model-risk/evidence/_lib/{name}")
        assert (response.status_code, response.content) == (200, data)
        assert response.headers["access-control-allow-origin"] == "*"
    for other in ("history.db", "..%2Fhistory.db", "evidently-0.0.1.js"):
        assert api.get(f"/model-risk/evidence/_lib/{other}").status_code == 404


def test_a_bearer_token_opens_the_portfolio(api, token):
    response = api.get("/model-risk/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "<h1>Portfolio</h1>" in response.text
    assert "No monitoring runs yet: the history is empty." in response.text
    for model_id in ("aml_alert", "card_fraud", "credit_line"):
        assert (
            f'<a href="/model-risk/models/{model_id}">{model_id}</a>' in response.text
        )  # links keep the mount


def test_the_uis_cookie_opens_a_model_page(api, token):
    api.cookies.set("_token", token)
    try:
        response = api.get("/model-risk/models/card_fraud")
    finally:
        api.cookies.clear()
    assert response.status_code == 200
    assert "<dt>Owner</dt><dd>fraud-models@example.com</dd>" in response.text


def test_a_forged_token_is_refused(api, token):
    head, body, _ = token.split(".")
    response = api.get("/model-risk/", headers={"Authorization": f"Bearer {head}.{body}.forged"})
    assert response.status_code in (401, 403)


def test_the_dag_tab_redirects_to_the_model_inside_the_mount(api, token):
    response = api.get(
        "/model-risk/dags/mrm_monitor__credit_line",
        headers={"Authorization": f"Bearer {token}"},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/model-risk/models/credit_line")


def test_airflow_lists_the_plugin_with_its_nav_entry_and_dag_tab(api, token):
    response = api.get("/api/v2/plugins", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    (plugin,) = [p for p in response.json()["plugins"] if p["name"] == "mrm_model_risk"]

    assert [(a["url_prefix"], a["name"]) for a in plugin["fastapi_apps"]] == [("/model-risk", "Model Risk")]
    views = {v["destination"]: v for v in plugin["external_views"]}
    assert (views["nav"]["href"], views["nav"]["url_route"], views["nav"]["nav_top_level"]) == (
        "/model-risk/", "model-risk", True
    )  # fmt: skip
    assert (views["dag"]["href"], views["dag"]["url_route"]) == (
        "/model-risk/dags/{DAG_ID}",
        "model-risk-dag",
    )
    assert views["nav"]["icon"] == "/model-risk/icon.svg"


def test_the_ui_serves_the_page_in_its_frame(api, token):
    api.cookies.set("_token", token)
    try:
        assert api.get("/plugin/model-risk").status_code == 200
        icon = api.get("/model-risk/icon.svg")
    finally:
        api.cookies.clear()
    assert (icon.status_code, icon.headers["content-type"]) == (200, "image/svg+xml")


def test_importing_the_plugin_is_cheap():
    """Airflow imports plugins in the scheduler and every task process: no pandas, Evidently, GX, boto3,
    nor Airflow's api security module (the app is built on its first request)."""
    heavy = ["pandas", "evidently", "great_expectations", "boto3", "airflow.api_fastapi.core_api.security"]
    code = (
        f"import sys; sys.path.insert(0, {str(REPO / 'plugins')!r}); import mrm_plugin; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
