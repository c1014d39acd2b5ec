"""Getting breaches to people: ticket sinks and alert channels behind one outbox.

Every ticket event and alert is first written to the history's outbox table (same database, same
transaction as the ticket event), then delivered by :mod:`mrm.notify.outbox` to its channel with
retries; what stays undelivered is retried on the next run. Nothing is lost, nothing is sent twice.
"""
