"""Credentials come from Airflow connections (AIRFLOW_CONN_* URI or JSON, or Airflow itself)."""

from __future__ import annotations

import json

import pytest

from mrm.airflow.connections import get_connection
from mrm.errors import ConfigError


def test_a_uri_connection_gives_host_login_password_and_extra(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_MRM_SMTP",
        "smtp://mrm%40bank.example:s%3Dcret@email-smtp.eu-west-1.amazonaws.com:587?starttls=true",
    )
    c = get_connection("mrm_smtp", "e-mail alerts")
    assert (c.host, c.port, c.login, c.password) == (
        "email-smtp.eu-west-1.amazonaws.com",
        587,
        "mrm@bank.example",
        "s=cret",
    )
    assert c.extra == {"starttls": "true"}
    assert "s=cret" not in repr(c)  # a connection never prints its password


def test_a_json_connection_and_a_full_url_host(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_MRM_JIRA",
        json.dumps({"conn_type": "http", "host": "https://bank.atlassian.net/", "login": "a@b.example",
                    "password": "tok", "extra": {"flavor": "cloud"}}),
    )  # fmt: skip
    c = get_connection("mrm_jira", "Jira tickets")
    assert c.url() == "https://bank.atlassian.net"
    assert (c.login, c.password, c.extra) == ("a@b.example", "tok", {"flavor": "cloud"})


def test_a_bare_host_is_turned_into_a_url():
    from mrm.airflow.connections import Conn

    assert (
        Conn("x", host="jira.bank.example", port=8443, schema="jira").url()
        == "https://jira.bank.example:8443/jira"
    )
    assert Conn("x", host="127.0.0.1", port=8080, extra={"scheme": "http"}).url() == "http://127.0.0.1:8080"


def test_a_missing_connection_says_how_to_define_it(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_CONN_MRM_NOWHERE", raising=False)
    with pytest.raises(ConfigError) as err:
        get_connection("mrm_nowhere", "Slack alerts")
    assert str(err.value) == (
        "no Airflow connection 'mrm_nowhere' (needed for Slack alerts): add it in Airflow "
        "(Admin > Connections) or set AIRFLOW_CONN_MRM_NOWHERE"
    )


def test_a_malformed_json_connection_is_named(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MRM_SLACK", "{not json")
    with pytest.raises(ConfigError, match="AIRFLOW_CONN_MRM_SLACK is not a valid connection URI or JSON"):
        get_connection("mrm_slack", "Slack alerts")
