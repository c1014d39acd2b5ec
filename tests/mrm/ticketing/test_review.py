"""The desk's rules, one table per rule: who may do what (owner, developer, reviewer, independent
reviewer, nobody), on what terms, and the one line a refusal gives."""

from __future__ import annotations

from datetime import date

import pytest

from mrm.errors import NotPermittedError, ReviewTermsError, SegregationOfDutiesError
from mrm.inventory.roles import ModelRoles, Roles
from mrm.ticketing import review
from mrm.ticketing.review import AIRFLOW, CLI, Standing, Subject

TODAY = date(2026, 10, 1)
RED = Subject("MRM-3", "card_fraud", "RED", "open")
AMBER = Subject("MRM-4", "card_fraud", "AMBER", "open")
CLOSED = Subject("MRM-5", "card_fraud", "RED", "closed")


def who(*roles: str, conflicts: tuple[str, ...] = ()) -> Standing:
    return Standing(
        "pat@example.com",
        "card_fraud",
        "reviewer" in roles,
        "owner" in roles,
        "developer" in roles,
        conflicts,
    )


OWNER, DEV, REVIEWER, NOBODY = who("owner"), who("developer"), who("reviewer"), who()
REVIEWER_OWNER = who("reviewer", "owner")


def outcome(call):
    try:
        return call()
    except (NotPermittedError, SegregationOfDutiesError, ReviewTermsError) as exc:
        return type(exc).__name__


# -- standing from the role map -----------------------------------------------------------------------
def test_standing_joins_the_entry_people_with_the_role_map_case_blind():
    roles = Roles(
        model_risk_team=["Rev@Example.com"],
        models={"card_fraud": ModelRoles(owners=["alice"], developers=["dev2"])},
    )
    people = {"card_fraud": ("fraud-models@example.com", "fraud-ds@example.com"), "credit": ("bob", "dev2")}
    table = [
        ("rev@example.com", "card_fraud", (True, False, False, ())),
        ("ALICE", "card_fraud", (False, True, False, ())),
        ("fraud-models@example.com", "card_fraud", (False, True, False, ())),
        ("dev2", "card_fraud", (False, False, True, ())),
        ("dev2", None, (False, False, False, ("card_fraud", "credit"))),
        ("stranger", "card_fraud", (False, False, False, ())),
    ]
    for person, model, expected in table:
        s = review.standing(roles, person, model, people)
        assert (s.reviewer, s.owner, s.developer, s.conflicts) == expected, person


# -- one table per rule -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("standing", "ticket", "comment", "action_date", "expected"),
    [
        (OWNER, RED, "vendor feed fixed tomorrow", TODAY, "acknowledge"),
        (OWNER, RED, "later", date(2026, 10, 9), "acknowledge"),
        (DEV, RED, "x", TODAY, "NotPermittedError"),
        (REVIEWER, RED, "x", TODAY, "NotPermittedError"),
        (NOBODY, RED, "x", TODAY, "NotPermittedError"),
        (OWNER, CLOSED, "x", TODAY, "ReviewTermsError"),
        (OWNER, RED, "  ", TODAY, "ReviewTermsError"),
        (OWNER, RED, "x", date(2026, 9, 30), "ReviewTermsError"),
    ],
)
def test_acknowledge(standing, ticket, comment, action_date, expected):
    assert outcome(lambda: review.acknowledge(standing, ticket, comment, action_date, TODAY)) == expected


@pytest.mark.parametrize(
    ("standing", "ticket", "text", "expected"),
    [
        (OWNER, RED, "root cause: vendor", "comment"),
        (DEV, RED, "fix deployed", "comment"),
        (REVIEWER, CLOSED, "challenge: why?", "comment"),
        (NOBODY, RED, "hello", "NotPermittedError"),
        (OWNER, RED, "", "ReviewTermsError"),
    ],
)
def test_comment(standing, ticket, text, expected):
    assert outcome(lambda: review.comment(standing, ticket, text)) == expected


@pytest.mark.parametrize(
    ("standing", "ticket", "cause", "expected"),
    [
        (OWNER, RED, "data_issue", "propose_close"),
        (OWNER, RED, "nonsense", "ReviewTermsError"),
        (OWNER, CLOSED, "other", "ReviewTermsError"),
        (DEV, RED, "other", "NotPermittedError"),
        (REVIEWER, RED, "other", "NotPermittedError"),
    ],
)
def test_propose_close(standing, ticket, cause, expected):
    assert outcome(lambda: review.propose_close(standing, ticket, "fixed upstream", cause)) == expected


