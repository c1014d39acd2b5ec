"""The outbox: every ticket event and alert is a row here before any delivery is attempted.

``enqueue`` runs inside the transaction that records the ticket event, so an event without its
deliveries (or the reverse) cannot exist. ``deliver`` sends pending rows in order, retrying transient
failures with exponential backoff (and honouring Retry-After up to a cap); what is still undelivered
stays pending for the next pass (the next run, the governance DAG, or ``mrm outbox deliver``). A row is
marked delivered only after its channel accepted it, and its key is unique.

Several deliverers may run at once (runs of several models and dates, the governance DAG, ``mrm outbox
deliver``): each claims an item atomically before attempting it and records the outcome only under its
claim, so one item goes to one deliverer. A claim lapses ``lease_seconds`` after its latest attempt
began; a deliverer killed mid-delivery leaves an item the next pass takes over, and channels that can
check the peer first (Jira's key label and comment marker, webhook receivers' X-MRM-Delivery) cover
that case as they cover a peer that acted but whose answer was lost. Any exception from a channel fails
only its item (recorded, as needing a fix); the pass goes on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
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
LEASE_SECONDS = 300.0  # a claim lapses this long after its latest attempt began (the deliverer died)


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
    elsewhere: list[str] = field(default_factory=list)  # left to another deliverer holding it (or its ticket)

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


def deliverer_id() -> str:
    """Who claims items in one pass: host, process and a random part (two passes never share one)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass
class _Claims:
    """One pass's claims: deliverer ``me`` holds an item for ``lease_seconds`` from each attempt."""

    store: HistoryStore
    me: str
    lease_seconds: float

    def until(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.lease_seconds)

    def take(self, row: dict) -> dict | None:
        with self.store.engine.begin() as conn:
            return store_outbox.claim(conn, row["id"], self.me, datetime.now(UTC), self.until())

    def renew(self, row: dict) -> bool:
        with self.store.engine.begin() as conn:
            return store_outbox.renew(conn, row["id"], self.me, self.until())

    def release(self, row: dict) -> None:
        with self.store.engine.begin() as conn:
            store_outbox.release(conn, row["id"], self.me)


ELSEWHERE = "elsewhere"  # a lane held back because another deliverer holds one of its items


