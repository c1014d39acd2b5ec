"""Alerts to Amazon SNS topics, for pagers, chat bots and queues subscribed to them.

Credentials are boto3's defaults (instance role, AWS_* variables); AWS_ENDPOINT_URL points it at a
local stand-in. The topic is ``notifications.channels.sns.models[model_id]`` if set, else
``severities[severity]``. Each message carries the attributes model_id, severity, kind and
idempotency_key (for subscription filter policies and de-duplication). For a FIFO topic (its ARN ends
in ``.fifo``) the group is the model (or "portfolio") and the de-duplication id derives from the
item's key, so SNS drops a retried duplicate within its 5-minute window.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from mrm import settings
from mrm.errors import DeliveryError
from mrm.inventory.notifications import SnsChannel
from mrm.notify.base import ALERT_KINDS, Delivery
from mrm.notify.http import redact

SUBJECT_LIMIT = 100
ASCII_PUNCTUATION = str.maketrans({"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"'})
PORTFOLIO = "portfolio"  # model_id attribute and FIFO group of messages about no single model
TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "KMSThrottling",
    "InternalError",
}
CLIENT_HINTS = {
    "NotFound": "the topic does not exist: check the ARN in notifications.channels.sns",
    "AuthorizationError": "the AWS identity of the workers lacks sns:Publish on this topic",
    "InvalidParameter": "SNS refused the message or the ARN: check the ARN in notifications.channels.sns",
    "InvalidParameterValue": "SNS refused a value of the message",
    "KMSDisabled": "the topic's KMS key is disabled",
    "KMSAccessDenied": "the workers may not use the topic's KMS key",
}
UNREACHABLE = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)
# the outbox retries with backoff; one attempt per call keeps a failure quick and its message clear
CLIENT_CONFIG = Config(connect_timeout=10, read_timeout=10, retries={"max_attempts": 1, "mode": "standard"})


def subject(text: str) -> str:
    """An SNS Subject: ASCII printable, one line, at most 100 characters, not empty."""
    decomposed = unicodedata.normalize("NFKD", text.translate(ASCII_PUNCTUATION))  # é -> e + accent
    ascii_text = decomposed.encode("ascii", "ignore").decode()
    one_line = re.sub(r"\s+", " ", re.sub(r"[^\x20-\x7e\s]", "", ascii_text)).strip()
    if len(one_line) > SUBJECT_LIMIT:
        one_line = one_line[: SUBJECT_LIMIT - 3].rstrip() + "..."
    return one_line or "mrm alert"


def body(payload: dict[str, Any]) -> str:
    links = "\n".join(f"{name}: {url}" for name, url in (payload.get("links") or {}).items())
    return (payload.get("text") or "") + (f"\n\n{links}" if links else "")


class SnsAlerts:
    """Alert channel "sns". ``severities``/``models``: topic ARNs (see the module docstring)."""

    name = "sns"

    def __init__(
        self,
        severities: dict[str, str] | None = None,
        models: dict[str, str] | None = None,
        *,
        region: str | None = None,
    ):
        self.severities = dict(severities or {})
        self.models = dict(models or {})
        self.region = region or settings.aws_region()
        self.client = boto3.client("sns", region_name=self.region, config=CLIENT_CONFIG)

    @classmethod
    def from_config(cls, cfg: SnsChannel) -> SnsAlerts:
        return cls(dict(cfg.severities), dict(cfg.models), region=cfg.region)

    def topic(self, item: Delivery) -> str:
        model_id, severity = item.payload.get("model_id"), item.payload.get("severity")
        arn = self.models.get(model_id) if model_id else None
        arn = arn or self.severities.get(severity)
        if not arn:
            where = f"notifications.channels.sns.severities.{severity}"
            if model_id:
                where += f" (or .models.{model_id})"
            raise DeliveryError(f"SNS: no topic for alert {item.key}: set {where}", transient=False)
        return arn

    def deliver(self, item: Delivery) -> dict[str, Any]:
        if item.kind not in ALERT_KINDS:
            raise DeliveryError(
                f"SNS delivers alerts, not {item.kind} (item {item.key}): route tickets to jira or webhook",
                transient=False,
            )
        arn = self.topic(item)
        try:
            resp = self.client.publish(**self._request(item, arn))
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, arn) from None
        return {"message_id": resp["MessageId"], "topic_arn": arn}

    @staticmethod
    def _request(item: Delivery, arn: str) -> dict[str, Any]:
        payload = item.payload
        group = payload.get("model_id") or PORTFOLIO
        attributes = {
            "model_id": group,
            "severity": payload.get("severity"),
            "kind": item.kind,
            "idempotency_key": item.key,
        }
        request: dict[str, Any] = {
            "TopicArn": arn,
            "Subject": subject(payload.get("subject") or item.kind),
            "Message": body(payload) or item.kind,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": str(value)}
                for name, value in attributes.items()
                if value
            },
        }
        if arn.endswith(".fifo"):
            request["MessageGroupId"] = group
            request["MessageDeduplicationId"] = hashlib.sha256(item.key.encode()).hexdigest()[:64]
        return request


def _error(exc: ClientError | BotoCoreError, arn: str) -> DeliveryError:
    """A DeliveryError naming the topic, transient for connection trouble, throttling and 5xx; any URL
    in botocore's text (the endpoint) shows only its scheme, host and port."""
    error = _error_unredacted(exc, arn)
    return DeliveryError(redact(str(error)), transient=error.transient)


def _error_unredacted(exc: ClientError | BotoCoreError, arn: str) -> DeliveryError:
    if isinstance(exc, UNREACHABLE):
        return DeliveryError(f"SNS publish to {arn}: cannot reach SNS ({exc})", transient=True)
    if isinstance(exc, NoCredentialsError):
        return DeliveryError(
            f"SNS publish to {arn}: no AWS credentials: give the workers a role or set AWS_* variables",
            transient=False,
        )
    if isinstance(exc, BotoCoreError):
        return DeliveryError(f"SNS publish to {arn}: {exc}", transient=False)
    error = exc.response.get("Error", {})
    code, text = error.get("Code", "?"), error.get("Message", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    message = f"SNS publish to {arn}: {code}" + (f": {text}" if text else "")
    if code in TRANSIENT_CODES or status >= 500:
        return DeliveryError(message, transient=True)
    hint = CLIENT_HINTS.get(code)
    return DeliveryError(f"{message} ({hint})" if hint else message, transient=False)
