"""Connections as people write them reach the peer with the scheme they wrote: as an AIRFLOW_CONN_* URI,
as JSON, in the Airflow UI's form shape (host, schema, login, password, port, extra), and as the URI
Airflow's own ``Connection.get_uri()`` makes of that form. Each channel is built from its settings by
the registry and delivers to a real stand-in on loopback (Jira, the HTTP receiver, SMTP)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from mrm.demo.standins.jira import DEFAULT_LOGIN, DEFAULT_TOKEN, JiraStandIn
from mrm.demo.standins.receiver import Receiver
from mrm.demo.standins.smtp import SmtpStandIn
from mrm.errors import ConfigError
from mrm.inventory.notifications import Channels
from mrm.notify.base import ALERT_RED, TICKET_OPENED, Delivery
from mrm.notify.registry import channel_for

SECRET = "whsec-schemes"
SHAPES = ["uri", "json", "ui_form", "airflow_uri"]
TICKET = {
    "ticket_id": 1, "ticket_key": "MRM-1", "model_id": "card_fraud", "model_name": "Card fraud",
    "control": "drift.psi[amount]", "check": "drift", "metric": "psi", "column": "amount", "segment": None,
    "severity": "RED", "priority": "High", "tier": 1, "owner": "o@example.com",
    "title": "[RED] card_fraud: drift.psi[amount] breached on 2026-09-05", "text": "PSI 0.31",
    "value": 0.31, "logical_date": "2026-09-05", "run_id": "run-1", "links": {},
}  # fmt: skip
ALERT = {"subject": "[RED] card_fraud", "text": "1 new breach", "severity": "RED", "model_id": "card_fraud",
         "recipients": ["o@example.com"], "lines": ["drift.psi[amount] 0.31"], "links": {}}  # fmt: skip


def airflow_uri(form: dict) -> str:
    """What Airflow itself writes for a connection entered in its UI form."""
    from airflow.models import Connection

    extra = form.get("extra")
    fields = {k: v for k, v in form.items() if k != "extra"}
    return Connection(conn_id="x", **fields, extra=json.dumps(extra) if extra else None).get_uri()


def written_as(shape: str, uri: str, form: dict) -> str:
    """The AIRFLOW_CONN_* value of one connection, written in ``shape``."""
    if shape == "uri":
        return uri
    if shape == "json":
        return json.dumps({k: v for k, v in form.items() if k != "schema"} | {"host": form["url"]})
    form = {k: v for k, v in form.items() if k != "url"}
    return json.dumps(form) if shape == "ui_form" else airflow_uri(form)


def connect(monkeypatch, conn_id: str, shape: str, uri: str, form: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", written_as(shape, uri, form))


@pytest.mark.parametrize("shape", SHAPES)
def test_jira_over_plain_http_on_loopback_as_written(monkeypatch, shape):
    with JiraStandIn("cloud") as jira:
        port = jira.base_url.rsplit(":", 1)[1]
        uri = f"http://{quote(DEFAULT_LOGIN, safe='')}:{DEFAULT_TOKEN}@127.0.0.1:{port}"
        form = {"conn_type": "http", "host": "127.0.0.1", "schema": "http", "port": int(port),
                "login": DEFAULT_LOGIN, "password": DEFAULT_TOKEN, "url": jira.base_url}  # fmt: skip
        connect(monkeypatch, "mrm_jira", shape, uri, form)

        sink = channel_for("jira", Channels())
        receipt = sink.deliver(Delivery("jira:ticket:1:event:1", "jira", TICKET_OPENED, TICKET))

        assert sink.base_url == jira.base_url
        assert receipt["external_key"] == "MRM-1" and list(jira.issues) == ["MRM-1"]


@pytest.mark.parametrize("shape", SHAPES)
def test_webhook_over_plain_http_on_loopback_as_written(monkeypatch, shape):
    with Receiver(secret=SECRET) as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        uri = f"http://:{SECRET}@127.0.0.1:{port}/hooks"
        form = {"conn_type": "http", "host": "127.0.0.1", "schema": "http", "port": int(port),
                "password": SECRET, "url": receiver.url}  # fmt: skip
        connect(monkeypatch, "mrm_webhook", shape, uri, form)

        sink = channel_for("webhook", Channels())
        sink.deliver(Delivery("webhook:ticket:1:event:1", "webhook", TICKET_OPENED, TICKET))

        assert sink.url.startswith(receiver.url)
        assert [doc["idempotency_key"] for doc in receiver.received] == ["webhook:ticket:1:event:1"]


@pytest.mark.parametrize("shape", SHAPES)
def test_slack_over_plain_http_on_loopback_as_written(monkeypatch, shape):
    with Receiver() as slack:
        port = slack.url.rsplit(":", 1)[1]
        uri = f"http://127.0.0.1:{port}"
        form = {
            "conn_type": "http",
            "host": "127.0.0.1",
            "schema": "http",
            "port": int(port),
            "url": slack.url,
        }
        connect(monkeypatch, "mrm_slack", shape, uri, form)

        channel_for("slack", Channels()).deliver(Delivery("slack:red:1", "slack", ALERT_RED, ALERT))

        assert [doc["text"] for doc in slack.received] == [":red_circle: [RED] card_fraud"]


@pytest.mark.parametrize("shape", SHAPES)
def test_smtp_as_written(monkeypatch, shape, tls):
    with SmtpStandIn(credentials=("mrm", "s3cret"), tls_context=tls.server_context()) as smtp:
        uri = f"smtp://mrm:s3cret@127.0.0.1:{smtp.port}?ca_file={quote(tls.ca_file, safe='')}"
        form = {"conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port, "login": "mrm",
                "password": "s3cret", "url": "127.0.0.1", "extra": {"ca_file": tls.ca_file}}  # fmt: skip
        connect(monkeypatch, "mrm_smtp", shape, uri, form)

        receipt = channel_for("email", Channels()).deliver(Delivery("email:red:1", "email", ALERT_RED, ALERT))

        assert receipt["message_id"] == "<email-red-1@mrm>"
        assert [m["Message-ID"] for m in smtp.messages] == ["<email-red-1@mrm>"]
        assert smtp.commands[:4] == ["EHLO", "STARTTLS", "EHLO", "AUTH"]  # STARTTLS: the default


def test_a_smtps_uri_asks_for_tls(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MRM_SMTP", "smtps://u:p@smtp.example.com")
    channel = channel_for("email", Channels())
    assert (channel.security, channel.port) == ("ssl", 465)


def test_a_smtp_uri_requires_starttls_unless_it_says_insecure(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MRM_SMTP", "smtp://u:p@smtp.example.com")
    channel = channel_for("email", Channels())
    assert (channel.security, channel.port) == ("starttls", 587)

    monkeypatch.setenv("AIRFLOW_CONN_MRM_SMTP", "smtp://relay.internal?insecure=true")
    channel = channel_for("email", Channels())
    assert (channel.security, channel.port, channel.insecure) == ("none", 25, True)


@pytest.mark.parametrize(
    "value",
    [
        "http://bot%40example.com:tok@jira.bank.example",
        json.dumps({"conn_type": "http", "host": "http://jira.bank.example", "login": "a", "password": "t"}),
        json.dumps(
            {
                "conn_type": "http",
                "host": "jira.bank.example",
                "schema": "http",
                "login": "a",
                "password": "t",
            }
        ),
    ],
    ids=["uri", "json", "ui_form"],
)
def test_plain_http_to_another_host_is_refused_in_one_line(monkeypatch, value):
    monkeypatch.setenv("AIRFLOW_CONN_MRM_JIRA", value)
    with pytest.raises(ConfigError) as err:
        channel_for("jira", Channels())
    assert str(err.value) == (
        "Airflow connection 'mrm_jira' asks for plain http to jira.bank.example, which would send its "
        "credentials unencrypted: write https (host https://..., or schema https), or set its extra "
        '{"allow_insecure_http": true} if plain http is meant'
    )


def test_plain_http_to_another_host_is_allowed_when_the_extra_says_so(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_MRM_WEBHOOK", "http://:sec@hooks.bank.example/mrm?allow_insecure_http=true"
    )
    assert channel_for("webhook", Channels()).url == "http://hooks.bank.example/mrm"


def test_no_scheme_given_is_https(monkeypatch):
    form = {"conn_type": "http", "host": "jira.bank.example", "login": "a", "password": "t"}
    monkeypatch.setenv("AIRFLOW_CONN_MRM_JIRA", json.dumps(form))
    assert channel_for("jira", Channels()).base_url == "https://jira.bank.example"
    monkeypatch.setenv("AIRFLOW_CONN_MRM_JIRA", json.dumps(form | {"schema": "https", "port": 8443}))
    assert channel_for("jira", Channels()).base_url == "https://jira.bank.example:8443"
