"""The channels: Jira and the webhook (ticket sinks), e-mail, Slack and Amazon SNS (alert channels).

Each is a :class:`mrm.notify.base.Channel`: built by its ``from_config`` from its settings in
``notifications.channels`` (picked by name in :mod:`mrm.notify.registry`), it delivers one outbox item
and returns a receipt, or raises a DeliveryError saying whether a retry may succeed.
"""
