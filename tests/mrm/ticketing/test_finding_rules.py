"""The findings register's rules, each a table: who may add, update, submit, return and close (the
validator, the model risk team, the finding's owner, the model's owner and developer, no role, and no
role map at all), on what terms, and the governance status overdue findings give a model."""

from __future__ import annotations

from datetime import date

import pytest

from mrm.errors import NotPermittedError, ReviewTermsError, SegregationOfDutiesError
from mrm.inventory.roles import Roles
from mrm.ticketing import finding_rules as rules

MODEL = "card_fraud"
PEOPLE = {MODEL: ("owner@example.com", "dev@example.com", "val@example.com")}
ROLES = Roles(model_risk_team=["mrt@example.com", "dev@example.com"])  # a team member who develops it
FIELDS = {"severity": "high", "description": "no monitoring of overrides", "owner": "fix@example.com",
          "plan": "", "due_date": date(2026, 10, 1), "evidence": ["s3://val/report.pdf"]}  # fmt: skip
CURRENT = {"finding_id": "VAL-2026-001", "model_id": MODEL, "severity": "high", "description": "d",
           "owner": "fix@example.com", "plan": "retrain", "due_date": date(2026, 10, 1),
           "status": "remediation_submitted", "evidence": ["s3://val/report.pdf"]}  # fmt: skip


def who(person: str, roles: Roles | None = ROLES) -> rules.Standing:
    return rules.standing(roles, person, MODEL, PEOPLE)


def outcome(call) -> str:
    try:
        call()
    except SegregationOfDutiesError:
        return "segregation"
    except NotPermittedError:
        return "not permitted"
    except ReviewTermsError:
        return "terms"
    return "ok"


def test_standing_reads_the_entrys_validator_and_the_role_map():
    assert who("VAL@example.com") == rules.Standing("VAL@example.com", MODEL, validator=True)
    assert who("dev@example.com") == rules.Standing("dev@example.com", MODEL, team=True, developer=True)
    assert who("owner@example.com").owner and not who("nobody@example.com").second_line
    assert not who("x", None).checked and who("x", None).second_line


@pytest.mark.parametrize(
    "person, roles, expected",
    [
        ("val@example.com", ROLES, "ok"),  # the model's validator
        ("mrt@example.com", ROLES, "ok"),  # the model risk team
        ("owner@example.com", ROLES, "not permitted"),
        ("fix@example.com", ROLES, "not permitted"),  # who will remediate it
        ("nobody@example.com", ROLES, "not permitted"),
        ("nobody@example.com", None, "ok"),  # no role map: unchecked, as on the desk
    ],
)
def test_who_may_add_a_finding(person, roles, expected):
    assert outcome(lambda: rules.add(who(person, roles), "VAL-2026-001", FIELDS, set())) == expected


@pytest.mark.parametrize(
    "finding_id, change, message",
    [
        ("val-2026-1", {}, "is not a finding id: use upper-case letters"),
        (
            "VAL-2026-001",
            {"known": True},
            "VAL-2026-001 is already in the register: use `mrm findings update",
        ),
        ("VAL-2026-001", {"severity": "critical"}, "severity 'critical' is not one of high, medium, low"),
        ("VAL-2026-001", {"description": " "}, "description is empty: say what the validation found"),
        ("VAL-2026-001", {"owner": "two words"}, "owner 'two words' is not a person id"),
        ("VAL-2026-001", {"due_date": "1 Oct"}, "due_date '1 Oct' is not a date; use YYYY-MM-DD"),
        ("VAL-2026-001", {"evidence": ["a link"]}, "evidence each link must be one URI without spaces"),
    ],
)
def test_a_finding_is_added_only_on_full_terms(finding_id, change, message):
    known = {"VAL-2026-001"} if change.pop("known", False) else set()
    with pytest.raises(ReviewTermsError, match=message):
        rules.add(who("val@example.com"), finding_id, {**FIELDS, **change}, known)


