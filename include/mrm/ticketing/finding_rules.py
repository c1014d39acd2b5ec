"""The rules of the validation findings register. Pure functions: each takes the person's standing on
the finding's model (:func:`standing`, from the inventory entry's ``validator``, ``owner`` and
``developer`` and the role map of ``_policy.yaml``) and the terms, and returns what to record or raises a
:class:`mrm.errors.ReviewRefused` subclass whose one line names the person, the finding, the model and
what is needed. Without ``roles`` in ``_policy.yaml`` no role is checked (as on the desk); the terms are.

- add: the model's validator or a member of the model risk team; an id like VAL-2026-001 not yet in
  the register, a severity (high, medium, low), a description, an owner (who remediates), a due date;
  a plan and evidence links optional. Status: open.
- update: the plan and evidence links by the finding's owner, a model owner, the model's validator or a
  team member; the due date only by the validator or a team member (who remediates does not move their
  own deadline); ``remediation_submitted`` only by the finding's owner or a model owner, with a plan and
  at least one evidence link; ``open`` again (remediation returned) only by the validator or a team
  member. A verified closed finding takes no update.
- close (verified_closed): only the model's validator or a team member who neither owns nor develops
  the model and is not the finding's owner (segregation of duties), once remediation was submitted,
  with the reason (what was verified).

:func:`overdue` gives the governance status per model from its findings (:data:`RULES`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from mrm.errors import NotPermittedError, ReviewTermsError, SegregationOfDutiesError
from mrm.inventory.roles import Roles, person_key
from mrm.store.schema import FINDING_STATUSES, SEVERITIES

ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")  # e.g. VAL-2026-001
MAX_ID = 32
PERSON = re.compile(r"^\S{1,256}$")
FIELDS = ("severity", "description", "owner", "plan", "due_date", "evidence")

# governance status of one finding not verified closed, by severity: (past its due date, not yet due)
RULES = {
    "high": ("RED", "AMBER"),
    "medium": ("RED", "GREEN"),  # issue 19: overdue findings are governance RED, whatever their severity
    "low": ("RED", "GREEN"),
}
ORDER = ("GREEN", "AMBER", "RED")


@dataclass(frozen=True)
class Standing:
    """A person's roles on one model, as the register's rules need them."""

    person: str
    model_id: str
    validator: bool = False  # the inventory entry's validator
    team: bool = False  # in roles.model_risk_team
    owner: bool = False  # the entry's owner or an owner in the role map
    developer: bool = False
    checked: bool = True  # False: ``_policy.yaml`` has no ``roles``: no role is checked

    @property
    def second_line(self) -> bool:
        return not self.checked or self.validator or self.team

    def _held(self) -> str:
        held = [r for r, on in (("validator", self.validator), ("model risk team", self.team),
                                ("owner", self.owner), ("developer", self.developer)) if on]  # fmt: skip
        return " and ".join(held) if held else "no role"


def standing(
    roles: Roles | None, person: str, model_id: str, people: dict[str, tuple[str, str, str]]
) -> Standing:
    """``person``'s standing on ``model_id``; ``people``: model id -> (owner, developer, validator) of
    the inventory entries. Without a role map (``roles`` None) the standing is unchecked."""
    if roles is None:
        return Standing(person, model_id, checked=False)
    key = person_key(person)
    owner, developer, validator = people.get(model_id, (None, None, None))
    return Standing(
        person,
        model_id,
        validator=bool(validator) and key == person_key(validator),
        team=key in roles.reviewers(),
        owner=key in roles.owners(model_id, owner),
        developer=key in roles.developers(model_id, developer),
    )


def _on(who: Standing, finding_id: str) -> str:
    return f"finding {finding_id} (model {who.model_id})"


def _refuse(who: Standing, act: str, finding_id: str, needed: str) -> NotPermittedError:
    return NotPermittedError(
        f"{who.person} may not {act} {_on(who, finding_id)}: they are {who._held()} there, and this "
        f"needs {needed} (the entry's validator, roles in _policy.yaml)"
    )


def problems(fields: dict[str, Any], *, partial: bool = False) -> list[tuple[str, str]]:
    """What is wrong with a finding's fields, (field, problem) each; ``partial``: only those given are
    checked (an update). ``due_date`` a date or YYYY-MM-DD; ``evidence`` a list of links."""
    found: list[tuple[str, str]] = []
    given = (lambda k: k in fields) if partial else (lambda k: True)
    if given("severity") and fields.get("severity") not in SEVERITIES:
        found.append(("severity", f"'{fields.get('severity')}' is not one of {', '.join(SEVERITIES)}"))
    if given("description") and not str(fields.get("description") or "").strip():
        found.append(("description", "is empty: say what the validation found"))
    if given("owner") and not PERSON.match(str(fields.get("owner") or "")):
        found.append(("owner", f"'{fields.get('owner') or ''}' is not a person id (a user name or e-mail)"))
    if given("due_date") and _date(fields.get("due_date")) is None:
        found.append(("due_date", f"'{fields.get('due_date') or ''}' is not a date; use YYYY-MM-DD"))
    if "evidence" in fields:
        bad = [e for e in fields["evidence"] or [] if not PERSON.match(str(e))]
        if not isinstance(fields["evidence"], list | tuple) or bad:
            found.append(("evidence", "each link must be one URI without spaces"))
    return found


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def check_id(finding_id: str, known: set[str], where: str = "the register") -> str | None:
    """What is wrong with a new finding's id (``known``: the ids already in ``where``), or None."""
    if not ID.match(finding_id or "") or len(finding_id) > MAX_ID:
        return (
            f"'{finding_id}' is not a finding id: use upper-case letters, digits and dashes, e.g. "
            "VAL-2026-001"
        )
    if finding_id in known:
        if where != "the register":
            return f"{finding_id} is already in {where}"
        return f"{finding_id} is already in the register: use `mrm findings update {finding_id}`"
    return None


