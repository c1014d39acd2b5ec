"""The JQL subset of the Jira stand-in: what mrm sends is understood, anything else is Jira's 400."""

from __future__ import annotations

import pytest

from mrm.demo.standins.jira_shapes import JiraError
from mrm.demo.standins.jql import parse_jql

ISSUES = [
    {"key": "MRM-1", "project": "MRM", "labels": ["mrm", "card_fraud"], "statusCategory": "new"},
    {"key": "MRM-2", "project": "MRM", "labels": ["mrm"], "statusCategory": "done"},
    {"key": "OPS-1", "project": "OPS", "labels": ["card_fraud"], "statusCategory": "indeterminate"},
]


def keys(jql: str) -> list[str]:
    predicates, _ = parse_jql(jql, {"MRM", "OPS"})
    return [i["key"] for i in ISSUES if all(p(i) for p in predicates)]


def test_clauses_joined_by_and_select_the_issues_matching_all():
    assert keys('project = MRM AND labels = "card_fraud"') == ["MRM-1"]
    assert keys("statusCategory != Done and project = MRM") == ["MRM-1"]
    assert keys('statusCategory = "In Progress"') == ["OPS-1"]
    assert keys("key in (MRM-2, OPS-1)") == ["MRM-2", "OPS-1"]


def test_order_by_created_says_which_way():
    assert parse_jql("project = MRM ORDER BY created DESC", {"MRM"})[1] is True
    assert parse_jql("project = MRM order by created", {"MRM"})[1] is False


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("summary ~ x", "Error in the JQL Query: the stand-in does not support the clause 'summary ~ x'."),
        ("assignee = bob", "Error in the JQL Query: the stand-in does not support 'assignee ='."),
        ("project = MRM ORDER BY key", "Error in the JQL Query: the stand-in can only order by created"),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("statusCategory = Closed", "The value 'Closed' does not exist for the field 'statusCategory'."),
    ],
)
def test_anything_else_is_a_400_in_jiras_words(jql, message):
    with pytest.raises(JiraError) as caught:
        parse_jql(jql, {"MRM"})
    status, body, _ = caught.value.response
    assert status == 400 and body["errorMessages"][0].startswith(message)