@pytest.mark.parametrize(
    ("standing", "ticket", "authenticated", "expected"),
    [
        (REVIEWER, RED, AIRFLOW, "close"),
        (REVIEWER, RED, CLI, "propose_close"),  # a RED closure from the CLI waits for a reviewer
        (OWNER, RED, CLI, "propose_close"),
        (OWNER, RED, AIRFLOW, "SegregationOfDutiesError"),
        (REVIEWER_OWNER, RED, AIRFLOW, "SegregationOfDutiesError"),
        (DEV, RED, AIRFLOW, "SegregationOfDutiesError"),
        (DEV, RED, CLI, "SegregationOfDutiesError"),
        (NOBODY, RED, AIRFLOW, "SegregationOfDutiesError"),
        (OWNER, AMBER, AIRFLOW, "close"),
        (OWNER, AMBER, CLI, "close"),
        (REVIEWER, AMBER, CLI, "close"),
        (DEV, AMBER, AIRFLOW, "NotPermittedError"),
        (REVIEWER, CLOSED, AIRFLOW, "ReviewTermsError"),
    ],
)
def test_close(standing, ticket, authenticated, expected):
    assert outcome(lambda: review.close(standing, ticket, "fixed", "data_issue", authenticated)) == expected


@pytest.mark.parametrize(
    ("standing", "until", "max_days", "expected"),
    [
        (REVIEWER, date(2026, 10, 2), 90, "accept_risk"),
        (REVIEWER, date(2026, 12, 30), 90, "accept_risk"),  # 90 days ahead: the last allowed
        (REVIEWER, date(2026, 12, 31), 90, "ReviewTermsError"),
        (REVIEWER, date(2026, 10, 31), 30, "accept_risk"),
        (REVIEWER, date(2026, 11, 1), 30, "ReviewTermsError"),
        (REVIEWER, TODAY, 90, "ReviewTermsError"),  # must end after today
        (OWNER, date(2026, 10, 2), 90, "SegregationOfDutiesError"),
        (REVIEWER_OWNER, date(2026, 10, 2), 90, "SegregationOfDutiesError"),
        (DEV, date(2026, 10, 2), 90, "SegregationOfDutiesError"),
    ],
)
def test_accept_risk(standing, until, max_days, expected):
    assert outcome(lambda: review.accept_risk(standing, RED, "known", until, TODAY, max_days)) == expected


def test_accept_risk_needs_an_open_ticket_which_the_acceptance_closes():
    with pytest.raises(
        ReviewTermsError, match=r"^pat@example.com cannot accept the risk of MRM-5 .*: it is closed"
    ):
        review.accept_risk(REVIEWER, CLOSED, "known", date(2026, 10, 2), TODAY, 90)


PORTFOLIO_REVIEWER = Standing("pat@example.com", None, reviewer=True)
PORTFOLIO_CONFLICTED = Standing("pat@example.com", None, reviewer=True, conflicts=("credit",))


@pytest.mark.parametrize(
    ("standing", "day", "expected"),
    [
        (REVIEWER, TODAY, "attest"),
        (PORTFOLIO_REVIEWER, date(2026, 9, 30), "attest"),
        (PORTFOLIO_CONFLICTED, TODAY, "SegregationOfDutiesError"),
        (REVIEWER_OWNER, TODAY, "SegregationOfDutiesError"),
        (OWNER, TODAY, "NotPermittedError"),
        (NOBODY, TODAY, "NotPermittedError"),
        (REVIEWER, date(2026, 10, 2), "ReviewTermsError"),  # a day not yet reviewed
    ],
)
def test_attest(standing, day, expected):
    assert outcome(lambda: review.attest(standing, day, TODAY, "reviewed the morning's runs")) == expected


# -- the lines people read ----------------------------------------------------------------------------
def test_refusals_name_the_person_the_act_the_model_and_what_is_needed():
    with pytest.raises(SegregationOfDutiesError) as exc:
        review.close(OWNER, RED, "fixed", "data_issue", AIRFLOW)
    assert str(exc.value) == (
        "pat@example.com may not close RED ticket MRM-3 (model card_fraud): they are owner there, and a RED "
        "ticket is closed only by a member of the model risk team who neither owns nor develops the model; "
        "an "
        "owner may propose closure for a reviewer to confirm"
    )
    with pytest.raises(NotPermittedError) as exc:
        review.acknowledge(DEV, RED, "x", TODAY, TODAY)
    assert str(exc.value) == (
        "pat@example.com may not acknowledge MRM-3 (model card_fraud): they are developer there, and this "
        "needs an owner of the model (roles in _policy.yaml)"
    )
    with pytest.raises(ReviewTermsError, match=r"at most 30 days ahead \(2026-10-31, the tier's"):
        review.accept_risk(REVIEWER, RED, "known", date(2026, 12, 1), TODAY, 30)
    with pytest.raises(SegregationOfDutiesError, match="they own or develop credit; ask a reviewer"):
        review.attest(PORTFOLIO_CONFLICTED, TODAY, TODAY, "ok")
