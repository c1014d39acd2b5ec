"""Alert channels: e-mail (SMTP), Slack (incoming webhook) and Amazon SNS.

Each is a :class:`mrm.notify.base.Channel`: built from its settings in ``notifications.channels``
with ``from_config``, it delivers one outbox item of kind ``alert.*`` and returns a receipt, or raises
a DeliveryError saying whether a retry may succeed.
"""

from __future__ import annotations

from mrm.alerts.email import SmtpAlerts
from mrm.alerts.slack import SlackAlerts
from mrm.alerts.sns import SnsAlerts

__all__ = ["SlackAlerts", "SmtpAlerts", "SnsAlerts"]