def test_an_added_finding_is_open_with_its_terms():
    added = rules.add(who("val@example.com"), "VAL-2026-001", {**FIELDS, "due_date": "2026-10-01"}, set())
    assert added == {"model_id": MODEL, "severity": "high", "description": "no monitoring of overrides",
                     "owner": "fix@example.com", "plan": None, "due_date": date(2026, 10, 1),
                     "status": "open", "evidence": ["s3://val/report.pdf"]}  # fmt: skip


OPEN = {**CURRENT, "status": "open"}


@pytest.mark.parametrize(
    "person, current, changes, expected",
    [
        # the plan and evidence: the finding's owner, a model owner, the validator, the team
        ("fix@example.com", OPEN, {"plan": "recalibrate"}, "updated"),
        ("owner@example.com", OPEN, {"evidence": ["s3://x"]}, "updated"),
        ("val@example.com", OPEN, {"plan": "recalibrate"}, "updated"),
        ("nobody@example.com", OPEN, {"plan": "recalibrate"}, "not permitted"),
        # the due date: the validator or the team only, not who remediates
        ("val@example.com", OPEN, {"due_date": date(2026, 12, 1)}, "updated"),
        ("fix@example.com", OPEN, {"due_date": date(2026, 12, 1)}, "not permitted"),
        ("owner@example.com", OPEN, {"due_date": date(2026, 12, 1)}, "not permitted"),
        # submitting remediation: the finding's owner or a model owner, with a plan and evidence
        ("fix@example.com", OPEN, {"status": "remediation_submitted"}, "remediation_submitted"),
        ("owner@example.com", OPEN, {"status": "remediation_submitted"}, "remediation_submitted"),
        ("val@example.com", OPEN, {"status": "remediation_submitted"}, "not permitted"),
        ("fix@example.com", {**OPEN, "plan": None}, {"status": "remediation_submitted"}, "terms"),
        ("fix@example.com", {**OPEN, "evidence": []}, {"status": "remediation_submitted"}, "terms"),
        # returning it (open again): the validator or the team
        ("val@example.com", CURRENT, {"status": "open"}, "returned"),
        ("fix@example.com", CURRENT, {"status": "open"}, "not permitted"),
        # never: closing by update, nothing to change, a closed finding, an unknown status
        ("val@example.com", CURRENT, {"status": "verified_closed"}, "terms"),
        ("val@example.com", CURRENT, {"plan": None, "evidence": []}, "terms"),
        ("val@example.com", {**CURRENT, "status": "verified_closed"}, {"plan": "x"}, "terms"),
        ("val@example.com", CURRENT, {"status": "done"}, "terms"),
        ("nobody@example.com", None, {"due_date": date(2026, 12, 1)}, "updated"),  # no role map
    ],
)
def test_who_may_update_a_finding_and_how(person, current, changes, expected):
    roles = ROLES if current is not None else None
    current = current or OPEN

    def call():
        event, _ = rules.update(who(person, roles), "VAL-2026-001", current, changes)
        call.event = event

    result = outcome(call)
    assert (call.event if result == "ok" else result) == expected


def test_an_update_keeps_what_it_does_not_change_and_adds_links_once():
    changes = {"due_date": "2026-12-01", "evidence": ["s3://val/report.pdf", "s3://fix/pr-12"]}
    event, after = rules.update(who("val@example.com"), "VAL-2026-001", OPEN, changes)
    assert event == "updated" and after["due_date"] == date(2026, 12, 1) and after["plan"] == "retrain"
    assert after["evidence"] == ["s3://val/report.pdf", "s3://fix/pr-12"] and OPEN["evidence"] == [
        "s3://val/report.pdf"
    ]


