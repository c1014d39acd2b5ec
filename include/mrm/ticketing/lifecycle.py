"""The ticket lifecycle: what monitoring and governance results do to tickets, and who hears about it.

on_run        a monitoring run's RED controls open tickets or add occurrences; GREEN controls with
              an open ticket add "returned to green"; unresolved RED tickets escalate; new tickets
              raise one RED alert per run
on_failure    a run that could not complete: a ``run.could_not_run`` ticket and its RED alert
on_findings   governance's RED findings, ticketed to the model risk team
daily         (governance DAG) AMBER digest per owner, portfolio summary, escalations, read-back of
              tickets closed in Jira
close         a person closes a ticket with a reason (``mrm tickets close``)
deliver       send what the outbox holds (:mod:`mrm.notify.outbox`)

The built-in tracker records each ticket event and returns it; :meth:`TicketLifecycle._mirror` turns it
into one outbox item per ticket sink the model routes to, in the event's transaction.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from mrm.core.results import control_key
from mrm.errors import ConfigError, DeliveryError, MrmError
from mrm.inventory import Inventory, ModelEntry
from mrm.notify import messages, outbox, registry, templates
from mrm.notify.base import (
    ALERT_ESCALATION,
    TICKET_CLOSED,
    TICKET_ESCALATED,
    TICKET_GREEN,
    TICKET_OCCURRENCE,
    TICKET_OPENED,
    TICKET_REVIEWED,
    Channel,
)
from mrm.store import HistoryStore
from mrm.store import outbox as store_outbox
from mrm.store import tickets as store_tickets
from mrm.ticketing import acceptances, details
from mrm.ticketing.base import Breach, breach_from, ticket_text
from mrm.ticketing.tracker import (
    CLOSED,
    ESCALATED,
    OCCURRENCE,
    OPENED,
    RETURNED_TO_GREEN,
    BuiltinTracker,
    Event,
    Filed,
)

log = logging.getLogger("mrm.notify")

# the outbox kind that mirrors each kind of tracker event
MIRRORED_AS = {
    OPENED: TICKET_OPENED,
    OCCURRENCE: TICKET_OCCURRENCE,
    RETURNED_TO_GREEN: TICKET_GREEN,
    ESCALATED: TICKET_ESCALATED,
    CLOSED: TICKET_CLOSED,
}


def _action(filed: Filed) -> dict:
    a = filed.action
    return {"ticket_id": a.ticket_id, "key": a.key, "action": a.action}


class TicketLifecycle:
    def __init__(self, store: HistoryStore, inventory: Inventory):
        self.store = store
        self.inventory = inventory
        self.cfg = inventory.policy.notifications
        self.tracker = BuiltinTracker(store)

    def channel(self, name: str) -> Channel:
        """The channel ``name`` with this inventory's settings (:func:`mrm.notify.registry.channel_for`)."""
        return registry.channel_for(name, self.cfg.channels)

    def deliver(self, model_id: str | None = None) -> outbox.Report:
        """One delivery pass over what the outbox holds (of one model, or all)."""
        return outbox.deliver(
            self.store, self.channel, self.cfg.retry, model_id=model_id, budget=self.cfg.delivery
        )

    # -- a monitoring run -----------------------------------------------------------------------------
    def on_run(self, entry: ModelEntry, run_id: str, day: date, *, reds_only: bool = False) -> list[dict]:
        """File this run's RED controls and the lifecycle events they imply; returns ticket actions.
        ``reds_only``: only the RED controls and their alert (the sweep of an earlier day's run)."""
        run = self.store.run(run_id)
        by_control = {
            control_key(r["check"], r["metric"], r["column"], r["segment"]): r
            for r in self.store.metrics(run_id=run_id)
        }
        trend = details.trends(self.store, entry.model_id, day, self.cfg.trend_points)
        links = details.links(run)
        # a concurrent run may open the same ticket or count the same date first: then the second try
        # files against that ticket and finds the date counted
        return self.store.retry_on_conflict(
            lambda: self._on_run(entry, run, day, by_control, trend, links, reds_only)
        )

    def _on_run(self, entry, run, day, by_control, trend, links, reds_only=False) -> list[dict]:
        actions, items, opened = [], [], []
        with self.store.engine.begin() as conn:
            store_tickets.serialise(conn)
            for row in (r for r in by_control.values() if r["status"] == "RED"):
                breach = breach_from(entry, run["run_id"], run["logical_date"], row)
                text = ticket_text(
                    entry,
                    breach,
                    detail=details.persistence_note(row),
                    trend=trend(row["check"], row["metric"], row["column"], row["segment"]),
                    links=links(row["check"]),
                )
                filed, mirrors = self._file(conn, entry, breach, text, links(row["check"]))
                actions.append(_action(filed))
                items += mirrors
                opened += self._opened(filed, breach)
            if not reds_only:
                items += self._returned_to_green(conn, entry, run, by_control, day)
                items += self._escalations(conn, day, entry.model_id)
            if opened:
                items += messages.red_alert(
                    self.inventory, entry, day, opened, links(*sorted({t["check"] for t in opened}))
                )
            outbox.enqueue(conn, items)
        return actions

    def on_failure(self, entry: ModelEntry, breach: Breach) -> dict:
        """A run that could not complete: a ``run.could_not_run`` ticket, mirrored and alerted."""
        text = ticket_text(entry, breach, detail=breach.message)

        def once() -> Filed:
            with self.store.engine.begin() as conn:
                store_tickets.serialise(conn)
                filed, items = self._file(conn, entry, breach, text)
                if opened := self._opened(filed, breach):
                    items += messages.red_alert(self.inventory, entry, breach.logical_date, opened, {})
                outbox.enqueue(conn, items)
            return filed

        return _action(self.store.retry_on_conflict(once))

    def on_findings(self, entry: ModelEntry, breaches: list[Breach]) -> list[str]:
        """Governance REDs, filed and mirrored; the model risk team owns them. Returns the ticket keys."""

        def once() -> list[str]:
            keys, items = [], []
            with self.store.engine.begin() as conn:
                store_tickets.serialise(conn)
                for breach in breaches:
                    text = ticket_text(entry, breach, detail=breach.message)
                    filed, mirrors = self._file(conn, entry, breach, text)
                    items += mirrors
                    keys.append(filed.action.key)
                outbox.enqueue(conn, items)
            return keys

        return self.store.retry_on_conflict(once)

    # -- the portfolio, daily -------------------------------------------------------------------------
    def daily(self, day: date) -> dict:
        """What the governance DAG does after assessing the inventory: read back Jira, escalate, digest,
        summary. Returns counts of what was queued."""
        closed = self.sync_external()
        # read before the write transaction: on SQLite a read inside it would wait for it
        digests = messages.digests(self.inventory, self.store.metrics(since=day, until=day), day)
        held = acceptances.held(self.store, day)
        summary = messages.summary(
            self.inventory,
            day,
            self.store.runs(since=day, until=day),
            self.tracker.tickets(status="all"),
            len(outbox.pending(self.store, due_only=False)),
            held,
            acceptances.expiring(held, day),
        )

        def once() -> tuple[list[outbox.Item], int]:
            with self.store.engine.begin() as conn:
                store_tickets.serialise(conn)
                escalations = self._escalations(conn, day, None)
                return escalations, outbox.enqueue(conn, [*escalations, *digests, *summary])

        escalations, queued = self.store.retry_on_conflict(once)
        escalated = len({i.ticket_id for i in escalations if i.kind == TICKET_ESCALATED}) or sum(
            i.kind == ALERT_ESCALATION for i in escalations
        )
        return {"closed_in_jira": closed, "queued": queued, "escalated": escalated}

    def close(self, ticket_id: int, by: str, reason: str, day: date | None = None) -> dict:
        """A person's decision to close a ticket, recorded with who and why, and mirrored."""
        day = day or datetime.now(UTC).date()
        with self.store.engine.begin() as conn:
            store_tickets.serialise(conn)
            event, items = self.close_in(conn, ticket_id, by, reason, day)
            outbox.enqueue(conn, items)
        return event.ticket

    def close_in(
        self, conn, ticket_id: int, by: str, reason: str, day: date, message: str = ""
    ) -> tuple[Event, list]:
        """Close the ticket in the caller's transaction; returns the event and its mirrors to enqueue.
        ``message``: the words of the closed event and its mirrors (default "Closed by <by>: <reason>")."""
        event = self.tracker.close_in(conn, ticket_id, by, reason, day, message)
        text = message or f"Closed by {by}: {reason}"
        return event, self._mirror(event, text, day, closed=(by, reason))

    def act_mirrors(self, ticket: dict, act: dict, text: str, day: date) -> list[outbox.Item]:
        """One ``ticket.reviewed`` item per ticket sink of the model for a review act on ``ticket``."""
        payload = details.payload(self.inventory, ticket, text, None, day, "", {})
        payload.update(
            act=act["kind"], act_id=act["act_id"], person=act["person"], authenticated=act["authenticated"]
        )
        tid = ticket["ticket_id"]
        return [
            outbox.Item(
                outbox.make_key(sink, "ticket", tid, "act", act["act_id"]),
                sink,
                TICKET_REVIEWED,
                payload,
                ticket["model_id"],
                tid,
                day,
            )
            for sink in messages.routing_for(self.inventory, ticket["model_id"]).tickets
        ]

    def sync_external(self, model_id: str | None = None) -> list[str]:
        """Tickets closed in Jira are closed here too (who: jira, why: the Jira status)."""
        with self.store.engine.connect() as conn:
            receipts = store_outbox.external_keys(conn, "jira")
        linked = [t for t in self.tracker.tickets(model_id) if receipts.get(t["ticket_id"])]
        if not linked:
            return []
        try:
            jira = self.channel("jira")
        except (ConfigError, DeliveryError) as exc:
            log.warning("cannot read back Jira statuses: %s", exc)
            return []
        closed = []
        for t in linked:
            key = receipts[t["ticket_id"]]
            try:
                state = jira.status(key)
            except DeliveryError as exc:
                log.warning("cannot read the status of Jira %s (%s): %s", key, t["key"], exc)
                continue
            if state.get("done"):
                self._close_from_jira(t, key, f"closed in Jira {key} (status {state.get('status')})")
                closed.append(t["key"])
        return closed

    def _close_from_jira(self, ticket: dict, jira_key: str, reason: str) -> None:
        day = datetime.now(UTC).date()
        by = f"jira:{jira_key}"
        with self.store.engine.begin() as conn:
            store_tickets.serialise(conn)
            try:
                event = self.tracker.close_in(conn, ticket["ticket_id"], by, reason, day)
            except MrmError:
                return  # closed meanwhile
            outbox.enqueue(conn, self._mirror(event, reason, day, closed=(by, reason), skip="jira"))
        log.info("%s closed: %s", ticket["key"], reason)

    # -- tracker events -------------------------------------------------------------------------------
    def _file(
        self, conn, entry: ModelEntry, breach: Breach, text: str, links: dict[str, str] | None = None
    ) -> tuple[Filed, list[outbox.Item]]:
        """File the breach, and its mirrors: ``text`` opens the ticket, or follows "Breached again"."""
        filed = self.tracker.file_in(conn, breach, entry.risk_tier)
        if filed.event is None:
            return filed, []
        if filed.event.kind == OCCURRENCE:
            text = templates.event_comment(
                "occurrence",
                control=breach.control,
                value=breach.value,
                logical_date=breach.logical_date,
                run_id=breach.run_id,
                text=text,
            )
        day, run_id = breach.logical_date, breach.run_id
        return filed, self._mirror(filed.event, text, day, value=breach.value, run_id=run_id, links=links)

    @staticmethod
    def _opened(filed: Filed, breach: Breach) -> list[dict]:
        """The ticket, for the RED alert, if filing opened it."""
        if filed.event is None or filed.event.kind != OPENED:
            return []
        return [{**filed.event.ticket, "value": breach.value, "red": breach.red}]

    def _returned_to_green(self, conn, entry, run, by_control, day) -> list[outbox.Item]:
        items = []
        for ticket in self.tracker.tickets_in(conn, entry.model_id):
            row = by_control.get(ticket["control"])
            if ticket["control"] == "run.could_not_run":
                row = {"status": "GREEN", "value": None}  # this run completed
            if row is None or row["status"] != "GREEN":
                continue
            comment = templates.event_comment(
                "returned_to_green",
                control=ticket["control"],
                value=row["value"],
                logical_date=day,
                run_id=run["run_id"],
            )
            event = self.tracker.returned_to_green_in(
                conn, ticket["ticket_id"], run["run_id"], day, row["value"], comment
            )
            if event is not None:
                items += self._mirror(event, comment, day, value=row["value"], run_id=run["run_id"])
        return items

    def _escalations(self, conn, day: date, model_id: str | None) -> list[outbox.Item]:
        rule = self.cfg.escalation
        items = []
        for ticket in self.tracker.tickets_in(conn, model_id):
            days_open = (day - ticket["first_logical_date"]).days
            if (
                ticket["severity"] != "RED"
                or ticket["escalated_at"] is not None
                or days_open < rule.red_open_days
            ):
                continue
            message = (
                f"Unresolved for {days_open} days (RED since {ticket['first_logical_date']}): escalated "
                "to the model risk team."
            )
            items += self.escalate_in(conn, ticket, day, message)
        return items

    def escalate_in(self, conn, ticket: dict, day: date, message: str, why: str | None = None) -> list:
        """Escalate an open ticket once (priority one step up) in the caller's transaction; returns its
        mirrors and escalation alert (none if escalated before). ``why``: the alert's reason."""
        event = self.tracker.escalate_in(conn, ticket["ticket_id"], day, message)
        if event is None:
            return []
        mirrors = self._mirror(event, f"{message} Priority raised to {event.ticket['priority']}.", day)
        days_open = (day - ticket["first_logical_date"]).days
        return mirrors + messages.escalation(self.inventory, event.ticket, days_open, day, why)

    # -- mirrors --------------------------------------------------------------------------------------
    def _mirror(
        self,
        event: Event,
        text: str,
        day: date,
        *,
        value: float | None = None,
        run_id: str = "",
        links: dict[str, str] | None = None,
        closed: tuple[str, str] | None = None,
        skip: str | None = None,
    ) -> list[outbox.Item]:
        """One outbox item per ticket sink of the ticket's model (but ``skip``) for a tracker event.
        ``closed``: (by, reason) of a closing."""
        ticket = event.ticket
        payload = details.payload(self.inventory, ticket, text, value, day, run_id, links or {})
        if closed:
            payload.update(closed_by=closed[0], reason=closed[1])
        return [
            outbox.Item(
                outbox.make_key(sink, "ticket", ticket["ticket_id"], "event", event.id),
                sink,
                MIRRORED_AS[event.kind],
                payload,
                ticket["model_id"],
                ticket["ticket_id"],
                day,
            )
            for sink in messages.routing_for(self.inventory, ticket["model_id"]).tickets
            if sink != skip
        ]
