"""The JQL the Jira stand-in understands: only what mrm sends, clauses joined by AND: ``project = X``,
``labels = "x"``, ``statusCategory = Done`` / ``!= Done``, ``key in (A-1, A-2)``, and ``ORDER BY
created [ASC|DESC]``; anything else is a 400 "Error in the JQL Query: ..."."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mrm.demo.standins.jira_shapes import CATEGORIES, JiraError

Predicate = Callable[[dict[str, Any]], bool]  # a test on a stored issue

_CLAUSE = re.compile(r'(?P<field>\w+)\s*(?P<op>!=|=|in\b)\s*(?P<value>"[^"]*"|\([^)]*\)|[^\s()"]+)', re.I)
_ORDER = re.compile(r"created(?:\s+(?P<direction>asc|desc))?", re.I)


def parse_jql(jql: str, projects: set[str]) -> tuple[list[Predicate], bool]:
    """(the clauses as predicates, newest first?) for the subset in the module docstring."""
    where, *order = re.split(r"\s*\border\s+by\s+", jql.strip(), maxsplit=1, flags=re.I)
    descending = False
    if order:
        m = _ORDER.fullmatch(order[0].strip())
        if not m:
            raise _jql_error(f"the stand-in can only order by created, not '{order[0].strip()}'.")
        descending = (m["direction"] or "asc").lower() == "desc"
    clauses = [c for c in re.split(r"\s+and\s+", where, flags=re.I) if c.strip()]
    return [_predicate(c, projects) for c in clauses], descending


def _predicate(clause: str, projects: set[str]) -> Predicate:
    """One JQL clause of the supported subset as a test on a stored issue."""
    m = _CLAUSE.fullmatch(clause.strip())
    if not m:
        raise _jql_error(f"the stand-in does not support the clause '{clause.strip()}'.")
    name, op, value = m["field"].lower(), m["op"].lower(), _unquote(m["value"])
    if name == "project" and op == "=":
        if value not in projects:
            raise JiraError(400, [f"The value '{value}' does not exist for the field 'project'."])
        return lambda issue: issue["project"] == value
    if name == "labels" and op == "=":
        return lambda issue: value in issue["labels"]
    if name == "statuscategory" and op in ("=", "!="):
        category, equal = _category_key(value), op == "="
        return lambda issue: (issue["statusCategory"] == category) == equal
    if name == "key" and op == "in" and value.startswith("("):
        keys = {_unquote(k.strip()) for k in value[1:-1].split(",") if k.strip()}
        return lambda issue: issue["key"] in keys
    raise _jql_error(f"the stand-in does not support '{m['field']} {m['op']}'.")


def _jql_error(detail: str) -> JiraError:
    return JiraError(400, [f"Error in the JQL Query: {detail}"])


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def _category_key(value: str) -> str:
    """A status category given by key (done) or name (Done, "In Progress")."""
    wanted = value.lower()
    for key, (_, name, _) in CATEGORIES.items():
        if wanted in (key, name.lower()):
            return key
    raise JiraError(400, [f"The value '{value}' does not exist for the field 'statusCategory'."])
