"""The outbox: every ticket event and alert is a row here before any delivery is attempted.

``enqueue`` runs inside the transaction that records the ticket event, so an event without its
deliveries (or the reverse) cannot exist. ``deliver`` sends pending rows in order, retrying transient
failures with exponential backoff (and honouring Retry-After up to a cap); what is still undelivered
stays pending for the next pass (the next run, the governance DAG, or ``mrm outbox deliver``). A row is
marked delivered only after its channel accepted it, and its key is unique, so nothing is sent twice
by mrm; channels that can check the peer first (Jira comments, webhook receivers) also cover the case
where the peer acted but its answer was lost.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mrm.errors import ConfigError, DeliveryError, MrmError
from mrm.inventory.notifications import Retry
from mrm.notify.base import Channel, Delivery, failure_kind
from mrm.store import HistoryStore
from mrm.store import outbox as store_outbox
from mrm.store.outbox import DELIVERED, PENDING

log = logging.getLogger("mrm.notify")


@dataclass(frozen=True)
class Item:
    key: str
    channel: str
    kind: str
    payload: dict[str, Any]
    model_id: str | None = None
    ticket_id: int | None = None
    logical_date: Any = None


def make_key(*parts: Any) -> str:
    """A readable, bounded idempotency key: channel:kind:... hashed when long."""
    text = ":".join(str(p) for p in parts)
    return text if len(text) <= 128 else f"{text[:63]}#{hashlib.sha256(text.encode()).hexdigest()[:64]}"


def enqueue(conn, items: list[Item]) -> int:
    """Insert items whose key is new (a rerun re-enqueues nothing), in the caller's transaction
    ``conn``. Returns how many were new."""
    if not items:
        return 0
    have = store_outbox.existing_keys(conn, [i.key for i in items])
    now = datetime.now(UTC)
    new = [i for i in dict((i.key, i) for i in items).values() if i.key not in have]
    store_outbox.insert(
        conn,
        [
            {**asdict(i), "status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now}
            for i in new
        ],
    )
    return len(new)


@dataclass
class Report:
    delivered: list[str] = field(default_factory=list)
    undelivered: list[dict] = field(default_factory=list)  # {"id", "key", "channel", "kind", "error"}

    def message(self) -> str:
        first = self.undelivered[0]
        return (
            f"{len(self.undelivered)} notification(s) undelivered, e.g. {first['channel']} {first['kind']} "
            f"(outbox #{first['id']}): {first['error']}. They stay in the outbox and are retried on the "
            "next run; see `mrm outbox`, fix the channel, then `mrm outbox deliver`"
        )


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def pending(store: HistoryStore, model_id: str | None = None, *, due_only: bool = True) -> list[dict]:
    """Pending items in delivery order; ``due_only``: those whose next attempt is due."""
    rows = items(store, PENDING, model_id)
    if due_only:
        now = datetime.now(UTC)
        rows = [r for r in rows if _aware(r["next_attempt_at"]) <= now]
    return rows


def deliver(
    store: HistoryStore,
    channel_for: Callable[[str], Channel],
    retry: Retry,
    *,
    model_id: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """One delivery pass over the due pending items (of one model, or all). Items mirroring one ticket
    go in order: after one fails, the later ones of that ticket and channel wait for the next pass."""
    report = Report()
    rows = pending(store, model_id, due_only=False)
    now = datetime.now(UTC)
    # an item put off by a long Retry-After still holds back the later items of its ticket
    blocked: set[tuple[str, Any]] = {_lane(r) for r in rows if _aware(r["next_attempt_at"]) > now}
    channels: dict[str, Channel | DeliveryError] = {}
    for row in rows:
        if _aware(row["next_attempt_at"]) > now:
            continue
        lane = _lane(row)
        if lane in blocked:
            report.undelivered.append(_undelivered(row, "waiting for an earlier item of the same ticket"))
            continue
        channel = channels.get(row["channel"])
        if channel is None:
            try:
                channel = channels[row["channel"]] = channel_for(row["channel"])
            except (ConfigError, DeliveryError) as exc:
                channel = channels[row["channel"]] = DeliveryError(str(exc), transient=False)
        if isinstance(channel, DeliveryError):
            _failed(store, row, channel, row["attempts"] + 1, datetime.now(UTC))
            report.undelivered.append(_undelivered(row, str(channel)))
            blocked.add(lane)
            continue
        error = _attempts(store, row, channel, retry, sleep)
        if error is None:
            report.delivered.append(row["key"])
        else:
            report.undelivered.append(_undelivered(row, error))
            blocked.add(lane)
    if report.undelivered:
        log.warning("%s", report.message())
    return report


def _lane(row: dict) -> tuple[str, Any]:
    """Items of one ticket and channel go in order; any other item is its own lane."""
    return row["channel"], row["ticket_id"] if row["ticket_id"] is not None else f"#{row['id']}"


def _attempts(store: HistoryStore, row: dict, channel: Channel, retry: Retry, sleep) -> str | None:
    """Up to ``retry.attempts`` tries; returns None when delivered, else the last error."""
    attempts = row["attempts"]
    wait = retry.backoff_seconds
    for n in range(retry.attempts):
        item = Delivery(row["key"], row["channel"], row["kind"], row["payload"], attempts)
        try:
            receipt = channel.deliver(item)
        except DeliveryError as exc:
            attempts += 1
            later = datetime.now(UTC)
            if exc.retry_after and exc.retry_after > retry.max_wait_seconds:
                later += timedelta(seconds=exc.retry_after)  # the peer asked for longer than a pass waits
                _failed(store, row, exc, attempts, later)
                return f"{exc} (retry after {exc.retry_after:g} s)"
            _failed(store, row, exc, attempts, later)
            if not exc.transient or n == retry.attempts - 1:
                return str(exc)
            sleep(exc.retry_after if exc.retry_after is not None else wait)
            wait *= 2
            continue
        _delivered(store, row, receipt, attempts + 1)
        log.info("delivered %s %s (outbox #%s)", row["channel"], row["kind"], row["id"])
        return None
    return "not attempted"  # pragma: no cover - the loop always returns


def _delivered(store: HistoryStore, row: dict, receipt: dict, attempts: int) -> None:
    with store.engine.begin() as conn:
        done = datetime.now(UTC)
        store_outbox.update(
            conn, row["id"], status=DELIVERED, attempts=attempts, delivered_at=done, receipt=receipt
        )


def _failed(store: HistoryStore, row: dict, exc: Exception, attempts: int, next_at: datetime) -> None:
    kind = failure_kind(exc)
    with store.engine.begin() as conn:
        store_outbox.update(
            conn, row["id"], attempts=attempts, next_attempt_at=next_at, last_error=f"[{kind}] {exc}"
        )


def _undelivered(row: dict, error: str) -> dict:
    return {
        "id": row["id"],
        "key": row["key"],
        "channel": row["channel"],
        "kind": row["kind"],
        "error": error,
    }


def items(store: HistoryStore, status: str = PENDING, model_id: str | None = None) -> list[dict]:
    """Items with one status (or ``all``), of one model or all, in delivery order."""
    with store.engine.connect() as conn:
        return store_outbox.rows(conn, status, model_id)


def cancel(store: HistoryStore, item_id: int, by: str, reason: str) -> None:
    """A person decides an item will never be deliverable (e.g. the channel was retired)."""
    if not reason.strip():
        raise MrmError(f"cancelling outbox #{item_id} needs a reason (--reason '...')")
    with store.engine.begin() as conn:
        status = store_outbox.cancel_pending(conn, item_id, by, reason)
    if status != PENDING:
        state = "does not exist" if status is None else f"is {status}"
        raise MrmError(f"outbox #{item_id} {state}; only pending items can be cancelled (see `mrm outbox`)")


def undelivered_error(report: Report) -> DeliveryError | None:
    """The error to raise after a pass that left items undelivered (they are retried later), or None."""
    return DeliveryError(report.message(), transient=True) if report.undelivered else None