def deliver(
    store: HistoryStore,
    channel_for: Callable[[str], Channel],
    retry: Retry,
    *,
    model_id: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    budget: DeliveryBudget | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> Report:
    """One delivery pass over the due pending items (of one model, or all). Each item is claimed before
    it is attempted (another deliverer holding it, or an earlier item of its ticket, leaves it to that
    deliverer: ``Report.elsewhere``). Items mirroring one ticket go in order: after one fails, the later
    ones of that ticket and channel wait for the next pass. Any exception a channel raises fails only
    its item (recorded as needing a fix). ``budget``: what the pass may spend and its circuit breaker
    (:mod:`mrm.notify.budget`); None: no limit, every item gets its retry schedule."""
    report = Report()
    rows = pending(store, model_id, due_only=False)
    now = datetime.now(UTC)
    spend = Spend(budget, sleep, suspect=_suspect(store, budget, now))
    claims = _Claims(store, deliverer_id(), lease_seconds)
    # an item put off by a long Retry-After still holds back the later items of its ticket
    blocked: dict[tuple[str, Any], str] = {_lane(r): "" for r in rows if _aware(r["next_attempt_at"]) > now}
    channels: dict[str, Channel | DeliveryError] = {}
    for row in (r for r in rows if _aware(r["next_attempt_at"]) <= now):
        lane = _lane(row)
        error = _held(spend, row, lane in blocked)
        if error is None:
            error = _claimed(
                claims, row, lambda r: _channel(channels, channel_for, r["channel"]), retry, spend
            )
        if error is None:
            report.delivered.append(row["key"])
        elif error == ELSEWHERE or blocked.get(lane) == ELSEWHERE:
            report.elsewhere.append(row["key"])
            blocked[lane] = ELSEWHERE
        else:
            report.undelivered.append(_undelivered(row, error))
            blocked.setdefault(lane, error)
    if report.undelivered:
        log.warning("%s", report.message())
    return report


def _claimed(claims: _Claims, row: dict, channel, retry: Retry, spend: Spend) -> str | None:
    """Claim the item, try it, and give the claim up unless delivered; None when delivered, else the
    error (:data:`ELSEWHERE`: another deliverer has it or an earlier item of its ticket)."""
    fresh = claims.take(row)
    if fresh is None:
        return ELSEWHERE
    error = "not attempted"
    try:
        error = _try(claims, fresh, channel(fresh), retry, spend)
        return error
    finally:
        if error is not None:
            claims.release(fresh)


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
        except Exception as exc:  # a bug in a channel's set-up: its items wait, the others go on
            log.warning("cannot build the %s channel", name, exc_info=True)
            channels[name] = DeliveryError(f"{name}: unexpected {type(exc).__name__}: {exc}", transient=False)
    return channels[name]


def _lane(row: dict) -> tuple[str, Any]:
    """Items of one ticket and channel go in order; any other item is its own lane."""
    return row["channel"], row["ticket_id"] if row["ticket_id"] is not None else f"#{row['id']}"


def _try(claims: _Claims, row: dict, channel: Channel | DeliveryError, retry: Retry, spend: Spend):
    """Deliver one item; None when delivered, else the error. A channel that could not be built is
    one failed attempt."""
    if isinstance(channel, DeliveryError):
        spend.attempts += 1
        _failed(claims, row, channel, row["attempts"] + 1, datetime.now(UTC))
        return str(channel)
    return _attempts(claims, row, channel, retry, spend)


def _unexpected(row: dict, exc: Exception) -> DeliveryError:
    """Any other exception from a channel (a bug, data it cannot take): the item needs a fix."""
    log.warning("%s %s (outbox #%s) raised", row["channel"], row["kind"], row["id"], exc_info=exc)
    what = f"{row['channel']} {row['kind']} {row['key']}"
    return DeliveryError(f"{what}: unexpected {type(exc).__name__}: {exc}", transient=False)


def _attempts(claims: _Claims, row: dict, channel: Channel, retry: Retry, spend: Spend) -> str | None:
    """Up to ``retry.attempts`` tries (one on a suspect channel, fewer when the budget runs out);
    returns None when delivered, else the last error (:data:`ELSEWHERE` if the claim was lost)."""
    attempts = row["attempts"]
    wait = retry.backoff_seconds
    tries = spend.tries(row["channel"], retry.attempts)
    for n in range(tries):
        if n and not claims.renew(row):
            return ELSEWHERE
        item = Delivery(row["key"], row["channel"], row["kind"], row["payload"], attempts)
        began = time.monotonic()
        spend.attempts += 1
        attempts += 1
        try:
            try:
                receipt = channel.deliver(item)
            except DeliveryError:
                raise
            except Exception as exc:
                raise _unexpected(row, exc) from exc
        except DeliveryError as exc:
            error, retryable = _after_failure(claims, row, exc, attempts, retry, time.monotonic() - began)
            pause = exc.retry_after if exc.retry_after is not None else wait
            if not retryable or n == tries - 1 or spend.spent() or not spend.may_wait(pause):
                if exc.transient:
                    spend.failed(row["channel"], error)
                return error
            spend.wait(pause)
            wait *= 2
            continue
        _delivered(claims, row, receipt, attempts, time.monotonic() - began)
        spend.delivered(row["channel"])
        log.info("delivered %s %s (outbox #%s)", row["channel"], row["kind"], row["id"])
        return None
    return "not attempted"  # pragma: no cover - the loop always returns


def _after_failure(
    claims: _Claims, row: dict, exc: DeliveryError, attempts: int, retry: Retry, seconds: float
) -> tuple[str, bool]:
    """Record a failed attempt; returns (the error to report, whether this pass may try again)."""
    later = datetime.now(UTC)
    if exc.retry_after and exc.retry_after > retry.max_wait_seconds:
        later += timedelta(seconds=exc.retry_after)  # the peer asked for longer than a pass waits
        _failed(claims, row, exc, attempts, later, seconds)
        return f"{exc} (retry after {exc.retry_after:g} s)", False
    _failed(claims, row, exc, attempts, later, seconds)
    return str(exc), exc.transient


def _delivered(claims: _Claims, row: dict, receipt: dict, attempts: int, seconds: float) -> None:
    with claims.store.engine.begin() as conn:
        done = datetime.now(UTC)
        ours = store_outbox.update_claimed(
            conn, row["id"], claims.me, status=DELIVERED, attempts=attempts, delivered_at=done,
            receipt=receipt, lease_until=None,
        )  # fmt: skip
        store_outbox.add_attempt(
            conn, row["id"], attempt=attempts, at=done, outcome=DELIVERED, receipt=receipt, seconds=seconds
        )
    if not ours:
        log.warning(
            "%s %s (outbox #%s) was delivered after its claim lapsed; another deliverer took it over",
            row["channel"], row["kind"], row["id"],
        )  # fmt: skip


def _failed(
    claims: _Claims,
    row: dict,
    exc: Exception,
    attempts: int,
    next_at: datetime,
    seconds: float | None = None,
) -> None:
    kind = failure_kind(exc)
    with claims.store.engine.begin() as conn:
        store_outbox.update_claimed(
            conn, row["id"], claims.me, attempts=attempts, next_attempt_at=next_at,
            last_error=f"[{kind}] {exc}",
        )  # fmt: skip
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
