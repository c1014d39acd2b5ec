"""Where tickets and alerts go: the ``notifications`` section of ``_policy.yaml`` (portfolio defaults)
and of a model file (overrides). Only names of Airflow connections appear here, never credentials.

Routing names channels: the built-in ones below (each with its settings in ``Channels``; a test keeps
both equal to ``mrm.notify.registry.CHANNELS``), and any registered at run time by
``mrm.notify.registry.register_channel``, valid from the moment it is registered."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, EmailStr, Field
from pydantic_core import PydanticCustomError

from mrm.inventory.base import Strict as _Strict

ChannelName = Literal["email", "slack", "sns"]  # the built-in alert channels
SinkName = Literal["jira", "webhook"]  # the built-in ticket sinks
Route = Literal["alerts", "tickets"]
# names of channels from outside mrm, added at run time by mrm.notify.registry.register_channel
REGISTERED: dict[str, set[str]] = {"alerts": set(), "tickets": set()}


def allow_channel(name: str, route: Route) -> None:
    """Let routing name ``name`` as an alert channel (``alerts``) or a ticket sink (``tickets``)."""
    REGISTERED[route].add(name)


def _choices(names: list[str]) -> str:
    """``'a', 'b' or 'c'``, as pydantic words the choices of a Literal."""
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _one_of(route: Route, builtin: Any) -> AfterValidator:
    """A channel name: built in, or registered for ``route`` by the time the inventory is validated."""

    def check(name: str) -> str:
        names = [*get_args(builtin), *sorted(REGISTERED[route] - set(get_args(builtin)))]
        if name not in names:
            raise PydanticCustomError(
                "literal_error", "Input should be {expected}", {"expected": _choices(names)}
            )
        return name

    return AfterValidator(check)


AlertChannel = Annotated[str, _one_of("alerts", ChannelName)]
TicketSink = Annotated[str, _one_of("tickets", SinkName)]


JIRA_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]+$")  # Jira's default key format; it goes into JQL


def _jira_project_key(key: str) -> str:
    if not JIRA_PROJECT_KEY.fullmatch(key):
        raise PydanticCustomError(
            "jira_project_key",
            "{key} is not a Jira project key: use the key Jira shows for the project (an upper-case "
            "letter, then upper-case letters, digits or _, e.g. MRM or RISK_2)",
            {"key": repr(key)},  # repr: a newline in the value stays on the message's one line
        )
    return key


class JiraChannel(_Strict):
    """Jira Cloud (REST API v3, ADF bodies, e-mail + API token) or Data Center (REST API v2, plain
    text, personal access token as the connection's password). ``project``: the project's key, which
    mrm writes into JQL, so only Jira's key format is accepted."""

    connection: str = "mrm_jira"
    flavor: Literal["cloud", "datacenter"] = "cloud"
    project: Annotated[str, AfterValidator(_jira_project_key)] = "MRM"
    issue_type: str = "Task"
    timeout_seconds: Annotated[float, Field(gt=0)] = 10.0


class WebhookChannel(_Strict):
    """JSON POST signed with HMAC-SHA256; the connection's host is the URL, its password the secret."""

    connection: str = "mrm_webhook"
    timeout_seconds: Annotated[float, Field(gt=0)] = 10.0


class EmailChannel(_Strict):
    """SMTP (e.g. Amazon SES SMTP): the connection gives host, port, login, password. STARTTLS is
    required unless its extra says {"ssl": true} (TLS on connect) or {"insecure": true} (plain SMTP,
    a login in clear: a trusted private relay only); {"ca_file": path} trusts a private CA."""

    connection: str = "mrm_smtp"
    sender: EmailStr = "mrm@example.com"
    timeout_seconds: Annotated[float, Field(gt=0)] = 10.0


class SlackChannel(_Strict):
    """Incoming webhook: the connection's host (or password) is the webhook URL."""

    connection: str = "mrm_slack"
    timeout_seconds: Annotated[float, Field(gt=0)] = 10.0


class SnsChannel(_Strict):
    """Amazon SNS through boto3's default credentials (AWS_ENDPOINT_URL honoured). A topic per
    severity, or per model (``models`` wins over ``severities``)."""

    severities: dict[Literal["RED", "AMBER", "INFO"], str] = Field(default_factory=dict)  # topic ARNs
    models: dict[str, str] = Field(default_factory=dict)
    region: str | None = None


class Channels(_Strict):
    jira: JiraChannel = JiraChannel()
    webhook: WebhookChannel = WebhookChannel()
    email: EmailChannel = EmailChannel()
    slack: SlackChannel = SlackChannel()
    sns: SnsChannel = SnsChannel()


class Escalation(_Strict):
    red_open_days: Annotated[int, Field(ge=1)] = 5  # an open RED ticket older than this escalates
    alerts: list[AlertChannel] = Field(default_factory=lambda: ["email"])  # to the model risk team


class ModelEscalation(_Strict):
    """A model file's ``notifications.escalation``: the channels of this model's escalation alerts
    (``alerts: []`` turns them off). When a RED ticket escalates is the policy's (``red_open_days``)."""

    alerts: list[AlertChannel]


class Retry(_Strict):
    attempts: Annotated[int, Field(ge=1, le=10)] = 4  # per item within one delivery pass
    backoff_seconds: Annotated[float, Field(ge=0)] = 1.0  # doubled after each failed attempt
    max_wait_seconds: Annotated[float, Field(ge=0)] = 60.0  # a longer Retry-After waits for the next pass


class DeliveryBudget(_Strict):
    """What one delivery pass (a run's notify task, ``mrm outbox deliver``, the governance DAG) may
    spend before it leaves the rest pending for the next pass, and the per-channel circuit breaker."""

    max_seconds: Annotated[float, Field(gt=0)] = 30.0  # no attempt or backoff wait starts after this
    max_attempts: Annotated[int, Field(ge=1)] = 20  # delivery attempts, over all channels
    # a channel whose last attempt failed (transient) this recently gets one attempt per pass, not one
    # retry schedule per item; one that fails its retries in a pass is not tried again in it. 0: off
    breaker_seconds: Annotated[float, Field(ge=0)] = 300.0


class Routing(_Strict):
    """What goes where. The built-in tracker always records every ticket; ``tickets`` adds mirrors."""

    tickets: list[TicketSink] = Field(default_factory=list)
    red_alerts: list[AlertChannel] = Field(default_factory=list)  # owner + model risk team, at once
    amber_digest: list[AlertChannel] = Field(default_factory=list)  # one message per owner per day
    portfolio_summary: list[AlertChannel] = Field(default_factory=list)  # one per governance run
    extra_recipients: list[EmailStr] = Field(default_factory=list)  # also receive this model's alerts


class Notifications(Routing):
    """``_policy.yaml`` ``notifications:``: the portfolio's routing, channel settings and rules."""

    channels: Channels = Channels()
    escalation: Escalation = Escalation()
    retry: Retry = Retry()
    delivery: DeliveryBudget = DeliveryBudget()
    trend_points: Annotated[int, Field(ge=1, le=60)] = 10  # values shown in a ticket's trend line


class ModelNotifications(_Strict):
    """A model file's ``notifications:``: each key given replaces the policy's."""

    tickets: list[TicketSink] | None = None
    red_alerts: list[AlertChannel] | None = None
    amber_digest: list[AlertChannel] | None = None
    escalation: ModelEscalation | None = None
    extra_recipients: list[EmailStr] | None = None


def routing(policy: Notifications, model: ModelNotifications | None) -> Routing:
    """The routing that applies to one model: the policy's, with the model file's keys replacing it."""
    base = {k: getattr(policy, k) for k in Routing.model_fields}
    if model is not None:
        base.update({k: v for k in Routing.model_fields if (v := getattr(model, k, None)) is not None})
    return Routing(**base)


def escalation_alerts(policy: Notifications, model: ModelNotifications | None) -> list[str]:
    """The channels of one model's escalation alerts: the model file's ``escalation.alerts`` if it has
    one (``[]``: none), else the policy's (e-mail to the model risk team by default)."""
    if model is not None and model.escalation is not None:
        return list(model.escalation.alerts)
    return list(policy.escalation.alerts)
