"""Authorization per model in the real Airflow api-server app (airflow.api_fastapi.app.create_app, in
process, with this repo's plugin): a user sees a model's page, CSVs, tickets and evidence only if
Airflow's auth manager lets them read its DAG ``mrm_monitor__<model_id>``; the portfolio and breaches
list only those models; a forbidden model answers exactly as an unknown one. Users and tokens are the
simple auth manager's; per-DAG grants come from :class:`per_dag_auth.PerDagAuthManager`, configured as
``[core] auth_manager`` (the simple auth manager grants DAGs by role only)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from support import clear_caches
from ui_pages import csv_rows

PASSWORDS = {"one_model": "one-model-pw", "no_model": "no-model-pw", "risk_admin": "risk-admin-pw"}
GRANTS = {"one_model": ["mrm_monitor__card_fraud"], "no_model": ["some_other_dag"]}
MODELS = ("aml_alert", "aml_alert_next", "card_fraud", "credit_line")


@pytest.fixture(scope="module")
def api(airflow_db, ui_history, tmp_path_factory):
    from airflow.api_fastapi import app as airflow_app

    root = tmp_path_factory.mktemp("authz")
    (root / "passwords.json").write_text(json.dumps(PASSWORDS))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__CORE__AUTH_MANAGER", "per_dag_auth.PerDagAuthManager")
        mp.setenv("AIRFLOW__MRM_TEST__DAG_GRANTS", json.dumps(GRANTS))
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        mp.setenv(
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "one_model:viewer,no_model:viewer,risk_admin:admin"
        )
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(root / "passwords.json"))
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "mrm-authz-test-secret-" + "x" * 64)
        mp.setenv("MRM_HOME", str(ui_history.home))
        mp.setenv("MRM_INVENTORY", str(ui_history.home.parent / "inventory"))
        mp.delenv("MRM_DB_URL", raising=False)
        mp.delenv("MRM_EVIDENCE", raising=False)
        clear_caches()
        airflow_app.purge_cached_app()
        try:
            yield TestClient(airflow_app.create_app())
        finally:
            airflow_app.purge_cached_app()
            airflow_app._AuthManagerState.instance = None  # the next app builds the configured one again
            clear_caches()


def as_user(api: TestClient, user: str) -> dict[str, str]:
    response = api.post("/auth/token", json={"username": user, "password": PASSWORDS[user]})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def urls(client) -> dict[str, dict[str, str]]:
    """Each model's latest run's evidence links, as the bare app (no authorization) lists them."""
    out = {}
    for model_id in ("card_fraud", "credit_line"):
        rows = csv_rows(client.get(f"/model-risk/models/{model_id}?format=csv&table=runs"))
        out[model_id] = next(r for r in rows if r["evidently_report"])
    return out


def listed(page: str) -> set[str]:
    return {m for m in MODELS if f'href="/model-risk/models/{m}"' in page}


def test_the_auth_manager_in_use_grants_per_dag(api):
    from airflow.api_fastapi.app import get_auth_manager

    assert type(get_auth_manager()).__name__ == "PerDagAuthManager"


def test_a_user_allowed_one_dag_sees_one_model(api, urls):
    headers = as_user(api, "one_model")

    assert listed(api.get("/model-risk/", headers=headers).text) == {"card_fraud"}
    portfolio_csv = csv_rows(api.get("/model-risk/?format=csv", headers=headers))
    assert [r["model_id"] for r in portfolio_csv] == ["card_fraud"]
    assert api.get("/model-risk/models/card_fraud", headers=headers).status_code == 200
    for table in ("runs", "tickets", "metrics"):
        assert (
            api.get(f"/model-risk/models/card_fraud?format=csv&table={table}", headers=headers).status_code
            == 200
        )
    report = api.get(urls["card_fraud"]["evidently_report"], headers=headers)
    assert report.status_code == 200 and b"<html" in report.content[:200].lower()

    breaches = csv_rows(api.get("/model-risk/breaches?format=csv", headers=headers))
    assert breaches and {r["model_id"] for r in breaches} == {"card_fraud"}
    assert "credit_line" not in api.get("/model-risk/breaches", headers=headers).text


def test_a_forbidden_model_answers_as_an_unknown_one(api, urls):
    headers = as_user(api, "one_model")

    forbidden = api.get("/model-risk/models/credit_line", headers=headers)
    unknown = api.get("/model-risk/models/no_such_model", headers=headers)
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.text == unknown.text.replace("no_such_model", "credit_line")
    assert "models: card_fraud)" in forbidden.text and "aml_alert" not in forbidden.text
    assert (
        api.get("/model-risk/models/credit_line?format=csv&table=tickets", headers=headers).status_code == 404
    )

    evidence = api.get(urls["credit_line"]["evidently_report"], headers=headers)
    missing = api.get(
        urls["credit_line"]["evidently_report"].replace("/credit_line/", "/no_such_model/"), headers=headers
    )
    assert evidence.status_code == missing.status_code == 404
    assert evidence.text == missing.text.replace("no_such_model", "credit_line")
    assert b"Drift" not in evidence.content


def test_a_user_allowed_no_model_dag_sees_none(api, urls):
    headers = as_user(api, "no_model")

    page = api.get("/model-risk/", headers=headers)
    assert page.status_code == 200 and listed(page.text) == set()
    assert csv_rows(api.get("/model-risk/?format=csv", headers=headers)) == []
    assert csv_rows(api.get("/model-risk/breaches?format=csv", headers=headers)) == []
    for model_id in ("card_fraud", "credit_line"):
        assert api.get(f"/model-risk/models/{model_id}", headers=headers).status_code == 404
        assert api.get(urls[model_id]["evidently_report"], headers=headers).status_code == 404
        assert api.get(urls[model_id]["gx_result"], headers=headers).status_code == 404


def test_the_user_is_the_tokens_not_one_the_client_names(api, urls):
    headers = as_user(api, "no_model")
    for claim in (
        {"X-Airflow-User": "risk_admin"},
        {"Remote-User": "one_model"},
        {"X-Forwarded-User": "one_model"},
    ):
        response = api.get(urls["card_fraud"]["evidently_report"], headers={**headers, **claim})
        assert response.status_code == 404
    assert (
        api.get(urls["card_fraud"]["evidently_report"], headers={"Remote-User": "one_model"}).status_code
        == 401
    )


def test_an_admin_sees_every_model(api, urls):
    headers = as_user(api, "risk_admin")
    assert listed(api.get("/model-risk/", headers=headers).text) == set(MODELS)
    assert api.get(urls["credit_line"]["evidently_report"], headers=headers).status_code == 200