def add(who: Standing, finding_id: str, fields: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """A new finding (status open) as it is recorded; ``known``: the ids already in the register."""
    if not who.second_line:
        raise _refuse(who, "add", finding_id, "the model's validator or a member of the model risk team")
    wrong = check_id(finding_id, known)
    if wrong:
        raise ReviewTermsError(f"{who.person} cannot add {_on(who, finding_id)}: {wrong}")
    _terms(who, "add", finding_id, problems(fields))
    return {
        "model_id": who.model_id,
        "severity": fields["severity"],
        "description": fields["description"].strip(),
        "owner": fields["owner"].strip(),
        "plan": (fields.get("plan") or "").strip() or None,
        "due_date": _date(fields["due_date"]),
        "status": "open",
        "evidence": list(fields.get("evidence") or []),
    }


def _terms(who: Standing, act: str, finding_id: str, found: list[tuple[str, str]]) -> None:
    if found:
        raise ReviewTermsError(
            f"{who.person} cannot {act} {_on(who, finding_id)}: "
            + "; ".join(f"{field} {problem}" for field, problem in found)
        )


def _remediator(who: Standing, current: dict) -> bool:
    return not who.checked or who.owner or person_key(who.person) == person_key(current["owner"])


def update(who: Standing, finding_id: str, current: dict, changes: dict[str, Any]) -> tuple[str, dict]:
    """The event (updated, remediation_submitted or returned) and the finding after ``changes`` (any of
    plan, due_date, evidence: links added, status)."""
    if current["status"] == "verified_closed":
        raise ReviewTermsError(
            f"{who.person} cannot update {_on(who, finding_id)}: it is verified closed; a new issue is a "
            "new finding (mrm findings add)"
        )
    changes = {k: v for k, v in changes.items() if v not in (None, [], "")}
    if not changes:
        raise ReviewTermsError(
            f"{who.person} gave nothing to update on {_on(who, finding_id)}: give --plan, --due, --evidence "
            "or --status"
        )
    if not (_remediator(who, current) or who.second_line):
        raise _refuse(who, "update", finding_id, "its owner, a model owner, the validator or the team")
    if "due_date" in changes and not who.second_line:
        raise _refuse(who, "move the due date of", finding_id, "the model's validator or the team")
    _terms(who, "update", finding_id, problems(changes, partial=True))
    after = {**current}
    if "plan" in changes:
        after["plan"] = changes["plan"].strip()
    if "due_date" in changes:
        after["due_date"] = _date(changes["due_date"])
    after["evidence"] = [*current["evidence"], *(e for e in changes.get("evidence", []) if e not in
                                                  current["evidence"])]  # fmt: skip
    return _status(who, finding_id, current, changes.get("status"), after), after


def _status(who: Standing, finding_id: str, current: dict, status: str | None, after: dict) -> str:
    if status is None or status == current["status"]:
        return "updated"
    if status == "remediation_submitted":
        if not _remediator(who, current):
            raise _refuse(who, "submit remediation of", finding_id, "its owner or a model owner")
        if not after.get("plan") or not after["evidence"]:
            raise ReviewTermsError(
                f"{who.person} cannot submit remediation of {_on(who, finding_id)} without a plan and at "
                "least one evidence link: give --plan and --evidence"
            )
        after["status"] = status
        return "remediation_submitted"
    if status == "open":
        if not who.second_line:
            raise _refuse(who, "return the remediation of", finding_id, "the model's validator or the team")
        after["status"] = status
        return "returned"
    raise ReviewTermsError(
        f"{who.person} cannot set {_on(who, finding_id)} to '{status}': an update sets remediation_submitted "
        f"(or open, returning it); verified_closed is `mrm findings close {finding_id}`"
        if status in FINDING_STATUSES
        else f"'{status}' is not a status; the statuses are {', '.join(FINDING_STATUSES)}"
    )


def close(who: Standing, finding_id: str, current: dict, reason: str) -> dict:
    """The finding verified closed: by the validator or a team member independent of the model and of
    the finding's remediation, once remediation was submitted, with what was verified."""
    independent = not who.checked or (
        (who.validator or who.team)
        and not (who.owner or who.developer or person_key(who.person) == person_key(current["owner"]))
    )
    if not independent:
        raise SegregationOfDutiesError(
            f"{who.person} may not verify and close {_on(who, finding_id)}: they are {who._held()} there"
            + (" and own its remediation" if person_key(who.person) == person_key(current["owner"]) else "")
            + "; a finding is closed only by the model's validator or a model risk team member who neither "
            "owns nor develops the model nor remediates the finding"
        )
    if current["status"] != "remediation_submitted":
        raise ReviewTermsError(
            f"{who.person} cannot close {_on(who, finding_id)}: it is {current['status']}; its owner submits "
            f"remediation first (mrm findings update {finding_id} --status remediation_submitted)"
        )
    if not reason.strip():
        raise ReviewTermsError(f"{who.person} must give a reason (what was verified) to close {finding_id}")
    return {**current, "status": "verified_closed"}


@dataclass(frozen=True)
class Verdict:
    """A model's governance status from its findings, with one line per finding that set it."""

    status: str
    reasons: tuple[str, ...]


def overdue(findings: list[dict], today: date) -> dict[str, Verdict]:
    """Per model with a finding that counts, the worst status by :data:`RULES`: a finding not verified
    closed and past its due date (``today`` after it) is RED, whatever its severity; a high one
    not yet due is AMBER. Models whose findings are all closed or not yet due (medium, low) are left out
    (GREEN)."""
    verdicts: dict[str, Verdict] = {}
    for f in sorted(findings, key=lambda f: f["finding_id"]):
        if f["status"] == "verified_closed":
            continue
        due = _date(f["due_date"])
        late = today > due
        status = RULES[f["severity"]][0 if late else 1]
        if status == "GREEN":
            continue
        line = (
            f"finding {f['finding_id']} ({f['severity']}) of model {f['model_id']} is "
            + (f"{(today - due).days} day(s) past its due date {due}" if late else f"due {due}")
            + f" and {f['status'].replace('_', ' ')}: owner {f['owner']}"
        )
        before = verdicts.get(f["model_id"], Verdict("GREEN", ()))
        worst = max(before.status, status, key=ORDER.index)
        verdicts[f["model_id"]] = Verdict(worst, (*before.reasons, line))
    return verdicts