@pytest.mark.parametrize(
    "person, roles, current, reason, expected",
    [
        ("val@example.com", ROLES, CURRENT, "verified the new override report", "ok"),
        ("mrt@example.com", ROLES, CURRENT, "verified", "ok"),
        ("dev@example.com", ROLES, CURRENT, "verified", "segregation"),  # team, but develops the model
        ("owner@example.com", ROLES, CURRENT, "verified", "segregation"),
        ("fix@example.com", ROLES, CURRENT, "verified", "segregation"),  # remediated it
        ("nobody@example.com", ROLES, CURRENT, "verified", "segregation"),
        ("mrt@example.com", ROLES, {**CURRENT, "owner": "mrt@example.com"}, "verified", "segregation"),
        ("val@example.com", ROLES, OPEN, "verified", "terms"),  # no remediation submitted yet
        ("val@example.com", ROLES, CURRENT, "  ", "terms"),  # no reason
        ("nobody@example.com", None, CURRENT, "verified", "ok"),  # no role map: unchecked
        ("nobody@example.com", None, OPEN, "verified", "terms"),  # the terms still hold
    ],
)
def test_closing_needs_an_independent_validator_segregation_of_duties(
    person, roles, current, reason, expected
):
    assert outcome(lambda: rules.close(who(person, roles), "VAL-2026-001", current, reason)) == expected


def test_refusals_name_the_person_the_finding_the_model_and_what_is_needed():
    with pytest.raises(SegregationOfDutiesError) as refused:
        rules.close(who("dev@example.com"), "VAL-2026-001", CURRENT, "ok")
    assert str(refused.value) == (
        "dev@example.com may not verify and close finding VAL-2026-001 (model card_fraud): they are "
        "model risk team and developer there; a finding is closed only by the model's validator or a model "
        "risk team member who neither owns nor develops the model nor remediates the finding"
    )
    with pytest.raises(NotPermittedError) as refused:
        rules.add(who("owner@example.com"), "VAL-2026-009", FIELDS, set())
    assert str(refused.value).startswith(
        "owner@example.com may not add finding VAL-2026-009 (model card_fraud): they are owner there, and "
        "this needs the model's validator"
    )


TODAY = date(2026, 10, 15)


def finding(fid: str, severity: str, due: date, status: str = "open", model: str = MODEL) -> dict:
    return {"finding_id": fid, "model_id": model, "severity": severity, "due_date": due, "status": status,
            "owner": "fix@example.com"}  # fmt: skip


PAST, DUE_TODAY, AHEAD = date(2026, 10, 1), TODAY, date(2026, 11, 30)


@pytest.mark.parametrize(
    "severity, due, status, expected",
    [  # the rule table (mrm.ticketing.finding_rules.RULES)
        ("high", PAST, "open", "RED"),
        ("high", PAST, "remediation_submitted", "RED"),  # submitted is not verified closed
        ("high", DUE_TODAY, "open", "AMBER"),  # due today is not yet past its date
        ("high", AHEAD, "open", "AMBER"),  # an open high finding: at least AMBER
        ("high", PAST, "verified_closed", None),
        ("medium", PAST, "open", "RED"),
        ("medium", AHEAD, "open", None),
        ("low", PAST, "remediation_submitted", "RED"),
        ("low", AHEAD, "open", None),
        ("low", PAST, "verified_closed", None),
    ],
)
def test_overdue_findings_set_the_models_governance_status(severity, due, status, expected):
    verdicts = rules.overdue([finding("VAL-2026-001", severity, due, status)], TODAY)
    assert (verdicts[MODEL].status if MODEL in verdicts else None) == expected


def test_a_model_takes_its_worst_finding_with_one_line_per_finding_that_counts():
    found = [finding("VAL-2026-002", "medium", PAST), finding("VAL-2026-001", "high", PAST),
             finding("VAL-2026-003", "low", AHEAD),
             finding("VAL-2026-004", "high", AHEAD, model="other")]  # fmt: skip
    verdicts = rules.overdue(found, TODAY)
    assert verdicts[MODEL].status == "RED" and verdicts["other"].status == "AMBER"
    assert verdicts[MODEL].reasons == (
        "finding VAL-2026-001 (high) of model card_fraud is 14 day(s) past its due date 2026-10-01 and open: "
        "owner fix@example.com",
        "finding VAL-2026-002 (medium) of model card_fraud is 14 day(s) past its due date 2026-10-01 and "
        "open: owner fix@example.com",
    )
    assert verdicts["other"].reasons == (
        "finding VAL-2026-004 (high) of model other is due 2026-11-30 and open: owner fix@example.com",
    )
