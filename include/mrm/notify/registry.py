"""The channel seam's registry: each channel by the name routing uses, and the factory that builds it.

A factory takes the channel's settings (``notifications.channels.<name>``, or None for a channel that
has none there) and returns a :class:`~mrm.notify.base.Channel`, or raises ConfigError / DeliveryError
saying what to fix. A channel of mrm is its module in :mod:`mrm.notify.channels` plus one line in
``CHANNELS``; a channel from elsewhere is one :func:`register_channel` call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mrm.errors import ConfigError
from mrm.inventory.notifications import Channels, Route, allow_channel
from mrm.notify.base import Channel
from mrm.notify.channels.email import SmtpAlerts
from mrm.notify.channels.jira import JiraSink
from mrm.notify.channels.slack import SlackAlerts
from mrm.notify.channels.sns import SnsAlerts
from mrm.notify.channels.webhook import WebhookSink

Factory = Callable[[Any], Channel]

CHANNELS: dict[str, Factory] = {
    "jira": JiraSink.from_config,
    "webhook": WebhookSink.from_config,
    "email": SmtpAlerts.from_config,
    "slack": SlackAlerts.from_config,
    "sns": SnsAlerts.from_config,
}


def channel_for(name: str, settings: Channels) -> Channel:
    """The channel ``name``, built from its settings in ``settings`` (``notifications.channels``)."""
    factory = CHANNELS.get(name)
    if factory is None:
        raise ConfigError(
            f"unknown notification channel '{name}' in the outbox; valid: {', '.join(sorted(CHANNELS))}"
        )
    return factory(getattr(settings, name, None))


def register_channel(name: str, factory: Factory, route: Route = "alerts") -> None:
    """Add a channel: from now on the outbox delivers to it, and the inventory may route ``route``
    (``alerts``: red_alerts, amber_digest, portfolio_summary, escalation alerts; ``tickets``: ticket
    mirrors) to ``name``."""
    CHANNELS[name] = factory
    allow_channel(name, route)
