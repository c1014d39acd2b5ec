"""The rules of the risk manager's desk: who may do what, on what terms. Pure functions: each takes the
person's standing on the model (from the role map of ``_policy.yaml``, :func:`standing`) and the act's
terms, and returns the act to record or raises a :class:`mrm.errors.ReviewRefused` subclass whose one
line names the person, the act, the model and what is needed.

- acknowledge: an owner of the model; an open ticket, a comment, a planned action date not past.
- comment: an owner, developer or reviewer of the model; a comment.
- propose_close: an owner of the model; an open ticket, a rationale, a cause category.
- close: a RED ticket only a reviewer who neither owns nor develops the model (segregation of duties),
  any other also an owner; an open ticket, a rationale, a cause. A RED closure from outside Airflow
  (the CLI) is recorded as a proposal, which a reviewer confirms (:func:`close`).
- accept_risk: a reviewer who neither owns nor develops the model; an open ticket (the acceptance
  closes it), a rationale, an until date after today and at most the tier's ``max_acceptance_days``
  ahead.
- attest: a reviewer who neither owns nor develops the model (any model, for the portfolio); a logical
  date not in the future, a comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from mrm.errors import NotPermittedError, ReviewTermsError, SegregationOfDutiesError
from mrm.inventory.roles import Roles, person_key
from mrm.store.schema import CAUSES

AIRFLOW = "airflow"  # the person was authenticated by Airflow's auth manager
CLI = "cli: not authenticated by Airflow"  # the person is who the command line says


@dataclass(frozen=True)
class Standing:
    """A person's roles on one model (``model_id`` None: the portfolio, with the models they own or
    develop in ``conflicts``)."""

    person: str
    model_id: str | None
    reviewer: bool = False
    owner: bool = False
    developer: bool = False
    conflicts: tuple[str, ...] = ()
    checked: bool = True  # False: ``_policy.yaml`` has no ``roles``, so no role is checked (any act goes)

    @property
    def independent(self) -> bool:
        """A reviewer who neither owns nor develops the model (any model, for the portfolio)."""
        if not self.checked:
            return True
        return self.reviewer and not (self.owner or self.developer or self.conflicts)

    @property
    def what(self) -> str:
        return f"model {self.model_id}" if self.model_id else "the portfolio"


@dataclass(frozen=True)
class Subject:
    """The ticket acted on, as the rules need it."""

    key: str
    model_id: str
    severity: str
    status: str

    @classmethod
    def of(cls, ticket: dict) -> Subject:
        return cls(ticket["key"], ticket["model_id"], ticket["severity"], ticket["status"])


def standing(
    roles: Roles | None, person: str, model_id: str | None, people: dict[str, tuple[str, str]]
) -> Standing:
    """``person``'s standing on ``model_id`` (None: the portfolio); ``people``: model id -> (entry owner,
    entry developer), as :func:`mrm.inventory.roles.check_roles` takes it. Without a role map (``roles``
    None) the standing is unchecked: every act is allowed, as before the desk had roles, and a RED ticket
    closes from the CLI directly."""
    if roles is None:
        return Standing(person, model_id, reviewer=True, owner=True, checked=False)
    key = person_key(person)
    reviewer = key in roles.reviewers()
    if model_id is None:
        conflicts = tuple(
            sorted(m for m, (o, d) in people.items() if key in roles.owners(m, o) | roles.developers(m, d))
        )
        return Standing(person, None, reviewer, conflicts=conflicts)
    owner, developer = people.get(model_id, (None, None))
    return Standing(
        person,
        model_id,
        reviewer,
        key in roles.owners(model_id, owner),
        key in roles.developers(model_id, developer),
    )


def _roles(who: Standing) -> str:
    held = [
        r for r, on in (("reviewer", who.reviewer), ("owner", who.owner), ("developer", who.developer)) if on
    ]
    return " and ".join(held) if held else "no role"


def _refuse(who: Standing, act: str, on: str, needed: str) -> NotPermittedError:
    return NotPermittedError(
        f"{who.person} may not {act} {on} ({who.what}): they are {_roles(who)} there, and this needs "
        f"{needed} (roles in _policy.yaml)"
    )


def _open(who: Standing, act: str, ticket: Subject) -> None:
    if ticket.status != "open":
        raise ReviewTermsError(
            f"{who.person} cannot {act} {ticket.key} ({who.what}): it is {ticket.status}; only an open "
            "ticket takes this act"
        )


def _text(who: Standing, act: str, on: str, text: str, what: str) -> None:
    if not text.strip():
        raise ReviewTermsError(f"{who.person} must give {what} to {act} {on} ({who.what})")


def acknowledge(who: Standing, ticket: Subject, comment: str, action_date: date, today: date) -> str:
    """The owner's first response: a comment and the date they plan to act by (today or later)."""
    if not who.owner:
        raise _refuse(who, "acknowledge", ticket.key, "an owner of the model")
    _open(who, "acknowledge", ticket)
    _text(who, "acknowledge", ticket.key, comment, "a comment (what they will do)")
    if action_date < today:
        raise ReviewTermsError(
            f"{who.person} cannot acknowledge {ticket.key} ({who.what}) with a planned action date of "
            f"{action_date}, before today ({today}): give today or a later date"
        )
    return "acknowledge"


