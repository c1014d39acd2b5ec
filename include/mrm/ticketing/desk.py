"""The risk manager's desk: review acts recorded. Each act is checked against the rules
(:mod:`mrm.ticketing.review`) and written, with the ticket change and the outbox rows it implies, in one
transaction under the chain's lock: the act in ``mrm_review_acts`` (chained), a closure (and an
accepted risk, cause ``accepted``) also as the ticket's closed event, and one ``ticket.reviewed`` (or
``ticket.closed``) item per ticket sink of the model. The Model Risk page and ``mrm tickets
ack|comment|propose-close|close|accept|attest`` both call :class:`Desk`; the page passes the person
Airflow authenticated, the CLI the one it was told (marked ``cli: not authenticated by Airflow``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from mrm.inventory import Inventory
from mrm.notify import outbox
from mrm.store import HistoryStore
from mrm.store import acts as store_acts
from mrm.store import tickets as store_tickets
from mrm.ticketing import review
from mrm.ticketing.lifecycle import TicketLifecycle
from mrm.ticketing.review import AIRFLOW, Standing, Subject

MAX_WHO = 256  # the columns that hold who acted
ACCEPTED = "accepted"  # the cause of a closure by an accepted risk (mrm.store.schema.CAUSES)


@dataclass(frozen=True)
class Actor:
    """Who acts: a person id of the role map, how they were authenticated (``airflow`` or ``cli: not
    authenticated by Airflow``), and how the act came (the CLI's os user)."""

    person: str
    authenticated: str = AIRFLOW
    via: str | None = None

    def signature(self) -> str:
        """What a ticket's closed_by records: ``alice (airflow)``; from the CLI, how it came (``via``)."""
        if self.authenticated != AIRFLOW and self.via:
            return self.via[:MAX_WHO]
        return f"{self.person} ({self.authenticated})"[:MAX_WHO]


@dataclass(frozen=True)
class Recorded:
    """What an act recorded: the act (as stored), the ticket after it (None: an attestation), and a
    note for the person when the act was recorded other than asked (a RED closure from the CLI)."""

    act: dict
    ticket: dict | None
    note: str = ""


def describe(act: dict) -> str:
    """One line for people (``mrm tickets show``, the mirrors): who did what, how authenticated, why."""
    who = (
        act["via"]
        if act["authenticated"] != AIRFLOW and act["via"]
        else f"{act['person']} ({act['authenticated']})"
    )
    what = {
        "acknowledge": f"acknowledged by {who}, action planned by {act['action_date']}",
        "comment": f"comment by {who}",
        "propose_close": f"closure proposed by {who}, awaiting a reviewer",
        "close": f"closed by {who}"
        + (f", confirming proposal #{act['confirms']}" if act["confirms"] else ""),
        "accept_risk": f"risk accepted by {who} until {act['until_date']}",
        "attest": f"review of {act['logical_date']} attested by {who} for "
        + (f"model {act['model_id']}" if act["model_id"] else "the portfolio"),
    }[act["kind"]]
    cause = f" (cause {act['cause']})" if act["cause"] else ""
    conditions = "; ".join(act["conditions"] or [])
    return f"{what}: {act['comment']}{cause}" + (f" (conditions: {conditions})" if conditions else "")


def standing(inventory: Inventory, person: str, model_id: str | None) -> Standing:
    """``person``'s standing on ``model_id`` (None: the portfolio) by the inventory's role map."""
    people = {m: (e.owner, e.developer) for m, e in inventory.entries.items()}
    return review.standing(inventory.policy.roles, person, model_id, people)


class Desk:
    def __init__(self, store: HistoryStore, inventory: Inventory, lifecycle: TicketLifecycle | None = None):
        self.store, self.inventory = store, inventory
        self.lifecycle = lifecycle or TicketLifecycle(store, inventory)

    def standing(self, person: str, model_id: str | None) -> Standing:
        return standing(self.inventory, person, model_id)

    # -- acts on a ticket -----------------------------------------------------------------------------
    def acknowledge(self, actor: Actor, ticket_id: int, comment: str, action_date: date, today=None):
        today = today or _today()
        rule = lambda who, t: review.acknowledge(who, t, comment, action_date, today)  # noqa: E731
        return self._on_ticket(actor, ticket_id, rule, comment, today, action_date=action_date)

    def comment(self, actor: Actor, ticket_id: int, comment: str, today=None) -> Recorded:
        today = today or _today()
        return self._on_ticket(
            actor, ticket_id, lambda who, t: review.comment(who, t, comment), comment, today
        )

    def propose_close(self, actor: Actor, ticket_id: int, rationale: str, cause: str, today=None):
        today = today or _today()
        rule = lambda who, t: review.propose_close(who, t, rationale, cause)  # noqa: E731
        return self._on_ticket(actor, ticket_id, rule, rationale, today, cause=cause)

    def close(self, actor: Actor, ticket_id: int, rationale: str, cause: str, today=None) -> Recorded:
        """Close the ticket; a RED one from outside Airflow is recorded as a proposal (see the note)."""
        today = today or _today()
        rule = lambda who, t: review.close(who, t, rationale, cause, actor.authenticated)  # noqa: E731
        done = self._on_ticket(actor, ticket_id, rule, rationale, today, cause=cause)
        if done.act["kind"] == "close":
            return done
        note = (
            f"recorded as a proposal: RED ticket {done.ticket['key']} is closed only when a member of the "
            "model risk team confirms it in the Model Risk page (this closure was not authenticated by "
            "Airflow)"
        )
        return Recorded(done.act, done.ticket, note)

    def accept(self, actor: Actor, ticket_id: int, comment: str, until: date, conditions=(), today=None):
        """Accept the ticket's control breached until ``until`` (inclusive), with conditions, and close the
        ticket (cause ``accepted``) in the same transaction: while the acceptance holds, runs record the
        control ACCEPTED and open no ticket (:func:`mrm.controls.accept`); after it, a breach tickets
        again."""
        today = today or _today()

        def rule(who: Standing, t: Subject) -> str:
            entry = self.inventory.entries.get(t.model_id)
            max_days = self.inventory.policy.max_acceptance_days(entry.risk_tier if entry else 0)
            return review.accept_risk(who, t, comment, until, today, max_days)

        lines = [" ".join(c.split()) for c in conditions if c.strip()]
        return self._on_ticket(actor, ticket_id, rule, comment, today, until_date=until, conditions=lines)

    # -- attesting a day ------------------------------------------------------------------------------
    def attest(self, actor: Actor, day: date, model_id: str | None, comment: str, today=None) -> Recorded:
        """Sign off the review of ``day`` for one model (None: the whole portfolio)."""
        today = today or _today()
        if model_id is not None:
            self.inventory.get(model_id)  # an unknown model: InventoryError naming the known ones
        review.attest(self.standing(actor.person, model_id), day, today, comment)
        with self.store.engine.begin() as conn:
            store_tickets.serialise(conn)
            act_id = store_acts.insert_act(
                conn,
                "attest",
                actor.person,
                actor.authenticated,
                comment,
                datetime.now(UTC),
                model_id=model_id,
                logical_date=day,
                via=actor.via,
            )
            return Recorded(store_acts.act(conn, act_id), None)

    # -- internals ------------------------------------------------------------------------------------
    def _on_ticket(
        self,
        actor: Actor,
        ticket_id: int,
        rule: Callable[[Standing, Subject], str],
        comment: str,
        today: date,
        **fields,
    ) -> Recorded:
        with self.store.engine.begin() as conn:
            store_tickets.serialise(conn)
            ticket = self.lifecycle.tracker.ticket_in(conn, ticket_id)
            kind = rule(self.standing(actor.person, ticket["model_id"]), Subject.of(ticket))
            proposal = store_acts.open_proposal(conn, ticket_id) if kind == "close" else None
            act_id = store_acts.insert_act(
                conn,
                kind,
                actor.person,
                actor.authenticated,
                comment,
                datetime.now(UTC),
                model_id=ticket["model_id"],
                ticket_id=ticket_id,
                control=ticket["control"],
                via=actor.via,
                confirms=proposal["act_id"] if proposal else None,
                **fields,
            )
            act = store_acts.act(conn, act_id)
            if kind == "close":
                reason = f"{comment} (cause {fields['cause']})"
                event, items = self.lifecycle.close_in(conn, ticket_id, actor.signature(), reason, today)
                ticket = event.ticket
            elif kind == "accept_risk":  # the ticket closes: "risk accepted by <who> until <date>: <why>"
                reason = f"risk accepted until {fields['until_date']}: {comment} (cause {ACCEPTED})"
                said = describe({**act, "cause": ACCEPTED})  # the act's words, with the closure's cause
                by = actor.signature()
                event, items = self.lifecycle.close_in(conn, ticket_id, by, reason, today, said)
                ticket = event.ticket
            else:
                items = self.lifecycle.act_mirrors(ticket, act, describe(act), today)
            outbox.enqueue(conn, items)
        return Recorded(act, ticket)


def _today() -> date:
    return datetime.now(UTC).date()
