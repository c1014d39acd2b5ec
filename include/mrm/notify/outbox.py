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
from mrm.inventory.notifications import DeliveryBudget, Retry
from mrm.notify.base import TRANSIENT, Channel, Delivery, failure_kind
from mrm.notify.budget import Spend
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
    budget: DeliveryBudget | None = None,
) -> Report:
    """One delivery pass over the due pending items (of one model, or all). Items mirroring one ticket
    go in order: after one fails, the later ones of that ticket and channel wait for the next pass.
    ``budget``: what the pass may spend and its circuit breaker (:mod:`mrm.notify.budget`); None: no
    limit, every item gets its retry schedule."""
    report = Report()
    rows = pending(store, model_id, due_only=False)
    now = datetime.now(UTC)
    spend = Spend(budget, sleep, suspect=_suspect(store, budget, now))
    # an item put off by a long Retry-After still holds back the later items of its ticket
    blocked: set[tuple[str, Any]] = {_lane(r) for r in rows if _aware(r["next_attempt_at"]) > now}
    channels: dict[str, Channel | DeliveryError] = {}
    for row in (r for r in rows if _aware(r["next_attempt_at"]) <= now):
        lane = _lane(row)
        error = _held(spend, row, lane in blocked)
        if error is None:
            error = _try(store, row, _channel(channels, channel_for, row["channel"]), retry, spend)
        if error is None:
            report.delivered.append(row["key"])
        else:
            report.undelivered.append(_undelivered(row, error))
            blocked.add(lane)
    if report.undelivered:
        log.warning("%s", report.message())
    return report


def _suspect(store: HistoryStore, budget: DeliveryBudget | None, now: datetime) -> set[str]:
    """Channels whose last attempt within the breaker's window failed (transient)."""
    if budget is None or budget.breaker_seconds <= 0:
        return set()
    with store.engine.connect() as conn:
        last = store_outbox.last_outcomes(conn, now - timedelta(seconds=budget.breaker_seconds))
    return {channel for channel, (outcome, _) in last.items() if outcome == TRANSIENT}


def _held(spend: Spend, row: dict, blocked: bool) -> str | None:
    """Why ``row`` is not attempted in this pass, or None."""
    if blocked:
        return "waiting for an earlier item of the same ticket"
    return spend.held(row["channel"]) or spend.spent()


def _channel(channels: dict, channel_for: Callable[[str], Channel], name: str) -> Channel | DeliveryError:
    """The channel ``name``, built once per pass; a channel that cannot be built needs a fix."""
    if name not in channels:
        try:
            channels[name] = channel_for(name)
        except (ConfigError, DeliveryError) as exc:
            channels[name] = DeliveryError(str(exc), transient=False)
    return channels[name]


def _lane(row: dict) -> tuple[str, Any]:
    """Items of one ticket and channel go in order; any other item is its own lane."""
    return row["channel"], row["ticket_id"] if row["ticket_id"] is not None else f"#{row['id']}"


def _try(store: HistoryStore, row: dict, channel: Channel | DeliveryError, retry: Retry, spend: Spend):
    """Deliver one item; None when delivered, else the error. A channel that could not be built is
    one failed attempt."""
    if isinstance(channel, DeliveryError):
        spend.attempts += 1
        _failed(store, row, channel, row["attempts"] + 1, datetime.now(UTC))
        return str(channel)
    return _attempts(store, row, channel, retry, spend)


def _attempts(store: HistoryStore, row: dict, channel: Channel, retry: Retry, spend: Spend) -> str | None:
    """Up to ``retry.attempts`` tries (one on a suspect channel, fewer when the budget runs out);
    returns None when delivered, else the last error."""
    attempts = row["attempts"]
    wait = retry.backoff_seconds
    tries = spend.tries(row["channel"], retry.attempts)
    for n in range(tries):
        item = Delivery(row["key"], row["channel"], row["kind"], row["payload"], attempts)
        began = time.monotonic()
        spend.attempts += 1
        attempts += 1
        try:
            receipt = channel.deliver(item)
        except DeliveryError as exc:
            error, retryable = _after_failure(store, row, exc, attempts, retry, time.monotonic() - began)
            pause = exc.retry_after if exc.retry_after is not None else wait
            if not retryable or n == tries - 1 or spend.spent() or not spend.may_wait(pause):
                if exc.transient:
                    spend.failed(row["channel"], error)
                return error
            spend.wait(pause)
            wait *= 2
            continue
        _delivered(store, row, receipt, attempts, time.monotonic() - began)
        spend.delivered(row["channel"])
        log.info("delivered %s %s (outbox #%s)", row["channel"], row["kind"], row["id"])
        return None
    return "not attempted"  # pragma: no cover - the loop always returns


def _after_failure(
    store: HistoryStore, row: dict, exc: DeliveryError, attempts: int, retry: Retry, seconds: float
) -> tuple[str, bool]:
    """Record a failed attempt; returns (the error to report, whether this pass may try again)."""
    later = datetime.now(UTC)
    if exc.retry_after and exc.retry_after > retry.max_wait_seconds:
        later += timedelta(seconds=exc.retry_after)  # the peer asked for longer than a pass waits
        _failed(store, row, exc, attempts, later, seconds)
        return f"{exc} (retry after {exc.retry_after:g} s)", False
    _failed(store, row, exc, attempts, later, seconds)
    return str(exc), exc.transient


def _delivered(store: HistoryStore, row: dict, receipt: dict, attempts: int, seconds: float) -> None:
    with store.engine.begin() as conn:
        done = datetime.now(UTC)
        store_outbox.update(
            conn, row["id"], status=DELIVERED, attempts=attempts, delivered_at=done, receipt=receipt
        )
        store_outbox.add_attempt(
            conn, row["id"], attempt=attempts, at=done, outcome=DELIVERED, receipt=receipt, seconds=seconds
        )


def _failed(
    store: HistoryStore,
    row: dict,
    exc: Exception,
    attempts: int,
    next_at: datetime,
    seconds: float | None = None,
) -> None:
    kind = failure_kind(exc)
    with store.engine.begin() as conn:
        store_outbox.update(
            conn, row["id"], attempts=attempts, next_attempt_at=next_at, last_error=f"[{kind}] {exc}"
        )
        at = datetime.now(UTC)
        store_outbox.add_attempt(
            conn, row["id"], attempt=attempts, at=at, outcome=kind, error=str(exc), seconds=seconds
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


def trail(store: HistoryStore, item_id: int) -> tuple[dict, list[dict]]:
    """One item and its delivery attempts, oldest first."""
    with store.engine.connect() as conn:
        found = store_outbox.item(conn, item_id)
        if found is None:
            raise MrmError(f"outbox #{item_id} does not exist (see `mrm outbox --status all`)")
        return found, store_outbox.attempts(conn, item_id)


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