def comment(who: Standing, ticket: Subject, text: str) -> str:
    """Anyone with a role on the model comments (root cause, actions taken), open or closed ticket."""
    if not (who.owner or who.developer or who.reviewer):
        raise _refuse(who, "comment on", ticket.key, "an owner, developer or reviewer of the model")
    _text(who, "comment on", ticket.key, text, "a comment")
    return "comment"


def _closing_terms(who: Standing, act: str, ticket: Subject, rationale: str, cause: str) -> None:
    _open(who, act, ticket)
    _text(who, act, ticket.key, rationale, "a rationale")
    if cause not in CAUSES:
        raise ReviewTermsError(
            f"{who.person} cannot {act} {ticket.key} ({who.what}) with cause '{cause}': give one of "
            f"{', '.join(CAUSES)}"
        )


def propose_close(who: Standing, ticket: Subject, rationale: str, cause: str) -> str:
    """An owner proposes closure with a rationale and a cause category; a reviewer confirms it."""
    if not who.owner:
        raise _refuse(who, "propose closing", ticket.key, "an owner of the model")
    _closing_terms(who, "propose closing", ticket, rationale, cause)
    return "propose_close"


def close(who: Standing, ticket: Subject, rationale: str, cause: str, authenticated: str) -> str:
    """``close``, or ``propose_close`` when a RED ticket's closure comes from outside Airflow (the CLI):
    a reviewer confirms it in the Model Risk page. A RED ticket is closed only by an independent
    reviewer (segregation of duties); any other by an owner or a reviewer."""
    if ticket.severity == "RED":
        if who.checked and authenticated != AIRFLOW and (who.owner or who.independent):
            _closing_terms(who, "propose closing", ticket, rationale, cause)
            return "propose_close"
        if not who.independent:
            raise SegregationOfDutiesError(
                f"{who.person} may not close RED ticket {ticket.key} ({who.what}): they are {_roles(who)} "
                "there, and a RED ticket is closed only by a member of the model risk team who neither owns "
                "nor develops the model; an owner may propose closure for a reviewer to confirm"
            )
    elif not (who.owner or who.independent):
        raise _refuse(who, "close", ticket.key, "an owner, or a reviewer who neither owns nor develops it")
    _closing_terms(who, "close", ticket, rationale, cause)
    return "close"


def accept_risk(who: Standing, ticket: Subject, comment: str, until: date, today: date, max_days: int) -> str:
    """A time-boxed exception: an independent reviewer accepts the ticket's control breached until
    ``until``, after today and at most ``max_days`` (the tier's ``max_acceptance_days``) ahead."""
    if not who.independent:
        raise SegregationOfDutiesError(
            f"{who.person} may not accept the risk of {ticket.key} ({who.what}): they are {_roles(who)} "
            "there, and a risk is accepted only by a member of the model risk team who neither owns nor "
            "develops the model"
        )
    _open(who, "accept the risk of", ticket)
    _text(who, "accept the risk of", ticket.key, comment, "a rationale")
    latest = today + timedelta(days=max_days)
    if not today < until <= latest:
        raise ReviewTermsError(
            f"{who.person} cannot accept the risk of {ticket.key} ({who.what}) until {until}: give a date "
            f"after today ({today}) and at most {max_days} days ahead ({latest}, the tier's "
            "max_acceptance_days)"
        )
    return "accept_risk"


def attest(who: Standing, day: date, today: date, text: str) -> str:
    """A reviewer signs off a logical date's review of a model or of the portfolio; independent of what
    is attested (of every model, for the portfolio)."""
    if not who.reviewer:
        raise _refuse(who, "attest", f"the review of {day}", "a member of the model risk team")
    if not who.independent:
        owned = ", ".join(who.conflicts) or who.model_id
        raise SegregationOfDutiesError(
            f"{who.person} may not attest the review of {day} ({who.what}): they own or develop {owned}; "
            "ask a reviewer independent of it"
            + (", or attest each other model on its own" if who.conflicts else "")
        )
    _text(who, "attest", f"the review of {day}", text, "a comment")
    if day > today:
        raise ReviewTermsError(
            f"{who.person} cannot attest the review of {day} ({who.what}): it is after today ({today})"
        )
    return "attest"


TICKET_ACTS = ("acknowledge", "comment", "propose_close", "close", "accept_risk")


def available(who: Standing, ticket: Subject, today: date, max_days: int) -> list[str]:
    """The acts of :data:`TICKET_ACTS` the rules let ``who`` take on ``ticket`` as someone Airflow
    authenticated (what the page offers them): each rule asked with terms it accepts, so the buttons
    and the refusals cannot disagree."""
    tomorrow = today + timedelta(days=1)
    trials = {
        "acknowledge": lambda: acknowledge(who, ticket, "-", today, today),
        "comment": lambda: comment(who, ticket, "-"),
        "propose_close": lambda: propose_close(who, ticket, "-", CAUSES[0]),
        "close": lambda: close(who, ticket, "-", CAUSES[0], AIRFLOW),
        "accept_risk": lambda: accept_risk(who, ticket, "-", tomorrow, today, max(max_days, 1)),
    }
    found = []
    for act, trial in trials.items():
        try:
            trial()
        except (NotPermittedError, SegregationOfDutiesError, ReviewTermsError):
            continue
        found.append(act)
    return found
