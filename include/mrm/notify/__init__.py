"""Getting breaches to people: ticket sinks and alert channels behind one outbox.

base.py       the channel seam: Channel.deliver(Delivery) -> receipt | DeliveryError, the item kinds
registry.py   CHANNELS: each channel by name (jira, webhook, email, slack, sns); channel_for, register_channel
channels/     the channels themselves
outbox.py     every ticket event and alert is first written to the history's outbox table (same
              database, same transaction as the ticket event), then delivered to its channel with
              retries; what stays undelivered is retried on the next run. Nothing is lost, nothing is
              sent twice.
templates.py  the words of a ticket; messages.py: the alerts (their words, recipients and channels)
http.py       one HTTP call for channels, every failure a DeliveryError a person can act on

What a breach does to tickets, and which of these it sends, is the ticket lifecycle's
(:mod:`mrm.ticketing.lifecycle`), one floor up.
"""
